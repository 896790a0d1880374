/* SPDX-License-Identifier: Apache-2.0 */
/* The built-in plugins as server callbacks (plugin_ops.c). Never installed. */
#ifndef HOSTDEV_PLUGIN_OPS_H
#define HOSTDEV_PLUGIN_OPS_H

#include "plugin.h"

/* The callbacks of @p's kind; the userdata is @p, which ops->destroy frees. */
void plugin_ops_init(const struct plugin *p, struct hostdev_dp_plugin_ops *ops);
/* Copy @a (envs, device nodes, preferred ids) into @out. */
int plugin_answer_apply(const struct plugin_answer *a, hostdev_dp_response *out);

#endif /* HOSTDEV_PLUGIN_OPS_H */
