/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hostdev-agent: the Kubernetes node agent. It publishes the node's devices (libhostdev's public
 * API only) as Harvester-compatible objects of devices.harvesterhci.io/v1beta1 and keeps them in
 * step, driven by the hot-plug monitor and watches, with a slow resync as the safety net.
 * docs/agent.md describes the whole of it.
 */
#ifndef HOSTDEV_AGENT_H
#define HOSTDEV_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <hostdev.h>

#include "kube/kube.h"
#include "loop.h"

#define AGENT_GROUP "devices.harvesterhci.io"
#define AGENT_VERSION_NAME "v1beta1"
#define AGENT_API_VERSION AGENT_GROUP "/" AGENT_VERSION_NAME
/* Harvester's node label: its controllers select a node's objects with it. */
#define AGENT_NODE_LABEL "nodename"
/* Our own labels: vendor, device, class, driver. */
#define AGENT_LABEL_PREFIX "hostdev.io/"

/* Exit codes. */
enum {
	AGENT_EXIT_OK = 0,
	AGENT_EXIT_FAILURE = 1, /* --once could not publish, or a fatal runtime error */
	AGENT_EXIT_USAGE = 2,	/* bad flags or configuration: nothing to retry */
};

enum agent_kind { KIND_PCI, KIND_USB, KIND_SRIOV, KIND_COUNT };

enum usb_naming { USB_NAMING_PORT, USB_NAMING_HARVESTER };

enum log_format { LOG_TEXT, LOG_JSON };

enum uevent_source { UEVENT_AUTO, UEVENT_KERNEL, UEVENT_UDEV };

struct agent_options {
	const char *kubeconfig, *context, *serviceaccount_dir;
	bool allow_insecure;
	const char *node_name;
	const char *root, *sysfs, *dev, *pci_ids, *usb_ids;
	enum usb_naming usb_naming;
	unsigned int resync_s, watch_timeout_s, max_inflight;
	const char *metrics_address;
	bool once, no_monitor;
	enum log_format log_format;
	int log_level; /* HOSTDEV_LOG_* (syslog numbers) */
	enum uevent_source uevent_source;
	const char *state_dir;	 /* the library's state directory (vfio journal), NULL = default */
	const char *kubelet_dir; /* the kubelet's root (device-plugins/), NULL = default */
	bool no_claims;		 /* publish only: leave PCIDeviceClaims to another controller */
	bool serve_mdevs;	 /* serve the node's mdevs, a resource per type (mdevs.c) */
	const char *kubevirt_ns, *kubevirt_name; /* the KubeVirt CR; NULL: not kept */
	/* Dynamic Resource Allocation (docs/agent.md, "DRA"): publish ResourceSlices of driver
	 * @dra_driver; @dra_only: nothing of devices.harvesterhci.io (no CRDs needed). */
	bool dra, dra_only;
	const char *dra_driver;
	const char *dra_config; /* resource selection config; NULL: every function but bridges */
	unsigned int bind_timeout_s; /* the library's vfio timeout_ms / 1000; 0: its default */
};

#define AGENT_DRA_DEFAULT_DRIVER "vfio.hostdev.io"

/* options.c: argv and the environment (NODE_NAME, KUBECONFIG). Returns -1 after printing a usage
 * error, 1 after --help/--version, 0 to run. */
int agent_options_parse(struct agent_options *o, int argc, char **argv);

