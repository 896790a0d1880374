/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Go-only part of the SWIG interface for DRA plugins written in Go (included by ../hostdev.i
 * under SWIGGO, before dra.h).
 *
 * Go gets no C callbacks (SWIG's directors are heavy for three function pointers): the plugin's
 * ops defer every request (HOSTDEV_DRA_DEFERRED, which dra.h allows from any thread) and put it on
 * an hdb_dra_queue, with the registration reports. Each push writes a byte to a pipe; a goroutine
 * blocks reading the pipe's other end and pops what is queued, runs the Go driver's method on a
 * goroutine per request and completes the request from there. The ops never wait: a byte that
 * does not fit the pipe is not needed (the reader pops everything queued per wakeup).
 *
 * Lifetime: the queue has two references, the plugin's (ops.destroy drops it and closes the
 * write end, so the reader sees the end of the file once no op can push any more) and the Go
 * reader's (DeleteHdb_dra_queue after that end of file). Requests still queued when the last
 * reference goes are failed and completed, so that each is completed exactly once.
 */
%{
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

typedef struct hdb_dra_item {
	struct hdb_dra_item *next;
	int kind; /* HDB_DRA_PREPARE, HDB_DRA_UNPREPARE, HDB_DRA_REGISTRATION */
	hostdev_dra_request *req;
	int registered;
	char *error;
} hdb_dra_item;

typedef struct hdb_dra_queue {
	pthread_mutex_t mu;
	hdb_dra_item *head, *tail;
	int refs;
	int rfd, wfd;
} hdb_dra_queue;

static void hdb_dra_item_free(hdb_dra_item *it)
{
	if (!it)
		return;
	if (it->req) {
		/* Never handed to Go: fail it, so that the kubelet gets an answer and retries. */
		hostdev_dra_request_set_error(it->req, "the DRA driver was closed before it handled "
						       "the claim");
		hostdev_dra_request_complete(it->req);
	}
	free(it->error);
	free(it);
}

static void hdb_dra_queue_unref(hdb_dra_queue *q)
{
	hdb_dra_item *it;
	int last;

	pthread_mutex_lock(&q->mu);
	last = --q->refs == 0;
	pthread_mutex_unlock(&q->mu);
	if (!last)
		return;
	while ((it = q->head)) {
		q->head = it->next;
		hdb_dra_item_free(it);
	}
	if (q->rfd >= 0)
		close(q->rfd);
	if (q->wfd >= 0)
		close(q->wfd);
	pthread_mutex_destroy(&q->mu);
	free(q);
}

/* Queue @it (taken) and wake the reader. -ENOMEM when @it is NULL. */
static int hdb_dra_queue_push(hdb_dra_queue *q, hdb_dra_item *it)
{
	if (!it)
		return -ENOMEM;
	pthread_mutex_lock(&q->mu);
	if (q->tail)
		q->tail->next = it;
	else
		q->head = it;
	q->tail = it;
	if (q->wfd >= 0 && write(q->wfd, "r", 1) < 0) {
		/* EAGAIN: the pipe is full of wakeups the reader has not read yet. */
	}
	pthread_mutex_unlock(&q->mu);
	return 0;
}

static int hdb_go_dra_request(void *userdata, hostdev_dra_request *req, int kind)
{
	hdb_dra_item *it = calloc(1, sizeof(*it));

	if (it) {
		it->kind = kind;
		it->req = req;
	}
	if (hdb_dra_queue_push(userdata, it) < 0) {
		hostdev_dra_request_set_error(req, "out of memory queueing the claim for the Go driver");
		return -ENOMEM;
	}
	return HOSTDEV_DRA_DEFERRED;
}

static int hdb_go_dra_prepare(void *userdata, hostdev_dra_request *req)
{
	return hdb_go_dra_request(userdata, req, 1);
}

static int hdb_go_dra_unprepare(void *userdata, hostdev_dra_request *req)
{
	return hdb_go_dra_request(userdata, req, 2);
}

static void hdb_go_dra_registration(void *userdata, int registered, const char *error)
{
	hdb_dra_item *it = calloc(1, sizeof(*it));

	if (it) {
		it->kind = 3;
		it->registered = registered;
		if (!(it->error = strdup(error ? error : ""))) {
			free(it);
			it = NULL;
		}
	}
	/* A report lost to a failed allocation: the plugin's state still says it. */
	hdb_dra_queue_push(userdata, it);
}

static void hdb_go_dra_destroy(void *userdata)
{
	hdb_dra_queue *q = userdata;

	pthread_mutex_lock(&q->mu);
	close(q->wfd);
	q->wfd = -1;
	pthread_mutex_unlock(&q->mu);
	hdb_dra_queue_unref(q);
}
%}

