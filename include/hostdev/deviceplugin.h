/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kubelet device-plugin serving (API v1beta1) on the event loop of loop.h: one server per extended
 * resource, registration with the kubelet (classic Register on kubelet.sock, or the plugin
 * watcher), and the plugin interface that decides which devices a resource has and what a container
 * gets. Built-in plugins for vfio PCI, USB and mdev resources are created from a resource selection
 * config (docs/device-plugin.md).
 *
 * Threads: every object here belongs to one loop. All hostdev_dp_* calls on a loop and on the
 * objects of that loop are serialised by the loop's lock, so any thread may make them, including
 * while the loop runs on its own thread (hostdev_loop_start_thread()) and from inside plugin
 * callbacks. After a failing call, hostdev_ctx_get_error() on the calling thread gives its message:
 * errors of the loop's own event handling stay on the thread that dispatches. Other uses of the
 * hostdev_ctx given to the loop (enumerating devices on it, changing its paths) must not overlap
 * a dispatch on another thread: give such work a context of its own.
 *
 * All functions follow the conventions of context.h (negative errno, message in
 * hostdev_ctx_get_error()).
 */
#ifndef HOSTDEV_DEVICEPLUGIN_H
#define HOSTDEV_DEVICEPLUGIN_H

#include <stddef.h>

#include "context.h"
#include "loop.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------- */
/* Event loop: HOSTDEV_1's names of the loop of loop.h */

/**
 * The loop every device-plugin object lives on: the same type as hostdev_loop (loop.h), under the
 * name of HOSTDEV_1. Each hostdev_dp_loop_*() function below is the hostdev_loop_*() function of
 * the same suffix, kept because the ABI is add-only; new code uses loop.h.
 */
typedef struct hostdev_dp_loop hostdev_dp_loop;

/** hostdev_loop_new(). */
int hostdev_dp_loop_new(hostdev_ctx *ctx, hostdev_dp_loop **out);
/** hostdev_loop_ref(). */
hostdev_dp_loop *hostdev_dp_loop_ref(hostdev_dp_loop *loop);
/** hostdev_loop_unref(). */
hostdev_dp_loop *hostdev_dp_loop_unref(hostdev_dp_loop *loop);
/** hostdev_loop_get_fd(). */
int hostdev_dp_loop_get_fd(hostdev_dp_loop *loop);
/** hostdev_loop_dispatch(). */
int hostdev_dp_loop_dispatch(hostdev_dp_loop *loop, int timeout_ms);
/** hostdev_loop_run(). */
int hostdev_dp_loop_run(hostdev_dp_loop *loop);
/** hostdev_loop_quit(). */
int hostdev_dp_loop_quit(hostdev_dp_loop *loop);
/** hostdev_loop_start_thread(). */
int hostdev_dp_loop_start_thread(hostdev_dp_loop *loop);
/** hostdev_loop_stop_thread(). */
int hostdev_dp_loop_stop_thread(hostdev_dp_loop *loop);

/* ---------------------------------------------------------------------------------------------- */
/* Device lists */

/** Device health strings of the API. */
#define HOSTDEV_DP_HEALTHY "Healthy"
#define HOSTDEV_DP_UNHEALTHY "Unhealthy"

/** A list of advertised devices: id, health and NUMA node. */
typedef struct hostdev_dp_devices hostdev_dp_devices;

/** On success *@out holds a new reference. Returns 0 or -ENOMEM. */
int hostdev_dp_devices_new(hostdev_dp_devices **out);
/** Take a reference; returns @devices (NULL-safe). Since HOSTDEV_1.2. */
hostdev_dp_devices *hostdev_dp_devices_ref(hostdev_dp_devices *devices);
/** Drop a reference, the last one frees; NULL-safe, always returns NULL. Since HOSTDEV_1.2. */
hostdev_dp_devices *hostdev_dp_devices_unref(hostdev_dp_devices *devices);
/**
 * Deprecated name of hostdev_dp_devices_unref(), kept for programs built against HOSTDEV_1:
 * drops a reference exactly as it does. New code calls hostdev_dp_devices_unref().
 */
hostdev_dp_devices *hostdev_dp_devices_free(hostdev_dp_devices *devices);
/**
 * Add a device. @id is 1-63 characters of [A-Za-z0-9._:-] starting and ending with an
 * alphanumeric: a PCI address, a UUID, or an id made by hostdev_naming_device_id(); @healthy
 * non-zero for "Healthy"; @numa_node the device's NUMA node or -1 when it has none (then no
 * topology is advertised). Returns 0, -EINVAL (bad id), -EEXIST (id already in the list),
 * -ENOMEM.
 */
