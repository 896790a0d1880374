/* SPDX-License-Identifier: Apache-2.0 */
/*
 * inotify on the directory of a server's socket. A kubelet that starts deletes every socket of
 * the device-plugin directory (it keeps kubelet_internal_checkpoint, which we never touch) and
 * then creates kubelet.sock: our socket gone -> listen again and register again; kubelet.sock
 * created -> register again. The refresh timer of dp_server.c checks the socket too, for the
 * events inotify may lose (queue overflow, a watch that could not be set up).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loop/loop.h"
#include "deviceplugin.h"

bool dp_watch_socket_is_ours(hostdev_dp_server *server)
{
	return grpc_server_owns_socket(server->grpc);
}

static void on_inotify(struct loop_source *source, int fd, uint32_t revents, void *userdata)
{
	hostdev_dp_server *server = userdata;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool check_socket = false, kubelet_created = false, relistened = false;
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			const char *name = ev->len ? ev->name : "";

			p += sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				check_socket = true;
				kubelet_created = true;
			} else if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
				log_warn(server->ctx,
					 "resource %s: directory %s was removed; the socket is "
					 "re-created when it exists again",
					 server->resource_name, server->socket_dir);
			} else if (strcmp(name, server->socket_name) == 0) {
				check_socket = true;
			} else if (server->registration == HOSTDEV_DP_REGISTER_CLASSIC &&
				   strcmp(name, DP_KUBELET_SOCKET) == 0 &&
				   (ev->mask & (IN_CREATE | IN_MOVED_TO))) {
				kubelet_created = true;
			}
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
	uint32_t mask = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF |
			IN_MOVE_SELF | IN_ONLYDIR;
	int fd, r;

	fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0)
		return hostdev_error(server->ctx, -errno,
				     "resource %s: no inotify instance (%s); a kubelet restart is "
				     "only noticed by the periodic socket check (raise "
				     "fs.inotify.max_user_instances)",
				     server->resource_name, strerror(errno));
	if (inotify_add_watch(fd, server->socket_dir, mask) < 0) {
		r = -errno;
		close(fd);
		return hostdev_error(server->ctx, r,
				     "resource %s: cannot watch %s (%s); a kubelet restart is only "
				     "noticed by the periodic socket check",
				     server->resource_name, server->socket_dir, strerror(-r));
	}
	r = loop_add_fd(server->loop, fd, EPOLLIN, on_inotify, server, &server->inotify_source);
	if (r < 0) {
		close(fd);
		return hostdev_error(server->ctx, r, "resource %s: cannot watch %s: %s",
				     server->resource_name, server->socket_dir, strerror(-r));
	}
	server->inotify_fd = fd;
	return 0;
}

void dp_watch_stop(hostdev_dp_server *server)
{
	loop_remove(server->inotify_source);
	server->inotify_source = NULL;
	if (server->inotify_fd >= 0)
		close(server->inotify_fd);
	server->inotify_fd = -1;
}
