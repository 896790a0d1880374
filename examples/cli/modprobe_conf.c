/* SPDX-License-Identifier: Apache-2.0 */
/*
 * /etc/modprobe.d/vfio.conf from the persistent list (`hostdev persist modprobe`, `hostdev
 * openshift vfiopci`). Built here on the public API rather than with
 * hostdev_vfio_modprobe_conf(), which leaves out the other endpoints of the listed devices'
 * IOMMU groups (the audio function beside a GPU): with only the GPU's id, the group holds a
 * device on a host driver at boot and VFIO refuses to open it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "openshift.h"

/* A sorted set of strings. */
struct strset {
	char **items;
	size_t count;
};

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool strset_has(const struct strset *s, const char *value)
{
	return s->count &&
	       bsearch(&value, s->items, s->count, sizeof(*s->items), compare_strings) != NULL;
}

/* Returns 0 or -ENOMEM. */
static int strset_add(struct strset *s, const char *value)
{
	char **grown, *copy;

	if (strset_has(s, value))
		return 0;
	grown = realloc(s->items, (s->count + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	s->items = grown;
	copy = strdup(value);
	if (!copy)
		return -ENOMEM;
	s->items[s->count++] = copy;
	qsort(s->items, s->count, sizeof(*s->items), compare_strings);
	return 0;
}

static void strset_clear(struct strset *s)
{
	for (size_t i = 0; i < s->count; i++)
		free(s->items[i]);
	free(s->items);
	memset(s, 0, sizeof(*s));
}

struct conf {
	FILE *text;	       /* the comment lines, in order */
	struct strset ids;     /* "vvvv:dddd" vfio-pci must claim */
	struct strset listed;  /* addresses of the persistent list */
	struct strset members; /* addresses added as group members */
	struct strset modules; /* host driver modules that must load after vfio-pci */
};

static void id_of(hostdev_pci_device *dev, char id[16])
{
	snprintf(id, 16, "%04x:%04x", hostdev_pci_device_get_vendor_id(dev) & 0xffff,
		 hostdev_pci_device_get_device_id(dev) & 0xffff);
}

/* Add the non-bridge endpoints of @address's IOMMU group. Returns 0, -ENOMEM. */
static int add_group_members(struct cli *cli, struct conf *c, hostdev_vfio_persist *p, size_t index)
{
	const char *address = hostdev_vfio_persist_get_address(p, index);
	bool grouped = hostdev_vfio_persist_get_flags(p, index) & HOSTDEV_BIND_GROUP;
	hostdev_pci_device *dev;
	int r = hostdev_pci_device_new(cli->ctx, address, &dev), group;

	if (r < 0) {
		/* The list records the ids; only the group is unknown on this host. */
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

		if (strcmp(member, address) == 0 || strset_has(&c->listed, member) ||
		    strset_has(&c->members, member) ||
		    hostdev_pci_device_new(cli->ctx, member, &other) < 0)
			continue;
		/* Bridges stay on their drivers: VFIO does not require them (as bind --group). */
		if (!hostdev_pci_device_is_bridge(other)) {
			id_of(other, id);
			fprintf(c->text,
				"# %s [%s] shares IOMMU group %d with %s: vfio-pci must claim it "
				"too.\n",
				member, id, group, address);
			if (!grouped)
				fprintf(c->text,
					"#   (%s is listed without --group: `hostdev apply` would "
					"refuse the group; at boot vfio-pci takes all of it.)\n",
					address);
			r = strset_add(&c->ids, id);
			if (r == 0)
				r = strset_add(&c->members, member);
		}
		hostdev_pci_device_unref(other);
	}
	hostdev_pci_device_unref(dev);
	return r;
}

/* Every device with one of the ids: its modules, and a warning for the unlisted ones. */
static int scan_host(struct cli *cli, struct conf *c)
{
	hostdev_pci_enum *e;
	hostdev_pci_device *dev;
	int r = hostdev_pci_enum_new(cli->ctx, &e);

	if (r < 0)
		return cli_lib_error(cli, r, "cannot enumerate PCI devices");
	while ((r = hostdev_pci_enum_next(e, &dev)) > 0) {
		const char *address = hostdev_pci_device_get_address(dev);
		char id[16];

		id_of(dev, id);
		r = 0;
		if (strset_has(&c->ids, id)) {
			const char *driver = hostdev_pci_device_get_driver(dev);

			/*
			 * The bound driver too: the module index may be missing, and a driver bound
			 * by hand need not be the modalias match. Module names use '_' (modprobe
			 * treats '-' alike).
			 */
			if (driver && strcmp(driver, "vfio-pci") != 0 &&
			    strcmp(driver, "pci-stub") != 0) {
				char module[256];

				snprintf(module, sizeof(module), "%s", driver);
				for (char *q = module; *q; q++)
					*q = *q == '-' ? '_' : *q;
				r = strset_add(&c->modules, module);
			}
			for (size_t m = 0; r == 0 && m < hostdev_pci_device_get_module_count(dev);
			     m++) {
				const char *module = hostdev_pci_device_get_module(dev, m);

				if (strcmp(module, "vfio_pci") != 0 &&
				    strcmp(module, "vfio-pci") != 0)
					r = strset_add(&c->modules, module);
			}
			if (!strset_has(&c->listed, address) && !strset_has(&c->members, address))
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
	if (r == -ENOMEM)
		cli_error("out of memory while building vfio.conf");
	else if (r < 0)
		return cli_lib_error(cli, r, "cannot enumerate PCI devices");
	return r < 0 ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
}

int cli_modprobe_conf(struct cli *cli, char **out)
{
	struct conf c = {0};
	hostdev_vfio_persist *p = NULL;
	char *text = NULL;
	size_t size = 0, n;
	int r = hostdev_vfio_persist_read(cli->ctx, &p), code = CLI_EXIT_FAILURE;

	*out = NULL;
	if (r < 0)
		return cli_lib_error(cli, r, "cannot read the persistent list");
	n = hostdev_vfio_persist_get_count(p);
	if (n == 0) {
		cli_error("the persistent list %s is empty: add the devices vfio-pci must claim "
			  "at boot with `hostdev persist add [--group] ADDRESS` first",
			  hostdev_vfio_persist_get_path(p));
		hostdev_vfio_persist_unref(p);
		return CLI_EXIT_FAILURE;
	}
	c.text = open_memstream(&text, &size);
	if (!c.text)
		goto oom;
	fprintf(c.text,
		"# Generated by hostdev from %s.\n"
		"# Boot-time alternative to `hostdev apply`: vfio-pci claims EVERY device with "
		"these\n"
		"# ids when it loads, not only the listed addresses.\n",
		hostdev_vfio_persist_get_path(p));
	for (size_t i = 0; i < n; i++) {
		char id[16];

		snprintf(id, sizeof(id), "%04x:%04x", hostdev_vfio_persist_get_vendor_id(p, i),
			 hostdev_vfio_persist_get_device_id(p, i));
		if (strset_add(&c.ids, id) < 0 ||
		    strset_add(&c.listed, hostdev_vfio_persist_get_address(p, i)) < 0)
			goto oom;
	}
	for (size_t i = 0; i < n; i++)
		if (add_group_members(cli, &c, p, i) < 0)
			goto oom;
	code = scan_host(cli, &c);
	if (code != CLI_EXIT_OK)
		goto out;
	for (size_t i = 0; i < c.modules.count; i++)
		fprintf(c.text, "softdep %s pre: vfio-pci\n", c.modules.items[i]);
	fputs("options vfio-pci ids=", c.text);
	for (size_t i = 0; i < c.ids.count; i++)
		fprintf(c.text, "%s%s", i ? "," : "", c.ids.items[i]);
	fputc('\n', c.text);
	if (fclose(c.text) != 0 || !text) {
		c.text = NULL;
		goto oom;
	}
	c.text = NULL;
	*out = text;
	text = NULL;
	code = CLI_EXIT_OK;
	goto out;
oom:
	cli_error("out of memory while building vfio.conf");
	code = CLI_EXIT_FAILURE;
out:
	if (c.text)
		fclose(c.text);
	free(text);
	strset_clear(&c.ids);
	strset_clear(&c.listed);
	strset_clear(&c.members);
	strset_clear(&c.modules);
	hostdev_vfio_persist_unref(p);
	return code;
}
