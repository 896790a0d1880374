// SPDX-License-Identifier: Apache-2.0

package hostdev_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
