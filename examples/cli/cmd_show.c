/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `hostdev show ADDRESS`: everything known about one PCI device, including the drivers of its IOMMU
 * group members, of its VFs and of its PF, as text or JSON.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cli.h"

enum {
	OPT_JSON = 0x200,
};

/*
 * A device related to the one shown (group member, VF, PF). NULL when it cannot be read (it may
 * vanish between the two reads); the reason goes to the log, and the caller shows what it has.
 */
static hostdev_pci_device *open_related(struct cli *cli, const char *address)
{
	hostdev_pci_device *dev = NULL;

	if (!address || hostdev_pci_device_new(cli->ctx, address, &dev) < 0)
		return NULL;
	return dev;
}

static const char *related_driver(hostdev_pci_device *dev)
{
	const char *driver;

	if (!dev)
		return "(unreadable)";
	driver = hostdev_pci_device_get_driver(dev);
	return driver ? driver : "no driver";
}

static void field(const char *label, const char *value)
{
	printf("  %-22s%s\n", label, value ? value : "none");
}

static void print_identity(hostdev_pci_device *dev)
{
	const char *names[3] = {
	    hostdev_pci_device_get_class_name(dev),
	    hostdev_pci_device_get_subclass_name(dev),
	    hostdev_pci_device_get_prog_if_name(dev),
	};
	const char *vendor = hostdev_pci_device_get_vendor_name(dev);
	const char *device = hostdev_pci_device_get_device_name(dev);
	const char *sub_vendor = hostdev_pci_device_get_subsystem_vendor_name(dev);
	const char *sub_name = hostdev_pci_device_get_subsystem_name(dev);
	bool first = true;

	cli_print_lspci_line(stdout, dev);
	putchar('\n');
	printf("  %-22s%s [%04x]\n", "Vendor:", vendor ? vendor : "unknown",
	       hostdev_pci_device_get_vendor_id(dev) & 0xffff);
	printf("  %-22s%s [%04x]\n", "Device:", device ? device : "unknown",
	       hostdev_pci_device_get_device_id(dev) & 0xffff);
	/* 0:0 means the kernel reports no subsystem (bridges, old devices). */
	if (hostdev_pci_device_get_subsystem_vendor_id(dev) ||
	    hostdev_pci_device_get_subsystem_device_id(dev))
		printf("  %-22s%s %s [%04x:%04x]\n",
		       "Subsystem:", sub_vendor ? sub_vendor : "Vendor",
		       sub_name ? sub_name : "Device",
		       hostdev_pci_device_get_subsystem_vendor_id(dev) & 0xffff,
		       hostdev_pci_device_get_subsystem_device_id(dev) & 0xffff);
	else
		field("Subsystem:", NULL);
	printf("  %-22s", "Class:");
	for (size_t i = 0; i < 3; i++) {
		if (!names[i])
			continue;
		printf("%s%s", first ? "" : " / ", names[i]);
		first = false;
	}
	printf("%s[%06x]\n", first ? "unknown " : " ",
	       hostdev_pci_device_get_class(dev) & 0xffffff);
	printf("  %-22s%02x\n", "Revision:", hostdev_pci_device_get_revision(dev) & 0xff);
}

/*
 * The module directory the library looks modules up in (--modules-dir, or libkmod's default
 * /lib/modules/$(uname -r)) into @dir; true when it has a modalias index. Without one, "none"
 * would claim that no module can drive the device.
 */
static bool module_index_present(struct cli *cli, char *dir, size_t size)
{
	const char *set = hostdev_ctx_get_path(cli->ctx, HOSTDEV_PATH_MODULES);
	char path[PATH_MAX + 32];
	struct utsname u;

	if (set && set[0])
		snprintf(dir, size, "%s", set);
	else if (uname(&u) == 0)
		snprintf(dir, size, "/lib/modules/%s", u.release);
	else
		return true; /* cannot tell: trust the lookup */
	snprintf(path, sizeof(path), "%s/modules.alias.bin", dir);
	if (access(path, F_OK) == 0)
		return true;
	snprintf(path, sizeof(path), "%s/modules.alias", dir);
	return access(path, F_OK) == 0;
}

