/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hostdev-agent: start-up and the order of things. Local configuration errors (flags, NODE_NAME,
 * the kubeconfig) end the agent at once with exit 2 and a message naming what to fix. Everything
 * on the cluster's side (the API server unreachable, the Node not there yet, CRDs not applied,
 * RBAC refusing) is retried with backoff and logged each time with what to do, since a DaemonSet
 * often starts before the rest is in place; --once turns those into exit 1 instead.
 *
 * Order: the hot-plug monitor's socket is opened before the first inventory, so no event falls
 * between the two; informers list and watch this node's objects; once they are synced, the
 * inventory is diffed against them and only the differences are written.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "agent.h"

/* On SIGTERM the writes in flight may finish for this long (a DaemonSet's grace period is 30 s). */
#define DRAIN_MS 5000u
#define DRAIN_POLL_MS 20u

/* The CRDs read at start: one per published kind, then the claims'. */
enum { CRD_CLAIM = KIND_COUNT, CRD_USB_CLAIM, CRD_COUNT };

static const char *crd_name(int i)
{
	return i == CRD_CLAIM	    ? AGENT_CLAIM_CRD_NAME
	       : i == CRD_USB_CLAIM ? AGENT_USB_CLAIM_CRD_NAME
				    : agent_kinds[i].crd_name;
}

struct agent {
	struct agent_options o;
	hostdev_ctx *ctx;
	struct loop *loop;
	struct kube_client *client;
	struct reconciler *rec;
	struct claims *claims;
	struct usb_claims *usb_claims;
	struct mdevs *mdevs;
	struct sriov_vfs *sriov_vfs;
	struct serving *serving;
	struct kubevirt *kubevirt;
	struct hotplug *hotplug;
	struct dra_slices *dra;
	struct dra_driver *dra_driver; /* Prepare/Unprepare for the kubelet (not with --once) */
	char cdi_dir[4096];
	hostdev_dp_config *dra_config;
	bool dra_published; /* the ResourceSlices were published once */
	struct http_server *http;
	struct loop_source *signal_src, *resync_timer, *poke_src, *preflight_timer, *drain_timer;
	int poke_fd; /* eventfd: the probes ask the loop to beat */
	uint64_t drain_deadline;
	struct kube_backoff preflight_backoff;
	struct agent_ids ids;
	struct strmap *resource_names; /* ids.resource_names */
	struct strmap *usb_claimed;    /* ids.usb_claimed */
	/* Fixed storage: the hot-plug monitor and the reconciler keep pointers to it. */
	char node_uid[128];
	struct kube_informer *node_informer;
	bool node_gone;
	/* The published kinds' CRDs, then PCIDeviceClaim's (CRD_CLAIM). */
	cJSON *crds[CRD_COUNT];
	int crds_pending;
	bool crd_failed, published;
	bool started;		/* the inventory is published or being published */
	const char *resync_why; /* why the next resync runs early (NULL: the interval) */
	int exit_code;
};

/* Write end of the signal pipe for the handler (a signalfd would miss signals delivered to other
 * threads: libmicrohttpd's, libcurl's resolver, a preloaded library's). */
static int signal_pipe_fd = -1;
static int signal_read_fd = -1;

static void on_signal(int sig)
{
	int saved = errno;
	char c = (char)sig;

	if (write(signal_pipe_fd, &c, 1) < 0) {
		/* full: a stop is already pending */
	}
	errno = saved;
}

static void request_resync(struct agent *a, const char *why);

static void on_signal_readable(struct loop_source *src, int fd, uint32_t events, void *userdata)
{
	struct agent *a = userdata;
	char c = 0;

	if (read(fd, &c, 1) == 1 && c == SIGHUP) {
		request_resync(a, "requested by SIGHUP");
		return;
	}
	log_info("stopping (%s)", c == SIGINT ? "SIGINT" : "SIGTERM");
	if (a->drain_deadline || !a->client) {
		loop_quit(a->loop); /* a second signal: at once */
		return;
	}
	/* Start nothing new and let the writes in flight finish (a claim's finalizer, a status,
	 * a bind's PCIDevice), so that nothing is left half-written and nothing leaks. */
	claims_stop(a->claims);
	usb_claims_stop(a->usb_claims);
	sriov_vfs_stop(a->sriov_vfs);
	kubevirt_stop(a->kubevirt);
	dra_slices_stop(a->dra);
	dra_driver_stop(a->dra_driver);
	if (a->rec)
		reconciler_pause(a->rec, true);
	loop_timer_disarm(a->resync_timer);
	a->drain_deadline = loop_now_ms() + DRAIN_MS;
	loop_timer_arm(a->drain_timer, 0);
}

