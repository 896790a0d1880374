/* SPDX-License-Identifier: Apache-2.0 */
/*
 * usb-fake-run [--hotplug | --unplug NAME] [--ready TEXT] [--timeout SECONDS] -- COMMAND [ARGS...]:
 * build the
 * standard fake USB tree (usb_tree.c) on a umockdev testbed and run COMMAND in it (run this
 * program under umockdev-wrapper, so that COMMAND inherits the preload). Exits with COMMAND's
 * status, or 124 when COMMAND had to be killed after SECONDS (default 120, times
 * HOSTDEV_TEST_TIMEOUT_SCALE).
 *
 * --hotplug: a keyboard 0627:0001 is plugged in at port 1-5 once COMMAND is ready, and unplugged
 * once COMMAND has reported it, with add/remove uevents; nothing is timed. COMMAND's standard
 * output is relayed (unchanged) to ours and read line by line to know when:
 *  - ready: COMMAND printed a line containing TEXT (--ready TEXT; e.g. a watch that prints
 *    "watching" once its monitor has started), or, without --ready, COMMAND listens to uevents
 *    (umockdev's stand-in for a netlink uevent socket, <testbed>/event<fd>, appeared);
 *  - reported: after the plug, COMMAND printed a line containing "1-5".
 * A monitor that enumerates while it already listens (ENUMERATE) may find the keyboard in its
 * enumeration when it is plugged on the default readiness: use --ready to plug only after it.
 *
 * --unplug NAME: once COMMAND is ready, device NAME of the tree is unplugged the way the kernel
 * does it: an unbind uevent, a remove uevent, then its directory goes.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "usb_tree.h"

#define KEYBOARD_NAME "1-5"

enum stage {
	WAIT_READY,    /* the keyboard is not plugged yet */
	WAIT_REPORTED, /* plugged; COMMAND has not named it yet */
	DONE,	       /* unplugged (or no hot-plug at all) */
};

static const char *const stage_names[] = {
    [WAIT_READY] = "COMMAND to be ready",
    [WAIT_REPORTED] = "COMMAND to report the keyboard at " KEYBOARD_NAME,
    [DONE] = "COMMAND to exit",
};

struct run {
	UMockdevTestbed *tb;
	const char *ready_text; /* NULL: ready once a uevent socket exists */
	const char *unplug;	/* --unplug NAME */
	enum stage stage;
	char *keyboard; /* syspath while plugged */
	char line[8192];
	size_t line_len;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void plug(struct run *r)
{
	struct tb_usb kbd = {KEYBOARD_NAME,
			     1,
			     9,
			     0x0627,
			     0x0001,
			     0,
			     0,
			     "12",
			     "QEMU",
			     "QEMU USB Keyboard",
			     "68284-0000:00:14.0-5",
			     0,
			     1,
			     {{3, 1, 1, "usbhid"}}};

	r->keyboard = tb_add_usb(r->tb, tree_syspath("usb1"), &kbd);
	umockdev_testbed_uevent(r->tb, r->keyboard, "add");
	r->stage = WAIT_REPORTED;
}

static void unplug(struct run *r)
{
	umockdev_testbed_uevent(r->tb, r->keyboard, "remove");
	umockdev_testbed_remove_device(r->tb, r->keyboard);
	g_free(r->keyboard);
	r->keyboard = NULL;
	r->stage = DONE;
}

/* COMMAND is ready: plug the keyboard, or unplug the device of --unplug. */
static void on_ready(struct run *r)
{
	const char *path;

	if (!r->unplug) {
		plug(r);
		return;
	}
	path = tree_syspath(r->unplug);
	umockdev_testbed_uevent(r->tb, path, "unbind");
	umockdev_testbed_uevent(r->tb, path, "remove");
	umockdev_testbed_remove_device(r->tb, path);
	r->stage = DONE;
}

/* A complete line of COMMAND's output (without its newline). */
static void on_line(struct run *r, const char *line)
{
	if (r->stage == WAIT_READY && r->ready_text && strstr(line, r->ready_text))
		on_ready(r);
	else if (r->stage == WAIT_REPORTED && strstr(line, KEYBOARD_NAME))
		unplug(r);
}

/* Relay what COMMAND wrote: the bytes relayed, 0 at its end of output, -1 when nothing is there
 * now. */
static ssize_t relay(struct run *r, int fd)
{
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n <= 0)
		return n;
	for (ssize_t done = 0; done < n;) {
		ssize_t w = write(STDOUT_FILENO, buf + done, (size_t)(n - done));

		if (w < 0 && errno != EINTR)
			break;
		if (w > 0)
			done += w;
	}
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] == '\n' || r->line_len == sizeof(r->line) - 1) {
			r->line[r->line_len] = '\0';
			on_line(r, r->line);
			r->line_len = 0;
			if (buf[i] == '\n')
				continue;
		}
		r->line[r->line_len++] = buf[i];
	}
	return n;
}

