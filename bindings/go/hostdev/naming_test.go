// SPDX-License-Identifier: Apache-2.0

package hostdev_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/libhostdev/libhostdev/bindings/go/hostdev"
)

// str turns the JSON null of an unknown name into the "" the Go API uses for it.
func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func TestNamingVectors(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(needEnv(t, "HOSTDEV_TEST_DATA"), "naming_vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		ResourceVendor []struct {
			VendorName *string `json:"vendor_name"`
			Expected   string
		} `json:"resource_vendor"`
		PCIResource []struct {
			VendorName *string `json:"vendor_name"`
			DeviceName *string `json:"device_name"`
			DeviceID   uint16  `json:"device_id"`
			Expected   string
		} `json:"pci_resource"`
		PCIObjectName []struct{ Node, Address, Expected string } `json:"pci_object_name"`
		USBObjectName []struct {
			Node           string
			VendorID       uint16 `json:"vendor_id"`
			ProductID      uint16 `json:"product_id"`
			Busnum, Devnum uint
			Expected       string
		} `json:"usb_object_name"`
		PCIDescription []struct {
			ClassName    *string `json:"class_name"`
			SubclassName *string `json:"subclass_name"`
			ClassCode    uint32  `json:"class_code"`
			VendorName   *string `json:"vendor_name"`
			VendorID     uint16  `json:"vendor_id"`
			DeviceName   *string `json:"device_name"`
			DeviceID     uint16  `json:"device_id"`
			Expected     string
		} `json:"pci_description"`
		KubeVirtEnv []struct {
			Prefix       string
			ResourceName string `json:"resource_name"`
			Expected     string
		} `json:"kubevirt_env"`
		Valid   []string `json:"valid_resource_names"`
		Invalid []string `json:"invalid_resource_names"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	expect := func(what, got string, err error, want string) {
		t.Helper()
		if err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", what, got, err, want)
		}
	}
	for _, c := range v.ResourceVendor {
		got, err := hostdev.ResourceVendor(str(c.VendorName))
		expect("ResourceVendor("+str(c.VendorName)+")", got, err, c.Expected)
	}
	for _, c := range v.PCIResource {
		got, err := hostdev.PCIResourceName(str(c.VendorName), str(c.DeviceName), c.DeviceID)
		expect("PCIResourceName("+str(c.DeviceName)+")", got, err, c.Expected)
		if !hostdev.ValidResourceName(got) {
			t.Errorf("%q is not a valid resource name", got)
		}
	}
	for _, c := range v.PCIObjectName {
		got, err := hostdev.PCIObjectName(c.Node, c.Address)
		expect("PCIObjectName", got, err, c.Expected)
	}
	for _, c := range v.USBObjectName {
		got, err := hostdev.USBObjectName(c.Node, c.VendorID, c.ProductID, c.Busnum, c.Devnum)
		expect("USBObjectName", got, err, c.Expected)
	}
	for _, c := range v.PCIDescription {
		got, err := hostdev.PCIDescription(str(c.ClassName), str(c.SubclassName), c.ClassCode,
			str(c.VendorName), c.VendorID, str(c.DeviceName), c.DeviceID)
		expect("PCIDescription", got, err, c.Expected)
	}
	for _, c := range v.KubeVirtEnv {
		got, err := hostdev.KubeVirtEnv(c.Prefix, c.ResourceName)
		expect("KubeVirtEnv", got, err, c.Expected)
	}
	if len(v.Valid) == 0 || len(v.Invalid) == 0 || len(v.PCIResource) < 20 {
		t.Fatal("vectors missing")
	}
	for _, n := range v.Valid {
		if !hostdev.ValidResourceName(n) {
			t.Errorf("%q should be valid", n)
		}
	}
	for _, n := range v.Invalid {
		if hostdev.ValidResourceName(n) {
			t.Errorf("%q should be invalid", n)
		}
	}
}

func TestNamingErrors(t *testing.T) {
	_, err := hostdev.KubeVirtEnv("PCI_RESOURCE", "")
	var herr *hostdev.Error
	if !errors.As(err, &herr) || !errors.Is(err, syscall.EINVAL) || herr.Op != "KubeVirtEnv" {
		t.Errorf("KubeVirtEnv with an empty resource name: %v", err)
	}
	// An empty name is "unknown" (NULL) where the C function accepts NULL.
	if got, err := hostdev.PCIResourceName("", "", 0x1234); got != "unknown.com/1234" || err != nil {
		t.Errorf("PCIResourceName of unknowns = %q, %v", got, err)
	}
}
