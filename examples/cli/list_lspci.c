/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `hostdev list` with lspci's output options (-n, -nn, -k, -D, -v, -vv, -vmm): the shapes of
 * pciutils' lspci 3.x for what the library knows. hostdev reads no configuration space, so -v
 * shows the sysfs facts of `lspci -v` (subsystem, physical slot, NUMA node, IOMMU group, driver,
 * modules), not flags, resources or capabilities. tests/cli compares with the real lspci.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* "Vendor Device" in lspci's words for @dev, with ids per numeric mode. */
void cli_lspci_print_ids(const struct cli_lspci *o, hostdev_pci_device *dev)
{
	const char *vendor = hostdev_pci_device_get_vendor_name(dev);
	const char *device = hostdev_pci_device_get_device_name(dev);
	unsigned int vid = hostdev_pci_device_get_vendor_id(dev) & 0xffff;
	unsigned int did = hostdev_pci_device_get_device_id(dev) & 0xffff;

	if (o->numeric == 1) {
		printf("%04x:%04x", vid, did);
		return;
	}
	if (vendor && device)
		printf("%s %s", vendor, device);
	else if (vendor)
		printf("%s Device", vendor);
	else
		printf("Device");
	if (o->numeric == 2)
		printf(" [%04x:%04x]", vid, did);
	else if (!vendor)
		printf(" %04x:%04x", vid, did);
	else if (!device)
		printf(" %04x", did);
}

static void print_class(const struct cli_lspci *o, hostdev_pci_device *dev)
{
	const char *name = hostdev_pci_device_get_subclass_name(dev);
	unsigned int cls = (hostdev_pci_device_get_class(dev) >> 8) & 0xffff;

	if (!name)
		name = hostdev_pci_device_get_class_name(dev);
	if (o->numeric == 1)
		printf("%04x", cls);
	else if (o->numeric == 2)
		printf("%s [%04x]", name ? name : "Class", cls);
	else if (name)
		printf("%s", name);
	else
		printf("Class %04x", cls);
}

static bool has_subsystem(hostdev_pci_device *dev)
{
	return hostdev_pci_device_get_subsystem_vendor_id(dev) ||
	       hostdev_pci_device_get_subsystem_device_id(dev);
}

/* "\tSubsystem: ..." of lspci -k / -v. */
static void print_subsystem(const struct cli_lspci *o, hostdev_pci_device *dev)
{
	const char *vendor = hostdev_pci_device_get_subsystem_vendor_name(dev);
	const char *name = hostdev_pci_device_get_subsystem_name(dev);
	unsigned int svid = hostdev_pci_device_get_subsystem_vendor_id(dev) & 0xffff;
	unsigned int sdid = hostdev_pci_device_get_subsystem_device_id(dev) & 0xffff;

	if (!has_subsystem(dev))
		return;
	fputs("\tSubsystem: ", stdout);
	if (o->numeric == 1)
		printf("%04x:%04x", svid, sdid);
	else {
		if (vendor && name)
			printf("%s %s", vendor, name);
		else if (vendor)
			printf("%s Device", vendor);
		else
			printf("Device");
		if (o->numeric == 2)
			printf(" [%04x:%04x]", svid, sdid);
		else if (!vendor)
			printf(" %04x:%04x", svid, sdid);
		else if (!name)
			printf(" %04x", sdid);
	}
	putchar('\n');
}

static void print_kernel(hostdev_pci_device *dev)
{
	const char *driver = hostdev_pci_device_get_driver(dev);
	size_t n = hostdev_pci_device_get_module_count(dev);

	if (driver)
		printf("\tKernel driver in use: %s\n", driver);
	if (n) {
		fputs("\tKernel modules: ", stdout);
		for (size_t i = 0; i < n; i++)
			printf("%s%s", i ? ", " : "", hostdev_pci_device_get_module(dev, i));
		putchar('\n');
	}
}

/* The address as lspci shows it: without the domain unless asked or needed. */
static const char *slot_name(const char *address, bool domains)
{
	const char *colon = strchr(address, ':');

	return domains || !colon ? address : colon + 1;
}

