// SPDX-License-Identifier: Apache-2.0

package hostdev_test

// Fixtures of the Go binding tests. bindings/go/run-tests.sh (ctest bindings-go) sets:
//   HOSTDEV_TEST_PYTHON          Debian's python3, to run the fake root builder
//   HOSTDEV_TEST_MAKE_FAKE_ROOT  tests/cli/make_fake_root.py (the enumeration tree, its DEVICES)
//   HOSTDEV_TEST_PCI_IDS         tests/cli/pci.ids
//   HOSTDEV_TEST_FAKE_HOST       vfio-fake-host (tests/vfio: the host the bind tests use)
//   HOSTDEV_TEST_SRIOV_FAKE_HOST sriov-fake-host (tests/sriov/sriov_tree.h: PFs and mdev parents)
//   HOSTDEV_TEST_VGPU_FAKE_HOST  vgpu-fake-host (tests/vgpu/vgpu_tree.h: an A2 with vGPU VFs)
//   HOSTDEV_TEST_KMODEL          the kernel model, also in LD_PRELOAD of the test binary: it
//                                models the kernel's reaction to sysfs writes below
//                                $HOSTDEV_KMODEL_ROOT (this machine cannot bind real devices)
//   HOSTDEV_TEST_DATA            bindings/testdata
//   HOSTDEV_TEST_GO_EXAMPLES     directory with the built examples

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/libhostdev/libhostdev/bindings/go/hostdev"
)

const kernelVersionDir = "lib/modules/6.1.0-hostdev-test"

func needEnv(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Skipf("%s is not set (run the tests through ctest: ctest -L bindings)", name)
	}
	return v
}

// fakeDevice is one entry of make_fake_root.py's DEVICES table.
type fakeDevice struct {
	Addr     string  `json:"addr"`
	Parent   string  `json:"parent"`
	Vendor   uint16  `json:"vendor"`
	Device   uint16  `json:"device"`
	SV       *uint16 `json:"sv"`
	SD       *uint16 `json:"sd"`
	Cls      uint32  `json:"cls"`
	Rev      uint8   `json:"rev"`
	Driver   string  `json:"driver"`
	Override string  `json:"override"`
	Group    *int    `json:"group"`
	Numa     *int    `json:"numa"`
	Net      []string
	Slot     string `json:"slot"`
	BootVGA  int    `json:"boot_vga"`
	Physfn   string `json:"physfn"`
	SRIOV    *struct {
		Total    int      `json:"total"`
		Num      int      `json:"num"`
		VFDevice uint16   `json:"vf_device"`
		VFs      []string `json:"vfs"`
	} `json:"sriov"`
	MdevTypes []struct {
		ID          string  `json:"id"`
		Name        *string `json:"name"`
		Available   *int    `json:"available"`
		API         string  `json:"api"`
		Description []byte  `json:"description"`
	} `json:"mdev_types"`
}

var cliRootDir string

// cliRoot builds the CLI tests' server-like tree once per test binary (read-only).
func cliRoot(t *testing.T) (string, []fakeDevice) {
	t.Helper()
	python := needEnv(t, "HOSTDEV_TEST_PYTHON")
	script := needEnv(t, "HOSTDEV_TEST_MAKE_FAKE_ROOT")
	if cliRootDir == "" {
		dir, err := os.MkdirTemp("", "hostdev-go-cli")
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(python, script, filepath.Join(dir, "root"))
		cmd.Env = envWithout("HOSTDEV_KMODEL_ROOT")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("make_fake_root.py: %v\n%s", err, out)
		}
		cliRootDir = filepath.Join(dir, "root")
	}
	// The DEVICES table as JSON (bytes as base64, which encoding/json decodes into []byte).
	dump := `import base64, importlib.util, json, sys
spec = importlib.util.spec_from_file_location("m", sys.argv[1]); m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)
print(json.dumps(m.DEVICES, default=lambda b: base64.b64encode(b).decode()))`
	out, err := exec.Command(python, "-c", dump, script).Output()
	if err != nil {
		t.Fatalf("reading DEVICES: %v", err)
	}
	var devices []fakeDevice
	if err := json.Unmarshal(out, &devices); err != nil {
		t.Fatal(err)
	}
	return cliRootDir, devices
}

func cliHost(t *testing.T, opts ...hostdev.Option) *hostdev.Host {
	t.Helper()
	root, _ := cliRoot(t)
	all := append([]hostdev.Option{
		hostdev.WithRoot(root),
		hostdev.WithPath(hostdev.PathPCIIDs, needEnv(t, "HOSTDEV_TEST_PCI_IDS")),
		hostdev.WithPath(hostdev.PathModules, filepath.Join(root, kernelVersionDir)),
		hostdev.WithNodeName("node1"),
	}, opts...)
	host, err := hostdev.Open(all...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { host.Close() })
	return host
}

func envWithout(names ...string) []string {
	var env []string
next:
	for _, kv := range os.Environ() {
		for _, n := range names {
			if strings.HasPrefix(kv, n+"=") {
				continue next
			}
		}
		env = append(env, kv)
	}
	return env
}

