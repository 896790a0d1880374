/* SPDX-License-Identifier: Apache-2.0 */
/*
 * USBDeviceClaims: a claim named like a USBDevice object asks for that USB device to be handed
 * to VMs. The agent of the node that has the device serves it to the kubelet with the library's
 * built-in USB device plugin (KubeVirt's contract: USB_RESOURCE_<NAME>=bus:devnum and the node
 * /dev/bus/usb/BBB/DDD), permits it in the KubeVirt CR's usb list and shows status.enabled on
 * the USBDevice, as Harvester's claim controller does. Nothing is bound: there is nothing to give
 * back but the serving.
 *
 * The device is served by its stable identity, not by the object it was claimed through: the
 * physical port, vendor:product and, when the device reports one, its serial. The first time the
 * agent sees a claim of one of its USBDevices it records that identity on the claim (annotation
 * AGENT_USB_CLAIM_IDENTITY) with its finalizer, so that the claim outlives the object: unplugged,
 * the device is listed Unhealthy (the library follows its node) and the claim says why; plugged
 * again (a new device number, with Harvester's names even a new object name) it is the same
 * device of the same resource again, and after a restart or a reboot the claim is served from its
 * record. Deleting the claim stops the resource, takes its entry out of KubeVirt's CR and drops
 * the finalizer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"

const struct kube_resource agent_usb_claim_resource = {AGENT_GROUP, AGENT_VERSION_NAME,
						       "usbdeviceclaims", "USBDeviceClaim", false};

#define CONDITION_TYPE "Bound"

/* What a claim's record says: the device it stands for. */
struct identity {
	char node[254], port[64], vendor_product[16], serial[256], resource[320], controller[32];
};

/* One served claim: its resource's built-in server. */
struct served {
	struct identity id;
	hostdev_dp_server *server;
};

struct usb_claims {
	struct usb_claims_options o;
	struct kube_informer *inf;
	cJSON *status_schema;
	struct strmap *busy;   /* claim name -> (void *)1 while a write for it runs */
	struct strmap *served; /* resource -> struct served */
	struct loop_source *pass_timer, *retry_timer;
	struct kube_backoff backoff;
	bool synced, stopped;
};

struct pass {
	struct usb_claims *c;
	struct strmap *wanted;	  /* resource -> struct identity (copy) */
	struct strmap *claimed;	  /* port path -> "vvvv:pppp\n<serial>" */
	struct strmap *releasing; /* deleted claims whose finalizer goes once served no more */
	struct strmap *gone;	  /* resources served that no claim wants any more */
	cJSON *permitted;	  /* KubeVirt's usb list: {"<resource>": ["vvvv:pppp"]} */
	bool transient;
};

static void schedule_pass(struct usb_claims *c);

static void served_free(void *p)
{
	struct served *s = p;

	if (!s)
		return;
	if (s->server) {
		hostdev_dp_server_stop(s->server);
		hostdev_dp_server_unref(s->server);
	}
	free(s);
}

/* ---- the claim's record of its device -------------------------------------------------------- */

static void copy_field(char *out, size_t size, const cJSON *obj, const char *field)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);

	snprintf(out, size, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

/* The identity recorded on @claim; false when it has none (or an unreadable one). */
static bool identity_of(const cJSON *claim, struct identity *id)
{
	const cJSON *anns = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(claim, "metadata"), "annotations");
	const cJSON *text = cJSON_GetObjectItemCaseSensitive(anns, AGENT_USB_CLAIM_IDENTITY);
	cJSON *rec = cJSON_IsString(text) ? cJSON_Parse(text->valuestring) : NULL;

	memset(id, 0, sizeof(*id));
	copy_field(id->node, sizeof(id->node), rec, "node");
	copy_field(id->port, sizeof(id->port), rec, "port");
	copy_field(id->vendor_product, sizeof(id->vendor_product), rec, "vendorProduct");
	copy_field(id->serial, sizeof(id->serial), rec, "serial");
	copy_field(id->resource, sizeof(id->resource), rec, "resourceName");
	copy_field(id->controller, sizeof(id->controller), rec, "pciAddress");
	cJSON_Delete(rec);
	return id->node[0] && id->port[0] && id->vendor_product[0] && id->resource[0];
}

