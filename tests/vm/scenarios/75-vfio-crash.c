// SPDX-License-Identifier: Apache-2.0
/*
 * vm-machine: iommu
 * vm-timeout: 240
 * vm-description: C scenario: a library bind of e1000e + virtio-net SIGKILLed before each of its
 * sysfs writes on the real kernel, then `hostdev restore --all` brings both back with their netdevs
 *
 * The kill points are deterministic: the child counts the library's debug log lines announcing a
 * sysfs write and raises SIGKILL at the Nth, so every step of the sequence is interrupted once.
 */
#include <errno.h>
#include <hostdev.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "scenario.h"

static int kill_at, writes;

/* Any network interface under the device (e1000e: net/, virtio: virtioN/net/). */
static int has_netdev(const char *addr)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd),
		 "ls /sys/bus/pci/devices/%s/net /sys/bus/pci/devices/%s/virtio*/net 2>/dev/null "
		 "| grep -v : | grep -q .",
		 addr, addr);
	return system(cmd) == 0;
}

static void on_log(int priority, const char *message, void *userdata)
{
	(void)priority;
	(void)userdata;
	if (strstr(message, ": write '") && ++writes == kill_at)
		raise(SIGKILL);
}

/* Bind in a child killed at its @n-th sysfs write. 1 killed, 0 finished, -1 failed. */
static int bind_child(const char *nic, const char *vnet, int n)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		hostdev_ctx *ctx = NULL;
		const char *set[] = {nic, vnet};

		kill_at = n;
		if (hostdev_ctx_new(&ctx) < 0)
			_exit(2);
		hostdev_ctx_set_log_fn(ctx, on_log, NULL);
		hostdev_ctx_set_log_priority(ctx, HOSTDEV_LOG_DEBUG);
		_exit(hostdev_vfio_bind_set(ctx, set, 2, NULL, 0) == 2 ? 0 : 3);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		return 1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int wait_netdev(const char *addr)
{
	for (int i = 0; i < 600; i++) {
		if (has_netdev(addr))
			return 1;
		usleep(100000);
	}
	return 0;
}

int main(void)
{
	char nic[HOSTDEV_PCI_ADDRESS_MAX], vnet[HOSTDEV_PCI_ADDRESS_MAX], drv[64], what[128];
	int kills = 0;

	find_pci(0x8086, 0x10d3, nic, sizeof(nic));
	find_pci(0x1af4, 0x1041, vnet, sizeof(vnet));
	if (!vnet[0])
		find_pci(0x1af4, 0x1000, vnet, sizeof(vnet));
	if (!nic[0] || !vnet[0]) {
		printf("not ok - e1000e or virtio-net missing\n");
		return 1;
	}
	for (int n = 1; n < 20; n++) {
		int r = bind_child(nic, vnet, n);

		snprintf(what, sizeof(what), "bind killed before sysfs write %d, or finished", n);
		check(r >= 0, what, NULL);
		if (r < 0)
			break;
		kills += r;
		/* The CLI, as an operator would after the crash. */
		snprintf(what, sizeof(what), "hostdev restore --all after kill point %d", n);
		check(system("hostdev restore --all >/dev/null") == 0, what, NULL);
		driver_of(nic, drv, sizeof(drv));
		snprintf(what, sizeof(what), "kill point %d: e1000e back on e1000e", n);
		check(strcmp(drv, "e1000e") == 0, what, drv);
		driver_of(vnet, drv, sizeof(drv));
		snprintf(what, sizeof(what), "kill point %d: virtio-net back on virtio-pci", n);
		check(strcmp(drv, "virtio-pci") == 0, what, drv);
		snprintf(what, sizeof(what), "kill point %d: netdevs back", n);
		check(wait_netdev(nic) && wait_netdev(vnet), what, NULL);
		snprintf(what, sizeof(what), "kill point %d: journal empty", n);
		check(system("hostdev journal | grep -q 'no devices bound'") == 0, what, NULL);
		if (r == 0)
			break;
	}
	/* override, unbind, probe for each of the two devices */
	check(kills == 6, "killed before each of the 6 sysfs writes", NULL);
	return scenario_finish();
}
