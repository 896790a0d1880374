/* SPDX-License-Identifier: Apache-2.0 */
/*
 * /etc/modprobe.d/vfio.conf from the persistent list (hostdev_vfio_modprobe_conf()), the
 * boot-time alternative of applying the list that OpenShift uses.
 *
 * The ids of the listed devices are not enough: the other endpoints of their IOMMU groups (the
 * audio function beside a GPU) must be claimed too, or the group holds a device on a host driver at
 * boot and VFIO refuses to open it. And vfio-pci must load before the host drivers of those ids
 * (softdep), or they take the devices first: the bound driver counts as well as the modalias
 * matches, since the module index may be missing and a driver bound by hand need not be the match.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "vfio.h"

struct conf {
	FILE *text;	     /* the comment lines, in order */
	struct strv ids;     /* "vvvv:dddd" vfio-pci must claim */
	struct strv listed;  /* addresses of the persistent list */
	struct strv members; /* addresses added as group members */
	struct strv modules; /* host driver modules that must load after vfio-pci */
};

static int add_unique(struct strv *set, const char *value)
{
	return strv_contains(set, value) ? 0 : strv_push(set, value);
}

static void id_of(hostdev_pci_device *dev, char id[16])
{
	snprintf(id, 16, "%04x:%04x", hostdev_pci_device_get_vendor_id(dev) & 0xffff,
		 hostdev_pci_device_get_device_id(dev) & 0xffff);
}

/* Add the non-bridge endpoints of entry @index's IOMMU group. Returns 0, -ENOMEM. */
static int add_group_members(hostdev_ctx *ctx, struct conf *c, const hostdev_vfio_persist *list,
			     size_t index)
{
	const char *address = hostdev_vfio_persist_get_address(list, index);
	bool grouped = hostdev_vfio_persist_get_flags(list, index) & HOSTDEV_BIND_GROUP;
	hostdev_pci_device *dev;
	int r = hostdev_pci_device_new(ctx, address, &dev), group;

	if (r < 0) {
		/* The list records the ids; only the group is unknown on this host. */
		hostdev_clear_error(ctx);
		fprintf(c->text,
			"# NOTE: %s is not on this host; its IOMMU group members (if any) are "
			"not included.\n",
			address);
		return 0;
	}
	group = hostdev_pci_device_get_iommu_group(dev);
	for (size_t m = 0; r == 0 && m < hostdev_pci_device_get_iommu_group_member_count(dev);
	     m++) {
		const char *member = hostdev_pci_device_get_iommu_group_member(dev, m);
		hostdev_pci_device *other;
		char id[16];

		if (strcmp(member, address) == 0 || strv_contains(&c->listed, member) ||
		    strv_contains(&c->members, member))
			continue;
		if (hostdev_pci_device_new(ctx, member, &other) < 0) {
			hostdev_clear_error(ctx);
			continue; /* vanished meanwhile */
		}
		/* Bridges stay on their drivers: VFIO does not require them (as a group bind). */
		if (!hostdev_pci_device_is_bridge(other)) {
			id_of(other, id);
			fprintf(c->text,
				"# %s [%s] shares IOMMU group %d with %s: vfio-pci must claim it "
				"too.\n",
				member, id, group, address);
			if (!grouped)
				fprintf(c->text,
					"#   (%s is listed without its IOMMU group: applying the "
					"list would refuse the group; at boot vfio-pci takes all "
					"of it.)\n",
					address);
			r = add_unique(&c->ids, id);
			if (r == 0)
				r = add_unique(&c->members, member);
		}
		hostdev_pci_device_unref(other);
	}
	hostdev_pci_device_unref(dev);
	return r;
}

/* The module name of a bound driver: modprobe treats '-' and '_' alike, modules use '_'. */
static int add_driver_module(struct conf *c, const char *driver)
{
	char module[VFIO_DRIVER_NAME_MAX + 1];

	if (!driver || vfio_is_vfio_driver(driver) || strcmp(driver, "pci-stub") == 0)
		return 0;
	snprintf(module, sizeof(module), "%s", driver);
	for (char *q = module; *q; q++)
		*q = *q == '-' ? '_' : *q;
	return add_unique(&c->modules, module);
}