/* ---- log.c --------------------------------------------------------------------------------- */
void log_setup(enum log_format format, int level);
void log_msg(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_error(...) log_msg(HOSTDEV_LOG_ERR, __VA_ARGS__)
#define log_warning(...) log_msg(HOSTDEV_LOG_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(HOSTDEV_LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(HOSTDEV_LOG_DEBUG, __VA_ARGS__)
/* The library's log callback. */
void log_from_library(int priority, const char *message, void *userdata);

/* ---- kinds.c: the three resources --------------------------------------------------------- */
struct kind_def {
	const char *kind, *plural, *crd_name;
	struct kube_resource res;
	/* Status fields the agent owns (writes and compares), NULL-terminated. Harvester's
	 * controllers own the others (USBDevice enabled/status/message). */
	const char *const *status_fields;
	/* Spec fields the agent owns after creation, NULL-terminated. */
	const char *const *spec_fields;
	/* Status fields others own but the schema requires: the agent sets this JSON value once,
	 * when the field is missing (USBDevice enabled: false, as Harvester creates it). */
	const char *status_initial;
	/* Status fields the agent owns only when its desired object carries them (USBDevice
	 * enabled while the agent acts on USBDeviceClaims), NULL-terminated; may be NULL. */
	const char *const *status_when_set;
};
extern const struct kind_def agent_kinds[KIND_COUNT];
extern const struct kube_resource agent_node_resource, agent_crd_resource;

/* ---- naming.c ------------------------------------------------------------------------------ */
/* USBDevice object name for @mode (port identity or Harvester's); malloc'd, NULL on no memory. */
char *naming_usb_object(hostdev_usb_device *dev, enum usb_naming mode);
/* Harvester's SRIOVNetworkDevice name: lower("<node>-<interface>"); without an interface the
 * PCIDevice name. malloc'd. */
char *naming_sriov_object(hostdev_pci_device *pf, const char *node);
/* Harvester's USBDevice description: "<product> (<vendor>)" from usb.ids ("Unknown (<vendor>)",
 * "Unknown vvvv:pppp"), then " [<product string>]" when the device has one. malloc'd. */
char *naming_usb_description(hostdev_usb_device *dev);
/* Harvester's classType for a USB class code ("HID", "Mass Storage"; "Unknown (0xNN)"); NULL
 * for class 0 (not known). Static string or @buf. */
const char *naming_usb_class_type(unsigned int class_code, char *buf, size_t size);
/* A valid label value (<= 63 of [A-Za-z0-9._-], alphanumeric at both ends) or NULL. */
const char *naming_label_value(const char *text, char *buf, size_t size);
/* 1 when @text is valid UTF-8 (JSON strings must be). */
int naming_is_utf8(const char *text);
/* 1 when @name is a valid object name (DNS-1123 subdomain). */
int naming_valid_object_name(const char *name);

/* ---- inventory.c: devices -> desired objects ------------------------------------------- */
struct agent_ids {
	const char *node;
	const char *node_uid; /* NULL until the Node was read */
	enum usb_naming usb_naming;
	/* PCI address -> resource name (char *) of devices served under a name of their own
	 * (disableResourcePooling claims): their PCIDevice's status.resourceName says so, as
	 * Harvester's. Kept by claims.c; may be NULL. */
	struct strmap *resource_names;
	/* USB port path -> "<vvvv>:<pppp>\n<serial>" (char *; serial "" when the device has none)
	 * of the devices enabled by a USBDeviceClaim: their
	 * USBDevice's status.enabled is true, as Harvester's claim controller sets it. Kept by
	 * usbclaims.c; NULL (--no-claims): status.enabled is left to whoever else owns it. */
	struct strmap *usb_claimed;
};
cJSON *inventory_pci_object(const struct agent_ids *ids, hostdev_pci_device *dev);
cJSON *inventory_usb_object(const struct agent_ids *ids, hostdev_usb_device *dev);
cJSON *inventory_sriov_object(const struct agent_ids *ids, hostdev_pci_device *pf);
/* 1 when @dev gets a PCIDevice (not a bridge), 1 when it gets a SRIOVNetworkDevice (an SR-IOV
 * capable network PF). */
int inventory_wants_pci(hostdev_pci_device *dev);
int inventory_wants_sriov(hostdev_pci_device *dev);
/* Called with each object of the inventory (taken); returns 0 or a negative errno, which ends
 * the inventory. */
typedef int (*inventory_sink_fn)(enum agent_kind kind, cJSON *obj, void *userdata);
/* Every device of @ctx as objects, one at a time into @sink (none is held longer than the sink
 * holds it). Returns 0 or a negative errno (the library's message logged, or the sink's). */
int inventory_full(hostdev_ctx *ctx, const struct agent_ids *ids, inventory_sink_fn sink,
		   void *userdata);
/* The @kind object of the device @source (PCIDevice and SRIOVNetworkDevice: the PCI address;
 * USBDevice: the port path) as it is now: malloc'd, NULL when the device is gone, gets no such
 * object, or memory ran out. Reads that one device. */
cJSON *inventory_build(hostdev_ctx *ctx, const struct agent_ids *ids, enum agent_kind kind,
		       const char *source);

/* ---- schema.c: what the server keeps ------------------------------------------------------- */
/* Drop from @value what the structural schema @schema would prune (recursively; keeps all under
 * x-kubernetes-preserve-unknown-fields). NULL @schema keeps everything. */
void schema_prune(cJSON *value, const cJSON *schema);
/* The openAPIV3Schema of @version in a CRD object, or NULL. */
const cJSON *schema_of_crd(const cJSON *crd, const char *version);
/* The schema of property @name of object schema @schema, or NULL. */
const cJSON *schema_property(const cJSON *schema, const char *name);

/* ---- conditions.c: a claim controller's status condition ------------------------------------ */
/*
 * Set @status's "conditions" to the one condition @type, status "True" (@ok) or "False", with
 * @reason and @message; its lastTransitionTime is @observed's (the status the server has) when
 * that condition's status is the same, else now. 0, or -ENOMEM (@status then unchanged or with
 * an empty list).
 */
int status_set_condition(cJSON *status, const cJSON *observed, const char *type, bool ok,
			 const char *reason, const char *message);

/* ---- diff.c: desired vs observed ----------------------------------------------------------- */
enum diff_action { DIFF_NONE, DIFF_CREATE, DIFF_DELETE, DIFF_METADATA, DIFF_STATUS };
/*
 * What to do next for one object. @desired may be NULL (delete), @observed NULL (create);
 * @schema is the kind's openAPIV3Schema (NULL: no pruning). For DIFF_STATUS *@patch receives
 * the merge patch of the status ({"status":{...}}), for DIFF_METADATA nothing (the caller
 * re-applies diff_apply_metadata() to a fresh object). Only fields the agent owns are compared.
 */
enum diff_action diff_object(const struct kind_def *kind, const cJSON *desired,
			     const cJSON *observed, const cJSON *schema, cJSON **patch);
/*
 * What the reconciler keeps of an observed object (a few hundred bytes): a hash of each field
 * diff_object() compares, and the uid. diff_digest_new() returns a malloc'd digest (free with
 * diff_digest_free()), NULL on no memory; diff_digest_compare() is diff_object() against it.
 * The desired labels must all be the agent's own (nodename, hostdev.io/): only those are hashed.
 */
struct diff_digest;
struct diff_digest *diff_digest_new(const struct kind_def *kind, const cJSON *observed);
void diff_digest_free(struct diff_digest *d);
/* metadata.uid of the digested object (owned by @d), or NULL. */
const char *diff_digest_uid(const struct diff_digest *d);
enum diff_action diff_digest_compare(const struct kind_def *kind, const cJSON *desired,
				     const struct diff_digest *observed, const cJSON *schema,
				     cJSON **patch);
/*
 * What the reconciler keeps of a desired object (a few dozen bytes): one hash of each group of
 * what diff_digest_compare() compares (labels, the Node reference, the owned spec fields, the
 * owned status fields), of the object as the server would keep it (pruned by @schema, NULL: not
 * pruned), and @source, the device it is built from (copied). diff_want_new() returns NULL on no
 * memory; free with diff_want_free().
 */
struct diff_want;
struct diff_want *diff_want_new(const struct kind_def *kind, const cJSON *desired,
				const cJSON *schema, const char *source);
void diff_want_free(struct diff_want *w);
const char *diff_want_source(const struct diff_want *w);
/* true when diff_digest_compare() of the object @want was made of against @observed finds
 * nothing to write; false when it may find something: the object must be compared. */
bool diff_want_matches(const struct kind_def *kind, const struct diff_want *want,
		       const struct diff_digest *observed);
/* Make @obj's owned metadata and spec fields those of @desired (labels of ours, nodename, the
 * Node ownerReference, owned spec fields). Returns 1 when something changed. */
int diff_apply_metadata(const struct kind_def *kind, cJSON *obj, const cJSON *desired);

/* ---- desired.c: the desired objects of one kind, as the reconciler keeps them ------------- */
/*
 * Per object a want (above) and its device, never the object: the object a write needs is built
 * again from its device (one device read), an object in step costs a comparison of hashes.
 * @build returns the @kind object of device @source as it is now (malloc'd), NULL when the device
 * is gone or gets no such object (inventory_build()).
 */
typedef cJSON *(*desired_build_fn)(enum agent_kind kind, const char *source, void *userdata);
struct desired;
struct desired *desired_new(enum agent_kind kind, desired_build_fn build, void *userdata);
void desired_free(struct desired *d);
/* The device the @kind object @obj is built from (PCIDevice: status.address, SRIOVNetworkDevice:
 * spec.address, USBDevice: status.portPath; owned by @obj), or NULL. */
const char *desired_source_of(enum agent_kind kind, const cJSON *obj);
/* Set the desired object of @obj's name to @obj (taken; its want is kept, pruned by @schema, the
 * kind's openAPIV3Schema or NULL). 0, -EINVAL (no name or no device), -ENOMEM. */
int desired_put(struct desired *d, cJSON *obj, const cJSON *schema);
bool desired_remove(struct desired *d, const char *name);
bool desired_has(const struct desired *d, const char *name);
size_t desired_count(const struct desired *d);
void desired_foreach(const struct desired *d,
		     void (*fn)(const char *name, const char *source, void *userdata),
		     void *userdata);
/* The desired object @name built now (the caller deletes it; its want is refreshed), or NULL: not
 * desired, its device gone or its object named otherwise now (the device's event or the resync
 * puts it again), no memory. */
cJSON *desired_build(struct desired *d, const char *name, const cJSON *schema);
/* What to do next for @name against @observed (NULL: not on the server), as diff_digest_compare().
 * Nothing is built when the want matches @observed (DIFF_NONE); else the object is built and
 * compared: *@obj receives it for the write (the caller deletes it; NULL with DIFF_NONE and
 * DIFF_DELETE), *@patch the status patch of DIFF_STATUS. */
enum diff_action desired_compare(struct desired *d, const char *name,
				 const struct diff_digest *observed, const cJSON *schema,
				 cJSON **obj, cJSON **patch);

/* ---- metrics.c (thread-safe: the HTTP thread reads, the loop thread writes) ------------- */
void metrics_init(void);
void metrics_api_request(const char *verb, long code, double seconds);
void metrics_write(enum agent_kind kind, const char *op);
void metrics_objects(enum agent_kind kind, size_t published);
void metrics_watch(enum agent_kind kind, unsigned long restarts, unsigned long gone,
		   unsigned long bookmarks);
void metrics_reconcile_latency(double seconds);
void metrics_hotplug(const char *subsystem, const char *action);
/* @n devices read from sysfs for @why ("inventory", "event", "dra_judgement"). */
void metrics_device_reads(const char *why, unsigned long n);
void metrics_resync(double seconds);
/* This node's claims: claim name -> the reason of its Bound condition (char *); NULL: none. */
void metrics_claims(const struct strmap *reasons);
/* A bind or restore ended (@op "bind" or "restore") after @seconds. */
void metrics_claim_operation(const char *op, bool ok, double seconds);
void metrics_error(const char *what);
void metrics_set_ready(bool ready, const char *why);
bool metrics_ready(char *why, size_t size);
void metrics_heartbeat(void);
double metrics_heartbeat_age(void);
/* The eventfd the loop answers with metrics_heartbeat() and a fresh readiness (-1: none). */
void metrics_set_poke_fd(int fd);
/* On the HTTP thread, before a probe is answered: when the loop has not beaten for a few seconds,
 * ask it to (the eventfd above) and wait for it a little. The loop has no periodic timer of its
 * own: an idle agent is woken only by the probes that ask. */
void metrics_refresh(void);
/* Prometheus text exposition; malloc'd. */
char *metrics_render(void);

/* ---- http.c: /healthz /readyz /metrics ----------------------------------------------------- */
struct http_server;
/* @address "host:port" ("127.0.0.1:8080", "[::1]:0", ":8080" = every address). Returns NULL
 * with @err. *@port receives the bound port. */
struct http_server *http_start(const char *address, unsigned int *port, char *err, size_t errlen);
void http_stop(struct http_server *s);

/* ---- reconcile.c --------------------------------------------------------------------------- */
struct reconciler;
struct reconciler_options {
	struct kube_client *client;
	struct loop *loop;
	struct agent_ids ids;
	unsigned int max_inflight, watch_timeout_s;
	/* Called once when the first full pass has converged (@ok) or failed in --once mode. */
	void (*first_pass)(bool ok, void *userdata);
	/* Builds a desired object from its device when a write needs it (desired.c). */
	desired_build_fn build;
	void *userdata; /* of both */
	bool once;
};
int reconciler_new(const struct reconciler_options *opts, struct reconciler **out);
void reconciler_free(struct reconciler *r);
/* The kind's CRD (for pruning; may be NULL = keep everything). Copied. Before the first desired
 * object is given: what is kept of those is pruned by it. */
void reconciler_set_schema(struct reconciler *r, enum agent_kind kind, const cJSON *crd_schema);
/* Start the informers; the first full pass runs once they are synced and a full inventory was
 * given. */
int reconciler_start(struct reconciler *r);
/*
 * Replace the whole desired state, one object at a time (the inventory gives them as it reads the
 * devices, so no more than one is held at once): reconciler_begin() starts the new state (0 or
 * -ENOMEM), reconciler_add() gives an object of it (taken; 0 or a negative errno: see
 * desired_put()), reconciler_commit() makes it the desired state and reconciles every object, or
 * reconciler_abort() drops it and keeps the previous one (a partial state would delete the objects
 * left out).
 */
int reconciler_begin(struct reconciler *r);
int reconciler_add(struct reconciler *r, enum agent_kind kind, cJSON *obj);
void reconciler_commit(struct reconciler *r);
void reconciler_abort(struct reconciler *r);
/* Set (@obj non-NULL, taken; its name is @name) or remove one desired object and reconcile it. */
void reconciler_put(struct reconciler *r, enum agent_kind kind, const char *name, cJSON *obj);
/* The desired object @name built now from its device (owned by the reconciler, valid until the
 * next call of this function), or NULL (see desired_build()). */
const cJSON *reconciler_desired(struct reconciler *r, enum agent_kind kind, const char *name);
size_t reconciler_desired_count(const struct reconciler *r, enum agent_kind kind);
/* @fn for every desired object of @kind: its name and its device (desired_source_of()). */
void reconciler_foreach_desired(const struct reconciler *r, enum agent_kind kind,
				void (*fn)(const char *name, const char *source, void *userdata),
				void *userdata);
size_t reconciler_pending(const struct reconciler *r);
/* Stop (or resume) writing; changes are still queued and run when resumed. */
void reconciler_pause(struct reconciler *r, bool paused);

/* ---- hotplug.c: monitor events -> single-object updates --------------------------------- */
struct hotplug;
/* Called on the loop's thread after each PCI event (a device that came, went or changed
 * driver) with the function's address and whether it was removed: claims refused for a missing
 * device are judged again, the DRA publisher re-reads the devices. */
typedef void (*hotplug_pci_fn)(void *userdata, const char *address, bool removed);
/* Called on the loop's thread after each USB device event (added, removed, changed) with its
 * kernel name ("1-5"): the USB claims' servers look at their devices again. */
typedef void (*hotplug_usb_fn)(void *userdata, const char *name, bool removed);
struct hotplug *hotplug_new(hostdev_ctx *ctx, struct loop *loop, struct reconciler *r,
			    const struct agent_ids *ids, enum uevent_source source, char *err,
			    size_t errlen);
void hotplug_free(struct hotplug *h);
/* Call @fn after every PCI event. One listener (main.c passes each event on). */
void hotplug_on_pci(struct hotplug *h, hotplug_pci_fn fn, void *userdata);
/* Call @fn after every USB device event (interfaces' events are not passed on). One listener. */
void hotplug_on_usb(struct hotplug *h, hotplug_usb_fn fn, void *userdata);
/* Called on the loop's thread when uevents were lost (the kernel's socket buffer overflowed
 * while the agent was busy: netlink reports ENOBUFS once): only a full re-inventory catches up. */
typedef void (*hotplug_lost_fn)(void *userdata);
/* Call @fn when events were lost, before the events still queued are handled. One listener. */
void hotplug_on_lost(struct hotplug *h, hotplug_lost_fn fn, void *userdata);
/* Remember which objects each device produced (for removals whose snapshot is partial): the
 * reconciler's desired objects, after a full inventory. */
void hotplug_index(struct hotplug *h);
/* 1 when the error pending on the monitor's socket @fd (taken from it) says events were lost
 * (ENOBUFS), 0 when none is pending or another one was. */
int hotplug_events_lost(int fd);

/* ---- claims.c: PCIDeviceClaims bound and given back through the vfio journal -------------- */
/* The finalizer the agent puts on each claim of its node: deletion waits for the restore. */
#define AGENT_CLAIM_FINALIZER "hostdev.io/vfio-restore"
/* Annotation "true": bind the claimed device's whole IOMMU group with it. */
#define AGENT_CLAIM_GROUP_ANNOTATION "hostdev.io/bind-iommu-group"
#define AGENT_CLAIM_CRD_NAME "pcideviceclaims." AGENT_GROUP
extern const struct kube_resource agent_claim_resource;

/* ---- serving.c: the claimed devices' resources, served to the kubelet ------------------------ */
struct serving;
/* A device-plugin loop whose fd @loop watches. @registration: enum hostdev_dp_registration.
 * Returns 0 or a negative errno (message in hostdev_ctx_get_error(@ctx)). */
int serving_new(hostdev_ctx *ctx, struct loop *loop, int registration, struct serving **out);
/* Stops every server (the kubelet gets empty lists). NULL-safe. */
void serving_free(struct serving *s);
/* Build the next state: @address served under @resource. */
void serving_want(struct serving *s, const char *resource, const char *address);
/* Make the served resources what was wanted since the last commit: new resources start and
 * register, changed ones advertise their new list, resources nobody wants stop. */
void serving_commit(struct serving *s);
/* Number of resources served. */
size_t serving_count(const struct serving *s);
/* Start (listen, register) the library's built-in server of resource @i of @resources in the
 * same device-plugin loop, with the same registration: for resources whose devices the library
 * follows itself (USB claims). *@out receives the server (stop and unref it to end). Returns 0 or
 * a negative errno (message in hostdev_ctx_get_error()). */
int serving_start_builtin(struct serving *s, const hostdev_dp_resources *resources, size_t i,
			  hostdev_dp_server **out);

/* ---- kubevirt.c: KubeVirt's permittedHostDevices ----------------------------------------------
 */
/* The KubeVirt CR's annotation that records which entries the agents wrote (kubevirt.c). */
#define AGENT_KUBEVIRT_ANNOTATION "hostdev.io/permitted-host-devices"
/* The same record for the usb and mediatedDevices lists. */
#define AGENT_KUBEVIRT_USB_ANNOTATION "hostdev.io/permitted-usb"
#define AGENT_KUBEVIRT_MDEV_ANNOTATION "hostdev.io/permitted-mediated-devices"
/* The lists of permittedHostDevices kubevirt_set() takes. */
#define KUBEVIRT_LIST_PCI "pciHostDevices"
#define KUBEVIRT_LIST_USB "usb"
#define KUBEVIRT_LIST_MDEV "mediatedDevices"
struct kubevirt;
/* Keeps the KubeVirt CR @ns/@name in step for node @node. Returns 0 or -ENOMEM. */
int kubevirt_new(struct kube_client *client, struct loop *loop, const char *ns, const char *name,
		 const char *node, struct kubevirt **out);
void kubevirt_free(struct kubevirt *k);
/* What this node serves now through list @list (KUBEVIRT_LIST_*): {"<resource>": ["<selector>",
 * ...]} (taken; NULL-safe), selectors "<vendor>:<device>" (pci), "<vendor>:<product>" (usb) or
 * the mdev type name (mediatedDevices). Written with resourceVersion and conflict retries when
 * what this node wants differs from what was written. */
void kubevirt_set(struct kubevirt *k, const char *list, cJSON *want);
/* Start no more writes (the one in flight finishes): the agent is stopping. NULL-safe. */
void kubevirt_stop(struct kubevirt *k);
/* The read-modify-write's change, on its own (the unit tests): make the lists of KubeVirt object
 * @obj that @want ({"<list>": {"<resource>": ["<selector>", ...]}}) names what node @node serves
 * and the other nodes' records say. Returns 0 when @obj changed and must be written, 1 when
 * nothing changed, -EINVAL (a list that is not a list: *@bad_list names it), -ENOMEM. */
int kubevirt_apply(cJSON *obj, const char *node, const cJSON *want, const char **bad_list);

struct claims;
struct claims_options {
	struct kube_client *client;
	struct loop *loop;
	hostdev_ctx *ctx;
	const struct agent_ids *ids; /* borrowed for the lifetime of the claims */
	/* PCIDevice objects are refreshed through it after a bind or restore; may be NULL. */
	struct reconciler *reconciler;
	const cJSON *crd; /* the PCIDeviceClaim CRD (its status schema; borrowed), may be NULL */
	/* The enabled claims' devices are served through it, and permitted in the KubeVirt CR
	 * through the other; either may be NULL. */
	struct serving *serving;
	struct kubevirt *kubevirt;
	unsigned int watch_timeout_s;
	/* hostdev_vfio_options.timeout_ms of the binds and restores; 0: the library's default. */
	unsigned int bind_timeout_ms;
};
/* Returns 0 or -ENOMEM. */
int claims_new(const struct claims_options *opts, struct claims **out);
/* List and watch the claims; the first pass reconciles them with the journal. */
int claims_start(struct claims *c);
/* Look at every claim of the node again (the resync). NULL-safe. */
void claims_resync(struct claims *c);
/* A PCI device came, went or changed driver: refusals that named a missing device, and claims
 * whose device went, are judged again. NULL-safe. */
void claims_devices_changed(struct claims *c);
/* Act on no more claims (writes in flight finish): the agent is stopping. NULL-safe. */
void claims_stop(struct claims *c);
void claims_free(struct claims *c);

/* ---- usbclaims.c: USBDeviceClaims served by the device's stable identity --------------------- */
/* The finalizer on each USB claim of the node: deletion waits until its device is served no
 * more. */
#define AGENT_USB_CLAIM_FINALIZER "hostdev.io/usb-release"
/* The annotation that records the claimed device's identity on the claim (JSON: node, port,
 * vendorProduct, serial, resourceName, pciAddress): the claim outlives its USBDevice object. */
#define AGENT_USB_CLAIM_IDENTITY "hostdev.io/usb-device"
#define AGENT_USB_CLAIM_CRD_NAME "usbdeviceclaims." AGENT_GROUP
extern const struct kube_resource agent_usb_claim_resource;
struct usb_claims;
struct usb_claims_options {
	struct kube_client *client;
	struct loop *loop;
	hostdev_ctx *ctx;
	const struct agent_ids *ids; /* borrowed; ids->usb_claimed is kept here */
	/* The USBDevice objects (the claims' devices are found in it, and their enabled flag is
	 * refreshed through it); may be NULL. */
	struct reconciler *reconciler;
	const cJSON *crd; /* the USBDeviceClaim CRD (its status schema; borrowed), may be NULL */
	struct serving *serving;   /* may be NULL: nothing served */
	struct kubevirt *kubevirt; /* may be NULL: KubeVirt's CR not kept */
	unsigned int watch_timeout_s;
};
/* Returns 0 or -ENOMEM. */
int usb_claims_new(const struct usb_claims_options *opts, struct usb_claims **out);
/* List and watch the claims; the first pass serves this node's. */
int usb_claims_start(struct usb_claims *c);
/* A USB device came or went: the servers re-read their devices, the claims' status follows.
 * NULL-safe. */
void usb_claims_devices_changed(struct usb_claims *c);
/* Look at every claim again (the resync). NULL-safe. */
void usb_claims_resync(struct usb_claims *c);
/* Act on no more claims (writes in flight finish): the agent is stopping. NULL-safe. */
void usb_claims_stop(struct usb_claims *c);
/* Stops serving (the kubelet gets empty lists). NULL-safe. */
void usb_claims_free(struct usb_claims *c);

/* ---- mdevs.c: the node's mediated devices served as they are (--serve-mdevs) ------------------ */
struct mdevs;
/* Serves through @serving (borrowed) and permits in @kubevirt (borrowed, may be NULL). Returns 0
 * or -ENOMEM. */
int mdevs_new(hostdev_ctx *ctx, struct serving *serving, struct kubevirt *kubevirt,
	      struct mdevs **out);
/* Look at the node's mdevs again: a resource per type found starts, one whose type has no mdev
 * left stops, the others re-read their devices; KubeVirt's mediatedDevices entries follow.
 * NULL-safe. */
void mdevs_sync(struct mdevs *m);
/* Stops serving (the kubelet gets empty lists). NULL-safe. */
void mdevs_free(struct mdevs *m);

/* ---- sriov_vfs.c: SRIOVNetworkDevice spec.numVFs applied with the library's VF lifecycle ------ */
/* Annotation "true" on a SRIOVNetworkDevice: change the count even though VFs that go away are
 * on vfio-pci or in the vfio journal (HOSTDEV_SRIOV_FORCE). */
#define AGENT_SRIOV_FORCE_ANNOTATION "hostdev.io/sriov-force"
struct sriov_vfs;
struct sriov_vfs_options {
	struct kube_client *client;
	struct loop *loop;
	hostdev_ctx *ctx;
	const struct agent_ids *ids; /* borrowed */
	/* The PF's and the VFs' objects are written through it when a count changed; may be
	 * NULL. */
	struct reconciler *reconciler;
	const cJSON
	    *crd; /* the SRIOVNetworkDevice CRD (its status schema; borrowed), may be NULL */
	unsigned int watch_timeout_s;
	unsigned int timeout_ms; /* hostdev_sriov_options.timeout_ms; 0: the library's default */
};
/* Returns 0 or -ENOMEM. */
int sriov_vfs_new(const struct sriov_vfs_options *opts, struct sriov_vfs **out);
/* Watch this node's SRIOVNetworkDevices; a count that differs from the PF's is applied. */
int sriov_vfs_start(struct sriov_vfs *s);
/* A PCI device came, went or changed driver: refused counts are tried again. NULL-safe. */
void sriov_vfs_devices_changed(struct sriov_vfs *s);
/* Start no more changes (the one running finishes). NULL-safe. */
void sriov_vfs_stop(struct sriov_vfs *s);
/* Waits for the change running now. NULL-safe. */
void sriov_vfs_free(struct sriov_vfs *s);

/* ---- dra_devices.c: the devices offered through DRA --------------------------------------- */
/* The standard attribute KubeVirt and the scheduler read a device's PCI address from. */
#define DRA_ATTR_PCI_BUS_ID "resource.kubernetes.io/pciBusID"
/* The DRA device name of the function at @address: "pci-0000-08-00-0" (a DNS label). Returns 0
 * or -ENAMETOOLONG. */
int dra_device_name(const char *address, char *buf, size_t size);
/* One ResourceSlice device entry {name, attributes} for @dev; @resource_name NULL: the
 * device's Harvester resource name. NULL on no memory. */
cJSON *dra_device_entry(hostdev_pci_device *dev, const char *resource_name);
/* Whether DRA may offer @dev at all: not a bridge (dra_class_is_bridge()). */
bool dra_wants_pci(hostdev_pci_device *dev);
/* The entries of every device offered: those @config selects (PCI resources), or every
 * function for a NULL @config, bridges never (dra_wants_pci()); sorted by name, each device once. Returns 0 with
 * *@out (a cJSON array, caller frees) or a negative errno, logged. */
int dra_devices(hostdev_ctx *ctx, const hostdev_dp_config *config, cJSON **out);
/* @list (dra_devices()' entries, consumed) sorted by name, a device named twice once; returns
 * the sorted array (@list itself when out of memory). */
cJSON *dra_devices_sorted(cJSON *list);

/* ---- dra_group.c: the IOMMU group members a device needs beside it ------------------------- */
/* Whether a PCI class code is a bridge's (base class 06: host, ISA, PCI, other): never offered. */
bool dra_class_is_bridge(unsigned int class_code);
/* A member of a device's IOMMU group on a host driver: a bind of the device needs it in the same
 * set (the library refuses the device alone). */
struct dra_member {
	char address[HOSTDEV_PCI_ADDRESS_MAX];
	char driver[64];
	bool bridge; /* a bridge's class (an ISA/LPC bridge on lpc_ich): never offered */
};
struct dra_group {
	int group;		  /* the device's IOMMU group, -1 for none */
	struct dra_member *needs; /* the other members on host drivers, @count of them */
	size_t count;
	char chipset[HOSTDEV_PCI_ADDRESS_MAX]; /* an ISA/LPC bridge of the group, "" for none */
};
/* Read the group of the function at @address into *@out (dra_group_clear() it). Returns 0 or a
 * negative errno (@ctx's error says why); *@out is cleared on failure. */
int dra_group_read(hostdev_ctx *ctx, const char *address, struct dra_group *out);
void dra_group_clear(struct dra_group *g);

/* ---- dra_offer.c: which devices NodePrepareResources would take ----------------------------- */
/* How long a Prepare or Unprepare waits for the vfio lock another operation holds. */
#define DRA_LOCK_TIMEOUT_MS 30000u
/* The bind NodePrepareResources makes of the @count functions at @addresses (a claim's devices,
 * as one set: all or nothing, one journal transaction) for @owner (the journal's owner text, NULL
 * for none); with HOSTDEV_BIND_DRY_RUN in @flags, the same checks and nothing written. Returns
 * what hostdev_vfio_bind_set() returns; the reason is @ctx's error. */
int dra_bind_set(hostdev_ctx *ctx, const char *const *addresses, size_t count, const char *owner,
		 unsigned int flags);
/* The verdicts of the devices offered, kept per device. */
struct dra_offer;
/* A new, empty cache judging with a context of its own made from @ctx (paths, node name).
 * Returns 0 with *@out (free with dra_offer_free()) or a negative errno. */
int dra_offer_new(hostdev_ctx *ctx, struct dra_offer **out);
/* Remove from @devices (dra_devices()' entries) those a Prepare would refuse (dra_bind_set() of
 * the device with the members of its IOMMU group it needs, each of them offered too); a
 * device's reason is logged when it is first refused or the reason changes, and its return is
 * logged too. Devices judged before are not judged again until forgotten. 0 or -ENOMEM. */
int dra_offer_filter(struct dra_offer *o, cJSON *devices);
/* A hot-plug event of the function at @address: judge it and the members of its IOMMU group
 * again at the next filter. NULL-safe. */
void dra_offer_forget(struct dra_offer *o, const char *address);
/* A resync: when the guard's sources (routes, mounts: they change without PCI events) differ
 * from those every device was last judged against, judge every device again at the next filter
 * and return true; else change nothing and return false. NULL-safe. */
bool dra_offer_resync(struct dra_offer *o);
/* A hash of the guard's sources below @ctx's procfs (net/route, net/ipv6_route,
 * self/mountinfo), to tell whether they changed. */
uint64_t dra_offer_sources_hash(hostdev_ctx *ctx);
/* How many judgements (dry-run binds) @o made so far (tests). */
unsigned long dra_offer_judged(const struct dra_offer *o);
void dra_offer_free(struct dra_offer *o);

/* ---- dra_claim.c: the devices a ResourceClaim allocates to this driver ---------------------- */
/* The vfio journal's owner text of a claim's devices: this prefix and the claim's uid. */
#define DRA_OWNER_PREFIX "hostdev-agent dra "
struct dra_claim_device {
	char *request, *pool, *device; /* as in the allocation result */
	char address[32];	       /* the PCI address the device name stands for */
};
void dra_claim_devices_free(struct dra_claim_device *devices, size_t count);
/* The PCI address of DRA device name @device_name (the inverse of dra_device_name(), only for
 * the exact names it makes). Returns 0, -EINVAL, -ENAMETOOLONG. */
int dra_device_address(const char *device_name, char *buf, size_t size);
/*
 * The allocation results of driver @driver in @claim (a ResourceClaim object), which must have
 * uid @uid and be allocated from pool @pool (this node's). *@out (free with
 * dra_claim_devices_free()) and *@count receive them; none is not an error (the claim may have
 * only other drivers' devices). Returns 0, or with a sentence for the kubelet in @err: -ESTALE
 * (another claim of that name), -EAGAIN (not allocated), -EXDEV (another node's pool), -EINVAL
 * (a result without request/pool/device, a device name this driver never publishes), -ENOMEM.
 */
int dra_claim_devices(const cJSON *claim, const char *uid, const char *driver, const char *pool,
		      struct dra_claim_device **out, size_t *count, char *err, size_t errlen);

/* ---- dra_checkpoint.c: prepared claims on disk ------------------------------------------------
 */
#define DRA_CLAIM_PREPARING "preparing"
#define DRA_CLAIM_PREPARED "prepared"
#define DRA_CLAIM_UNPREPARING "unpreparing"
struct dra_checkpoint;
/* Read @path (missing: empty). Returns 0, or with @err: -EBADMSG (not a checkpoint of ours or
 * an entry without its fields: the file is left alone), the errno of reading, -ENOMEM. */
int dra_checkpoint_load(const char *path, struct dra_checkpoint **out, char *err, size_t errlen);
void dra_checkpoint_free(struct dra_checkpoint *cp);
/* The entry of claim @uid ({namespace, name, state, devices[{request, pool, device,
 * address}]}), owned by @cp, or NULL. */
const cJSON *dra_checkpoint_get(const struct dra_checkpoint *cp, const char *uid);
/* Record claim @uid in @state with @devices and replace the file. On failure (@err) memory
 * and disk keep the previous entry. Returns 0 or a negative errno. */
int dra_checkpoint_set(struct dra_checkpoint *cp, const char *uid, const char *ns, const char *name,
		       const char *state, const struct dra_claim_device *devices, size_t count,
		       char *err, size_t errlen);
/* Change the state of claim @uid only. Returns 0, -ENOENT, or the errno of writing. */
int dra_checkpoint_set_state(struct dra_checkpoint *cp, const char *uid, const char *state,
			     char *err, size_t errlen);
/* Forget claim @uid (not there: 0). Returns 0 or the errno of writing. */
int dra_checkpoint_remove(struct dra_checkpoint *cp, const char *uid, char *err, size_t errlen);
void dra_checkpoint_foreach(const struct dra_checkpoint *cp,
			    void (*fn)(const char *uid, const cJSON *entry, void *userdata),
			    void *userdata);
size_t dra_checkpoint_count(const struct dra_checkpoint *cp);

/* ---- claims_work.c: the worker thread's library context (claims' and DRA's) ----------------- */
/* A second library context with the paths, node name and logging of @ctx. */
int claims_work_context(hostdev_ctx *ctx, hostdev_ctx **out);

/* ---- dra_driver.c: NodePrepareResources and NodeUnprepareResources ------------------------- */
extern const struct kube_resource dra_claim_resource;
struct dra_driver;
struct dra_driver_options {
	struct kube_client *client; /* reads the ResourceClaims */
	struct loop *loop;
	hostdev_ctx *ctx;	     /* kubelet root (plugin sockets), sysfs and the vfio journal */
	const struct agent_ids *ids; /* borrowed: node (this driver's pool) */
	const char *driver;	     /* borrowed */
	const char *cdi_dir; /* borrowed: where the CDI specs go (the runtime's /var/run/cdi) */
	/* Called each time the kubelet accepts the registration (after each kubelet restart). */
	void (*registered)(void *userdata);
	void *userdata;
};
/* The plugin and the checkpoint (<kubelet>/plugins/<driver>/checkpoint.json). Returns 0 or a
 * negative errno, logged. */
int dra_driver_new(const struct dra_driver_options *opts, struct dra_driver **out);
/* Serve the kubelet and undo the claims a killed agent left unfinished. Returns 0 or an errno. */
int dra_driver_start(struct dra_driver *d);
/* Answer no more calls: the sockets close, Prepares reading their claim fail (the kubelet
 * retries). Prepared devices stay bound. NULL-safe. */
void dra_driver_stop(struct dra_driver *d);
void dra_driver_free(struct dra_driver *d);

/* ---- dra_slices.c: this node's ResourceSlices ----------------------------------------------- */
extern const struct kube_resource dra_slice_resource;
struct dra_slices;
struct dra_slices_options {
	struct kube_client *client;
	struct loop *loop;
	hostdev_ctx *ctx;
	const struct agent_ids *ids; /* borrowed: node, node_uid (for the owner reference) */
	const char *driver;	     /* copied */
	hostdev_dp_config *config;   /* a reference is taken; NULL: every function */
	unsigned int watch_timeout_s;
	/* Called each time the pool on the server is what the agent offers (after writes, or at
	 * once when nothing needed writing). */
	void (*published)(void *userdata);
	void *userdata;
};
/* Returns 0, -ENOMEM. */
int dra_slices_new(const struct dra_slices_options *opts, struct dra_slices **out);
/* Read the devices and start watching the pool's slices; writes follow once listed. */
int dra_slices_start(struct dra_slices *s);
/* Read the devices again (hot-plug, the kubelet's registration); writes only if the offer
 * changed. The devices NodePrepareResources would refuse are left out (dra_offer.c). NULL-safe. */
int dra_slices_refresh(struct dra_slices *s);
/* A resync: as refresh, with every device's verdict judged again. NULL-safe. */
int dra_slices_resync(struct dra_slices *s);
/* A hot-plug event of the function at @address: removed, or added or changed. The kernel sends
 * a removal before the function leaves sysfs, so a removed function is left out of the offer
 * until an event says it is back or a re-read no longer finds it. Then as refresh. */
int dra_slices_pci_event(struct dra_slices *s, const char *address, bool removed);
/* Write nothing while @paused (the Node is deleted: the garbage collector would delete what the
 * agent writes, owned by a Node that is gone); resuming looks at the pool again. NULL-safe. */
void dra_slices_pause(struct dra_slices *s, bool paused);
/* Start no more writes (those in flight finish). NULL-safe. */
void dra_slices_stop(struct dra_slices *s);
void dra_slices_free(struct dra_slices *s);

#endif
