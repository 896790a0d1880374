/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pci.ids read in place (see pci_ids.h). libpci parses the whole file into a hash on its first
 * lookup, about 25 M instructions for the 1.3 MB file (40% of `hostdev list` at 1,000 functions).
 * Here one pass, under a third of that, checks each line as libpci's parser would and records where
 * each vendor, device, class, subclass and programming interface is; a lookup is a binary search.
 * Subsystem lines are checked but not recorded: a subsystem is found by reading its device's few
 * lines again.
 *
 * Exactness rests on two facts checked during the pass, never assumed:
 * - no line is one libpci rejects. libpci stops at the first bad line and keeps what it read
 *   before; a file with such a line is refused, and libpci, asked instead, answers as it did.
 * - the ids are in ascending order at every level (pci.ids is published sorted). Then no entry is
 *   a duplicate, which libpci would reject, and binary search finds what its hash finds. A file out
 *   of order is refused, not sorted here: libpci decides whether it holds a duplicate.
 * libpci reads lines with fgets() into 1024 bytes and cuts each at its first '\r' or '\n'; files
 * with NUL or '\r' bytes, or lines near that length, are refused rather than imitated.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pci_ids.h"

/*
 * libpci's MAX_LINE is 1024: a line of 1023 bytes or more (without '\n') is "Line too long". Lines
 * are refused from 1022 bytes and their '\n' on: a byte of margin over fgets()'s edge cases.
 */
#define LIBPCI_LINE_LIMIT 1023

/* What a line holds, in libpci's terms (its enum id_entry_type, plus NONE before any block). */
enum block {
	BLOCK_NONE,
	BLOCK_UNKNOWN, /* a top-level "X ..." line libpci skips with its nested lines */
	BLOCK_VENDOR,
	BLOCK_DEVICE,
	BLOCK_SUBSYSTEM,
	BLOCK_GENERIC, /* "S vvvv": generic subsystems of that vendor */
	BLOCK_CLASS,
	BLOCK_SUBCLASS,
	BLOCK_PROG_IF,
};

/*
 * One named entry. @first and @end delimit its children: a vendor's devices, a class's subclasses,
 * a subclass's programming interfaces (indexes), or a device's subsystem lines (file offsets).
 */
struct ids_entry {
	uint32_t key; /* its own id; generic subsystems: vendor << 16 | device */
	uint32_t name;
	uint32_t name_len;
	uint32_t first, end;
};

struct ids_table {
	struct ids_entry *entries;
	size_t n, cap;
};

struct pci_ids {
	const char *text; /* the mapped file; NULL when it is empty */
	size_t size;
	struct ids_table vendors, devices, generic, classes, subclasses, prog_ifs;
};

static bool is_white(char c)
{
	return c == ' ' || c == '\t';
}

/* The character at @p of a line that ends at @end: '\0' past its end, as in libpci's C string. */
static char char_at(const char *p, const char *end)
{
	return p < end ? *p : '\0';
}

/* Each hex digit's value with IS_HEX set; 0 for any other byte. */
#define IS_HEX 0x10
static const unsigned char hex_value[256] = {
    ['0'] = IS_HEX | 0,	 ['1'] = IS_HEX | 1,  ['2'] = IS_HEX | 2,  ['3'] = IS_HEX | 3,
    ['4'] = IS_HEX | 4,	 ['5'] = IS_HEX | 5,  ['6'] = IS_HEX | 6,  ['7'] = IS_HEX | 7,
    ['8'] = IS_HEX | 8,	 ['9'] = IS_HEX | 9,  ['a'] = IS_HEX | 10, ['b'] = IS_HEX | 11,
    ['c'] = IS_HEX | 12, ['d'] = IS_HEX | 13, ['e'] = IS_HEX | 14, ['f'] = IS_HEX | 15,
    ['A'] = IS_HEX | 10, ['B'] = IS_HEX | 11, ['C'] = IS_HEX | 12, ['D'] = IS_HEX | 13,
    ['E'] = IS_HEX | 14, ['F'] = IS_HEX | 15,
};

/*
 * libpci's id_hex(): 2 or 4 hex digits at @p, or -1. Past @end its string holds a NUL, which is no
 * digit.
 */