int hostdev_dp_devices_add(hostdev_dp_devices *devices, const char *id, int healthy, int numa_node);
/** Number of devices. */
size_t hostdev_dp_devices_get_count(const hostdev_dp_devices *devices);
/* Fields of device @i; NULL / -1 when @i is out of range. */
const char *hostdev_dp_devices_get_id(const hostdev_dp_devices *devices, size_t i);
int hostdev_dp_devices_is_healthy(const hostdev_dp_devices *devices, size_t i);
int hostdev_dp_devices_get_numa_node(const hostdev_dp_devices *devices, size_t i);

/* ---------------------------------------------------------------------------------------------- */
/* What a plugin answers */

/**
 * The answer for one container: for Allocate a ContainerAllocateResponse (environment, device
 * nodes, mounts, annotations, CDI devices); for GetPreferredAllocation the preferred ids.
 * Created by the server and handed to the plugin callback.
 */
typedef struct hostdev_dp_response hostdev_dp_response;

/* Each returns 0, -EINVAL (NULL or empty argument), -ENOMEM. */
/** Set environment variable @name to @value (a later call for the same name replaces it). */
int hostdev_dp_response_set_env(hostdev_dp_response *resp, const char *name, const char *value);
/** Add a device node; @permissions is a combination of "r", "w", "m" (usually "mrw"). */
int hostdev_dp_response_add_device(hostdev_dp_response *resp, const char *container_path,
				   const char *host_path, const char *permissions);
int hostdev_dp_response_add_mount(hostdev_dp_response *resp, const char *container_path,
				  const char *host_path, int read_only);
int hostdev_dp_response_set_annotation(hostdev_dp_response *resp, const char *key,
				       const char *value);
int hostdev_dp_response_add_cdi_device(hostdev_dp_response *resp, const char *name);
/** GetPreferredAllocation: add one preferred id (duplicates are ignored). */
int hostdev_dp_response_add_id(hostdev_dp_response *resp, const char *id);
/**
 * Explain a failure to the kubelet: @message becomes the call's grpc-message. The callback then
 * returns a negative errno, which picks the gRPC status (-EINVAL INVALID_ARGUMENT, -ENOENT and
 * -ENODEV NOT_FOUND, -EBUSY and -EPERM FAILED_PRECONDITION, -ENOMEM RESOURCE_EXHAUSTED, -EMFILE,
 * -ENFILE, -ENOBUFS and -EAGAIN UNAVAILABLE, others INTERNAL).
 */
int hostdev_dp_response_set_error(hostdev_dp_response *resp, const char *message);

/* ---------------------------------------------------------------------------------------------- */
/* Plugins */

/** Current version of struct hostdev_dp_plugin_ops (2 added flags). */
#define HOSTDEV_DP_PLUGIN_OPS_VERSION 2

/**
 * hostdev_dp_plugin_ops.flags: list_devices may run on the loop's worker thread, without the
 * loop's lock, while the other callbacks run on the loop's thread (never two list_devices at
 * once). A list that takes long (re-reading a thousand devices) then never holds up Allocate or
 * the other sockets of the loop. Such a list_devices must not call hostdev_dp_* functions of its
 * loop other than hostdev_dp_devices_*, must not share unprotected state with the other
 * callbacks, and must not use the loop's context.
 */
#define HOSTDEV_DP_PLUGIN_LIST_OFF_LOOP (1u << 0)

/**
 * The per-kind logic of a resource. Every callback gets the userdata given to
 * hostdev_dp_server_new() and runs on the loop's thread with the loop's lock held (list_devices
 * may run elsewhere, see HOSTDEV_DP_PLUGIN_LIST_OFF_LOOP). Members are only ever added at the
 * end; unset (NULL) callbacks have the documented defaults.
 */