/* The identity of the device of this node's USBDevice object @obj (the desired one). */
static bool identity_from_object(const struct usb_claims *c, const cJSON *obj, struct identity *id)
{
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(obj, "status");
	char vendor[8], product[8];

	memset(id, 0, sizeof(*id));
	snprintf(id->node, sizeof(id->node), "%s", c->o.ids->node);
	copy_field(id->port, sizeof(id->port), st, "portPath");
	copy_field(vendor, sizeof(vendor), st, "vendorID");
	copy_field(product, sizeof(product), st, "productID");
	snprintf(id->vendor_product, sizeof(id->vendor_product), "%s:%s", vendor, product);
	copy_field(id->serial, sizeof(id->serial), st, "serial");
	copy_field(id->resource, sizeof(id->resource), st, "resourceName");
	copy_field(id->controller, sizeof(id->controller), st, "pciAddress");
	return id->port[0] && vendor[0] && product[0] && id->resource[0];
}

static char *identity_json(const struct identity *id)
{
	cJSON *rec = cJSON_CreateObject();
	char *text;

	if (!rec)
		return NULL;
	cJSON_AddStringToObject(rec, "node", id->node);
	cJSON_AddStringToObject(rec, "port", id->port);
	cJSON_AddStringToObject(rec, "vendorProduct", id->vendor_product);
	if (id->serial[0])
		cJSON_AddStringToObject(rec, "serial", id->serial);
	cJSON_AddStringToObject(rec, "resourceName", id->resource);
	cJSON_AddStringToObject(rec, "pciAddress", id->controller);
	text = cJSON_PrintUnformatted(rec);
	cJSON_Delete(rec);
	return text;
}

static bool has_our_finalizer(const cJSON *obj)
{
	const cJSON *f;

	cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(
				  cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "finalizers"))
	{
		if (cJSON_IsString(f) && strcmp(f->valuestring, AGENT_USB_CLAIM_FINALIZER) == 0)
			return true;
	}
	return false;
}

static bool deleting(const cJSON *obj)
{
	return kube_meta_string(obj, "deletionTimestamp") != NULL;
}

/* ---- writes: the record and finalizer (update with resourceVersion), the status (merge patch) */

struct claim_write {
	struct usb_claims *c;
	char *name;
	char *record; /* add: the identity annotation; NULL: remove the finalizer */
	bool wrote;
};

static void on_written(struct kube_client *kc, const struct kube_response *resp, void *userdata)
{
	struct claim_write *w = userdata;
	struct usb_claims *c = w->c;

	if (resp->code >= 200 && resp->code < 300) {
		cJSON *obj = cJSON_ParseWithLength(resp->body, resp->len);

		/* As for PCIDeviceClaims: the answer to dropping the last finalizer of a deleted
		 * claim is the object as it was; the watch brings the deletion. */
		if (obj && w->wrote && !(deleting(obj) && !has_our_finalizer(obj)))
			kube_informer_store(c->inf, obj);
		cJSON_Delete(obj);
	} else if (resp->code != 404) {
		log_warning("USBDeviceClaim %s: %s%s", w->name, resp->error,
			    resp->code == 403 ? "; grant the agent's ClusterRole this permission "
						"(docs/agent.md, \"Permissions\")"
					      : "");
		if (!loop_timer_armed(c->retry_timer))
			loop_timer_arm(c->retry_timer, kube_backoff_next(&c->backoff));
	}
	strmap_remove(c->busy, w->name);
	schedule_pass(c);
	free(w->record);
	free(w->name);
	free(w);
}

static struct claim_write *write_new(struct usb_claims *c, const char *name)
{
	struct claim_write *w = calloc(1, sizeof(*w));

	if (!w || !(w->name = strdup(name)) || strmap_set(c->busy, name, (void *)1) < 0) {
		if (w)
			free(w->name);
		free(w);
		return NULL;
	}
	w->c = c;
	return w;
}

static void write_abort(struct claim_write *w)
{
	strmap_remove(w->c->busy, w->name);
	free(w->record);
	free(w->name);
	free(w);
}

