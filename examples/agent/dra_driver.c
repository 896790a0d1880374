/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The DRA driver's kubelet side: the library's DRA plugin (on a hostdev_loop whose fd the agent's
 * loop watches, as serving.c does for the device plugins) answering NodePrepareResources and
 * NodeUnprepareResources.
 *
 * Prepare reads the ResourceClaim (the kubelet names it only), so its answer is deferred until
 * the GET returns on the agent's loop. Then every step is recorded before it is taken: the
 * checkpoint says "preparing" with the devices, the devices are bound to vfio-pci through the
 * journal with the owner text DRA_OWNER_PREFIX<claim uid>, the CDI spec and the metadata files
 * are written, and the checkpoint says "prepared". A prepared claim is answered from the
 * checkpoint (the kubelet repeats Prepare). Unprepare is the reverse and needs only the
 * checkpoint (the claim may be gone). At start a claim left "preparing" or "unpreparing" by a
 * killed agent is undone: the kubelet retries the Prepare it never got an answer for.
 *
 * The library's bind and restore are synchronous and run on the loop's thread, as claims.c's do.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>

#include "agent.h"

#define DRA_LOCK_TIMEOUT_MS 30000u

struct dra_driver {
	struct dra_driver_options o;
	hostdev_loop *hl;
	struct loop_source *src;
	hostdev_dra_plugin *plugin;
	struct dra_checkpoint *cp;
	char data_dir[PATH_MAX]; /* <plugin dir>/<driver>: metadata files and the checkpoint */
	char kind[128];		 /* the CDI kind "<driver>/pci" */
	bool stopped;
	struct pending_prepare *pending; /* GETs in flight, each owning its deferred request */
};

/* A Prepare waiting for its ResourceClaim. */
struct pending_prepare {
	struct dra_driver *d;
	hostdev_dra_request *req;
	struct kube_request *get;
	struct pending_prepare *next;
};

static void owner_of(const char *uid, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s", DRA_OWNER_PREFIX, uid);
}

/* The CDI spec's file name of a claim: one spec per claim. */
static void cdi_file_of(const struct dra_driver *d, const char *uid, char *buf, size_t size)
{
	snprintf(buf, size, "%s_%s.json", d->o.driver, uid);
}

/* The CDI device name of one device of a claim. */
static void cdi_name_of(const char *uid, const char *device, char *buf, size_t size)
{
	snprintf(buf, size, "%s-%s", uid, device);
}

static const char *str_at(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) ? v->valuestring : "";
}

/* Remove the claim's CDI spec and metadata files (each request's). Returns 0 or an errno. */
static int remove_files(struct dra_driver *d, const char *uid, const cJSON *entry)
{
	const cJSON *dev;
	char file[512];
	int r, ret = 0;

	cdi_file_of(d, uid, file, sizeof(file));
	if ((r = hostdev_dra_cdi_spec_remove(d->o.ctx, d->o.cdi_dir, file)) < 0)
		ret = r;
	cJSON_ArrayForEach(dev, cJSON_GetObjectItemCaseSensitive(entry, "devices"))
	{
		hostdev_dra_metadata *md = NULL;

		if (hostdev_dra_metadata_new(d->o.ctx, d->o.driver, str_at(entry, "namespace"),
					     str_at(entry, "name"), uid, str_at(dev, "request"),
					     &md) < 0)
			continue;
		if ((r = hostdev_dra_metadata_remove(md, d->data_dir, d->o.cdi_dir)) < 0)
			ret = r;
		hostdev_dra_metadata_free(md);
	}
	return ret;
}

