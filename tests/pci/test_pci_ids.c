/* SPDX-License-Identifier: Apache-2.0 */
/*
 * src/pci/pci_ids.c against libpci itself, configured as src/pci/pci_names.c configures it (hwdb
 * and the ~/.pciids-cache off): every entry of the installed pci.ids and unknown ids next to them,
 * then hand-made files (comments, odd whitespace, unknown and generic-subsystem blocks, IDE
 * programming interfaces, ...). Files libpci rejects (its error callback fires) must be refused by
 * the reader at the same line, and files the reader leaves to libpci (out of order, CRLF, gzip)
 * must be refused too; through the device API, names then come from libpci, partial names of a
 * broken file included.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <pci/pci.h>
#include <zlib.h>

#include "fakeroot.h"
#include "hostdev.h"
#include "pci/pci_ids.h"

#define SYSTEM_PCI_IDS "/usr/share/misc/pci.ids"
#define NAME_BUFFER 4096

/* --- libpci as the reference ------------------------------------------------------------------ */

/* libpci's last error message ("Parse error at FILE, line N"); libpci's callback must return. */
static char libpci_error[1024];

static void PCI_PRINTF(1, 2) record_libpci_error(char *msg, ...)
{
	va_list ap;

	va_start(ap, msg);
	vsnprintf(libpci_error, sizeof(libpci_error), msg, ap);
	va_end(ap);
}

static void PCI_PRINTF(1, 2) quiet(char *msg, ...)
{
}

static struct pci_access *libpci_open(const char *path)
{
	struct pci_access *pacc = pci_alloc();

	assert_non_null(pacc);
	pacc->error = (__typeof__(pacc->error))record_libpci_error;
	pacc->warning = quiet;
	pacc->debug = quiet;
	pci_set_param(pacc, "hwdb.disable", "1");
	pci_set_param(pacc, "net.cache_name", "");
	pci_set_name_list_path(pacc, (char *)path, 0);
	libpci_error[0] = '\0';
	return pacc;
}

/* The line libpci's parse error names, 0 when it reported none. */
static unsigned int libpci_error_line(void)
{
	const char *at = strstr(libpci_error, ", line ");

	return at ? (unsigned int)strtoul(at + 7, NULL, 10) : 0;
}

/* --- comparing answers ------------------------------------------------------------------------ */

struct checker {
	const struct pci_ids *ids;
	struct pci_access *pacc;
	unsigned long compared, named;
};

/* @ours (freed here) must be libpci's answer byte for byte, NULL included. */
static void expect_same(struct checker *c, const char *what, const char *libpci, char *ours)
{
	bool same = (!libpci && !ours) || (libpci && ours && strcmp(libpci, ours) == 0);

	if (!same)
		print_error("%s: libpci %s%s%s, reader %s%s%s\n", what, libpci ? "\"" : "",
			    libpci ? libpci : "NULL", libpci ? "\"" : "", ours ? "\"" : "",
			    ours ? ours : "NULL", ours ? "\"" : "");
	c->compared++;
	c->named += libpci != NULL;
	free(ours);
	assert_true(same);
}

static void check_vendor(struct checker *c, int vendor)
{
	char buf[NAME_BUFFER], what[64];

	snprintf(what, sizeof(what), "vendor %04x", vendor);
	expect_same(c, what,
		    pci_lookup_name(c->pacc, buf, sizeof(buf),
				    PCI_LOOKUP_VENDOR | PCI_LOOKUP_NO_NUMBERS, vendor),
		    pci_ids_vendor(c->ids, vendor));
	expect_same(c, what,
		    pci_lookup_name(
			c->pacc, buf, sizeof(buf),
			PCI_LOOKUP_SUBSYSTEM | PCI_LOOKUP_VENDOR | PCI_LOOKUP_NO_NUMBERS, vendor),
		    pci_ids_vendor(c->ids, vendor));
}

static void check_device(struct checker *c, int vendor, int device)
{
	char buf[NAME_BUFFER], what[64];

	snprintf(what, sizeof(what), "device %04x:%04x", vendor, device);
	expect_same(c, what,
		    pci_lookup_name(c->pacc, buf, sizeof(buf),
				    PCI_LOOKUP_DEVICE | PCI_LOOKUP_NO_NUMBERS, vendor, device),
		    pci_ids_device(c->ids, vendor, device));
}