#define HDB_DRA_PREPARE 1
#define HDB_DRA_UNPREPARE 2
#define HDB_DRA_REGISTRATION 3

%nodefaultctor hdb_dra_item;
typedef struct hdb_dra_item {
} hdb_dra_item;
%extend hdb_dra_item {
	~hdb_dra_item() { hdb_dra_item_free($self); }
	/* HDB_DRA_PREPARE, HDB_DRA_UNPREPARE or HDB_DRA_REGISTRATION. */
	int kind() { return $self->kind; }
	/* The request of a prepare or unprepare, now the caller's: it must complete it
	 * (hostdev_dra_request_complete) exactly once. NULL the second time. */
	hostdev_dra_request *take_request()
	{
		hostdev_dra_request *req = $self->req;

		$self->req = NULL;
		return req;
	}
	/* A registration report: non-zero when the kubelet accepted the plugin, else its reason. */
	int registered() { return $self->registered; }
	const char *error() { return $self->error ? $self->error : ""; }
}

%nodefaultctor hdb_dra_queue;
typedef struct hdb_dra_queue {
} hdb_dra_queue;
%newobject hdb_dra_queue::pop;
%extend hdb_dra_queue {
	/* A queue with its pipe; NULL when no pipe can be made. */
	hdb_dra_queue()
	{
		hdb_dra_queue *q = calloc(1, sizeof(*q));
		int fds[2];

		if (!q || pipe(fds) < 0) {
			free(q);
			return NULL;
		}
		fcntl(fds[0], F_SETFD, FD_CLOEXEC);
		fcntl(fds[1], F_SETFD, FD_CLOEXEC);
		/* Only the writer is non-blocking: the reader blocks in its goroutine. */
		fcntl(fds[1], F_SETFL, O_NONBLOCK);
		pthread_mutex_init(&q->mu, NULL);
		q->rfd = fds[0];
		q->wfd = fds[1];
		q->refs = 1;
		return q;
	}
	/* Drop the Go reference. */
	~hdb_dra_queue() { hdb_dra_queue_unref($self); }
	/* The read end; the caller owns it from now on (-1 the second time). */
	int take_fd()
	{
		int fd = $self->rfd;

		$self->rfd = -1;
		return fd;
	}
	/* The oldest item (the caller's), or NULL when none is queued. */
	hdb_dra_item *pop()
	{
		hdb_dra_item *it;

		pthread_mutex_lock(&$self->mu);
		it = $self->head;
		if (it) {
			$self->head = it->next;
			if (!$self->head)
				$self->tail = NULL;
			it->next = NULL;
		}
		pthread_mutex_unlock(&$self->mu);
		return it;
	}
}

%newobject hdb_dra_plugin_new_go;
%inline %{
/* hostdev_dra_plugin_new() on @loop for driver @driver_name whose ops queue on @q (which gets a
 * reference of the plugin's; prepare and unprepare only when @has_* says the driver has them),
 * the options as for hdb_dra_options(). NULL on failure (the plugin's reference is dropped then,
 * and the pipe's write end closed). */
static hostdev_dra_plugin *hdb_dra_plugin_new_go(hostdev_ctx *ctx, hostdev_dp_loop *loop,
						 const char *driver_name, hdb_dra_queue *q,
						 int has_prepare, int has_unprepare,
						 const char *plugin_dir, const char *registry_dir,
						 unsigned int api_versions, int kubelet_uid,
						 int no_registration, hdb_status *st)
{
	struct hostdev_dra_plugin_ops ops = {
	    .version = HOSTDEV_DRA_PLUGIN_OPS_VERSION,
	    .prepare = has_prepare ? hdb_go_dra_prepare : NULL,
	    .unprepare = has_unprepare ? hdb_go_dra_unprepare : NULL,
	    .registration_status = hdb_go_dra_registration,
	    .destroy = hdb_go_dra_destroy,
	};
	struct hostdev_dra_plugin_options opts;
	hostdev_dra_plugin *plugin = NULL;

	hdb_dra_options(&opts, plugin_dir, registry_dir, api_versions, kubelet_uid,
			no_registration);
	pthread_mutex_lock(&q->mu);
	q->refs++;
	pthread_mutex_unlock(&q->mu);
	hdb_status_set(st, ctx, hostdev_dra_plugin_new(loop, driver_name, &ops, q, &opts, &plugin));
	return plugin;
}
%}