/* Give the claim's devices back, remove its files, forget it. Returns 0 or an errno (@err). */
static int undo_claim(struct dra_driver *d, const char *uid, char *err, size_t errlen)
{
	const cJSON *entry = dra_checkpoint_get(d->cp, uid);
	struct hostdev_vfio_options opts = HOSTDEV_VFIO_OPTIONS_INIT;
	char owner[HOSTDEV_VFIO_OWNER_MAX + 1];
	int r;

	if (!entry)
		return 0;
	if ((r = dra_checkpoint_set_state(d->cp, uid, DRA_CLAIM_UNPREPARING, err, errlen)) < 0)
		return r;
	entry = dra_checkpoint_get(d->cp, uid);
	owner_of(uid, owner, sizeof(owner));
	opts.owner = owner;
	opts.lock_timeout_ms = DRA_LOCK_TIMEOUT_MS;
	r = hostdev_vfio_restore_all(d->o.ctx, &opts, 0);
	if (r < 0) {
		snprintf(err, errlen, "claim %s/%s: giving its devices back failed: %s",
			 str_at(entry, "namespace"), str_at(entry, "name"),
			 hostdev_ctx_get_error(d->o.ctx));
		return r;
	}
	if ((r = remove_files(d, uid, entry)) < 0) {
		snprintf(err, errlen, "claim %s/%s: removing its CDI files failed: %s",
			 str_at(entry, "namespace"), str_at(entry, "name"),
			 hostdev_ctx_get_error(d->o.ctx));
		return r;
	}
	log_info("DRA: claim %s/%s (%s): its devices given back, its files removed",
		 str_at(entry, "namespace"), str_at(entry, "name"), uid);
	return dra_checkpoint_remove(d->cp, uid, err, errlen);
}