// fakeHost is a fresh vfio test host (tests/vfio/vfio_tree.h) under the kernel model.
type fakeHost struct {
	root string
}

// kmodelKnobs are the kernel model's variables a test may set: cleared for every fresh host.
var kmodelKnobs = []string{"HOSTDEV_KMODEL_FAIL", "HOSTDEV_KMODEL_STALL", "HOSTDEV_KMODEL_KILL_AT",
	"HOSTDEV_KMODEL_NO_DEVNODE", "HOSTDEV_KMODEL_DELAY", "HOSTDEV_KMODEL_HOLD",
	"HOSTDEV_KMODEL_SRIOV_LIMIT", "HOSTDEV_KMODEL_SRIOV_NO_PHYSFN"}

func newFakeHost(t *testing.T, flags ...string) *fakeHost {
	t.Helper()
	return newHost(t, "HOSTDEV_TEST_FAKE_HOST", flags...)
}

// newSRIOVHost is a fresh SR-IOV/mdev test host (tests/sriov/sriov_tree.h) under the kernel model.
func newSRIOVHost(t *testing.T) *fakeHost {
	t.Helper()
	return newHost(t, "HOSTDEV_TEST_SRIOV_FAKE_HOST")
}

func newHost(t *testing.T, programEnv string, flags ...string) *fakeHost {
	t.Helper()
	program := needEnv(t, programEnv)
	kmodel := needEnv(t, "HOSTDEV_TEST_KMODEL")
	if !strings.Contains(os.Getenv("LD_PRELOAD"), kmodel) {
		t.Skipf("the kernel model is not preloaded (LD_PRELOAD=%s)", kmodel)
	}
	cmd := exec.Command(program, flags...)
	cmd.Env = append(envWithout("HOSTDEV_KMODEL_ROOT", "ASAN_OPTIONS"),
		"ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v", filepath.Base(program), err)
	}
	h := &fakeHost{root: strings.TrimSpace(string(out))}
	// The kernel model reads its variables at every write: this process's environment.
	t.Setenv("HOSTDEV_KMODEL_ROOT", h.root)
	for _, n := range kmodelKnobs {
		t.Setenv(n, "")
		os.Unsetenv(n)
	}
	t.Cleanup(func() { os.RemoveAll(h.root) })
	return h
}

func (h *fakeHost) path(rel string) string { return filepath.Join(h.root, rel) }

func (h *fakeHost) driver(address string) string {
	link, err := os.Readlink(h.path("sys/bus/pci/devices/" + address + "/driver"))
	if err != nil {
		return ""
	}
	return filepath.Base(link)
}

func (h *fakeHost) has(rel string) bool {
	_, err := os.Stat(h.path(rel))
	return err == nil
}

func (h *fakeHost) open(t *testing.T) *hostdev.Host {
	t.Helper()
	// No module directory: never look at this machine's kernel modules.
	host, err := hostdev.Open(hostdev.WithRoot(h.root),
		hostdev.WithPath(hostdev.PathModules, h.path("lib/modules/none")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { host.Close() })
	return host
}

// attr reads a PCI device attribute of the fake tree, trimmed.
func (h *fakeHost) attr(t *testing.T, address, name string) string {
	t.Helper()
	return h.read(t, "sys/bus/pci/devices/"+address+"/"+name)
}

func (h *fakeHost) read(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(h.path(rel))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// kmodelLog is what the kernel model did ("op target value -> result" lines).
func (h *fakeHost) kmodelLog() string {
	b, _ := os.ReadFile(h.path(".kmodel/log"))
	return string(b)
}

// waitLimit bounds every wait for an event, generously: a loaded machine (sanitizers, CPU hogs)
// is not a failure. HOSTDEV_TEST_TIMEOUT_SCALE multiplies it.
var waitLimit = func() time.Duration {
	limit := 30 * time.Second
	if f, err := strconv.ParseFloat(os.Getenv("HOSTDEV_TEST_TIMEOUT_SCALE"), 64); err == nil && f > 0 {
		limit = time.Duration(float64(limit) * f)
	}
	return limit
}()

// held tells whether a store waits in the kernel model (HOSTDEV_KMODEL_HOLD=op:target: a hung
// driver) for release.
func (h *fakeHost) held() bool {
	_, err := os.Stat(h.path(".kmodel/held"))
	return err == nil
}

// release lets held stores (and those held later) go on; rearm holds them again.
func (h *fakeHost) release(t *testing.T) {
	t.Helper()
	if err := os.MkdirAll(h.path(".kmodel"), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(h.path(".kmodel/release"), os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func (h *fakeHost) rearm() {
	os.Remove(h.path(".kmodel/release"))
}

// waitFor polls cond (a state with no notification of its own) for up to waitLimit.
func waitFor(cond func() bool) bool {
	for deadline := time.Now().Add(waitLimit); time.Now().Before(deadline); {
		if cond() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cond()
}