static void check_subsystem(struct checker *c, int vendor, int device, int subvendor, int subdevice)
{
	char buf[NAME_BUFFER], what[64];

	snprintf(what, sizeof(what), "subsystem %04x:%04x %04x:%04x", vendor, device, subvendor,
		 subdevice);
	expect_same(
	    c, what,
	    pci_lookup_name(c->pacc, buf, sizeof(buf),
			    PCI_LOOKUP_SUBSYSTEM | PCI_LOOKUP_DEVICE | PCI_LOOKUP_NO_NUMBERS,
			    vendor, device, subvendor, subdevice),
	    pci_ids_subsystem(c->ids, vendor, device, subvendor, subdevice));
}

/*
 * PCI_LOOKUP_CLASS gives the subclass, or "<class> [ccss]" when only the class is listed: the
 * reader answers both parts apart.
 */
static void check_class(struct checker *c, int class16)
{
	char buf[NAME_BUFFER], what[64], *ours = pci_ids_subclass(c->ids, class16);
	const char *libpci = pci_lookup_name(c->pacc, buf, sizeof(buf),
					     PCI_LOOKUP_CLASS | PCI_LOOKUP_NO_NUMBERS, class16);

	snprintf(what, sizeof(what), "class %04x", class16);
	if (!ours) {
		char *class_name = pci_ids_class(c->ids, class16 >> 8);

		if (class_name) {
			ours = malloc(strlen(class_name) + 16);
			assert_non_null(ours);
			sprintf(ours, "%s [%04x]", class_name, class16);
			free(class_name);
		}
	}
	expect_same(c, what, libpci, ours);
}

static void check_prog_if(struct checker *c, int class16, int prog_if)
{
	char buf[NAME_BUFFER], what[64];

	snprintf(what, sizeof(what), "prog-if %04x %02x", class16, prog_if);
	expect_same(c, what,
		    pci_lookup_name(c->pacc, buf, sizeof(buf),
				    PCI_LOOKUP_PROGIF | PCI_LOOKUP_NO_NUMBERS, class16, prog_if),
		    pci_ids_prog_if(c->ids, class16, prog_if));
}

/* Ids out of range, which libpci folds into others (id_pair()); the reader must fold alike. */
static void check_odd_ids(struct checker *c)
{
	check_vendor(c, 0x18086);
	check_vendor(c, -1);
	check_device(c, 0x8086, 0x11521);
	check_device(c, 0x18086, 0x1521);
	check_device(c, -1, -1);
	check_subsystem(c, 0x8086, 0x1521, 0x18086, 0x0001);
	check_subsystem(c, 0x8086, 0x11521, 0x8086, 0x11521);
	check_subsystem(c, -1, 0x1521, 0x8086, 0x0001);
	check_subsystem(c, 0, 0, 0, 0);
	check_class(c, 0x10200);
	check_class(c, -1);
	check_prog_if(c, 0x0101, 0x180);
	check_prog_if(c, 0x10101, 0x80);
	check_prog_if(c, 0x0c03, 0x13000);
}

/* --- every entry of the installed pci.ids ----------------------------------------------------- */

struct walk_counts {
	unsigned int vendors, devices, subsystems, classes, subclasses, prog_ifs;
};

/*
 * Walk @path with a parser of its own (plain sscanf, not the reader's code) and compare every entry
 * and its unknown neighbours.
 */
