/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sriov-fake-host: build the SR-IOV/mdev test host (sriov_tree.h) in a new directory under $TMPDIR,
 * print its path and leave it for the caller (test_sriov_cli.py) to drive `hostdev --root` against
 * under the kernel model, and to remove.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sriov_tree.h"

int main(int argc, char **argv)
{
	struct fakeroot *root;
	char *path;

	if (argc > 1) {
		fprintf(stderr, "usage: sriov-fake-host\n");
		return 2;
	}
	root = sriov_tree_new();
	if (!root)
		return 1;
	path = strdup(fakeroot_path(root));
	/* Leak the in-memory description on purpose: fakeroot_free() would delete the tree. */
	puts(path);
	free(path);
	return 0;
}