struct hostdev_dp_plugin_ops {
	/** HOSTDEV_DP_PLUGIN_OPS_VERSION of the caller's header. */
	unsigned int version;
	/**
	 * Fill @out with the devices the resource has now. Called at start, by
	 * hostdev_dp_server_refresh() and every refresh interval; when the list differs from the
	 * one advertised, every ListAndWatch stream gets the full new list. NULL: the list is
	 * only set with hostdev_dp_server_set_devices(). With HOSTDEV_DP_PLUGIN_LIST_OFF_LOOP it
	 * runs on the loop's worker thread (at start too, hostdev_dp_server_start() waiting for
	 * it), and refreshes only queue it.
	 */
	int (*list_devices)(void *userdata, hostdev_dp_devices *out);
	/**
	 * Allocate @ids (known, distinct device ids, in the kubelet's order) for one container.
	 * NULL: an empty response.
	 */
	int (*allocate)(void *userdata, const char *const *ids, size_t n_ids,
			hostdev_dp_response *out);
	/**
	 * GetPreferredAllocation for one container: add up to @size ids of @available with
	 * hostdev_dp_response_add_id(). @available holds the request's advertised Healthy ids
	 * (each once; a request with an id the server does not advertise is refused before).
	 * The server then makes the answer follow the contract whatever the plugin did: every
	 * must-include id first, then the plugin's ids that are in @available, then the rest of
	 * @available in order, @size distinct ids (fewer when @available runs out). NULL: the
	 * server does not offer GetPreferredAllocation.
	 */
	int (*get_preferred_allocation)(void *userdata, const char *const *available,
					size_t n_available, const char *const *must_include,
					size_t n_must_include, size_t size,
					hostdev_dp_response *out);
	/** PreStartContainer for @ids. NULL: the server does not ask for PreStartContainer. */
	int (*pre_start_container)(void *userdata, const char *const *ids, size_t n_ids);
	/** Release @userdata; called once when the server is freed. May be NULL. */
	void (*destroy)(void *userdata);
	/** Version 2: HOSTDEV_DP_PLUGIN_* flags; 0 for none. */
	unsigned int flags;
};

/* ---------------------------------------------------------------------------------------------- */
/* Servers */

/** How a server makes itself known to the kubelet. */
enum hostdev_dp_registration {
	/** Register on <device-plugins>/kubelet.sock, re-register when the kubelet restarts. */
	HOSTDEV_DP_REGISTER_CLASSIC = 0,
	/** Put a socket in the kubelet's plugins_registry for its plugin watcher. */
	HOSTDEV_DP_REGISTER_WATCHER = 1,
	/** Only serve the socket (tests, or another component registers). */
	HOSTDEV_DP_REGISTER_NONE = 2,
};

/** Where a server stands with the kubelet. */
enum hostdev_dp_state {
	HOSTDEV_DP_STOPPED = 0,	    /**< not started, or stopped */
	HOSTDEV_DP_REGISTERING = 1, /**< serving, registration in flight or waiting to retry */
	HOSTDEV_DP_REGISTERED = 2,  /**< the kubelet accepted the registration */
	HOSTDEV_DP_SERVING = 3,	    /**< serving without registration (HOSTDEV_DP_REGISTER_NONE) */
};

/** Current version of struct hostdev_dp_server_options (2 added kubelet_uid, idle_timeout_ms). */
#define HOSTDEV_DP_SERVER_OPTIONS_VERSION 2

/** Default of hostdev_dp_server_options.refresh_interval_ms. */
#define HOSTDEV_DP_DEFAULT_REFRESH_MS 5000

/**
 * The resync interval of the built-in servers of a hostdev_dp_manager that receives hot-plug
 * events (since HOSTDEV_1.7): their refresh_interval_ms when the options leave it 0. Health then
 * follows events (the device-node watch, uevents), each re-reading only the devices it names;
 * this full re-read is the safety net, and runs at once when events were lost (an inotify or
 * uevent queue overflow). Twelve hours, as hostdev-agent's resync: at 10,000 devices a full read
 * costs about half a second of CPU, which an hourly re-read would make the larger part of an idle
 * server's use.
 */
#define HOSTDEV_DP_DEFAULT_RESYNC_MS 43200000

/** Default of hostdev_dp_server_options.idle_timeout_ms. */
#define HOSTDEV_DP_DEFAULT_IDLE_TIMEOUT_MS 60000

/**
 * Options of hostdev_dp_server_new(). Initialise with hostdev_dp_server_options_init(); members
 * are only ever added at the end. NULL means all defaults.
 */