static void walk_and_check(struct checker *c, const char *path, struct walk_counts *n)
{
	FILE *f = fopen(path, "r");
	char line[NAME_BUFFER];
	unsigned int top = 0, device = 0, subclass = 0;
	bool in_vendor = false, in_class = false;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		const char *p = line + strspn(line, " \t");
		size_t tabs = strspn(line, "\t");
		unsigned int a, b;

		line[strcspn(line, "\r\n")] = '\0';
		if (!*p || *p == '#')
			continue;
		if (tabs == 0 && line[0] == 'C' && line[1] == ' ') {
			assert_int_equal(sscanf(line + 2, "%x", &top), 1);
			in_class = true;
			in_vendor = false;
			n->classes++;
		} else if (tabs == 0 && line[0] >= 'A' && line[0] <= 'Z' && line[1] == ' ') {
			in_class = in_vendor = false; /* generic subsystems, unknown blocks */
		} else if (tabs == 0) {
			assert_int_equal(sscanf(line, "%x", &top), 1);
			in_vendor = true;
			in_class = false;
			check_vendor(c, (int)top);
			check_device(c, (int)top, 0x0000);
			check_device(c, (int)top, 0xffff);
			n->vendors++;
		} else if (tabs == 1 && in_vendor) {
			assert_int_equal(sscanf(line + 1, "%x", &device), 1);
			check_device(c, (int)top, (int)device);
			check_device(c, (int)top, (int)device + 1); /* listed or not */
			/* Subsystem ids equal to the device's: its own name, unless listed. */
			check_subsystem(c, (int)top, (int)device, (int)top, (int)device);
			check_subsystem(c, (int)top, (int)device, 0xffff, 0xffff);
			check_subsystem(c, (int)top, (int)device, (int)top, 0xfffe);
			n->devices++;
		} else if (tabs == 2 && in_vendor) {
			assert_int_equal(sscanf(line + 2, "%x %x", &a, &b), 2);
			check_subsystem(c, (int)top, (int)device, (int)a, (int)b);
			check_subsystem(c, (int)top, (int)device, (int)a, (int)b + 1);
			check_subsystem(c, (int)top, (int)device + 1, (int)a, (int)b);
			check_subsystem(c, 0, (int)device, (int)a, (int)b);
			check_vendor(c, (int)a);
			n->subsystems++;
		} else if (tabs == 1 && in_class) {
			assert_int_equal(sscanf(line + 1, "%x", &subclass), 1);
			/* Every programming interface, listed or not (IDE's are made up). */
			for (int pif = 0; pif <= 0xff; pif++)
				check_prog_if(c, (int)(top << 8 | subclass), pif);
			n->subclasses++;
		} else if (tabs == 2 && in_class) {
			n->prog_ifs++;
		}
	}
	fclose(f);
}

static void test_every_entry_of_system_pci_ids(void **state)
{
	struct pci_ids_refusal why;
	struct walk_counts n = {0};
	struct checker c = {0};

	(void)state;
	if (access(SYSTEM_PCI_IDS, R_OK) != 0) {
		print_message("SKIP: %s is not installed (Debian package pci.ids)\n",
			      SYSTEM_PCI_IDS);
		skip();
	}
	c.ids = pci_ids_open(SYSTEM_PCI_IDS, &why);
	if (!c.ids)
		print_error("reader refused %s: %s (line %u)\n", SYSTEM_PCI_IDS, why.reason,
			    why.line);
	assert_non_null(c.ids);
	c.pacc = libpci_open(SYSTEM_PCI_IDS);

	walk_and_check(&c, SYSTEM_PCI_IDS, &n);
	/* Every vendor id and every class id, listed or not. */
	for (int vendor = 0; vendor <= 0xffff; vendor++)
		check_vendor(&c, vendor);
	for (int class16 = 0; class16 <= 0xffff; class16++)
		check_class(&c, class16);
	for (int base = 0; base <= 0xff; base++) {
		char *ours = pci_ids_class(c.ids, base);
		char buf[NAME_BUFFER];
		const char *libpci = pci_lookup_name(
		    c.pacc, buf, sizeof(buf), PCI_LOOKUP_CLASS | PCI_LOOKUP_NO_NUMBERS, base << 8);

		/* A listed class has a name one way or the other. */
		assert_int_equal(ours != NULL, libpci != NULL);
		free(ours);
	}
	check_odd_ids(&c);
	assert_string_equal(libpci_error, "");

	print_message("compared %lu answers (%lu names): %u vendors, %u devices, %u subsystems, "
		      "%u classes, %u subclasses, %u programming interfaces\n",
		      c.compared, c.named, n.vendors, n.devices, n.subsystems, n.classes,
		      n.subclasses, n.prog_ifs);
	/* The walk read a real database (pci.ids of 2023: 2325 vendors, 17730 devices...). */
	assert_true(n.vendors > 2000 && n.devices > 15000 && n.subsystems > 10000);
	assert_true(n.classes > 15 && n.subclasses > 100 && n.prog_ifs > 50);
	pci_ids_free((struct pci_ids *)c.ids);
	pci_cleanup(c.pacc);
}

/* --- hand-made files -------------------------------------------------------------------------- */

struct fixture {
	struct fakeroot *root;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->root = fakeroot_new();
	if (!f->root) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	fakeroot_free(f->root);
	free(f);
	return 0;
}

