/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Resource and object naming, as pure functions of their inputs, so that callers (and the tests)
 * can compute Harvester- and KubeVirt-compatible names without a device. The rules are in
 * docs/naming.md.
 *
 * Every function writes a NUL-terminated string into @buf of @size bytes and returns its length, or
 * -EINVAL for a NULL/invalid input, -ENOSPC when @size is too small (nothing useful is written
 * then).
 */
#ifndef HOSTDEV_NAMING_H
#define HOSTDEV_NAMING_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A buffer of this size holds any name produced here. */
#define HOSTDEV_NAME_MAX 512

/**
 * Vendor part of a pooled resource name ("intel.com"): the text inside the first "[...]" of
 * @vendor_name cut at the first '/', else its first word; non-alphanumerics dropped, lower-cased,
 * ".com" appended. NULL or a name that leaves nothing gives "unknown.com".
 */
int hostdev_naming_resource_vendor(const char *vendor_name, char *buf, size_t size);

/**
 * Pooled resource name "<vendor>.com/<PRODUCT>" with Harvester's rules, including the 108-byte
 * device-plugin socket rule (VIRTUAL_FUNCTION -> VF, then the 4-hex device id).
 * @vendor_name and @device_name are pci.ids names (NULL when unknown); @device_id the PCI device
 * id.
 */
int hostdev_naming_pci_resource(const char *vendor_name, const char *device_name,
				unsigned int device_id, char *buf, size_t size);

/** Harvester PCIDevice object name: "<node>-<address with ':' and '.' removed>". */
int hostdev_naming_pci_object_name(const char *node, const char *address, char *buf, size_t size);

/**
 * Harvester description: "<subclass name, else class name, else "Class CCSS">: <vendor name, else
 * "Vendor VVVV"> <device name, else "Device DDDD">". @class_code is the 24-bit 0xCCSSPP value.
 */
int hostdev_naming_pci_description(const char *class_name, const char *subclass_name,
				   unsigned int class_code, const char *vendor_name,
				   unsigned int vendor_id, const char *device_name,
				   unsigned int device_id, char *buf, size_t size);

/** Harvester USBDevice object name "<node>-<vvvv>-<pppp>-<BBBDDD>". */
int hostdev_naming_usb_object_name(const char *node, unsigned int vendor_id,
				   unsigned int product_id, unsigned int busnum,
				   unsigned int devnum, char *buf, size_t size);

/**
 * A valid Kubernetes device id (and name part of a resource name) for @text: @text itself when it
 * is 1-63 characters of [A-Za-z0-9._-] starting and ending with an alphanumeric; otherwise the
 * allowed characters of @text (each run of others one '-', at most 52) + "-" + 10 hex digits of
 * the FNV-1a 64-bit hash of @text. Deterministic: the same @text always gives the same id.
 */
int hostdev_naming_device_id(const char *text, char *buf, size_t size);

/**
 * KubeVirt environment variable name: @prefix + "_" + upper(@resource_name with '/' and '.' ->
 * '_').
 * '-' is kept. @prefix is e.g. "PCI_RESOURCE", "MDEV_PCI_RESOURCE", "USB_RESOURCE".
 */
int hostdev_naming_kubevirt_env(const char *prefix, const char *resource_name, char *buf,
				size_t size);

/**
 * Check an extended resource name as the kubelet does when a device plugin registers
 * (Kubernetes' IsExtendedResourceName): "<domain>/<name>" where the domain is a lower-case DNS
 * subdomain of at most 244 characters (the kubelet checks "requests.<domain>" against 253), the
 * name at most 63 characters of [A-Za-z0-9]([-_.A-Za-z0-9]*[A-Za-z0-9])?, nothing containing
 * "kubernetes.io/" (Kubernetes' own resources) and nothing starting with "requests." (quota
 * names). Returns 0 when valid, -EINVAL otherwise.
 */
int hostdev_naming_check_resource_name(const char *resource_name);

/**
 * Since HOSTDEV_1.5. Harvester's resource name of an NVIDIA vGPU type (pcidevices'
 * GeneratevGPUDeviceName): "nvidia.com/" + @type_name with surrounding whitespace trimmed, '/'
 * and '.' replaced by '_' and each run of whitespace by one '_' ("NVIDIA A2-4Q" ->
 * "nvidia.com/NVIDIA_A2-4Q"). -EINVAL when the result is not a valid extended resource name
 * (hostdev_naming_check_resource_name()).
 */
int hostdev_naming_vgpu_resource(const char *type_name, char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* HOSTDEV_NAMING_H */