struct hostdev_dp_server_options {
	/** HOSTDEV_DP_SERVER_OPTIONS_VERSION of the caller's header. */
	unsigned int version;
	/** enum hostdev_dp_registration; default HOSTDEV_DP_REGISTER_CLASSIC. */
	int registration;
	/**
	 * Socket file name, NULL for the default derived from the resource name
	 * ("<vendor>_<name>.sock" shortened to fit a sockaddr_un, like Harvester's).
	 */
	const char *socket_name;
	/** Directory of the plugin socket and kubelet.sock; NULL: <kubelet>/device-plugins. */
	const char *device_plugin_dir;
	/** The plugin watcher's directory; NULL: <kubelet>/plugins_registry. */
	const char *plugins_registry_dir;
	/** How often list_devices runs to catch health changes; 0: the default, -1: never. */
	int refresh_interval_ms;
	/**
	 * Version 2. The socket file is created with mode 0600 whatever the umask, and a
	 * connection is served only when its peer (SO_PEERCRED) is root or this process's own
	 * user; a kubelet that runs as another user is let in by giving its uid here (the socket
	 * file then belongs to it). -1 (the default) or 0: nobody else.
	 */
	int kubelet_uid;
	/**
	 * Version 2. A connection on which no call is being served (a ListAndWatch stream counts
	 * for as long as it is open) and nothing arrived for this many milliseconds is closed:
	 * clients that connect and say nothing would otherwise hold file descriptors until the
	 * kubelet cannot connect. When accept() runs out of file descriptors, the quietest such
	 * connection is closed at once. 0: the default, HOSTDEV_DP_DEFAULT_IDLE_TIMEOUT_MS; -1:
	 * never.
	 */
	int idle_timeout_ms;
};

/** Set @opts to the defaults of this version. */
void hostdev_dp_server_options_init(struct hostdev_dp_server_options *opts);

/** A device-plugin server for one extended resource. */
typedef struct hostdev_dp_server hostdev_dp_server;

/**
 * Create a server for @resource_name (checked with hostdev_naming_check_resource_name()) whose
 * answers come from @ops and @userdata (@ops is copied; @ops->destroy(@userdata) runs when the
 * server is freed, also when this call fails after taking it). Nothing is served before
 * hostdev_dp_server_start(). Returns 0, -EINVAL, -ENOMEM.
 */
int hostdev_dp_server_new(hostdev_dp_loop *loop, const char *resource_name,
			  const struct hostdev_dp_plugin_ops *ops, void *userdata,
			  const struct hostdev_dp_server_options *opts, hostdev_dp_server **out);
hostdev_dp_server *hostdev_dp_server_ref(hostdev_dp_server *server);
/**
 * NULL-safe; always returns NULL. The last reference stops the server (waiting for a list_devices
 * that runs on the worker thread to return).
 */
hostdev_dp_server *hostdev_dp_server_unref(hostdev_dp_server *server);

/**
 * Read the devices, listen on the socket (replacing a stale one) and start registering. Returns
 * once listening; registration goes on in the loop, with retries (1, 2, 5, 10 s) and
 * re-registration whenever the kubelet restarts. Returns 0, -EALREADY, -EADDRINUSE (another
 * process serves the socket), or the error of listing the devices or of the socket.
 */
int hostdev_dp_server_start(hostdev_dp_server *server);

/**
 * Stop: every ListAndWatch stream gets an empty list and ends, connections close, the socket is
 * removed. The kubelet then sees no devices for the resource. Blocks until every peer has read
 * what was sent to it and closed its connection (a kubelet does at once), at most 10 s: a
 * connection closed under a peer that still writes is reset, and the peer would lose the end of
 * its streams. Returns 0.
 */
int hostdev_dp_server_stop(hostdev_dp_server *server);

/**
 * Run list_devices now and push the list if it changed. Returns 0 or the plugin's error. With
 * HOSTDEV_DP_PLUGIN_LIST_OFF_LOOP it only queues the list on the loop's worker thread (a refresh
 * asked for while one runs is done once after it) and returns 0: the list reaches ListAndWatch
 * when read, and a failure is logged, the previous list kept.
 */
int hostdev_dp_server_refresh(hostdev_dp_server *server);

/** Replace the advertised list with a copy of @devices and push it if it changed. */
int hostdev_dp_server_set_devices(hostdev_dp_server *server, const hostdev_dp_devices *devices);

/**
 * Set the health of one advertised device (since HOSTDEV_1.7), for plugins that follow events:
 * a change re-reads only the device it concerns, not the whole resource. When it differs from the
 * advertised health, every ListAndWatch stream gets the full list once at the end of the loop's
 * current round (the changes of one round, however many, go out as one list). A list being read
 * on the worker thread meanwhile is followed by one more, so that it cannot undo the change.
 * Returns 0 (also when nothing changed), -EINVAL (NULL), -ENOENT when @id is not advertised (with
 * a message).
 */
int hostdev_dp_server_set_health(hostdev_dp_server *server, const char *id, int healthy);

/** The resource name. */
const char *hostdev_dp_server_get_resource_name(const hostdev_dp_server *server);
/** Absolute path of the plugin socket. */
const char *hostdev_dp_server_get_socket_path(const hostdev_dp_server *server);
/** enum hostdev_dp_state. */
int hostdev_dp_server_get_state(const hostdev_dp_server *server);
/** How many times the kubelet accepted a registration of this server (1 after the first). */
unsigned int hostdev_dp_server_get_registrations(const hostdev_dp_server *server);

