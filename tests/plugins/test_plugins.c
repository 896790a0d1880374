/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The built-in plugins without the gRPC layer, on the fake host (dp_tree.h): what they list
 * (health, NUMA, hot-plug, devices that went away), what Allocate answers for each kind exactly
 * per KubeVirt's contract (env values in order without duplicates or siblings, device nodes
 * once each, iommufd nodes, SR-IOV device plugin variables), Allocate's errors, and preferred
 * allocation on real device data.
 */
#include <errno.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>

#include "deviceplugin/deviceplugin.h"
#include "dp_tree.h"
#include "plugin.h"
#include "resources/dp_config.h"

struct fixture {
	struct fakeroot *root;
	hostdev_ctx *ctx;
	struct hostdev_dp_config *config;
	struct plugin *plugin;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f || !(f->root = dp_tree_new()) || !(f->ctx = dp_tree_ctx(f->root))) {
		if (f)
			fakeroot_free(f->root);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	plugin_free(f->plugin);
	dp_config_unref(f->config);
	hostdev_ctx_unref(f->ctx);
	fakeroot_free(f->root);
	free(f);
	return 0;
}

/* A plugin for resource @name of the only entry of @json. */
static struct plugin *make(struct fixture *f, const char *json, const char *name)
{
	char err[1024];

