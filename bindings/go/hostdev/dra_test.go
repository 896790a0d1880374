// SPDX-License-Identifier: Apache-2.0

package hostdev_test

// DRA kubelet plugins from Go: a plugin served by the binding on a temporary kubelet root, driven
// by the grpcio DRA kubelet stand-in of tests/dra (dra_kubelet.py; no kubelet can run here, the
// stand-in does what the kubelet's plugin watcher and DRA manager do and refuses what they refuse),
// run as a child process by bindings/testdata/dra_kubelet_driver.py: registration,
// NodePrepareResources and NodeUnprepareResources over v1 and v1beta1, claims the Go driver fails.
// run-tests.sh (ctest bindings-go) sets HOSTDEV_TEST_DRA_KUBELET, HOSTDEV_DRA_PROTO_DIR and
// HOSTDEV_PLUGINREG_PROTO_DIR.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/libhostdev/libhostdev/bindings/go/hostdev"
)

const draDriver = "vfio.hostdev.test"

var (
	draNIC     = [3]string{"default", "vm-nic", "0b9e6a52-1111-4c1e-9f00-000000000001"}
	draGPU     = [3]string{"tenant-a", "vm-gpu", "0b9e6a52-2222-4c1e-9f00-000000000002"}
	draGone    = [3]string{"default", "vm-gone", "0b9e6a52-4444-4c1e-9f00-000000000004"}
	draPanic   = [3]string{"default", "vm-panic", "0b9e6a52-5555-4c1e-9f00-000000000005"}
	draUnknown = [3]string{"default", "vm-other", "0b9e6a52-9999-4c1e-9f00-000000000009"}
	// draWaiter's prepare returns only once draWaited's has begun: both in one call.
	draWaiter = [3]string{"default", "vm-waiter", "0b9e6a52-6666-4c1e-9f00-000000000006"}
	draWaited = [3]string{"default", "vm-waited", "0b9e6a52-7777-4c1e-9f00-000000000007"}
)

// draKubelet drives bindings/testdata/dra_kubelet_driver.py.
type draKubelet struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stderr *strings.Builder
}

type draReply struct {
	OK      bool   `json:"ok"`
	Error   string `json:"error"`
	Refused string `json:"refused"`
	API     string `json:"api"`
	Info    struct {
		Type              string   `json:"type"`
		Name              string   `json:"name"`
		Endpoint          string   `json:"endpoint"`
		SupportedVersions []string `json:"supported_versions"`
	} `json:"info"`
	Claims json.RawMessage `json:"claims"`
}

// draAnswer is one claim's answer to a prepare: devices as [request_names, pool, device, cdi_ids].
type draAnswer struct {
	Devices [][]any `json:"devices"`
	Error   string  `json:"error"`
}

func startDRAKubelet(t *testing.T, registryDir string) *draKubelet {
	t.Helper()
	python := needEnv(t, "HOSTDEV_TEST_PYTHON")
	dk := needEnv(t, "HOSTDEV_TEST_DRA_KUBELET")
	draProtos := needEnv(t, "HOSTDEV_DRA_PROTO_DIR")
	regProtos := needEnv(t, "HOSTDEV_PLUGINREG_PROTO_DIR")
	if err := exec.Command(python, "-c", "import grpc, grpc_tools").Run(); err != nil {
		t.Skip("python3-grpcio and python3-grpc-tools are not installed (tests/deps/bindings.txt)")
	}
	k := &draKubelet{lines: make(chan string, 16), stderr: &strings.Builder{}}
	k.cmd = exec.Command(python, filepath.Join(needEnv(t, "HOSTDEV_TEST_DATA"), "dra_kubelet_driver.py"),
		dk, draProtos, regProtos, registryDir)
	// Not the kernel model or libasan: a plain interpreter.
	k.cmd.Env = envWithout("LD_PRELOAD", "HOSTDEV_KMODEL_ROOT")
	k.cmd.Stderr = k.stderr
	var err error
	if k.stdin, err = k.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := k.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := k.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			k.lines <- sc.Text()
		}
		close(k.lines)
	}()
	t.Cleanup(func() {
		k.stdin.Close()
		done := make(chan struct{})
		go func() { k.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(waitLimit):
			k.cmd.Process.Kill()
			<-done
		}
	})
	if line := k.read(t); !strings.Contains(line, `"ready": true`) {
		t.Fatalf("DRA kubelet stand-in: %q\n%s", line, k.stderr)
	}
	return k
}

