/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Device-plugin servers (deviceplugin.h): the objects shared by the lifecycle (dp_server.c), the
 * RPC handlers (dp_service.c), the protobuf helpers (dp_proto.c), registration (dp_register.c)
 * and the directory watch (dp_watch.c). Never installed.
 */
#ifndef HOSTDEV_DP_SERVER_H
#define HOSTDEV_DP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "grpc/grpc.h"

/* The API version served and registered. */
#define DP_API_VERSION "v1beta1"
/* The kubelet's registration socket in the device-plugin directory. */
#define DP_KUBELET_SOCKET "kubelet.sock"
/* Largest path a sockaddr_un holds (108 bytes with the NUL). */
#define DP_SOCKET_PATH_MAX 107

/* ---------------------------------------------------------------------------------------------- */
/* Device lists (dp_devices.c) */

struct dp_device {
	const char *id; /* in one of the list's @id_blocks */
	bool healthy;
	int numa_node; /* -1: none */
};

struct hostdev_dp_devices {
	int refcount; /* atomic: a plugin may keep a list it handed over */
	struct dp_device *items;
	size_t count;
	size_t capacity;
	/* The ids, each with its NUL, one after the other in blocks of DP_ID_BLOCK bytes: one
	 * allocation per block, not one of 32 bytes per id (issue 15: the server keeps the
	 * advertised list). A block never moves, so an id hostdev_dp_devices_get_id() returned stays
	 * valid while the list lives, as it did when each id had an allocation of its own. */
	char **id_blocks;
	size_t n_id_blocks;
	size_t block_used; /* bytes used in the last block */
	/* id -> index in items: every id of a request is looked up in the advertised list, and a
	 * kubelet may send thousands. */
	struct dp_index index;
};

#define DP_ID_BLOCK 4096

/* Give back what the item array holds beyond the items (a list that will not grow any more). */
void dp_devices_trim(hostdev_dp_devices *devices);
/* A deep copy of @devices (NULL @devices gives an empty list). NULL on ENOMEM. */
hostdev_dp_devices *dp_devices_copy(const hostdev_dp_devices *devices);
/* True when both lists hold the same devices with the same fields in the same order. */
bool dp_devices_equal(const hostdev_dp_devices *a, const hostdev_dp_devices *b);
/* Index of @id in @devices, or -1. */
ptrdiff_t dp_devices_find(const hostdev_dp_devices *devices, const char *id);
/* 0 when @id may be advertised (1-63 characters of [A-Za-z0-9._:-], alphanumeric at both ends),
 * -EINVAL otherwise. */
int dp_device_id_check(const char *id);

/* ---------------------------------------------------------------------------------------------- */
/* Plugin answers (dp_response.c) */

struct dp_kv {
	char *key;
	char *value;
};

struct dp_device_spec {
	char *container_path;
	char *host_path;
	char *permissions;
};

struct dp_mount {
	char *container_path;
	char *host_path;
	bool read_only;
};

struct hostdev_dp_response {
	struct dp_kv *envs;
	size_t n_envs;
	struct dp_device_spec *devices;
	size_t n_devices;
	struct dp_mount *mounts;
	size_t n_mounts;
	struct dp_kv *annotations;
	size_t n_annotations;
	struct strv cdi_devices;
	struct strv ids;	   /* GetPreferredAllocation */
	struct dp_strmap id_index; /* the ids, for hostdev_dp_response_add_id()'s duplicates */
	char *error;		   /* hostdev_dp_response_set_error() */
};

hostdev_dp_response *dp_response_new(void);
void dp_response_free(hostdev_dp_response *resp);

/* ---------------------------------------------------------------------------------------------- */
/* Servers (dp_server.c) */

/* One open ListAndWatch stream. */
struct dp_watcher {
	struct hostdev_dp_server *server;
	struct grpc_call *call;
	/* server->epoch when the stream opened: only the end of a stream of the current
	 * registration means that the kubelet went away (an older one ends when the kubelet
	 * replaces it with the stream of a newer registration). */
	unsigned int epoch;
	/* Ended by us (stop): its end is not the kubelet's doing. */
	bool finished;
	struct dp_watcher *next;
};

/* One device's health as an event set it (hostdev_dp_server_set_health()). */
struct dp_health_change {
	char *id;
	bool healthy;
};

struct hostdev_dp_server {
	int refcount;
	hostdev_loop *loop;
	hostdev_ctx *ctx;
	char *resource_name;
	struct hostdev_dp_plugin_ops ops;
	void *userdata;
	/* Listen on the socket again (it was deleted or replaced; closes every connection): set by
	 * dp_server.c, called by the registration and the directory watch too, which thus never
	 * call back into dp_server.c. Returns 0 or a negative errno (logged). */
	int (*relisten)(hostdev_dp_server *server);

	/* Options, resolved. */
	int registration;     /* enum hostdev_dp_registration */
	int refresh_ms;	      /* < 0: never */
	char *plugin_dir;     /* device-plugin directory (kubelet.sock) */
	char *socket_dir;     /* where our socket lives: plugin_dir, or plugins_registry */
	char *socket_name;    /* file name in socket_dir */
	char *socket_path;    /* socket_dir/socket_name */
	char *kubelet_socket; /* plugin_dir/kubelet.sock */

	hostdev_dp_devices *devices; /* advertised */
	int state;		     /* enum hostdev_dp_state */
	bool started;
	bool stopping;
	unsigned int registrations;

