/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HOSTDEV_1's names of the loop functions (deviceplugin.h): the loop was first the device-plugin
 * loop; it is the library's one loop now (loop.h), and the ABI is add-only.
 */
#include "hostdev/deviceplugin.h"
#include "core/core.h"

HOSTDEV_EXPORT int hostdev_dp_loop_new(hostdev_ctx *ctx, hostdev_dp_loop **out)
{
	return hostdev_loop_new(ctx, out);
}

HOSTDEV_EXPORT hostdev_dp_loop *hostdev_dp_loop_ref(hostdev_dp_loop *loop)
{
	return hostdev_loop_ref(loop);
}

HOSTDEV_EXPORT hostdev_dp_loop *hostdev_dp_loop_unref(hostdev_dp_loop *loop)
{
	return hostdev_loop_unref(loop);
}

HOSTDEV_EXPORT int hostdev_dp_loop_get_fd(hostdev_dp_loop *loop)
{
	return hostdev_loop_get_fd(loop);
}

HOSTDEV_EXPORT int hostdev_dp_loop_dispatch(hostdev_dp_loop *loop, int timeout_ms)
{
	return hostdev_loop_dispatch(loop, timeout_ms);
}

HOSTDEV_EXPORT int hostdev_dp_loop_run(hostdev_dp_loop *loop)
{
	return hostdev_loop_run(loop);
}

HOSTDEV_EXPORT int hostdev_dp_loop_quit(hostdev_dp_loop *loop)
{
	return hostdev_loop_quit(loop);
}

HOSTDEV_EXPORT int hostdev_dp_loop_start_thread(hostdev_dp_loop *loop)
{
	return hostdev_loop_start_thread(loop);
}

HOSTDEV_EXPORT int hostdev_dp_loop_stop_thread(hostdev_dp_loop *loop)
{
	return hostdev_loop_stop_thread(loop);
}
