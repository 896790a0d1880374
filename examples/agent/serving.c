/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Serving the claimed devices to the kubelet: one device-plugin server (libhostdev's
 * deviceplugin.h) per resource name, in the library's device-plugin loop, whose epoll fd is
 * watched by the agent's own loop, so that everything stays on one thread. A resource's server is
 * created and registered when its first device is claimed and stopped (an empty list to the
 * kubelet, the socket removed) when its last claim goes; in between its list is replaced in place,
 * nothing restarts. Re-registration after a kubelet restart is the library's.
 *
 * Allocate follows KubeVirt's contract (docs/device-plugin.md): PCI_RESOURCE_<NAME> with the
 * allocated addresses in the kubelet's order, the device nodes /dev/vfio/vfio and /dev/vfio/<group>
 * of each allocated device. Not yet: /dev/iommu and /dev/vfio/devices/vfioN on iommufd hosts, which
 * the library's built-in vfio plugin adds.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "agent.h"

struct resource {
	struct serving *s;
	char *name;
	hostdev_dp_server *server;
	struct strmap *devices; /* address -> (void *)1, the list advertised */
	bool seen;		/* wanted in the current update */
};

struct serving {
	hostdev_ctx *ctx;
	hostdev_loop *dp_loop;
	struct loop_source *dp_src;
	struct strmap *resources; /* name -> struct resource */
	struct strmap *next;	  /* the update being built: "resource\naddress" -> (void *)1 */
	int registration;
};

static void resource_free(void *p)
{
	struct resource *res = p;

	if (!res)
		return;
	if (res->server) {
		hostdev_dp_server_stop(res->server);
		hostdev_dp_server_unref(res->server);
	}
	strmap_free(res->devices);
	free(res->name);
	free(res);
}

/* ---- Allocate ------------------------------------------------------------------------------ */

/* "PCI_RESOURCE_" + upper(name with '/' and '.' as '_'), '-' kept (KubeVirt's rule). */
static void env_name(const char *resource, char *out, size_t size)
{
	size_t n = (size_t)snprintf(out, size, "PCI_RESOURCE_");

	for (const char *p = resource; *p && n + 1 < size; p++)
		out[n++] = (*p == '/' || *p == '.') ? '_' : (char)toupper((unsigned char)*p);
	out[n < size ? n : size - 1] = '\0';
}

static int add_node(struct serving *s, hostdev_dp_response *out, const char *container_path)
{
	char host[4096];

	/* The host side of a device node is under the context's /dev (a fake root in tests). */
	snprintf(host, sizeof(host), "%s%s", hostdev_ctx_get_path(s->ctx, HOSTDEV_PATH_DEV),
		 container_path + strlen("/dev"));
	return hostdev_dp_response_add_device(out, container_path, host, "mrw");
}

static int allocate(void *userdata, const char *const *ids, size_t n_ids, hostdev_dp_response *out)
{
	struct resource *res = userdata;
	struct serving *s = res->s;
	char name[300], path[4096], groups[1024] = ",";
	char *value = NULL;
	size_t len = 0;
	int r = 0;

	if ((r = add_node(s, out, "/dev/vfio/vfio")) < 0)
		return r;
	for (size_t i = 0; i < n_ids && r == 0; i++) {
		hostdev_pci_device *dev = NULL;
		const char *drv;
		char group[32];
		char *grown;

		if (hostdev_pci_device_new(s->ctx, ids[i], &dev) < 0) {
			hostdev_dp_response_set_error(out, hostdev_ctx_get_error(s->ctx));
			r = -ENODEV;
			break;
		}
		drv = hostdev_pci_device_get_driver(dev);
		if (!drv || strcmp(drv, HOSTDEV_VFIO_DRIVER) != 0) {
			snprintf(path, sizeof(path),
				 "%s is not on vfio-pci (%s): its claim is not enabled; see the "
				 "PCIDeviceClaim's Bound condition",
				 ids[i], drv ? drv : "no driver");
			hostdev_dp_response_set_error(out, path);
			hostdev_pci_device_unref(dev);
			r = -EBUSY;
			break;
		}
		/* Each group's node once, whatever the number of its devices allocated. */
		snprintf(group, sizeof(group), ",%d,", hostdev_pci_device_get_iommu_group(dev));
		if (!strstr(groups, group)) {
			snprintf(path, sizeof(path), "/dev/vfio/%d",
				 hostdev_pci_device_get_iommu_group(dev));
			r = add_node(s, out, path);
			snprintf(groups + strlen(groups), sizeof(groups) - strlen(groups), "%d,",
				 hostdev_pci_device_get_iommu_group(dev));
		}
		hostdev_pci_device_unref(dev);
		grown = realloc(value, len + strlen(ids[i]) + 2);
		if (!grown) {
			r = -ENOMEM;
			break;
		}
		value = grown;
		len += (size_t)sprintf(value + len, "%s%s", len ? "," : "", ids[i]);
	}
	if (r == 0 && value) {
		env_name(res->name, name, sizeof(name));
		r = hostdev_dp_response_set_env(out, name, value);
	}
	free(value);
	return r;
}