/* Answer @req with the checkpoint entry of a prepared claim. */
static int answer_prepared(struct dra_driver *d, hostdev_dra_request *req, const char *uid,
			   const cJSON *entry)
{
	const cJSON *dev;
	int r;

	cJSON_ArrayForEach(dev, cJSON_GetObjectItemCaseSensitive(entry, "devices"))
	{
		hostdev_dra_metadata *md = NULL;
		char name[256], id[512], *md_id = NULL;
		int i =
		    hostdev_dra_request_add_device(req, str_at(dev, "pool"), str_at(dev, "device"));

		if (i < 0)
			return i;
		cdi_name_of(uid, str_at(dev, "device"), name, sizeof(name));
		snprintf(id, sizeof(id), "%s=%s", d->kind, name);
		if ((r = hostdev_dra_request_add_request_name(req, i, str_at(dev, "request"))) <
			0 ||
		    (r = hostdev_dra_request_add_cdi_id(req, i, id)) < 0)
			return r;
		r = hostdev_dra_metadata_new(d->o.ctx, d->o.driver, str_at(entry, "namespace"),
					     str_at(entry, "name"), uid, str_at(dev, "request"),
					     &md);
		if (r == 0 && (r = hostdev_dra_metadata_get_cdi_id(md, &md_id)) == 0)
			r = hostdev_dra_request_add_cdi_id(req, i, md_id);
		hostdev_free(md_id);
		hostdev_dra_metadata_free(md);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Bind one device for claim @uid; a refusal names the device and the library's reason. */
static int bind_device(struct dra_driver *d, const char *ns, const char *name,
		       const struct dra_claim_device *dev, const char *owner, char *err,
		       size_t errlen)
{
	struct hostdev_vfio_options opts = HOSTDEV_VFIO_OPTIONS_INIT;
	const char *addresses[1] = {dev->address};
	int r;

	opts.owner = owner;
	opts.lock_timeout_ms = DRA_LOCK_TIMEOUT_MS;
	r = hostdev_vfio_bind_set(d->o.ctx, addresses, 1, &opts, 0);
	if (r >= 0)
		return 0;
	snprintf(err, errlen, "claim %s/%s: device %s (%s) cannot be given to vfio-pci: %s%s", ns,
		 name, dev->device, dev->address, hostdev_ctx_get_error(d->o.ctx),
		 r == -EPERM   ? ". Allocate another device"
		 : r == -EBUSY ? ". Its IOMMU group has members on host drivers: allocate them "
				 "to the claim too, or another device"
			       : "");
	return r;
}

/* The CDI spec and the metadata files of the claim's bound devices. */
static int write_files(struct dra_driver *d, const char *ns, const char *name, const char *uid,
		       const struct dra_claim_device *devs, size_t n, char *err, size_t errlen)
{
	hostdev_dra_cdi_spec *spec = NULL;
	char file[512];
	int r;

	if ((r = hostdev_dra_cdi_spec_new(d->o.ctx, d->kind, &spec)) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		hostdev_pci_device *pd = NULL;
		char cname[256], group[16];

		if ((r = hostdev_pci_device_new(d->o.ctx, devs[i].address, &pd)) < 0)
			goto out;
		snprintf(group, sizeof(group), "%d", hostdev_pci_device_get_iommu_group(pd));
		hostdev_pci_device_unref(pd);
		cdi_name_of(uid, devs[i].device, cname, sizeof(cname));
		if ((r = hostdev_dra_cdi_spec_add_vfio_device(spec, cname, group, -1)) < 0)
			goto out;
	}
	cdi_file_of(d, uid, file, sizeof(file));
	if ((r = hostdev_dra_cdi_spec_write(spec, d->o.cdi_dir, file)) < 0)
		goto out;
	/* One metadata file per request, with that request's devices. */
	for (size_t i = 0; i < n; i++) {
		hostdev_dra_metadata *md = NULL;
		bool seen = false;

		for (size_t k = 0; k < i; k++)
			seen = seen || strcmp(devs[k].request, devs[i].request) == 0;
		if (seen)
			continue;
		if ((r = hostdev_dra_metadata_new(d->o.ctx, d->o.driver, ns, name, uid,
						  devs[i].request, &md)) < 0)
			goto out;
		for (size_t k = i; k < n && r >= 0; k++)
			if (strcmp(devs[k].request, devs[i].request) == 0)
				r = hostdev_dra_metadata_add_device(
				    md, devs[k].pool, devs[k].device, devs[k].address, NULL);
		if (r >= 0)
			r = hostdev_dra_metadata_write(md, d->data_dir, d->o.cdi_dir);
		hostdev_dra_metadata_free(md);
		if (r < 0)
			goto out;
	}
out:
	if (r < 0)
		snprintf(err, errlen, "claim %s/%s: writing its CDI files failed: %s", ns, name,
			 hostdev_ctx_get_error(d->o.ctx));
	hostdev_dra_cdi_spec_free(spec);
	return r;
}

static void fail_request(hostdev_dra_request *req, const char *msg)
{
	log_warning("DRA: prepare of claim %s/%s: %s", hostdev_dra_request_get_namespace(req),
		    hostdev_dra_request_get_name(req), msg);
	hostdev_dra_request_set_error(req, msg);
	hostdev_dra_request_complete(req);
}

static void on_claim(struct kube_client *c, const struct kube_response *resp, void *userdata)
{
	struct pending_prepare *p = userdata;
	struct dra_driver *d = p->d;
	hostdev_dra_request *req = p->req;
	const char *ns = hostdev_dra_request_get_namespace(req);
	const char *name = hostdev_dra_request_get_name(req);
	const char *uid = hostdev_dra_request_get_uid(req);
	struct dra_claim_device *devs = NULL;
	size_t n = 0;
	char err[1024] = "", owner[HOSTDEV_VFIO_OWNER_MAX + 1];
	const cJSON *entry;
	cJSON *claim = NULL;
	int r;

	(void)c;
	for (struct pending_prepare **pp = &d->pending; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	free(p);
	if (d->stopped) {
		fail_request(req, "the driver is stopping; the kubelet retries");
		return;
	}
	/* Another Prepare of the claim may have finished meanwhile. */
	entry = dra_checkpoint_get(d->cp, uid);
	if (entry && strcmp(str_at(entry, "state"), DRA_CLAIM_PREPARED) == 0) {
		if (answer_prepared(d, req, uid, entry) < 0)
			hostdev_dra_request_set_error(req, "out of memory");
		hostdev_dra_request_complete(req);
		return;
	}
	if (resp->code < 200 || resp->code > 299) {
		snprintf(err, sizeof(err), "reading ResourceClaim %s/%s failed: %s", ns, name,
			 resp->error);
		fail_request(req, err);
		return;
	}
	if (!(claim = cJSON_Parse(resp->body))) {
		snprintf(err, sizeof(err),
			 "ResourceClaim %s/%s: the API server's answer is not JSON", ns, name);
		fail_request(req, err);
		return;
	}
	r = dra_claim_devices(claim, uid, d->o.driver, d->o.ids->node, &devs, &n, err, sizeof(err));
	cJSON_Delete(claim);
	if (r < 0) {
		fail_request(req, err);
		return;
	}
	if (n == 0) {
		snprintf(err, sizeof(err),
			 "ResourceClaim %s/%s has no device allocated by driver %s", ns, name,
			 d->o.driver);
		fail_request(req, err);
		return;
	}
	if ((r = dra_checkpoint_set(d->cp, uid, ns, name, DRA_CLAIM_PREPARING, devs, n, err,
				    sizeof(err))) < 0)
		goto fail;
	owner_of(uid, owner, sizeof(owner));
	for (size_t i = 0; i < n; i++)
		if ((r = bind_device(d, ns, name, &devs[i], owner, err, sizeof(err))) < 0)
			goto undo;
	if ((r = write_files(d, ns, name, uid, devs, n, err, sizeof(err))) < 0)
		goto undo;
	if ((r = dra_checkpoint_set_state(d->cp, uid, DRA_CLAIM_PREPARED, err, sizeof(err))) < 0)
		goto undo;
	log_info("DRA: claim %s/%s (%s) prepared: %zu device%s on vfio-pci", ns, name, uid, n,
		 n == 1 ? "" : "s");
	if (answer_prepared(d, req, uid, dra_checkpoint_get(d->cp, uid)) < 0)
		hostdev_dra_request_set_error(req, "out of memory");
	hostdev_dra_request_complete(req);
	dra_claim_devices_free(devs, n);
	return;
undo : {
	/* Nothing half-done stays: what was bound goes back, the entry goes. */
	char undo_err[512];

	if (undo_claim(d, uid, undo_err, sizeof(undo_err)) < 0)
		log_error("DRA: %s (the next start retries)", undo_err);
}
fail:
	dra_claim_devices_free(devs, n);
	fail_request(req, err);
}

static int on_prepare(void *userdata, hostdev_dra_request *req)
{
	struct dra_driver *d = userdata;
	const char *uid = hostdev_dra_request_get_uid(req);
	const cJSON *entry = dra_checkpoint_get(d->cp, uid);
	struct pending_prepare *p;

	if (entry && strcmp(str_at(entry, "state"), DRA_CLAIM_PREPARED) == 0)
		return answer_prepared(d, req, uid, entry);
	if (!(p = calloc(1, sizeof(*p))))
		return -ENOMEM;
	p->d = d;
	p->req = req;
	if (!(p->get =
		  kube_get(d->o.client, &dra_claim_resource, hostdev_dra_request_get_namespace(req),
			   hostdev_dra_request_get_name(req), on_claim, p))) {
		free(p);
		return -ENOMEM;
	}
	p->next = d->pending;
	d->pending = p;
	return HOSTDEV_DRA_DEFERRED;
}

static int on_unprepare(void *userdata, hostdev_dra_request *req)
{
	struct dra_driver *d = userdata;
	char err[1024] = "";
	int r = undo_claim(d, hostdev_dra_request_get_uid(req), err, sizeof(err));

	if (r < 0) {
		log_warning("DRA: unprepare: %s", err);
		hostdev_dra_request_set_error(req, err);
	}
	return r;
}

static void on_registration(void *userdata, int registered, const char *error)
{
	struct dra_driver *d = userdata;

	if (registered)
		log_info("DRA: the kubelet registered driver %s", d->o.driver);
	else
		log_warning("DRA: the kubelet refused driver %s: %s", d->o.driver, error);
	if (registered && d->o.registered)
		d->o.registered(d->o.userdata);
}

static void on_readable(struct loop_source *src, int fd, uint32_t events, void *userdata)
{
	struct dra_driver *d = userdata;

	(void)src, (void)fd, (void)events;
	hostdev_loop_dispatch(d->hl, 0);
}

const struct kube_resource dra_claim_resource = {"resource.k8s.io", "v1", "resourceclaims",
						 "ResourceClaim", true};

struct converge {
	char **uids;
	size_t n;
};

static void collect_unfinished(const char *uid, const cJSON *entry, void *userdata)
{
	struct converge *cv = userdata;
	char **grown;

	if (strcmp(str_at(entry, "state"), DRA_CLAIM_PREPARED) == 0)
		return;
	if (!(grown = realloc(cv->uids, (cv->n + 1) * sizeof(*grown))))
		return;
	cv->uids = grown;
	if ((cv->uids[cv->n] = strdup(uid)))
		cv->n++;
}

/* Undo every claim a killed agent left half-prepared or half-unprepared. */
static void converge(struct dra_driver *d)
{
	struct converge cv = {0};

	dra_checkpoint_foreach(d->cp, collect_unfinished, &cv);
	for (size_t i = 0; i < cv.n; i++) {
		char err[1024] = "";

		if (undo_claim(d, cv.uids[i], err, sizeof(err)) < 0)
			log_error("DRA: converging claim %s: %s", cv.uids[i], err);
		else
			log_info("DRA: claim %s was left unfinished; undone (the kubelet retries "
				 "its Prepare)",
				 cv.uids[i]);
		free(cv.uids[i]);
	}
	free(cv.uids);
}

int dra_driver_new(const struct dra_driver_options *opts, struct dra_driver **out)
{
	struct dra_driver *d = calloc(1, sizeof(*d));
	struct hostdev_dra_plugin_ops ops = {.version = HOSTDEV_DRA_PLUGIN_OPS_VERSION,
					     .prepare = on_prepare,
					     .unprepare = on_unprepare,
					     .registration_status = on_registration};
	const char *sock;
	char path[PATH_MAX + 32], err[1024] = "", *slash;
	int r;

	if (!d)
		return -ENOMEM;
	d->o = *opts;
	snprintf(d->kind, sizeof(d->kind), "%s/pci", opts->driver);
	if ((r = hostdev_loop_new(opts->ctx, &d->hl)) < 0) {
		log_error("DRA: %s", hostdev_ctx_get_error(opts->ctx));
		goto fail;
	}
	if ((r = hostdev_dra_plugin_new(d->hl, opts->driver, &ops, d, NULL, &d->plugin)) < 0) {
		log_error("DRA: driver %s: %s", opts->driver, hostdev_ctx_get_error(opts->ctx));
		goto fail;
	}
	sock = hostdev_dra_plugin_get_socket_path(d->plugin);
	snprintf(d->data_dir, sizeof(d->data_dir), "%s", sock);
	if ((slash = strrchr(d->data_dir, '/')))
		*slash = '\0';
	snprintf(path, sizeof(path), "%s/checkpoint.json", d->data_dir);
	if ((r = dra_checkpoint_load(path, &d->cp, err, sizeof(err))) < 0) {
		log_error("DRA: %s", err);
		goto fail;
	}
	r = -ENOMEM;
	if (!(d->src =
		  loop_add_fd(opts->loop, hostdev_loop_get_fd(d->hl), EPOLLIN, on_readable, d)))
		goto fail;
	*out = d;
	return 0;
fail:
	dra_driver_free(d);
	return r;
}

int dra_driver_start(struct dra_driver *d)
{
	int r;

	/* The data directory holds the checkpoint: the plugin creates it when it starts, so
	 * start first; no call is answered before the loop runs again. */
	if ((r = hostdev_dra_plugin_start(d->plugin)) < 0) {
		log_error("DRA: serving driver %s: %s", d->o.driver,
			  hostdev_ctx_get_error(d->o.ctx));
		return r;
	}
	/* The runtime's CDI directory may not exist before the first spec (mkdir -p). */
	{
		char dir[PATH_MAX];

		snprintf(dir, sizeof(dir), "%s", d->o.cdi_dir);
		for (char *p = dir + 1; *p; p++)
			if (*p == '/') {
				*p = '\0';
				(void)mkdir(dir, 0755);
				*p = '/';
			}
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			log_warning("DRA: creating the CDI directory %s: %s", dir, strerror(errno));
	}
	converge(d);
	log_info("DRA: serving driver %s on %s (%zu prepared claim%s)", d->o.driver,
		 hostdev_dra_plugin_get_socket_path(d->plugin), dra_checkpoint_count(d->cp),
		 dra_checkpoint_count(d->cp) == 1 ? "" : "s");
	return 0;
}

void dra_driver_stop(struct dra_driver *d)
{
	if (!d)
		return;
	d->stopped = true;
	hostdev_dra_plugin_stop(d->plugin);
	/* Every deferred request is completed exactly once: those still reading their claim
	 * get an error (the kubelet retries them with the next agent). */
	while (d->pending) {
		struct pending_prepare *p = d->pending;

		d->pending = p->next;
		kube_request_cancel(p->get);
		hostdev_dra_request_set_error(p->req, "the driver stopped; the kubelet retries");
		hostdev_dra_request_complete(p->req);
		free(p);
	}
}

void dra_driver_free(struct dra_driver *d)
{
	if (!d)
		return;
	dra_driver_stop(d);
	hostdev_dra_plugin_unref(d->plugin);
	loop_source_remove(d->src);
	hostdev_loop_unref(d->hl);
	dra_checkpoint_free(d->cp);
	free(d);
}
