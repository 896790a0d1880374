// SPDX-License-Identifier: Apache-2.0

package hostdev_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/libhostdev/libhostdev/bindings/go/hostdev"
)

// The examples in bindings/go/examples keep working: run-tests.sh builds them into
// $HOSTDEV_TEST_GO_EXAMPLES.

func runExample(t *testing.T, name string, wantExit int, args ...string) (string, string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(needEnv(t, "HOSTDEV_TEST_GO_EXAMPLES"), name), args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	exit := 0
	if ee, ok := err.(*exec.ExitError); ok {
		exit = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if exit != wantExit {
		t.Fatalf("%s %v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", name, args, exit, wantExit,
			stdout.String(), stderr.String())
	}
	return stdout.String(), stderr.String()
}

func TestExampleListDevices(t *testing.T) {
	root, _ := cliRoot(t)
	out, _ := runExample(t, "listdevices", 0, "-root", root, "-pci-ids", needEnv(t, "HOSTDEV_TEST_PCI_IDS"),
		"-class", "0200")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0],
		"0000:3b:00.0 [8086:1572] class=020000 driver=i40e iommu_group=12 numa=0 resource=intel.com/") {
		t.Errorf("output:\n%s", out)
	}
	_, stderr := runExample(t, "listdevices", 1, "-root", root, "-slot", "zz:")
	if !strings.Contains(stderr, "invalid bus 'zz'") || !strings.Contains(stderr, "errno 22") {
		t.Errorf("stderr: %s", stderr)
	}
}

// The example module of its own (go/examples/standalone, a replace directive): the devices as the
// JSON documents of docs/json-schema.md, then PCI hot-plug events until its context's deadline.
func TestExampleStandalone(t *testing.T) {
	root, _ := cliRoot(t)
	out, _ := runExample(t, "standalone", 0, "-root", root, "-class", "0200", "-watch", "200ms")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 4 {
		t.Fatalf("output:\n%s", out)
	}
	for _, line := range lines[:4] {
		var doc struct {
			Address    string `json:"address"`
			VendorID   string `json:"vendor_id"`
			Class      string `json:"class"`
			IOMMUGroup *int   `json:"iommu_group"`
		}
		if err := json.Unmarshal([]byte(line), &doc); err != nil || len(doc.VendorID) != 4 ||
			!strings.HasPrefix(doc.Class, "0200") || doc.Address == "" {
			t.Errorf("not a device document of docs/json-schema.md: %s (%v)", line, err)
		}
	}
	_, stderr := runExample(t, "standalone", 1, "-root", root, "-class", "zz")
	if !strings.Contains(stderr, "errno 22") {
		t.Errorf("stderr: %s", stderr)
	}
}

func TestExampleBindRestore(t *testing.T) {
	h := newFakeHost(t)
	modules := h.path("lib/modules/none")
	out, _ := runExample(t, "bindrestore", 0, "-root", h.root, "-modules", modules, "-owner", "example", "01:00.0")
	for _, want := range []string{"0000:01:00.0: on e1000e", "0000:01:00.0: on vfio-pci, IOMMU group 2",
		"journal: 0000:01:00.0 was on e1000e, owner example", "0000:01:00.0: back on e1000e"} {
		if !strings.Contains(out, want) {
			t.Errorf("%q not in:\n%s", want, out)
		}
	}
	if h.driver(nic) != "e1000e" {
		t.Errorf("driver %q", h.driver(nic))
	}
	_, stderr := runExample(t, "bindrestore", 1, "-root", h.root, "-modules", modules, "02:00.0")
	if !strings.Contains(stderr, "-group") {
		t.Errorf("stderr: %s", stderr)
	}
	out, _ = runExample(t, "bindrestore", 0, "-root", h.root, "-modules", modules, "-group", "02:00.0")
	if !strings.Contains(out, "back on nouveau") {
		t.Errorf("output:\n%s", out)
	}
}

