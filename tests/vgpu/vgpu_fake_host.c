/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vgpu-fake-host: build the vGPU test host (vgpu_tree.h) with the A2's 16 VFs enabled in a new
 * directory under $TMPDIR, print its path and leave it for the caller (test_vgpu_cli.py) to drive
 * `hostdev --root` against under the kernel model, and to remove. Runs under the kernel model
 * itself (LD_PRELOAD), which creates the VFs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vgpu_tree.h"

int main(int argc, char **argv)
{
	struct fakeroot *root;

	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "usage: vgpu-fake-host\n");
		return 2;
	}
	if (!kmodel_present()) {
		fprintf(stderr, "vgpu-fake-host: run it with the kernel model preloaded\n");
		return 1;
	}
	root = vgpu_tree_new(true);
	if (!root)
		return 1;
	/* Leak the in-memory description on purpose: fakeroot_free() would delete the tree. */
	puts(fakeroot_path(root));
	return 0;
}
