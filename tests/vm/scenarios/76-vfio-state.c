// SPDX-License-Identifier: Apache-2.0
/*
 * vm-machine: iommu
 * vm-timeout: 180
 * vm-description: C scenario: the vfio state on a real kernel: a forged journal in a directory
 * another user owns is refused and writes nothing, a record naming vfio-pci is refused, a FIFO in
 * the journal's place answers instead of hanging, a held lock is waited for with the holder's pid
 * and then given up on while `hostdev journal` still answers, stale records are kept and reported
 * (dropped with --forget-gone), and --sysfs alone is refused for bind
 */
#include <errno.h>
#include <fcntl.h>
#include <hostdev.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "scenario.h"

#define STATE "/var/lib/hostdev"
#define JOURNAL STATE "/vfio-journal.json"
#define LOCK STATE "/vfio.lock"

static char out[16384];

/* Run @cmd with stderr folded into stdout, into out[]. Returns its exit status, -1 if killed. */
static int run(const char *cmd)
{
	char full[1024];
	size_t n = 0;
	FILE *p;
	int status;

	snprintf(full, sizeof(full), "%s 2>&1", cmd);
	p = popen(full, "r");
	if (!p)
		return -1;
	while (n < sizeof(out) - 1 && fgets(out + n, (int)(sizeof(out) - n), p))
		n += strlen(out + n);
	out[n] = '\0';
	status = pclose(p);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int has(const char *needle)
{
	return strstr(out, needle) != NULL;
}

static void write_journal(const char *records)
{
	FILE *f = fopen(JOURNAL, "we");

	if (!f) {
		check(0, "write the journal", strerror(errno));
		return;
	}
	fprintf(f, "{\"format\":\"libhostdev-vfio-journal\",\"version\":1,\"records\":[%s]}\n",
		records);
	fclose(f);
	chmod(JOURNAL, 0600);
}

static void override_of(const char *addr, char *buf, size_t size)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override", addr);
	buf[0] = '\0';
	f = fopen(path, "re");
	if (f) {
		if (fgets(buf, (int)size, f))
			buf[strcspn(buf, "\n")] = '\0';
		fclose(f);
	}
}

