/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kubelet Dynamic Resource Allocation (DRA) plugins: the DRAPlugin gRPC service of one driver
 * (API versions v1 and v1beta1: NodePrepareResources, NodeUnprepareResources) with its
 * registration through the kubelet's plugin watcher, and helpers for the files a DRA driver
 * hands to the container runtime: CDI spec files and KubeVirt's device-metadata files
 * (docs/dra.md). Since HOSTDEV_1.3.
 *
 * The library does not read ResourceClaims: the kubelet names a claim (namespace, name, uid) and
 * the caller's prepare callback resolves it (reads the claim's allocation from the API server,
 * binds the devices) and answers with the prepared devices and their CDI ids.
 *
 * Threads: a plugin belongs to one hostdev_loop. Every hostdev_dra_plugin_* call is serialised
 * by the loop's lock, so any thread may make them, also while the loop runs on its own thread
 * (hostdev_loop_start_thread()) and from inside the plugin's callbacks. The callbacks run on
 * the thread that dispatches the loop, with the loop's lock held: a callback that waits for
 * something slow holds up every socket of the loop. Slow work is therefore deferred: the
 * callback keeps the request (returns HOSTDEV_DRA_DEFERRED) and completes it later from any
 * thread with hostdev_dra_request_complete(). The hostdev_dra_request_* functions may be called
 * from any thread by the one party that owns the request at the time (the callback while it
 * runs, then whoever it handed the request to); two threads must not use one request at once.
 * Requests of one kubelet call are independent: each may be completed by another thread.
 *
 * The CDI and metadata helpers touch no loop and no shared state: any thread may call them, on
 * objects of its own.
 *
 * All functions follow the conventions of context.h (negative errno, message in
 * hostdev_ctx_get_error() of the context involved).
 */
#ifndef HOSTDEV_DRA_H
#define HOSTDEV_DRA_H

#include <stddef.h>

#include "context.h"
#include "loop.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------- */
/* Requests: one claim of a NodePrepareResources or NodeUnprepareResources call */

/**
 * One claim the kubelet asks to prepare or unprepare. Created by the plugin and handed to the
 * prepare or unprepare callback; valid until hostdev_dra_request_complete() (or the callback's
 * non-deferred return). The kubelet's call is answered once every claim of it is complete.
 */
typedef struct hostdev_dra_request hostdev_dra_request;

/**
 * A callback's return value: the callback keeps @req and completes it later with
 * hostdev_dra_request_complete(), from any thread. Every deferred request must be completed
 * exactly once, also when the kubelet gave up on the call meanwhile (the answer is then dropped)
 * or the plugin was stopped or released (the request keeps what it needs alive).
 */
#define HOSTDEV_DRA_DEFERRED 1

/** The claim's namespace, name and uid (never NULL or empty). Owned by @req. */
const char *hostdev_dra_request_get_namespace(const hostdev_dra_request *req);
const char *hostdev_dra_request_get_name(const hostdev_dra_request *req);
const char *hostdev_dra_request_get_uid(const hostdev_dra_request *req);
/** The API version of the kubelet's call: "v1" or "v1beta1". Owned by @req. */
const char *hostdev_dra_request_get_api_version(const hostdev_dra_request *req);
/** Non-zero for NodePrepareResources, 0 for NodeUnprepareResources. */
int hostdev_dra_request_is_prepare(const hostdev_dra_request *req);

/**
 * Prepare only: add one prepared device, @device_name of pool @pool_name (both as in the
 * claim's allocation result). Returns the device's index (>= 0) for the two calls below,
 * -EINVAL (NULL or empty name, or an unprepare request), -ENOMEM.
 */
int hostdev_dra_request_add_device(hostdev_dra_request *req, const char *pool_name,
				   const char *device_name);
/**
 * Add the name of a request of the claim (ResourceClaim spec.devices.requests[].name, as in the
 * allocation result) that device @index satisfies. Returns 0, -EINVAL (bad index or empty
 * name), -ENOMEM.
 */
int hostdev_dra_request_add_request_name(hostdev_dra_request *req, int index,
					 const char *request_name);
/**
 * Add a fully qualified CDI device id ("<vendor>/<class>=<name>", see
 * hostdev_dra_cdi_spec_get_device_id()) the container runtime applies for device @index.
 * Returns 0, -EINVAL (bad index, or not of the form kind=name), -ENOMEM.
 */