/* Every device with one of the ids: its modules, and a warning for the unlisted ones. */
static int scan_host(hostdev_ctx *ctx, struct conf *c)
{
	hostdev_pci_enum *e;
	hostdev_pci_device *dev;
	int r = hostdev_pci_enum_new(ctx, &e);

	if (r < 0)
		return r;
	while ((r = hostdev_pci_enum_next(e, &dev)) > 0) {
		const char *address = hostdev_pci_device_get_address(dev);
		char id[16];

		id_of(dev, id);
		r = 0;
		if (strv_contains(&c->ids, id)) {
			r = add_driver_module(c, hostdev_pci_device_get_driver(dev));
			for (size_t m = 0; r == 0 && m < hostdev_pci_device_get_module_count(dev);
			     m++) {
				const char *module = hostdev_pci_device_get_module(dev, m);

				if (strcmp(module, "vfio_pci") != 0 &&
				    strcmp(module, "vfio-pci") != 0)
					r = add_unique(&c->modules, module);
			}
			if (!strv_contains(&c->listed, address) &&
			    !strv_contains(&c->members, address))
				fprintf(
				    c->text,
				    "# WARNING: also claimed: %s [%s], which is not in the list "
				    "nor in a listed device's IOMMU group.\n",
				    address, id);
		}
		hostdev_pci_device_unref(dev);
		if (r < 0)
			break;
	}
	hostdev_pci_enum_unref(e);
	return r;
}

static void conf_clear(struct conf *c)
{
	if (c->text)
		fclose(c->text);
	strv_clear(&c->ids);
	strv_clear(&c->listed);
	strv_clear(&c->members);
	strv_clear(&c->modules);
}

HOSTDEV_EXPORT int hostdev_vfio_modprobe_conf(hostdev_ctx *ctx, unsigned int flags, char **out)
{
	hostdev_vfio_persist *list = NULL;
	struct conf c = {0};
	char *text = NULL;
	size_t size = 0, n;
	int r;

	if (!ctx || !out)
		return -EINVAL;
	*out = NULL;
	if (flags)
		return hostdev_error(ctx, -EINVAL, "unknown flags 0x%x", flags);
	r = hostdev_vfio_persist_read(ctx, &list);
	if (r < 0)
		return r;
	n = hostdev_vfio_persist_get_count(list);
	if (n == 0) {
		r = hostdev_error(ctx, -ENOENT,
				  "the persistent list %s is empty: add the devices vfio-pci must "
				  "claim at boot with hostdev_vfio_persist_add() first",
				  hostdev_vfio_persist_get_path(list));
		hostdev_vfio_persist_unref(list);
		return r;
	}
	c.text = open_memstream(&text, &size);
	if (!c.text) {
		r = -ENOMEM;
		goto out;
	}
	fprintf(c.text,
		"# Generated by libhostdev from %s.\n"
		"# Boot-time alternative to applying that list: vfio-pci claims EVERY device with "
		"these\n"
		"# ids when it loads, not only the listed addresses.\n",
		hostdev_vfio_persist_get_path(list));
	for (size_t i = 0; i < n && r == 0; i++) {
		char id[16];

		snprintf(id, sizeof(id), "%04x:%04x", hostdev_vfio_persist_get_vendor_id(list, i),
			 hostdev_vfio_persist_get_device_id(list, i));
		r = add_unique(&c.ids, id);
		if (r == 0)
			r = add_unique(&c.listed, hostdev_vfio_persist_get_address(list, i));
	}
	for (size_t i = 0; i < n && r == 0; i++)
		r = add_group_members(ctx, &c, list, i);
	if (r == 0)
		r = scan_host(ctx, &c);
	if (r < 0)
		goto out;
	strv_sort(&c.ids);
	strv_sort(&c.modules);
	for (size_t i = 0; i < c.modules.count; i++)
		fprintf(c.text, "softdep %s pre: vfio-pci\n", c.modules.items[i]);
	fputs("options vfio-pci ids=", c.text);
	for (size_t i = 0; i < c.ids.count; i++)
		fprintf(c.text, "%s%s", i ? "," : "", c.ids.items[i]);
	fputc('\n', c.text);
	r = fclose(c.text) == 0 && text ? 0 : -ENOMEM;
	c.text = NULL;
	if (r == 0) {
		*out = text;
		text = NULL;
	}
out:
	conf_clear(&c);
	free(text);
	hostdev_vfio_persist_unref(list);
	return r;
}