/* ---------------------------------------------------------------------------------------------- */
/* Resource selection config and built-in plugins */

/**
 * A resource selection config (JSON, docs/device-plugin.md): resources defined by selectors
 * over PCI devices, USB devices or mdevs, each with an explicit resource name, pooled under the
 * Harvester name, or one resource per device.
 */
typedef struct hostdev_dp_config hostdev_dp_config;

/**
 * Parse a config from @json (NUL-terminated). Every error names the resource (by index and
 * name), the key and what is wrong. On success *@out holds a new reference. Returns 0, -EINVAL,
 * -ENOMEM.
 */
int hostdev_dp_config_parse(hostdev_ctx *ctx, const char *json, hostdev_dp_config **out);
/** Read and parse the config file @path. Also -ENOENT, -EACCES... of reading it. */
int hostdev_dp_config_load(hostdev_ctx *ctx, const char *path, hostdev_dp_config **out);
/**
 * Take a reference; returns @config (NULL-safe). A config is immutable, and references may be
 * taken and dropped from any thread. Since HOSTDEV_1.2.
 */
hostdev_dp_config *hostdev_dp_config_ref(hostdev_dp_config *config);
/**
 * Drop a reference, the last one frees (resources resolved from the config and built-in servers
 * keep their own); NULL-safe, always returns NULL. Since HOSTDEV_1.2.
 */
hostdev_dp_config *hostdev_dp_config_unref(hostdev_dp_config *config);
/**
 * Deprecated name of hostdev_dp_config_unref(), kept for programs built against HOSTDEV_1: drops
 * a reference exactly as it does. New code calls hostdev_dp_config_unref().
 */
hostdev_dp_config *hostdev_dp_config_free(hostdev_dp_config *config);

/** Kinds of resources. */
enum hostdev_dp_kind {
	HOSTDEV_DP_KIND_PCI = 0,  /**< vfio PCI: ids are PCI addresses */
	HOSTDEV_DP_KIND_USB = 1,  /**< USB: ids are stable USB identities */
	HOSTDEV_DP_KIND_MDEV = 2, /**< mediated devices: ids are UUIDs */
};

/**
 * The config applied to the host now: the concrete resources (a pooled or per-device entry
 * gives one resource per name found) with their devices.
 */
typedef struct hostdev_dp_resources hostdev_dp_resources;

/**
 * Apply @config to the host of @ctx; on success *@out holds a new reference. Returns 0, -EINVAL
 * (two entries give the same resource name on this host; the message names both), -ENOMEM, or an
 * enumeration error.
 */
int hostdev_dp_resources_resolve(hostdev_ctx *ctx, const hostdev_dp_config *config,
				 hostdev_dp_resources **out);
/** Take a reference; returns @resources (NULL-safe). Since HOSTDEV_1.2. */
hostdev_dp_resources *hostdev_dp_resources_ref(hostdev_dp_resources *resources);
/** Drop a reference, the last one frees; NULL-safe, always returns NULL. Since HOSTDEV_1.2. */
hostdev_dp_resources *hostdev_dp_resources_unref(hostdev_dp_resources *resources);
/**
 * Deprecated name of hostdev_dp_resources_unref(), kept for programs built against HOSTDEV_1:
 * drops a reference exactly as it does. New code calls hostdev_dp_resources_unref().
 */
hostdev_dp_resources *hostdev_dp_resources_free(hostdev_dp_resources *resources);
/** Number of resources, sorted by name. */
size_t hostdev_dp_resources_get_count(const hostdev_dp_resources *resources);
/* Fields of resource @i; NULL / -1 / 0 when @i is out of range. */
const char *hostdev_dp_resources_get_name(const hostdev_dp_resources *resources, size_t i);
/** enum hostdev_dp_kind. */
int hostdev_dp_resources_get_kind(const hostdev_dp_resources *resources, size_t i);
/** Number of devices matched now. */
size_t hostdev_dp_resources_get_device_count(const hostdev_dp_resources *resources, size_t i);
/** Id of device @j of resource @i (PCI address, USB identity, mdev UUID). */
const char *hostdev_dp_resources_get_device_id(const hostdev_dp_resources *resources, size_t i,
					       size_t j);

/** Output formats of hostdev_dp_resources_permitted_host_devices(). */
enum hostdev_dp_format {
	HOSTDEV_DP_FORMAT_JSON = 0,
	HOSTDEV_DP_FORMAT_YAML = 1,
};