static inline int hex2_at(const char *p, const char *end)
{
	const unsigned char *u = (const unsigned char *)p;
	unsigned int a, b;

	if (end - p < 2)
		return -1;
	a = hex_value[u[0]];
	b = hex_value[u[1]];
	if (!(a & b & IS_HEX))
		return -1;
	return (int)((a & 15) << 4 | (b & 15));
}

static inline int hex4_at(const char *p, const char *end)
{
	const unsigned char *u = (const unsigned char *)p;
	unsigned int a, b, c, d;

	if (end - p < 4)
		return -1;
	a = hex_value[u[0]];
	b = hex_value[u[1]];
	c = hex_value[u[2]];
	d = hex_value[u[3]];
	if (!(a & b & c & d & IS_HEX))
		return -1;
	return (int)((a & 15) << 12 | (b & 15) << 8 | (c & 15) << 4 | (d & 15));
}

/* One line of the file: [start, end) without its '\n', @end after libpci's trailing-blank cut. */
struct ids_line {
	const char *start, *end, *next;
};

static inline void line_at(const char *p, const char *file_end, struct ids_line *l)
{
	const char *nl = memchr(p, '\n', (size_t)(file_end - p));

	l->start = p;
	l->end = nl ? nl : file_end;
	l->next = nl ? nl + 1 : file_end;
	/* libpci drops one trailing space or tab, only one. */
	if (l->end > l->start && is_white(l->end[-1]))
		l->end--;
}

/*
 * The tabs in front of the line @l (its nesting level), or -1 for a line libpci skips: blank, or
 * whose first non-blank character is '#'.
 */
static inline int line_nesting(const struct ids_line *l)
{
	const char *p = l->start, *q;

	while (p < l->end && *p == '\t')
		p++;
	for (q = p; q < l->end && is_white(*q); q++)
		;
	if (q == l->end || *q == '#')
		return -1;
	return (int)(p - l->start);
}

static void table_free(struct ids_table *t)
{
	free(t->entries);
}

static inline struct ids_entry *table_add(struct ids_table *t)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 64;
		struct ids_entry *entries = realloc(t->entries, cap * sizeof(*entries));

		if (!entries)
			return NULL;
		t->entries = entries;
		t->cap = cap;
	}
	return &t->entries[t->n++];
}

/* Give back what doubling left unused: the index lives as long as the context. */
static void table_trim(struct ids_table *t)
{
	struct ids_entry *entries;

	if (t->n == 0 || t->n == t->cap)
		return;
	entries = realloc(t->entries, t->n * sizeof(*entries));
	if (entries) {
		t->entries = entries;
		t->cap = t->n;
	}
}

/* The entry of @key among t->entries[first, end), which are in ascending order; NULL if none. */
static const struct ids_entry *table_find(const struct ids_table *t, size_t first, size_t end,
					  uint32_t key)
{
	while (first < end) {
		size_t mid = first + (end - first) / 2;
		uint32_t k = t->entries[mid].key;

		if (k == key)
			return &t->entries[mid];
		if (k < key)
			first = mid + 1;
		else
			end = mid;
	}
	return NULL;
}

/* The state of the pass over the file, as libpci's parser keeps it. */
struct parser {
	struct pci_ids *ids;
	struct pci_ids_refusal *why;
	unsigned int line_no;
	enum block block;
	struct ids_entry *vendor, *device, *class, *subclass;
	int generic_vendor;
	int64_t last_vendor, last_class, last_generic, last_subsystem;
};

static int refuse(struct parser *ps, const char *reason)
{
	ps->why->reason = reason;
	ps->why->line = ps->line_no;
	return -1;
}

/* Entries must come in ascending order: then none is a duplicate (see the top of the file). */
static bool ascending(int64_t *last, int64_t key)
{
	if (key <= *last)
		return false;
	*last = key;
	return true;
}

static bool ascending_in(const struct ids_table *t, const struct ids_entry *parent, uint32_t key)
{
	return parent->end == parent->first || t->entries[parent->end - 1].key < key;
}