int main(void)
{
	char nic[HOSTDEV_PCI_ADDRESS_MAX], drv[64], ovr[64], cmd[256], record[512], what[128];
	int st, fd;
	pid_t holder;

	find_pci(0x8086, 0x10d3, nic, sizeof(nic));
	if (!nic[0]) {
		printf("not ok - e1000e missing\n");
		return 1;
	}
	mkdir("/var/lib", 0755);
	mkdir(STATE, 0700);

	/* 1. A journal forged in a directory another user owns: refused, nothing written. */
	snprintf(record, sizeof(record),
		 "{\"address\":\"%s\",\"driver\":\"e1000e\",\"driver_override\":\"vfio-pci\","
		 "\"iommu_group\":1,\"time\":1,\"owner\":null,\"group_bind\":false,"
		 "\"complete\":true}",
		 nic);
	write_journal(record);
	check(chown(STATE, 65534, 65534) == 0 && chmod(STATE, 0755) == 0, "state dir given away",
	      strerror(errno));
	st = run("hostdev restore --all");
	check(st == 1, "restore with a state dir owned by uid 65534 exits 1", out);
	check(has("owned by uid 65534") && has("mode 0755"), "the refusal names owner and mode",
	      out);
	check(run("hostdev journal") == 1, "journal refuses to list it", out);
	override_of(nic, ovr, sizeof(ovr));
	check(strcmp(ovr, "(null)") == 0, "no driver_override written", ovr);
	driver_of(nic, drv, sizeof(drv));
	check(strcmp(drv, "e1000e") == 0, "e1000e untouched", drv);

	/* 2. Ours again: the record naming vfio-pci is refused, still nothing written. */
	check(chown(STATE, 0, 0) == 0 && chmod(STATE, 0700) == 0, "state dir taken back", NULL);
	st = run("hostdev restore --all");
	check(st == 1 && has(": refused: "), "a record naming vfio-pci is refused", out);
	override_of(nic, ovr, sizeof(ovr));
	check(strcmp(ovr, "(null)") == 0, "still no driver_override written", ovr);

	/* 3. A FIFO in the journal's place: an answer, not a hang (timeout exits 124). */
	unlink(JOURNAL);
	check(mkfifo(JOURNAL, 0600) == 0, "mkfifo journal", strerror(errno));
	st = run("timeout 30 hostdev journal");
	check(st == 1 && has("not a regular file"), "journal on a FIFO answers", out);
	snprintf(cmd, sizeof(cmd), "timeout 30 hostdev bind %s", nic);
	st = run(cmd);
	check(st == 1 && has("not a regular file"), "bind with a FIFO journal answers", out);
	unlink(JOURNAL);

	/* 4. A held lock: the holder records its pid like the library does. */
	holder = fork();
	if (holder == 0) {
		char pid[16];

		fd = open(LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0 || flock(fd, LOCK_EX) < 0)
			_exit(2);
		snprintf(pid, sizeof(pid), "%-11d\n", (int)getpid());
		if (pwrite(fd, pid, 12, 0) != 12)
			_exit(3);
		pause();
		_exit(0);
	}
	/* Wait until the holder has it (its pid is in the file). */
	for (int i = 0; i < 3000; i++) {
		char text[16] = "";

		fd = open(LOCK, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			if (read(fd, text, sizeof(text) - 1) > 0 && atoi(text) == holder) {
				close(fd);
				break;
			}
			close(fd);
		}
		usleep(10000);
	}
	snprintf(cmd, sizeof(cmd), "hostdev bind --lock-timeout 1 %s", nic);
	st = run(cmd);
	snprintf(what, sizeof(what), "held by pid %d", (int)holder);
	check(st == 1 && has("waiting for the vfio lock") && has(what),
	      "bind says whom it waits for, then gives up", out);
	check(has("still held by"), "the timeout names the holder", out);
	check(run("timeout 30 hostdev journal") == 0, "journal answers while the lock is held",
	      out);
	driver_of(nic, drv, sizeof(drv));
	check(strcmp(drv, "e1000e") == 0, "e1000e untouched while locked", drv);
	kill(holder, SIGKILL);
	waitpid(holder, NULL, 0);
	snprintf(cmd, sizeof(cmd), "hostdev bind %s", nic);
	check(run(cmd) == 0, "bind once the holder is gone", out);
	check(run("hostdev restore --all") == 0 && has("1 device restored"), "and restore", out);

	/* 5. Stale records: reported and kept; dropped on request, in one rewrite. */
	write_journal("{\"address\":\"0000:7f:1f.0\",\"driver\":\"ixgbevf\",\"driver_override\":"
		      "null,\"iommu_group\":90,\"time\":1,\"owner\":null,\"group_bind\":false,"
		      "\"complete\":true},"
		      "{\"address\":\"0000:7f:1f.1\",\"driver\":\"ixgbevf\",\"driver_override\":"
		      "null,\"iommu_group\":91,\"time\":1,\"owner\":null,\"group_bind\":false,"
		      "\"complete\":true}");
	st = run("hostdev restore --all");
	check(st == 0 && has("0000:7f:1f.0: gone: ") &&
		  has("0 devices restored, 2 gone; 2 journal records kept"),
	      "stale records reported and kept", out);
	st = run("hostdev restore --all --forget-gone");
	check(st == 0 && has("record dropped"), "dropped with --forget-gone", out);
	check(run("hostdev journal") == 0 && has("no devices bound"), "journal empty", out);

	/* 6. --sysfs alone would use this host's journal for another tree: refused. */
	snprintf(cmd, sizeof(cmd), "hostdev --sysfs /sys bind %s", nic);
	check(run(cmd) == 2 && has("--state-dir"), "--sysfs alone refused for bind", out);
	driver_of(nic, drv, sizeof(drv));
	check(strcmp(drv, "e1000e") == 0, "e1000e on e1000e at the end", drv);
	return scenario_finish();
}
