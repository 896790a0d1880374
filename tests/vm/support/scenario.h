/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers shared by the C scenarios that run inside the QEMU guest (the .c files in
 * tests/vm/scenarios): TAP-like result lines the runner reads, and independent reads of the real
 * kernel's sysfs.
 */
#ifndef HOSTDEV_VM_SCENARIO_H
#define HOSTDEV_VM_SCENARIO_H

#include <stddef.h>

/* Print "ok - WHAT" or "not ok - WHAT: DETAIL" (flushed, so a later crash keeps it) and count it.
 */
void check(int cond, const char *what, const char *detail);

/* Print the summary line; the exit status: 1 when a check failed or none ran, else 0. */
int scenario_finish(void);

/* The driver bound to PCI device @addr, read from the kernel's driver link ("" when unbound). */
void driver_of(const char *addr, char *buf, size_t size);

/* The address of the first PCI device with these ids, through libhostdev ("" when none). */
void find_pci(unsigned int vendor, unsigned int device, char *out, size_t size);

#endif /* HOSTDEV_VM_SCENARIO_H */
