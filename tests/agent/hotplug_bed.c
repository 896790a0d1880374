/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent-hotplug-bed -- COMMAND [ARGS...]: run COMMAND (the agent) on a umockdev testbed holding the
 * standard fake USB tree (tests/usb/usb_tree.c) and one PCI NIC, and change that testbed as told
 * on stdin, with the uevents the kernel would send. Run it under umockdev-wrapper, so that the
 * agent's libudev sees the testbed and its uevents. One command per line, answered "ok" (or
 * "error: ...") on stdout once done; the test then waits for the agent's reaction:
 *
 *   usb-add NAME BUSNUM DEVNUM VVVV PPPP SERIAL   a device below usb1 (port NAME "1-5"), add and
 *                                                 bind events; its node /dev/bus/usb/BBB/DDD (a
 *                                                 plain file in the testbed's /dev, which
 *                                                 umockdev shows at /dev)
 *   usb-remove NAME                               remove event, then the device and its node go
 *   pci-add ADDRESS VVVV DDDD CLASS [DRIVER [GROUP]]  a PCI function, add (and bind) events; in
 *                                                 IOMMU group GROUP (with the functions already
 *                                                 there), else in none
 *   pci-bind ADDRESS DRIVER                       driver link changed, bind event
 *   pci-unbind ADDRESS                            driver link gone, unbind event
 *   pci-remove ADDRESS                            remove event, then the function goes
 *   pci-change ADDRESS                            a change event (nothing else changes)
 *
 * The xHCI and the NIC are alone in IOMMU groups 1 and 2, as on a host with the IOMMU on; an added
 * function is in the GROUP given, else in none (a claim for it is refused before any store).
 *
 * It exits with COMMAND's status once COMMAND ended (stdin closed: COMMAND gets SIGTERM).
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "usb_tree.h"

static UMockdevTestbed *tb;
static char *root_dir; /* the testbed's directory (umockdev_testbed_get_root_dir(): ours) */
static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	stop_requested = 1;
}
static char *added[64][2]; /* name -> syspath of what this bed added */
static int n_added;

static const char *syspath_of(const char *name)
{
	for (int i = 0; i < n_added; i++)
		if (added[i][0] && strcmp(added[i][0], name) == 0)
			return added[i][1];
	return tree_syspath(name);
}

static void remember(const char *name, char *syspath)
{
	if (n_added < 64) {
		added[n_added][0] = strdup(name);
		added[n_added][1] = syspath;
		n_added++;
	}
}

/* The device node of USB device @name: <testbed>/dev/bus/usb/BBB/DDD (umockdev's preload shows
 * the testbed's dev directory at /dev). */
static char *added_nodes[64][2]; /* name -> node path */

static void usb_node(const char *name, unsigned int busnum, unsigned int devnum)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/dev/bus/usb/%03u", root_dir, busnum);
	g_mkdir_with_parents(path, 0755);
	snprintf(path + strlen(path), sizeof(path) - strlen(path), "/%03u", devnum);
	if ((f = fopen(path, "w")))
		fclose(f);
	for (int i = 0; i < 64; i++)
		if (!added_nodes[i][0]) {
			added_nodes[i][0] = strdup(name);
			added_nodes[i][1] = strdup(path);
			break;
		}
}

static void usb_node_remove(const char *name)
{
	for (int i = 0; i < 64; i++)
		if (added_nodes[i][0] && strcmp(added_nodes[i][0], name) == 0) {
			unlink(added_nodes[i][1]);
			free(added_nodes[i][0]);
			free(added_nodes[i][1]);
			added_nodes[i][0] = added_nodes[i][1] = NULL;
		}
}

static void forget(const char *name)
{
	for (int i = 0; i < n_added; i++)
		if (added[i][0] && strcmp(added[i][0], name) == 0) {
			free(added[i][0]);
			g_free(added[i][1]);
			added[i][0] = added[i][1] = NULL;
		}
}

/* umockdev leaves the bus links of a removed device (and of its interfaces) behind, which would
 * stop a re-plug at the same port. */
static void remove_bus_links(const char *bus, const char *name)
{
	char dir[512], link[1024];
	size_t n = strlen(name);
	struct dirent *d;
	DIR *dp;

	snprintf(dir, sizeof(dir), "%s/sys/bus/%s/devices", root_dir, bus);
	dp = opendir(dir);
	while (dp && (d = readdir(dp)))
		if (strncmp(d->d_name, name, n) == 0 &&
		    (d->d_name[n] == '\0' || d->d_name[n] == ':')) {
			snprintf(link, sizeof(link), "%s/%s", dir, d->d_name);
			unlink(link);
		}
	if (dp)
		closedir(dp);
}

/* Put the PCI function at @syspath (the testbed's) in IOMMU group @group: the kernel's
 * <sysfs>/kernel/iommu_groups/N/devices/<address> link and the function's iommu_group link. */