	plugin_free(f->plugin);
	dp_config_unref(f->config);
	f->plugin = NULL;
	f->config = NULL;
	if (dp_config_parse_text(json, &f->config, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_int_equal(
	    plugin_new(f->ctx, f->config, f->config->n_specs - 1, name, NULL, 0, &f->plugin), 0);
	return f->plugin;
}

/* "id:H|U:numa ..." of the list. */
static void expect_list(struct plugin *p, const char *want)
{
	struct plugin_list l = {0};
	char got[4096] = "";

	assert_int_equal(plugin_list_devices(p, &l), 0);
	for (size_t i = 0; i < l.count; i++)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s:%c:%d", i ? " " : "",
			 l.items[i].id, l.items[i].healthy ? 'H' : 'U', l.items[i].numa);
	plugin_list_clear(&l);
	if (strcmp(got, want) != 0)
		fail_msg("list\n got: %s\nwant: %s", got, want);
}

/* "ENV=value;ENV=value|/dev/a,/dev/b" of an answer. */
static void describe(const struct plugin_answer *a, char *buf, size_t size)
{
	buf[0] = '\0';
	for (size_t i = 0; i < a->n_envs; i++)
		snprintf(buf + strlen(buf), size - strlen(buf), "%s%s=%s", i ? ";" : "",
			 a->envs[i].name, a->envs[i].value);
	snprintf(buf + strlen(buf), size - strlen(buf), "|");
	for (size_t i = 0; i < a->n_devices; i++) {
		/* The container sees the host's paths, with the rights a VMM needs. */
		assert_string_equal(a->devices[i].container_path, a->devices[i].host_path);
		assert_string_equal(a->devices[i].permissions, "mrw");
		snprintf(buf + strlen(buf), size - strlen(buf), "%s%s", i ? "," : "",
			 a->devices[i].host_path);
	}
}

static void expect_allocate(struct plugin *p, const char *const *ids, size_t n, const char *want)
{
	struct plugin_answer a = {0};
	char got[8192];
	int r = plugin_allocate(p, ids, n, &a);

	if (r < 0)
		fail_msg("allocate: %d %s", r, a.error ? a.error : "(no message)");
	assert_null(a.error);
	describe(&a, got, sizeof(got));
	answer_clear(&a);
	if (strcmp(got, want) != 0)
		fail_msg("allocate\n got: %s\nwant: %s", got, want);
}

static void expect_allocate_error(struct plugin *p, const char *const *ids, size_t n, int err,
				  const char *message)
{
	struct plugin_answer a = {0};

	assert_int_equal(plugin_allocate(p, ids, n, &a), err);
	assert_non_null(a.error);
	if (strcmp(a.error, message) != 0)
		fail_msg("error\n got: %s\nwant: %s", a.error, message);
	answer_clear(&a);
}

#define IDS(...)                                                                                   \
	(const char *const[]){__VA_ARGS__},                                                        \
	    sizeof((const char *const[]){__VA_ARGS__}) / sizeof(char *)

static const char nic_config[] = "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": "
				 "\"example.com/nic\", \"selectors\": {\"vendorDevice\": "
				 "[\"8086:10d3\"]}}]}";

/* ---------------------------------------------------------------------------------------------- */
/* vfio PCI */

static void test_pci_list(void **state)
{
	struct fixture *f = *state;
	struct plugin *p = make(f, nic_config, "example.com/nic");

	/* Healthy: on vfio-pci with /dev/vfio/<group>. 07:00.0 is on e1000e. */
	expect_list(p, "0000:05:00.0:H:0 0000:05:00.1:H:0 0000:06:00.0:H:0 0000:07:00.0:U:0");
	/* The group node goes: unhealthy. */
	assert_int_equal(fakeroot_remove(f->root, "dev/vfio/8"), 0);
	expect_list(p, "0000:05:00.0:H:0 0000:05:00.1:H:0 0000:06:00.0:U:0 0000:07:00.0:U:0");
	/* Bound to vfio-pci with its node: healthy. */
	assert_int_equal(fakeroot_pci_set_driver(f->root, "0000:07:00.0", "vfio-pci"), 0);
	assert_int_equal(fakeroot_write(f->root, "dev/vfio/9", ""), 0);
	expect_list(p, "0000:05:00.0:H:0 0000:05:00.1:H:0 0000:06:00.0:U:0 0000:07:00.0:H:0");
	/* A device that goes away stays listed, unhealthy, with its last NUMA node. */
	assert_int_equal(fakeroot_pci_remove(f->root, "0000:05:00.1", 0), 0);
	expect_list(p, "0000:05:00.0:H:0 0000:05:00.1:U:0 0000:06:00.0:U:0 0000:07:00.0:H:0");
	/* A hot-plugged one appears (the selectors run again), after the known ones. */
	assert_int_equal(fakeroot_pci_add(f->root, "0000:04:00.0",
					  &(struct fake_pci){.vendor = 0x8086,
							     .device = 0x10d3,
							     .class_code = 0x020000,
							     .numa_node = FAKE_NUMA_NONE,
							     .driver = "vfio-pci",
							     .iommu_group = "11"}),
			 0);
	assert_int_equal(fakeroot_write(f->root, "dev/vfio/11", ""), 0);
	expect_list(p, "0000:05:00.0:H:0 0000:05:00.1:U:0 0000:06:00.0:U:0 0000:07:00.0:H:0 "
		       "0000:04:00.0:H:-1");
	/* And comes back healthy. */
	assert_int_equal(fakeroot_pci_add(f->root, "0000:05:00.1",
					  &(struct fake_pci){.vendor = 0x8086,
							     .device = 0x10d3,
							     .class_code = 0x020000,
							     .numa_node = 0,
							     .driver = "vfio-pci",
							     .iommu_group = "7"}),
			 0);
	expect_list(p, "0000:05:00.0:H:0 0000:05:00.1:H:0 0000:06:00.0:U:0 0000:07:00.0:H:0 "
		       "0000:04:00.0:H:-1");
}

static void test_pci_list_pooled(void **state)
{
	struct fixture *f = *state;
	struct plugin *p =
	    make(f,
		 "{\"resources\": [{\"kind\": \"pci\", \"naming\": \"harvester\", \"selectors\": "
		 "{\"driver\": [\"vfio-pci\"]}}]}",
		 "intel.com/82574L_GIGABIT_NETWORK_CONNECTION");

	/* Only the devices of this Harvester name, not the VFs or GPUs of the same entry. */
	expect_list(p, "0000:05:00.0:H:0 0000:05:00.1:H:0 0000:06:00.0:H:0");
	p = make(f,
		 "{\"resources\": [{\"kind\": \"pci\", \"naming\": \"per-device\", \"selectors\": "
		 "{\"driver\": [\"vfio-pci\"]}}]}",
		 "nvidia.com/node1-0000d8000");
	expect_list(p, "0000:d8:00.0:H:1");
}

static void test_pci_known_at_start(void **state)
{
	struct fixture *f = *state;
	const char *initial[] = {"0000:06:00.0", "0000:0f:00.0"};
	char err[1024];

	assert_int_equal(dp_config_parse_text(nic_config, &f->config, err, sizeof(err)), 0);
	assert_int_equal(
	    plugin_new(f->ctx, f->config, 0, "example.com/nic", initial, 2, &f->plugin), 0);
	/* The resolved devices keep their place; one that is gone by now is unhealthy. */
	expect_list(f->plugin, "0000:06:00.0:H:0 0000:0f:00.0:U:-1 0000:05:00.0:H:0 "
			       "0000:05:00.1:H:0 0000:07:00.0:U:0");
}

static void test_pci_allocate(void **state)
{
	struct fixture *f = *state;
	struct plugin *p = make(f, nic_config, "example.com/nic");

	/* Exactly the allocated addresses, in the kubelet's order; the group sibling 05:00.1 is
	 * not added; one group node per group. */
	expect_allocate(p, IDS("0000:06:00.0", "0000:05:00.0"),
			"PCI_RESOURCE_EXAMPLE_COM_NIC=0000:06:00.0,0000:05:00.0|"
			"/dev/vfio/vfio,/dev/vfio/8,/dev/vfio/7");
	expect_allocate(p, IDS("0000:05:00.1", "0000:05:00.0", "0000:06:00.0"),
			"PCI_RESOURCE_EXAMPLE_COM_NIC=0000:05:00.1,0000:05:00.0,0000:06:00.0|"
			"/dev/vfio/vfio,/dev/vfio/7,/dev/vfio/8");
	/* Duplicates (the kubelet should not send them) appear once; short forms are read. */
	expect_allocate(p, IDS("0000:05:00.0", "05:00.0", "0000:05:00.0"),
			"PCI_RESOURCE_EXAMPLE_COM_NIC=0000:05:00.0|/dev/vfio/vfio,/dev/vfio/7");
	expect_allocate(p, NULL, 0, "|");
}

static void test_pci_iommufd(void **state)
{
	struct fixture *f = *state;
	struct plugin *p = make(f, nic_config, "example.com/nic");

	assert_int_equal(dp_tree_iommufd(f->root, "sys/bus/pci/devices/0000:06:00.0", 3), 0);
	assert_int_equal(dp_tree_iommufd(f->root, "sys/bus/pci/devices/0000:05:00.0", 1), 0);
	expect_allocate(p, IDS("0000:06:00.0", "0000:05:00.1", "0000:05:00.0"),
			"PCI_RESOURCE_EXAMPLE_COM_NIC=0000:06:00.0,0000:05:00.1,0000:05:00.0|"
			"/dev/vfio/vfio,/dev/vfio/8,/dev/iommu,/dev/vfio/devices/vfio3,/dev/vfio/7,"
			"/dev/vfio/devices/vfio1");
	/* vfio-dev without /dev/iommu is no iommufd. */
	assert_int_equal(fakeroot_remove(f->root, "dev/iommu"), 0);
	expect_allocate(p, IDS("0000:06:00.0"),
			"PCI_RESOURCE_EXAMPLE_COM_NIC=0000:06:00.0|/dev/vfio/vfio,/dev/vfio/8");
}

/* The lowest free file descriptor: with RLIMIT_NOFILE there, every open() fails with EMFILE. */
static int lowest_free_fd(void)
{
	int fd = dup(0);

	assert_true(fd >= 0);
	close(fd);
	return fd;
}

/* plugin_allocate() while the process can open no file: an answer from the plugin's state only
 * (what the lists saw, and checks that open nothing: access(2), readlink(2)). */
static void expect_allocate_without_fds(struct plugin *p, const char *const *ids, size_t n,
					const char *want)
{
	struct plugin_answer a = {0};
	struct rlimit old, low;
	char got[8192];
	int r;

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = (rlim_t)lowest_free_fd();
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	r = plugin_allocate(p, ids, n, &a);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	if (r < 0)
		fail_msg("allocate: %d %s", r, a.error ? a.error : "(no message)");
	describe(&a, got, sizeof(got));
	answer_clear(&a);
	if (strcmp(got, want) != 0)
		fail_msg("allocate\n got: %s\nwant: %s", got, want);
}

/* Out of file descriptors is not an unplug: the real errno, and a message that says so. */
static void test_pci_allocate_out_of_fds(void **state)
{
	struct fixture *f = *state;
	struct plugin *p = make(f, nic_config, "example.com/nic");
	struct rlimit old, low;
	struct plugin_answer a = {0};
	char *dir = NULL;
	int r;

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = (rlim_t)lowest_free_fd();
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	r = plugin_allocate(p, IDS("0000:06:00.0"), &a);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_int_equal(r, -EMFILE);
	assert_non_null(a.error);
	assert_true(asprintf(&dir,
			     "0000:06:00.0 of example.com/nic cannot be checked now: "
			     "0000:06:00.0: cannot open %s/sys/bus/pci/devices: Too many open "
			     "files; the device plugin is short of file descriptors, which says "
			     "nothing about the device: retry",
			     fakeroot_path(f->root)) > 0);
	assert_string_equal(a.error, dir);
	free(dir);
	answer_clear(&a);
	/* With descriptors again, the same device is allocated. */
	expect_allocate(p, IDS("0000:06:00.0"),
			"PCI_RESOURCE_EXAMPLE_COM_NIC=0000:06:00.0|/dev/vfio/vfio,/dev/vfio/8");
}

static void test_pci_allocate_errors(void **state)
{
	struct fixture *f = *state;
	struct plugin *p = make(f, nic_config, "example.com/nic");

	expect_allocate_error(p, IDS("0000:05:00.0", "0000:07:00.0"), -EBUSY,
			      "0000:07:00.0 of example.com/nic is bound to e1000e, not to "
			      "vfio-pci, so no virtual machine can use it: bind it to vfio-pci "
			      "and retry");
	assert_int_equal(fakeroot_pci_set_driver(f->root, "0000:07:00.0", NULL), 0);
	expect_allocate_error(p, IDS("0000:07:00.0"), -EBUSY,
			      "0000:07:00.0 of example.com/nic has no driver, so no virtual "
			      "machine can use it: bind it to vfio-pci and retry");
	assert_int_equal(fakeroot_pci_remove(f->root, "0000:05:00.1", 0), 0);
	expect_allocate_error(p, IDS("0000:05:00.1"), -ENODEV,
			      "0000:05:00.1 of example.com/nic is no longer on this host "
			      "(unplugged, or its VF was removed): it is listed as unhealthy now; "
			      "delete the pod so that it gets another device");
	assert_int_equal(fakeroot_remove(f->root, "dev/vfio/8"), 0);
	expect_allocate_error(p, IDS("0000:06:00.0"), -ENODEV,
			      "/dev/vfio/8 of 0000:06:00.0 of example.com/nic does not exist: "
			      "IOMMU group 8 is not usable yet (every device of the group must be "
			      "on vfio-pci: bind the whole group) or the vfio modules are not "
			      "loaded");
	assert_int_equal(fakeroot_pci_add(f->root, "0000:04:00.0",
					  &(struct fake_pci){.vendor = 0x8086,
							     .device = 0x10d3,
							     .class_code = 0x020000,
							     .driver = "vfio-pci"}),
			 0);
	expect_allocate_error(p, IDS("0000:04:00.0"), -ENODEV,
			      "0000:04:00.0 of example.com/nic has no IOMMU group, so vfio cannot "
			      "hand it to a virtual machine: enable the IOMMU (intel_iommu=on or "
			      "amd_iommu=on on the kernel command line) and reboot");
	expect_allocate_error(p, IDS("usb-1050-0407-11111111"), -EINVAL,
			      "\"usb-1050-0407-11111111\" is not a device of example.com/nic");
}

/*
 * Allocate answers from the last list (lists follow events), checking only that each device is
 * still bound where the list saw it: a device unplugged, unbound or re-plugged after the list,
 * with no event (and so no list) since, is refused or answered as it is now, never from the list.
 */
static void test_pci_allocate_between_events(void **state)
{
	struct fixture *f = *state;
	struct plugin *p = make(f, nic_config, "example.com/nic");

	expect_list(p, "0000:05:00.0:H:0 0000:05:00.1:H:0 0000:06:00.0:H:0 0000:07:00.0:U:0");
	expect_allocate(p, IDS("0000:06:00.0", "0000:05:00.1"),
			"PCI_RESOURCE_EXAMPLE_COM_NIC=0000:06:00.0,0000:05:00.1|"
			"/dev/vfio/vfio,/dev/vfio/8,/dev/vfio/7");
	/* Unplugged since the list: its group node stays (05:00.0 still holds group 7). */
	assert_int_equal(fakeroot_pci_remove(f->root, "0000:05:00.1", 0), 0);
	expect_allocate_error(p, IDS("0000:06:00.0", "0000:05:00.1"), -ENODEV,
			      "0000:05:00.1 of example.com/nic is no longer on this host "
			      "(unplugged, or its VF was removed): it is listed as unhealthy now; "
			      "delete the pod so that it gets another device");
	/* Bound to another driver since the list. */
	assert_int_equal(fakeroot_pci_set_driver(f->root, "0000:05:00.0", "e1000e"), 0);
	expect_allocate_error(p, IDS("0000:05:00.0"), -EBUSY,
			      "0000:05:00.0 of example.com/nic is bound to e1000e, not to "
			      "vfio-pci, so no virtual machine can use it: bind it to vfio-pci "
			      "and retry");
	/* Re-plugged in another IOMMU group: its group now, not the list's. */
	assert_int_equal(fakeroot_pci_remove(f->root, "0000:06:00.0", 0), 0);
	assert_int_equal(fakeroot_pci_add(f->root, "0000:06:00.0",
					  &(struct fake_pci){.vendor = 0x8086,
							     .device = 0x10d3,
							     .class_code = 0x020000,
							     .numa_node = 0,
							     .driver = "vfio-pci",
							     .iommu_group = "12"}),
			 0);
	assert_int_equal(fakeroot_write(f->root, "dev/vfio/12", ""), 0);
	expect_allocate(p, IDS("0000:06:00.0"),
			"PCI_RESOURCE_EXAMPLE_COM_NIC=0000:06:00.0|/dev/vfio/vfio,/dev/vfio/12");
	/* Its group node removed since the list: refused, not handed out. */
	assert_int_equal(fakeroot_remove(f->root, "dev/vfio/12"), 0);
	expect_allocate_error(p, IDS("0000:06:00.0"), -ENODEV,
			      "/dev/vfio/12 of 0000:06:00.0 of example.com/nic does not exist: "
			      "IOMMU group 12 is not usable yet (every device of the group must be "
			      "on vfio-pci: bind the whole group) or the vfio modules are not "
			      "loaded");
	/* The next list sees it all. */
	expect_list(p, "0000:05:00.0:U:0 0000:05:00.1:U:0 0000:06:00.0:U:0 0000:07:00.0:U:0");
}

/* The server's advertised list as "id:H|U ..." (what ListAndWatch would send next). */
static void expect_server(hostdev_dp_server *server, const char *want)
{
	char got[4096] = "";

	for (size_t i = 0; i < server->devices->count; i++)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s:%c", i ? " " : "",
			 hostdev_dp_devices_get_id(server->devices, i),
			 server->devices->items[i].healthy ? 'H' : 'U');
	if (strcmp(got, want) != 0)
		fail_msg("server list\n got: %s\nwant: %s", got, want);
}

