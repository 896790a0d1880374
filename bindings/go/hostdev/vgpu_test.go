// SPDX-License-Identifier: Apache-2.0

package hostdev_test

import (
	"errors"
	"syscall"
	"testing"

	"github.com/libhostdev/libhostdev/bindings/go/hostdev"
)

// The A2 host of tests/vgpu/vgpu_tree.h: 16 VFs with NVIDIA's vGPU attributes, whose rules the
// kernel model takes from NVIDIA's documentation (not observed on hardware).
func TestVGPUs(t *testing.T) {
	h := newHost(t, "HOSTDEV_TEST_VGPU_FAKE_HOST")
	ctx := h.open(t)
	vgpus, err := ctx.VGPUs("")
	if err != nil {
		t.Fatal(err)
	}
	if len(vgpus) != 16 {
		t.Fatalf("%d vGPU VFs, want 16", len(vgpus))
	}
	v := vgpus[0]
	if v.Address != "0000:08:00.4" || v.PF != "0000:08:00.0" || v.Driver != "nvidia" ||
		v.CurrentType != 0 || v.CurrentName != "" || v.Journaled || v.IOMMUGroup < 0 {
		t.Fatalf("first VF: %+v", v)
	}
	if len(v.Creatable) != 12 || v.Creatable[2] != (hostdev.VGPUType{ID: 1303, Name: "NVIDIA A2-4Q"}) {
		t.Fatalf("creatable: %+v", v.Creatable)
	}
	one, err := ctx.VGPUs("08:00.5")
	if err != nil || len(one) != 1 || one[0].Address != "0000:08:00.5" {
		t.Fatalf("one VF: %+v %v", one, err)
	}
	if _, err := ctx.VGPUs("0000:3b:02.0"); !errors.Is(err, syscall.EOPNOTSUPP) {
		t.Fatalf("a NIC VF: %v", err)
	}
	name, err := hostdev.VGPUResource("NVIDIA A2-4Q")
	if err != nil || name != "nvidia.com/NVIDIA_A2-4Q" {
		t.Fatalf("VGPUResource: %q %v", name, err)
	}
}