static void on_drain(struct loop_source *src, void *userdata)
{
	struct agent *a = userdata;
	size_t pending = kube_client_pending(a->client);

	if (pending == 0 || loop_now_ms() >= a->drain_deadline) {
		if (pending)
			log_warning("stopping with %zu API request%s unfinished", pending,
				    pending == 1 ? "" : "s");
		loop_quit(a->loop);
		return;
	}
	loop_timer_arm(a->drain_timer, DRAIN_POLL_MS);
}

static int setup_signals(struct agent *a)
{
	struct sigaction sa;
	int fds[2];

	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	signal_read_fd = fds[0];
	signal_pipe_fd = fds[1];
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	a->signal_src = loop_add_fd(a->loop, fds[0], EPOLLIN, on_signal_readable, a);
	return a->signal_src ? 0 : -errno;
}

static void finish(struct agent *a, int code)
{
	a->exit_code = code;
	loop_quit(a->loop);
}

/* ---- inventory and resync ----------------------------------------------------------------- */

struct inventory_count {
	struct reconciler *rec;
	size_t n[KIND_COUNT];
};

static int add_object(enum agent_kind kind, cJSON *obj, void *userdata)
{
	struct inventory_count *c = userdata;
	const char *own = kube_meta_string(obj, "name");
	char name[256];
	int r;

	/* Copied: the reconciler takes @obj. */
	snprintf(name, sizeof(name), "%s", own ? own : "");
	c->n[kind]++;
	r = reconciler_add(c->rec, kind, obj);
	if (r == -EINVAL) {
		/* Nothing to build it again from (no device address): left out, the rest published. */
		log_warning("inventory: %s %s names no device; not published",
			    agent_kinds[kind].kind, name);
		c->n[kind]--;
		return 0;
	}
	return r;
}

static int full_inventory(struct agent *a)
{
	struct inventory_count c = {a->rec, {0}};
	double started = loop_now_s();
	int r = reconciler_begin(a->rec);

	if (r == 0)
		r = inventory_full(a->ctx, &a->ids, add_object, &c);
	if (r == 0) {
		log_info("inventory: %zu PCI, %zu USB, %zu SR-IOV objects wanted", c.n[KIND_PCI],
			 c.n[KIND_USB], c.n[KIND_SRIOV]);
		reconciler_commit(a->rec);
		if (a->hotplug)
			hotplug_index(a->hotplug);
		metrics_resync(loop_now_s() - started);
	} else {
		reconciler_abort(a->rec);
		metrics_error("inventory");
	}
	return r;
}

/* A desired object, built again from its device when a write needs it. */
static cJSON *build_object(enum agent_kind kind, const char *source, void *userdata)
{
	struct agent *a = userdata;

	return inventory_build(a->ctx, &a->ids, kind, source);
}

/*
 * After a burst (the first publication, a resync) the heap is full of freed blocks: list pages,
 * answers, the inventory's objects. glibc keeps them for reuse, so the RSS of an idle agent would
 * stay at the burst's peak; give the free pages back to the kernel.
 */