static void expect_reads(struct plugin *p, unsigned long full, unsigned long devices,
			 unsigned long groups)
{
	assert_int_equal(p->full_reads, full);
	assert_int_equal(p->device_reads, devices);
	assert_int_equal(p->group_checks, groups);
}

/*
 * A list read on the worker thread (HOSTDEV_DP_PLUGIN_LIST_OFF_LOOP) while an event changes a
 * device's health may have read the device before the change: when it arrives, it must not undo
 * the change. The plugin below says "a" is healthy in its first two lists (those after the first
 * are held on the worker until the test lets them go) and unhealthy afterwards, as a device whose
 * group node went.
 */
struct held_list {
	sem_t entered, release;
	int calls;
};

static int held_list_devices(void *userdata, hostdev_dp_devices *out)
{
	struct held_list *h = userdata;
	int call = __atomic_add_fetch(&h->calls, 1, __ATOMIC_SEQ_CST);

	if (call >= 2) {
		sem_post(&h->entered);
		while (sem_wait(&h->release) < 0 && errno == EINTR)
			;
	}
	return hostdev_dp_devices_add(out, "a", call <= 2, 0);
}

static void test_list_in_flight_keeps_event_health(void **state)
{
	struct fixture *f = *state;
	struct hostdev_dp_plugin_ops ops = {.version = HOSTDEV_DP_PLUGIN_OPS_VERSION,
					    .flags = HOSTDEV_DP_PLUGIN_LIST_OFF_LOOP,
					    .list_devices = held_list_devices};
	struct hostdev_dp_server_options opts;
	struct held_list h = {.calls = 0};
	hostdev_dp_server *server;
	hostdev_loop *loop;

	assert_int_equal(sem_init(&h.entered, 0, 0), 0);
	assert_int_equal(sem_init(&h.release, 0, 0), 0);
	assert_int_equal(fakeroot_mkdir(f->root, "kubelet/device-plugins"), 0);
	assert_int_equal(hostdev_ctx_set_path(f->ctx, HOSTDEV_PATH_KUBELET,
					      fakeroot_abspath(f->root, "kubelet")),
			 0);
	hostdev_dp_server_options_init(&opts);
	opts.registration = HOSTDEV_DP_REGISTER_NONE;
	opts.refresh_interval_ms = -1;
	assert_int_equal(hostdev_loop_new(f->ctx, &loop), 0);
	assert_int_equal(hostdev_dp_server_new(loop, "example.com/held", &ops, &h, &opts, &server),
			 0);
	assert_int_equal(hostdev_dp_server_start(server), 0);
	expect_server(server, "a:H");

	/* A refresh: its list is read on the worker, which the plugin holds. */
	assert_int_equal(hostdev_dp_server_refresh(server), 0);
	while (sem_wait(&h.entered) < 0 && errno == EINTR)
		;
	/* The event: "a" is unhealthy now. */
	assert_int_equal(hostdev_dp_server_set_health(server, "a", 0), 0);
	expect_server(server, "a:U");
	assert_non_null(server->listing);
	/* The list read before the event arrives, and the loop takes it in: then no list is being
	 * read, or one asked for after it is (and held). Waits for that, not for a time. */
	assert_int_equal(sem_post(&h.release), 0);
	for (int i = 0; server->listing && __atomic_load_n(&h.calls, __ATOMIC_SEQ_CST) < 3; i++) {
		if (i == 3000)
			fail_msg("the list read on the worker never arrived");
		assert_true(hostdev_loop_dispatch(loop, 10) >= 0);
	}
	expect_server(server, "a:U");
	/* The event's change was all there was: no list is read again for it. */
	assert_null(server->listing);
	assert_int_equal(__atomic_load_n(&h.calls, __ATOMIC_SEQ_CST), 2);

	assert_int_equal(sem_post(&h.release), 0); /* should a list be held after all */
	hostdev_dp_server_unref(server);
	hostdev_loop_unref(loop);
	sem_destroy(&h.entered);
	sem_destroy(&h.release);
}

