/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the files of the PCIDeviceClaim controller share (claims.c describes the whole of it):
 *  - claims.c          watching the claims, the pass over them, the public claims_* functions;
 *  - claim_object.c    reading a claim object (spec fields, finalizer, deletion, node);
 *  - claims_journal.c  the vfio journal as the claims see it: owner texts, records, holders;
 *  - claims_bind.c     judging one claim and binding its device;
 *  - claims_restore.c  giving devices back: deleted claims and orphaned records;
 *  - claims_work.c    the binds and restores, run on the worker thread (one at a time);
 *  - claims_status.c   writes to the claims: the finalizer and the status with its condition;
 *  - claims_serve.c    what the cluster sees: PCIDevice objects, served resources, KubeVirt.
 * Everything runs on the agent's loop thread but the work functions of claims_work.c, which
 * see only their job and the worker's own library context.
 */
#ifndef HOSTDEV_AGENT_CLAIMS_INTERNAL_H
#define HOSTDEV_AGENT_CLAIMS_INTERNAL_H

#include "agent.h"
#include "worker.h"

#define OWNER_PREFIX "hostdev-agent/pcideviceclaim:"
#define CLAIM_LOCK_TIMEOUT_MS 10000u
#define CONDITION_TYPE "Bound"

struct claims {
	struct claims_options o;
	struct kube_informer *inf;
	cJSON *status_schema;
	struct strmap *busy; /* claim name -> (void *)1 while a write for it runs */
	/* Refusals that only a change can lift (name -> struct refusal), so that a pass does not
	 * ask the library again for every refused claim. They hold while the claim's generation
	 * and the epoch stay: the epoch moves with every claim added or deleted, every spec
	 * change, every bind or restore and every resync. */
	struct strmap *refused;
	struct strmap *generations; /* claim name -> last seen metadata.generation (double *) */
	struct strmap *reasons;	    /* claim name -> reason of its last verdict (metrics) */
	unsigned long epoch;
	struct loop_source *pass_timer, *retry_timer;
	struct kube_backoff backoff;
	bool synced, stopped;
	/* The binds and restores run on the worker with a library context of its own, one job at
	 * a time: while one runs no pass starts (it would read a journal the job is changing),
	 * and its end schedules the next pass. */
	struct worker *worker;
	hostdev_ctx *work_ctx;
	struct claim_job *job;
};

/* What one pass found about one claim. */
struct verdict {
	bool pending; /* a job was queued: its end says the rest */
	bool enabled;
	bool transient; /* retry with backoff */
	const char *reason;
	char message[1536];
	char driver_to_unbind[128];
};

struct pass {
	struct claims *c;
	hostdev_vfio_journal *journal;
	bool transient;
	cJSON *permitted;	  /* serve_claims(): what KubeVirt must permit for this node */
	struct strmap *own_names; /* serve_claims(): address -> resource of its own (char *) */
};

struct refusal {
	double generation;
	unsigned long epoch;
	struct verdict v;
};

/* A bind or restore, with copies of all it needs: the worker thread sees nothing else. */
enum claim_job_kind { JOB_BIND, JOB_RESTORE };
struct claim_job {
	enum claim_job_kind kind;
	struct claims *c;    /* loop thread only */
	char *name;	     /* the claim, or NULL for records of deleted claims */
	char uid[64];	     /* the claim's uid then: a claim re-created meanwhile is another */
	unsigned long epoch; /* c->epoch when the job was queued */
	double generation;   /* the claim's generation then */
	double started;	     /* loop_now_s() when queued (metrics) */
	char **addresses;
	size_t count;
	char owner[HOSTDEV_VFIO_OWNER_MAX + 1]; /* bind: the record's owner text */
	unsigned int flags;			/* bind: HOSTDEV_BIND_* */
	char why[300];				/* restore: the reason logged with each device */
	unsigned int timeout_ms; /* the library's store watchdog and vfio wait; 0: default */
	/* bind: what the verdict needs (claims_bind.c) */
	bool finishing; /* an interrupted bind finished */
	int group;
	char driver[128];    /* the device's driver before */
	char unclaimed[768]; /* group members on host drivers that no claim holds */
	size_t unclaimed_count;
	/* results, written by the worker */
	int r;
	char error[1024];
	char original_driver[128]; /* bind: the record's driver */
	bool group_bind;	   /* bind: the record is a group bind */
	char **touched;		   /* restore: the devices the result names */
	size_t touched_count;
};