int hostdev_dra_request_add_cdi_id(hostdev_dra_request *req, int index, const char *cdi_id);

/**
 * Fail the claim: @message (copied; say which device or object and what is wrong) goes to the
 * kubelet in the claim's error field, the devices added are dropped, and the kubelet retries
 * later. The other claims of the call are not affected. Returns 0, -EINVAL, -ENOMEM.
 */
int hostdev_dra_request_set_error(hostdev_dra_request *req, const char *message);

/**
 * Complete a deferred request (any thread; takes the loop's lock for a moment). The answer is
 * what was added, or the error set; the kubelet's call is answered when this was its last open
 * request. @req is gone afterwards: do not use it. May also be called by the callback itself
 * before it returns HOSTDEV_DRA_DEFERRED. A callback that returns anything else must not call
 * it: its return completes the request. Returns 0, -EINVAL for NULL or a request completed before.
 */
int hostdev_dra_request_complete(hostdev_dra_request *req);

/* ---------------------------------------------------------------------------------------------- */
/* Plugins */

/** Current version of struct hostdev_dra_plugin_ops. */
#define HOSTDEV_DRA_PLUGIN_OPS_VERSION 1

/**
 * What a driver does. Every callback gets the userdata given to hostdev_dra_plugin_new() and
 * runs on the loop's thread with the loop's lock held. Members are only ever added at the end.
 */
struct hostdev_dra_plugin_ops {
	/** HOSTDEV_DRA_PLUGIN_OPS_VERSION of the caller's header. */
	unsigned int version;
	/**
	 * Prepare claim @req: make its devices usable on this node and answer with them. Must
	 * be idempotent: the kubelet repeats Prepare for a prepared claim (after its restart,
	 * or when its call timed out). Return 0 (the answer is the devices added to @req), a
	 * negative errno (the claim fails with the message set by
	 * hostdev_dra_request_set_error(), or a message naming the errno), or
	 * HOSTDEV_DRA_DEFERRED. NULL: every claim fails ("the driver prepares no claims").
	 */
	int (*prepare)(void *userdata, hostdev_dra_request *req);
	/**
	 * Unprepare claim @req: release what prepare did. A claim this driver does not know
	 * (never prepared, or unprepared before) must succeed: the kubelet retries until it
	 * does. Returns as prepare. NULL: every unprepare succeeds.
	 */
	int (*unprepare)(void *userdata, hostdev_dra_request *req);
	/**
	 * The kubelet's plugin watcher reported the outcome of a registration
	 * (NotifyRegistrationStatus): @registered non-zero when the kubelet accepted the
	 * plugin, otherwise @error is its reason. Called on every registration, including
	 * after each kubelet restart: the kubelet deletes the node's ResourceSlices when it
	 * starts, so a driver republishes them here. May be NULL.
	 */
	void (*registration_status)(void *userdata, int registered, const char *error);
	/** Release @userdata; called once when the plugin is freed. May be NULL. */
	void (*destroy)(void *userdata);
};

/** API versions of the DRAPlugin service, for hostdev_dra_plugin_options.api_versions. */
#define HOSTDEV_DRA_API_V1 (1u << 0)	  /**< k8s.io.kubelet.pkg.apis.dra.v1 (1.34+) */
#define HOSTDEV_DRA_API_V1BETA1 (1u << 1) /**< k8s.io.kubelet.pkg.apis.dra.v1beta1 (1.32+) */

/** Current version of struct hostdev_dra_plugin_options. */
#define HOSTDEV_DRA_PLUGIN_OPTIONS_VERSION 1

/**
 * Options of hostdev_dra_plugin_new(). Initialise with hostdev_dra_plugin_options_init();
 * members are only ever added at the end. NULL means all defaults.
 */