static int mutate_claim(cJSON *obj, void *userdata)
{
	struct claim_write *w = userdata;
	cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	cJSON *list = cJSON_GetObjectItemCaseSensitive(meta, "finalizers"), *anns, *f;
	int i = 0;

	if (!meta)
		return -EINVAL;
	if (w->record) {
		/* Never add to a claim being deleted (the server refuses it anyway). */
		if (deleting(obj))
			return 1;
		anns = cJSON_GetObjectItemCaseSensitive(meta, "annotations");
		if (!anns && !(anns = cJSON_AddObjectToObject(meta, "annotations")))
			return -ENOMEM;
		if (!cJSON_HasObjectItem(anns, AGENT_USB_CLAIM_IDENTITY))
			cJSON_AddStringToObject(anns, AGENT_USB_CLAIM_IDENTITY, w->record);
		if (!has_our_finalizer(obj)) {
			if (!list && !(list = cJSON_AddArrayToObject(meta, "finalizers")))
				return -ENOMEM;
			cJSON_AddItemToArray(list, cJSON_CreateString(AGENT_USB_CLAIM_FINALIZER));
		}
		w->wrote = true;
		return 0;
	}
	cJSON_ArrayForEach(f, list)
	{
		if (cJSON_IsString(f) && strcmp(f->valuestring, AGENT_USB_CLAIM_FINALIZER) == 0) {
			cJSON_DeleteItemFromArray(list, i);
			w->wrote = true;
			return 0;
		}
		i++;
	}
	return 1;
}

/* Add the record (@id) and the finalizer, or with NULL @id remove the finalizer. */
static void write_claim(struct usb_claims *c, const char *name, const struct identity *id)
{
	struct claim_write *w = write_new(c, name);

	if (!w)
		return;
	if (id && !(w->record = identity_json(id))) {
		write_abort(w);
		return;
	}
	if (kube_update(c->o.client, &agent_usb_claim_resource, NULL, name, 5, mutate_claim,
			on_written, w) < 0)
		write_abort(w);
}

/* Harvester's status (nodeName, pciAddress: the controller) and our Bound condition, patched
 * when what the server keeps of it differs. */
static void write_status(struct usb_claims *c, const cJSON *claim, const struct identity *id,
			 bool ok, const char *reason, const char *message)
{
	const char *name = kube_meta_string(claim, "name");
	const cJSON *observed = cJSON_GetObjectItemCaseSensitive(claim, "status");
	cJSON *st = cJSON_CreateObject(), *have = NULL, *want = NULL, *patch = NULL;
	struct claim_write *w;

	if (!st)
		return;
	cJSON_AddStringToObject(st, "nodeName", id->node);
	cJSON_AddStringToObject(st, "pciAddress", id->controller);
	if (status_set_condition(st, observed, CONDITION_TYPE, ok, reason, message) < 0)
		goto out;
	/* Compared as the server keeps them (Harvester's CRD has no conditions). */
	want = cJSON_Duplicate(st, true);
	have = cJSON_CreateObject();
	if (!want || !have)
		goto out;
	for (const cJSON *f = st->child; f; f = f->next) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(observed, f->string);

		if (v && !cJSON_IsNull(v))
			cJSON_AddItemToObject(have, f->string, cJSON_Duplicate(v, true));
	}
	schema_prune(want, c->status_schema);
	schema_prune(have, c->status_schema);
	if (cJSON_Compare(want, have, true))
		goto out;
	log_info("USBDeviceClaim %s: %s: %s", name, reason, message);
	patch = cJSON_CreateObject();
	if (!patch || !cJSON_AddItemToObject(patch, "status", st))
		goto out;
	st = NULL;
	if (!(w = write_new(c, name)))
		goto out;
	w->wrote = true;
	if (!kube_merge_patch(c->o.client, &agent_usb_claim_resource, NULL, name, "status", patch,
			      on_written, w))
		write_abort(w);
out:
	cJSON_Delete(patch);
	cJSON_Delete(st);
	cJSON_Delete(want);
	cJSON_Delete(have);
}

/* ---- the devices -------------------------------------------------------------------------- */

