/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `hostdev list -t`: the PCI bus tree in the shape of pciutils' `lspci -t` (3.x with sysfs), so that
 * an lspci user reads it the same way and tests/cli can compare it with the real lspci byte for byte.
 *
 * The rules lspci follows, which this file reproduces from the library's enumeration:
 * - a bridge is a device of the bridge base class with a bridge or CardBus configuration header
 *   (its bus numbers from that header), or any device sysfs shows other PCI devices behind (a VMD
 *   endpoint, a bridge whose header cannot be read), whose secondary bus is then that of its first
 *   such child;
 * - a bridge hangs under the bridge of its sysfs parent, else under the host;
 * - a device goes on the first bus of its sysfs parent's bridge; without one, on the host's bus of
 *   its number, else (recursively) under a child bridge whose bus range holds its bus, else on a
 *   new bus of the host. Buses are kept in creation order, devices in address order.
 * VFs therefore sit where lspci draws them: beside their PF on the bus behind the same bridge.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

struct tree_bus;
struct tree_bridge;

struct tree_dev {
	hostdev_pci_device *dev;
	struct hostdev_pci_address addr;
	struct tree_dev *parent;    /* the upstream PCI device in sysfs, NULL on a root bus */
	struct tree_bridge *bridge; /* set when the device is a bridge */
	struct tree_dev *bus_next;  /* next device on the same bus */
};

struct tree_bus {
	unsigned int domain, number;
	struct tree_bus *sibling;
	struct tree_dev *first_dev, **last_dev;
};

struct tree_bridge {
	struct tree_bridge *chain;	  /* every bridge, host first, in discovery order */
	struct tree_bridge *next, *child; /* the tree: first child, then siblings (newest first) */
	struct tree_bus *first_bus, *last_bus;
	unsigned int domain, primary, secondary, subordinate;
	struct tree_dev *br_dev; /* NULL for the host */
};

struct tree {
	struct tree_dev *devs; /* sorted by address */
	size_t count;
	struct tree_bridge host;
	struct tree_bridge **last_bridge;
	const struct cli_lspci *o;
	char line[1024];
};

static int compare_address(const struct hostdev_pci_address *a, const struct hostdev_pci_address *b)
{
	if (a->domain != b->domain)
		return a->domain < b->domain ? -1 : 1;
	if (a->bus != b->bus)
		return a->bus < b->bus ? -1 : 1;
	if (a->slot != b->slot)
		return a->slot < b->slot ? -1 : 1;
	return (int)a->function - (int)b->function;
}

static int compare_dev(const void *a, const void *b)
{
	return compare_address(&((const struct tree_dev *)a)->addr,
			       &((const struct tree_dev *)b)->addr);
}

static int compare_key(const void *key, const void *item)
{
	return compare_address(key, &((const struct tree_dev *)item)->addr);
}

static struct tree_dev *find_dev(struct tree *t, const char *address)
{
	struct hostdev_pci_address addr;

	if (hostdev_pci_address_parse(address, &addr) < 0)
		return NULL;
	return bsearch(&addr, t->devs, t->count, sizeof(*t->devs), compare_key);
}

static struct tree_bridge *new_bridge(struct tree *t, struct tree_dev *d)
{
	struct tree_bridge *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->domain = d->addr.domain;
	b->br_dev = d;
	d->bridge = b;
	*t->last_bridge = b;
	t->last_bridge = &b->chain;
	return b;
}

static struct tree_bus *find_bus(struct tree_bridge *b, unsigned int domain, unsigned int number)
{
	for (struct tree_bus *bus = b->first_bus; bus; bus = bus->sibling)
		if (bus->domain == domain && bus->number == number)
			return bus;
	return NULL;
}

static struct tree_bus *new_bus(struct tree_bridge *b, unsigned int domain, unsigned int number)
{
	struct tree_bus *bus = calloc(1, sizeof(*bus));

