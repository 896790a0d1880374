/* SPDX-License-Identifier: Apache-2.0 */
/* libhostdev: host-device passthrough engine. Umbrella header: include this one. */
#ifndef HOSTDEV_H
#define HOSTDEV_H

#include "hostdev/context.h"	  /* IWYU pragma: export */
#include "hostdev/deviceplugin.h" /* IWYU pragma: export */
#include "hostdev/dra.h"	  /* IWYU pragma: export */
#include "hostdev/loop.h"	  /* IWYU pragma: export */
#include "hostdev/mdev.h"	  /* IWYU pragma: export */
#include "hostdev/monitor.h"	  /* IWYU pragma: export */
#include "hostdev/naming.h"	  /* IWYU pragma: export */
#include "hostdev/pci.h"	  /* IWYU pragma: export */
#include "hostdev/sriov.h"	  /* IWYU pragma: export */
#include "hostdev/usb.h"	  /* IWYU pragma: export */
#include "hostdev/vfio.h"	  /* IWYU pragma: export */
#include "hostdev/vgpu.h"	  /* IWYU pragma: export */

#endif /* HOSTDEV_H */