/* The device @id stands for, plugged now (a new reference), or NULL. */
static hostdev_usb_device *plugged_device(struct usb_claims *c, const struct identity *id)
{
	hostdev_usb_enum *e = NULL;
	hostdev_usb_device *dev = NULL;

	if (hostdev_usb_enum_new(c->o.ctx, 0, &e) < 0 ||
	    hostdev_usb_enum_add_port_filter(e, id->port) < 0 ||
	    hostdev_usb_enum_add_id_filter(e, id->vendor_product) < 0 ||
	    (id->serial[0] && hostdev_usb_enum_add_serial_filter(e, id->serial) < 0) ||
	    hostdev_usb_enum_next(e, &dev) <= 0)
		dev = NULL;
	hostdev_usb_enum_unref(e);
	return dev;
}

/* The USBDevice of whatever is at @port now follows status.enabled at once. */
static void refresh_usb_object(struct usb_claims *c, const char *port)
{
	hostdev_usb_enum *e = NULL;
	hostdev_usb_device *dev = NULL;

	if (!c->o.reconciler || hostdev_usb_enum_new(c->o.ctx, 0, &e) < 0)
		return;
	if (hostdev_usb_enum_add_port_filter(e, port) == 0 && hostdev_usb_enum_next(e, &dev) > 0) {
		cJSON *obj = inventory_usb_object(c->o.ids, dev);
		const char *name = obj ? kube_meta_string(obj, "name") : NULL;
		char *copy = name ? strdup(name) : NULL;

		if (copy)
			reconciler_put(c->o.reconciler, KIND_USB, copy, obj);
		else
			cJSON_Delete(obj);
		free(copy);
		hostdev_usb_device_unref(dev);
	}
	hostdev_usb_enum_unref(e);
}

/* The library's resource selection config of one claim: its resource, the device by port,
 * vendor:product and serial, the port identity as the device id. */
static int resolve(struct usb_claims *c, const struct identity *id, hostdev_dp_resources **out,
		   size_t *index)
{
	cJSON *cfg = cJSON_CreateObject(), *res, *entry, *sel;
	hostdev_dp_config *config = NULL;
	char *text = NULL;
	int r = -ENOMEM;

	if (!cfg)
		return r;
	cJSON_AddNumberToObject(cfg, "version", 1);
	res = cJSON_AddArrayToObject(cfg, "resources");
	entry = cJSON_CreateObject();
	if (!res || !entry || !cJSON_AddItemToArray(res, entry))
		goto out;
	cJSON_AddStringToObject(entry, "kind", "usb");
	cJSON_AddStringToObject(entry, "resourceName", id->resource);
	cJSON_AddStringToObject(entry, "usbIdentity", "port");
	sel = cJSON_AddObjectToObject(entry, "selectors");
	if (!sel)
		goto out;
	cJSON_AddItemToObject(
	    sel, "vendorProduct",
	    cJSON_CreateStringArray((const char *const[]){id->vendor_product}, 1));
	cJSON_AddItemToObject(sel, "port",
			      cJSON_CreateStringArray((const char *const[]){id->port}, 1));
	if (id->serial[0])
		cJSON_AddItemToObject(
		    sel, "serial", cJSON_CreateStringArray((const char *const[]){id->serial}, 1));
	if (!(text = cJSON_PrintUnformatted(cfg)))
		goto out;
	if ((r = hostdev_dp_config_parse(c->o.ctx, text, &config)) < 0 ||
	    (r = hostdev_dp_resources_resolve(c->o.ctx, config, out)) < 0)
		goto out;
	r = -ENOENT;
	for (size_t i = 0; i < hostdev_dp_resources_get_count(*out); i++)
		if (strcmp(hostdev_dp_resources_get_name(*out, i), id->resource) == 0) {
			*index = i;
			r = 0;
		}
	if (r < 0)
		*out = hostdev_dp_resources_unref(*out);
out:
	hostdev_dp_config_unref(config);
	free(text);
	cJSON_Delete(cfg);
	return r;
}

