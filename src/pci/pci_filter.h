/* SPDX-License-Identifier: Apache-2.0 */
/* pciutils-compatible device filters (pci_filter.c). */
#ifndef HOSTDEV_PCI_FILTER_H
#define HOSTDEV_PCI_FILTER_H

#include <stdbool.h>

#include "core/core.h"

/* -1 in any field means "any". */
struct pci_slot_filter {
	long domain, bus, slot, function;
};

struct pci_id_filter {
	long vendor, device, class16, prog_if;
};

/* Class prefix: @value holds the first @digits hex digits (2, 4 or 6) of the 24-bit class. */
struct pci_class_filter {
	unsigned int value;
	unsigned int digits;
};

/* Parsers return 0 or -EINVAL with the context error naming the bad part. */
int pci_slot_filter_parse(hostdev_ctx *ctx, const char *spec, struct pci_slot_filter *out);
int pci_id_filter_parse(hostdev_ctx *ctx, const char *spec, struct pci_id_filter *out);
int pci_class_filter_parse(hostdev_ctx *ctx, const char *spec, struct pci_class_filter *out);

bool pci_slot_filter_match(const struct pci_slot_filter *f, const struct hostdev_pci_address *a);
bool pci_id_filter_match(const struct pci_id_filter *f, unsigned int vendor, unsigned int device,
			 unsigned int class_code);
bool pci_class_filter_match(const struct pci_class_filter *f, unsigned int class_code);

#endif /* HOSTDEV_PCI_FILTER_H */