struct hostdev_dra_plugin_options {
	/** HOSTDEV_DRA_PLUGIN_OPTIONS_VERSION of the caller's header. */
	unsigned int version;
	/**
	 * The kubelet's plugin directory: the service socket is <plugin_dir>/<driver>/dra.sock
	 * (the directory <driver> is created). NULL: <kubelet root>/plugins, that is
	 * /var/lib/kubelet/plugins (the context's HOSTDEV_PATH_KUBELET).
	 */
	const char *plugin_dir;
	/**
	 * The plugin watcher's directory, where the registration socket <driver>-reg.sock goes.
	 * NULL: <kubelet root>/plugins_registry, that is /var/lib/kubelet/plugins_registry.
	 */
	const char *registry_dir;
	/** HOSTDEV_DRA_API_* bits served and advertised; 0: all of them (the default). */
	unsigned int api_versions;
	/**
	 * Both sockets are created with mode 0600 and serve only root and this process's user;
	 * a kubelet running as another user is let in by giving its uid. -1 (the default): none.
	 */
	int kubelet_uid;
	/**
	 * Non-zero: serve the DRAPlugin socket only, no registration socket (tests, or another
	 * component registers). Default 0.
	 */
	int no_registration;
};

/** Set @opts to the defaults of this version. */
void hostdev_dra_plugin_options_init(struct hostdev_dra_plugin_options *opts);

/** Where a plugin stands with the kubelet. */
enum hostdev_dra_state {
	HOSTDEV_DRA_STOPPED = 0,     /**< not started, or stopped */
	HOSTDEV_DRA_REGISTERING = 1, /**< serving, waiting for the plugin watcher */
	HOSTDEV_DRA_REGISTERED = 2,  /**< the kubelet accepted the registration */
	HOSTDEV_DRA_SERVING = 3,     /**< serving without registration (no_registration) */
};

/** The DRA kubelet plugin of one driver. */
typedef struct hostdev_dra_plugin hostdev_dra_plugin;

/**
 * Create the plugin of driver @driver_name (a DNS subdomain of at most 63 characters, e.g.
 * "vfio.hostdev.io": the name in DeviceClasses and ResourceSlices) whose answers come from @ops
 * and @userdata (@ops is copied; @ops->destroy(@userdata) runs when the plugin is freed, also
 * when this call fails after taking it). Nothing is served before hostdev_dra_plugin_start().
 * On success *@out holds a new reference. Returns 0, -EINVAL (bad name, options or a socket
 * path longer than a Unix socket address holds), -ENOMEM.
 */
int hostdev_dra_plugin_new(hostdev_loop *loop, const char *driver_name,
			   const struct hostdev_dra_plugin_ops *ops, void *userdata,
			   const struct hostdev_dra_plugin_options *opts, hostdev_dra_plugin **out);
/** Take a reference; returns @plugin (NULL-safe). */
hostdev_dra_plugin *hostdev_dra_plugin_ref(hostdev_dra_plugin *plugin);
/**
 * Drop a reference; NULL-safe, always returns NULL. The last one stops the plugin. Deferred
 * requests keep the plugin's memory until they are completed.
 */
hostdev_dra_plugin *hostdev_dra_plugin_unref(hostdev_dra_plugin *plugin);

/**
 * Listen on the service socket, then on the registration socket (stale socket files are
 * replaced) and wait for the kubelet's plugin watcher. Returns 0, -EALREADY, -EADDRINUSE
 * (another process serves one of the sockets), or the error of creating a directory or socket.
 */
int hostdev_dra_plugin_start(hostdev_dra_plugin *plugin);
/**
 * Stop: close both sockets and their connections and remove the socket files. Calls in flight
 * get no answer (the kubelet retries them); their deferred requests must still be completed.
 * Returns 0.
 */
int hostdev_dra_plugin_stop(hostdev_dra_plugin *plugin);

/** The driver name. Owned by @plugin. */
const char *hostdev_dra_plugin_get_driver_name(const hostdev_dra_plugin *plugin);
/** Absolute path of the DRAPlugin socket (<plugin_dir>/<driver>/dra.sock). */
const char *hostdev_dra_plugin_get_socket_path(const hostdev_dra_plugin *plugin);
/** Absolute path of the registration socket; NULL with no_registration. */
const char *hostdev_dra_plugin_get_registration_path(const hostdev_dra_plugin *plugin);
/** enum hostdev_dra_state. */
int hostdev_dra_plugin_get_state(const hostdev_dra_plugin *plugin);
/** How many times the kubelet accepted a registration (1 after the first). */
unsigned int hostdev_dra_plugin_get_registrations(const hostdev_dra_plugin *plugin);

/* ---------------------------------------------------------------------------------------------- */
/* CDI spec files */

