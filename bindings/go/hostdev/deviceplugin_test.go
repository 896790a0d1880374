// SPDX-License-Identifier: Apache-2.0

package hostdev_test

// Device-plugin serving from Go: configs, resolved resources, permittedHostDevices, and servers
// with the built-in vfio PCI plugin on a fake root (bench/gen-dp-root.py: 82574L functions on
// vfio-pci, one IOMMU group each, NUMA 0/1). The kubelet is the grpcio fake kubelet of
// tests/deviceplugin (an independent gRPC implementation), run as a child process by
// bindings/testdata/fake_kubelet_driver.py. run-tests.sh (ctest bindings-go) sets
// HOSTDEV_TEST_GEN_DP_ROOT, HOSTDEV_TEST_FAKE_KUBELET and HOSTDEV_DP_PROTO_DIR.

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
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

const (
	dpResource = "example.com/nic"
	dpEnv      = "PCI_RESOURCE_EXAMPLE_COM_NIC"
	dpConfig   = `{"resources": [{"kind": "pci", "resourceName": "example.com/nic",
	                "selectors": {"vendorDevice": ["8086:10d3"]}}]}`
)

// dpRoot is a fake root of vfio-pci functions made by bench/gen-dp-root.py.
type dpRoot struct {
	root    string
	devices []struct {
		ID    string `json:"id"`
		Group int    `json:"group"`
		NUMA  int    `json:"numa"`
	}
}

