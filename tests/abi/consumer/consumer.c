/* SPDX-License-Identifier: Apache-2.0 */
/* A minimal program built against an installed libhostdev. */
#include <hostdev.h>
#include <stdio.h>

int main(void)
{
	char name[HOSTDEV_NAME_MAX];
	hostdev_ctx *ctx;

	if (hostdev_ctx_new(&ctx) < 0)
		return 1;
	if (hostdev_naming_pci_resource("Intel Corporation", "Ethernet Connection (11) I219-LM",
					0x0d4c, name, sizeof(name)) < 0)
		return 1;
	printf("libhostdev %s\n%s\n", hostdev_version(), name);
	hostdev_ctx_unref(ctx);
	return 0;
}