static const char *write_ids(struct fixture *f, const char *name, const char *text, size_t len)
{
	assert_int_equal(fakeroot_write_bytes(f->root, name, text, len), 0);
	return fakeroot_abspath(f->root, name);
}

/* Every id the hand-made files use, and neighbours they do not. */
static const int small_ids[] = {0x0000, 0x0001, 0x0002, 0x0005, 0x1234, 0x1521,
				0x1dea, 0x8086, 0xc0de, 0xabcd, 0xfffe, 0xffff};
#define N_SMALL_IDS (sizeof(small_ids) / sizeof(small_ids[0]))
static const int small_bases[] = {0x00, 0x01, 0x02, 0x0c, 0x12, 0xff};
#define N_SMALL_BASES (sizeof(small_bases) / sizeof(small_bases[0]))

/* Every query over the ids of small_ids and classes of small_bases. */
static void check_small_universe(struct checker *c)
{
	for (size_t v = 0; v < N_SMALL_IDS; v++) {
		check_vendor(c, small_ids[v]);
		for (size_t d = 0; d < N_SMALL_IDS; d++) {
			check_device(c, small_ids[v], small_ids[d]);
			for (size_t sv = 0; sv < N_SMALL_IDS; sv++)
				for (size_t sd = 0; sd < N_SMALL_IDS; sd++)
					check_subsystem(c, small_ids[v], small_ids[d],
							small_ids[sv], small_ids[sd]);
		}
	}
	for (size_t b = 0; b < N_SMALL_BASES; b++) {
		for (int sub = 0; sub <= 0xff; sub++) {
			int class16 = small_bases[b] << 8 | sub;

			check_class(c, class16);
			if (sub <= 0x06 || sub == 0x80 || sub == 0xff)
				for (int pif = 0; pif <= 0xff; pif++)
					check_prog_if(c, class16, pif);
		}
	}
	check_odd_ids(c);
}

/* A file the reader must read as libpci does: no error from libpci, and the same answers. */
static void expect_read_alike(struct fixture *f, const char *name, const char *text, size_t len)
{
	const char *path = write_ids(f, name, text, len);
	struct pci_ids_refusal why;
	struct checker c = {0};

	c.ids = pci_ids_open(path, &why);
	if (!c.ids)
		print_error("%s: reader refused: %s (line %u)\n", name, why.reason, why.line);
	assert_non_null(c.ids);
	c.pacc = libpci_open(path);
	check_small_universe(&c);
	if (libpci_error[0])
		print_error("%s: libpci: %s", name, libpci_error);
	assert_string_equal(libpci_error, "");
	pci_ids_free((struct pci_ids *)c.ids);
	pci_cleanup(c.pacc);
}

#define READ_ALIKE(f, name, text) expect_read_alike(f, name, text, sizeof(text) - 1)