/**
 * KubeVirt's spec.configuration.permittedHostDevices for the resources: pciHostDevices
 * (pciVendorSelector per vendor:device found), mediatedDevices (mdevNameSelector) and usb
 * (vendor/product selectors), all with externalResourceProvider true. On success *@out is a
 * malloc'ed NUL-terminated text (free with hostdev_free()). Returns 0, -EINVAL, -ENOMEM.
 */
int hostdev_dp_resources_permitted_host_devices(const hostdev_dp_resources *resources, int format,
						char **out);

/* ---------------------------------------------------------------------------------------------- */
/* Entries and matches, for plugins built on a config (since HOSTDEV_1.3) */

/** Number of entries (items of "resources") of @config, in the order written. */
size_t hostdev_dp_config_get_count(const hostdev_dp_config *config);
/** enum hostdev_dp_kind of entry @i of @config; -1 when @i is out of range. */
int hostdev_dp_config_get_kind(const hostdev_dp_config *config, size_t i);
/** How the resources of a config entry are named (docs/device-plugin.md). Since HOSTDEV_1.8. */
enum hostdev_dp_naming {
	/** "resourceName": one resource of that name, resolved even without a device */
	HOSTDEV_DP_NAMING_EXPLICIT = 0,
	/** "naming": "harvester": one resource per Harvester name found */
	HOSTDEV_DP_NAMING_HARVESTER = 1,
	/** "naming": "per-device": one resource per device found */
	HOSTDEV_DP_NAMING_PER_DEVICE = 2,
};
/**
 * enum hostdev_dp_naming of entry @i of @config; -1 when @i is out of range. Only the entries
 * that are not HOSTDEV_DP_NAMING_EXPLICIT make resources come and go with the devices: a program
 * that follows hot-plug need not resolve a config without them again. Since HOSTDEV_1.8.
 */
int hostdev_dp_config_get_naming(const hostdev_dp_config *config, size_t i);
/**
 * The "sriovEnv" of PCI entry @i (owned by @config): NULL when the entry asks for no
 * PCIDEVICE_<PREFIX>_<NAME> variables (or @i is out of range), "" for the resource's own domain
 * as the prefix, else the prefix given.
 */
const char *hostdev_dp_config_get_sriov_env_prefix(const hostdev_dp_config *config, size_t i);

/** The config @resources were resolved from (borrowed: take a reference to keep it). */
hostdev_dp_config *hostdev_dp_resources_get_config(const hostdev_dp_resources *resources);
/** The entry of the config resource @i comes from; (size_t)-1 when @i is out of range. */
size_t hostdev_dp_resources_get_entry(const hostdev_dp_resources *resources, size_t i);

/**
 * The devices an entry of a config selects on a host at one moment, with what a plugin needs of
 * each: the id the kubelet sees, the resource it belongs to, NUMA node, IOMMU group, parent,
 * driver, USB bus position. Immutable: references may be taken and dropped from any thread.
 */
typedef struct hostdev_dp_matches hostdev_dp_matches;

/**
 * What entry @entry of @config selects on the host of @ctx now, exactly as
 * hostdev_dp_resources_resolve() would give it: a device that an earlier entry of the same kind
 * selects is left out. With @resource_name, only the devices of that resource (a pooled or
 * per-device entry gives several); NULL: all. On success *@out holds a new reference. Returns 0,
 * -EINVAL (no config, or @entry out of range), -ENOMEM, or an enumeration error.
 */
int hostdev_dp_config_match(hostdev_ctx *ctx, const hostdev_dp_config *config, size_t entry,
			    const char *resource_name, hostdev_dp_matches **out);
