/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which USB devices each advertised id stands for, for the life of the plugin. Sets of a bundle
 * are formed again on every list; when a member of one set goes, the devices may pair up
 * differently (the first keyboard with the second mouse), and an id would then stand for a
 * device that another id, perhaps held by a running VM, was handed out with. So an id keeps the
 * members it was first advertised with: a set whose members differ from its id's, or that holds
 * a device another id stands for, is not healthy and is not handed out. A single device is a set
 * of one whose member is its id, so nothing changes for it.
 */
#include <errno.h>
#include <pthread.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"

/* An id and the identities of its members, in the order of the bundle's selectors. */
struct claim_set {
	char *id;
	char **members;
	size_t n_members;
};

/* A member identity and the id that stands for it (borrowed from its claim_set). */
struct claim_member {
	char *identity;
	const char *owner;
};

struct usb_claims {
	pthread_mutex_t lock; /* lists run on the worker thread, Allocate on the loop's */
	void *sets;	      /* tsearch(3) of struct claim_set by id */
	void *members;	      /* tsearch(3) of struct claim_member by identity */
};

static int compare_sets(const void *a, const void *b)
{
	return strcmp(((const struct claim_set *)a)->id, ((const struct claim_set *)b)->id);
}

static int compare_members(const void *a, const void *b)
{
	return strcmp(((const struct claim_member *)a)->identity,
		      ((const struct claim_member *)b)->identity);
}

int usb_claims_new(struct usb_claims **out)
{
	struct usb_claims *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	*out = c;
	return 0;
}

static void free_set(void *node)
{
	struct claim_set *s = node;

	for (size_t i = 0; i < s->n_members; i++)
		free(s->members[i]);
	free(s->members);
	free(s->id);
	free(s);
}

static void free_member(void *node)
{
	struct claim_member *m = node;

	free(m->identity);
	free(m);
}

void usb_claims_free(struct usb_claims *c)
{
	if (!c)
		return;
	tdestroy(c->members, free_member);
	tdestroy(c->sets, free_set);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static const char *member_identity(const hostdev_dp_matches *m, size_t i, size_t j)
{
	const char *identity = NULL;

	hostdev_dp_matches_get_usb_device(m, i, j, NULL, NULL, &identity);
	return identity;
}

/* Is @s exactly the members of id @i of @m? */
static bool same_members(const struct claim_set *s, const hostdev_dp_matches *m, size_t i)
{
	if (s->n_members != hostdev_dp_matches_get_usb_device_count(m, i))
		return false;
	for (size_t j = 0; j < s->n_members; j++) {
		const char *identity = member_identity(m, i, j);

		if (!identity || strcmp(identity, s->members[j]) != 0)
			return false;
	}
	return true;
}

/* Record id @i of @m with its members (none of which has an owner). */
static int claim(struct usb_claims *c, const hostdev_dp_matches *m, size_t i)
{
	size_t n = hostdev_dp_matches_get_usb_device_count(m, i);
	struct claim_set *s = calloc(1, sizeof(*s));

	if (!s || !(s->id = strdup(hostdev_dp_matches_get_id(m, i))) ||
	    !(s->members = calloc(n ? n : 1, sizeof(*s->members)))) {
		if (s)
			free(s->id);
		free(s);
		return -ENOMEM;
	}
	for (; s->n_members < n; s->n_members++)
		if (!(s->members[s->n_members] = strdup(member_identity(m, i, s->n_members)))) {
			free_set(s);
			return -ENOMEM;
		}
	if (!tsearch(s, &c->sets, compare_sets)) {
		free_set(s);
		return -ENOMEM;
	}
	for (size_t j = 0; j < n; j++) {
		struct claim_member *cm = calloc(1, sizeof(*cm));

		if (cm && (cm->identity = strdup(s->members[j]))) {
			void *node;

			cm->owner = s->id;
			node = tsearch(cm, &c->members, compare_members);
			if (node && *(struct claim_member **)node != cm)
				free_member(cm); /* listed twice in this set: owned already */
			if (node)
				continue;
		}
		if (cm)
			free_member(cm);
		/* Undo: a set recorded with members nobody owns would let another id take them. */
		for (size_t k = 0; k < j; k++) {
			struct claim_member mkey = {.identity = s->members[k]};
			void *node = tfind(&mkey, &c->members, compare_members);
			struct claim_member *owned = node ? *(struct claim_member **)node : NULL;

			tdelete(&mkey, &c->members, compare_members);
			if (owned)
				free_member(owned);
		}
		tdelete(s, &c->sets, compare_sets);
		free_set(s);
		return -ENOMEM;
	}
	return 0;
}

/* The check of usb_claims_check() with the lock held. */
static int check_locked(struct usb_claims *c, const hostdev_dp_matches *m, size_t i, bool record)
{
	struct claim_set key = {.id = (char *)hostdev_dp_matches_get_id(m, i)};
	size_t n = hostdev_dp_matches_get_usb_device_count(m, i);
	void *found;

	if (!key.id || !n)
		return 0;
	found = tfind(&key, &c->sets, compare_sets);
	if (found)
		return same_members(*(struct claim_set **)found, m, i);
	for (size_t j = 0; j < n; j++) {
		struct claim_member mkey = {.identity = (char *)member_identity(m, i, j)};

		if (!mkey.identity || tfind(&mkey, &c->members, compare_members))
			return 0; /* another id stands for this device */
	}
	if (!record)
		return 1;
	return claim(c, m, i) < 0 ? -ENOMEM : 1;
}

int usb_claims_check(struct usb_claims *c, const hostdev_dp_matches *m, size_t i, bool record)
{
	int r;

	pthread_mutex_lock(&c->lock);
	r = check_locked(c, m, i, record);
	pthread_mutex_unlock(&c->lock);
	return r;
}

size_t usb_claims_count(struct usb_claims *c, const char *id)
{
	struct claim_set key = {.id = (char *)id};
	void *found;
	size_t n = 0;

	pthread_mutex_lock(&c->lock);
	found = tfind(&key, &c->sets, compare_sets);
	if (found)
		n = (*(struct claim_set **)found)->n_members;
	pthread_mutex_unlock(&c->lock);
	return n;
}