/* Events re-read only what they name: a group node its group's devices, a uevent its device. */
static void test_pci_events(void **state)
{
	struct fixture *f = *state;
	struct plugin *p = make(f, nic_config, "example.com/nic");
	struct plugin_list l = {0};
	hostdev_dp_server *server;
	hostdev_dp_devices *d;
	hostdev_loop *loop;

	assert_int_equal(hostdev_loop_new(f->ctx, &loop), 0);
	assert_int_equal(hostdev_dp_server_new(loop, "example.com/nic", NULL, NULL, NULL, &server),
			 0);
	/* The first list, advertised as the server does. */
	assert_int_equal(plugin_list_devices(p, &l), 0);
	assert_int_equal(hostdev_dp_devices_new(&d), 0);
	for (size_t i = 0; i < l.count; i++)
		assert_int_equal(
		    hostdev_dp_devices_add(d, l.items[i].id, l.items[i].healthy, l.items[i].numa),
		    0);
	plugin_list_clear(&l);
	assert_int_equal(hostdev_dp_server_set_devices(server, d), 0);
	hostdev_dp_devices_unref(d);
	expect_server(server, "0000:05:00.0:H 0000:05:00.1:H 0000:06:00.0:H 0000:07:00.0:U");
	expect_reads(p, 1, 0, 0);

	/* Group 7's node goes: its two devices turn unhealthy, one access(2), no list. */
	assert_int_equal(fakeroot_remove(f->root, "dev/vfio/7"), 0);
	assert_false(plugin_groups_changed(p, server, (const int[]){7}, 1));
	expect_server(server, "0000:05:00.0:U 0000:05:00.1:U 0000:06:00.0:H 0000:07:00.0:U");
	expect_reads(p, 1, 0, 1);
	/* And comes back; a group no device has changes nothing. */
	assert_int_equal(fakeroot_write(f->root, "dev/vfio/7", ""), 0);
	assert_false(plugin_groups_changed(p, server, (const int[]){7, 400}, 2));
	expect_server(server, "0000:05:00.0:H 0000:05:00.1:H 0000:06:00.0:H 0000:07:00.0:U");
	expect_reads(p, 1, 0, 3);
	/* But a node that appears for a group no device has may be a device joining: the server is
	 * asked to read everything (it has no list_devices here: nothing more happens). */
	assert_int_equal(fakeroot_write(f->root, "dev/vfio/400", ""), 0);
	assert_true(plugin_groups_changed(p, server, (const int[]){400}, 1));
	assert_int_equal(fakeroot_remove(f->root, "dev/vfio/400"), 0);
	expect_reads(p, 1, 0, 4);

	/* uevents: 07:00.0 bound to vfio-pci (with its node) is read again, alone. */
	assert_int_equal(fakeroot_pci_set_driver(f->root, "0000:07:00.0", "vfio-pci"), 0);
	assert_int_equal(fakeroot_write(f->root, "dev/vfio/9", ""), 0);
	assert_int_equal(plugin_device_changed(p, server, "0000:07:00.0"), 1);
	expect_server(server, "0000:05:00.0:H 0000:05:00.1:H 0000:06:00.0:H 0000:07:00.0:H");
	expect_reads(p, 1, 1, 4);
	/* 06:00.0 leaves vfio-pci but keeps its node: unhealthy, and a group event of its node
	 * does not make it healthy again (the event-kept state says it is not usable). */
	assert_int_equal(fakeroot_pci_set_driver(f->root, "0000:06:00.0", "e1000e"), 0);
	assert_int_equal(plugin_device_changed(p, server, "0000:06:00.0"), 1);
	assert_false(plugin_groups_changed(p, server, (const int[]){8}, 1));
	expect_server(server, "0000:05:00.0:H 0000:05:00.1:H 0000:06:00.0:U 0000:07:00.0:H");
	expect_reads(p, 1, 2, 5);
	/* Unplugged: unhealthy. */
	assert_int_equal(fakeroot_pci_remove(f->root, "0000:05:00.1", 0), 0);
	assert_int_equal(plugin_device_changed(p, server, "0000:05:00.1"), 1);
	expect_server(server, "0000:05:00.0:H 0000:05:00.1:U 0000:06:00.0:U 0000:07:00.0:H");
	expect_reads(p, 1, 3, 5);
	/* A device the resource never listed: not read (the manager reads everything for an
	 * add or bind of one, which may join). */
	assert_int_equal(plugin_device_changed(p, server, "0000:3b:02.0"), 0);
	expect_reads(p, 1, 3, 5);
	/* A full read agrees with what the events made of the list. */
	expect_list(p, "0000:05:00.0:H:0 0000:05:00.1:U:0 0000:06:00.0:U:0 0000:07:00.0:H:0");
	expect_reads(p, 2, 3, 5);
	/* set_health on an id the server does not advertise: -ENOENT, with the id. */
	assert_int_equal(hostdev_dp_server_set_health(server, "0000:3b:02.0", 1), -ENOENT);
	assert_non_null(strstr(hostdev_ctx_get_error(f->ctx), "0000:3b:02.0"));
	hostdev_dp_server_unref(server);
	hostdev_loop_unref(loop);
}