/* ---- the resources ------------------------------------------------------------------------- */

static void on_dp_readable(struct loop_source *src, int fd, uint32_t events, void *userdata)
{
	struct serving *s = userdata;

	hostdev_loop_dispatch(s->dp_loop, 0);
}

struct list_build {
	struct serving *s;
	hostdev_dp_devices *devices;
	int r;
};

static void add_listed(const char *address, void *value, void *userdata)
{
	struct list_build *b = userdata;
	hostdev_pci_device *dev = NULL;
	int healthy = 0, numa = -1;

	if (b->r < 0)
		return;
	if (hostdev_pci_device_new(b->s->ctx, address, &dev) == 0) {
		const char *drv = hostdev_pci_device_get_driver(dev);

		healthy = drv && strcmp(drv, HOSTDEV_VFIO_DRIVER) == 0;
		numa = hostdev_pci_device_get_numa_node(dev);
		hostdev_pci_device_unref(dev);
	}
	b->r = hostdev_dp_devices_add(b->devices, address, healthy, numa);
}

static int advertise(struct resource *res)
{
	struct list_build b = {res->s, NULL, 0};

	if ((b.r = hostdev_dp_devices_new(&b.devices)) < 0)
		return b.r;
	strmap_foreach(res->devices, add_listed, &b);
	if (b.r == 0)
		b.r = hostdev_dp_server_set_devices(res->server, b.devices);
	hostdev_dp_devices_free(b.devices);
	return b.r;
}

static struct resource *resource_start(struct serving *s, const char *name)
{
	static const struct hostdev_dp_plugin_ops ops = {.version = HOSTDEV_DP_PLUGIN_OPS_VERSION,
							 .allocate = allocate};
	struct hostdev_dp_server_options opts;
	struct resource *res = calloc(1, sizeof(*res));

	if (!res || !(res->name = strdup(name)) || !(res->devices = strmap_new(NULL)))
		goto fail;
	res->s = s;
	hostdev_dp_server_options_init(&opts);
	opts.registration = s->registration;
	/* The list changes only through serving_commit(): no periodic re-listing. */
	opts.refresh_interval_ms = -1;
	if (hostdev_dp_server_new(s->dp_loop, name, &ops, res, &opts, &res->server) < 0) {
		log_error("cannot serve resource %s: %s", name, hostdev_ctx_get_error(s->ctx));
		goto fail;
	}
	if (strmap_set(s->resources, name, res) < 0)
		goto fail;
	return res;
fail:
	resource_free(res);
	return NULL;
}

/* ---- public -------------------------------------------------------------------------------- */

int serving_new(hostdev_ctx *ctx, struct loop *loop, int registration, struct serving **out)
{
	struct serving *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	s->ctx = ctx;
	s->registration = registration;
	if ((r = hostdev_loop_new(ctx, &s->dp_loop)) < 0)
		goto fail;
	r = -ENOMEM;
	if (!(s->resources = strmap_new(resource_free)) || !(s->next = strmap_new(NULL)))
		goto fail;
	s->dp_src = loop_add_fd(loop, hostdev_loop_get_fd(s->dp_loop), EPOLLIN, on_dp_readable, s);
	if (!s->dp_src)
		goto fail;
	*out = s;
	return 0;
fail:
	serving_free(s);
	return r;
}

void serving_free(struct serving *s)
{
	if (!s)
		return;
	/* Servers first (each stop sends the kubelet an empty list), then their loop. */
	strmap_free(s->resources);
	strmap_free(s->next);
	loop_source_remove(s->dp_src);
	hostdev_loop_unref(s->dp_loop);
	free(s);
}

void serving_want(struct serving *s, const char *resource, const char *address)
{
	char key[512];

	snprintf(key, sizeof(key), "%s\n%s", resource, address);
	strmap_set(s->next, key, (void *)1);
}

struct commit {
	struct serving *s;
	struct strmap *wanted; /* resource -> struct strmap of addresses */
};

