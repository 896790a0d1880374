/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The built-in device plugins (vfio PCI, USB, mdev) behind hostdev_dp_server_new_builtin(): the
 * state of one plugin, what it lists, and what it answers. The logic writes into plain structs
 * (struct plugin_list, struct plugin_answer) that plugin_ops.c copies into the server's objects
 * through the public API, so that the tests run it without the gRPC layer (tests/plugins).
 * The plugins use the public API, as a program's own plugins would (the layer table in
 * docs/design.md): the config's entries, what an entry matches now and the preferred allocation
 * policy are hostdev_dp_config_*() and hostdev_dp_matches_*(); the loop's fd sources, lock and
 * worker context are hostdev_loop_*() (loop.h). tests/abi/check-layers.sh refuses any include of
 * src/ here. The rules are in docs/device-plugin.md ("Built-in plugins"). Never installed.
 */
#ifndef HOSTDEV_PLUGIN_H
#define HOSTDEV_PLUGIN_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hostdev.h>

/* Everything is hidden (-fvisibility=hidden) except the definitions of the public API. */
#define PLUGIN_EXPORT __attribute__((visibility("default")))

/* report.c: hostdev_ctx_set_error() and hostdev_ctx_log() of a printf-style message. */
int plugin_error(hostdev_ctx *ctx, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void plugin_log(hostdev_ctx *ctx, int priority, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---------------------------------------------------------------------------------------------- */
/* Answers (answer.c) */

struct plugin_env {
	char *name, *value;
};

struct plugin_devspec {
	char *container_path, *host_path, *permissions;
};

/* What a plugin answers for one container, before it becomes a hostdev_dp_response. */
struct plugin_answer {
	struct plugin_env *envs; /* in the order set; a name set again is replaced */
	size_t n_envs;
	struct plugin_devspec *devices; /* each host path once, in the order added */
	size_t n_devices;
	char **ids; /* GetPreferredAllocation, each once, in order */
	size_t n_ids;
	char *error; /* the message for the kubelet when the call fails */
};

int answer_set_env(struct plugin_answer *a, const char *name, const char *value);
/* Add the device node @path (container path = host path, "mrw") unless it is there already. */
int answer_add_device(struct plugin_answer *a, const char *path);
int answer_add_id(struct plugin_answer *a, const char *id);
/* Record the failure message and return @err (a negative errno); -ENOMEM when out of memory. */
int answer_fail(struct plugin_answer *a, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *answer_get_env(const struct plugin_answer *a, const char *name);
void answer_clear(struct plugin_answer *a);

/* ---------------------------------------------------------------------------------------------- */
/* Plugins (plugin.c) */

/* One advertised device. */
struct plugin_device {
	char *id;
	bool healthy;
	int numa; /* -1: no topology */
};

struct plugin_list {
	struct plugin_device *items;
	size_t count;
};

void plugin_list_clear(struct plugin_list *l);

/* A device advertised once: it stays listed (Unhealthy while it is gone). */
struct plugin_known {
	uint32_t id; /* where its id is in the set's @ids (known_id()) */
	int numa;    /* its last NUMA node */
	/* Kinds with a ready hook (vfio): what the last read of the device found, kept so that
	 * an event re-checks only what it names: its IOMMU group (-1: none, or the device is
	 * gone) and whether it is usable apart from its group node. Under the plugin's lock. */
	int group;
	bool ready;
};

/* Every id a plugin advertised so far, in first-seen order (plugin_known.c). */
struct plugin_known_set {
	struct plugin_known *items;
	size_t count, capacity;
	char *ids; /* the ids, each with its NUL, one after the other */
	size_t ids_len, ids_capacity;
	uint32_t *slots; /* the index by id: item index + 1, 0 for a free slot */
	size_t mask;	 /* slots - 1 (a power of two) */
	uint64_t seed;
};

/* Record @id (once; a known one gets @numa): its index in *@out (when not NULL). 0 or -ENOMEM
 * (nothing recorded then). */
int known_remember(struct plugin_known_set *s, const char *id, int numa, size_t *out);
/* The index of @id, or -1. */
long known_find(const struct plugin_known_set *s, const char *id);
/* The id of record @i (valid until the next known_remember() or known_trim()). */
const char *known_id(const struct plugin_known_set *s, size_t i);
/* Give back what the arrays hold beyond their records. */
void known_trim(struct plugin_known_set *s);
void known_clear(struct plugin_known_set *s);

struct plugin_kind;

/* The userdata of one built-in plugin. */
struct plugin {
	hostdev_ctx *ctx; /* the loop's context: the callbacks run under the loop's lock */
	/* The context list_devices reads the host with: the loop's worker context when it runs
	 * there (a reference; set by builtin.c), else NULL for @ctx. */
	hostdev_ctx *list_ctx;
	hostdev_dp_config *config;	/* a reference */
	size_t entry;			/* the config entry of the resource */
	int dp_kind;			/* enum hostdev_dp_kind of the entry */
	const struct plugin_kind *kind; /* the logic of the entry's kind */
	char *resource_name;
	char *env_name; /* PCI_RESOURCE_<NAME>, USB_RESOURCE_<NAME>, MDEV_PCI_RESOURCE_<NAME> */
	char *sriov_env_name; /* PCIDEVICE_<PREFIX>_<NAME> (pci with sriovEnv), else NULL */
	/* Every id advertised so far, in first-seen order, with its last NUMA node: a device
	 * that goes away stays listed as Unhealthy (the kubelet then stops handing it out and
	 * pods holding it are told). Under @lock. */
	struct plugin_known_set known;
	/* The device-node watch that refreshes the plugin's server (node_watch.c), or NULL;
	 * owned by builtin.c, which stops it before the plugin is freed. */
	struct node_watch *node_watch;
	/* What the last list saw of each device (a reference, NULL before the first list):
	 * GetPreferredAllocation uses it instead of reading the host again on the loop. Lists may
	 * run on the worker thread while GetPreferredAllocation runs on the loop: replaced and
	 * taken under @lock. */
	pthread_mutex_t lock;
	hostdev_dp_matches *seen;
	/* vfio kinds: whether <dev>/iommu existed at the last list (1, 0), -1 before the first
	 * (vfio_observe()); under @lock like @seen. */
	int iommufd;
	/* USB: the devices each advertised id stands for (usb_claims.c), NULL for other kinds. */
	struct usb_claims *usb_claims;
	/* What the plugin read, for the tests and the debug log: lists that read every device,
	 * single devices read again for a uevent, and group nodes checked for an inotify event.
	 * Atomic: lists run on the worker thread. */
	unsigned long full_reads, device_reads, group_checks;
};

/*
 * A plugin for the resource @resource_name of entry @entry of @config (a reference is
 * taken), reading the host through @ctx (a reference is taken). @initial_ids are the devices the
 * resource had when it was resolved. Returns 0, -EINVAL (names that make no env variable),
 * -ENOMEM.
 */
int plugin_new(hostdev_ctx *ctx, hostdev_dp_config *config, size_t entry, const char *resource_name,
	       const char *const *initial_ids, size_t n_initial, struct plugin **out);
void plugin_free(struct plugin *p);

/*
 * node_watch.c: update @server (not referenced: the watch belongs to its plugin @plugin) whenever
 * a node under <dev>/vfio (@usb false: only the devices of the changed groups are checked again)
 * or <dev>/bus/usb (@usb true: a refresh) appears or goes; a lost event refreshes. Returns 0,
 * -ENOMEM, or the error of inotify_init1().
 */
struct node_watch;
int node_watch_start(hostdev_loop *loop, hostdev_dp_server *server, struct plugin *plugin, bool usb,
		     struct node_watch **out);
/* Remove the watch (call with the loop's lock held). NULL-safe. */
void node_watch_stop(struct node_watch *w);

/* ListAndWatch: the devices of the resource now, with health and NUMA node (read through
 * p->list_ctx when set; may run on another thread than the other calls, never twice at once). */
int plugin_list_devices(struct plugin *p, struct plugin_list *out);
/*
 * Events (on the loop's thread), each re-reading only what it names, the new health going to
 * @server with hostdev_dp_server_set_health(); kinds without a ready hook (USB) and devices the
 * plugin never listed are left to a full list (hostdev_dp_server_refresh()):
 * - plugin_groups_changed(): the group nodes /dev/vfio/<g> of @groups (sorted, distinct) appeared
 *   or went: the devices of those groups are re-checked (one access(2) per group). A node that
 *   exists for a group none of its devices has (a device may have joined) refreshes @server;
 *   returns whether it did.
 * - plugin_device_changed(): a uevent named @name (a PCI address): when the plugin lists it, the
 *   device is read again (driver, IOMMU group) and re-checked. Returns 1 when it did, 0 when the
 *   name is not one of its devices (or the kind has no ready hook).
 */
bool plugin_groups_changed(struct plugin *p, hostdev_dp_server *server, const int *groups,
			   size_t n_groups);
int plugin_device_changed(struct plugin *p, hostdev_dp_server *server, const char *name);
/* Whether the kind follows group nodes and uevents per device (it has a ready hook). */
bool plugin_follows_devices(const struct plugin *p);
/* Allocate @ids for one container. On failure @out->error says why. */
int plugin_allocate(struct plugin *p, const char *const *ids, size_t n_ids,
		    struct plugin_answer *out);
/* GetPreferredAllocation (pci and mdev): @out->ids, from what the last list saw of the devices
 * (NUMA node, IOMMU group, PF): nothing is read from the host. */
int plugin_preferred(struct plugin *p, const char *const *available, size_t n_available,
		     const char *const *must_include, size_t n_must_include, size_t size,
		     struct plugin_answer *out);

/* plugin_read.c: the devices of the resource as they are now, read through @ctx: the entry's
 * matches with the resource's name (a device taken by an earlier entry is not). */
int plugin_matches(struct plugin *p, hostdev_ctx *ctx, hostdev_dp_matches **out);
/* 1 when <dev root>/@rel exists (the context's HOSTDEV_PATH_DEV), else 0. */
int plugin_dev_exists(const struct plugin *p, const char *rel);
/* The strings up to a NULL joined into @buf of @size bytes: their length, or @size when they do not
 * fit (@buf then holds a cut string). A path is built on every Allocate: memcpy, not snprintf(),
 * which costs ten times as much. */
size_t plugin_join(char *buf, size_t size, ...) __attribute__((sentinel));
/* @n in decimal into @buf (room for 12 bytes); returns @buf. */
char *plugin_itoa(int n, char *buf);
/* Whether the iommu_group link at @path resolves (its device exists) and names group @group:
 * one readlink(2), no file descriptor. */
bool plugin_group_link_is(const char *path, int group);
/* The process ran out of file descriptors or memory (EMFILE, ENFILE, ENOMEM, ENOBUFS, EAGAIN):
 * a failure that says nothing about the device. */
bool plugin_short_of_resources(int err);
/* Fail @out with @err for device @what ("0000:3b:02.1 of example.com/nic") that could not be read
 * (@detail: the library's message), saying when the cause is the plugin's own resources.
 * Returns @err. */
int plugin_read_failure(struct plugin_answer *out, int err, const char *what, const char *detail);

/* ---------------------------------------------------------------------------------------------- */
/* Per kind */

/*
 * The logic of one kind: each kind's file (vfio_pci.c, usb.c, mdev.c) defines its table and
 * kinds.c lists them by kind. plugin.c dispatches through the table; the kinds use the helpers of
 * plugin_read.c, answer.c, vfio_nodes.c and sriov_env.c, never plugin.c.
 */
struct plugin_kind {
	/* The prefix of the env variable that names the allocated devices ("PCI_RESOURCE"). */
	const char *env_prefix;
	/* Is device @i of @m, listed now, healthy? (Kinds without @ready.) */
	bool (*healthy)(const struct plugin *p, const hostdev_dp_matches *m, size_t i);
	/* Allocate @ids for one container (plugin_allocate()). */
	int (*allocate)(struct plugin *p, const char *const *ids, size_t n_ids,
			struct plugin_answer *out);
	/* Optional: set up the kind's own state in @p (plugin_new()); 0 or -ENOMEM. */
	int (*init)(struct plugin *p);
	/* Optional: free it (plugin_free()). */
	void (*release)(struct plugin *p);
	/* Optional: see what a list found (@now) before the health of its devices is asked,
	 * on the list's thread; 0 or a negative errno that fails the list. */
	int (*observe)(struct plugin *p, const hostdev_dp_matches *now);
	/* Optional (the vfio kinds, whose health is "usable, and /dev/vfio/<group> exists"):
	 * whether device @i of @m is usable apart from its group node, read through @ctx. With
	 * it, @healthy is not used: plugin.c checks the node, and an event re-checks only the
	 * devices it names (plugin_groups_changed(), plugin_device_changed()). */
	bool (*ready)(const struct plugin *p, hostdev_ctx *ctx, const hostdev_dp_matches *m,
		      size_t i);
	/* Optional, with @ready: read device @name (an id) again through @ctx (for a uevent):
	 * *@group its IOMMU group (-1 none); returns 1 when it is usable apart from its group
	 * node, 0 when not (or gone), a negative errno when it cannot be read (EMFILE...). */
	int (*read_ready)(const struct plugin *p, hostdev_ctx *ctx, const char *name, int *group);
};
extern const struct plugin_kind plugin_kind_vfio_pci; /* vfio_pci.c */
extern const struct plugin_kind plugin_kind_usb;      /* usb.c */
extern const struct plugin_kind plugin_kind_mdev;     /* mdev.c */
/* kinds.c: the table of enum hostdev_dp_kind @kind, NULL for an unknown kind. */
const struct plugin_kind *plugin_kind_of(int kind);

/*
 * vfio_nodes.c: add the device nodes a VMM needs for a vfio device whose sysfs directory is
 * @sysfs_dir (relative to the sysfs root) in IOMMU group @group: /dev/vfio/vfio, /dev/vfio/<group>,
 * and with iommufd (@iommufd true: <dev>/iommu exists, see vfio_iommufd(); and
 * <sysfs_dir>/vfio-dev/vfioN) /dev/iommu and /dev/vfio/devices/vfioN. @what names the device in
 * messages. Fails (-ENODEV, with the message in @out) without a group or its node.
 */
int vfio_add_nodes(const struct plugin *p, const char *what, const char *sysfs_dir, int group,
		   bool iommufd, struct plugin_answer *out);
/* Whether the host offers iommufd (<dev>/iommu): as the last list saw it, else looked up now. */
bool vfio_iommufd(struct plugin *p);
/* The observe hook of the vfio kinds: records <dev>/iommu for vfio_iommufd(). */
int vfio_observe(struct plugin *p, const hostdev_dp_matches *now);

/*
 * usb_claims.c: the members (identities) each USB id was first advertised with. For id @i of
 * @m: 1 when its members are those of its record, or it has no record and none of its members
 * belongs to another id (with @record, the record is then made); 0 otherwise; -ENOMEM.
 * Thread-safe.
 */
struct usb_claims;
int usb_claims_new(struct usb_claims **out);
void usb_claims_free(struct usb_claims *c);
int usb_claims_check(struct usb_claims *c, const hostdev_dp_matches *m, size_t i, bool record);
/* How many devices id @id was first advertised with (0: never advertised). */
size_t usb_claims_count(struct usb_claims *c, const char *id);

/* sriov_env.c: PCIDEVICE_<..> and PCIDEVICE_<..>_INFO for @addresses in groups @groups. */
int sriov_env_set(const struct plugin *p, char *const *addresses, const int *groups, size_t n,
		  struct plugin_answer *out);

#endif /* HOSTDEV_PLUGIN_H */
