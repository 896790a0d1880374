/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers of the in-guest C scenarios (scenario.h). */
#include <hostdev.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "scenario.h"

/* A scenario is one process that runs its checks in order: plain counters are enough. */
static int fails, oks;

void check(int cond, const char *what, const char *detail)
{
	if (cond) {
		oks++;
		printf("ok - %s\n", what);
	} else {
		fails++;
		printf("not ok - %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	}
	fflush(stdout);
}

int scenario_finish(void)
{
	printf("# %d ok, %d not ok\n", oks, fails);
	return fails || !oks ? 1 : 0;
}

void driver_of(const char *addr, char *buf, size_t size)
{
	char link[PATH_MAX], target[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/sys/bus/pci/devices/%s/driver", addr);
	n = readlink(link, target, sizeof(target) - 1);
	buf[0] = '\0';
	if (n > 0) {
		target[n] = '\0';
		snprintf(buf, size, "%s", strrchr(target, '/') + 1);
	}
}

void find_pci(unsigned int vendor, unsigned int device, char *out, size_t size)
{
	hostdev_ctx *ctx = NULL;
	hostdev_pci_enum *e = NULL;
	hostdev_pci_device *dev;

	out[0] = '\0';
	if (hostdev_ctx_new(&ctx) < 0 || hostdev_pci_enum_new(ctx, &e) < 0)
		goto out;
	while (hostdev_pci_enum_next(e, &dev) > 0) {
		if (!out[0] && hostdev_pci_device_get_vendor_id(dev) == vendor &&
		    hostdev_pci_device_get_device_id(dev) == device)
			snprintf(out, size, "%s", hostdev_pci_device_get_address(dev));
		hostdev_pci_device_unref(dev);
	}
out:
	hostdev_pci_enum_unref(e);
	hostdev_ctx_unref(ctx);
}