static void test_pci_sriov_env(void **state)
{
	struct fixture *f = *state;
	struct plugin *p = make(f,
				"{\"resources\": [{\"kind\": \"pci\", \"resourceName\": "
				"\"intel.com/x710_vf_dpdk\", \"sriovEnv\": true, \"selectors\": "
				"{\"pf\": [{\"name\": \"ens1f0\"}]}}]}",
				"intel.com/x710_vf_dpdk");

	/* The addresses in order; _INFO keyed by address, sorted, like Go's encoding/json. */
	expect_allocate(
	    p, IDS("0000:3b:02.2", "0000:3b:02.0"),
	    "PCI_RESOURCE_INTEL_COM_X710_VF_DPDK=0000:3b:02.2,0000:3b:02.0;"
	    "PCIDEVICE_INTEL_COM_X710_VF_DPDK=0000:3b:02.2,0000:3b:02.0;"
	    "PCIDEVICE_INTEL_COM_X710_VF_DPDK_INFO={\"0000:3b:02.0\":{\"generic\":{\"deviceID\":"
	    "\"0000:3b:02.0\"},\"vfio\":{\"dev-mount\":\"/dev/vfio/40\",\"mount\":\"/dev/vfio/"
	    "vfio\"}},\"0000:3b:02.2\":{\"generic\":{\"deviceID\":\"0000:3b:02.2\"},\"vfio\":{"
	    "\"dev-mount\":\"/dev/vfio/42\",\"mount\":\"/dev/vfio/vfio\"}}}|"
	    "/dev/vfio/vfio,/dev/vfio/42,/dev/vfio/40");
	/* Another prefix: the SR-IOV device plugin's resourcePrefix and our name part. */
	p = make(f,
		 "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"example.com/vf-pool\", "
		 "\"sriovEnv\": \"openshift.io\", \"selectors\": {\"pf\": [{\"name\": "
		 "\"ens1f1\"}]}}]}",
		 "example.com/vf-pool");
	expect_allocate(p, IDS("0000:3b:0a.1"),
			"PCI_RESOURCE_EXAMPLE_COM_VF-POOL=0000:3b:0a.1;"
			"PCIDEVICE_OPENSHIFT_IO_VF-POOL=0000:3b:0a.1;"
			"PCIDEVICE_OPENSHIFT_IO_VF-POOL_INFO={\"0000:3b:0a.1\":{\"generic\":{"
			"\"deviceID\":\"0000:3b:0a.1\"},\"vfio\":{\"dev-mount\":\"/dev/vfio/51\","
			"\"mount\":\"/dev/vfio/vfio\"}}}|/dev/vfio/vfio,/dev/vfio/51");
}

/* The policy works on what the last list saw of the devices: list, then ask. */
static void expect_preferred(struct plugin *p, const char *const *available, size_t n,
			     const char *const *must, size_t n_must, size_t size, const char *want)
{
	struct plugin_answer a = {0};
	struct plugin_list l = {0};
	char got[1024] = "";

	assert_int_equal(plugin_list_devices(p, &l), 0);
	plugin_list_clear(&l);
	assert_int_equal(plugin_preferred(p, available, n, must, n_must, size, &a), 0);
	for (size_t i = 0; i < a.n_ids; i++)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", i ? "," : "",
			 a.ids[i]);
	answer_clear(&a);
	if (strcmp(got, want) != 0)
		fail_msg("preferred %zu\n got: %s\nwant: %s", size, got, want);
}

static void test_pci_preferred(void **state)
{
	struct fixture *f = *state;
	static const char *const vfs[] = {"0000:86:02.0", "0000:3b:02.0", "0000:3b:0a.0",
					  "0000:86:02.1", "0000:3b:02.1", "0000:3b:0a.1",
					  "0000:86:02.2", "0000:3b:02.2", "0000:3b:02.3"};
	static const char *const must86[] = {"0000:86:02.2"};
	struct plugin *p =
	    make(f,
		 "{\"resources\": [{\"kind\": \"pci\", \"naming\": \"harvester\", "
		 "\"selectors\": {\"class\": [\"0200\"], \"driver\": [\"vfio-pci\"]}}]}",
		 "intel.com/ETHERNET_VIRTUAL_FUNCTION_700_SERIES");

	/* NUMA 0 has six VFs (PFs 3b:00.0 with four, 3b:00.1 with two), NUMA 1 three. */
	expect_preferred(p, vfs, 9, NULL, 0, 2, "0000:3b:0a.0,0000:3b:0a.1");
	expect_preferred(p, vfs, 9, NULL, 0, 3, "0000:3b:02.0,0000:3b:02.1,0000:3b:02.2");
	expect_preferred(p, vfs, 9, NULL, 0, 5,
			 "0000:3b:02.0,0000:3b:02.1,0000:3b:02.2,0000:3b:02.3,0000:3b:0a.0");
	/* The must-include VF's node and PF. */
	expect_preferred(p, vfs, 9, must86, 1, 2, "0000:86:02.2,0000:86:02.0");
	/* Only what is available. */
	expect_preferred(p, vfs + 3, 3, NULL, 0, 2, "0000:3b:02.1,0000:3b:0a.1");
	/* IOMMU-group siblings of the multi-function NIC stay together. */
	p = make(f, nic_config, "example.com/nic");
	expect_preferred(p, IDS("0000:06:00.0", "0000:05:00.0", "0000:05:00.1", "0000:07:00.0"),
			 NULL, 0, 2, "0000:05:00.0,0000:05:00.1");
	expect_preferred(p, IDS("0000:06:00.0", "0000:05:00.0", "0000:05:00.1", "0000:07:00.0"),
			 NULL, 0, 1, "0000:06:00.0");
	expect_preferred(p, IDS("0000:06:00.0", "0000:05:00.0", "0000:05:00.1"),
			 IDS("0000:05:00.1"), 2, "0000:05:00.1,0000:05:00.0");
}

/* ---------------------------------------------------------------------------------------------- */
/* USB */

static const char yubi_config[] = "{\"resources\": [{\"kind\": \"usb\", \"resourceName\": "
				  "\"example.com/yubikey\", \"selectors\": {\"vendorProduct\": "
				  "[\"1050:0407\"]}}]}";

static void test_usb(void **state)
{
	struct fixture *f = *state;
	struct plugin *p = make(f, yubi_config, "example.com/yubikey");

	expect_list(p, "usb-1050-0407-11111111:H:-1 usb-1050-0407-22222222:H:-1");
	expect_allocate(p, IDS("usb-1050-0407-22222222", "usb-1050-0407-11111111"),
			"USB_RESOURCE_EXAMPLE_COM_YUBIKEY=1:4,1:3|/dev/bus/usb/001/004,"
			"/dev/bus/usb/001/003");
	/* Unplugged: listed unhealthy; Allocate says so. */
	assert_int_equal(dp_tree_remove_usb(f->root, "1-2", 3), 0);
	expect_list(p, "usb-1050-0407-11111111:U:-1 usb-1050-0407-22222222:H:-1");
	expect_allocate_error(p, IDS("usb-1050-0407-11111111"), -ENODEV,
			      "USB device usb-1050-0407-11111111 of example.com/yubikey is not "
			      "plugged in now: plug it back in (it is listed as unhealthy "
			      "meanwhile) or delete the pod so that it gets another device");
	/* Plugged into another port: the same id, the node of the device as it is now. */
	assert_int_equal(dp_tree_add_usb(f->root, "1-8", 0x1050, 0x0407, "11111111", 12), 0);
	expect_list(p, "usb-1050-0407-11111111:H:-1 usb-1050-0407-22222222:H:-1");
	expect_allocate(p, IDS("usb-1050-0407-11111111"),
			"USB_RESOURCE_EXAMPLE_COM_YUBIKEY=1:12|/dev/bus/usb/001/012");
	/* The node missing (udev not done, or being unplugged): unhealthy, and an error. */
	assert_int_equal(fakeroot_remove(f->root, "dev/bus/usb/001/004"), 0);
	expect_list(p, "usb-1050-0407-11111111:H:-1 usb-1050-0407-22222222:U:-1");
	expect_allocate_error(p, IDS("usb-1050-0407-22222222"), -ENODEV,
			      "USB device usb-1050-0407-22222222 of example.com/yubikey (bus 1, "
			      "device 4) has no device node /dev/bus/usb/001/004: it is being "
			      "unplugged, or /dev is not the host's");
}

