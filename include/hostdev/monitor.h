/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hot-plug monitor for USB and PCI devices, driven by the caller's event loop: poll the fd of
 * hostdev_monitor_get_fd() for input and call hostdev_monitor_process() when it is readable; the
 * callback then runs once per event. Events come from libudev: from udevd when it runs (the device
 * node then has its final permissions), else straight from the kernel's uevents.
 *
 * Semantics (docs/usb.md, "Monitor"):
 *  - The monitor keeps the last known snapshot of every device it has reported. A remove event
 *    carries that snapshot; a device removed without ever being seen carries its snapshot if
 *    its sysfs directory is still there with the uevent's devnum (the kernel announces a
 *    removal before the directory goes), else only what the uevent says: ids, bus/devnum,
 *    address, and the port identity derived from the uevent's device path (controller, port
 *    chain) and the root hub, the same as the device had (unless the controller went too).
 *  - hostdev_event_is_partial() is 1 for every event whose snapshot is not a complete read: built
 *    from a uevent because the device was already gone, or read while its attributes vanished
 *    (a device first heard of during its unplug), including the later events (remove) that
 *    carry it. Identity (ids, bus/devnum, port identity) is right; strings may be missing.
 *  - A duplicate add (the device is already known with the same identity) is dropped; an add for a
 *    known USB port with a different devnum (re-plug whose remove was missed) is reported as a
 *    remove of the old snapshot followed by the add.
 *  - change/bind/unbind of an unknown device are reported with a fresh snapshot, and the device
 *    becomes known. Interface bind/unbind of a USB device are reported as bind/unbind of the
 *    device, with the interface named by hostdev_event_get_interface().
 *  - While a device is being unplugged its sysfs attributes vanish one by one and the kernel still
 *    sends unbind events: an event whose fresh read is incomplete carries the last complete
 *    snapshot instead, and that is what the remove event carries too.
 *  - Events older than the last one reported for the same device (lower kernel SEQNUM) are
 *    dropped.
 */
#ifndef HOSTDEV_MONITOR_H
#define HOSTDEV_MONITOR_H

#include "context.h"
#include "pci.h"
#include "usb.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque monitor. */
typedef struct hostdev_monitor hostdev_monitor;
/** One event, borrowed: valid only during the callback. */
typedef struct hostdev_event hostdev_event;

enum hostdev_event_action {
	HOSTDEV_EVENT_ADD = 1,
	HOSTDEV_EVENT_REMOVE = 2,
	HOSTDEV_EVENT_CHANGE = 3,
	HOSTDEV_EVENT_BIND = 4,
	HOSTDEV_EVENT_UNBIND = 5,
};

/** Flags for hostdev_monitor_start(). */
enum hostdev_monitor_flags {
	/** Before returning, report every matching device already present as an add event with
	 * hostdev_event_is_replay() = 1 (hubs included). */
	HOSTDEV_MONITOR_ENUMERATE = 1u << 0,
	/** Listen to the kernel's uevents even when udevd runs. */
	HOSTDEV_MONITOR_SOURCE_KERNEL = 1u << 1,
	/** Listen to udevd's events (fails later silently if no udevd runs: nothing arrives). */
	HOSTDEV_MONITOR_SOURCE_UDEV = 1u << 2,
};

/**
 * Callback for one event. @event and the devices it holds are borrowed: take a reference
 * (hostdev_usb_device_ref()) to keep a device. The callback may call any monitor function except
 * hostdev_monitor_process() and hostdev_monitor_unref() of the last reference.
 */
typedef void (*hostdev_monitor_fn)(hostdev_monitor *monitor, const hostdev_event *event,
				   void *userdata);

/** Create a monitor (not yet listening). Returns 0, -EINVAL, -ENOMEM. */
int hostdev_monitor_new(hostdev_ctx *ctx, hostdev_monitor **out);
hostdev_monitor *hostdev_monitor_ref(hostdev_monitor *monitor);
/** NULL-safe; always returns NULL. Closes the fd with the last reference. */
hostdev_monitor *hostdev_monitor_unref(hostdev_monitor *monitor);

/*
 * Match filters, added before hostdev_monitor_start() (-EBUSY after). Filters of different kinds
 * must all match; several of one kind match when any does. Without a subsystem filter both "usb"
 * and "pci" are reported.
 */