static void set_iommu_group(const char *syspath, const char *address, int group)
{
	char dir[1024], link[1200], target[1024] = "";

	if (!syspath || strncmp(syspath, "/sys/", strlen("/sys/")) != 0) {
		fprintf(stderr, "agent-hotplug-bed: %s: no syspath for its IOMMU group\n", address);
		return;
	}
	snprintf(dir, sizeof(dir), "%s/sys/kernel/iommu_groups/%d/devices", root_dir, group);
	g_mkdir_with_parents(dir, 0755);
	snprintf(link, sizeof(link), "%s/%s", dir, address);
	snprintf(target, sizeof(target), "../../../..%s", syspath + strlen("/sys"));
	if (symlink(target, link) < 0)
		perror(link);
	/* From <syspath>/ up to the testbed's /sys, then down. */
	target[0] = '\0';
	for (const char *p = syspath + strlen("/sys"); *p; p++)
		if (*p == '/')
			strncat(target, "../", sizeof(target) - strlen(target) - 1);
	snprintf(target + strlen(target), sizeof(target) - strlen(target), "kernel/iommu_groups/%d",
		 group);
	umockdev_testbed_set_attribute_link(tb, syspath, "iommu_group", target);
}

/* The testbed's syspath ("/sys/devices/...") of the PCI function at @address, from its bus link;
 * "" when there is none. */
static const char *pci_syspath(const char *address)
{
	static char out[PATH_MAX];
	char link[1024], *real;

	snprintf(link, sizeof(link), "%s/sys/bus/pci/devices/%s", root_dir, address);
	out[0] = '\0';
	if ((real = realpath(link, NULL)) && strncmp(real, root_dir, strlen(root_dir)) == 0)
		snprintf(out, sizeof(out), "%s", real + strlen(root_dir));
	free(real);
	return out;
}

/* The group link of a removed function goes with it. */
static void remove_iommu_group_link(const char *address)
{
	char dir[512], link[1024];
	struct dirent *d;
	DIR *dp;

	snprintf(dir, sizeof(dir), "%s/sys/kernel/iommu_groups", root_dir);
	dp = opendir(dir);
	while (dp && (d = readdir(dp))) {
		snprintf(link, sizeof(link), "%s/%s/devices/%s", dir, d->d_name, address);
		unlink(link);
	}
	if (dp)
		closedir(dp);
}

static char *add_pci(const char *address, unsigned int vendor, unsigned int device,
		     unsigned int class_code, const char *driver)
{
	char v[16], d[16], c[16], id[16], cls[16];
	char *path;

	snprintf(v, sizeof(v), "0x%04x\n", vendor);
	snprintf(d, sizeof(d), "0x%04x\n", device);
	snprintf(c, sizeof(c), "0x%06x\n", class_code);
	snprintf(id, sizeof(id), "%04X:%04X", vendor, device);
	snprintf(cls, sizeof(cls), "%X", class_code);
	path = umockdev_testbed_add_device(
	    tb, "pci", address, NULL, "vendor", v, "device", d, "class", c, "subsystem_vendor", v,
	    "subsystem_device", "0x0000\n", "revision", "0x01\n", "numa_node", "0\n", NULL,
	    "PCI_SLOT_NAME", address, "PCI_ID", id, "PCI_CLASS", cls, NULL);
	if (path && driver) {
		char target[128];

		snprintf(target, sizeof(target), "../../bus/pci/drivers/%s", driver);
		umockdev_testbed_set_attribute_link(tb, path, "driver", target);
	}
	return path;
}