/* Did a uevent socket appear (inotify on the testbed's root)? */
static bool uevent_socket_created(int ifd)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool created = false;
	ssize_t n;

	while ((n = read(ifd, buf, sizeof(buf))) > 0)
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			if (ev->len && strncmp(ev->name, "event", 5) == 0)
				created = true;
			p += sizeof(*ev) + ev->len;
		}
	return created;
}

static void usage(void)
{
	fprintf(stderr, "usage: umockdev-wrapper usb-fake-run [--hotplug | --unplug NAME] "
			"[--ready TEXT] [--timeout SECONDS] -- COMMAND...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *scale = getenv("HOSTDEV_TEST_TIMEOUT_SCALE");
	struct run r = {.stage = DONE};
	double timeout_s = 120;
	bool hotplug = false, out_open;
	int i = 1, status = 0, out[2] = {-1, -1}, ifd = -1, pidfd;
	long long deadline;
	pid_t pid;

	for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--hotplug") == 0)
			hotplug = true;
		else if (strcmp(argv[i], "--unplug") == 0 && i + 1 < argc)
			r.unplug = argv[++i];
		else if (strcmp(argv[i], "--ready") == 0 && i + 1 < argc)
			r.ready_text = argv[++i];
		else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
			timeout_s = atof(argv[++i]);
		else
			usage();
	}
	if (i + 1 >= argc || timeout_s <= 0 || (hotplug && r.unplug))
		usage();
	hotplug = hotplug || r.unplug;
	if (scale && atof(scale) > 0)
		timeout_s *= atof(scale);
	r.tb = umockdev_testbed_new();
	if (!umockdev_in_mock_environment()) {
		fprintf(stderr, "usb-fake-run: run it under umockdev-wrapper\n");
		return 2;
	}
	usb_tree_build(r.tb);
	if (r.unplug && !tree_syspath(r.unplug)) {
		fprintf(stderr, "usb-fake-run: --unplug %s: no such device in the tree\n",
			r.unplug);
		return 2;
	}
	if (hotplug) {
		r.stage = WAIT_READY;
		if (pipe2(out, O_CLOEXEC) < 0) {
			perror("usb-fake-run: pipe");
			return 2;
		}
		if (!r.ready_text) {
			char *root = umockdev_testbed_get_root_dir(r.tb);

			/* Watched before COMMAND starts: its socket cannot be missed. */
			ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
			if (ifd < 0 || inotify_add_watch(ifd, root, IN_CREATE) < 0) {
				perror("usb-fake-run: inotify");
				return 2;
			}
			g_free(root);
		}
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		if (out[1] >= 0 && dup2(out[1], STDOUT_FILENO) < 0)
			_exit(127);
		execvp(argv[i + 1], argv + i + 1);
		perror(argv[i + 1]);
		_exit(127);
	}
	if (out[1] >= 0)
		close(out[1]);
	pidfd = pidfd_open(pid, 0);
	if (pidfd < 0) {
		perror("usb-fake-run: pidfd_open");
		kill(pid, SIGKILL);
		return 2;
	}
	deadline = now_ms() + (long long)(timeout_s * 1000);
	out_open = out[0] >= 0;
	for (;;) {
		struct pollfd pfd[3] = {{.fd = pidfd, .events = POLLIN},
					{.fd = out_open ? out[0] : -1, .events = POLLIN},
					{.fd = r.stage == WAIT_READY ? ifd : -1, .events = POLLIN}};
		long long left = deadline - now_ms();

		if (left <= 0) {
			fprintf(stderr,
				"usb-fake-run: %s did not finish within %.0f s (waiting for %s)\n",
				argv[i + 1], timeout_s, stage_names[r.stage]);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			status = 124 << 8;
			break;
		}
		if (poll(pfd, 3, (int)(left > INT_MAX ? INT_MAX : left)) < 0 && errno != EINTR) {
			perror("usb-fake-run: poll");
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			status = 2 << 8;
			break;
		}
		if (pfd[2].revents && uevent_socket_created(ifd) && r.stage == WAIT_READY)
			on_ready(&r);
		if (pfd[1].revents && relay(&r, out[0]) == 0)
			out_open = false;
		if (pfd[0].revents) {
			waitpid(pid, &status, 0);
			/* What it wrote last (a child of COMMAND may keep the pipe open). */
			if (out_open && fcntl(out[0], F_SETFL, O_NONBLOCK) == 0)
				while (relay(&r, out[0]) > 0)
					;
			break;
		}
	}
	close(pidfd);
	if (r.line_len) {
		r.line[r.line_len] = '\0';
		on_line(&r, r.line);
	}
	if (r.keyboard)
		unplug(&r);
	if (out[0] >= 0)
		close(out[0]);
	if (ifd >= 0)
		close(ifd);
	g_object_unref(r.tb);
	usb_tree_free();
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}