func TestExampleSRIOVVFIO(t *testing.T) {
	h := newSRIOVHost(t)
	base := []string{"-root", h.root, "-modules", h.path("lib/modules/none"), "-owner", "example"}
	out, _ := runExample(t, "sriovvfio", 0, append(base, "3b:00.0", "2")...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || lines[0] != "0000:3b:00.0: 2 of 8 VFs enabled (driver i40e), autoprobe off" {
		t.Fatalf("output:\n%s", out)
	}
	for i, line := range lines[1:] {
		m := regexp.MustCompile(fmt.Sprintf(`^VF %d (0000:3b:02\.%d) on vfio-pci, IOMMU group (\d+) \(/dev/vfio/(\d+)\)$`,
			i, i)).FindStringSubmatch(line)
		if m == nil || m[2] != m[3] || h.driver(m[1]) != hostdev.VFIODriver || !h.has("dev/vfio/"+m[2]) {
			t.Errorf("line %q", line)
		}
	}
	_, stderr := runExample(t, "sriovvfio", 1, append(base, "3b:00.0", "9")...)
	if !strings.Contains(stderr, "cannot enable 9 VFs: the PF offers at most 8") || !strings.Contains(stderr, "errno 34") {
		t.Errorf("stderr: %s", stderr)
	}
	out, _ = runExample(t, "sriovvfio", 0, append(base, "-release", "3b:00.0")...)
	if out != "3b:00.0: 2 VFs given back, 0 VFs enabled\n" || h.has("sys/bus/pci/devices/0000:3b:02.0") {
		t.Errorf("output:\n%s", out)
	}
}

func TestExampleMdevSlice(t *testing.T) {
	h := newSRIOVHost(t)
	const uuid = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001"
	out, _ := runExample(t, "mdevslice", 0, "-root", h.root)
	want := "0000:af:00.0 nvidia-222 available=2 selector=GRID_T4-1Q\n" +
		"0000:af:00.0 nvidia-223 available=0 selector=GRID_T4-2Q\n" +
		"mtty mtty-1 available=24 selector=Single_port_serial\n" +
		"mtty mtty-2 available=12 selector=Dual_port_serial\n"
	if out != want {
		t.Errorf("output:\n%s", out)
	}
	out, _ = runExample(t, "mdevslice", 0, "-root", h.root, "-uuid", uuid, "mtty", "mtty-1")
	re := regexp.MustCompile(`^created ` + uuid + ` on mtty \(mtty-1, KubeVirt selector Single_port_serial\), ` +
		`driver vfio_mdev, IOMMU group (\d+) \(/dev/vfio/(\d+)\)\nremoved ` + uuid + "\n$")
	if m := re.FindStringSubmatch(out); m == nil || m[1] != m[2] || h.has("sys/bus/mdev/devices/"+uuid) {
		t.Errorf("output:\n%s", out)
	}
	runExample(t, "mdevslice", 0, "-root", h.root, "-keep", "-uuid", uuid, "mtty", "mtty-2")
	if !h.has("sys/bus/mdev/devices/" + uuid) {
		t.Error("-keep removed the mdev")
	}
	_, stderr := runExample(t, "mdevslice", 1, "-root", h.root, "-uuid", uuid, "mtty", "mtty-1")
	if !strings.Contains(stderr, uuid) || !strings.Contains(stderr, "errno 17") {
		t.Errorf("stderr: %s", stderr)
	}
	_, stderr = runExample(t, "mdevslice", 1, "-root", h.root, "0000:af:00.0", "nvidia-223")
	if !strings.Contains(stderr, "no instances of mdev type nvidia-223 are left") || !strings.Contains(stderr, "errno 28") {
		t.Errorf("stderr: %s", stderr)
	}
}

func TestExampleServeDevices(t *testing.T) {
	r := newDPRoot(t)
	dir := dpKubeletDir(t)
	k := startKubelet(t, dir)
	base := []string{"-root", r.root, "-resource", dpResource, "-vendor-device", "8086:10d3"}
	cmd := exec.Command(filepath.Join(needEnv(t, "HOSTDEV_TEST_GO_EXAMPLES"), "servedevices"),
		append(base, "-kubelet-dir", dir, "-refresh", "100ms")...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	reply := k.do(t, map[string]any{"cmd": "registrations", "n": 1, "timeout": waitLimit.Seconds()})
	if !reply.OK || reply.Registrations[0].ResourceName != dpResource {
		t.Fatalf("registrations %+v\n%s", reply, stderr.String())
	}
	socket := filepath.Join(k.pluginDir(), reply.Registrations[0].Endpoint)
	reply = k.do(t, map[string]any{"cmd": "list", "count": 3})
	if want := []string{r.entry(0, "Healthy"), r.entry(1, "Healthy"), r.entry(2, "Healthy")}; !reflect.DeepEqual(reply.entries(), want) {
		t.Errorf("list %q, want %q", reply.entries(), want)
	}
	ids := r.ids()
	reply = k.do(t, map[string]any{"cmd": "allocate", "socket": socket, "containers": [][]string{ids[:2]}})
	if !reply.OK || reply.Responses[0].Envs[dpEnv] != ids[0]+","+ids[1] {
		t.Errorf("allocate %+v", reply)
	}
	// Removing a group node turns its device unhealthy within the refresh interval.
	os.Remove(r.groupNode(2))
	if reply = k.do(t, map[string]any{"cmd": "list_where", "id": ids[2], "health": "Unhealthy"}); !reply.OK {
		t.Errorf("list %q", reply.entries())
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("servedevices: %v\n%s", err, stderr.String())
	}
	if want := fmt.Sprintf("serving %s (3 devices) on %s\nstopped\n", dpResource, socket); stdout.String() != want {
		t.Errorf("stdout %q, want %q", stdout.String(), want)
	}
	if !strings.Contains(stderr.String(), "registered with the kubelet") {
		t.Errorf("stderr: %s", stderr.String())
	}
	if reply = k.do(t, map[string]any{"cmd": "ended"}); !reply.OK {
		t.Errorf("no empty list after SIGTERM: %+v", reply)
	}
	if _, err := os.Stat(socket); !os.IsNotExist(err) {
		t.Errorf("socket after SIGTERM: %v", err)
	}

	out, _ := runExample(t, "servedevices", 0, append(base, "-permitted", "json")...)
	if !strings.Contains(out, `"pciVendorSelector": "8086:10d3"`) || !strings.Contains(out, `"externalResourceProvider": true`) {
		t.Errorf("permitted: %s", out)
	}
	_, errOut := runExample(t, "servedevices", 1, "-root", r.root, "-resource", dpResource, "-vendor-device", "8086:10dx")
	if !strings.Contains(errOut, `selectors.vendorDevice[0] "8086:10dx" is not a vendor:device id`) ||
		!strings.Contains(errOut, "errno 22") {
		t.Errorf("stderr: %s", errOut)
	}
}