static void give_back_memory(void)
{
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

/*
 * The full resync: every device read again and diffed against the watch caches (what matches
 * costs no request). Between resyncs the agent follows the devices by their events alone, so this
 * runs only when events may have been lost (the monitor's socket overflowed), on request (SIGHUP)
 * and every --resync-interval (default 12 h) for what changes without an event of the devices
 * (a network interface renamed, mounts and routes that decide what the guard protects).
 */
static void on_resync(struct loop_source *src, void *userdata)
{
	struct agent *a = userdata;
	const char *why = a->resync_why ? a->resync_why : "periodic";
	double started = loop_now_s();

	a->resync_why = NULL;
	if (!a->o.once && a->o.resync_s > 0 && !a->drain_deadline)
		loop_timer_arm(a->resync_timer, (uint64_t)a->o.resync_s * 1000u);
	if (a->node_gone || !a->started)
		return;
	log_info("resync (%s): reading every device again", why);
	if (a->rec)
		full_inventory(a);
	claims_resync(a->claims);
	usb_claims_resync(a->usb_claims);
	mdevs_sync(a->mdevs);
	sriov_vfs_devices_changed(a->sriov_vfs);
	dra_slices_resync(a->dra);
	log_info("resync: done in %.3f s, %zu object write%s queued", loop_now_s() - started,
		 a->rec ? reconciler_pending(a->rec) : (size_t)0,
		 a->rec && reconciler_pending(a->rec) == 1 ? "" : "s");
	give_back_memory();
}

/* A resync as soon as the loop is free (after the events being handled now). */
static void request_resync(struct agent *a, const char *why)
{
	if (a->drain_deadline)
		return;
	if (!a->started) {
		log_info("resync %s: not started yet (the first inventory is still to come)", why);
		return;
	}
	a->resync_why = why;
	loop_timer_arm(a->resync_timer, 0);
}

static void on_events_lost(void *userdata)
{
	log_warning("hot-plug events were lost (the kernel's uevent socket buffer overflowed): "
		    "reading every device again");
	request_resync(userdata, "uevents lost");
}

/* Everything the agent publishes is published: the Harvester objects (unless --dra-only) and
 * the ResourceSlices (with --dra). */
static bool all_published(const struct agent *a)
{
	return (a->o.dra_only || a->published) && (!a->o.dra || a->dra_published);
}

static void update_readiness(struct agent *a)
{
	int reachable = a->client ? kube_client_reachable(a->client) : -1;

	/* The heartbeat must not call the agent ready between the Harvester objects' first pass
	 * and the first publication of the slices. */
	if (!all_published(a) || a->node_gone)
		return;
	if (reachable == 0)
		metrics_set_ready(false, "the API server is not reachable (retrying)");
	else
		metrics_set_ready(true, "");
}

/* A probe asks (metrics_refresh()): the loop is alive, and readiness is looked at again. No
 * timer beats: an idle agent sleeps until something happens. */
static void on_poke(struct loop_source *src, int fd, uint32_t events, void *userdata)
{
	uint64_t n;

	if (read(fd, &n, sizeof(n)) < 0) {
		/* EAGAIN: another poke's read took it */
	}
	metrics_heartbeat();
	update_readiness(userdata);
}

/* Ready once everything the agent publishes is published. */
static void maybe_ready(struct agent *a)
{
	if (!all_published(a)) {
		if (a->published && a->o.dra)
			metrics_set_ready(false, "publishing this node's ResourceSlices");
		return;
	}
	give_back_memory();
	/* Ready before the log line says so: scripts act on the line. */
	metrics_set_ready(true, "");
	log_info("published the inventory of node %s: ready", a->o.node_name);
	if (a->o.once)
		finish(a, AGENT_EXIT_OK);
}

static void on_first_pass(bool ok, void *userdata)
{
	struct agent *a = userdata;

	if (!ok) {
		log_error("the first reconcile did not converge (see the errors above)");
		finish(a, AGENT_EXIT_FAILURE);
		return;
	}
	a->published = true;
	maybe_ready(a);
}

static void on_dra_published(void *userdata)
{
	struct agent *a = userdata;

	if (a->dra_published)
		return;
	a->dra_published = true;
	if (a->o.dra_only)
		a->published = true; /* readiness follows the slices alone */
	maybe_ready(a);
}

/* Each PCI hot-plug event: the DRA offer re-reads the device; a claim refused because its
 * device was missing is judged again when one comes. */
static void on_hotplug_pci(void *userdata, const char *address, bool removed)
{
	struct agent *a = userdata;

	if (a->dra && dra_slices_pci_event(a->dra, address, removed) < 0)
		metrics_error("inventory");
	if (a->claims)
		claims_devices_changed(a->claims);
	sriov_vfs_devices_changed(a->sriov_vfs);
	/* A parent's driver loaded or gone brings or takes mdev types. */
	if (!a->drain_deadline)
		mdevs_sync(a->mdevs);
}

/* Each USB device event: the claimed devices' servers and claims look again. */
static void on_hotplug_usb(void *userdata, const char *name, bool removed)
{
	usb_claims_devices_changed(((struct agent *)userdata)->usb_claims);
}

/* The kubelet deletes a node's ResourceSlices when it starts, then registers the drivers. */
static void on_dra_registered(void *userdata)
{
	struct agent *a = userdata;

	dra_slices_refresh(a->dra);
}

/* The ResourceSlices: after the Harvester objects' informers (if any) are started. */
static int start_dra(struct agent *a)
{
	struct dra_slices_options so = {.client = a->client,
					.loop = a->loop,
					.ctx = a->ctx,
					.ids = &a->ids,
					.driver = a->o.dra_driver,
					.config = a->dra_config,
					.watch_timeout_s = a->o.watch_timeout_s,
					.published = on_dra_published,
					.userdata = a};
	int r = dra_slices_new(&so, &a->dra);

	if (r < 0)
		return r;
	log_info("DRA: publishing this node's ResourceSlices of driver %s", a->o.dra_driver);
	if ((r = dra_slices_start(a->dra)) < 0 || a->o.once)
		return r;
	/* The kubelet side: the runtime reads CDI specs from /var/run/cdi (under --root for
	 * tests, like every other path). */
	snprintf(a->cdi_dir, sizeof(a->cdi_dir), "%s/var/run/cdi", a->o.root ? a->o.root : "");
	{
		struct dra_driver_options dopts = {.client = a->client,
						   .loop = a->loop,
						   .ctx = a->ctx,
						   .ids = &a->ids,
						   .driver = a->o.dra_driver,
						   .cdi_dir = a->cdi_dir,
						   .registered = on_dra_registered,
						   .userdata = a};

		if (dra_driver_new(&dopts, &a->dra_driver) < 0) {
			log_error("DRA: not serving the kubelet (see above); ResourceSlices are "
				  "still published");
			return 0;
		}
	}
	/* The slices do not depend on the kubelet side: a node whose kubelet directory is not
	 * mounted still publishes, and the error says what is missing. */
	if (dra_driver_start(a->dra_driver) < 0) {
		log_error(
		    "DRA: not serving the kubelet (see above); ResourceSlices are still published");
		dra_driver_free(a->dra_driver);
		a->dra_driver = NULL;
	}
	return 0;
}

/* ---- preflight: the Node and the CRDs ----------------------------------------------------- */

static void start_preflight(struct agent *a);
static int watch_node(struct agent *a);

static void preflight_retry(struct agent *a, const char *why)
{
	unsigned int delay;

	metrics_set_ready(false, why);
	if (a->o.once) {
		finish(a, AGENT_EXIT_FAILURE);
		return;
	}
	delay = kube_backoff_next(&a->preflight_backoff);
	log_info("retrying in %.1f s", delay / 1000.0);
	loop_timer_arm(a->preflight_timer, delay);
}

static void on_preflight_timer(struct loop_source *src, void *userdata)
{
	start_preflight(userdata);
}

static const char *auth_hint(long code)
{
	if (code == 401)
		return ": the credentials were rejected; check the token or client certificate of "
		       "the configuration";
	if (code == 403)
		return ": grant the agent's ClusterRole this permission (docs/agent.md, "
		       "\"Permissions\")";
	return "";
}

/* Claims are acted on once the publisher runs: a bind refreshes the device's PCIDevice. */
static int start_claims(struct agent *a)
{
	struct claims_options co = {.client = a->client,
				    .loop = a->loop,
				    .ctx = a->ctx,
				    .ids = &a->ids,
				    .reconciler = a->rec,
				    .crd = a->crds[CRD_CLAIM],
				    .watch_timeout_s = a->o.watch_timeout_s,
				    .bind_timeout_ms = a->o.bind_timeout_s * 1000u};
	struct usb_claims_options uo = {.client = a->client,
					.loop = a->loop,
					.ctx = a->ctx,
					.ids = &a->ids,
					.reconciler = a->rec,
					.crd = a->crds[CRD_USB_CLAIM],
					.watch_timeout_s = a->o.watch_timeout_s};
	struct sriov_vfs_options so = {.client = a->client,
				       .loop = a->loop,
				       .ctx = a->ctx,
				       .ids = &a->ids,
				       .reconciler = a->rec,
				       .crd = a->crds[KIND_SRIOV],
				       .watch_timeout_s = a->o.watch_timeout_s};
	int r = serving_new(a->ctx, a->loop, HOSTDEV_DP_REGISTER_CLASSIC, &a->serving);

	if (r < 0)
		return r;
	co.serving = a->serving;
	if (a->o.kubevirt_ns &&
	    (r = kubevirt_new(a->client, a->loop, a->o.kubevirt_ns, a->o.kubevirt_name,
			      a->o.node_name, &a->kubevirt)) < 0)
		return r;
	co.kubevirt = a->kubevirt;
	r = claims_new(&co, &a->claims);
	if (r < 0 || (r = claims_start(a->claims)) < 0)
		return r;
	uo.serving = a->serving;
	uo.kubevirt = a->kubevirt;
	r = usb_claims_new(&uo, &a->usb_claims);
	if (r < 0 || (r = usb_claims_start(a->usb_claims)) < 0)
		return r;
	if (a->o.serve_mdevs) {
		if ((r = mdevs_new(a->ctx, a->serving, a->kubevirt, &a->mdevs)) < 0)
			return r;
		mdevs_sync(a->mdevs);
	}
	r = sriov_vfs_new(&so, &a->sriov_vfs);
	return r < 0 ? r : sriov_vfs_start(a->sriov_vfs);
}

static void start_reconciler(struct agent *a)
{
	struct reconciler_options ro = {.client = a->client,
					.loop = a->loop,
					.ids = a->ids,
					.max_inflight = a->o.max_inflight,
					.watch_timeout_s = a->o.watch_timeout_s,
					.first_pass = on_first_pass,
					.build = build_object,
					.userdata = a,
					.once = a->o.once};
	char err[512];

	if (!a->o.dra_only && reconciler_new(&ro, &a->rec) < 0) {
		log_error("out of memory");
		finish(a, AGENT_EXIT_FAILURE);
		return;
	}
	for (int k = 0; a->rec && k < KIND_COUNT; k++)
		reconciler_set_schema(a->rec, (enum agent_kind)k, a->crds[k]);
	if (!a->o.once) {
		a->hotplug = hotplug_new(a->ctx, a->loop, a->rec, &a->ids, a->o.uevent_source, err,
					 sizeof(err));
		if (!a->hotplug) {
			log_error("%s", err);
			finish(a, AGENT_EXIT_FAILURE);
			return;
		}
		hotplug_on_pci(a->hotplug, on_hotplug_pci, a);
		hotplug_on_usb(a->hotplug, on_hotplug_usb, a);
		hotplug_on_lost(a->hotplug, on_events_lost, a);
	}
	metrics_set_ready(false, "listing this node's objects");
	if (a->rec && (reconciler_start(a->rec) < 0 || full_inventory(a) < 0)) {
		log_error("cannot start publishing (see above)");
		finish(a, AGENT_EXIT_FAILURE);
		return;
	}
	if (a->o.dra && start_dra(a) < 0) {
		log_error("cannot start publishing the ResourceSlices (see above)");
		finish(a, AGENT_EXIT_FAILURE);
		return;
	}
	if (!a->o.once && !a->o.no_claims && !a->o.dra_only && start_claims(a) < 0) {
		log_error("out of memory");
		finish(a, AGENT_EXIT_FAILURE);
		return;
	}
	if (!a->o.once && watch_node(a) < 0) {
		log_error("out of memory");
		finish(a, AGENT_EXIT_FAILURE);
		return;
	}
	a->started = true;
	if (!a->o.once && a->o.resync_s > 0)
		loop_timer_arm(a->resync_timer, (uint64_t)a->o.resync_s * 1000u);
}

/* ---- the Node: deleted -> stop publishing (the garbage collector removes the objects), back
 * with a new uid -> publish again with owner references to the new Node ---------------------- */

static void node_changed(struct agent *a, const cJSON *node)
{
	const char *uid = kube_meta_string(node, "uid");

	if (!node) {
		if (!a->node_gone)
			log_warning(
			    "node %s was deleted: Kubernetes removes its objects; publishing "
			    "stops until the Node exists again",
			    a->o.node_name);
		a->node_gone = true;
		if (a->rec)
			reconciler_pause(a->rec, true);
		dra_slices_pause(a->dra, true);
		metrics_set_ready(false, "the Node was deleted");
		return;
	}
	if (!uid || (!a->node_gone && strcmp(uid, a->node_uid) == 0))
		return;
	if (strcmp(uid, a->node_uid) != 0) {
		log_info("node %s exists again (uid %s): publishing", a->o.node_name, uid);
		snprintf(a->node_uid, sizeof(a->node_uid), "%s", uid);
	}
	a->node_gone = false;
	if (a->rec) {
		reconciler_pause(a->rec, false);
		full_inventory(a);
	}
	/* The slices' owner reference names the Node's uid: written again if it changed. */
	dra_slices_pause(a->dra, false);
	dra_slices_refresh(a->dra);
}

static void on_node_synced(struct kube_informer *inf, void *userdata)
{
	struct agent *a = userdata;
	char name[256];

	snprintf(name, sizeof(name), "%s", a->o.node_name);
	node_changed(a, kube_informer_get(inf, name));
}

static void on_node_event(struct kube_informer *inf, enum kube_event_type type, const char *name,
			  const cJSON *obj, void *userdata)
{
	node_changed(userdata, type == KUBE_DELETED ? NULL : obj);
}

static void on_node_error(struct kube_informer *inf, const struct kube_response *resp,
			  void *userdata)
{
	log_warning("watch of node %s: %s%s; retrying with backoff",
		    ((struct agent *)userdata)->o.node_name, resp->error, auth_hint(resp->code));
}

static int watch_node(struct agent *a)
{
	static const struct kube_informer_callbacks cb = {on_node_synced, on_node_event,
							  on_node_error};
	char selector[300];
	struct kube_informer_options opts = {.field_selector = selector,
					     .watch_timeout_s = a->o.watch_timeout_s};
	int r;

	snprintf(selector, sizeof(selector), "metadata.name=%s", a->o.node_name);
	r = kube_informer_new(a->client, &agent_node_resource, NULL, &opts, &cb, a,
			      &a->node_informer);
	if (r == 0)
		r = kube_informer_start(a->node_informer);
	return r;
}

static void on_crd(struct kube_client *c, const struct kube_response *resp, void *userdata);

static void crds_done(struct agent *a)
{
	char missing[512] = "";
	size_t n = 0;

	if (a->crd_failed) {
		preflight_retry(a, "cannot read the CRDs");
		return;
	}
	for (int k = 0; k < CRD_COUNT; k++)
		if (!a->crds[k] &&
		    !((k == CRD_CLAIM || k == CRD_USB_CLAIM) && (a->o.no_claims || a->o.once)))
			n += (size_t)snprintf(missing + n, sizeof(missing) - n, "%s%s",
					      n ? ", " : "", crd_name(k));
	if (n) {
		log_error("missing CustomResourceDefinitions: %s; apply them (kubectl apply -f "
			  "examples/agent/deploy/crds/, or Harvester's pcidevices CRDs)",
			  missing);
		preflight_retry(a, "CRDs missing");
		return;
	}
	kube_backoff_reset(&a->preflight_backoff);
	start_reconciler(a);
}

static void on_crd(struct kube_client *c, const struct kube_response *resp, void *userdata)
{
	struct agent *a = userdata;
	cJSON *crd = resp->code == 200 ? cJSON_ParseWithLength(resp->body, resp->len) : NULL;
	const char *name = kube_meta_string(crd, "name");

	if (crd && name) {
		for (int k = 0; k < CRD_COUNT; k++)
			if (strcmp(name, crd_name(k)) == 0) {
				cJSON_Delete(a->crds[k]);
				a->crds[k] = crd;
				crd = NULL;
				if (!schema_of_crd(a->crds[k], AGENT_VERSION_NAME)) {
					log_error(
					    "CustomResourceDefinition %s does not serve version "
					    "%s with a schema: apply the CRDs of "
					    "examples/agent/deploy/crds/",
					    name, AGENT_VERSION_NAME);
					cJSON_Delete(a->crds[k]);
					a->crds[k] = NULL;
				}
			}
	} else if (resp->code != 404) {
		log_error("%s%s", resp->error, auth_hint(resp->code));
		a->crd_failed = true;
	}
	cJSON_Delete(crd);
	if (--a->crds_pending == 0)
		crds_done(a);
}

static void check_crds(struct agent *a)
{
	a->crd_failed = false;
	a->crds_pending = CRD_COUNT;
	for (int k = 0; k < CRD_COUNT; k++) {
		cJSON_Delete(a->crds[k]);
		a->crds[k] = NULL;
	}
	for (int k = 0; k < CRD_COUNT; k++)
		if (!kube_get(a->client, &agent_crd_resource, NULL, crd_name(k), on_crd, a)) {
			a->crd_failed = true;
			if (--a->crds_pending == 0)
				crds_done(a);
		}
}

static void on_node(struct kube_client *c, const struct kube_response *resp, void *userdata)
{
	struct agent *a = userdata;
	cJSON *node = resp->code == 200 ? cJSON_ParseWithLength(resp->body, resp->len) : NULL;
	const char *uid = kube_meta_string(node, "uid");

	if (!uid) {
		if (resp->code == 404)
			log_error("node %s does not exist on the API server (%s): NODE_NAME (or "
				  "--node-name) must be this node's Kubernetes name, spec.nodeName",
				  a->o.node_name, resp->error);
		else if (resp->code == 200)
			log_error("GET node %s: the answer has no metadata.uid", a->o.node_name);
		else
			log_error("%s%s", resp->error, auth_hint(resp->code));
		cJSON_Delete(node);
		preflight_retry(a, resp->code == 0 ? "the API server is not reachable"
						   : "cannot read this node's Node object");
		return;
	}
	snprintf(a->node_uid, sizeof(a->node_uid), "%s", uid);
	a->ids.node_uid = a->node_uid;
	cJSON_Delete(node);
	if (a->o.dra_only) {
		/* No devices.harvesterhci.io objects: their CRDs are not needed. */
		kube_backoff_reset(&a->preflight_backoff);
		start_reconciler(a);
		return;
	}
	check_crds(a);
}

static void start_preflight(struct agent *a)
{
	metrics_set_ready(false, "reading the Node and the CRDs");
	if (!kube_get(a->client, &agent_node_resource, NULL, a->o.node_name, on_node, a))
		preflight_retry(a, "out of memory");
}

/* ---- set-up -------------------------------------------------------------------------------- */

static void observe_request(const char *verb, long code, double seconds, void *userdata)
{
	metrics_api_request(verb, code, seconds);
}

static int setup_context(struct agent *a)
{
	int r = hostdev_ctx_new(&a->ctx);

	if (r < 0) {
		log_error("cannot create the libhostdev context: %s", strerror(-r));
		return r;
	}
	hostdev_ctx_set_log_fn(a->ctx, log_from_library, NULL);
	hostdev_ctx_set_log_priority(a->ctx, a->o.log_level);
	if (a->o.root && (r = hostdev_ctx_set_root(a->ctx, a->o.root)) < 0)
		goto fail;
	if (a->o.state_dir &&
	    (r = hostdev_ctx_set_path(a->ctx, HOSTDEV_PATH_STATE, a->o.state_dir)) < 0)
		goto fail;
	if (a->o.sysfs && (r = hostdev_ctx_set_path(a->ctx, HOSTDEV_PATH_SYSFS, a->o.sysfs)) < 0)
		goto fail;
	if (a->o.dev && (r = hostdev_ctx_set_path(a->ctx, HOSTDEV_PATH_DEV, a->o.dev)) < 0)
		goto fail;
	if (a->o.kubelet_dir &&
	    (r = hostdev_ctx_set_path(a->ctx, HOSTDEV_PATH_KUBELET, a->o.kubelet_dir)) < 0)
		goto fail;
	if (a->o.pci_ids &&
	    (r = hostdev_ctx_set_path(a->ctx, HOSTDEV_PATH_PCI_IDS, a->o.pci_ids)) < 0)
		goto fail;
	if (a->o.usb_ids &&
	    (r = hostdev_ctx_set_path(a->ctx, HOSTDEV_PATH_USB_IDS, a->o.usb_ids)) < 0)
		goto fail;
	if ((r = hostdev_ctx_set_node_name(a->ctx, a->o.node_name)) < 0)
		goto fail;
	if (a->o.dra_config &&
	    (r = hostdev_dp_config_load(a->ctx, a->o.dra_config, &a->dra_config)) < 0) {
		log_error("--dra-config %s: %s", a->o.dra_config, hostdev_ctx_get_error(a->ctx));
		return r;
	}
	return 0;
fail:
	log_error("device paths: %s", hostdev_ctx_get_error(a->ctx));
	return r;
}

static int setup_client(struct agent *a)
{
	struct kube_config cfg;
	struct kube_client_options co = {.user_agent = "hostdev-agent/" HOSTDEV_AGENT_VERSION,
					 .max_retries = a->o.once ? 2 : 5,
					 .observe = observe_request};
	char err[768];
	int r;

	if (a->o.kubeconfig)
		r = kube_config_load_kubeconfig(&cfg, a->o.kubeconfig, a->o.context,
						a->o.allow_insecure, err, sizeof(err));
	else
		r = kube_config_in_cluster(&cfg, a->o.serviceaccount_dir, err, sizeof(err));
	if (r < 0) {
		log_error("%s", err);
		return -1;
	}
	log_info("API server %s (%s)", cfg.server, cfg.source);
	if (kube_client_new(a->loop, &cfg, &co, &a->client, err, sizeof(err)) < 0) {
		kube_config_clear(&cfg);
		log_error("%s", err);
		return -1;
	}
	return 0;
}

static void teardown(struct agent *a)
{
	hotplug_free(a->hotplug);
	dra_driver_free(a->dra_driver);
	dra_slices_free(a->dra);
	hostdev_dp_config_unref(a->dra_config);
	claims_free(a->claims);
	usb_claims_free(a->usb_claims);
	mdevs_free(a->mdevs);
	sriov_vfs_free(a->sriov_vfs);
	serving_free(a->serving);
	kubevirt_free(a->kubevirt);
	kube_informer_free(a->node_informer);
	reconciler_free(a->rec);
	kube_client_free(a->client);
	http_stop(a->http);
	loop_source_remove(a->signal_src);
	loop_source_remove(a->resync_timer);
	metrics_set_poke_fd(-1);
	loop_source_remove(a->poke_src);
	if (a->poke_fd >= 0)
		close(a->poke_fd);
	loop_source_remove(a->preflight_timer);
	loop_source_remove(a->drain_timer);
	loop_free(a->loop);
	hostdev_ctx_unref(a->ctx);
	strmap_free(a->resource_names);
	strmap_free(a->usb_claimed);
	for (int k = 0; k < CRD_COUNT; k++)
		cJSON_Delete(a->crds[k]);
	if (signal_read_fd >= 0) {
		close(signal_read_fd);
		close(signal_pipe_fd);
	}
}

int main(int argc, char **argv)
{
	struct agent a;
	unsigned int port = 0;
	char err[512];
	int r;

	memset(&a, 0, sizeof(a));
	a.poke_fd = -1;
	r = agent_options_parse(&a.o, argc, argv);
	if (r != 0)
		return r > 0 ? AGENT_EXIT_OK : AGENT_EXIT_USAGE;
	log_setup(a.o.log_format, a.o.log_level);
	if (!a.o.node_name) {
		log_error("the node name is not set: set NODE_NAME from the downward API (env "
			  "valueFrom fieldRef spec.nodeName) or pass --node-name");
		return AGENT_EXIT_USAGE;
	}
	log_info("hostdev-agent %s (libhostdev %s) on node %s", HOSTDEV_AGENT_VERSION,
		 hostdev_version(), a.o.node_name);
	a.exit_code = AGENT_EXIT_OK;
	a.ids.node = a.o.node_name;
	a.ids.usb_naming = a.o.usb_naming;
	a.resource_names = strmap_new(free);
	a.ids.resource_names = a.resource_names;
	/* Who owns USBDevice status.enabled: the agent while it acts on claims. */
	if (!a.o.no_claims && !a.o.once && !a.o.dra_only) {
		a.usb_claimed = strmap_new(free);
		a.ids.usb_claimed = a.usb_claimed;
	}
	metrics_init();
	kube_backoff_init(&a.preflight_backoff, 1000, 60000);
	if (setup_context(&a) < 0) {
		teardown(&a);
		return AGENT_EXIT_USAGE;
	}
	if (loop_new(&a.loop) < 0 || setup_signals(&a) < 0 ||
	    !(a.resync_timer = loop_add_timer(a.loop, on_resync, &a)) ||
	    (a.poke_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
	    !(a.poke_src = loop_add_fd(a.loop, a.poke_fd, EPOLLIN, on_poke, &a)) ||
	    !(a.preflight_timer = loop_add_timer(a.loop, on_preflight_timer, &a)) ||
	    !(a.drain_timer = loop_add_timer(a.loop, on_drain, &a))) {
		log_error("cannot set up the event loop: %s", strerror(errno));
		teardown(&a);
		return AGENT_EXIT_FAILURE;
	}
	if (setup_client(&a) < 0) {
		teardown(&a);
		return AGENT_EXIT_USAGE;
	}
	if (!a.o.once) {
		a.http = http_start(a.o.metrics_address, &port, err, sizeof(err));
		if (!a.http) {
			log_error("%s", err);
			teardown(&a);
			return AGENT_EXIT_USAGE;
		}
		log_info("serving /healthz, /readyz and /metrics on %s (port %u)",
			 a.o.metrics_address, port);
		metrics_set_poke_fd(a.poke_fd);
	}
	start_preflight(&a);
	r = loop_run(a.loop);
	if (r < 0) {
		log_error("event loop: %s", strerror(-r));
		a.exit_code = AGENT_EXIT_FAILURE;
	}
	teardown(&a);
	return a.exit_code;
}