static void print_kernel_state(struct cli *cli, hostdev_pci_device *dev)
{
	size_t count = hostdev_pci_device_get_module_count(dev);
	int numa = hostdev_pci_device_get_numa_node(dev);
	char dir[PATH_MAX];

	field("Driver:", hostdev_pci_device_get_driver(dev));
	field("Driver override:", hostdev_pci_device_get_driver_override(dev));
	printf("  %-22s", "Kernel modules:");
	for (size_t i = 0; i < count; i++)
		printf("%s%s", i ? ", " : "", hostdev_pci_device_get_module(dev, i));
	if (count)
		putchar('\n');
	else if (module_index_present(cli, dir, sizeof(dir)))
		puts("none");
	else
		printf("unknown: no module index in %s (modules.alias.bin); install the kernel's "
		       "modules or point --modules-dir at them\n",
		       dir);
	field("Modalias:", hostdev_pci_device_get_modalias(dev));
	if (numa >= 0)
		printf("  %-22s%d\n", "NUMA node:", numa);
	else
		field("NUMA node:", NULL);
	field("Physical slot:", hostdev_pci_device_get_physical_slot(dev));
	field("Boot VGA:", hostdev_pci_device_is_boot_vga(dev) ? "yes" : "no");
	field("Bridge:", hostdev_pci_device_is_bridge(dev) ? "yes" : "no");
}

static void print_iommu_group(struct cli *cli, hostdev_pci_device *dev)
{
	size_t count = hostdev_pci_device_get_iommu_group_member_count(dev);
	int group = hostdev_pci_device_get_iommu_group(dev);
	const char *self = hostdev_pci_device_get_address(dev);
	hostdev_pci_device *member;
	const char *address;

	if (group < 0) {
		field("IOMMU group:", NULL);
		return;
	}
	printf("  %-22s%d (%zu device%s)\n", "IOMMU group:", group, count, count == 1 ? "" : "s");
	for (size_t i = 0; i < count; i++) {
		address = hostdev_pci_device_get_iommu_group_member(dev, i);
		member = open_related(cli, address);
		printf("    %s  %-16s %s%s\n", address, related_driver(member),
		       member ? hostdev_pci_device_get_description(member) : "",
		       strcmp(address, self) == 0 ? " (this device)" : "");
		hostdev_pci_device_unref(member);
	}
}

static void print_sriov(struct cli *cli, hostdev_pci_device *dev)
{
	size_t count = hostdev_pci_device_get_vf_count(dev);
	hostdev_pci_device *other;
	const char *address;

	if (hostdev_pci_device_is_sriov_vf(dev)) {
		address = hostdev_pci_device_get_pf_address(dev);
		other = open_related(cli, address);
		printf("  %-22svirtual function %d of PF %s (%s)\n",
		       "SR-IOV:", hostdev_pci_device_get_vf_index(dev),
		       address ? address : "unknown", related_driver(other));
		hostdev_pci_device_unref(other);
	}
	if (!hostdev_pci_device_is_sriov_pf(dev)) {
		if (!hostdev_pci_device_is_sriov_vf(dev))
			field("SR-IOV:", "no");
		return;
	}
	printf("  %-22sphysical function, %u of %u VFs enabled",
	       "SR-IOV:", hostdev_pci_device_get_sriov_num_vfs(dev),
	       hostdev_pci_device_get_sriov_total_vfs(dev));
	if (hostdev_pci_device_get_sriov_vf_device_id(dev))
		printf(", VF device id %04x",
		       hostdev_pci_device_get_sriov_vf_device_id(dev) & 0xffff);
	putchar('\n');
	for (size_t i = 0; i < count; i++) {
		address = hostdev_pci_device_get_vf_address(dev, i);
		other = open_related(cli, address);
		printf("    VF %-3d %s  %s\n", hostdev_pci_device_get_vf_number(dev, i),
		       address ? address : "unknown", related_driver(other));
		hostdev_pci_device_unref(other);
	}
}

/* Length of the valid UTF-8 sequence at @s (1 for ASCII), 0 when the bytes are not UTF-8. */
static size_t utf8_length(const unsigned char *s)
{
	size_t n;

	if (s[0] < 0x80)
		n = 1;
	else if (s[0] < 0xc2)
		n = 0;
	else if (s[0] < 0xe0)
		n = 2;
	else if (s[0] < 0xf0)
		n = 3;
	else if (s[0] < 0xf5)
		n = 4;
	else
		n = 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	/* Overlong 3/4-byte forms, UTF-16 surrogates, code points above U+10FFFF. */
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
		return 0;
	return n;
}

/*
 * @text (a driver-provided attribute) with every line after the first indented by @indent spaces.
 * Control characters other than tab and newline, and bytes that are not UTF-8, are shown as \xNN
 * so that they can neither drive the terminal nor corrupt the output's encoding.
 */