/* Serve @id's resource unless it is served already; a message in @err on failure. */
static int serve(struct usb_claims *c, const struct identity *id, char *err, size_t errlen)
{
	struct served *s = strmap_get(c->served, id->resource);
	hostdev_dp_resources *resources = NULL;
	size_t index = 0;
	int r;

	if (s && memcmp(&s->id, id, sizeof(*id)) == 0)
		return 0;
	strmap_remove(c->served, id->resource); /* another device under that name: anew */
	if (!c->o.serving)
		return 0;
	if (!(s = calloc(1, sizeof(*s))))
		return -ENOMEM;
	s->id = *id;
	r = resolve(c, id, &resources, &index);
	if (r == 0)
		r = serving_start_builtin(c->o.serving, resources, index, &s->server);
	hostdev_dp_resources_unref(resources);
	if (r < 0 || strmap_set(c->served, id->resource, s) < 0) {
		snprintf(err, errlen, "%s", r < 0 ? hostdev_ctx_get_error(c->o.ctx) : "no memory");
		served_free(s);
		return r < 0 ? r : -ENOMEM;
	}
	log_info("resource %s: serving USB device %s at port %s (socket %s)", id->resource,
		 id->vendor_product, id->port, hostdev_dp_server_get_socket_path(s->server));
	return 0;
}

/* ---- the pass ------------------------------------------------------------------------------ */

static void permit(cJSON *permitted, const struct identity *id)
{
	cJSON *sels = cJSON_AddArrayToObject(permitted, id->resource);

	if (sels)
		cJSON_AddItemToArray(sels, cJSON_CreateString(id->vendor_product));
}

static void judge_one(const char *name, const cJSON *claim, void *userdata)
{
	struct pass *p = userdata;
	struct usb_claims *c = p->c;
	struct identity id, *copy;
	char *device_key;
	hostdev_usb_device *dev;
	char message[1024];
	const cJSON *obj;

	/* A claim being written still counts as wanted (its resource keeps being served); only
	 * the writes wait for the next pass. */
	bool busy = strmap_get(c->busy, name) != NULL;

	if (!identity_of(claim, &id)) {
		/* Not recorded yet: a claim of one of this node's USBDevices gets its record. */
		obj = c->o.reconciler ? reconciler_desired(c->o.reconciler, KIND_USB, name) : NULL;
		if (busy || !obj || deleting(claim))
			return;
		if (!identity_from_object(c, obj, &id)) {
			log_warning(
			    "USBDeviceClaim %s: its USBDevice has no port, vendor, product or "
			    "resource name; not served",
			    name);
			return;
		}
		write_claim(c, name, &id);
		return;
	}
	if (strcmp(id.node, c->o.ids->node) != 0)
		return; /* another node's */
	if (deleting(claim)) {
		if (has_our_finalizer(claim) && !busy)
			strmap_set(p->releasing, name, (void *)1);
		return;
	}
	if (!has_our_finalizer(claim)) {
		if (!busy)
			write_claim(c, name,
				    &id); /* removed by hand: back, deletion waits for us */
		return;
	}
	if ((copy = malloc(sizeof(*copy)))) {
		*copy = id;
		if (strmap_set(p->wanted, id.resource, copy) < 0)
			free(copy);
	}
	if ((device_key = malloc(strlen(id.vendor_product) + strlen(id.serial) + 2))) {
		sprintf(device_key, "%s\n%s", id.vendor_product, id.serial);
		if (strmap_set(p->claimed, id.port, device_key) < 0)
			free(device_key);
	}
	if (p->permitted)
		permit(p->permitted, &id);
	if (serve(c, &id, message, sizeof(message)) < 0) {
		p->transient = true;
		if (!busy)
			write_status(c, claim, &id, false, "ServeFailed", message);
		return;
	}
	if (busy)
		return;
	dev = plugged_device(c, &id);
	if (dev) {
		snprintf(message, sizeof(message),
			 "USB device %s (port %s) is served as %s (device node "
			 "/dev/bus/usb/%03u/%03u)",
			 id.vendor_product, id.port, id.resource,
			 hostdev_usb_device_get_busnum(dev), hostdev_usb_device_get_devnum(dev));
		write_status(c, claim, &id, true, "Served", message);
		hostdev_usb_device_unref(dev);
	} else {
		snprintf(message, sizeof(message),
			 "USB device %s%s%s is not plugged in at port %s: %s lists it Unhealthy "
			 "until it is plugged in there again",
			 id.vendor_product, id.serial[0] ? " serial " : "", id.serial, id.port,
			 id.resource);
		write_status(c, claim, &id, false, "DeviceUnplugged", message);
	}
}

