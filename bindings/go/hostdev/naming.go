// SPDX-License-Identifier: Apache-2.0

package hostdev

import "github.com/libhostdev/libhostdev/bindings/go/internal/capi"

// Naming: Harvester- and KubeVirt-compatible names as pure functions (docs/naming.md). An empty
// name argument means "unknown" (NULL in C).

func name(op string, text string, rc []int) (string, error) {
	if rc[0] < 0 {
		return "", newError(op, rc[0], op+": "+capi.Hdb_strerror(rc[0]))
	}
	return text, nil
}

// ResourceVendor is the vendor part of a pooled resource name: "Intel Corporation" -> "intel.com".
func ResourceVendor(vendorName string) (string, error) {
	rc := []int{0}
	return name("ResourceVendor", capi.Hdb_naming_resource_vendor(vendorName, rc), rc)
}

// PCIResourceName is the pooled resource name "<vendor>.com/<PRODUCT>" with Harvester's rules.
func PCIResourceName(vendorName, deviceName string, deviceID uint16) (string, error) {
	rc := []int{0}
	return name("PCIResourceName",
		capi.Hdb_naming_pci_resource(vendorName, deviceName, uint(deviceID), rc), rc)
}

// PCIObjectName is Harvester's PCIDevice object name "<node>-<address without ':' and '.'>".
func PCIObjectName(node, address string) (string, error) {
	rc := []int{0}
	return name("PCIObjectName", capi.Hdb_naming_pci_object_name(node, address, rc), rc)
}

// PCIDescription is Harvester's description "<subclass or class>: <vendor> <device>".
func PCIDescription(className, subclassName string, class uint32, vendorName string,
	vendorID uint16, deviceName string, deviceID uint16) (string, error) {
	rc := []int{0}
	return name("PCIDescription", capi.Hdb_naming_pci_description(className, subclassName,
		uint(class), vendorName, uint(vendorID), deviceName, uint(deviceID), rc), rc)
}

// USBObjectName is Harvester's USBDevice object name "<node>-<vvvv>-<pppp>-<BBBDDD>".
func USBObjectName(node string, vendorID, productID uint16, busnum, devnum uint) (string, error) {
	rc := []int{0}
	return name("USBObjectName", capi.Hdb_naming_usb_object_name(node, uint(vendorID),
		uint(productID), busnum, devnum, rc), rc)
}

// KubeVirtEnv is the environment variable KubeVirt sets for a resource:
// KubeVirtEnv("PCI_RESOURCE", "nvidia.com/TU104GL_TESLA_T4") = "PCI_RESOURCE_NVIDIA_COM_TU104GL_TESLA_T4".
func KubeVirtEnv(prefix, resourceName string) (string, error) {
	rc := []int{0}
	return name("KubeVirtEnv", capi.Hdb_naming_kubevirt_env(prefix, resourceName, rc), rc)
}

// DeviceID is a valid Kubernetes device id for text: text itself when valid, else its allowed
// characters and a hash (deterministic).
func DeviceID(text string) (string, error) {
	rc := []int{0}
	return name("DeviceID", capi.Hdb_naming_device_id(text, rc), rc)
}

// ValidResourceName reports whether resourceName is a valid Kubernetes extended resource name.
func ValidResourceName(resourceName string) bool {
	return capi.Hostdev_naming_check_resource_name(resourceName) == 0
}

// VGPUResource is Harvester's resource name of an NVIDIA vGPU type: "NVIDIA A2-4Q" ->
// "nvidia.com/NVIDIA_A2-4Q" (docs/vgpu.md).
func VGPUResource(typeName string) (string, error) {
	rc := []int{0}
	return name("VGPUResource", capi.Hdb_naming_vgpu_resource(typeName, rc), rc)
}