/* libpci's last check of a line: a name follows the ids (from @p on). Returns it, or NULL. */
static inline const char *name_start(const struct ids_line *l, const char *p)
{
	while (p < l->end && is_white(*p))
		p++;
	return p < l->end ? p : NULL;
}

/* Record in @t the entry @key of the line @l, whose name starts at or after @p. */
static inline struct ids_entry *add_entry(struct parser *ps, struct ids_table *t,
					  const struct ids_line *l, const char *p, uint32_t key)
{
	const char *name = name_start(l, p);
	struct ids_entry *e;

	if (!name) {
		refuse(ps, "Parse error (no name)");
		return NULL;
	}
	e = table_add(t);
	if (!e) {
		refuse(ps, "out of memory");
		return NULL;
	}
	*e = (struct ids_entry){
	    .key = key,
	    .name = (uint32_t)(name - ps->ids->text),
	    .name_len = (uint32_t)(l->end - name),
	};
	return e;
}

/* A line with no tab in front: a vendor, a class, an "S" block or a block libpci skips. */
static int parse_top(struct parser *ps, const struct ids_line *l)
{
	struct pci_ids *ids = ps->ids;
	const char *p = l->start, *end = l->end;
	int id;

	if (p[0] == 'C' && char_at(p + 1, end) == ' ') {
		id = hex2_at(p + 2, end);
		if (id < 0 || !is_white(char_at(p + 4, end)))
			return refuse(ps, "Parse error (class line)");
		if (!ascending(&ps->last_class, id))
			return refuse(ps, "classes out of ascending order");
		ps->class = add_entry(ps, &ids->classes, l, p + 5, (uint32_t)id);
		if (!ps->class)
			return -1;
		ps->class->first = ps->class->end = (uint32_t)ids->subclasses.n;
		ps->block = BLOCK_CLASS;
	} else if (p[0] == 'S' && char_at(p + 1, end) == ' ') {
		id = hex4_at(p + 2, end);
		if (id < 0 || p + 6 < end)
			return refuse(ps, "Parse error (generic subsystem line)");
		/* Vendors are in ascending order: those read so far are the start of the table. */
		if (!table_find(&ids->vendors, 0, ids->vendors.n, (uint32_t)id))
			return refuse(ps, "Vendor does not exist");
		ps->generic_vendor = id;
		ps->block = BLOCK_GENERIC;
	} else if (p[0] >= 'A' && p[0] <= 'Z' && char_at(p + 1, end) == ' ') {
		ps->block = BLOCK_UNKNOWN;
	} else {
		id = hex4_at(p, end);
		if (id < 0 || !is_white(char_at(p + 4, end)))
			return refuse(ps, "Parse error (vendor line)");
		if (!ascending(&ps->last_vendor, id))
			return refuse(ps, "vendors out of ascending order");
		ps->vendor = add_entry(ps, &ids->vendors, l, p + 5, (uint32_t)id);
		if (!ps->vendor)
			return -1;
		ps->vendor->first = ps->vendor->end = (uint32_t)ids->devices.n;
		ps->block = BLOCK_VENDOR;
	}
	return 0;
}