static void collect_gone(const char *resource, void *value, void *userdata)
{
	struct pass *p = userdata;

	if (!strmap_get(p->wanted, resource))
		strmap_set(p->gone, resource, (void *)1);
}

static void stop_gone(const char *resource, void *value, void *userdata)
{
	struct pass *p = userdata;

	log_info("resource %s: its USBDeviceClaim is gone; stopped serving it", resource);
	strmap_remove(p->c->served, resource);
}

static void drop_finalizer(const char *name, void *value, void *userdata)
{
	struct pass *p = userdata;

	log_info("USBDeviceClaim %s: deleted; its device is served no more", name);
	write_claim(p->c, name, NULL);
}

/* USBDevices whose enabled flag changes: the ports in one map and not (or not alike) in the
 * other. */
struct claimed_diff {
	const struct strmap *other;
	struct strmap *changed;
};

static void diff_claimed(const char *port, void *value, void *userdata)
{
	struct claimed_diff *d = userdata;
	const char *there = strmap_get(d->other, port);

	if (!there || strcmp(there, value) != 0)
		strmap_set(d->changed, port, (void *)1);
}

static void copy_claimed(const char *port, void *value, void *userdata)
{
	char *copy = strdup(value);

	if (copy && strmap_set(userdata, port, copy) < 0)
		free(copy);
}

static void drop_key(const char *key, void *value, void *userdata)
{
	strmap_remove(userdata, key);
}

static void refresh_changed(const char *port, void *value, void *userdata)
{
	refresh_usb_object(userdata, port);
}

static void update_claimed(struct usb_claims *c, const struct strmap *now)
{
	struct strmap *claimed = c->o.ids->usb_claimed;
	struct strmap *changed = strmap_new(NULL);
	struct claimed_diff d = {claimed, changed};

	if (!claimed || !changed) {
		strmap_free(changed);
		return;
	}
	strmap_foreach(now, diff_claimed, &d);
	d.other = now;
	strmap_foreach(claimed, diff_claimed, &d);
	strmap_foreach(changed, drop_key, claimed);
	strmap_foreach(now, copy_claimed, claimed);
	strmap_foreach(changed, refresh_changed, c);
	strmap_free(changed);
}

static void run_pass(struct usb_claims *c)
{
	struct pass p = {c,
			 strmap_new(free),
			 strmap_new(free),
			 strmap_new(NULL),
			 strmap_new(NULL),
			 c->o.kubevirt ? cJSON_CreateObject() : NULL,
			 false};

	if (!p.wanted || !p.claimed || !p.releasing || !p.gone) {
		p.transient = true;
		goto out;
	}
	kube_informer_foreach(c->inf, judge_one, &p);
	/* Resources of claims gone or being deleted stop (the kubelet gets an empty list) before
	 * any finalizer goes. */
	strmap_foreach(c->served, collect_gone, &p);
	strmap_foreach(p.gone, stop_gone, &p);
	update_claimed(c, p.claimed);
	kubevirt_set(c->o.kubevirt, KUBEVIRT_LIST_USB, p.permitted);
	p.permitted = NULL;
	strmap_foreach(p.releasing, drop_finalizer, &p);
out:
	cJSON_Delete(p.permitted);
	strmap_free(p.wanted);
	strmap_free(p.claimed);
	strmap_free(p.releasing);
	strmap_free(p.gone);
	if (p.transient) {
		if (!loop_timer_armed(c->retry_timer))
			loop_timer_arm(c->retry_timer, kube_backoff_next(&c->backoff));
	} else if (strmap_count(c->busy) == 0) {
		kube_backoff_reset(&c->backoff);
	}
}

static void on_pass_timer(struct loop_source *src, void *userdata)
{
	struct usb_claims *c = userdata;

	if (c->synced && !c->stopped)
		run_pass(c);
}

