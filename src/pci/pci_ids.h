/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A pci.ids database read in place: the file is mapped, checked line by line against libpci's
 * parser (lib/names-parse.c) and indexed, so that a lookup costs a binary search instead of
 * libpci's parse of the whole file into its hash on the first pci_lookup_name(). Every answer is
 * the one libpci 3.9 gives to pci_lookup_name(... | PCI_LOOKUP_NO_NUMBERS) with hwdb and the
 * network cache off; a file this reader cannot answer for exactly is refused, and the caller asks
 * libpci instead.
 */
#ifndef HOSTDEV_PCI_IDS_H
#define HOSTDEV_PCI_IDS_H

struct pci_ids;

/* Why pci_ids_open() refused a file (for a debug message). */
struct pci_ids_refusal {
	const char *reason; /* static text */
	unsigned int line;  /* the line of the file at fault, 0 when it is the file as a whole */
};

/*
 * Map and index the pci.ids file at @path. Returns the index, or NULL with @why filled when the
 * file cannot be read here exactly as libpci reads it: it cannot be opened or mapped, it is
 * compressed, a line is one libpci rejects ("Parse error", "Duplicate entry", "Line too long",
 * "Vendor does not exist": libpci then keeps only the names before that line), or it has a form
 * this reader leaves to libpci (ids out of ascending order, NUL or carriage-return bytes, a
 * programming interface outside a subclass). Free with pci_ids_free().
 */
struct pci_ids *pci_ids_open(const char *path, struct pci_ids_refusal *why);
void pci_ids_free(struct pci_ids *ids);

/*
 * Lookups, each the exact counterpart of a pci_lookup_name() request with PCI_LOOKUP_NO_NUMBERS
 * (the ids are ints as libpci reads them from its arguments). Each returns a new string that the
 * caller frees, or NULL when libpci's answer is NULL (or memory ran out).
 */
/* PCI_LOOKUP_VENDOR, and PCI_LOOKUP_SUBSYSTEM | PCI_LOOKUP_VENDOR for a subsystem vendor. */
char *pci_ids_vendor(const struct pci_ids *ids, int vendor);
/* PCI_LOOKUP_DEVICE. */
char *pci_ids_device(const struct pci_ids *ids, int vendor, int device);
/*
 * PCI_LOOKUP_SUBSYSTEM | PCI_LOOKUP_DEVICE: the subsystem under the device, else a generic
 * subsystem entry ("S" block), else the device's own name when the subsystem ids are the device's.
 */
char *pci_ids_subsystem(const struct pci_ids *ids, int vendor, int device, int subvendor,
			int subdevice);
/* PCI_LOOKUP_CLASS (@class16 = base class << 8 | subclass) when the subclass is listed; else NULL. */
char *pci_ids_subclass(const struct pci_ids *ids, int class16);
/*
 * The name of base class @base: what PCI_LOOKUP_CLASS prints, before " [ccss]", for a subclass
 * that is not listed (libpci has no request for a base class alone).
 */
char *pci_ids_class(const struct pci_ids *ids, int base);
/* PCI_LOOKUP_PROGIF, with libpci's names made up for IDE controllers (class 0101). */
char *pci_ids_prog_if(const struct pci_ids *ids, int class16, int prog_if);

#endif