/* A line with one tab in front: a device, a generic subsystem or a subclass. */
static int parse_level1(struct parser *ps, const struct ids_line *l, const char *p)
{
	struct pci_ids *ids = ps->ids;
	const char *end = l->end;
	int id;

	switch (ps->block) {
	case BLOCK_VENDOR:
	case BLOCK_DEVICE:
	case BLOCK_SUBSYSTEM:
		id = hex4_at(p, end);
		if (id < 0 || !is_white(char_at(p + 4, end)))
			return refuse(ps, "Parse error (device line)");
		if (!ascending_in(&ids->devices, ps->vendor, (uint32_t)id))
			return refuse(ps, "devices out of ascending order");
		ps->device = add_entry(ps, &ids->devices, l, p + 5, (uint32_t)id);
		if (!ps->device)
			return -1;
		/* The device's subsystem lines follow it: none yet. */
		ps->device->first = ps->device->end = (uint32_t)(l->next - ids->text);
		ps->vendor = &ids->vendors.entries[ids->vendors.n - 1];
		ps->vendor->end++;
		ps->last_subsystem = -1;
		ps->block = BLOCK_DEVICE;
		return 0;
	case BLOCK_GENERIC:
		id = hex4_at(p, end);
		if (id < 0 || !is_white(char_at(p + 4, end)))
			return refuse(ps, "Parse error (generic subsystem)");
		if (!ascending(&ps->last_generic, (int64_t)ps->generic_vendor << 16 | id))
			return refuse(ps, "generic subsystems out of ascending order");
		return add_entry(ps, &ids->generic, l, p + 5,
				 (uint32_t)ps->generic_vendor << 16 | (uint32_t)id)
			   ? 0
			   : -1;
	case BLOCK_CLASS:
	case BLOCK_SUBCLASS:
	case BLOCK_PROG_IF:
		id = hex2_at(p, end);
		if (id < 0 || !is_white(char_at(p + 2, end)))
			return refuse(ps, "Parse error (subclass line)");
		if (!ascending_in(&ids->subclasses, ps->class, (uint32_t)id))
			return refuse(ps, "subclasses out of ascending order");
		ps->subclass = add_entry(ps, &ids->subclasses, l, p + 3, (uint32_t)id);
		if (!ps->subclass)
			return -1;
		ps->subclass->first = ps->subclass->end = (uint32_t)ids->prog_ifs.n;
		ps->class = &ids->classes.entries[ids->classes.n - 1];
		ps->class->end++;
		ps->block = BLOCK_SUBCLASS;
		return 0;
	default:
		return refuse(ps, "Parse error (nested line outside a block)");
	}
}

/* A line with two tabs in front: a subsystem or a programming interface. */
static int parse_level2(struct parser *ps, const struct ids_line *l, const char *p)
{
	struct pci_ids *ids = ps->ids;
	const char *end = l->end;
	int sub_vendor, sub_device, id;

	switch (ps->block) {
	case BLOCK_DEVICE:
	case BLOCK_SUBSYSTEM:
		sub_vendor = hex4_at(p, end);
		if (sub_vendor < 0 || !is_white(char_at(p + 4, end)))
			return refuse(ps, "Parse error (subsystem line)");
		sub_device = hex4_at(p + 5, end);
		if (sub_device < 0 || !is_white(char_at(p + 9, end)))
			return refuse(ps, "Parse error (subsystem line)");
		if (!ascending(&ps->last_subsystem, (int64_t)sub_vendor << 16 | sub_device))
			return refuse(ps, "subsystems out of ascending order");
		if (!name_start(l, p + 10))
			return refuse(ps, "Parse error (no name)");
		ps->device = &ids->devices.entries[ids->devices.n - 1];
		ps->device->end = (uint32_t)(l->next - ids->text);
		ps->block = BLOCK_SUBSYSTEM;
		return 0;
	case BLOCK_SUBCLASS:
	case BLOCK_PROG_IF:
		id = hex2_at(p, end);
		if (id < 0 || !is_white(char_at(p + 2, end)))
			return refuse(ps, "Parse error (programming interface line)");
		if (!ascending_in(&ids->prog_ifs, ps->subclass, (uint32_t)id))
			return refuse(ps, "programming interfaces out of ascending order");
		if (!add_entry(ps, &ids->prog_ifs, l, p + 3, (uint32_t)id))
			return -1;
		ps->subclass = &ids->subclasses.entries[ids->subclasses.n - 1];
		ps->subclass->end++;
		ps->block = BLOCK_PROG_IF;
		return 0;
	case BLOCK_CLASS:
		/* libpci files it under subclass 00, which a later "00" line could duplicate. */
		return refuse(ps, "programming interface outside a subclass");
	default:
		return refuse(ps, "Parse error (nested line outside a block)");
	}
}

static int parse_line(struct parser *ps, const struct ids_line *l, int nest)
{
	const char *p = l->start + nest;

	if (nest == 0)
		return parse_top(ps, l);
	if (ps->block == BLOCK_UNKNOWN) /* libpci skips the nested lines of an unknown block */
		return 0;
	if (nest == 1)
		return parse_level1(ps, l, p);
	if (nest == 2)
		return parse_level2(ps, l, p);
	return refuse(ps, "Parse error (nested too deep)");
}