static void group_wanted(const char *key, void *value, void *userdata)
{
	struct commit *c = userdata;
	const char *nl = strchr(key, '\n');
	char name[512];
	struct strmap *addresses;

	if (!nl)
		return;
	snprintf(name, sizeof(name), "%.*s", (int)(nl - key), key);
	addresses = strmap_get(c->wanted, name);
	if (!addresses) {
		addresses = strmap_new(NULL);
		if (!addresses || strmap_set(c->wanted, name, addresses) < 0) {
			strmap_free(addresses);
			return;
		}
	}
	strmap_set(addresses, nl + 1, (void *)1);
}

static void collect_gone(const char *name, void *value, void *userdata)
{
	struct commit *c = userdata;
	struct strmap *gone = (struct strmap *)c->s->next; /* reused: see serving_commit() */

	if (!strmap_get(c->wanted, name))
		strmap_set(gone, name, (void *)1);
}

static void stop_gone(const char *name, void *value, void *userdata)
{
	struct serving *s = userdata;

	log_info("resource %s: no claimed device any more; stopped serving it", name);
	strmap_remove(s->resources, name);
}

static void copy_address(const char *address, void *value, void *userdata)
{
	strmap_set(userdata, address, (void *)1);
}

static bool same_set(const struct strmap *a, const struct strmap *b)
{
	struct strmap *tmp;
	size_t n;

	if (strmap_count(a) != strmap_count(b))
		return false;
	tmp = strmap_new(NULL);
	if (!tmp)
		return false;
	strmap_foreach(a, copy_address, tmp);
	strmap_foreach(b, copy_address, tmp);
	n = strmap_count(tmp);
	strmap_free(tmp);
	return n == strmap_count(a);
}

static void apply_wanted(const char *name, void *value, void *userdata)
{
	struct commit *c = userdata;
	struct strmap *addresses = value;
	struct resource *res = strmap_get(c->s->resources, name);
	bool fresh = false;

	if (!res) {
		if (!(res = resource_start(c->s, name)))
			return;
		fresh = true;
	} else if (same_set(res->devices, addresses)) {
		/* Health may have changed (a device moved off vfio-pci): the library pushes
		 * the list only when it differs. */
		advertise(res);
		return;
	}
	strmap_free(res->devices);
	res->devices = strmap_new(NULL);
	if (res->devices)
		strmap_foreach(addresses, copy_address, res->devices);
	if (fresh) {
		/* The list is in place before the server starts: the first ListAndWatch answer
		 * already holds the claimed devices. */
		if (advertise(res) < 0 || hostdev_dp_server_start(res->server) < 0) {
			log_error("cannot serve resource %s: %s", name,
				  hostdev_ctx_get_error(c->s->ctx));
			strmap_remove(c->s->resources, name);
			return;
		}
		log_info("resource %s: serving %zu device%s (socket %s)", name,
			 strmap_count(res->devices), strmap_count(res->devices) == 1 ? "" : "s",
			 hostdev_dp_server_get_socket_path(res->server));
		return;
	}
	advertise(res);
	log_info("resource %s: now %zu device%s", name, strmap_count(res->devices),
		 strmap_count(res->devices) == 1 ? "" : "s");
}

void serving_commit(struct serving *s)
{
	struct commit c = {s, strmap_new((void (*)(void *))strmap_free)};

	if (!c.wanted)
		return;
	strmap_foreach(s->next, group_wanted, &c);
	/* s->next is done with: it collects the resources to stop. */
	strmap_free(s->next);
	s->next = strmap_new(NULL);
	if (s->next) {
		strmap_foreach(s->resources, collect_gone, &c);
		strmap_foreach(s->next, stop_gone, s);
		strmap_free(s->next);
		s->next = strmap_new(NULL);
	}
	strmap_foreach(c.wanted, apply_wanted, &c);
	strmap_free(c.wanted);
}

int serving_start_builtin(struct serving *s, const hostdev_dp_resources *resources, size_t i,
			  hostdev_dp_server **out)
{
	struct hostdev_dp_server_options opts;
	int r;

	hostdev_dp_server_options_init(&opts);
	opts.registration = s->registration;
	/* The agent refreshes on every hot-plug event of the device; the periodic list is only
	 * the safety net for an event that never came. */
	r = hostdev_dp_server_new_builtin(s->dp_loop, resources, i, &opts, out);
	if (r == 0 && (r = hostdev_dp_server_start(*out)) < 0)
		*out = hostdev_dp_server_unref(*out);
	return r;
}

size_t serving_count(const struct serving *s)
{
	return s ? strmap_count(s->resources) : 0;
}
