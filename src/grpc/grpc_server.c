/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The gRPC server object: its methods, the listening AF_UNIX socket (with the stale-socket rule:
 * a socket file nobody accepts on is replaced, a live one is left alone) and the accepted
 * connections (grpc_conn.c serves each).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "grpc_internal.h"

/* Connections taken per readiness event of the listener. */
#define ACCEPTS_PER_EVENT 32
/* Pause of the listener after EMFILE/ENFILE. */
#define ACCEPT_PAUSE_MS 100

int grpc_server_new(hostdev_loop *loop, const struct grpc_method *methods, size_t n_methods,
		    void *userdata, struct grpc_server **out)
{
	struct grpc_server *server;

	if (!loop || (!methods && n_methods) || !out)
		return -EINVAL;
	server = calloc(1, sizeof(*server));
	if (!server)
		return hostdev_error(loop_ctx(loop), -ENOMEM, "grpc: out of memory");
	server->loop = hostdev_loop_ref(loop);
	server->ctx = loop_ctx(loop);
	server->methods = methods;
	server->n_methods = n_methods;
	server->userdata = userdata;
	server->listen_fd = -1;
	server->peer_uid = (uid_t)-1;
	*out = server;
	return 0;
}

void grpc_server_set_peer_uid(struct grpc_server *server, int uid)
{
	if (server)
		server->peer_uid = uid < 0 ? (uid_t)-1 : (uid_t)uid;
}

void grpc_server_set_idle_timeout(struct grpc_server *server, int ms)
{
	if (server)
		server->idle_timeout_ms = ms;
}

static void accept_resume(struct loop_source *source, void *userdata)
{
	struct grpc_server *server = userdata;

	server->accept_pause = NULL;
	if (server->listen_source)
		loop_modify_fd(server->listen_source, EPOLLIN);
}

static void on_listen(struct loop_source *source, int fd, uint32_t revents, void *userdata)
{
	struct grpc_server *server = userdata;
	bool made_room = false;

	for (int i = 0; i < ACCEPTS_PER_EVENT && server->listen_fd >= 0; i++) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			/* Silent connections must not lock the kubelet out: make room once. */
			if ((errno == EMFILE || errno == ENFILE) && !made_room &&
			    grpc_close_idlest(server->loop)) {
				made_room = true;
				continue;
			}
			log_warn(server->ctx, "grpc: %s: accept: %s", server->socket_path,
				 strerror(errno));
			if ((errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			     errno == ENOMEM) &&
			    !server->accept_pause &&
			    loop_add_timer(server->loop, ACCEPT_PAUSE_MS, accept_resume, server,
					   &server->accept_pause) == 0)
				loop_modify_fd(server->listen_source, 0);
			return;
		}
		grpc_conn_accept(server, cfd);
	}
}

/* Mode 0600, owned by the peer user if there is one: only root, our user and the peer user may
 * connect (connect() needs write permission on the socket file). */
static int restrict_socket_file(struct grpc_server *server, const char *path)
{
	if (fchmodat(AT_FDCWD, path, 0600, AT_SYMLINK_NOFOLLOW) < 0)
		return hostdev_error(server->ctx, -errno,
				     "grpc: cannot make %s private (mode 0600): %s", path,
				     strerror(errno));
	if (server->peer_uid != (uid_t)-1 && server->peer_uid != geteuid() &&
	    lchown(path, server->peer_uid, (gid_t)-1) < 0)
		return hostdev_error(server->ctx, -errno,
				     "grpc: cannot give %s to user %u, who is to connect to it: %s",
				     path, (unsigned int)server->peer_uid, strerror(errno));
	return 0;
}

/* What a file that is in the way of a socket is, for messages. */
static const char *file_kind(mode_t mode)
{
	if (S_ISREG(mode))
		return "a regular file";
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISLNK(mode))
		return "a symbolic link";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISCHR(mode) || S_ISBLK(mode))
		return "a device node";
	return "another kind of file";
}

/* Is a server accepting on @path? 1 yes, 0 no (stale), negative errno when unknown. */
static int socket_is_live(const struct sockaddr_un *sa, socklen_t len)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int r;

	if (fd < 0)
		return -errno;
	r = connect(fd, (const struct sockaddr *)sa, len);
	if (r == 0 || errno == EAGAIN || errno == EINPROGRESS)
		r = 1; /* accepted, or a live listener with a full backlog */
	else if (errno == ECONNREFUSED || errno == ENOENT)
		r = 0;
	else
		r = -errno;
	close(fd);
	return r;
}

