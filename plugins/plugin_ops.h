/* SPDX-License-Identifier: Apache-2.0 */
/* The built-in plugins as server callbacks (plugin_ops.c). Never installed. */
#ifndef HOSTDEV_PLUGIN_OPS_H
#define HOSTDEV_PLUGIN_OPS_H

#include "plugin.h"

/* The callbacks of @p's kind; the userdata is @p, which ops->destroy frees. */
void plugin_ops_init(const struct plugin *p, struct hostdev_dp_plugin_ops *ops);
/* Copy @a (envs, device nodes, preferred ids) into @out. */
int plugin_answer_apply(const struct plugin_answer *a, hostdev_dp_response *out);

/* hostdev_dp_server_new_builtin(), also giving the server's plugin (borrowed: it lives as long as
 * the server) in *@plugin_out when not NULL: the manager hands it the uevents it receives. */
int builtin_server_new(hostdev_loop *loop, const hostdev_dp_resources *resources, size_t i,
		       const struct hostdev_dp_server_options *opts, hostdev_dp_server **out,
		       struct plugin **plugin_out);

#endif /* HOSTDEV_PLUGIN_OPS_H */