func newDPRoot(t *testing.T) *dpRoot {
	t.Helper()
	python := needEnv(t, "HOSTDEV_TEST_PYTHON")
	gen := needEnv(t, "HOSTDEV_TEST_GEN_DP_ROOT")
	dir := t.TempDir()
	manifest := filepath.Join(dir, "manifest.json")
	r := &dpRoot{root: filepath.Join(dir, "root")}
	if out, err := exec.Command(python, gen, "--devices", "3", "--manifest", manifest, r.root).CombinedOutput(); err != nil {
		t.Fatalf("gen-dp-root.py: %v\n%s", err, out)
	}
	b, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Devices json.RawMessage `json:"devices"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(m.Devices, &r.devices); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *dpRoot) ids() []string {
	var ids []string
	for _, d := range r.devices {
		ids = append(ids, d.ID)
	}
	return ids
}

// entry is device i as the fake kubelet prints a list entry.
func (r *dpRoot) entry(i int, health string) string {
	return fmt.Sprintf("%s %s [%d]", r.devices[i].ID, health, r.devices[i].NUMA)
}

func (r *dpRoot) groupNode(i int) string {
	return filepath.Join(r.root, "dev", "vfio", fmt.Sprint(r.devices[i].Group))
}

func (r *dpRoot) open(t *testing.T, opts ...hostdev.Option) *hostdev.Host {
	t.Helper()
	host, err := hostdev.Open(append([]hostdev.Option{hostdev.WithRoot(r.root)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { host.Close() })
	return host
}

// dpKubeletDir is a short kubelet root (the socket paths must fit a sockaddr_un) with the
// directories the kubelet makes.
func dpKubeletDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "hd-kl-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for _, sub := range []string{"device-plugins", "plugins_registry"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// fakeKubelet drives bindings/testdata/fake_kubelet_driver.py.
type fakeKubelet struct {
	dir    string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stderr *strings.Builder
}

func startKubelet(t *testing.T, dir string) *fakeKubelet {
	t.Helper()
	python := needEnv(t, "HOSTDEV_TEST_PYTHON")
	fk := needEnv(t, "HOSTDEV_TEST_FAKE_KUBELET")
	protos := needEnv(t, "HOSTDEV_DP_PROTO_DIR")
	if err := exec.Command(python, "-c", "import grpc, grpc_tools").Run(); err != nil {
		t.Skip("python3-grpcio and python3-grpc-tools are not installed (tests/deps/bindings.txt)")
	}
	k := &fakeKubelet{dir: dir, lines: make(chan string, 16), stderr: &strings.Builder{}}
	k.cmd = exec.Command(python, filepath.Join(needEnv(t, "HOSTDEV_TEST_DATA"), "fake_kubelet_driver.py"),
		fk, protos, dir)
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
	if line := k.read(t, waitLimit); !strings.Contains(line, `"ready": true`) {
		t.Fatalf("fake kubelet: %q\n%s", line, k.stderr)
	}
	return k
}

func (k *fakeKubelet) read(t *testing.T, timeout time.Duration) string {
	t.Helper()
	select {
	case line, ok := <-k.lines:
		if !ok {
			t.Fatalf("the fake kubelet exited:\n%s", k.stderr)
		}
		return line
	case <-time.After(timeout):
		t.Fatalf("no answer from the fake kubelet in %v:\n%s", timeout, k.stderr)
	}
	return ""
}

// kubeletReply is every field an answer of the driver may have.
type kubeletReply struct {
	OK            bool   `json:"ok"`
	Error         string `json:"error"`
	Registrations []struct {
		ResourceName        string `json:"resource_name"`
		Version             string `json:"version"`
		Endpoint            string `json:"endpoint"`
		PreferredAllocation bool   `json:"preferred_allocation"`
		PreStart            bool   `json:"pre_start"`
	} `json:"registrations"`
	List      [][]any `json:"list"`
	Ended     *string `json:"ended"`
	Responses []struct {
		Envs    map[string]string `json:"envs"`
		Devices [][]string        `json:"devices"`
	} `json:"responses"`
	Code    string `json:"code"`
	Details string `json:"details"`
}

// entries is the last list as "id health [numa]" strings.
func (r *kubeletReply) entries() []string {
	out := []string{}
	for _, d := range r.List {
		numa := "none"
		if nodes, ok := d[2].([]any); ok {
			numa = fmt.Sprint(nodes)
		}
		out = append(out, fmt.Sprintf("%v %v %s", d[0], d[1], numa))
	}
	return out
}

func (k *fakeKubelet) do(t *testing.T, cmd map[string]any) *kubeletReply {
	t.Helper()
	b, _ := json.Marshal(cmd)
	if _, err := k.stdin.Write(append(b, '\n')); err != nil {
		t.Fatalf("fake kubelet: %v\n%s", err, k.stderr)
	}
	// The driver's own waits are bounded by waitLimit: its answer comes within twice that.
	line := k.read(t, 2*waitLimit)
	var r kubeletReply
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		t.Fatalf("fake kubelet answered %q: %v", line, err)
	}
	if r.Error != "" {
		t.Fatalf("fake kubelet: %s\n%s", r.Error, k.stderr)
	}
	return &r
}

func (k *fakeKubelet) pluginDir() string { return filepath.Join(k.dir, "device-plugins") }

// logLines collects Logger messages from any goroutine.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) log(p int, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf("%d %s", p, msg))
}

func (l *logLines) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func resolveDP(t *testing.T, host *hostdev.Host, text string) *hostdev.Resources {
	t.Helper()
	cfg, err := host.ParseDevicePluginConfig(text)
	if err != nil {
		t.Fatal(err)
	}
	defer cfg.Close()
	res, err := host.ResolveResources(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Close() })
	return res
}

func newLoop(t *testing.T, host *hostdev.Host) *hostdev.DevicePluginLoop {
	t.Helper()
	loop, err := host.NewDevicePluginLoop()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { loop.Close() })
	return loop
}

func wantErrno(t *testing.T, err error, errno syscall.Errno, contains string) *hostdev.Error {
	t.Helper()
	var herr *hostdev.Error
	if !errors.Is(err, errno) || !errors.As(err, &herr) {
		t.Fatalf("error %v, want errno %d", err, errno)
	}
	if !strings.Contains(herr.Message, contains) {
		t.Fatalf("message %q does not contain %q", herr.Message, contains)
	}
	return herr
}

// ---------------------------------------------------------------------------------------------

func TestDevicePluginConfig(t *testing.T) {
	host := newDPRoot(t).open(t)
	cfg, err := host.ParseDevicePluginConfig(dpConfig)
	if err != nil || cfg.Source != "<text>" {
		t.Fatalf("%v %v", cfg, err)
	}
	cfg.Close()
	cfg.Close()
	if _, err := host.ResolveResources(cfg); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("resolving a closed config: %v", err)
	}

	_, err = host.ParseDevicePluginConfig(`{"resources": [{"kind": "pci", "resourceName": "nic",
		"selectors": {"vendorDevice": ["8086:10d3"]}}]}`)
	herr := wantErrno(t, err, syscall.EINVAL, `resources[0] "nic"`)
	if herr.Op != "ParseDevicePluginConfig" || !strings.Contains(herr.Message, "resourceName") {
		t.Errorf("%#v", herr)
	}
	_, err = host.ParseDevicePluginConfig(`{"resources": [{"kind": "pci", "resourceName": "example.com/nic",
		"selectors": {"vendorDevice": ["8086:10d3", "8086:10dx"]}}]}`)
	wantErrno(t, err, syscall.EINVAL,
		`resources[0] "example.com/nic": selectors.vendorDevice[1] "8086:10dx" is not a vendor:device id`)
	_, err = host.ParseDevicePluginConfig("{\"resources\": [\n{\"kind\": \"pci\",}]}")
	wantErrno(t, err, syscall.EINVAL, "not valid JSON")

	dir := t.TempDir()
	_, err = host.LoadDevicePluginConfig(filepath.Join(dir, "missing.json"))
	wantErrno(t, err, syscall.ENOENT, "missing.json")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("not fs.ErrNotExist: %v", err)
	}
	path := filepath.Join(dir, "dp.json")
	os.WriteFile(path, []byte(dpConfig), 0o644)
	cfg, err = host.LoadDevicePluginConfig(path)
	if err != nil || cfg.Source != path {
		t.Fatalf("%v %v", cfg, err)
	}
	cfg.Close()
}

func TestResolveResourcesAndPermitted(t *testing.T) {
	r := newDPRoot(t)
	host := r.open(t)
	res := resolveDP(t, host, dpConfig)
	want := []hostdev.Resource{{Name: dpResource, Kind: hostdev.KindPCI, DeviceIDs: r.ids()}}
	if got := res.List(); !reflect.DeepEqual(got, want) || res.Len() != 1 || res.Index(dpResource) != 0 ||
		res.Index("example.com/none") != -1 || got[0].Kind.String() != "pci" {
		t.Errorf("resources %+v", got)
	}
	res.List()[0].DeviceIDs[0] = "changed"
	if res.List()[0].DeviceIDs[0] != r.ids()[0] {
		t.Error("List() shares its slices")
	}

	text, err := res.PermittedHostDevices(hostdev.JSON)
	if err != nil {
		t.Fatal(err)
	}
	var permitted map[string]any
	if err := json.Unmarshal([]byte(text), &permitted); err != nil {
		t.Fatal(err)
	}
	wantJSON := map[string]any{"permittedHostDevices": map[string]any{"pciHostDevices": []any{
		map[string]any{"pciVendorSelector": "8086:10d3", "resourceName": dpResource,
			"externalResourceProvider": true}}}}
	if !reflect.DeepEqual(permitted, wantJSON) {
		t.Errorf("JSON: %s", text)
	}
	text, err = res.PermittedHostDevices(hostdev.YAML)
	if err != nil || text != "permittedHostDevices:\n  pciHostDevices:\n  - pciVendorSelector: \"8086:10d3\"\n"+
		"    resourceName: \"example.com/nic\"\n    externalResourceProvider: true\n" {
		t.Errorf("YAML: %q %v", text, err)
	}
	if _, err := res.PermittedHostDevices(hostdev.PermittedFormat(7)); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("format 7: %v", err)
	}

	// An explicit name exists with no device; per-device names come from the host.
	res = resolveDP(t, host, fmt.Sprintf(`{"resources": [
		{"kind": "pci", "resourceName": "example.com/none", "selectors": {"vendorDevice": ["10de:1eb8"]}},
		{"kind": "pci", "naming": "per-device", "selectors": {"address": [%q]}},
		{"kind": "pci", "resourceName": "example.com/nic", "selectors": {"vendorDevice": ["8086:10d3"]}}]}`,
		r.ids()[1]))
	var got []string
	for _, x := range res.List() {
		got = append(got, fmt.Sprintf("%s %s %v", x.Name, x.Kind, x.DeviceIDs))
	}
	wantList := []string{
		fmt.Sprintf("%s pci [%s %s]", dpResource, r.ids()[0], r.ids()[2]),
		"example.com/none pci []",
		fmt.Sprintf("intel.com/%s-000002000 pci [%s]", host.NodeName(), r.ids()[1]),
	}
	if !reflect.DeepEqual(got, wantList) {
		t.Errorf("resources %q, want %q", got, wantList)
	}
	res.Close()
	if _, err := res.PermittedHostDevices(hostdev.JSON); err == nil {
		t.Error("closed resources answered")
	}
}

func TestServeClassicOnThread(t *testing.T) {
	r := newDPRoot(t)
	dir := dpKubeletDir(t)
	k := startKubelet(t, dir)
	var logs logLines
	host := r.open(t, hostdev.WithLogger(logs.log, hostdev.LogInfo))
	res := resolveDP(t, host, dpConfig)
	loop := newLoop(t, host)
	if err := loop.StartThread(); err != nil {
		t.Fatal(err)
	}
	srv, err := loop.Serve(res, res.Index(dpResource), &hostdev.ServerOptions{KubeletDir: dir, RefreshInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	socket := filepath.Join(k.pluginDir(), "example.com_nic.sock")
	if srv.ResourceName() != dpResource || srv.SocketPath() != socket || srv.Resource().Name != dpResource {
		t.Errorf("server %s %s %+v", srv.ResourceName(), srv.SocketPath(), srv.Resource())
	}

	// Registration: the request, the options the kubelet read back inside Register.
	reply := k.do(t, map[string]any{"cmd": "registrations", "n": 1, "timeout": waitLimit.Seconds()})
	if !reply.OK || len(reply.Registrations) != 1 {
		t.Fatalf("registrations %+v\n%s", reply, logs.text())
	}
	reg := reply.Registrations[0]
	if reg.ResourceName != dpResource || reg.Version != "v1beta1" || reg.Endpoint != "example.com_nic.sock" ||
		!reg.PreferredAllocation || reg.PreStart {
		t.Errorf("registration %+v", reg)
	}
	if !waitFor(func() bool { return srv.State() == hostdev.StateRegistered }) || srv.Registrations() != 1 {
		t.Errorf("state %v, %d registrations", srv.State(), srv.Registrations())
	}

	// ListAndWatch: every device, healthy, with its NUMA node.
	reply = k.do(t, map[string]any{"cmd": "list", "count": 3})
	want := []string{r.entry(0, "Healthy"), r.entry(1, "Healthy"), r.entry(2, "Healthy")}
	if got := reply.entries(); !reply.OK || !reflect.DeepEqual(got, want) {
		t.Fatalf("list %q, want %q", got, want)
	}

	// Allocate: KubeVirt's variable with the ids in the kubelet's order, the group nodes.
	ids := r.ids()
	reply = k.do(t, map[string]any{"cmd": "allocate", "socket": socket,
		"containers": [][]string{{ids[2], ids[0]}, {ids[1]}}})
	if !reply.OK || len(reply.Responses) != 2 {
		t.Fatalf("allocate %+v", reply)
	}
	first := reply.Responses[0]
	wantDevices := [][]string{{"/dev/vfio/vfio", "/dev/vfio/vfio", "mrw"}}
	for _, i := range []int{2, 0} {
		node := fmt.Sprintf("/dev/vfio/%d", r.devices[i].Group)
		wantDevices = append(wantDevices, []string{node, node, "mrw"})
	}
	if !reflect.DeepEqual(first.Envs, map[string]string{dpEnv: ids[2] + "," + ids[0]}) ||
		!reflect.DeepEqual(first.Devices, wantDevices) || reply.Responses[1].Envs[dpEnv] != ids[1] {
		t.Errorf("allocate %+v", reply.Responses)
	}
	reply = k.do(t, map[string]any{"cmd": "allocate", "socket": socket, "containers": [][]string{{"0000:ff:1f.7"}}})
	if reply.OK || reply.Code != "INVALID_ARGUMENT" || !strings.Contains(reply.Details, "0000:ff:1f.7") {
		t.Errorf("unknown id: %+v", reply)
	}

	// A group node goes away; Refresh (what a hot-plug handler calls) sends the change.
	if err := os.Remove(r.groupNode(1)); err != nil {
		t.Fatal(err)
	}
	if err := srv.Refresh(); err != nil {
		t.Fatal(err)
	}
	reply = k.do(t, map[string]any{"cmd": "list_where", "id": ids[1], "health": "Unhealthy"})
	if !reply.OK || reply.entries()[1] != r.entry(1, "Unhealthy") {
		t.Errorf("after removing the group node: %q", reply.entries())
	}

	// The Host stays usable while the loop's thread works with its copy.
	if devs, err := host.PCIDevices(hostdev.IDs("8086:10d3")); err != nil || len(devs) != 3 {
		t.Errorf("PCIDevices: %d %v", len(devs), err)
	}

	// Stop: an empty list, the stream ends, the socket goes.
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	reply = k.do(t, map[string]any{"cmd": "ended"})
	if !reply.OK || reply.Ended == nil || *reply.Ended != "ok" {
		t.Errorf("after Stop: %+v", reply)
	}
	if _, err := os.Stat(socket); !errors.Is(err, fs.ErrNotExist) || srv.State() != hostdev.StateStopped {
		t.Errorf("after Stop: socket %v, state %v", err, srv.State())
	}

	// Started again: registered a second time.
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	if reply = k.do(t, map[string]any{"cmd": "registrations", "n": 2, "timeout": waitLimit.Seconds()}); !reply.OK {
		t.Fatalf("no second registration: %+v", reply)
	}
	if !waitFor(func() bool { return srv.Registrations() == 2 }) {
		t.Errorf("%d registrations", srv.Registrations())
	}
	srv.Close()
	srv.Close()
	if _, err := os.Stat(socket); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket after Close: %v", err)
	}
	if err := srv.Start(); err != hostdev.ErrLoopClosed || srv.State() != hostdev.StateStopped {
		t.Errorf("Start after Close: %v", err)
	}
	if err := loop.Close(); err != nil {
		t.Fatal(err)
	}
	// The loop's messages reached the Logger (from its goroutine), all of them by Close.
	text := logs.text()
	for _, want := range []string{"registered with the kubelet", "ListAndWatch opened", "stopped; " + socket + " removed"} {
		if !strings.Contains(text, want) {
			t.Errorf("%q not logged:\n%s", want, text)
		}
	}
	if err := loop.StartThread(); err != hostdev.ErrLoopClosed {
		t.Errorf("StartThread after Close: %v", err)
	}
}

func TestServeReregistersAfterKubeletRestart(t *testing.T) {
	r := newDPRoot(t)
	dir := dpKubeletDir(t)
	k := startKubelet(t, dir)
	host := r.open(t)
	loop := newLoop(t, host)
	srv, err := loop.Serve(resolveDP(t, host, dpConfig), 0, &hostdev.ServerOptions{KubeletDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := loop.StartThread(); err != nil {
		t.Fatal(err)
	}
	if reply := k.do(t, map[string]any{"cmd": "registrations", "n": 1, "timeout": waitLimit.Seconds()}); !reply.OK {
		t.Fatal("not registered")
	}
	// The kubelet records a registration before its answer is sent: restarting before the
	// answer arrived would lose it (and its count) on the server's side.
	if !waitFor(func() bool { return srv.Registrations() == 1 }) {
		t.Fatalf("%d registrations before the restart", srv.Registrations())
	}
	k.do(t, map[string]any{"cmd": "restart"})
	if reply := k.do(t, map[string]any{"cmd": "registrations", "n": 2, "timeout": waitLimit.Seconds()}); !reply.OK {
		t.Fatal("not registered again after the kubelet restarted")
	}
	if !waitFor(func() bool { return srv.Registrations() == 2 }) {
		t.Errorf("%d registrations", srv.Registrations())
	}
}

func TestServeNoneSetDevices(t *testing.T) {
	r := newDPRoot(t)
	dir := dpKubeletDir(t)
	k := startKubelet(t, dir)
	host := r.open(t)
	loop := newLoop(t, host)
	if err := loop.StartThread(); err != nil {
		t.Fatal(err)
	}
	srv, err := loop.Serve(resolveDP(t, host, dpConfig), 0,
		&hostdev.ServerOptions{Registration: hostdev.RegisterNone, KubeletDir: dir, RefreshInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if srv.State() != hostdev.StateServing || filepath.Dir(srv.SocketPath()) != k.pluginDir() {
		t.Errorf("%v %s", srv.State(), srv.SocketPath())
	}
	k.do(t, map[string]any{"cmd": "watch", "socket": srv.SocketPath()})
	if reply := k.do(t, map[string]any{"cmd": "list", "count": 3}); !reply.OK {
		t.Fatalf("list %q", reply.entries())
	}
	err = srv.SetDevices([]hostdev.AdvertisedDevice{{ID: "dev-a", Healthy: true, NUMANode: -1},
		{ID: "dev-b", NUMANode: 1}})
	if err != nil {
		t.Fatal(err)
	}
	reply := k.do(t, map[string]any{"cmd": "list", "count": 2})
	if want := []string{"dev-a Healthy none", "dev-b Unhealthy [1]"}; !reply.OK ||
		!reflect.DeepEqual(reply.entries(), want) {
		t.Errorf("list %q, want %q", reply.entries(), want)
	}
	wantErrno(t, srv.SetDevices([]hostdev.AdvertisedDevice{{ID: "-bad-"}}), syscall.EINVAL, `"-bad-"`)
	wantErrno(t, srv.SetDevices([]hostdev.AdvertisedDevice{{ID: "a"}, {ID: "a"}}), syscall.EEXIST, `"a"`)
	// Refresh reads the host again.
	if err := srv.Refresh(); err != nil {
		t.Fatal(err)
	}
	if reply := k.do(t, map[string]any{"cmd": "list", "count": 3}); !reply.OK {
		t.Errorf("after Refresh: %q", reply.entries())
	}

	// Goroutines sharing the server and the loop.
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if err := srv.Refresh(); err != nil {
					t.Error(err)
					return
				}
				if srv.State() != hostdev.StateServing {
					t.Error("state changed")
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestServeErrors(t *testing.T) {
	r := newDPRoot(t)
	dir := dpKubeletDir(t)
	host := r.open(t)
	res := resolveDP(t, host, dpConfig)
	loop := newLoop(t, host)
	none := &hostdev.ServerOptions{Registration: hostdev.RegisterNone, KubeletDir: dir}

	_, err := loop.Serve(res, 1, none)
	wantErrno(t, err, syscall.ERANGE, "no resource 1")
	_, err = loop.Serve(res, 0, &hostdev.ServerOptions{Registration: 7})
	wantErrno(t, err, syscall.EINVAL, "registration 7")
	_, err = loop.Serve(res, 0, &hostdev.ServerOptions{Registration: hostdev.RegisterNone,
		DevicePluginDir: "/tmp/" + strings.Repeat("d", 120)})
	wantErrno(t, err, syscall.EINVAL, strings.Repeat("d", 100))

	srv, err := loop.Serve(res, 0, none)
	if err != nil {
		t.Fatal(err)
	}
	wantErrno(t, srv.Start(), syscall.EALREADY, dpResource)
	if err := loop.StartThread(); err != nil {
		t.Fatal(err)
	}
	wantErrno(t, loop.StartThread(), syscall.EALREADY, "already runs")

	// A second server on the same socket while the first one serves it.
	other := newLoop(t, host)
	_, err = other.Serve(res, 0, none)
	wantErrno(t, err, syscall.EADDRINUSE, "another process serves")
	other.Close()
	if _, err := other.Serve(res, 0, none); err != hostdev.ErrLoopClosed {
		t.Errorf("Serve on a closed loop: %v", err)
	}

	// Closing the loop closes its servers.
	if err := loop.Close(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Refresh(); err != hostdev.ErrLoopClosed {
		t.Errorf("Refresh after the loop's Close: %v", err)
	}
	if _, err := os.Stat(srv.SocketPath()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket after the loop's Close: %v", err)
	}
	if err := loop.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestDevicePluginLoopRunQuit(t *testing.T) {
	r := newDPRoot(t)
	dir := dpKubeletDir(t)
	k := startKubelet(t, dir)
	host := r.open(t)
	loop := newLoop(t, host)
	srv, err := loop.Serve(resolveDP(t, host, dpConfig), 0, &hostdev.ServerOptions{KubeletDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- loop.Run() }()
	if reply := k.do(t, map[string]any{"cmd": "registrations", "n": 1, "timeout": waitLimit.Seconds()}); !reply.OK {
		t.Fatal("not registered while Run runs")
	}
	reply := k.do(t, map[string]any{"cmd": "allocate", "socket": srv.SocketPath(), "containers": [][]string{{r.ids()[0]}}})
	if !reply.OK || reply.Responses[0].Envs[dpEnv] != r.ids()[0] {
		t.Errorf("allocate %+v", reply)
	}
	loop.Quit()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Run did not return after Quit")
	}
	// Close ends a Run too. An answer served by the loop shows Run runs.
	go func() { done <- loop.Run() }()
	reply = k.do(t, map[string]any{"cmd": "allocate", "socket": srv.SocketPath(), "containers": [][]string{{r.ids()[0]}}})
	if !reply.OK {
		t.Errorf("allocate %+v", reply)
	}
	loop.Close()
	select {
	case <-done:
	case <-time.After(waitLimit):
		t.Fatal("Run did not return after Close")
	}
	if _, err := os.Stat(srv.SocketPath()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket after Close: %v", err)
	}
}