static void print_line(const struct cli_lspci *o, hostdev_pci_device *dev, bool domains)
{
	unsigned int revision = hostdev_pci_device_get_revision(dev) & 0xff;

	printf("%s ", slot_name(hostdev_pci_device_get_address(dev), domains));
	print_class(o, dev);
	fputs(": ", stdout);
	cli_lspci_print_ids(o, dev);
	if (revision)
		printf(" (rev %02x)", revision);
	putchar('\n');
	if (o->verbose) {
		const char *slot = hostdev_pci_device_get_physical_slot(dev);
		int numa = hostdev_pci_device_get_numa_node(dev);
		int group = hostdev_pci_device_get_iommu_group(dev);

		print_subsystem(o, dev);
		if (slot)
			printf("\tPhysical Slot: %s\n", slot);
		if (numa >= 0)
			printf("\tNUMA node: %d\n", numa);
		if (group >= 0)
			printf("\tIOMMU group: %d\n", group);
		print_kernel(dev);
		putchar('\n');
	} else if (o->kernel) {
		print_subsystem(o, dev);
		print_kernel(dev);
	}
}

/* One "Tag:\tvalue" field of -vmm; @name NULL prints @unknown_fmt with @id. */
static void vmm_name(const struct cli_lspci *o, const char *tag, const char *name,
		     const char *unknown, unsigned int id, int width)
{
	printf("%s:\t", tag);
	if (o->numeric == 1)
		printf("%0*x\n", width, id);
	else if (name && o->numeric == 2)
		printf("%s [%0*x]\n", name, width, id);
	else if (name)
		printf("%s\n", name);
	else if (o->numeric == 2)
		printf("%s [%0*x]\n", unknown, width, id);
	else
		printf("%s %0*x\n", unknown, width, id);
}

static void print_vmm(const struct cli_lspci *o, hostdev_pci_device *dev)
{
	const char *address = hostdev_pci_device_get_address(dev);
	const char *cls = hostdev_pci_device_get_subclass_name(dev);
	unsigned int revision = hostdev_pci_device_get_revision(dev) & 0xff;
	int numa = hostdev_pci_device_get_numa_node(dev);
	int group = hostdev_pci_device_get_iommu_group(dev);
	const char *driver = hostdev_pci_device_get_driver(dev);

	printf("Slot:\t%s\n", slot_name(address, o->domains || strncmp(address, "0000:", 5) != 0));
	vmm_name(o, "Class", cls ? cls : hostdev_pci_device_get_class_name(dev), "Class",
		 (hostdev_pci_device_get_class(dev) >> 8) & 0xffff, 4);
	vmm_name(o, "Vendor", hostdev_pci_device_get_vendor_name(dev), "Vendor",
		 hostdev_pci_device_get_vendor_id(dev) & 0xffff, 4);
	vmm_name(o, "Device", hostdev_pci_device_get_device_name(dev), "Device",
		 hostdev_pci_device_get_device_id(dev) & 0xffff, 4);
	if (has_subsystem(dev)) {
		vmm_name(o, "SVendor", hostdev_pci_device_get_subsystem_vendor_name(dev),
			 "Unknown vendor", hostdev_pci_device_get_subsystem_vendor_id(dev) & 0xffff,
			 4);
		vmm_name(o, "SDevice", hostdev_pci_device_get_subsystem_name(dev), "Device",
			 hostdev_pci_device_get_subsystem_device_id(dev) & 0xffff, 4);
	}
	if (hostdev_pci_device_get_physical_slot(dev))
		printf("PhySlot:\t%s\n", hostdev_pci_device_get_physical_slot(dev));
	if (revision)
		printf("Rev:\t%02x\n", revision);
	printf("ProgIf:\t%02x\n", hostdev_pci_device_get_class(dev) & 0xff);
	if (o->kernel && driver)
		printf("Driver:\t%s\n", driver);
	for (size_t i = 0; o->kernel && i < hostdev_pci_device_get_module_count(dev); i++)
		printf("Module:\t%s\n", hostdev_pci_device_get_module(dev, i));
	if (numa >= 0)
		printf("NUMANode:\t%d\n", numa);
	if (group >= 0)
		printf("IOMMUGroup:\t%d\n", group);
	putchar('\n');
}

void cli_lspci_print(const struct cli_lspci *o, hostdev_pci_device *const *devs, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		if (o->machine)
			print_vmm(o, devs[i]);
		else
			print_line(o, devs[i], o->domains || o->other_domains);
	}
}