static void test_read_alike(void **state)
{
	struct fixture *f = *state;

	READ_ALIKE(f, "empty.ids", "");
	READ_ALIKE(f, "comments.ids", "# only comments\n\n   \n\t\n\t# nested comment\n  # x\n");
	READ_ALIKE(f, "basic.ids",
		   "# comment\n"
		   "1234  Small Vendor\n"
		   "\t0001  Small Device\n"
		   "\t\t1234 0002  Small Card\n"
		   "8086  Intel Corporation\n"
		   "\t1521  I350 Gigabit Network Connection\n"
		   "\t\t1dea 0001  Fake Card\n"
		   "\t\t8086 0001  Ethernet Server Adapter I350-T4\n"
		   "\t\t8086 0002  Ethernet Server Adapter I350-T2\n"
		   "C 01  Mass storage controller\n"
		   "\t01  IDE interface\n"
		   "\t\t8a  ISA Compatibility mode controller, supports bus mastering\n"
		   "\t06  SATA controller\n"
		   "\t\t01  AHCI 1.0\n"
		   "C 02  Network controller\n"
		   "\t00  Ethernet controller\n"
		   "C 12  Processing accelerators\n");
	/*
	 * Whitespace as libpci cuts it: one trailing blank dropped (not two), tabs as separators,
	 * blanks inside names, comment and blank lines inside blocks, a name starting with '#',
	 * upper-case hex, a vendor id starting with C, a last line without '\n'.
	 */
	READ_ALIKE(f, "whitespace.ids",
		   "0001\tTab Separated Vendor\t\n"
		   "\t0001 \t One\tTab  Inside \n"
		   "\n"
		   "\t# a comment between devices\n"
		   "\t0002  Two trailing blanks  \n"
		   "\t\t0001 0002\tSub Tab\n"
		   "   \n"
		   "\t\t0005 0005  # not a comment\n"
		   "1DEA  UPPER CASE ID\n"
		   "\tABCD  Upper device \t\n"
		   "C0DE  Vendor whose id starts with C\n"
		   "\tFFFE  \xc3\xa9t\xc3\xa9 UTF-8 name\n"
		   "C 0c  Serial bus controller\t\n"
		   "\t03  USB controller\n"
		   "\t\t00  UHCI\n"
		   "\t\t30  XHCI");
	/* Blocks libpci skips ("X ...", nested junk included) and generic subsystems ("S vvvv"). */
	READ_ALIKE(f, "blocks.ids",
		   "0005  Five\n"
		   "1dea  Fake Vendor\n"
		   "\t0001  Fake Device\n"
		   "\t\t1dea 0002  Per-device subsystem\n"
		   "X  Reserved block\n"
		   "\tzzzz anything at all\n"
		   "\t\t\t\tdeep junk\n"
		   "8086  Intel Corporation\n"
		   "\t1521  I350\n"
		   "S 0005\n"
		   "\t0001  Generic five one\n"
		   "\t0002  Generic five two\n"
		   "S 1dea \n"
		   "\t0001  Generic fake one\n"
		   "\t0002  Generic fake two\n"
		   "Z  another reserved block\n"
		   "C 01  Mass storage controller\n"
		   "\t01  IDE interface\n");
}

/* libpci stops at the line of @text that @line names; the reader must refuse it there too. */
struct rejected {
	const char *name;
	const char *text;
	size_t len;		/* 0: strlen(text) */
	unsigned int line;	/* the line libpci stops at (0: none) */
	bool reader_whole_file; /* the reader refuses the file as a whole (line 0) */
};

static void expect_refused(struct fixture *f, const char *name, const char *text, size_t len,
			   unsigned int line)
{
	const char *path = write_ids(f, name, text, len);
	struct pci_ids_refusal why;
	struct pci_ids *ids = pci_ids_open(path, &why);

	if (ids)
		print_error("%s: the reader accepted a file it must leave to libpci\n", name);
	assert_null(ids);
	assert_non_null(why.reason);
	if (why.line != line)
		print_error("%s: refused at line %u (%s), expected line %u\n", name, why.line,
			    why.reason, line);
	assert_int_equal(why.line, line);
}

