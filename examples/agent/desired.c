/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The desired objects of one kind as the reconciler keeps them: per object a want (diff.c: a few
 * hashes of what the server would keep of it) and the device it is built from, never the object.
 * Objects are a function of their device and the agent's configuration, so the object a write
 * needs is built again from its device (one device read) when it is needed; an object in step
 * with the server costs a comparison of hashes and no read. At 10,000 objects the JSON text that
 * used to be kept was about 8 MB, most of an idle agent's heap.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

struct desired {
	enum agent_kind kind;
	struct strmap *wants; /* name -> struct diff_want */
	desired_build_fn build;
	void *userdata;
};

static void want_free(void *p)
{
	diff_want_free(p);
}

struct desired *desired_new(enum agent_kind kind, desired_build_fn build, void *userdata)
{
	struct desired *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->kind = kind;
	d->build = build;
	d->userdata = userdata;
	if (!(d->wants = strmap_new(want_free))) {
		free(d);
		return NULL;
	}
	return d;
}

void desired_free(struct desired *d)
{
	if (!d)
		return;
	strmap_free(d->wants);
	free(d);
}

const char *desired_source_of(enum agent_kind kind, const cJSON *obj)
{
	/* The fields inventory.c fills from the device's own identity. */
	const char *section = kind == KIND_SRIOV ? "spec" : "status";
	const char *field = kind == KIND_USB ? "portPath" : "address";

	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(obj, section), field));
}

/* Keep @obj's want (not @obj) under its name. */
static int keep(struct desired *d, const cJSON *obj, const cJSON *schema)
{
	const char *name = kube_meta_string(obj, "name");
	const char *source = desired_source_of(d->kind, obj);
	struct diff_want *w;

	if (!name || !source)
		return -EINVAL;
	w = diff_want_new(&agent_kinds[d->kind], obj, schema, source);
	if (!w || strmap_set(d->wants, name, w) < 0) {
		diff_want_free(w);
		return -ENOMEM;
	}
	return 0;
}

int desired_put(struct desired *d, cJSON *obj, const cJSON *schema)
{
	int r = keep(d, obj, schema);

	cJSON_Delete(obj);
	return r;
}

bool desired_remove(struct desired *d, const char *name)
{
	return strmap_remove(d->wants, name);
}

bool desired_has(const struct desired *d, const char *name)
{
	return strmap_get(d->wants, name) != NULL;
}

size_t desired_count(const struct desired *d)
{
	return strmap_count(d->wants);
}

struct foreach_ctx {
	void (*fn)(const char *name, const char *source, void *userdata);
	void *userdata;
};

static void foreach_want(const char *name, void *value, void *userdata)
{
	struct foreach_ctx *f = userdata;

	f->fn(name, diff_want_source(value), f->userdata);
}

void desired_foreach(const struct desired *d,
		     void (*fn)(const char *name, const char *source, void *userdata),
		     void *userdata)
{
	struct foreach_ctx f = {fn, userdata};

	strmap_foreach(d->wants, foreach_want, &f);
}

cJSON *desired_build(struct desired *d, const char *name, const cJSON *schema)
{
	const struct diff_want *w = strmap_get(d->wants, name);
	const char *built_name;
	cJSON *obj;

	if (!w)
		return NULL;
	obj = d->build(d->kind, diff_want_source(w), d->userdata);
	built_name = obj ? kube_meta_string(obj, "name") : NULL;
	if (!built_name || strcmp(built_name, name) != 0) {
		/* The device is gone, or its object has another name now (a network PF whose
		 * interface appeared): the event that says so re-computes its objects. */
		log_debug("%s %s: its device %s has changed; waiting for its event",
			  agent_kinds[d->kind].kind, name, diff_want_source(w));
		cJSON_Delete(obj);
		return NULL;
	}
	/* The newest state of the device: what is compared from now on. */
	keep(d, obj, schema);
	return obj;
}

enum diff_action desired_compare(struct desired *d, const char *name,
				 const struct diff_digest *observed, const cJSON *schema,
				 cJSON **obj, cJSON **patch)
{
	const struct diff_want *w = strmap_get(d->wants, name);
	enum diff_action action;
	cJSON *built;

	*obj = NULL;
	*patch = NULL;
	if (!w)
		return observed ? DIFF_DELETE : DIFF_NONE;
	if (observed && diff_want_matches(&agent_kinds[d->kind], w, observed))
		return DIFF_NONE;
	if (!(built = desired_build(d, name, schema)))
		return DIFF_NONE;
	action = diff_digest_compare(&agent_kinds[d->kind], built, observed, schema, patch);
	if (action == DIFF_NONE)
		cJSON_Delete(built);
	else
		*obj = built;
	return action;
}