static void print_indented(const char *text, int indent)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t n;

	while (*p) {
		n = utf8_length(p);
		if (*p == '\n') {
			putchar('\n');
			if (p[1])
				printf("%*s", indent, "");
		} else if (n == 0 || (*p < 0x20 && *p != '\t') || *p == 0x7f) {
			printf("\\x%02x", *p);
			n = 1;
		} else {
			fwrite(p, 1, n, stdout);
		}
		p += n ? n : 1;
	}
	putchar('\n');
}

/* The mdevs that exist on this parent: binding it to vfio-pci would destroy them. */
static void print_active_mdevs(hostdev_pci_device *dev)
{
	size_t count = hostdev_pci_device_get_active_mdev_count(dev);

	if (!count) {
		field("Active mdevs:", NULL);
		return;
	}
	printf("  %-22s%zu\n", "Active mdevs:", count);
	for (size_t i = 0; i < count; i++) {
		const char *type = hostdev_pci_device_get_active_mdev_type(dev, i);
		const char *name = hostdev_pci_device_get_active_mdev_type_name(dev, i);
		int group = hostdev_pci_device_get_active_mdev_iommu_group(dev, i);
		int in_use = hostdev_pci_device_is_active_mdev_in_use(dev, i);

		printf("    %s: %s", hostdev_pci_device_get_active_mdev_uuid(dev, i),
		       type ? type : "type unknown");
		if (name)
			printf(" (%s)", name);
		if (group >= 0)
			printf(", IOMMU group %d", group);
		printf(", %s\n", in_use > 0    ? "in use"
				 : in_use == 0 ? "not in use"
					       : "use unknown (run as root to tell)");
	}
}

static void print_netdevs_and_mdevs(hostdev_pci_device *dev)
{
	size_t count = hostdev_pci_device_get_netdev_count(dev);
	const char *name, *api, *description;
	int available;

	printf("  %-22s", "Network interfaces:");
	for (size_t i = 0; i < count; i++)
		printf("%s%s", i ? ", " : "", hostdev_pci_device_get_netdev(dev, i));
	puts(count ? "" : "none");

	print_active_mdevs(dev);
	count = hostdev_pci_device_get_mdev_type_count(dev);
	if (!count) {
		field("Mdev types:", NULL);
		return;
	}
	printf("  %-22s%zu\n", "Mdev types:", count);
	for (size_t i = 0; i < count; i++) {
		name = hostdev_pci_device_get_mdev_type_name(dev, i);
		api = hostdev_pci_device_get_mdev_type_device_api(dev, i);
		available = hostdev_pci_device_get_mdev_type_available(dev, i);
		description = hostdev_pci_device_get_mdev_type_description(dev, i);
		printf("    %s: %s, ", hostdev_pci_device_get_mdev_type_id(dev, i),
		       name ? name : "unnamed");
		if (available >= 0)
			printf("%d available", available);
		else
			fputs("availability unknown", stdout);
		printf(", device api %s\n", api ? api : "unknown");
		if (description && description[0]) {
			fputs("      ", stdout);
			print_indented(description, 6);
		}
	}
}

static void print_names(hostdev_pci_device *dev)
{
	const char *resource = hostdev_pci_device_get_resource_name(dev);
	char env[HOSTDEV_NAME_MAX];

	field("Description:", hostdev_pci_device_get_description(dev));
	field("Object name:", hostdev_pci_device_get_object_name(dev));
	field("Resource name:", resource);
	field("Device resource name:", hostdev_pci_device_get_device_resource_name(dev));
	field("KubeVirt env:", resource && hostdev_naming_kubevirt_env("PCI_RESOURCE", resource,
								       env, sizeof(env)) >= 0
				   ? env
				   : NULL);
}

static int show_text(struct cli *cli, hostdev_pci_device *dev)
{
	print_identity(dev);
	print_kernel_state(cli, dev);
	print_iommu_group(cli, dev);
	print_sriov(cli, dev);
	print_netdevs_and_mdevs(dev);
	print_names(dev);
	return CLI_EXIT_OK;
}

/* {"address", "driver", ...} of a related device; strings are null when it cannot be read. */
static cJSON *related_json(struct cli *cli, const char *address, bool details)
{
	hostdev_pci_device *other = open_related(cli, address);
	cJSON *item = cJSON_CreateObject();
	bool ok = item != NULL;

	ok = ok && cli_json_add_string(item, "address", address);
	ok = ok && cli_json_add_string(item, "driver",
				       other ? hostdev_pci_device_get_driver(other) : NULL);
	if (details) {
		ok = ok &&
		     cli_json_add_string(item, "description",
					 other ? hostdev_pci_device_get_description(other) : NULL);
		ok = ok && cJSON_AddItemToObject(
			       item, "is_bridge",
			       other ? cJSON_CreateBool(hostdev_pci_device_is_bridge(other))
				     : cJSON_CreateNull());
	}
	hostdev_pci_device_unref(other);
	if (!ok)
		item = (cJSON_Delete(item), NULL);
	return item;
}

