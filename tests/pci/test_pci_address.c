/* SPDX-License-Identifier: Apache-2.0 */
/* PCI address parsing and formatting. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hostdev.h"

static const struct {
	const char *text;
	uint32_t domain;
	uint8_t bus, slot, function;
	const char *canonical;
} good[] = {
    {"0000:00:1f.2", 0, 0x00, 0x1f, 2, "0000:00:1f.2"},
    {"00:1f.2", 0, 0x00, 0x1f, 2, "0000:00:1f.2"}, /* domain 0 */
    {"0000:3B:00.0", 0, 0x3b, 0x00, 0, "0000:3b:00.0"},
    {"0000:3b:02.1", 0, 0x3b, 0x02, 1, "0000:3b:02.1"},
    {"FFFF:FF:1F.7", 0xffff, 0xff, 0x1f, 7, "ffff:ff:1f.7"},
    {"0001:ff:00.0", 1, 0xff, 0x00, 0, "0001:ff:00.0"},
    {"ab:0d.3", 0, 0xab, 0x0d, 3, "0000:ab:0d.3"},
    {"0000:00:1F.7", 0, 0x00, 0x1f, 7, "0000:00:1f.7"},
    {"10000:00:00.0", 0x10000, 0, 0, 0, "10000:00:00.0"}, /* large-domain kernels (VMD) */
    {"ffffffff:ff:1f.7", 0xffffffff, 0xff, 0x1f, 7, "ffffffff:ff:1f.7"},
};

static void assert_address_equal(const struct hostdev_pci_address *a,
				 const struct hostdev_pci_address *b)
{
	assert_int_equal(a->domain, b->domain);
	assert_int_equal(a->bus, b->bus);
	assert_int_equal(a->slot, b->slot);
	assert_int_equal(a->function, b->function);
}

static void test_parse_good(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct hostdev_pci_address a;

		memset(&a, 0xaa, sizeof(a));
		if (hostdev_pci_address_parse(good[i].text, &a) != 0)
			print_error("parse \"%s\" failed\n", good[i].text);
		assert_int_equal(hostdev_pci_address_parse(good[i].text, &a), 0);
		assert_int_equal(a.domain, good[i].domain);
		assert_int_equal(a.bus, good[i].bus);
		assert_int_equal(a.slot, good[i].slot);
		assert_int_equal(a.function, good[i].function);
	}
}

static void test_format_and_round_trip(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct hostdev_pci_address a, b;
		char buf[HOSTDEV_PCI_ADDRESS_MAX];

		if (hostdev_pci_address_parse(good[i].text, &a) != 0)
			continue; /* reported by test_parse_good */
		assert_int_equal(hostdev_pci_address_format(&a, buf, sizeof(buf)),
				 (int)strlen(good[i].canonical));
		assert_string_equal(buf, good[i].canonical);
		/* canonical text parses back to the same address */
		assert_int_equal(hostdev_pci_address_parse(buf, &b), 0);
		assert_address_equal(&a, &b);
	}
}

static void test_parse_bad(void **state)
{
	static const char *const bad[] = {
	    "",
	    "garbage",
	    "0000:00:20.0",  /* slot 0x20 out of range */
	    "0000:00:1f.8",  /* function 8 */
	    "0000:00:1f.2x", /* trailing characters */
	    "0000:00:1f.2 ", /* trailing space */
	    " 0000:00:1f.2", /* leading space */
	    "0000:00:1f",    /* no function */
	    "0000:00:1f.",   /* empty function */
	    "0000:100:00.0", /* bus > 0xff */
	    "0000:00:1g.0",  /* not hex */
	    "0000::1f.2",    /* empty bus */
	    ":00:1f.2",	     /* empty domain */
	    "0000:00:1f:2",  /* ':' before the function */
	    "0000:00:1f.2\n",
	    "0000:00:-1.0",
	    "0000:00:+1.0",
	    "0x00:00:1f.2",
	    "0000:0x0:1f.2",
	    "1f.2",
	    "100000000:00:00.0", /* domain beyond 32 bits */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct hostdev_pci_address a = {
		    .domain = 0x1234, .bus = 0x56, .slot = 7, .function = 1};
		int r = hostdev_pci_address_parse(bad[i], &a);

		if (r != -EINVAL)
			print_error("\"%s\" should be rejected, got %d\n", bad[i], r);
		assert_int_equal(r, -EINVAL);
		/* output untouched on failure */
		assert_int_equal(a.domain, 0x1234);
		assert_int_equal(a.bus, 0x56);
		assert_int_equal(a.slot, 7);
		assert_int_equal(a.function, 1);
	}
	assert_int_equal(hostdev_pci_address_parse(NULL, &(struct hostdev_pci_address){0}),
			 -EINVAL);
	assert_int_equal(hostdev_pci_address_parse("0000:00:1f.2", NULL), -EINVAL);
}