/* ---- claims.c ------------------------------------------------------------------------------ */
/* Run a pass on the next loop iteration (once, however often asked). */
void schedule_pass(struct claims *c);
/* The end of judging claim @name (of uid @uid, NULL: the one in the cache): cache a refusal,
 * write the status. */
void conclude_claim(struct claims *c, const char *name, const char *uid, const struct verdict *v,
		    unsigned long epoch, double generation);
/* The served resources and KubeVirt's permits as the journal is now (after a job). */
void serve_now(struct claims *c);
/* Try the pass again later, with backoff. */
void retry_later(struct claims *c);

/* ---- claim_object.c ------------------------------------------------------------------------ */
/* metadata.generation, or -1. */
double generation_of(const cJSON *obj);
/* spec.<field> when it is a string, else NULL. */
const char *spec_string(const cJSON *obj, const char *field);
bool has_finalizer(const cJSON *obj);
/* metadata.annotations.<key> is "true". */
bool annotation_true(const cJSON *obj, const char *key);
bool is_deleting(const cJSON *obj);
/* The canonical "dddd:bb:ss.f" of @text, or -EINVAL. */
int canonical_address(const char *text, char *out, size_t size);
bool on_this_node(const struct claims *c, const cJSON *obj);
/* @a was created before @b (creationTimestamp, then name). */
bool claim_precedes(const cJSON *a, const cJSON *b);

/* ---- claims_journal.c ---------------------------------------------------------------------- */
/* 1 when the journal owner text @owner was written by this agent for the claim @uid. */
bool owner_has_uid(const char *owner, const char *uid);
bool owner_is_ours(const char *owner);
/* Append "<uid>" to the owner text. */
void owner_add(char *owner, size_t size, const char *uid);
/* Index of the journal record of @address, or -1. */
long journal_find(const hostdev_vfio_journal *j, const char *address);
/* Addresses of the journal records owned by claim @uid (pointers into @j). */
size_t records_of(const hostdev_vfio_journal *j, const char *uid, const char **out, size_t max);
/* The live claim of this node that holds @address, or NULL. */
const cJSON *holder_of(const struct claims *c, const char *address, const hostdev_vfio_journal *j);
/* Replace p->journal with the journal as it is now (NULL and p->transient on failure). */
void reread_journal(struct pass *p);

/* ---- claims_bind.c ------------------------------------------------------------------------- */
/* A claim of this node that is not being deleted: what is it, and bind it if it should be. */
void judge_claim(struct pass *p, const cJSON *claim, struct verdict *v);
/* The end of a bind job (claims_work.c calls it on the loop's thread): the verdict. */
void bind_finished(struct claims *c, const struct claim_job *job, struct verdict *v);

/* ---- claims_restore.c ---------------------------------------------------------------------- */
/* A deleted claim with our finalizer: give its devices back, then drop the finalizer. */
void release_claim(struct pass *p, const cJSON *claim);
/* Records of this agent whose claims are all gone: give the devices back. */
void restore_orphans(struct pass *p);

/* The end of a restore job (claims_work.c calls it on the loop's thread). */
void restore_finished(struct claims *c, struct claim_job *job);

/* ---- claims_work.c ------------------------------------------------------------------------- */
/* A job with @count addresses copied; NULL on no memory. */
struct claim_job *claim_job_new(struct claims *c, enum claim_job_kind kind, const char *name,
				const char *const *addresses, size_t count);
void claim_job_free(struct claim_job *job);
/* Queue @job (taken) on the worker: c->job is it until it ends. Returns 0 or a negative errno
 * (then the job is freed). */
int claim_job_submit(struct claims *c, struct claim_job *job);

/* ---- claims_status.c ----------------------------------------------------------------------- */
/* Add or remove the finalizer (update with resourceVersion); the claim is busy meanwhile. */
void write_finalizer(struct claims *c, const char *name, bool add);
/* Patch the status to say @v, when it does not already. */
void write_status(struct claims *c, const cJSON *claim, const struct verdict *v);

/* ---- claims_serve.c ------------------------------------------------------------------------ */
/* The PCIDevice object of @address (or of every member of its IOMMU group) as it is now. */
void refresh_pci_object(struct claims *c, const char *address);
void refresh_group_objects(struct claims *c, const char *address);
/* The served resources and KubeVirt's permits follow the devices bound for the claims. */
void serve_claims(struct pass *p);

#endif