int grpc_server_listen(struct grpc_server *server, const char *socket_path)
{
	struct sockaddr_un sa;
	socklen_t salen;
	struct stat st;
	int fd, r;

	if (!server || !socket_path)
		return -EINVAL;
	if (server->listen_fd >= 0)
		return hostdev_error(server->ctx, -EALREADY, "grpc: already listening on %s",
				     server->socket_path);
	r = grpc_sockaddr(socket_path, &sa, &salen);
	if (r < 0)
		return hostdev_error(server->ctx, r,
				     "grpc: socket path %s is %s (a Unix socket path has at most "
				     "%zu bytes)",
				     socket_path, r == -EINVAL ? "empty" : "too long",
				     sizeof(sa.sun_path) - 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return hostdev_error(server->ctx, -errno, "grpc: socket: %s", strerror(errno));
	for (int attempt = 0;; attempt++) {
		if (bind(fd, (struct sockaddr *)&sa, salen) == 0)
			break;
		r = -errno;
		if (r != -EADDRINUSE || attempt > 0)
			goto fail_bind;
		if (lstat(socket_path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
			r = hostdev_error(server->ctx, -EEXIST,
					  "%s is not a socket but %s; it is left alone",
					  socket_path, file_kind(st.st_mode));
			goto fail;
		}
		r = socket_is_live(&sa, salen);
		if (r != 0) {
			if (r > 0)
				r = hostdev_error(server->ctx, -EADDRINUSE,
						  "grpc: %s is served by another process",
						  socket_path);
			else
				r = hostdev_error(server->ctx, r,
						  "grpc: cannot tell whether %s is in use: %s",
						  socket_path, strerror(-r));
			goto fail;
		}
		log_debug(server->ctx, "grpc: replacing the stale socket %s", socket_path);
		if (unlink(socket_path) < 0 && errno != ENOENT) {
			r = hostdev_error(server->ctx, -errno,
					  "grpc: cannot remove the stale socket %s: %s",
					  socket_path, strerror(errno));
			goto fail;
		}
	}
	/*
	 * Nobody can connect before listen(): set the mode (the umask gave it anything up to 0777)
	 * and the owner now. Not through a symbolic link another user may have put there since.
	 */
	r = restrict_socket_file(server, socket_path);
	if (r < 0) {
		unlink(socket_path);
		goto fail;
	}
	if (listen(fd, SOMAXCONN) < 0) {
		r = hostdev_error(server->ctx, -errno, "grpc: listen on %s: %s", socket_path,
				  strerror(errno));
		unlink(socket_path);
		goto fail;
	}
	if (fstat(fd, &st) < 0 || stat(socket_path, &st) < 0) {
		r = hostdev_error(server->ctx, -errno, "grpc: stat %s: %s", socket_path,
				  strerror(errno));
		unlink(socket_path);
		goto fail;
	}
	server->socket_path = strdup(socket_path);
	if (!server->socket_path) {
		r = hostdev_error(server->ctx, -ENOMEM, "grpc: out of memory");
		unlink(socket_path);
		goto fail;
	}
	server->socket_dev = st.st_dev;
	server->socket_ino = st.st_ino;
	server->listen_fd = fd;
	r = loop_add_fd(server->loop, fd, EPOLLIN, on_listen, server, &server->listen_source);
	if (r < 0) {
		server->listen_fd = -1;
		unlink(socket_path);
		free(server->socket_path);
		server->socket_path = NULL;
		goto fail;
	}
	log_debug(server->ctx, "grpc: listening on %s", socket_path);
	return 0;

fail_bind:
	r = hostdev_error(server->ctx, r, "grpc: cannot bind %s: %s", socket_path, strerror(-r));
fail:
	close(fd);
	return r;
}

unsigned long grpc_server_socket_inode(const struct grpc_server *server)
{
	return server && server->listen_fd >= 0 ? (unsigned long)server->socket_ino : 0;
}

bool grpc_server_owns_socket(const struct grpc_server *server)
{
	struct stat st;

	if (!server || server->listen_fd < 0 || !server->socket_path ||
	    stat(server->socket_path, &st) < 0)
		return false;
	return S_ISSOCK(st.st_mode) && st.st_dev == server->socket_dev &&
	       st.st_ino == server->socket_ino;
}

void grpc_server_shutdown(struct grpc_server *server, bool unlink_socket)
{
	struct stat st;

	if (!server)
		return;
	if (server->listen_fd >= 0) {
		loop_remove(server->listen_source);
		loop_remove(server->accept_pause);
		server->listen_source = server->accept_pause = NULL;
		close(server->listen_fd);
		server->listen_fd = -1;
		/* Only our own socket file: the kubelet may have put a new one in its place. */
		if (unlink_socket && stat(server->socket_path, &st) == 0 &&
		    st.st_dev == server->socket_dev && st.st_ino == server->socket_ino)
			unlink(server->socket_path);
		log_debug(server->ctx, "grpc: stopped listening on %s", server->socket_path);
	}
	/* Each close unlinks the connection from the list (even one closed while busy). */
	while (server->conns)
		grpc_conn_close(server->conns);
	free(server->socket_path);
	server->socket_path = NULL;
}

void grpc_server_shutdown_gracefully(struct grpc_server *server, bool unlink_socket, int linger_ms)
{
	if (!server)
		return;
	/* Still listening meanwhile, but nothing is accepted: the loop does not run. */
	grpc_conn_linger_all(server, linger_ms);
	grpc_server_shutdown(server, unlink_socket);
}

void grpc_server_free(struct grpc_server *server)
{
	if (!server)
		return;
	grpc_server_shutdown(server, false);
	hostdev_loop_unref(server->loop);
	free(server);
}
