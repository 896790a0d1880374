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
	host := h.open(t)
	vgpus, err := host.VGPUs("")
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
	one, err := host.VGPUs("08:00.5")
	if err != nil || len(one) != 1 || one[0].Address != "0000:08:00.5" {
		t.Fatalf("one VF: %+v %v", one, err)
	}
	if _, err := host.VGPUs("0000:3b:02.0"); !errors.Is(err, syscall.EOPNOTSUPP) {
		t.Fatalf("a NIC VF: %v", err)
	}
	name, err := hostdev.VGPUResource("NVIDIA A2-4Q")
	if err != nil || name != "nvidia.com/NVIDIA_A2-4Q" {
		t.Fatalf("VGPUResource: %q %v", name, err)
	}
}

// SetVGPUType, ClearVGPUType and RestoreVGPUs on the A2 host: journaled, undone, refused with the
// library's reasons.
func TestVGPUSetClearRestore(t *testing.T) {
	h := newHost(t, "HOSTDEV_TEST_VGPU_FAKE_HOST")
	host := h.open(t)
	const vf0, vf1 = "0000:08:00.4", "0000:08:00.5"
	set, err := host.SetVGPUType(vf0, 1303, nil)
	if err != nil || !set {
		t.Fatalf("set: %v %v", set, err)
	}
	if set, err = host.SetVGPUType(vf0, 1303, nil); err != nil || set {
		t.Fatalf("set again: %v %v, want false", set, err)
	}
	v, err := host.VGPUs(vf0)
	if err != nil || v[0].CurrentType != 1303 || v[0].CurrentName != "NVIDIA A2-4Q" || !v[0].Journaled {
		t.Fatalf("after set: %+v %v", v, err)
	}
	if _, err := host.SetVGPUType(vf0, 1304, &hostdev.VGPUOptions{}); !errors.Is(err, syscall.EBUSY) {
		t.Fatalf("another type: %v", err)
	}
	if _, err := host.SetVGPUType(vf1, 0, nil); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("type 0: %v", err)
	}
	if _, err := host.SetVGPUType(vf1, 9999, nil); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("a type that is not creatable: %v", err)
	}
	if _, err := host.RestoreVGPUs(vf1, nil); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("restore without a record: %v", err)
	}
	if set, err = host.SetVGPUType(vf1, 1303, nil); err != nil || !set {
		t.Fatalf("set vf1: %v %v", set, err)
	}
	cleared, err := host.ClearVGPUType(vf1, nil)
	if err != nil || !cleared {
		t.Fatalf("clear: %v %v", cleared, err)
	}
	if cleared, err = host.ClearVGPUType(vf1, nil); err != nil || cleared {
		t.Fatalf("clear again: %v %v, want false", cleared, err)
	}
	n, err := host.RestoreVGPUs("", nil)
	if err != nil || n != 1 {
		t.Fatalf("restore all: %d %v, want 1", n, err)
	}
	if v, err = host.VGPUs(vf0); err != nil || v[0].CurrentType != 0 || v[0].Journaled {
		t.Fatalf("after restore: %+v %v", v, err)
	}
}