static void test_libpci_rejects(void **state)
{
	static char long_line[1200];
	struct fixture *f = *state;
	static const struct rejected cases[] = {
	    {"bad-vendor-hex.ids", "8086  Intel\nzz86  Bad\n", 0, 2, false},
	    {"vendor-no-name.ids", "8086\n", 0, 1, false},
	    {"vendor-blank-name.ids", "8086  \n", 0, 1, false},
	    {"vendor-blanks-only.ids", "8086 \t \n", 0, 1, false},
	    {"leading-space.ids", " 8086  Intel\n", 0, 1, false},
	    {"device-first.ids", "\t1234  Device before any vendor\n", 0, 1, false},
	    {"subsystem-no-device.ids", "8086  Intel\n\t\t8086 0001  Sub\n", 0, 2, false},
	    {"too-deep.ids", "8086  Intel\n\t1521  I350\n\t\t\t8086 0001  Deep\n", 0, 3, false},
	    {"subsystem-bad-hex.ids", "8086  Intel\n\t1521  I350\n\t\t8086 00z1  X\n", 0, 3, false},
	    {"subsystem-two-blanks.ids", "8086  Intel\n\t1521  I350\n\t\t8086  0001  X\n", 0, 3,
	     false},
	    {"subsystem-no-name.ids", "8086  Intel\n\t1521  I350\n\t\t8086 0001 \n", 0, 3, false},
	    {"device-bad.ids", "8086  Intel\n\t15 21  I350\n", 0, 2, false},
	    {"duplicate-vendor.ids", "8086  Intel\n8086  Intel again\n", 0, 2, false},
	    {"duplicate-vendor-apart.ids", "1234  A\n8086  Intel\n1234  A again\n", 0, 3, false},
	    {"duplicate-device.ids", "8086  Intel\n\t1521  I350\n\t1521  I350 again\n", 0, 3,
	     false},
	    {"duplicate-subsystem.ids",
	     "8086  Intel\n\t1521  I350\n\t\t8086 0001  A\n\t\t8086 0001  B\n", 0, 4, false},
	    {"duplicate-class.ids", "C 02  Network\nC 02  Network again\n", 0, 2, false},
	    {"duplicate-subclass.ids", "C 02  Network\n\t00  Ethernet\n\t00  Ethernet again\n", 0,
	     3, false},
	    {"duplicate-prog-if.ids", "C 0c  Serial\n\t03  USB\n\t\t30  XHCI\n\t\t30  XHCI again\n",
	     0, 4, false},
	    {"duplicate-generic.ids", "1dea  Fake\nS 1dea\n\t0001  G\n\t0001  G again\n", 0, 4,
	     false},
	    {"generic-unknown-vendor.ids", "1234  A\nS 1dea\n\t0001  G\n1dea  Fake\n", 0, 2, false},
	    {"generic-bad.ids", "1dea  Fake\nS 1dea x\n", 0, 2, false},
	    {"generic-too-deep.ids", "1dea  Fake\nS 1dea\n\t0001  G\n\t\t0001 0002  X\n", 0, 4,
	     false},
	    {"class-no-name.ids", "C 02\n", 0, 1, false},
	    {"class-bad-hex.ids", "C 0z  Bad\n", 0, 1, false},
	    {"subclass-bad.ids", "C 02  Network\n\t0  Short\n", 0, 2, false},
	    {"prog-if-bad.ids", "C 02  Network\n\t00  Ethernet\n\t\t0g  Bad\n", 0, 3, false},
	    {"vendor-then-class-nesting.ids", "C 02  Network\n\t\t8086 0001  X\n", 0, 2, false},
	    {"error-after-names.ids", "8086  Intel\n\t1521  I350\n\tzzzz  Bad\n\t1522  Later\n", 0,
	     3, false},
	    /* fgets() stops at a NUL: libpci takes it for a line too long; the reader, for a
	       file it does not read. */
	    {"nul-byte.ids", "8086  Int\0el\n", 13, 1, true},
	    {"long-line.ids", long_line, 0, 1, false},
	};

	memset(long_line, 'x', sizeof(long_line) - 2);
	memcpy(long_line, "8086  ", 6);
	long_line[sizeof(long_line) - 2] = '\n';
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct rejected *r = &cases[i];
		size_t len = r->len ? r->len : strlen(r->text);
		const char *path = write_ids(f, r->name, r->text, len);
		struct pci_access *pacc = libpci_open(path);
		char buf[NAME_BUFFER];

		/* The case is an error for libpci itself, at that line. */
		pci_lookup_name(pacc, buf, sizeof(buf), PCI_LOOKUP_VENDOR | PCI_LOOKUP_NO_NUMBERS,
				0x8086);
		if (libpci_error_line() != r->line)
			print_error("%s: libpci said \"%s\", expected an error at line %u\n",
				    r->name, libpci_error, r->line);
		assert_int_equal(libpci_error_line(), r->line);
		pci_cleanup(pacc);
		expect_refused(f, r->name, r->text, len, r->reader_whole_file ? 0 : r->line);
	}
}

