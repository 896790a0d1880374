// SPDX-License-Identifier: Apache-2.0

package hostdev_test

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/libhostdev/libhostdev/bindings/go/hostdev"
)

// resourceNames is the sorted resource names a manager serves now.
func resourceNames(m *hostdev.DevicePluginManager) []string {
	var names []string
	for _, r := range m.Resources() {
		names = append(names, r.ResourceName)
	}
	sort.Strings(names)
	return names
}

// TestServeConfigFollowsHotplug: a fake root delivers no uevents, so Resolve does what a hot-plug
// event does. A device plugged later whose per-device name is new gets its server, registered at
// once; with EndAtOnce its server ends as soon as it leaves, while the others serve on.
func TestServeConfigFollowsHotplug(t *testing.T) {
	r := newDPRoot(t)
	dir := dpKubeletDir(t)
	k := startKubelet(t, dir)
	hidden := r.devices[2].ID
	link := filepath.Join(r.root, "sys", "bus", "pci", "devices", hidden)
	aside := filepath.Join(r.root, "aside")
	if err := os.Rename(link, aside); err != nil {
		t.Fatal(err)
	}
	host := r.open(t)
	cfg, err := host.ParseDevicePluginConfig(`{"resources": [{"kind": "pci", "naming": "per-device",
	    "selectors": {"vendorDevice": ["8086:10d3"]}}]}`)
	if err != nil {
		t.Fatal(err)
	}
	defer cfg.Close()
	loop := newLoop(t, host)
	m, err := loop.ServeConfig(cfg, &hostdev.ManagerOptions{
		Server:    hostdev.ServerOptions{KubeletDir: dir, RefreshInterval: -1},
		EndAtOnce: true, ResolveInterval: -1, NoHotplug: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Config() != cfg {
		t.Error("Config() is not the config served")
	}
	if err := loop.StartThread(); err != nil {
		t.Fatal(err)
	}
	first := resourceNames(m)
	if len(first) != 2 {
		t.Fatalf("serving %v, want the 2 visible devices", first)
	}
	if reply := k.do(t, map[string]any{"cmd": "registrations", "n": 2, "timeout": waitLimit.Seconds()}); !reply.OK {
		t.Fatal("the two resources did not register")
	}

	if err := os.Rename(aside, link); err != nil {
		t.Fatal(err)
	}
	if err := m.Resolve(); err != nil {
		t.Fatal(err)
	}
	reply := k.do(t, map[string]any{"cmd": "registrations", "n": 3, "timeout": waitLimit.Seconds()})
	if !reply.OK {
		t.Fatal("the device plugged later did not get its resource registered")
	}
	added := reply.Registrations[2].ResourceName
	if !strings.HasSuffix(added, "-"+strings.NewReplacer(":", "", ".", "").Replace(hidden)) {
		t.Errorf("the new resource %q is not the per-device name of %s", added, hidden)
	}
	served := m.Resources()
	if len(served) != 3 || served[2].ResourceName != added {
		t.Fatalf("serving %+v", served)
	}
	socket := served[2].SocketPath

	if err := os.Rename(link, aside); err != nil {
		t.Fatal(err)
	}
	if err := m.Resolve(); err != nil {
		t.Fatal(err)
	}
	if got := resourceNames(m); strings.Join(got, " ") != strings.Join(first, " ") {
		t.Errorf("serving %v after the device left, want %v", got, first)
	}
	if !waitFor(func() bool { _, err := os.Stat(socket); return os.IsNotExist(err) }) {
		t.Errorf("%s still exists", socket)
	}
	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	if got := m.Resources(); len(got) != 0 {
		t.Errorf("serving %+v after Stop", got)
	}
	wantErrno(t, m.Resolve(), syscall.EINVAL, "start it first")
}

func TestServeConfigErrors(t *testing.T) {
	r := newDPRoot(t)
	dir := dpKubeletDir(t)
	host := r.open(t)
	cfg, err := host.ParseDevicePluginConfig(dpConfig)
	if err != nil {
		t.Fatal(err)
	}
	defer cfg.Close()
	loop := newLoop(t, host)
	_, err = loop.ServeConfig(cfg, &hostdev.ManagerOptions{
		Server: hostdev.ServerOptions{SocketName: "nic.sock", KubeletDir: dir}})
	wantErrno(t, err, syscall.EINVAL, "each resource's socket is named after it")
	if _, err := loop.ServeConfig(nil, nil); err == nil {
		t.Error("a nil config was accepted")
	}
	opts := &hostdev.ManagerOptions{NoHotplug: true,
		Server: hostdev.ServerOptions{Registration: hostdev.RegisterNone, KubeletDir: dir}}
	m, err := loop.ServeConfig(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	wantErrno(t, m.Start(), syscall.EALREADY, "serving already")
	// A second manager for the same resource: its socket is served already, and the message
	// names the resource.
	other := newLoop(t, host)
	if err := loop.StartThread(); err != nil {
		t.Fatal(err)
	}
	_, err = other.ServeConfig(cfg, opts)
	wantErrno(t, err, syscall.EADDRINUSE, dpResource+": ")
}