/**
 * A CDI spec (the Container Device Interface's JSON form, cdiVersion "0.3.0": the oldest version
 * with every field written, so the most runtimes take it): one kind ("<vendor>/<class>", e.g.
 * "vfio.hostdev.io/pci") and its devices, each with the device nodes the runtime creates in the
 * container. Not tied to a loop; one thread at a time.
 */
typedef struct hostdev_dra_cdi_spec hostdev_dra_cdi_spec;

/**
 * A spec of kind @kind: the vendor a domain-like name (a letter first, a letter or digit last,
 * [A-Za-z0-9.-] between), the class a letter first, a letter or digit last, [A-Za-z0-9_.-]
 * between, at most 63 characters. The spec keeps a reference of @ctx for its error messages. On
 * success *@out is the caller's (free with hostdev_dra_cdi_spec_free()). Returns 0, -EINVAL (the
 * message says which part is wrong), -ENOMEM.
 */
int hostdev_dra_cdi_spec_new(hostdev_ctx *ctx, const char *kind, hostdev_dra_cdi_spec **out);
/** Free; NULL-safe, returns NULL. */
hostdev_dra_cdi_spec *hostdev_dra_cdi_spec_free(hostdev_dra_cdi_spec *spec);

/**
 * Add device @name ([A-Za-z0-9] at both ends, [A-Za-z0-9_.-] between, unique in the spec, e.g. a
 * claim uid and device name joined by "-") with no edits yet. Returns 0, -EINVAL (bad or duplicate
 * name), -ENOMEM.
 */
int hostdev_dra_cdi_spec_add_device(hostdev_dra_cdi_spec *spec, const char *name);
/**
 * Add device @name with the nodes of a vfio-pci device: /dev/vfio/vfio and
 * /dev/vfio/<@iommu_group>, and when @vfio_cdev >= 0 the iommufd nodes /dev/iommu and
 * /dev/vfio/devices/vfio<@vfio_cdev> (pass -1 when the device has no vfio cdev). Returns 0,
 * -EINVAL (bad or duplicate name, @iommu_group not a number), -ENOMEM.
 */
int hostdev_dra_cdi_spec_add_vfio_device(hostdev_dra_cdi_spec *spec, const char *name,
					 const char *iommu_group, int vfio_cdev);
/**
 * Add device node @path (absolute, under /dev, no "." or ".." component) to device @name
 * added before; the node gets type "c" and permissions "rw". Returns 0, -EINVAL, -ENOENT (no
 * device @name), -ENOMEM.
 */
int hostdev_dra_cdi_spec_add_device_node(hostdev_dra_cdi_spec *spec, const char *name,
					 const char *path);
/**
 * The qualified CDI device id of device @name: "<kind>=<name>", malloc'ed in *@out (free with
 * hostdev_free()). Returns 0, -EINVAL, -ENOMEM.
 */
int hostdev_dra_cdi_spec_get_device_id(const hostdev_dra_cdi_spec *spec, const char *name,
				       char **out);
/** The spec as JSON text, malloc'ed in *@out (free with hostdev_free()). */
int hostdev_dra_cdi_spec_to_json(const hostdev_dra_cdi_spec *spec, char **out);

/**
 * Write the spec to @dir/@file_name atomically (a temporary file in @dir, fsync, rename over
 * the old file), mode 0644. @dir must exist (the runtime's /var/run/cdi, or a test's
 * directory) and is not followed when it is a symbolic link; @file_name is a plain name ending
 * in ".json" (CDI loaders read only .json and .yaml). A reader sees the old or the new file,
 * never a part. Returns 0, -EINVAL (bad name, spec without devices), or the errno of the file
 * system (-ENOENT no @dir, -ELOOP @dir is a symbolic link, -EACCES...).
 */
int hostdev_dra_cdi_spec_write(const hostdev_dra_cdi_spec *spec, const char *dir,
			       const char *file_name);
/**
 * Remove @dir/@file_name written by hostdev_dra_cdi_spec_write(). A file that is not there is
 * not an error. Returns 0, -EINVAL, or the errno of the file system.
 */
int hostdev_dra_cdi_spec_remove(hostdev_ctx *ctx, const char *dir, const char *file_name);

/* ---------------------------------------------------------------------------------------------- */
/* Device-metadata files (KEP-5304), as KubeVirt reads them */