	if (!bus)
		return NULL;
	bus->domain = domain;
	bus->number = number;
	bus->last_dev = &bus->first_dev;
	if (b->last_bus)
		b->last_bus->sibling = bus;
	else
		b->first_bus = bus;
	b->last_bus = bus;
	return bus;
}

/* Put @d on its bus below @b (see the rules at the top). 0 or -ENOMEM. */
static int insert_dev(struct tree_dev *d, struct tree_bridge *b)
{
	struct tree_bus *bus = NULL;

	if (d->parent && d->parent->bridge) {
		bus = d->parent->bridge->first_bus;
		if (!bus)
			bus = new_bus(d->parent->bridge, d->addr.domain, d->addr.bus);
	} else if (!(bus = find_bus(b, d->addr.domain, d->addr.bus))) {
		for (struct tree_bridge *c = b->child; c; c = c->next)
			if (c->domain == d->addr.domain && c->secondary <= d->addr.bus &&
			    d->addr.bus <= c->subordinate)
				return insert_dev(d, c);
		bus = new_bus(b, d->addr.domain, d->addr.bus);
	}
	if (!bus)
		return -ENOMEM;
	*bus->last_dev = d;
	bus->last_dev = &d->bus_next;
	return 0;
}

static int grow(struct tree *t)
{
	struct tree_bridge *b;

	t->host = (struct tree_bridge){.primary = ~0u, .subordinate = ~0u};
	t->last_bridge = &t->host.chain;
	/* Bridges by their configuration header, in address order. */
	for (size_t i = 0; i < t->count; i++) {
		struct tree_dev *d = &t->devs[i];
		unsigned int primary, secondary, subordinate;

		/* An unreadable header (the device went away) leaves it to the sysfs rule below. */
		if (hostdev_pci_device_get_bridge_buses(d->dev, &primary, &secondary,
							&subordinate) <= 0)
			continue;
		if (!(b = new_bridge(t, d)))
			return -ENOMEM;
		b->primary = primary;
		b->secondary = secondary;
		b->subordinate = subordinate;
	}
	/* Any other device with PCI devices behind it in sysfs. */
	for (size_t i = 0; i < t->count; i++) {
		struct tree_dev *d = &t->devs[i], *p = d->parent;

		if (!p || p->bridge)
			continue;
		if (!(b = new_bridge(t, p)))
			return -ENOMEM;
		b->primary = p->addr.bus;
		b->secondary = b->subordinate = d->addr.bus;
	}
	/* Each bridge under its sysfs parent's bridge, else under the host. */
	for (b = t->host.chain; b; b = b->chain) {
		struct tree_bridge *up = &t->host;

		if (b->br_dev->parent && b->br_dev->parent->bridge)
			up = b->br_dev->parent->bridge;
		b->next = up->child;
		up->child = b;
	}
	for (b = &t->host; b; b = b->chain)
		if (!find_bus(b, b->domain, b->secondary) && !new_bus(b, b->domain, b->secondary))
			return -ENOMEM;
	for (size_t i = 0; i < t->count; i++)
		if (insert_dev(&t->devs[i], &t->host) < 0)
			return -ENOMEM;
	return 0;
}

