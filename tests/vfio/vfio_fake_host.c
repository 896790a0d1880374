/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vfio-fake-host [--no-iommu] [--no-vfio] [--vgpu]: build the vfio test host (vfio_tree.h) in a new
 * directory under $TMPDIR, print its path and leave it there for the caller (test_vfio_cli.py) to
 * drive `hostdev --root` against under the kernel model, and to remove.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vfio_tree.h"

int main(int argc, char **argv)
{
	unsigned int flags = 0;
	struct fakeroot *root;
	char *path;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--no-iommu") == 0)
			flags |= VFIO_TREE_NO_IOMMU;
		else if (strcmp(argv[i], "--no-vfio") == 0)
			flags |= VFIO_TREE_NO_VFIO;
		else if (strcmp(argv[i], "--vgpu") == 0)
			flags |= VFIO_TREE_VGPU;
		else {
			fprintf(stderr,
				"usage: vfio-fake-host [--no-iommu] [--no-vfio] [--vgpu]\n");
			return 2;
		}
	}
	root = vfio_tree_new(flags);
	if (!root)
		return 1;
	path = strdup(fakeroot_path(root));
	/* Leak the in-memory description on purpose: fakeroot_free() would delete the tree. */
	puts(path);
	free(path);
	return 0;
}
