/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The directory of a server's socket, watched (grpc_dir_watch.c): a kubelet that starts deletes
 * every socket of the device-plugin directory (it keeps kubelet_internal_checkpoint, which we
 * never touch) and then creates kubelet.sock: our socket gone -> listen again and register again;
 * kubelet.sock created -> register again. The refresh timer of dp_server.c checks the socket
 * too, for the events inotify may lose (queue overflow, a watch that could not be set up).
 */
#include <string.h>

#include "loop/loop.h"
#include "deviceplugin.h"

bool dp_watch_socket_is_ours(hostdev_dp_server *server)
{
	return grpc_server_owns_socket(server->grpc);
}

static void on_changes(const struct grpc_dir_change *changes, size_t n, void *userdata)
{
	hostdev_dp_server *server = userdata;
	bool check_socket = false, kubelet_created = false, relistened = false;

	for (size_t i = 0; i < n; i++) {
		const struct grpc_dir_change *c = &changes[i];

		if (c->what == GRPC_DIR_LOST) {
			check_socket = true;
			kubelet_created = true;
		} else if (c->what == GRPC_DIR_GONE) {
			log_warn(
			    server->ctx,
			    "resource %s: directory %s was removed; the socket is re-created when "
			    "it exists again (checked every 5 minutes)",
			    server->resource_name, server->socket_dir);
		} else if (strcmp(c->name, server->socket_name) == 0) {
			check_socket = true;
		} else if (server->registration == HOSTDEV_DP_REGISTER_CLASSIC &&
			   strcmp(c->name, DP_KUBELET_SOCKET) == 0 && c->what == GRPC_DIR_CREATED) {
			kubelet_created = true;
		}
	}
	if (!server->started || server->stopping)
		return;
	if (check_socket && !dp_watch_socket_is_ours(server)) {
		log_info(server->ctx,
			 "resource %s: socket %s was deleted (kubelet restart?); listening again",
			 server->resource_name, server->socket_path);
		relistened = server->relisten(server) == 0;
	}
	if (server->registration != HOSTDEV_DP_REGISTER_CLASSIC)
		return;
	if (kubelet_created) {
		log_info(server->ctx, "resource %s: %s appeared; registering again",
			 server->resource_name, server->kubelet_socket);
		dp_register_now(server);
	} else if (relistened) {
		log_info(server->ctx, "resource %s: registering again with the new socket",
			 server->resource_name);
		dp_register_now(server);
	}
}

int dp_watch_start(hostdev_dp_server *server)
{
	int r = grpc_dir_watch_start(server->loop, server->socket_dir, on_changes, server,
				     &server->socket_watch);

	if (r < 0)
		return hostdev_error(server->ctx, r,
				     "resource %s: cannot watch %s (%s); a kubelet restart is only "
				     "noticed by the periodic socket check (raise "
				     "fs.inotify.max_user_instances if it says too many)",
				     server->resource_name, server->socket_dir, strerror(-r));
	return 0;
}

void dp_watch_stop(hostdev_dp_server *server)
{
	grpc_dir_watch_stop(server->socket_watch);
	server->socket_watch = NULL;
}