static int parse(struct pci_ids *ids, struct pci_ids_refusal *why)
{
	struct parser ps = {
	    .ids = ids,
	    .why = why,
	    .block = BLOCK_NONE,
	    .last_vendor = -1,
	    .last_class = -1,
	    .last_generic = -1,
	    .last_subsystem = -1,
	};
	const char *p = ids->text, *file_end = ids->text + ids->size;
	struct ids_line l;
	int nest;

	while (p < file_end) {
		ps.line_no++;
		line_at(p, file_end, &l);
		if (l.next - l.start >= LIBPCI_LINE_LIMIT)
			return refuse(&ps, "line too long for libpci's buffer");
		nest = line_nesting(&l);
		if (nest >= 0 && parse_line(&ps, &l, nest) < 0)
			return -1;
		p = l.next;
	}
	return 0;
}

static int map_file(struct pci_ids *ids, const char *path, struct pci_ids_refusal *why)
{
	struct stat st;
	void *map;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		why->reason = "cannot open the file";
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > UINT32_MAX) {
		why->reason = "not a regular file under 4 GiB";
		close(fd);
		return -1;
	}
	ids->size = (size_t)st.st_size;
	if (ids->size == 0) {
		close(fd);
		return 0;
	}
	map = mmap(NULL, ids->size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED) {
		why->reason = "cannot map the file";
		return -1;
	}
	ids->text = map;
	return 0;
}

/* Forms libpci reads differently from lines of text, left to it. */
static bool plain_text(const struct pci_ids *ids, struct pci_ids_refusal *why)
{
	if (ids->size >= 2 && (unsigned char)ids->text[0] == 0x1f &&
	    (unsigned char)ids->text[1] == 0x8b) {
		why->reason = "compressed (gzip)";
		return false;
	}
	/* A NUL ends fgets()'s string early ("Line too long"); a '\r' ends a line for libpci. */
	if (memchr(ids->text, '\0', ids->size) || memchr(ids->text, '\r', ids->size)) {
		why->reason = "NUL or carriage-return bytes";
		return false;
	}
	return true;
}

struct pci_ids *pci_ids_open(const char *path, struct pci_ids_refusal *why)
{
	struct pci_ids *ids = calloc(1, sizeof(*ids));

	*why = (struct pci_ids_refusal){0};
	if (!ids) {
		why->reason = "out of memory";
		return NULL;
	}
	if (map_file(ids, path, why) < 0 ||
	    (ids->size && (!plain_text(ids, why) || parse(ids, why) < 0))) {
		pci_ids_free(ids);
		return NULL;
	}
	table_trim(&ids->vendors);
	table_trim(&ids->devices);
	table_trim(&ids->classes);
	table_trim(&ids->subclasses);
	table_trim(&ids->prog_ifs);
	table_trim(&ids->generic);
	/*
	 * The pass touched every page; a lookup needs a few. Dropped pages come back from the page
	 * cache when read, and the process does not keep the whole file resident meanwhile.
	 */
	if (ids->text)
		madvise((void *)ids->text, ids->size, MADV_DONTNEED);
	return ids;
}

void pci_ids_free(struct pci_ids *ids)
{
	if (!ids)
		return;
	if (ids->text)
		munmap((void *)ids->text, ids->size);
	table_free(&ids->vendors);
	table_free(&ids->devices);
	table_free(&ids->classes);
	table_free(&ids->subclasses);
	table_free(&ids->prog_ifs);
	table_free(&ids->generic);
	free(ids);
}

static char *entry_name(const struct pci_ids *ids, const struct ids_entry *e)
{
	return e ? strndup(ids->text + e->name, e->name_len) : NULL;
}

/*
 * libpci keys its hash by id1 << 16 | id2 and id3 << 16 | id4 in 32 bits (id_pair()); ids out of
 * range fold into others there (vendor 0x18086 is 8086, device 0x11521 of 8086 is 1521 of 8087),
 * and the lookups below fold them the same way.
 */
static uint32_t id_pair(int x, int y)
{
	return (uint32_t)x << 16 | (uint32_t)y;
}