/** Take a reference; returns @matches (NULL-safe). */
hostdev_dp_matches *hostdev_dp_matches_ref(hostdev_dp_matches *matches);
/** Drop a reference, the last one frees; NULL-safe, always returns NULL. */
hostdev_dp_matches *hostdev_dp_matches_unref(hostdev_dp_matches *matches);
/** Number of devices, in the order of the enumeration (NULL-safe: 0). */
size_t hostdev_dp_matches_get_count(const hostdev_dp_matches *matches);
/** Index of the first device with id @id, or -1. Constant time. */
long hostdev_dp_matches_find(const hostdev_dp_matches *matches, const char *id);
/* Fields of device @i (owned by @matches); NULL / -1 / 0 when @i is out of range. */
/** The Kubernetes device id: PCI address, USB stable identity or mdev UUID. */
const char *hostdev_dp_matches_get_id(const hostdev_dp_matches *matches, size_t i);
/** The resource the device belongs to under its entry's naming. */
const char *hostdev_dp_matches_get_resource_name(const hostdev_dp_matches *matches, size_t i);
/** NUMA node, -1 for none. */
int hostdev_dp_matches_get_numa_node(const hostdev_dp_matches *matches, size_t i);
/** IOMMU group (PCI and mdev), -1 for none. */
int hostdev_dp_matches_get_iommu_group(const hostdev_dp_matches *matches, size_t i);
/** The address of a VF's PF, or an mdev's parent device; NULL for none. */
const char *hostdev_dp_matches_get_parent(const hostdev_dp_matches *matches, size_t i);
/** PCI: the bound driver, NULL for none. */
const char *hostdev_dp_matches_get_driver(const hostdev_dp_matches *matches, size_t i);
/** USB: the bus number and device number now (the node /dev/bus/usb/BBB/DDD); 0 for others. */
unsigned int hostdev_dp_matches_get_usb_busnum(const hostdev_dp_matches *matches, size_t i);
unsigned int hostdev_dp_matches_get_usb_devnum(const hostdev_dp_matches *matches, size_t i);
/**
 * USB: how many USB devices id @i stands for: 1 for a device, the members of its set for an
 * entry with selectors.bundle (docs/device-plugin.md, "USB bundles"); 0 for other kinds or an
 * @i out of range. Since HOSTDEV_1.4.
 */
size_t hostdev_dp_matches_get_usb_device_count(const hostdev_dp_matches *matches, size_t i);
/**
 * USB: device @j of id @i (in the order of the bundle's selectors): its bus and device number
 * now (the node /dev/bus/usb/BBB/DDD) and its own stable identity (borrowed from @matches:
 * valid while it is referenced), under the entry's usbIdentity rule. Any output may be NULL.
 * Returns 0, or -EINVAL for @i or @j out of range (nothing written). Since HOSTDEV_1.4.
 */
int hostdev_dp_matches_get_usb_device(const hostdev_dp_matches *matches, size_t i, size_t j,
				      unsigned int *busnum, unsigned int *devnum,
				      const char **identity);

/**
 * The preferred allocation policy of the built-in plugins (docs/device-plugin.md), for a
 * get_preferred_allocation callback: choose up to @size ids, @must_include first, then from
 * @available by what @seen shows of each device (an id @seen does not have counts as a device
 * without NUMA node, IOMMU group or parent): the IOMMU-group siblings of what is chosen, one NUMA
 * node, VFs of one PF (mdevs of one parent), whole IOMMU groups, the smallest PF that can supply
 * the rest, then the order of @available. Nothing is read from the host. Writes the chosen ids
 * (borrowed from @available and @must_include) to @out, which has room for @size, and returns
 * how many; -ENOMEM.
 */
long hostdev_dp_matches_prefer(const hostdev_dp_matches *seen, const char *const *available,
			       size_t n_available, const char *const *must_include,
			       size_t n_must_include, size_t size, const char **out);

/**
 * A server for resource @i with the built-in plugin of its kind (vfio PCI, USB or mdev): its
 * devices follow the resource's selectors as the host changes, with health and NUMA node, and
 * Allocate answers per KubeVirt's contract (docs/device-plugin.md). Returns as
 * hostdev_dp_server_new(), and -ERANGE when @i is out of range.
 */
int hostdev_dp_server_new_builtin(hostdev_dp_loop *loop, const hostdev_dp_resources *resources,
				  size_t i, const struct hostdev_dp_server_options *opts,
				  hostdev_dp_server **out);

/* ---------------------------------------------------------------------------------------------- */
/* Serving a whole config, following hot-plug (since HOSTDEV_1.5) */

/**
 * The built-in servers of a whole config, one per resource it resolves to, that follow hot-plug
 * (docs/device-plugin.md, "Resources follow hot-plug"): every USB/PCI hot-plug event that can
 * change which resources exist (and, if asked, every interval) resolves the config again, on the
 * loop's worker thread (hostdev_loop_queue_work(); since HOSTDEV_1.8, before on the loop's): only
 * entries that are not HOSTDEV_DP_NAMING_EXPLICIT make resources come and go, so a config of
 * explicit names is resolved once, at the start. A resource name not served yet (a device
 * plugged later whose Harvester or per-device name is new) gets its server, started and
 * registered at once. A resource whose last device left keeps its server for the grace period,
 * its devices listed Unhealthy; a device back in time keeps it; after it the server stops (an
 * empty list, its socket removed). Resources with an explicit resourceName always resolve, so
 * they never end. Everything happens on the loop (the hot-plug monitor and a timer are sources
 * of it, resolutions go to its worker thread): run the loop, the manager needs no other call. `hostdev serve` is built on it.
 */