static void test_format_errors(void **state)
{
	struct hostdev_pci_address a = {.domain = 0, .bus = 0, .slot = 0x1f, .function = 2};
	char buf[HOSTDEV_PCI_ADDRESS_MAX];

	(void)state;
	/* "0000:00:1f.2" is 12 characters: 13 bytes needed. */
	assert_int_equal(hostdev_pci_address_format(&a, buf, 12), -ENOSPC);
	assert_int_equal(hostdev_pci_address_format(&a, buf, 0), -ENOSPC);
	assert_int_equal(hostdev_pci_address_format(&a, buf, 13), 12);
	assert_string_equal(buf, "0000:00:1f.2");

	a.slot = 0x20;
	assert_int_equal(hostdev_pci_address_format(&a, buf, sizeof(buf)), -EINVAL);
	a.slot = 0x1f;
	a.function = 8;
	assert_int_equal(hostdev_pci_address_format(&a, buf, sizeof(buf)), -EINVAL);
	a.function = 7;
	a.domain = 0xffffffff;
	a.bus = 0xff;
	assert_int_equal(hostdev_pci_address_format(&a, buf, sizeof(buf)),
			 HOSTDEV_PCI_ADDRESS_MAX - 1);
	assert_string_equal(buf, "ffffffff:ff:1f.7");
	assert_int_equal(hostdev_pci_address_format(NULL, buf, sizeof(buf)), -EINVAL);
}

/* Every valid address formats and parses back to itself (exhaustive over bus/slot/function). */
static void test_exhaustive_round_trip(void **state)
{
	(void)state;
	for (unsigned int bus = 0; bus <= 0xff; bus++) {
		for (unsigned int slot = 0; slot <= 0x1f; slot++) {
			for (unsigned int fn = 0; fn <= 7; fn++) {
				struct hostdev_pci_address a = {.domain = bus * 0x101u,
								.bus = (uint8_t)bus,
								.slot = (uint8_t)slot,
								.function = (uint8_t)fn};
				struct hostdev_pci_address b;
				char buf[HOSTDEV_PCI_ADDRESS_MAX], expect[32];

				snprintf(expect, sizeof(expect), "%04x:%02x:%02x.%x", a.domain, bus,
					 slot, fn);
				assert_int_equal(hostdev_pci_address_format(&a, buf, sizeof(buf)),
						 (int)strlen(expect));
				assert_string_equal(buf, expect);
				assert_int_equal(hostdev_pci_address_parse(buf, &b), 0);
				assert_address_equal(&a, &b);
			}
		}
	}
}

/*
 * Every library call that takes a PCI address refuses a malformed one with the same message: what
 * was given, what is wrong with it, and the expected form (pci_address_check.c).
 */
static void test_parse_or_explain(void **state)
{
	static const struct {
		const char *text, *problem;
	} cases[] = {
	    {"", "it is empty"},
	    {"zz", "it does not have the form [DDDD:]BB:DD.F"},
	    {"3b:00", "it does not have the form [DDDD:]BB:DD.F"},
	    {"0000:3b:00.8", "the function '8' is above 7"},
	    {"0000:3b:20.0", "the device '20' is above 1f"},
	    {"0000:3g:00.0", "the bus '3g' is not hex"},
	    {"0000:3b0:00.0", "the bus '3b0' has more than 2 hex digits"},
	    {"0000::00.0", "the bus is empty"},
	    {"0000:3b:00.", "the function is empty"},
	    {"123456789:3b:00.0", "the domain '123456789' has more than 8 hex digits"},
	    {"3b:00.0.1", "it does not have the form [DDDD:]BB:DD.F"},
	};
	static const char *const form =
	    "expected DDDD:BB:DD.F in hex (domain, bus, device 00-1f, function 0-7), such as "
	    "0000:3b:00.0; the domain may be left out (3b:00.0 is 0000:3b:00.0)";
	hostdev_ctx *ctx;
	hostdev_pci_device *dev = NULL;
	char expect[512];

	(void)state;
	assert_int_equal(hostdev_ctx_new(&ctx), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(expect, sizeof(expect), "'%s' is not a PCI address (%s): %s",
			 cases[i].text, cases[i].problem, form);
		assert_int_equal(hostdev_pci_device_new(ctx, cases[i].text, &dev), -EINVAL);
		assert_string_equal(hostdev_ctx_get_error(ctx), expect);
		/* The same words from the vfio calls that take addresses. */
		assert_int_equal(hostdev_vfio_persist_remove(ctx, cases[i].text), -EINVAL);
		assert_string_equal(hostdev_ctx_get_error(ctx), expect);
	}
	snprintf(expect, sizeof(expect), "no PCI address given (NULL): %s", form);
	assert_int_equal(hostdev_pci_device_new(ctx, NULL, &dev), -EINVAL);
	assert_string_equal(hostdev_ctx_get_error(ctx), expect);
	assert_null(dev);
	hostdev_ctx_unref(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_good),
	    cmocka_unit_test(test_format_and_round_trip),
	    cmocka_unit_test(test_parse_bad),
	    cmocka_unit_test(test_format_errors),
	    cmocka_unit_test(test_exhaustive_round_trip),
	    cmocka_unit_test(test_parse_or_explain),
	};

	return cmocka_run_group_tests_name("pci_address", tests, NULL, NULL);
}
