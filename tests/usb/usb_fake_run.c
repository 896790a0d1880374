/* SPDX-License-Identifier: Apache-2.0 */
/*
 * usb-fake-run [--hotplug] [--keep-env] -- COMMAND [ARGS...]: build the standard fake USB tree
 * (usb_tree.c) on a umockdev testbed and run COMMAND in it (run this program under
 * umockdev-wrapper, so that COMMAND inherits the preload). With --hotplug, a keyboard 0627:0001 is
 * plugged in at port 1-5 half a second after COMMAND started and unplugged 0.3 s later, with
 * add/remove uevents. Exits with COMMAND's status (124 if it had to be killed after 20 s).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "usb_tree.h"

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
	struct tb_usb kbd = {"1-5",
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
	UMockdevTestbed *tb;
	int i = 1, status = 0, hotplug = 0;
	pid_t pid;

	for (; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--hotplug") == 0)
			hotplug = 1;
	if (i + 1 >= argc) {
		fprintf(stderr, "usage: umockdev-wrapper usb-fake-run [--hotplug] -- COMMAND...\n");
		return 2;
	}
	tb = umockdev_testbed_new();
	if (!umockdev_in_mock_environment()) {
		fprintf(stderr, "usb-fake-run: run it under umockdev-wrapper\n");
		return 2;
	}
	usb_tree_build(tb);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		execvp(argv[i + 1], argv + i + 1);
		perror(argv[i + 1]);
		_exit(127);
	}
	if (hotplug) {
		char *path;

		sleep_ms(700);
		path = tb_add_usb(tb, tree_syspath("usb1"), &kbd);
		umockdev_testbed_uevent(tb, path, "add");
		sleep_ms(300);
		umockdev_testbed_uevent(tb, path, "remove");
		umockdev_testbed_remove_device(tb, path);
		g_free(path);
	}
	for (int waited = 0; waitpid(pid, &status, WNOHANG) == 0; waited += 50) {
		if (waited > 20000) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			status = 124 << 8;
			break;
		}
		sleep_ms(50);
	}
	g_object_unref(tb);
	usb_tree_free();
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}