/* Files libpci reads without error that the reader leaves to it: it must refuse them. */
static void test_left_to_libpci(void **state)
{
	static char long_line[1024];
	struct fixture *f = *state;
	static const struct rejected cases[] = {
	    {"vendors-unsorted.ids", "8086  Intel\n1234  Small\n", 0, 2, false},
	    {"devices-unsorted.ids", "8086  Intel\n\t1521  I350\n\t0001  One\n", 0, 3, false},
	    {"subsystems-unsorted.ids",
	     "8086  Intel\n\t1521  I350\n\t\t8086 0002  B\n\t\t8086 0001  A\n", 0, 4, false},
	    {"classes-unsorted.ids", "C 02  Network\nC 01  Mass storage\n", 0, 2, false},
	    {"subclasses-unsorted.ids", "C 02  Network\n\t80  Other\n\t00  Ethernet\n", 0, 3,
	     false},
	    {"prog-ifs-unsorted.ids", "C 0c  Serial\n\t03  USB\n\t\t30  XHCI\n\t\t00  UHCI\n", 0, 4,
	     false},
	    {"generic-unsorted.ids", "1dea  Fake\nS 1dea\n\t0002  B\n\t0001  A\n", 0, 4, false},
	    {"prog-if-without-subclass.ids", "C 01  Mass storage\n\t\t8a  Odd\n", 0, 2, false},
	    {"crlf.ids", "8086  Intel\r\n\t1521  I350\r\n", 0, 0, true},
	    {"line-of-1022.ids", long_line, 0, 1, false},
	};

	/* 1022 bytes and '\n': within libpci's buffer, but the reader keeps a margin. */
	memset(long_line, 'x', sizeof(long_line) - 1);
	memcpy(long_line, "8086  ", 6);
	long_line[1022] = '\n';
	long_line[1023] = '\0';
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct rejected *r = &cases[i];
		size_t len = strlen(r->text);
		const char *path = write_ids(f, r->name, r->text, len);
		struct pci_access *pacc = libpci_open(path);
		char buf[NAME_BUFFER];

		pci_lookup_name(pacc, buf, sizeof(buf), PCI_LOOKUP_VENDOR | PCI_LOOKUP_NO_NUMBERS,
				0x8086);
		if (libpci_error[0])
			print_error("%s: libpci: %s", r->name, libpci_error);
		assert_string_equal(libpci_error, "");
		pci_cleanup(pacc);
		expect_refused(f, r->name, r->text, len, r->reader_whole_file ? 0 : r->line);
	}
}

static void write_gzip(const char *path, const char *text)
{
	gzFile gz = gzopen(path, "wb");

	assert_non_null(gz);
	assert_int_equal(gzwrite(gz, text, (unsigned int)strlen(text)), (int)strlen(text));
	assert_int_equal(gzclose(gz), Z_OK);
}

static void test_missing_and_compressed(void **state)
{
	struct fixture *f = *state;
	struct pci_ids_refusal why;
	char path[4096];

	assert_null(pci_ids_open(fakeroot_abspath(f->root, "no/such/pci.ids"), &why));
	assert_non_null(why.reason);
	assert_int_equal(why.line, 0);
	assert_null(pci_ids_open(fakeroot_path(f->root), &why)); /* a directory */
	assert_non_null(why.reason);

	assert_int_equal(fakeroot_mkdir(f->root, "ids"), 0);
	snprintf(path, sizeof(path), "%s", fakeroot_abspath(f->root, "ids/pci.ids.gz"));
	write_gzip(path, "8086  Intel Corporation\n");
	assert_null(pci_ids_open(path, &why));
	assert_non_null(strstr(why.reason, "compressed"));
	assert_int_equal(why.line, 0);
}

/* --- through the device API: the reader, or libpci when the reader refuses -------------------- */

struct names {
	const char *vendor, *device, *subsystem_vendor, *subsystem, *class_name, *subclass,
	    *prog_if;
};

static void assert_str_or_null(const char *got, const char *expected)
{
	if (!expected) {
		if (got)
			print_error("expected NULL, got \"%s\"\n", got);
		assert_null(got);
	} else {
		if (!got)
			print_error("expected \"%s\", got NULL\n", expected);
		assert_non_null(got);
		assert_string_equal(got, expected);
	}
}