static int show_json(struct cli *cli, hostdev_pci_device *dev)
{
	cJSON *doc = cli_json_document(), *device, *group, *vfs, *item;
	size_t count;
	bool ok = doc != NULL;
	int code;

	device = cli_device_json(cli, dev);
	if (!device) {
		cJSON_Delete(doc);
		return CLI_EXIT_FAILURE;
	}
	ok = ok && cJSON_AddItemToObject(doc, "device", device);
	if (!ok)
		cJSON_Delete(device);

	group = ok ? cJSON_AddArrayToObject(doc, "iommu_group_devices") : NULL;
	ok = group != NULL;
	count = hostdev_pci_device_get_iommu_group_member_count(dev);
	for (size_t i = 0; ok && i < count; i++) {
		item = related_json(cli, hostdev_pci_device_get_iommu_group_member(dev, i), true);
		ok = item && cJSON_AddItemToArray(group, item);
	}

	vfs = ok ? cJSON_AddArrayToObject(doc, "vf_devices") : NULL;
	ok = vfs != NULL;
	count = hostdev_pci_device_get_vf_count(dev);
	for (size_t i = 0; ok && i < count; i++) {
		item = related_json(cli, hostdev_pci_device_get_vf_address(dev, i), false);
		ok = item &&
		     cJSON_AddNumberToObject(item, "number",
					     hostdev_pci_device_get_vf_number(dev, i)) &&
		     cJSON_AddItemToArray(vfs, item);
	}

	if (ok && hostdev_pci_device_is_sriov_vf(dev)) {
		item = related_json(cli, hostdev_pci_device_get_pf_address(dev), false);
		ok = item && cJSON_AddItemToObject(doc, "pf_device", item);
	} else if (ok) {
		ok = cJSON_AddNullToObject(doc, "pf_device") != NULL;
	}

	if (!ok) {
		cJSON_Delete(doc);
		cli_error("out of memory");
		return CLI_EXIT_FAILURE;
	}
	code = cli_json_print(doc);
	cJSON_Delete(doc);
	return code;
}

static int run(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"json", no_argument, NULL, OPT_JSON},
	    CLI_GLOBAL_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	hostdev_pci_device *dev = NULL;
	const char *address;
	bool json = false;
	int c, code, r;

	while ((c = cli_getopt(cli, argc, argv, ":" CLI_GLOBAL_SHORT_OPTIONS, options)) >= 0) {
		if (c == OPT_JSON)
			json = true;
	}
	if (c != CLI_GETOPT_END)
		return cli_getopt_exit_code(c);
	if (optind >= argc)
		return cli_usage_error(cli, "missing ADDRESS");
	address = argv[optind];
	if (optind + 1 < argc)
		return cli_usage_error(cli, "unexpected argument '%s'", argv[optind + 1]);
	code = cli_open_ctx(cli);
	if (code != CLI_EXIT_OK)
		return code;

	r = hostdev_pci_device_new(cli->ctx, address, &dev);
	if (r == -EINVAL)
		return cli_usage_error(cli, "%s", hostdev_ctx_get_error(cli->ctx));
	if (r < 0)
		return cli_lib_error(cli, r, NULL);
	code = json ? show_json(cli, dev) : show_text(cli, dev);
	hostdev_pci_device_unref(dev);
	return code;
}

const struct cli_command cli_cmd_show = {
    .name = "show",
    .summary = "Show everything known about one PCI device.",
    .synopsis = "[--json] ADDRESS",
    .help = "ADDRESS is DOMAIN:BUS:SLOT.FUNC or BUS:SLOT.FUNC (domain 0), in hex.\n"
	    "Shows ids and names, driver and driver_override, kernel modules, NUMA node,\n"
	    "the IOMMU group with the driver of every member, SR-IOV VFs or PF,\n"
	    "network interfaces, mdev types and the Harvester/KubeVirt names.\n"
	    "\n"
	    "Options:\n"
	    "      --json        print {\"schema_version\": 1, \"device\": {...}, ...}\n"
	    "                    (json-schema.md)\n",
    .run = run,
};