static int command(char *line)
{
	char *argv[8] = {NULL};
	int argc = 0;

	for (char *tok = strtok(line, " \n"); tok && argc < 8; tok = strtok(NULL, " \n"))
		argv[argc++] = tok;
	if (argc == 0)
		return 0;
	if (strcmp(argv[0], "usb-add") == 0 && argc == 7) {
		struct tb_usb spec = {argv[1],
				      (unsigned int)strtoul(argv[2], NULL, 10),
				      (unsigned int)strtoul(argv[3], NULL, 10),
				      (unsigned int)strtoul(argv[4], NULL, 16),
				      (unsigned int)strtoul(argv[5], NULL, 16),
				      0x0100,
				      0,
				      "480",
				      "Hostdev",
				      "Hot Stick",
				      argv[6],
				      0,
				      1,
				      {{8, 6, 0x50, "usb-storage"}}};
		char *path;

		/* The node first: the kernel's devtmpfs has it before udev hears of the device. */
		usb_node(argv[1], spec.busnum, spec.devnum);
		path = tb_add_usb(tb, tree_syspath("usb1"), &spec);

		/* umockdev sent the add events of the device and its interfaces; the kernel ends
		 * with the bind of the device to the usb driver, once its interfaces exist. */
		umockdev_testbed_uevent(tb, path, "bind");
		remember(argv[1], path);
		return 0;
	}
	if (strcmp(argv[0], "pci-add") == 0 && argc >= 5 && argc <= 7) {
		char *path =
		    add_pci(argv[1], (unsigned int)strtoul(argv[2], NULL, 16),
			    (unsigned int)strtoul(argv[3], NULL, 16),
			    (unsigned int)strtoul(argv[4], NULL, 16), argc >= 6 ? argv[5] : NULL);

		if (!path)
			return -1;
		if (argc == 7)
			set_iommu_group(path, argv[1], atoi(argv[6]));
		/* umockdev sent the add event; the kernel follows with bind once a driver took it.
		 */
		if (argc >= 6)
			umockdev_testbed_uevent(tb, path, "bind");
		remember(argv[1], path);
		return 0;
	}
	if (strcmp(argv[0], "pci-bind") == 0 && argc == 3 && syspath_of(argv[1])) {
		char target[128], old[1024];

		/* The kernel's unbind takes the old link away (umockdev will not replace it). */
		snprintf(old, sizeof(old), "%s%s/driver", root_dir, syspath_of(argv[1]));
		unlink(old);
		snprintf(target, sizeof(target), "../../bus/pci/drivers/%s", argv[2]);
		umockdev_testbed_set_attribute_link(tb, syspath_of(argv[1]), "driver", target);
		umockdev_testbed_set_property(tb, syspath_of(argv[1]), "DRIVER", argv[2]);
		umockdev_testbed_uevent(tb, syspath_of(argv[1]), "bind");
		return 0;
	}
	if (strcmp(argv[0], "pci-unbind") == 0 && argc == 2 && syspath_of(argv[1])) {
		char old[1024];

		snprintf(old, sizeof(old), "%s%s/driver", root_dir, syspath_of(argv[1]));
		unlink(old);
		umockdev_testbed_set_property(tb, syspath_of(argv[1]), "DRIVER", "");
		umockdev_testbed_uevent(tb, syspath_of(argv[1]), "unbind");
		return 0;
	}
	if (strcmp(argv[0], "pci-change") == 0 && argc == 2 && syspath_of(argv[1])) {
		umockdev_testbed_uevent(tb, syspath_of(argv[1]), "change");
		return 0;
	}
	if ((strcmp(argv[0], "usb-remove") == 0 || strcmp(argv[0], "pci-remove") == 0) &&
	    argc == 2 && syspath_of(argv[1])) {
		umockdev_testbed_uevent(tb, syspath_of(argv[1]), "remove");
		umockdev_testbed_remove_device(tb, syspath_of(argv[1]));
		remove_bus_links(argv[0][0] == 'u' ? "usb" : "pci", argv[1]);
		if (argv[0][0] == 'p')
			remove_iommu_group_link(argv[1]);
		usb_node_remove(argv[1]);
		forget(argv[1]);
		return 0;
	}
	return -1;
}

int main(int argc, char **argv)
{
	char line[512], *nic;
	int status = 0, i = 1;
	pid_t pid;

	if (argc < 3 || strcmp(argv[1], "--") != 0) {
		fprintf(stderr, "usage: umockdev-wrapper agent-hotplug-bed -- COMMAND...\n");
		return 2;
	}
	tb = umockdev_testbed_new();
	if (!umockdev_in_mock_environment()) {
		fprintf(stderr, "agent-hotplug-bed: run it under umockdev-wrapper\n");
		return 2;
	}
	usb_tree_build(tb);
	root_dir = umockdev_testbed_get_root_dir(tb);
	set_iommu_group(pci_syspath("0000:00:14.0"), "0000:00:14.0", 1);
	nic = add_pci("0000:00:03.0", 0x8086, 0x10d3, 0x020000, "e1000e");
	set_iommu_group(nic, "0000:00:03.0", 2); /* NULL: said, and the test finds it missing */
	g_free(nic);
	setvbuf(stdout, NULL, _IOLBF, 0);
	fflush(NULL);
	/* SIGTERM to the bed is a stop of the agent: forwarded, and the bed exits with it. */
	signal(SIGTERM, on_stop);
	signal(SIGINT, on_stop);
	pid = fork();
	if (pid == 0) {
		/* The agent must not outlive the bed, whatever ends it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		execvp(argv[i + 1], argv + i + 1);
		perror(argv[i + 1]);
		_exit(127);
	}
	for (;;) {
		struct pollfd p = {.fd = 0, .events = POLLIN};

		if (waitpid(pid, &status, WNOHANG) == pid)
			goto done;
		if (stop_requested) {
			kill(pid, SIGTERM);
			waitpid(pid, &status, 0);
			goto done;
		}
		if (poll(&p, 1, 200) <= 0)
			continue;
		if (!fgets(line, sizeof(line), stdin))
			break;
		if (command(line) == 0)
			printf("ok\n");
		else
			printf("error: cannot do \"%s\"\n", strtok(line, "\n"));
	}
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
done:
	for (int k = 0; k < n_added; k++) {
		free(added[k][0]);
		g_free(added[k][1]);
	}
	g_free(root_dir);
	g_object_unref(tb);
	usb_tree_free();
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}