/* The vendor and device of libpci's key @id12 (vendor << 16 | device). */
static const struct ids_entry *find_device(const struct pci_ids *ids, uint32_t id12)
{
	const struct ids_entry *v = table_find(&ids->vendors, 0, ids->vendors.n, id12 >> 16);

	return v ? table_find(&ids->devices, v->first, v->end, id12 & 0xffff) : NULL;
}

static const struct ids_entry *find_subclass(const struct pci_ids *ids, uint32_t id12)
{
	const struct ids_entry *c = table_find(&ids->classes, 0, ids->classes.n, id12 >> 16);

	return c ? table_find(&ids->subclasses, c->first, c->end, id12 & 0xffff) : NULL;
}

char *pci_ids_vendor(const struct pci_ids *ids, int vendor)
{
	return entry_name(ids,
			  table_find(&ids->vendors, 0, ids->vendors.n, id_pair(vendor, 0) >> 16));
}

char *pci_ids_device(const struct pci_ids *ids, int vendor, int device)
{
	return entry_name(ids, find_device(ids, id_pair(vendor, device)));
}

/* The subsystem @key (vendor << 16 | device) among the subsystem lines of device @dev. */
static char *subsystem_of_device(const struct pci_ids *ids, const struct ids_entry *dev,
				 uint32_t key)
{
	const char *p = ids->text + dev->first, *end = ids->text + dev->end;
	struct ids_line l;

	for (; p < end; p = l.next) {
		const char *s;
		uint32_t k;

		line_at(p, end, &l);
		if (line_nesting(&l) < 0)
			continue;
		/* The pass checked this line: two tabs, four digits, a blank, four digits, a blank. */
		s = l.start + 2;
		k = (uint32_t)hex4_at(s, l.end) << 16 | (uint32_t)hex4_at(s + 5, l.end);
		if (k > key) /* ascending */
			break;
		if (k == key) {
			s = name_start(&l, s + 10);
			return strndup(s, (size_t)(l.end - s));
		}
	}
	return NULL;
}

/* libpci's id_lookup_subsys(). */
char *pci_ids_subsystem(const struct pci_ids *ids, int vendor, int device, int subvendor,
			int subdevice)
{
	const struct ids_entry *e;

	if (vendor > 0 && device > 0) {
		e = find_device(ids, id_pair(vendor, device));
		if (e) {
			char *name = subsystem_of_device(ids, e, id_pair(subvendor, subdevice));

			if (name)
				return name;
		}
	}
	e = table_find(&ids->generic, 0, ids->generic.n, id_pair(subvendor, subdevice));
	if (e)
		return entry_name(ids, e);
	if (vendor == subvendor && device == subdevice)
		return pci_ids_device(ids, vendor, device);
	return NULL;
}

char *pci_ids_subclass(const struct pci_ids *ids, int class16)
{
	return entry_name(ids, find_subclass(ids, id_pair(class16 >> 8, class16 & 0xff)));
}

char *pci_ids_class(const struct pci_ids *ids, int base)
{
	return entry_name(ids,
			  table_find(&ids->classes, 0, ids->classes.n, id_pair(base, 0) >> 16));
}

char *pci_ids_prog_if(const struct pci_ids *ids, int class16, int prog_if)
{
	const struct ids_entry *sub = find_subclass(ids, id_pair(class16 >> 8, class16 & 0xff));
	const struct ids_entry *e = NULL;
	char made_up[32];

	if (sub)
		e = table_find(&ids->prog_ifs, sub->first, sub->end, id_pair(prog_if, 0) >> 16);
	if (e)
		return entry_name(ids, e);
	if (class16 != 0x0101 || (prog_if & 0x70))
		return NULL;
	/* libpci's names for the IDE programming interface bits; "" when none is set. */
	snprintf(made_up, sizeof(made_up), "%s%s%s%s%s", (prog_if & 0x80) ? " Master" : "",
		 (prog_if & 0x08) ? " SecP" : "", (prog_if & 0x04) ? " SecO" : "",
		 (prog_if & 0x02) ? " PriP" : "", (prog_if & 0x01) ? " PriO" : "");
	return strdup(made_up[0] ? made_up + 1 : made_up);
}
