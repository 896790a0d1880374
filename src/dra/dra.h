/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DRA kubelet plugins (hostdev/dra.h): the objects shared by the lifecycle (dra_plugin.c), the
 * DRAPlugin and registration handlers (dra_service.c, dra_register.c), the requests
 * (dra_request.c) and the file helpers (dra_cdi.c, dra_metadata.c, dra_file.c). Never installed.
 */
#ifndef HOSTDEV_DRA_INTERNAL_H
#define HOSTDEV_DRA_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/core.h"
#include "grpc/grpc.h"
#include "hostdev/dra.h"

/* The service socket's name in <plugin_dir>/<driver>/. */
#define DRA_SOCKET_NAME "dra.sock"
/* The registration socket's name in the plugin watcher's directory: <driver>-reg.sock. */
#define DRA_REGISTRATION_SUFFIX "-reg.sock"
/*
 * How often a started plugin checks that its sockets are still there (and its own): while its
 * directories are watched (inotify sees a deletion at once) only as a backstop, else often.
 */
#define DRA_SOCKET_CHECK_WATCHED_MS 60000
#define DRA_SOCKET_CHECK_MS 2000
/* Largest path a sockaddr_un holds (108 bytes with the NUL). */
#define DRA_SOCKET_PATH_MAX 107
/* Longest driver name: the kubelet and the API server take DNS subdomains of at most 63. */
#define DRA_DRIVER_NAME_MAX 63

/* The API versions served (HOSTDEV_DRA_API_* bits). */
#define DRA_API_ALL (HOSTDEV_DRA_API_V1 | HOSTDEV_DRA_API_V1BETA1)

struct hostdev_dra_plugin {
	/* References held by the caller; the last one stops the plugin. */
	int refcount;
	/* What keeps the memory: 1 while the caller holds references, plus one per kubelet
	 * call whose requests are not all complete (a deferred request may outlive the caller's
	 * references). Changed with the loop's lock held. */
	unsigned int holds;
	hostdev_loop *loop;
	hostdev_ctx *ctx;
	char *driver;
	struct hostdev_dra_plugin_ops ops;
	void *userdata;

	/* Options, resolved. */
	unsigned int api_versions;
	int kubelet_uid;
	bool register_with_watcher;
	char *plugin_dir;	 /* <kubelet>/plugins */
	char *driver_dir;	 /* plugin_dir/<driver>: the service socket, the driver's data */
	char *socket_path;	 /* driver_dir/dra.sock */
	char *registry_dir;	 /* <kubelet>/plugins_registry */
	char *registration_path; /* registry_dir/<driver>-reg.sock; NULL without registration */

	/* The DRAPlugin methods of the versions served (the array outlives the server). */
	struct grpc_method *methods;
	size_t n_methods;
	struct grpc_server *service;
	struct grpc_server *registration;

	int state; /* enum hostdev_dra_state */
	bool started;
	/* The periodic check of both sockets (dra_plugin.c): the kubelet deletes them when it
	 * restarts; they are made again and the plugin watcher finds them anew. */
	struct loop_source *socket_check;
	struct grpc_dir_watch *driver_dir_watch, *registry_dir_watch; /* NULL: not watched */
	unsigned int registrations;
};

/* Drop one hold (loop's lock held): the last frees the plugin. The caller keeps a reference of
 * the loop if it still needs it (its lock) afterwards. */
void dra_plugin_release(hostdev_dra_plugin *plugin);

/* ---------------------------------------------------------------------------------------------- */
/* Requests (dra_request.c) */

struct dra_device {
	char *pool_name;
	char *device_name;
	struct strv request_names;
	struct strv cdi_ids;
};

/* One kubelet call: its claims' requests, answered once all of them are complete. */
struct dra_call {
	hostdev_dra_plugin *plugin; /* a hold */
	/* NULL once the call closed (answered, or the kubelet gave up). */
	struct grpc_call *call;
	bool prepare;
	const char *api_version; /* "v1", "v1beta1" */
	hostdev_dra_request **requests;
	size_t n_requests;
	/* Requests not complete yet. */
	size_t pending;
	/* The callbacks are still being called: the answer waits for the last one. */
	bool dispatching;
};

