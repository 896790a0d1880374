/* SPDX-License-Identifier: Apache-2.0 */
/* The kinds of built-in plugins: each kind's file defines its table, listed here by kind. */
#include "plugin.h"

const struct plugin_kind *plugin_kind_of(int kind)
{
	static const struct plugin_kind *const kinds[] = {
	    [HOSTDEV_DP_KIND_PCI] = &plugin_kind_vfio_pci,
	    [HOSTDEV_DP_KIND_USB] = &plugin_kind_usb,
	    [HOSTDEV_DP_KIND_MDEV] = &plugin_kind_mdev,
	};

	return kind >= 0 && (size_t)kind < sizeof(kinds) / sizeof(kinds[0]) ? kinds[kind] : NULL;
}