static void test_usb_port_identity(void **state)
{
	struct fixture *f = *state;
	struct plugin *p = make(f,
				"{\"resources\": [{\"kind\": \"usb\", \"resourceName\": "
				"\"example.com/serial\", \"selectors\": {\"vendorProduct\": "
				"[\"0403:6001\"]}}]}",
				"example.com/serial");

	expect_list(p, "node1-000000140-usb2-4:H:-1 node1-000000140-usb2-5:H:-1");
	/* Re-plugged into the same port: new devnum, same id. */
	assert_int_equal(dp_tree_remove_usb(f->root, "1-5", 6), 0);
	assert_int_equal(dp_tree_add_usb(f->root, "1-5", 0x0403, 0x6001, NULL, 20), 0);
	expect_allocate(p, IDS("node1-000000140-usb2-5", "node1-000000140-usb2-5"),
			"USB_RESOURCE_EXAMPLE_COM_SERIAL=1:20|/dev/bus/usb/001/020");
	/* Per-device USB resources: one device each. */
	p = make(f,
		 "{\"resources\": [{\"kind\": \"usb\", \"naming\": \"per-device\", \"selectors\": "
		 "{\"vendorProduct\": [\"0403:6001\"]}}]}",
		 "kubevirt.io/node1-000000140-usb2-4");
	expect_list(p, "node1-000000140-usb2-4:H:-1");
	expect_allocate(p, IDS("node1-000000140-usb2-4"),
			"USB_RESOURCE_KUBEVIRT_IO_NODE1-000000140-USB2-4=1:5|/dev/bus/usb/001/005");
}

/*
 * Allocate answers from the last list (lists follow the device-node watch), reading no sysfs:
 * with no file descriptor left it still answers. A device unplugged, re-plugged or whose node went
 * after the list, with no list since, is refused or answered as it is now, never from the list.
 */
static void test_usb_allocate_between_events(void **state)
{
	struct fixture *f = *state;
	struct plugin *p = make(f, yubi_config, "example.com/yubikey");

	expect_list(p, "usb-1050-0407-11111111:H:-1 usb-1050-0407-22222222:H:-1");
	expect_allocate_without_fds(p, IDS("usb-1050-0407-22222222", "usb-1050-0407-11111111"),
				    "USB_RESOURCE_EXAMPLE_COM_YUBIKEY=1:4,1:3|/dev/bus/usb/001/004,"
				    "/dev/bus/usb/001/003");
	/* Unplugged since the list. */
	assert_int_equal(dp_tree_remove_usb(f->root, "1-2", 3), 0);
	expect_allocate_error(p, IDS("usb-1050-0407-22222222", "usb-1050-0407-11111111"), -ENODEV,
			      "USB device usb-1050-0407-11111111 of example.com/yubikey is not "
			      "plugged in now: plug it back in (it is listed as unhealthy "
			      "meanwhile) or delete the pod so that it gets another device");
	/* Plugged into another port since: the device as it is now, not the list's node. */
	assert_int_equal(dp_tree_add_usb(f->root, "1-8", 0x1050, 0x0407, "11111111", 12), 0);
	expect_allocate(p, IDS("usb-1050-0407-11111111", "usb-1050-0407-22222222"),
			"USB_RESOURCE_EXAMPLE_COM_YUBIKEY=1:12,1:4|/dev/bus/usb/001/012,"
			"/dev/bus/usb/001/004");
	/* Its node removed since the list. */
	assert_int_equal(fakeroot_remove(f->root, "dev/bus/usb/001/004"), 0);
	expect_allocate_error(p, IDS("usb-1050-0407-22222222"), -ENODEV,
			      "USB device usb-1050-0407-22222222 of example.com/yubikey (bus 1, "
			      "device 4) has no device node /dev/bus/usb/001/004: it is being "
			      "unplugged, or /dev is not the host's");
	/* The next list sees it all. */
	expect_list(p, "usb-1050-0407-11111111:H:-1 usb-1050-0407-22222222:U:-1");
	expect_allocate_without_fds(p, IDS("usb-1050-0407-11111111"),
				    "USB_RESOURCE_EXAMPLE_COM_YUBIKEY=1:12|/dev/bus/usb/001/012");
}

/* USB bundles: a keyboard, a mouse and a smartcard reader handed to one VM under one id. */

#define DESK_CONFIG(first_entries)                                                                 \
	"{\"resources\": [" first_entries "{\"kind\": \"usb\", \"resourceName\": "                 \
	"\"example.com/desk\", \"selectors\": {\"bundle\": [\"046d:c31c\", \"046d:c077\", "        \
	"\"076b:3021\"]}}]}"
#define PORT "node1-000000140-usb2-"

/* Two desks on hubs 1-8 and 1-9, and a loose set on the root ports 1-10, 1-11, 1-12. The
 * readers and mice are plugged before the keyboards and in another port order: the sets come
 * from the ports, not the order of arrival. */
static void add_desks(struct fakeroot *root)
{
	assert_int_equal(dp_tree_add_usb(root, "1-12", 0x076b, 0x3021, NULL, 48), 0);
	assert_int_equal(dp_tree_add_usb(root, "1-9.3", 0x076b, 0x3021, NULL, 45), 0);
	assert_int_equal(dp_tree_add_usb(root, "1-8.3", 0x076b, 0x3021, NULL, 42), 0);
	assert_int_equal(dp_tree_add_usb(root, "1-9.2", 0x046d, 0xc077, NULL, 44), 0);
	assert_int_equal(dp_tree_add_usb(root, "1-11", 0x046d, 0xc077, NULL, 47), 0);
	assert_int_equal(dp_tree_add_usb(root, "1-8.2", 0x046d, 0xc077, NULL, 41), 0);
	assert_int_equal(dp_tree_add_usb(root, "1-10", 0x046d, 0xc31c, NULL, 46), 0);
	assert_int_equal(dp_tree_add_usb(root, "1-9.1", 0x046d, 0xc31c, NULL, 43), 0);
	assert_int_equal(dp_tree_add_usb(root, "1-8.1", 0x046d, 0xc31c, NULL, 40), 0);
}

static void test_usb_bundle(void **state)
{
	struct fixture *f = *state;
	struct plugin *p;

	add_desks(f->root);
	p = make(f, DESK_CONFIG(""), "example.com/desk");
	/* One id per complete set, named after its keyboard (the first selector): the hubs' sets
	 * in port order (8 before 10: port numbers compare as numbers), then the loose one. */
	expect_list(p, PORT "8.1:H:-1 " PORT "9.1:H:-1 " PORT "10:H:-1");
	/* Every device of every set, in the order of the ids and then of the selectors, as
	 * KubeVirt's bus:devnum list. */
	expect_allocate(p, IDS(PORT "9.1", PORT "8.1"),
			"USB_RESOURCE_EXAMPLE_COM_DESK=1:43,1:44,1:45,1:40,1:41,1:42|"
			"/dev/bus/usb/001/043,/dev/bus/usb/001/044,/dev/bus/usb/001/045,"
			"/dev/bus/usb/001/040,/dev/bus/usb/001/041,/dev/bus/usb/001/042");
	expect_allocate(p, IDS(PORT "10"),
			"USB_RESOURCE_EXAMPLE_COM_DESK=1:46,1:47,1:48|/dev/bus/usb/001/046,"
			"/dev/bus/usb/001/047,/dev/bus/usb/001/048");
	/* A member unplugged: its set is unhealthy, the others are not touched (the desk's
	 * keyboard and reader do not take another set's mouse). */
	assert_int_equal(dp_tree_remove_usb(f->root, "1-8.2", 41), 0);
	expect_list(p, PORT "8.1:U:-1 " PORT "9.1:H:-1 " PORT "10:H:-1");
	expect_allocate_error(p, IDS(PORT "8.1"), -ENODEV,
			      "USB bundle " PORT "8.1 of example.com/desk is not complete now: not "
			      "every device of its set is plugged in; plug them back in (it is "
			      "listed as unhealthy meanwhile) or delete the pod so that it gets "
			      "another set");
	/* Plugged back into its port: the same id, the device as it is now. */
	assert_int_equal(dp_tree_add_usb(f->root, "1-8.2", 0x046d, 0xc077, NULL, 50), 0);
	expect_list(p, PORT "8.1:H:-1 " PORT "9.1:H:-1 " PORT "10:H:-1");
	expect_allocate(p, IDS(PORT "8.1"),
			"USB_RESOURCE_EXAMPLE_COM_DESK=1:40,1:50,1:42|/dev/bus/usb/001/040,"
			"/dev/bus/usb/001/050,/dev/bus/usb/001/042");
	/* One device node missing (udev not done): the set is unhealthy, Allocate names it. */
	assert_int_equal(fakeroot_remove(f->root, "dev/bus/usb/001/045"), 0);
	expect_list(p, PORT "8.1:H:-1 " PORT "9.1:U:-1 " PORT "10:H:-1");
	expect_allocate_error(p, IDS(PORT "9.1"), -ENODEV,
			      "USB bundle " PORT "9.1 of example.com/desk: its device 3 (bus 1, "
			      "device 45) has no device node /dev/bus/usb/001/045: it is being "
			      "unplugged, or /dev is not the host's");
}