func (k *draKubelet) read(t *testing.T) string {
	t.Helper()
	select {
	case line, ok := <-k.lines:
		if !ok {
			t.Fatalf("the DRA kubelet stand-in exited:\n%s", k.stderr)
		}
		return line
	// The stand-in's own calls are bounded by the kubelet's 45 s deadline.
	case <-time.After(waitLimit + 45*time.Second):
		t.Fatalf("no answer from the DRA kubelet stand-in:\n%s", k.stderr)
	}
	return ""
}

func (k *draKubelet) do(t *testing.T, cmd map[string]any) draReply {
	t.Helper()
	b, _ := json.Marshal(cmd)
	if _, err := fmt.Fprintf(k.stdin, "%s\n", b); err != nil {
		t.Fatal(err)
	}
	var r draReply
	if err := json.Unmarshal([]byte(k.read(t)), &r); err != nil {
		t.Fatal(err)
	}
	if r.Error != "" {
		t.Fatalf("DRA kubelet stand-in, %v: %s", cmd["cmd"], r.Error)
	}
	return r
}

func (k *draKubelet) prepare(t *testing.T, api string, claims ...[3]string) map[string]draAnswer {
	t.Helper()
	cmd := map[string]any{"cmd": "prepare", "claims": claims}
	if api != "" {
		cmd["api"] = api
	}
	var out map[string]draAnswer
	if err := json.Unmarshal(k.do(t, cmd).Claims, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func (k *draKubelet) unprepare(t *testing.T, api string, claims ...[3]string) map[string]string {
	t.Helper()
	cmd := map[string]any{"cmd": "unprepare", "claims": claims}
	if api != "" {
		cmd["api"] = api
	}
	var out map[string]string
	if err := json.Unmarshal(k.do(t, cmd).Claims, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// draKubeletRoot is a short kubelet root (the socket paths must fit a sockaddr_un) with the
// directories the kubelet makes.
func draKubeletRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "hd-dra-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for _, sub := range []string{"plugins", "plugins_registry"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// testDRADriver prepares draNIC and draGPU with a CDI spec each, fails draGone with an *Error and
// panics for draPanic; it records its calls and the registration reports.
type testDRADriver struct {
	host   *hostdev.Host
	cdiDir string

	mu       sync.Mutex
	calls    []string
	prepared map[string]bool
	reports  chan string
	started  chan struct{} // closed when draWaited's prepare began
}

func (d *testDRADriver) record(call string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, call)
}

func (d *testDRADriver) PrepareClaim(ctx context.Context, claim hostdev.DRAClaim) ([]hostdev.DRADevice, error) {
	d.record("prepare " + claim.Name + " " + claim.APIVersion)
	switch claim.UID {
	case draGone[2]:
		return nil, &hostdev.Error{Op: "PrepareClaim", Errno: syscall.ENODEV,
			Message: fmt.Sprintf("claim %s/%s: device 0000:3b:00.7 is gone from this node", claim.Namespace, claim.Name)}
	case draPanic[2]:
		panic("driver bug")
	case draWaited[2]:
		close(d.started)
		return nil, nil
	case draWaiter[2]:
		// Only a driver whose claims are resolved concurrently gets here and out.
		select {
		case <-d.started:
			return []hostdev.DRADevice{{Pool: "node-a", Device: "waiter"}}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	group := 12
	if claim.UID == draGPU[2] {
		group = 13
	}
	spec, err := d.host.NewCDISpec(draDriver + "/pci")
	if err != nil {
		return nil, err
	}
	defer spec.Close()
	name := claim.UID + "-dev0"
	if err := spec.AddVFIODevice(name, group, -1); err != nil {
		return nil, err
	}
	if err := spec.Write(d.cdiDir, draDriver+"-"+claim.UID+".json"); err != nil {
		return nil, err
	}
	id, err := spec.DeviceID(name)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.prepared[claim.UID] = true
	d.mu.Unlock()
	return []hostdev.DRADevice{{Pool: "node-a", Device: fmt.Sprintf("pci-dev-%d", group),
		Requests: []string{"req-0"}, CDIDeviceIDs: []string{id}}}, nil
}

func (d *testDRADriver) UnprepareClaim(ctx context.Context, claim hostdev.DRAClaim) error {
	d.record("unprepare " + claim.Name + " " + claim.APIVersion)
	if claim.UID == draGone[2] {
		return errors.New("claim vm-gone: device still in use by the VM")
	}
	if err := d.host.RemoveCDISpec(d.cdiDir, draDriver+"-"+claim.UID+".json"); err != nil {
		return err
	}
	d.mu.Lock()
	delete(d.prepared, claim.UID)
	d.mu.Unlock()
	return nil
}

func (d *testDRADriver) RegistrationStatus(registered bool, reason string) {
	d.reports <- fmt.Sprintf("%v %s", registered, reason)
}

func waitReport(t *testing.T, reports chan string) string {
	t.Helper()
	select {
	case r := <-reports:
		return r
	case <-time.After(waitLimit):
		t.Fatal("no registration report")
	}
	return ""
}

func TestDRAPluginPrepareUnprepare(t *testing.T) {
	root := draKubeletRoot(t)
	cdiDir := t.TempDir()
	host, err := hostdev.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	loop, err := host.NewDevicePluginLoop()
	if err != nil {
		t.Fatal(err)
	}
	defer loop.Close()
	driver := &testDRADriver{host: host, cdiDir: cdiDir, prepared: map[string]bool{}, reports: make(chan string, 4),
		started: make(chan struct{})}
	plugin, err := loop.ServeDRA(draDriver, driver, &hostdev.DRAOptions{KubeletDir: root})
	if err != nil {
		t.Fatal(err)
	}
	if err := loop.StartThread(); err != nil {
		t.Fatal(err)
	}
	if got, want := plugin.SocketPath(), filepath.Join(root, "plugins", draDriver, "dra.sock"); got != want {
		t.Errorf("SocketPath %q, want %q", got, want)
	}
	if got, want := plugin.RegistrationPath(), filepath.Join(root, "plugins_registry", draDriver+"-reg.sock"); got != want {
		t.Errorf("RegistrationPath %q, want %q", got, want)
	}
	if s := plugin.State(); s != hostdev.DRARegistering {
		t.Errorf("state before registration %v", s)
	}

	k := startDRAKubelet(t, filepath.Join(root, "plugins_registry"))
	reg := k.do(t, map[string]any{"cmd": "register", "driver": draDriver})
	if !reg.OK || reg.Info.Type != "DRAPlugin" || reg.Info.Name != draDriver || reg.Info.Endpoint != plugin.SocketPath() ||
		!reflect.DeepEqual(reg.Info.SupportedVersions, []string{"v1.DRAPlugin", "v1beta1.DRAPlugin"}) || reg.API != "v1" {
		t.Fatalf("registration: %+v", reg)
	}
	if r := waitReport(t, driver.reports); r != "true " {
		t.Errorf("registration report %q", r)
	}
	if !waitFor(func() bool { return plugin.State() == hostdev.DRARegistered }) || plugin.Registrations() != 1 {
		t.Errorf("state %v, registrations %d", plugin.State(), plugin.Registrations())
	}

	// v1: two claims prepared, one failed with the driver's message, one whose driver panicked.
	answer := k.prepare(t, "", draNIC, draGPU, draGone, draPanic)
	cdiNIC := draDriver + "/pci=" + draNIC[2] + "-dev0"
	want := draAnswer{Devices: [][]any{{[]any{"req-0"}, "node-a", "pci-dev-12", []any{cdiNIC}}}}
	if !reflect.DeepEqual(answer[draNIC[2]], want) {
		t.Errorf("NIC: %+v, want %+v", answer[draNIC[2]], want)
	}
	if a := answer[draGPU[2]]; a.Error != "" || len(a.Devices) != 1 || a.Devices[0][2] != "pci-dev-13" {
		t.Errorf("GPU: %+v", a)
	}
	if a := answer[draGone[2]]; a.Error != "claim default/vm-gone: device 0000:3b:00.7 is gone from this node" || len(a.Devices) != 0 {
		t.Errorf("gone: %+v", a)
	}
	if a := answer[draPanic[2]]; a.Error != "the Go DRA driver panicked: driver bug" {
		t.Errorf("panic: %+v", a)
	}
	// The CDI spec the answer names is on disk.
	b, err := os.ReadFile(filepath.Join(cdiDir, draDriver+"-"+draNIC[2]+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Kind    string `json:"kind"`
		Devices []struct {
			Name  string `json:"name"`
			Edits struct {
				Nodes []struct {
					Path string `json:"path"`
				} `json:"deviceNodes"`
			} `json:"containerEdits"`
		} `json:"devices"`
	}
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	if spec.Kind != draDriver+"/pci" || len(spec.Devices) != 1 || len(spec.Devices[0].Edits.Nodes) != 2 ||
		spec.Devices[0].Edits.Nodes[1].Path != "/dev/vfio/12" {
		t.Errorf("CDI spec: %s", b)
	}

	// Claims of one call are resolved concurrently, each on a goroutine: the waiter's prepare
	// returns once the waited's began (serially, the waiter would block the call until its
	// context ends with the plugin's Close).
	both := k.prepare(t, "", draWaiter, draWaited)
	if a := both[draWaiter[2]]; a.Error != "" || len(a.Devices) != 1 || a.Devices[0][2] != "waiter" {
		t.Errorf("waiter: %+v", a)
	}
	if a := both[draWaited[2]]; a.Error != "" || len(a.Devices) != 0 {
		t.Errorf("waited: %+v", a)
	}

	// v1beta1, and Unprepare of a prepared, an unknown and a refused claim.
	if a := k.prepare(t, "v1beta1", draNIC)[draNIC[2]]; !reflect.DeepEqual(a, want) {
		t.Errorf("v1beta1 NIC: %+v", a)
	}
	got := k.unprepare(t, "v1beta1", draNIC, draUnknown, draGone)
	if wantU := map[string]string{draNIC[2]: "", draUnknown[2]: "", draGone[2]: "claim vm-gone: device still in use by the VM"}; !reflect.DeepEqual(got, wantU) {
		t.Errorf("unprepare: %v, want %v", got, wantU)
	}
	if got := k.unprepare(t, "v1", draGPU); got[draGPU[2]] != "" {
		t.Errorf("unprepare GPU: %v", got)
	}
	if _, err := os.Stat(filepath.Join(cdiDir, draDriver+"-"+draNIC[2]+".json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the NIC's CDI spec after unprepare: %v", err)
	}
	driver.mu.Lock()
	calls, prepared := strings.Join(driver.calls, ","), len(driver.prepared)
	driver.mu.Unlock()
	for _, c := range []string{"prepare vm-nic v1", "prepare vm-nic v1beta1", "unprepare vm-other v1beta1", "unprepare vm-gpu v1"} {
		if !strings.Contains(calls, c) {
			t.Errorf("calls %s lack %q", calls, c)
		}
	}
	if prepared != 0 {
		t.Errorf("%d claims still prepared", prepared)
	}

	if err := plugin.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(plugin.SocketPath()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket after Close: %v", err)
	}
	if plugin.State() != hostdev.DRAStopped || !errors.Is(plugin.Start(), hostdev.ErrLoopClosed) {
		t.Errorf("a closed plugin: state %v", plugin.State())
	}
}

func TestDRAPluginVersionsAndRefusal(t *testing.T) {
	root := draKubeletRoot(t)
	host, err := hostdev.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	loop, err := host.NewDevicePluginLoop()
	if err != nil {
		t.Fatal(err)
	}
	defer loop.Close()
	reports := make(chan string, 4)
	driver := hostdev.DRADriverFuncs{Registration: func(ok bool, reason string) { reports <- fmt.Sprintf("%v %s", ok, reason) }}
	plugin, err := loop.ServeDRA(draDriver, driver, &hostdev.DRAOptions{KubeletDir: root, APIVersions: []string{hostdev.DRAAPIv1beta1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := loop.StartThread(); err != nil {
		t.Fatal(err)
	}
	k := startDRAKubelet(t, filepath.Join(root, "plugins_registry"))
	// A kubelet speaking only v1 refuses a plugin offering only v1beta1 and tells it why.
	if r := k.do(t, map[string]any{"cmd": "register", "driver": draDriver, "versions": []string{"v1.DRAPlugin"}}); r.OK ||
		!strings.Contains(r.Refused, "none of the versions") {
		t.Fatalf("registration with a v1-only kubelet: %+v", r)
	}
	if r := waitReport(t, reports); !strings.HasPrefix(r, "false none of the versions ['v1beta1.DRAPlugin']") {
		t.Errorf("refusal report %q", r)
	}
	r := k.do(t, map[string]any{"cmd": "register", "driver": draDriver})
	if !r.OK || r.API != "v1beta1" {
		t.Fatalf("registration: %+v", r)
	}
	// No Prepare func: every claim fails, saying so; no Unprepare func: every unprepare succeeds.
	if a := k.prepare(t, "", draNIC)[draNIC[2]]; !strings.Contains(a.Error, "prepares no claims") || len(a.Devices) != 0 {
		t.Errorf("prepare without Prepare: %+v", a)
	}
	if u := k.unprepare(t, "", draNIC); u[draNIC[2]] != "" {
		t.Errorf("unprepare without Unprepare: %v", u)
	}

	// Bad options and names: the library's messages.
	if _, err := loop.ServeDRA("Not_A_DNS_Name", driver, &hostdev.DRAOptions{KubeletDir: root}); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("bad driver name: %v", err)
	}
	if _, err := loop.ServeDRA(draDriver, driver, &hostdev.DRAOptions{APIVersions: []string{"v2"}}); !errors.Is(err, syscall.EINVAL) ||
		!strings.Contains(err.Error(), `unknown DRA API version "v2"`) {
		t.Errorf("bad API version: %v", err)
	}
	if _, err := loop.ServeDRA(draDriver, driver, &hostdev.DRAOptions{KubeletDir: root, NoRegistration: true}); !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("a second plugin on the same socket: %v", err)
	}
	// The loop's Close closes the plugin.
	loop.Close()
	if plugin.State() != hostdev.DRAStopped {
		t.Errorf("state after the loop's Close: %v", plugin.State())
	}
}

func TestDRAFiles(t *testing.T) {
	host, err := hostdev.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	cdiDir, dataDir := t.TempDir(), t.TempDir()
	spec, err := host.NewCDISpec(draDriver + "/pci")
	if err != nil {
		t.Fatal(err)
	}
	defer spec.Close()
	if err := spec.AddVFIODevice("claim-a-dev0", 7, 3); err != nil {
		t.Fatal(err)
	}
	if err := spec.AddVFIODevice("claim-a-dev0", 8, -1); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("duplicate device: %v", err)
	}
	if err := spec.AddDeviceNode("nothing", "/dev/vfio/9"); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("node of a missing device: %v", err)
	}
	text, err := spec.JSON()
	if err != nil || !strings.Contains(text, `"/dev/vfio/devices/vfio3"`) || !strings.Contains(text, `"/dev/iommu"`) {
		t.Errorf("JSON %s, %v", text, err)
	}
	if err := spec.Write(cdiDir, "a.json"); err != nil {
		t.Fatal(err)
	}
	if err := spec.Write(filepath.Join(cdiDir, "missing"), "a.json"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("write into a missing directory: %v", err)
	}
	if err := host.RemoveCDISpec(cdiDir, "a.json"); err != nil {
		t.Fatal(err)
	}
	if _, err := host.NewCDISpec("no-slash"); !errors.Is(err, syscall.EINVAL) || !strings.Contains(err.Error(), "kind") {
		t.Errorf("bad kind: %v", err)
	}

	claim := hostdev.DRAClaim{Namespace: draNIC[0], Name: draNIC[1], UID: draNIC[2]}
	md, err := host.NewDeviceMetadata(draDriver, claim, "nic")
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()
	if err := md.AddPCIDevice("node-a", "pci-dev-12", "0000:3b:00.1"); err != nil {
		t.Fatal(err)
	}
	if err := md.AddPCIDevice("node-a", "x", "3b:00.1:bad"); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("bad PCI address: %v", err)
	}
	if id, err := md.CDIID(); err != nil || id != draDriver+"/metadata="+draNIC[2]+"_nic" {
		t.Errorf("CDIID %q, %v", id, err)
	}
	if err := md.Write(dataDir, cdiDir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dataDir, "dra-device-metadata", "default_vm-nic", "nic", "metadata.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Requests []struct {
			Devices []struct {
				Attributes map[string]map[string]string `json:"attributes"`
			} `json:"devices"`
		} `json:"requests"`
	}
	if err := json.Unmarshal(b, &doc); err != nil || doc.Requests[0].Devices[0].Attributes["resource.kubernetes.io/pciBusID"]["string"] != "0000:3b:00.1" {
		t.Errorf("metadata %s, %v", b, err)
	}
	clean, err := host.NewDeviceMetadata(draDriver, claim, "nic")
	if err != nil {
		t.Fatal(err)
	}
	defer clean.Close()
	if err := clean.Remove(dataDir, cdiDir); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(cdiDir); len(entries) != 0 {
		t.Errorf("left in the CDI directory: %v", entries)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("metadata after Remove: %v", err)
	}
}