/** "usb" or "pci". */
int hostdev_monitor_add_match_subsystem(hostdev_monitor *monitor, const char *subsystem);
/** "[vendor]:[product]" in hex (PCI: vendor:device), empty or "*" for any. */
int hostdev_monitor_add_match_id(hostdev_monitor *monitor, const char *spec);
/** Class in hex: "CC" matches a USB device class (hostdev_usb_device_get_class()) or a PCI base
 * class; "CCSS" and "CCSSPP" match PCI class prefixes only. */
int hostdev_monitor_add_match_class(hostdev_monitor *monitor, const char *spec);

/** Install (or with @fn NULL remove) the callback. */
void hostdev_monitor_set_callback(hostdev_monitor *monitor, hostdev_monitor_fn fn, void *userdata);

/**
 * Start listening. Events that happen from now on are queued in the kernel socket until
 * hostdev_monitor_process(). With HOSTDEV_MONITOR_ENUMERATE the present devices are reported
 * through the callback before this returns (the socket is opened first, so nothing falls between
 * the replay and the live events). A device plugged while this enumerates is reported exactly
 * once: as a replay if the enumeration found it (its queued add is then a duplicate and
 * dropped), else as a live add from hostdev_monitor_process(). A replay means "found by the
 * enumeration", not "present before the call": treat replayed and live adds alike. Returns 0,
 * -EINVAL (unknown flag), -EBUSY (already started), -ENOMEM, or the error of the netlink socket
 * (-EPERM, -EPROTONOSUPPORT...).
 */
int hostdev_monitor_start(hostdev_monitor *monitor, unsigned int flags);

/** The fd to poll for input (POLLIN); -EBADF before hostdev_monitor_start(). Owned by the
 * monitor. */
int hostdev_monitor_get_fd(hostdev_monitor *monitor);

/**
 * Read every pending uevent without blocking and run the callback for each reported event.
 * Returns the number of events reported (0 when everything pending was filtered or dropped), or a
 * negative errno (-EBADF before start).
 */
int hostdev_monitor_process(hostdev_monitor *monitor);

/**
 * How many times the kernel dropped uevents because the monitor's socket buffer was full (since
 * HOSTDEV_1.7): each hostdev_monitor_process() that met the overflow (ENOBUFS) adds one and logs
 * a warning. A program that keeps state by events compares it before and after
 * hostdev_monitor_process() and, when it grew, reads everything again (events were lost). 0 for
 * NULL.
 */
unsigned long hostdev_monitor_get_overflows(const hostdev_monitor *monitor);

/* Event getters; the event is only valid during the callback. */
enum hostdev_event_action hostdev_event_get_action(const hostdev_event *event);
/** "add", "remove", "change", "bind", "unbind". */
const char *hostdev_event_get_action_name(const hostdev_event *event);
/** "usb" or "pci". */
const char *hostdev_event_get_subsystem(const hostdev_event *event);
/** Kernel name of the device: USB "1-1.4" / "usb1", PCI "0000:00:02.0". */
const char *hostdev_event_get_name(const hostdev_event *event);
/** Interface ("1-1.4:1.0") for USB interface bind/unbind events, else NULL. */
const char *hostdev_event_get_interface(const hostdev_event *event);
/** Driver named by a bind/unbind event, else NULL. */
const char *hostdev_event_get_driver(const hostdev_event *event);
/** Kernel SEQNUM of the uevent; 0 for replayed devices. */
unsigned long long hostdev_event_get_seqnum(const hostdev_event *event);
/** 1 for devices reported by HOSTDEV_MONITOR_ENUMERATE, else 0. */
int hostdev_event_is_replay(const hostdev_event *event);
/** 1 when the snapshot is not a complete read of the device (it was gone, or going: see above);
 * its identity is right, names and strings may be missing. Else 0. */
int hostdev_event_is_partial(const hostdev_event *event);
/** The USB device snapshot (borrowed), NULL for PCI events. */
hostdev_usb_device *hostdev_event_get_usb_device(const hostdev_event *event);
/** The PCI device snapshot (borrowed), NULL for USB events. */
hostdev_pci_device *hostdev_event_get_pci_device(const hostdev_event *event);

#ifdef __cplusplus
}
#endif

#endif /* HOSTDEV_MONITOR_H */