#define NOT_ITS_OWN(id)                                                                            \
	"USB bundle " PORT id " of example.com/desk is now formed by devices that are not its "    \
	"own (a member was unplugged or replaced, and another set's device took its place): plug " \
	"the devices back in as they were, or delete the pod so that it gets another set"

/* Sets that pair up differently after a plug or unplug are never handed out: an id keeps the
 * devices it was first offered with, and a device belongs to one id. */
static void test_usb_bundle_repair(void **state)
{
	struct fixture *f = *state;
	struct plugin *p;

	add_desks(f->root);
	/* A second loose set on the root ports. */
	assert_int_equal(dp_tree_add_usb(f->root, "1-13", 0x046d, 0xc31c, NULL, 51), 0);
	assert_int_equal(dp_tree_add_usb(f->root, "1-14", 0x046d, 0xc077, NULL, 52), 0);
	assert_int_equal(dp_tree_add_usb(f->root, "1-15", 0x076b, 0x3021, NULL, 53), 0);
	p = make(f, DESK_CONFIG(""), "example.com/desk");
	expect_list(p, PORT "8.1:H:-1 " PORT "9.1:H:-1 " PORT "10:H:-1 " PORT "13:H:-1");
	expect_allocate(p, IDS(PORT "13"),
			"USB_RESOURCE_EXAMPLE_COM_DESK=1:51,1:52,1:53|/dev/bus/usb/001/051,"
			"/dev/bus/usb/001/052,/dev/bus/usb/001/053");
	/* The first loose mouse goes: in port order the first keyboard now pairs with the second
	 * mouse, which the other id stands for (a VM may hold it). Neither is healthy. */
	assert_int_equal(dp_tree_remove_usb(f->root, "1-11", 47), 0);
	expect_list(p, PORT "8.1:H:-1 " PORT "9.1:H:-1 " PORT "10:U:-1 " PORT "13:U:-1");
	expect_allocate_error(p, IDS(PORT "10"), -ENODEV, NOT_ITS_OWN("10"));
	/* Back in its port: both sets as they were. */
	assert_int_equal(dp_tree_add_usb(f->root, "1-11", 0x046d, 0xc077, NULL, 56), 0);
	expect_list(p, PORT "8.1:H:-1 " PORT "9.1:H:-1 " PORT "10:H:-1 " PORT "13:H:-1");
	expect_allocate(p, IDS(PORT "10", PORT "13"),
			"USB_RESOURCE_EXAMPLE_COM_DESK=1:46,1:56,1:48,1:51,1:52,1:53|"
			"/dev/bus/usb/001/046,/dev/bus/usb/001/056,/dev/bus/usb/001/048,"
			"/dev/bus/usb/001/051,/dev/bus/usb/001/052,/dev/bus/usb/001/053");
	/* A keyboard plugged into a port before them (1-7, for the device there) makes a new set
	 * of devices other ids stand for: listed, never healthy; the sets it shifted are not
	 * healthy either while it is there. */
	assert_int_equal(dp_tree_remove_usb(f->root, "1-7", 8), 0);
	assert_int_equal(dp_tree_add_usb(f->root, "1-7", 0x046d, 0xc31c, NULL, 57), 0);
	expect_list(p, PORT "8.1:H:-1 " PORT "9.1:H:-1 " PORT "10:U:-1 " PORT "13:U:-1 " PORT
			    "7:U:-1");
	expect_allocate_error(p, IDS(PORT "7"), -ENODEV, NOT_ITS_OWN("7"));
	assert_int_equal(dp_tree_remove_usb(f->root, "1-7", 57), 0);
	expect_list(p, PORT "8.1:H:-1 " PORT "9.1:H:-1 " PORT "10:H:-1 " PORT "13:H:-1 " PORT
			    "7:U:-1");
}

/* A device an earlier entry serves is no member; the devices left over on hubs pair up in port
 * order. */
static void test_usb_bundle_taken(void **state)
{
	struct fixture *f = *state;
	struct plugin *p;

	add_desks(f->root);
	assert_int_equal(dp_tree_remove_usb(f->root, "1-10", 46), 0);
	p = make(f,
		 DESK_CONFIG("{\"kind\": \"usb\", \"resourceName\": \"example.com/reader\", "
			     "\"selectors\": {\"port\": [\"1-9.3\"]}},"),
		 "example.com/desk");
	/* Desk 1-9 lost its reader to example.com/reader and the loose set its keyboard: the
	 * keyboard and mouse of 1-9 take the loose reader (its mouse 1-11 comes after 1-9.2). */
	expect_list(p, PORT "8.1:H:-1 " PORT "9.1:H:-1");
	expect_allocate(p, IDS(PORT "9.1"),
			"USB_RESOURCE_EXAMPLE_COM_DESK=1:43,1:44,1:48|/dev/bus/usb/001/043,"
			"/dev/bus/usb/001/044,/dev/bus/usb/001/048");
}

/* ---------------------------------------------------------------------------------------------- */
/* mdev */

static const char vgpu_config[] = "{\"resources\": [{\"kind\": \"mdev\", \"naming\": "
				  "\"harvester\", \"selectors\": {\"type\": [\"GRID T4-1Q\", "
				  "\"GRID T4-2Q\"]}}]}";