/* The names of 8086:1521 (subsystem 8086:0001, class 0x010183) with pci.ids at @path. */
static void expect_device_names(struct fixture *f, const char *path, const struct names *want)
{
	hostdev_ctx *ctx = NULL;
	hostdev_pci_device *dev = NULL;
	char *ids_path = strdup(path); /* fakeroot_abspath() reuses its buffer */

	assert_non_null(ids_path);

	assert_int_equal(fakeroot_pci_add(f->root, "0000:01:00.0",
					  &(struct fake_pci){
					      .vendor = 0x8086,
					      .device = 0x1521,
					      .subsystem_vendor = 0x8086,
					      .subsystem_device = 0x0001,
					      .class_code = 0x010183,
					  }),
			 0);
	assert_int_equal(hostdev_ctx_new(&ctx), 0);
	assert_int_equal(hostdev_ctx_set_root(ctx, fakeroot_path(f->root)), 0);
	assert_int_equal(hostdev_ctx_set_path(ctx, HOSTDEV_PATH_MODULES,
					      fakeroot_abspath(f->root, "lib/modules/none")),
			 0);
	assert_int_equal(hostdev_ctx_set_path(ctx, HOSTDEV_PATH_PCI_IDS, ids_path), 0);
	free(ids_path);
	assert_int_equal(hostdev_pci_device_new(ctx, "0000:01:00.0", &dev), 0);
	assert_str_or_null(hostdev_pci_device_get_vendor_name(dev), want->vendor);
	assert_str_or_null(hostdev_pci_device_get_device_name(dev), want->device);
	assert_str_or_null(hostdev_pci_device_get_subsystem_vendor_name(dev),
			   want->subsystem_vendor);
	assert_str_or_null(hostdev_pci_device_get_subsystem_name(dev), want->subsystem);
	assert_str_or_null(hostdev_pci_device_get_class_name(dev), want->class_name);
	assert_str_or_null(hostdev_pci_device_get_subclass_name(dev), want->subclass);
	assert_str_or_null(hostdev_pci_device_get_prog_if_name(dev), want->prog_if);
	hostdev_pci_device_unref(dev);
	hostdev_ctx_unref(ctx);
}

#define FULL_IDS                                                                                   \
	"8086  Intel Corporation  \n"                                                              \
	"\t1521  I350 Gigabit Network Connection\n"                                                \
	"\t\t8086 0001  Ethernet Server Adapter I350-T4\n"                                         \
	"C 01  Mass storage controller\n"                                                          \
	"\t01  IDE interface\n"

static void test_names_through_reader(void **state)
{
	struct fixture *f = *state;
	struct pci_ids_refusal why;
	const char *path = write_ids(f, "full.ids", FULL_IDS, strlen(FULL_IDS));
	struct pci_ids *ids = pci_ids_open(path, &why);

	assert_non_null(ids);
	pci_ids_free(ids);
	/* One trailing blank of the vendor line dropped, one kept; IDE bits named by libpci's rule. */
	expect_device_names(f, path,
			    &(struct names){
				.vendor = "Intel Corporation ",
				.device = "I350 Gigabit Network Connection",
				.subsystem_vendor = "Intel Corporation ",
				.subsystem = "Ethernet Server Adapter I350-T4",
				.class_name = "Mass storage controller",
				.subclass = "IDE interface",
				.prog_if = "Master PriP PriO",
			    });
}

/* libpci keeps the names before its parse error; so must the library, through libpci. */
static void test_broken_file_keeps_libpci_names(void **state)
{
	struct fixture *f = *state;
	struct pci_ids_refusal why;
	static const char text[] = "8086  Intel Corporation\n"
				   "\tzzzz  not a device line\n"
				   "\t1521  I350 Gigabit Network Connection\n"
				   "C 01  Mass storage controller\n"
				   "\t01  IDE interface\n";
	const char *path = write_ids(f, "broken.ids", text, sizeof(text) - 1);

	assert_null(pci_ids_open(path, &why));
	assert_int_equal(why.line, 2);
	expect_device_names(f, path,
			    &(struct names){
				.vendor = "Intel Corporation",
				.subsystem_vendor = "Intel Corporation",
				.prog_if = "Master PriP PriO",
			    });
}

/* A compressed pci.ids is libpci's to read (it has zlib). */
static void test_compressed_file_through_libpci(void **state)
{
	struct fixture *f = *state;
	struct pci_ids_refusal why;
	char path[4096];

	assert_int_equal(fakeroot_mkdir(f->root, "gz"), 0);
	snprintf(path, sizeof(path), "%s", fakeroot_abspath(f->root, "gz/pci.ids.gz"));
	write_gzip(path, FULL_IDS);
	assert_null(pci_ids_open(path, &why));
	expect_device_names(f, path,
			    &(struct names){
				.vendor = "Intel Corporation ",
				.device = "I350 Gigabit Network Connection",
				.subsystem_vendor = "Intel Corporation ",
				.subsystem = "Ethernet Server Adapter I350-T4",
				.class_name = "Mass storage controller",
				.subclass = "IDE interface",
				.prog_if = "Master PriP PriO",
			    });
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_entry_of_system_pci_ids),
	    cmocka_unit_test_setup_teardown(test_read_alike, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_libpci_rejects, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_left_to_libpci, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_missing_and_compressed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_names_through_reader, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_broken_file_keeps_libpci_names, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_compressed_file_through_libpci, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
