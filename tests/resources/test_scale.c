/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The config parser's cost grows linearly with the config. Counted, not timed: this test links
 * the parser with strcmp() and realloc() wrapped (-Wl,--wrap, tests/resources/CMakeLists.txt) and
 * checks how many calls a config of 30 000 keys, list items or resources makes per key. Comparing
 * every key with every other (the duplicate-key and unique-name checks) made about n*n/2 strcmp
 * calls, 450 million for 30 000 keys (11 s); growing lists by one item made one realloc() per
 * item. The answers themselves are checked too: a duplicate at the very end is still found.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "resources/dp_config.h"

#define N 30000

static unsigned long strcmp_calls, realloc_calls;

/* Visible to the whole link (sanitizer runtimes resolve realloc through the executable too). */
#define WRAPPER __attribute__((visibility("default")))
int __real_strcmp(const char *a, const char *b);
void *__real_realloc(void *p, size_t n);
WRAPPER int __wrap_strcmp(const char *a, const char *b);
WRAPPER void *__wrap_realloc(void *p, size_t n);

int __wrap_strcmp(const char *a, const char *b)
{
	strcmp_calls++;
	return __real_strcmp(a, b);
}

void *__wrap_realloc(void *p, size_t n)
{
	realloc_calls++;
	return __real_realloc(p, n);
}

/*
 * Parse @text; the calls it made per @n (keys, items or resources) must stay small: a few
 * comparisons per key, and at most @lists + 100 reallocs (the first allocation of each list, then
 * a doubling now and then).
 */
static int parse_counted(const char *text, size_t n, size_t lists,
			 struct hostdev_dp_config **config, char *err, size_t size)
{
	int r;

	strcmp_calls = realloc_calls = 0;
	r = dp_config_parse_text(text, config, err, size);
	/* A few comparisons per key (hash probes, key lookups); far from n/2 per key. */
	if (strcmp_calls > 40 * n)
		fail_msg("%lu strcmp calls for %zu keys: not linear", strcmp_calls, n);
	if (realloc_calls > lists + 100)
		fail_msg("%lu realloc calls for %zu items: arrays grow by one", realloc_calls, n);
	return r;
}

/*
 * @head, then @n items of @item with "#" replaced by the item's number (decimal, or 4 hex digits
 * when @hex), separated by commas, then @tail.
 */
static char *build_text(const char *head, const char *item, bool hex, const char *tail, size_t n)
{
	const char *mark = strchr(item, '#');
	char *text = malloc(n * 160 + 256), *p = text;

	assert_non_null(text);
	assert_non_null(mark);
	p += sprintf(p, "%s", head);
	for (size_t i = 0; i < n; i++) {
		if (i)
			*p++ = ',';
		memcpy(p, item, (size_t)(mark - item));
		p += mark - item;
		p += sprintf(p, hex ? "%04zx" : "%zu", i);
		p += sprintf(p, "%s", mark + 1);
	}
	strcpy(p, tail);
	return text;
}

static char *build(const char *head, const char *item, const char *tail, size_t n)
{
	return build_text(head, item, false, tail, n);
}

/* 30 000 keys in one object and a repeat of the last one: still found, named. */
static void test_many_keys(void **state)
{
	struct hostdev_dp_config *config = NULL;
	char err[512], *text;

	(void)state;
	text = build("{", "\"k#\": 0", ", \"k29999\": 1}", N);
	assert_int_equal(parse_counted(text, N, 1, &config, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "key \"k29999\" is given twice; keep one");
	free(text);
	/* The same in a selectors object of a resource. */
	text = build("{\"resources\": [{\"kind\": \"usb\", \"resourceName\": \"example.com/x\", "
		     "\"selectors\": {",
		     "\"s#\": []", ", \"s29999\": []}}]}", N);
	assert_int_equal(parse_counted(text, N, 1, &config, err, sizeof(err)), -EINVAL);
	assert_string_equal(err,
			    "resources[0] \"example.com/x\": selectors: key \"s29999\" is given "
			    "twice; keep one");
	free(text);
}

/* 30 000 items of one selector list: all kept, in order. */
static void test_long_lists(void **state)
{
	struct hostdev_dp_config *config = NULL;
	char err[512], *text;

	(void)state;
	text = build("{\"resources\": [{\"kind\": \"usb\", \"resourceName\": \"example.com/x\", "
		     "\"selectors\": {\"serial\": [",
		     "\"s#\"", "]}}]}", N);
	assert_int_equal(parse_counted(text, N, 1, &config, err, sizeof(err)), 0);
	assert_int_equal(config->specs[0].sel.n_serials, N);
	assert_string_equal(config->specs[0].sel.serials[N - 1], "s29999");
	dp_config_unref(config);
	free(text);
	text = build_text("{\"resources\": [{\"kind\": \"pci\", \"resourceName\": "
			  "\"example.com/x\", \"selectors\": {\"vendorDevice\": [",
			  "\"8086:#\"", true, "]}}]}", 0x8000);
	assert_int_equal(parse_counted(text, 0x8000, 1, &config, err, sizeof(err)), 0);
	assert_int_equal(config->specs[0].sel.n_ids, 0x8000);
	dp_config_unref(config);
	free(text);
}

/* 30 000 resources with explicit names and a repeat of the last one. */
static void test_many_resources(void **state)
{
	struct hostdev_dp_config *config = NULL;
	char err[512], *text;

	(void)state;
	text = build("{\"resources\": [",
		     "{\"kind\": \"usb\", \"resourceName\": \"example.com/r#\", \"selectors\": "
		     "{\"serial\": [\"a\"]}}",
		     ", {\"kind\": \"usb\", \"resourceName\": \"example.com/r29999\", "
		     "\"selectors\": {\"serial\": [\"b\"]}}]}",
		     N);
	assert_int_equal(parse_counted(text, N, N + 1, &config, err, sizeof(err)), -EINVAL);
	assert_string_equal(
	    err, "resources[30000] \"example.com/r29999\": resourceName is also the "
		 "name of resources[29999]; a resource is served by one entry: merge the "
		 "selectors into one entry or rename one of them");
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_many_keys),
	    cmocka_unit_test(test_long_lists),
	    cmocka_unit_test(test_many_resources),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