static void test_mdev(void **state)
{
	struct fixture *f = *state;
	struct plugin *p = make(f, vgpu_config, "nvidia.com/GRID_T4-1Q");

	/* NUMA node of the parent. */
	expect_list(p, MDEV_A ":H:1 " MDEV_B ":H:1");
	expect_allocate(p, IDS(MDEV_B, MDEV_A, MDEV_B),
			"MDEV_PCI_RESOURCE_NVIDIA_COM_GRID_T4-1Q=" MDEV_B "," MDEV_A
			"|/dev/vfio/vfio,/dev/vfio/71,/dev/vfio/70");
	assert_int_equal(dp_tree_iommufd(f->root, "sys/bus/mdev/devices/" MDEV_A, 7), 0);
	/* /dev/iommu appeared: the device-node watch makes the server list again. */
	expect_list(p, MDEV_A ":H:1 " MDEV_B ":H:1");
	expect_allocate(p, IDS(MDEV_A),
			"MDEV_PCI_RESOURCE_NVIDIA_COM_GRID_T4-1Q=" MDEV_A
			"|/dev/vfio/vfio,/dev/vfio/70,/dev/iommu,/dev/vfio/devices/vfio7");
	assert_int_equal(fakeroot_remove(f->root, "dev/vfio/71"), 0);
	expect_list(p, MDEV_A ":H:1 " MDEV_B ":U:1");
	expect_allocate_error(p, IDS(MDEV_B), -ENODEV,
			      "/dev/vfio/71 of mdev " MDEV_B " of nvidia.com/GRID_T4-1Q does not "
			      "exist: IOMMU group 71 is not usable yet (every device of the group "
			      "must be on vfio-pci: bind the whole group) or the vfio modules "
			      "are not loaded");
	assert_int_equal(fakeroot_remove(f->root, "sys/bus/mdev/devices/" MDEV_A), 0);
	expect_list(p, MDEV_A ":U:1 " MDEV_B ":U:1");
	expect_allocate_error(p, IDS(MDEV_A), -ENODEV,
			      "mdev " MDEV_A " of nvidia.com/GRID_T4-1Q no longer exists (it was "
			      "removed, or its parent went away): create it again or delete the "
			      "pod so that it gets another device");
	/* A new mdev of the type is picked up. */
	assert_int_equal(dp_tree_add_mdev(f->root, "0000:e0:00.0", "nvidia-222",
					  "55555555-6666-7777-8888-999999999999", "74"),
			 0);
	expect_list(p, MDEV_A ":U:1 " MDEV_B ":U:1 55555555-6666-7777-8888-999999999999:H:1");
	p = make(f, vgpu_config, "nvidia.com/GRID_T4-2Q");
	expect_list(p, MDEV_C ":H:1");
	expect_preferred(p, IDS(MDEV_C), NULL, 0, 1, MDEV_C);
}

/*
 * Allocate answers from the last list, checking only that each mdev is still there in the group
 * the list saw (no file opened). An mdev removed since, even when a new mdev took its group
 * number, is refused; one in another group now is answered with its group now.
 */
static void test_mdev_allocate_between_events(void **state)
{
	struct fixture *f = *state;
	struct plugin *p = make(f, vgpu_config, "nvidia.com/GRID_T4-1Q");
	const char *parent = fakeroot_pci_dir(f->root, "0000:e0:00.0");
	char rel[512];

	expect_list(p, MDEV_A ":H:1 " MDEV_B ":H:1");
	expect_allocate_without_fds(p, IDS(MDEV_B, MDEV_A),
				    "MDEV_PCI_RESOURCE_NVIDIA_COM_GRID_T4-1Q=" MDEV_B "," MDEV_A
				    "|/dev/vfio/vfio,/dev/vfio/71,/dev/vfio/70");
	/* Removed since the list, and its group number given to a new mdev: its node exists. */
	assert_int_equal(fakeroot_remove(f->root, "sys/bus/mdev/devices/" MDEV_A), 0);
	assert_int_equal(dp_tree_add_mdev(f->root, "0000:e0:00.0", "nvidia-222",
					  "55555555-6666-7777-8888-999999999999", "70"),
			 0);
	expect_allocate_error(p, IDS(MDEV_B, MDEV_A), -ENODEV,
			      "mdev " MDEV_A " of nvidia.com/GRID_T4-1Q no longer exists (it was "
			      "removed, or its parent went away): create it again or delete the "
			      "pod so that it gets another device");
	/* In another group now (removed and created again): its group now. */
	assert_non_null(parent);
	snprintf(rel, sizeof(rel), "%s/" MDEV_B "/iommu_group", parent);
	assert_int_equal(fakeroot_mkdir(f->root, "sys/kernel/iommu_groups/75"), 0);
	assert_int_equal(fakeroot_symlink(f->root, "sys/kernel/iommu_groups/75", rel), 0);
	assert_int_equal(fakeroot_write(f->root, "dev/vfio/75", ""), 0);
	expect_allocate(p, IDS(MDEV_B),
			"MDEV_PCI_RESOURCE_NVIDIA_COM_GRID_T4-1Q=" MDEV_B
			"|/dev/vfio/vfio,/dev/vfio/75");
	/* The next list sees it all. */
	expect_list(p, MDEV_A ":U:1 " MDEV_B ":H:1 55555555-6666-7777-8888-999999999999:H:1");
	expect_allocate_without_fds(p, IDS(MDEV_B),
				    "MDEV_PCI_RESOURCE_NVIDIA_COM_GRID_T4-1Q=" MDEV_B
				    "|/dev/vfio/vfio,/dev/vfio/75");
}

/* ---------------------------------------------------------------------------------------------- */
/* Plugin objects */

static void test_plugin_new(void **state)
{
	struct fixture *f = *state;
	char err[1024];
	struct plugin *p = NULL;

	assert_int_equal(dp_config_parse_text(nic_config, &f->config, err, sizeof(err)), 0);
	assert_int_equal(plugin_new(NULL, f->config, 0, "example.com/nic", NULL, 0, &p), -EINVAL);
	assert_int_equal(plugin_new(f->ctx, f->config, 1, "example.com/nic", NULL, 0, &p), -EINVAL);
	assert_int_equal(plugin_new(f->ctx, f->config, 0, NULL, NULL, 0, &p), -EINVAL);
	assert_null(p);
	assert_int_equal(plugin_new(f->ctx, f->config, 0, "example.com/nic", NULL, 0, &p), 0);
	assert_string_equal(p->env_name, "PCI_RESOURCE_EXAMPLE_COM_NIC");
	assert_null(p->sriov_env_name);
	/* The plugin keeps the config alive. */
	assert_int_equal(f->config->refcount, 2);
	plugin_free(p);
	assert_int_equal(f->config->refcount, 1);
	plugin_free(NULL);
}

static void test_answer(void **state)
{
	struct plugin_answer a = {0};

	(void)state;
	assert_int_equal(answer_set_env(&a, "A", "1"), 0);
	assert_int_equal(answer_set_env(&a, "B", "2"), 0);
	assert_int_equal(answer_set_env(&a, "A", "3"), 0);
	assert_int_equal(a.n_envs, 2);
	assert_string_equal(answer_get_env(&a, "A"), "3");
	assert_null(answer_get_env(&a, "C"));
	assert_int_equal(answer_add_device(&a, "/dev/x"), 0);
	assert_int_equal(answer_add_device(&a, "/dev/x"), 0);
	assert_int_equal(a.n_devices, 1);
	assert_int_equal(answer_add_id(&a, "i"), 0);
	assert_int_equal(answer_add_id(&a, "i"), 0);
	assert_int_equal(a.n_ids, 1);
	assert_int_equal(answer_fail(&a, -EIO, "first %d", 1), -EIO);
	assert_int_equal(answer_fail(&a, -ENODEV, "second %s", "x"), -ENODEV);
	assert_string_equal(a.error, "second x");
	answer_clear(&a);
	assert_null(a.envs);
	assert_int_equal(a.n_ids, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_pci_list, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pci_list_pooled, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pci_known_at_start, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pci_allocate, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pci_iommufd, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pci_allocate_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pci_allocate_out_of_fds, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pci_allocate_between_events, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pci_events, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pci_sriov_env, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pci_preferred, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_usb, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_usb_port_identity, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_usb_allocate_between_events, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_usb_bundle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_usb_bundle_repair, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_usb_bundle_taken, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mdev, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mdev_allocate_between_events, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_plugin_new, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_list_in_flight_keeps_event_health, setup,
					    teardown),
	    cmocka_unit_test(test_answer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