/* Append to the line at @p; the line ends with "..." when it would overflow, as lspci's does. */
static char *put(struct tree *t, char *p, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static char *put(struct tree *t, char *p, const char *fmt, ...)
{
	size_t space = (size_t)(t->line + sizeof(t->line) - 1 - p);
	va_list args;
	int n;

	if (p >= t->line + sizeof(t->line) - 1)
		return p;
	va_start(args, fmt);
	n = vsnprintf(p, space, fmt, args);
	va_end(args);
	return n < 0 ? p : p + ((size_t)n >= space ? space : (size_t)n);
}

/* Print the line up to @p, then turn it into the indentation of the next: only the '|' of the
 * branches still open stay. */
static void print_line(struct tree *t, char *p)
{
	*p = '\0';
	fputs(t->line, stdout);
	if (p >= t->line + sizeof(t->line) - 1)
		fputs("...", stdout);
	putchar('\n');
	for (p = t->line; *p; p++)
		*p = *p == '+' || *p == '|' ? '|' : ' ';
}

static void print_bridge(struct tree *t, struct tree_bridge *b, char *p);

static void print_dev(struct tree *t, struct tree_dev *d, char *p)
{
	struct tree_bridge *b = d->bridge;

	p = put(t, p, "%02x.%x", d->addr.slot, d->addr.function);
	if (b) {
		if (b->secondary == 0)
			p = put(t, p, "-");
		else if (b->secondary == b->subordinate)
			p = put(t, p, "-[%02x]-", b->secondary);
		else
			p = put(t, p, "-[%02x-%02x]-", b->secondary, b->subordinate);
		print_bridge(t, b, p);
		return;
	}
	if (t->o->verbose) {
		/* The names of -v go through stdout: flush the tree part first. */
		*p = '\0';
		fputs(t->line, stdout);
		fputs("  ", stdout);
		cli_lspci_print_ids(t->o, d->dev);
		putchar('\n');
		for (char *q = t->line; *q; q++)
			*q = *q == '+' || *q == '|' ? '|' : ' ';
		return;
	}
	print_line(t, p);
}

static void print_bus(struct tree *t, struct tree_bus *bus, char *p)
{
	struct tree_dev *d = bus->first_dev;

	if (!d) {
		print_line(t, p);
		return;
	}
	if (!d->bus_next) {
		print_dev(t, d, put(t, p, "--"));
		return;
	}
	for (; d->bus_next; d = d->bus_next)
		print_dev(t, d, put(t, p, "+-"));
	print_dev(t, d, put(t, p, "\\-"));
}

static void print_bridge(struct tree *t, struct tree_bridge *b, char *p)
{
	struct tree_bus *bus = b->first_bus;

	p = put(t, p, "-");
	if (!bus->sibling) {
		if (b == &t->host)
			p = put(t, p, "[%04x:%02x]-", bus->domain, bus->number);
		print_bus(t, bus, p);
		return;
	}
	for (; bus->sibling; bus = bus->sibling)
		print_bus(t, bus, put(t, p, "+-[%04x:%02x]-", bus->domain, bus->number));
	print_bus(t, bus, put(t, p, "\\-[%04x:%02x]-", bus->domain, bus->number));
}

static void free_tree(struct tree *t)
{
	struct tree_bridge *b = &t->host, *next;

	for (; b; b = next) {
		struct tree_bus *bus = b->first_bus, *bus_next;

		for (; bus; bus = bus_next) {
			bus_next = bus->sibling;
			free(bus);
		}
		next = b->chain;
		if (b != &t->host)
			free(b);
	}
	free(t->devs);
}

int cli_lspci_print_tree(const struct cli_lspci *o, hostdev_pci_device *const *devs, size_t count)
{
	struct tree t = {.o = o, .count = count};
	int r;

	t.devs = calloc(count ? count : 1, sizeof(*t.devs));
	if (!t.devs) {
		cli_error("out of memory");
		return CLI_EXIT_FAILURE;
	}
	for (size_t i = 0; i < count; i++) {
		t.devs[i].dev = devs[i];
		t.devs[i].addr = hostdev_pci_device_get_pci_address(devs[i]);
	}
	qsort(t.devs, count, sizeof(*t.devs), compare_dev);
	for (size_t i = 0; i < count; i++) {
		char parent[HOSTDEV_PCI_ADDRESS_MAX];

		/* A device gone meanwhile (-ENODEV) is drawn on its bus number alone. */
		if (hostdev_pci_device_get_parent_address(t.devs[i].dev, parent, sizeof(parent)) >
		    0)
			t.devs[i].parent = find_dev(&t, parent);
	}
	r = grow(&t);
	if (r < 0) {
		free_tree(&t);
		cli_error("out of memory");
		return CLI_EXIT_FAILURE;
	}
	print_bridge(&t, &t.host, t.line);
	free_tree(&t);
	return CLI_EXIT_OK;
}
