// SPDX-License-Identifier: Apache-2.0

package hostdev_test

import (
	"errors"
	"io/fs"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/libhostdev/libhostdev/bindings/go/hostdev"
)

func TestDefaults(t *testing.T) {
	host, err := hostdev.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	if host.Path(hostdev.PathSysfs) != "/sys" || host.Path(hostdev.PathPCIIDs) != "/usr/share/misc/pci.ids" {
		t.Errorf("paths %q %q", host.Path(hostdev.PathSysfs), host.Path(hostdev.PathPCIIDs))
	}
	if host.NodeName() == "" || host.LastError() != "" || strings.Count(hostdev.Version(), ".") != 2 {
		t.Errorf("node %q error %q version %q", host.NodeName(), host.LastError(), hostdev.Version())
	}
}

func TestRootAndPaths(t *testing.T) {
	dir := t.TempDir()
	host, err := hostdev.Open(hostdev.WithRoot(dir), hostdev.WithNodeName("n1"),
		hostdev.WithPath(hostdev.PathState, filepath.Join(dir, "st")))
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	if host.Path(hostdev.PathSysfs) != filepath.Join(dir, "sys") || host.Path(hostdev.PathState) != filepath.Join(dir, "st") ||
		host.NodeName() != "n1" {
		t.Errorf("sysfs %q state %q node %q", host.Path(hostdev.PathSysfs), host.Path(hostdev.PathState), host.NodeName())
	}
	if err := host.SetRoot("/other"); err != nil || host.Path(hostdev.PathDev) != "/other/dev" {
		t.Errorf("SetRoot: %v %q", err, host.Path(hostdev.PathDev))
	}
}

func TestOpenErrors(t *testing.T) {
	_, err := hostdev.Open(hostdev.WithPath(hostdev.PathSysfs, "relative"))
	var herr *hostdev.Error
	if !errors.As(err, &herr) || herr.Errno != syscall.EINVAL || herr.Op != "SetPath" || herr.Message == "" {
		t.Errorf("relative path: %#v", err)
	}
	if _, err := hostdev.Open(hostdev.WithPath(hostdev.Path(99), "/x")); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("unknown path: %v", err)
	}
}

func TestErrorsCarryErrnoAndMessage(t *testing.T) {
	host := cliHost(t)
	_, err := host.PCIDevice("0000:3b:00.7")
	if !errors.Is(err, syscall.ENODEV) {
		t.Fatalf("error %v does not wrap ENODEV", err)
	}
	var herr *hostdev.Error
	if !errors.As(err, &herr) {
		t.Fatal("not a *hostdev.Error")
	}
	if !strings.Contains(herr.Message, "0000:3b:00.7") || !strings.Contains(herr.Message, "no such PCI device") ||
		herr.Message != host.LastError() || herr.Op != "PCIDevice" {
		t.Errorf("%+v (last error %q)", herr, host.LastError())
	}
	if err.Error() != "hostdev: PCIDevice: "+herr.Message {
		t.Errorf("Error() = %q", err.Error())
	}
	_, err = host.PCIDevice("not-an-address")
	if !errors.Is(err, syscall.EINVAL) || !strings.Contains(err.Error(), "not-an-address") {
		t.Errorf("bad address: %v", err)
	}
	// ENOENT unwraps to fs.ErrNotExist through syscall.Errno.Is.
	if !errors.Is(&hostdev.Error{Op: "x", Errno: syscall.ENOENT}, fs.ErrNotExist) {
		t.Error("ENOENT is not fs.ErrNotExist")
	}
}

func TestClose(t *testing.T) {
	host := cliHost(t)
	if err := host.Close(); err != nil {
		t.Fatal(err)
	}
	if err := host.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if _, err := host.PCIDevices(); !errors.Is(err, hostdev.ErrClosed) {
		t.Errorf("PCIDevices after Close: %v", err)
	}
	if _, err := host.Bind([]string{"0000:01:00.0"}, nil); !errors.Is(err, hostdev.ErrClosed) {
		t.Errorf("Bind after Close: %v", err)
	}
	if host.Path(hostdev.PathSysfs) != "" {
		t.Error("Path after Close")
	}
}

// Context, the former name of Host, stays a deprecated alias: code written against it builds and
// runs unchanged, and its values are Hosts without a conversion.
func TestContextAlias(t *testing.T) {
	var old *hostdev.Context = cliHost(t)
	devices, err := old.PCIDevices()
	if err != nil || len(devices) == 0 {
		t.Fatalf("PCIDevices through *Context: %d devices, %v", len(devices), err)
	}
	var host *hostdev.Host = old
	if host.NodeName() != "node1" {
		t.Errorf("NodeName through *Host: %q", host.NodeName())
	}
}

func TestFinalizerReleasesForgottenHosts(t *testing.T) {
	root, _ := cliRoot(t)
	for i := 0; i < 50; i++ {
		host, err := hostdev.Open(hostdev.WithRoot(root))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := host.PCIDevices(); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.GC()
}

func TestLogger(t *testing.T) {
	var lines []string
	logger := func(priority int, message string) {
		if priority == hostdev.LogWarning {
			lines = append(lines, message)
		}
	}
	host := cliHost(t, hostdev.WithLogger(logger, hostdev.LogDebug),
		hostdev.WithPath(hostdev.PathModules, filepath.Join(t.TempDir(), "nomodules")))
	dev, err := host.PCIDevice("0000:3b:00.0")
	if err != nil || len(dev.Modules) != 0 {
		t.Fatal(err, dev.Modules)
	}
	found := false
	for _, l := range lines {
		found = found || strings.Contains(l, "module indexes")
	}
	if !found {
		t.Errorf("no module index warning in %q", lines)
	}
}

func TestSharedBetweenGoroutines(t *testing.T) {
	host := cliHost(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				devices, err := host.PCIDevices()
				if err != nil || len(devices) != 12 {
					errs <- err
					return
				}
				if _, err := host.PCIDevice("0000:77:00.0"); !errors.Is(err, syscall.ENODEV) ||
					!strings.Contains(err.Error(), "0000:77:00.0") {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