struct hostdev_dra_request {
	struct dra_call *owner;
	char *namespace_name;
	char *name;
	char *uid;
	/* Complete: the answer is final (a callback returned, or hostdev_dra_request_complete()
	 * ran). */
	bool done;
	/* The claim failed: error holds why (NULL only when there was no memory for the text). */
	bool failed;
	char *error;
	struct dra_device *devices;
	size_t n_devices;
};

/* A request for claim @namespace_name/@name (@uid) of @owner; NULL without memory. */
hostdev_dra_request *dra_request_new(struct dra_call *owner, const char *namespace_name,
				     const char *name, const char *uid);
void dra_request_free(hostdev_dra_request *req);
/* Set the error text (printf-style; without memory a fixed text) and drop the devices. */
void dra_request_fail(hostdev_dra_request *req, const char *fmt, ...) HOSTDEV_PRINTF(2, 3);
/* Mark @req complete (loop's lock held): the call is answered when it was the last. */
void dra_request_done(hostdev_dra_request *req);
/* The claim's error for the answer: NULL when it did not fail. */
const char *dra_request_error(const hostdev_dra_request *req);

/* ---------------------------------------------------------------------------------------------- */
/* Handlers (dra_service.c, dra_register.c) */

/* Fill plugin->methods with the DRAPlugin methods of plugin->api_versions. */
int dra_service_methods(hostdev_dra_plugin *plugin);
/* Answer @call's kubelet call if every request is complete and nothing is being dispatched; free
 * it when it is also closed. */
void dra_call_settle(struct dra_call *call);

/* The registration service's methods (GetInfo, NotifyRegistrationStatus). */
const struct grpc_method *dra_register_methods(size_t *n_methods);

/* ---------------------------------------------------------------------------------------------- */
/* Files (dra_file.c) */

/*
 * Open directory @path without following a symbolic link at its last component. Returns the fd
 * or a negative errno (-ELOOP: a symbolic link, -ENOTDIR...).
 */
int dra_open_dir(const char *path);
/*
 * Open (creating it with mode 0755 when missing) the directory @name in @dirfd without following
 * a symbolic link. Returns the fd or a negative errno.
 */
int dra_open_subdir(int dirfd, const char *name, bool create);
/*
 * Replace @name in @dirfd with @content atomically: a uniquely named hidden temporary file,
 * written, fsync'ed and renamed over @name, then the directory fsync'ed. Mode 0644 whatever the
 * umask. Returns 0 or a negative errno (the temporary file is removed).
 */
int dra_file_replace(int dirfd, const char *name, const char *content, size_t length);
/* True when @name is a plain file name: not empty, not "." or "..", no '/', at most NAME_MAX. */
bool dra_plain_name(const char *name);

/* ---------------------------------------------------------------------------------------------- */
/* CDI names (dra_cdi.c) */

/* 0 when @kind is "<vendor>/<class>" as CDI wants it, else -EINVAL with a reason in @why. */
int dra_cdi_check_kind(const char *kind, const char **why);
/* 0 when @name is a CDI device name we write: [A-Za-z0-9] at both ends, [A-Za-z0-9_.-] between. */
int dra_cdi_check_device_name(const char *name);
/* 0 when @id is a qualified CDI device id "<kind>=<name>". */
int dra_cdi_check_id(const char *id);
/* Add a read-only bind mount of @host_path at @container_path to device @name. 0, -ENOENT,
 * -ENOMEM. */
int dra_cdi_spec_add_mount(hostdev_dra_cdi_spec *spec, const char *name, const char *host_path,
			   const char *container_path);
/* Remove @dir/@file_name (not there: 0); errors name @what. */
int dra_remove_file(hostdev_ctx *ctx, const char *dir, const char *file_name, const char *what);

#endif