	struct grpc_server *grpc;
	struct dp_watcher *watchers;
	struct loop_source *refresh_timer;
	uint64_t refresh_due_ms;	/* CLOCK_MONOTONIC ms of the next periodic list */
	struct loop_source *push_timer; /* set_health's changes go out at the end of the round */
	struct loop_source *give_back_timer; /* dp_server_give_back_memory() */

	/* HOSTDEV_DP_PLUGIN_LIST_OFF_LOOP: the list being read on the loop's worker thread, and
	 * whether another refresh was asked for meanwhile (it runs once, after). */
	struct loop_work *listing_work;
	struct dp_listing *listing;
	bool refresh_again;
	bool starting;
	/* Health set by events (hostdev_dp_server_set_health()) while that list was read: newer
	 * than what the list may have seen, so it is applied to the list when it arrives. */
	struct dp_health_change *health_changes;
	size_t n_health_changes;

	/* Registration (dp_register.c). */
	struct grpc_client_call *register_call;
	bool register_in_flight;
	struct loop_source *register_timer;
	unsigned int backoff_step;
	/* Retries 100 ms apart after kubelet.sock appeared: the kubelet binds the socket a moment
	 * before it listens on it, and a connect in between is refused. */
	unsigned int quick_retries;
	/* The stream of the registration in flight already ended: register again after it. */
	bool stream_lost;
	unsigned int epoch;

	/* Directory watch (dp_watch.c). */
	struct grpc_dir_watch *socket_watch; /* the socket's directory (dp_watch.c) */
};

/* Push the advertised list to every ListAndWatch stream. */
void dp_server_push(hostdev_dp_server *server);
/* A list was read or sent: give the freed memory back to the kernel a while after (dp_server.c). */
void dp_server_give_back_memory(hostdev_dp_server *server);
/* Replace the advertised list by @devices (taken) and push it when it differs. */
void dp_server_replace_devices(hostdev_dp_server *server, hostdev_dp_devices *devices);

/* ---------------------------------------------------------------------------------------------- */
/* RPC handlers (dp_service.c) */

/* The method table of a server in @registration mode (the watcher mode also serves
 * pluginregistration.Registration on the same socket). */
const struct grpc_method *dp_service_methods(int registration, size_t *n_methods);
/* End every ListAndWatch stream with an empty list (stop). */
void dp_service_finish_watchers(hostdev_dp_server *server);
/* gRPC status for a plugin's negative errno (the mapping documented in deviceplugin.h). */
int dp_status_from_errno(int err);

/* ---------------------------------------------------------------------------------------------- */
/* Protobuf helpers (dp_proto.c) */

/* Encode a ListAndWatchResponse for @devices (NULL: the empty list) into *@out (malloc'ed), after
 * @headroom bytes left for the caller; *@length is the message's, without them. */
int dp_proto_list_and_watch(const hostdev_dp_devices *devices, size_t headroom, uint8_t **out,
			    size_t *length);
/* Encode an AllocateResponse of @n answers, in order. */
int dp_proto_allocate_response(hostdev_dp_response *const *answers, size_t n, uint8_t **out,
			       size_t *length);
/* Encode a PreferredAllocationResponse of @n id lists. */
int dp_proto_preferred_response(const struct strv *lists, size_t n, uint8_t **out, size_t *length);
/* Encode DevicePluginOptions for @ops. */
int dp_proto_options(const struct hostdev_dp_plugin_ops *ops, uint8_t **out, size_t *length);
/* Encode a RegisterRequest of @server. */
int dp_proto_register_request(const hostdev_dp_server *server, uint8_t **out, size_t *length);
/* Encode the PluginInfo of @server (plugin watcher). */
int dp_proto_plugin_info(const hostdev_dp_server *server, uint8_t **out, size_t *length);
/* Encode an empty message (Empty, PreStartContainerResponse, RegistrationStatusResponse). */
int dp_proto_empty(uint8_t **out, size_t *length);

/* ---------------------------------------------------------------------------------------------- */
/* Registration (dp_register.c) */

/* Start registering (classic: Register now; watcher: wait for GetInfo; none: serving). */
void dp_register_start(hostdev_dp_server *server);
/* Cancel the call in flight and the retry timer. */
void dp_register_stop(hostdev_dp_server *server);
/* Register again now (kubelet.sock appeared, our socket was re-created). */
void dp_register_now(hostdev_dp_server *server);
/* A ListAndWatch stream of the current registration ended without us ending it. */
void dp_register_stream_ended(hostdev_dp_server *server);
/* Plugin watcher: GetInfo arrived / NotifyRegistrationStatus said @registered. */
void dp_register_watcher_info(hostdev_dp_server *server);
void dp_register_watcher_status(hostdev_dp_server *server, bool registered, const char *error);

/* ---------------------------------------------------------------------------------------------- */
/* Directory watch (dp_watch.c) */

/* inotify on the socket directory: our socket deleted -> re-listen and re-register; classic mode:
 * kubelet.sock created -> re-register. A failure only loses the fast path (the refresh timer
 * still notices a deleted socket). */
int dp_watch_start(hostdev_dp_server *server);
void dp_watch_stop(hostdev_dp_server *server);
/* Is the socket file still the one we listen on? */
bool dp_watch_socket_is_ours(hostdev_dp_server *server);

#endif