typedef struct hostdev_dp_manager hostdev_dp_manager;

#define HOSTDEV_DP_MANAGER_OPTIONS_VERSION 1
/** The default grace period: five minutes. */
#define HOSTDEV_DP_MANAGER_DEFAULT_GRACE_MS 300000

struct hostdev_dp_manager_options {
	/** HOSTDEV_DP_MANAGER_OPTIONS_VERSION of the caller's header. */
	unsigned int version;
	/**
	 * The options of every server (copied, strings included); NULL for the defaults. The
	 * socket name must be unset: each resource's socket is named after it.
	 */
	const struct hostdev_dp_server_options *server;
	/**
	 * How long a resource whose last device left is served on, its devices Unhealthy, in
	 * milliseconds: HOSTDEV_DP_MANAGER_DEFAULT_GRACE_MS by default, 0 ends it at once, -1
	 * never.
	 */
	int grace_ms;
	/**
	 * Resolve the config again every this many milliseconds too. 0 (the default): on hot-plug
	 * events only, or, when the host delivers none (no udev netlink socket, @hotplug 0), at
	 * the servers' refresh interval (never for a config of explicit resource names, which no
	 * device changes); -1: never (only on events and
	 * hostdev_dp_manager_resolve()). Resolving reads every selected device (on the loop's
	 * worker thread): not more often than needed.
	 */
	int resolve_interval_ms;
	/** Non-zero (the default): watch USB/PCI hot-plug events (hostdev_monitor). */
	int hotplug;
};

/** Set @opts to the defaults of this version. NULL-safe. */
void hostdev_dp_manager_options_init(struct hostdev_dp_manager_options *opts);

/**
 * A manager of @config's resources on @loop (which it references, as it does @config); nothing
 * is served before hostdev_dp_manager_start(). @opts NULL: the defaults. On success *@out holds a
 * new reference. Returns 0, -EINVAL (NULL arguments; an unknown options version, a grace period
 * or interval below -1, a socket name in the server options: with a message), -ENOMEM.
 */
int hostdev_dp_manager_new(hostdev_loop *loop, hostdev_dp_config *config,
			   const struct hostdev_dp_manager_options *opts, hostdev_dp_manager **out);
/** Take a reference; returns @manager (NULL-safe). */
hostdev_dp_manager *hostdev_dp_manager_ref(hostdev_dp_manager *manager);
/** Drop a reference; the last one stops every server (as hostdev_dp_manager_stop()) and frees.
 * NULL-safe, always returns NULL. */
hostdev_dp_manager *hostdev_dp_manager_unref(hostdev_dp_manager *manager);

/**
 * Resolve the config on the loop context's host and start a server for every resource (each
 * registers as its options say), then follow hot-plug. No device matching is not an error: the
 * manager serves what is plugged later (a warning is logged). Returns 0; the error of
 * hostdev_dp_resources_resolve(); the error of a server that cannot start, its message naming
 * the resource (every server started is stopped again); -EALREADY when started.
 */
int hostdev_dp_manager_start(hostdev_dp_manager *manager);
/**
 * Resolve the config again now, on the calling thread with the loop's context and lock (a
 * resolution running on the worker thread for an event is waited for and dropped: this one is
 * newer), and apply it as a hot-plug event does. Returns 0, or the resolution's error (the servers
 * stay as they were; a warning is logged too); -EINVAL when not started.
 */
int hostdev_dp_manager_resolve(hostdev_dp_manager *manager);
/** hostdev_dp_server_refresh() on every server. Returns 0, -EINVAL for NULL. */
int hostdev_dp_manager_refresh(hostdev_dp_manager *manager);
/**
 * Stop following hot-plug and stop every server (hostdev_dp_server_stop(): an empty list to the
 * kubelet, the socket removed). Let the loop dispatch a little afterwards so that the last
 * lists reach the kubelet. The manager can be started again. Returns 0, -EINVAL for NULL.
 */
int hostdev_dp_manager_stop(hostdev_dp_manager *manager);
/** The number of servers now (they come and go with hot-plug); 0 for NULL. */
size_t hostdev_dp_manager_get_count(hostdev_dp_manager *manager);
/**
 * Server @i (in the order they started), borrowed: valid until the next dispatch of the loop,
 * which may end it (take a reference with hostdev_dp_server_ref() to keep it). NULL when @i is
 * out of range.
 */
hostdev_dp_server *hostdev_dp_manager_get_server(hostdev_dp_manager *manager, size_t i);

#ifdef __cplusplus
}
#endif

#endif