/**
 * The device metadata of one request of a claim: a DeviceMetadata file (apiVersion
 * metadata.resource.k8s.io/v1alpha1) naming each device of the request with its attributes,
 * written under the driver's plugin data directory, and the CDI spec that bind-mounts it into
 * the container read-only (docs/dra.md has the paths). KubeVirt finds a passed-through PCI
 * device by the attribute resource.kubernetes.io/pciBusID and a mediated device by mdevUUID.
 */
typedef struct hostdev_dra_metadata hostdev_dra_metadata;

/**
 * Metadata for request @request of claim @namespace/@claim_name (uid @claim_uid) of driver
 * @driver. On success *@out is the caller's (free with hostdev_dra_metadata_free()). Returns 0,
 * -EINVAL (empty argument, or a name that cannot be a path component), -ENOMEM.
 */
int hostdev_dra_metadata_new(hostdev_ctx *ctx, const char *driver, const char *namespace_name,
			     const char *claim_name, const char *claim_uid, const char *request,
			     hostdev_dra_metadata **out);
/** Free; NULL-safe, returns NULL. */
hostdev_dra_metadata *hostdev_dra_metadata_free(hostdev_dra_metadata *md);
/**
 * Since HOSTDEV_1.4. Say that the claim was made from a ResourceClaimTemplate for a pod that
 * names it @pod_claim_name (pod.spec.resourceClaims[].name; the claim's annotation
 * resource.kubernetes.io/pod-claim-name): the file then says podClaimName and is mounted under
 * resourceclaimtemplates/<@pod_claim_name>/ instead of resourceclaims/<claim>/, where KubeVirt
 * and other readers look for a template's claim (its own name is generated). NULL: a claim the
 * pod names directly (the default). Returns 0, -EINVAL (not a DNS label), -ENOMEM.
 */
int hostdev_dra_metadata_set_pod_claim_name(hostdev_dra_metadata *md, const char *pod_claim_name);
/**
 * Add device @device_name of pool @pool_name; exactly one of @pci_bus_id (a PCI address
 * "dddd:bb:dd.f", attribute resource.kubernetes.io/pciBusID) and @mdev_uuid (attribute
 * mdevUUID) is non-NULL. Returns 0, -EINVAL (bad address or UUID, both or neither), -ENOMEM.
 */
int hostdev_dra_metadata_add_device(hostdev_dra_metadata *md, const char *pool_name,
				    const char *device_name, const char *pci_bus_id,
				    const char *mdev_uuid);
/**
 * The qualified CDI id of the metadata's bind mount, "<driver>/metadata=<claim uid>_<request>",
 * malloc'ed in *@out (free with hostdev_free()): add it to the claim's devices of @request.
 */
int hostdev_dra_metadata_get_cdi_id(const hostdev_dra_metadata *md, char **out);
/** The DeviceMetadata file's JSON text, malloc'ed in *@out (free with hostdev_free()). */
int hostdev_dra_metadata_to_json(const hostdev_dra_metadata *md, char **out);

/**
 * Write <@data_dir>/dra-device-metadata/<namespace>_<claim>/<request>/metadata.json
 * (directories created 0755 below @data_dir, which must exist: the driver's plugin data
 * directory, <plugin_dir>/<driver>) and the CDI spec
 * <@cdi_dir>/<driver>_metadata_<claim uid>_<request>.json that mounts it at
 * /var/run/kubernetes.io/dra-device-attributes/resourceclaims/<claim>/<request>/<driver>-metadata.json
 * (resourceclaimtemplates/<pod claim name>/... after hostdev_dra_metadata_set_pod_claim_name()).
 * Both atomically, mode 0644, no symbolic link followed below the two directories. Returns 0,
 * -EINVAL (no devices), or the errno of the file system.
 */
int hostdev_dra_metadata_write(const hostdev_dra_metadata *md, const char *data_dir,
			       const char *cdi_dir);
/**
 * Remove both files of @md's claim and request (its devices do not matter: on unprepare, make
 * one from the claim's identity alone) and the directories left empty. Files that are not
 * there are not an error. Returns 0 or the errno of the file system.
 */
int hostdev_dra_metadata_remove(const hostdev_dra_metadata *md, const char *data_dir,
				const char *cdi_dir);

#ifdef __cplusplus
}
#endif

#endif