static void schedule_pass(struct usb_claims *c)
{
	if (!c->stopped && !loop_timer_armed(c->pass_timer))
		loop_timer_arm(c->pass_timer, 0);
}

static void on_retry_timer(struct loop_source *src, void *userdata)
{
	schedule_pass(userdata);
}

static void on_synced(struct kube_informer *inf, void *userdata)
{
	struct usb_claims *c = userdata;

	if (!c->synced)
		log_info("listed %zu USBDeviceClaims: serving this node's claimed USB devices",
			 kube_informer_count(inf));
	c->synced = true;
	schedule_pass(c);
}

static void on_event(struct kube_informer *inf, enum kube_event_type type, const char *name,
		     const cJSON *obj, void *userdata)
{
	log_debug("watch: USBDeviceClaim %s %s", name,
		  type == KUBE_ADDED	 ? "added"
		  : type == KUBE_DELETED ? "deleted"
					 : "modified");
	schedule_pass(userdata);
}

static void on_error(struct kube_informer *inf, const struct kube_response *resp, void *userdata)
{
	log_warning("list/watch of usbdeviceclaims: %s%s; retrying with backoff", resp->error,
		    resp->code == 403 ? "; grant the agent's ClusterRole list and watch on "
					"usbdeviceclaims (docs/agent.md, \"Permissions\")"
				      : "");
}

/* ---- public -------------------------------------------------------------------------------- */

int usb_claims_new(const struct usb_claims_options *opts, struct usb_claims **out)
{
	static const struct kube_informer_callbacks cb = {on_synced, on_event, on_error};
	struct kube_informer_options io = {.watch_timeout_s = opts->watch_timeout_s};
	struct usb_claims *c = calloc(1, sizeof(*c));
	const cJSON *schema;

	if (!c)
		return -ENOMEM;
	c->o = *opts;
	kube_backoff_init(&c->backoff, 1000, 30000);
	schema = schema_property(schema_of_crd(opts->crd, AGENT_VERSION_NAME), "status");
	if (schema && !(c->status_schema = cJSON_Duplicate(schema, true)))
		goto fail;
	if (!(c->busy = strmap_new(NULL)) || !(c->served = strmap_new(served_free)) ||
	    !(c->pass_timer = loop_add_timer(opts->loop, on_pass_timer, c)) ||
	    !(c->retry_timer = loop_add_timer(opts->loop, on_retry_timer, c)))
		goto fail;
	/* Claims carry no node label (Harvester's do not): every claim is watched, those of other
	 * nodes' devices are ignored. */
	if (kube_informer_new(opts->client, &agent_usb_claim_resource, NULL, &io, &cb, c, &c->inf) <
	    0)
		goto fail;
	*out = c;
	return 0;
fail:
	usb_claims_free(c);
	return -ENOMEM;
}

int usb_claims_start(struct usb_claims *c)
{
	return kube_informer_start(c->inf);
}

static void refresh_server(const char *resource, void *value, void *userdata)
{
	struct served *s = value;

	if (s->server)
		hostdev_dp_server_refresh(s->server);
}

void usb_claims_devices_changed(struct usb_claims *c)
{
	if (!c || c->stopped)
		return;
	/* The library re-reads each claimed device (its node, now with the new device number):
	 * ListAndWatch hears at once, not at the next periodic list. */
	strmap_foreach(c->served, refresh_server, NULL);
	schedule_pass(c);
}

void usb_claims_resync(struct usb_claims *c)
{
	usb_claims_devices_changed(c);
}

void usb_claims_stop(struct usb_claims *c)
{
	if (c) {
		c->stopped = true;
		loop_timer_disarm(c->pass_timer);
		loop_timer_disarm(c->retry_timer);
	}
}

void usb_claims_free(struct usb_claims *c)
{
	if (!c)
		return;
	kube_informer_free(c->inf);
	loop_source_remove(c->pass_timer);
	loop_source_remove(c->retry_timer);
	strmap_free(c->busy);
	strmap_free(c->served);
	cJSON_Delete(c->status_schema);
	free(c);
}
