/* SPDX-License-Identifier: Apache-2.0 */
/*
 * /etc/modprobe.d/vfio.conf from the persistent list (`hostdev persist modprobe`, `hostdev
 * openshift vfiopci`): the library builds it (hostdev_vfio_modprobe_conf(): group members and
 * softdeps included); the tool reports its errors in its own spelling.
 */
#include <errno.h>

#include "openshift.h"

int cli_modprobe_conf(struct cli *cli, char **out)
{
	int r = hostdev_vfio_modprobe_conf(cli->ctx, 0, out);

	return r < 0 ? cli_lib_error(cli, r, "cannot build vfio.conf") : CLI_EXIT_OK;
}
