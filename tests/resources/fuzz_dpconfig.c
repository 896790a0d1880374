/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the resource selection config parser (dp_config_parse.c and
 * dp_config_values.c, with the JSON checks of json_scan.c and the kubelet's name rules): any bytes
 * as the config text must give a config or -EINVAL with a message, never a crash, a leak or
 * undefined behaviour. A config that parses is checked for what the parser promises: explicit
 * names the kubelet accepts, each once, and no selector list that is empty; a USB bundle's
 * members are exact, distinct ids.
 * Built with clang -fsanitize=fuzzer,address,undefined from the parser's sources directly.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "resources/dp_config.h"
#include "naming/naming.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct hostdev_dp_config *config)
{
	if (config->n_specs == 0)
		abort();
	for (size_t i = 0; i < config->n_specs; i++) {
		const struct dp_spec *s = &config->specs[i];

		if (s->naming == DP_NAMING_EXPLICIT && dp_resource_name_problem(s->resource_name))
			abort();
		for (size_t j = 0; j < i; j++)
			if (s->naming == DP_NAMING_EXPLICIT &&
			    config->specs[j].naming == DP_NAMING_EXPLICIT &&
			    strcmp(s->resource_name, config->specs[j].resource_name) == 0)
				abort();
		if (s->sel.n_ids + s->sel.n_classes + s->sel.n_drivers + s->sel.n_addresses +
			s->sel.n_pfs + s->sel.n_serials + s->sel.n_ports + s->sel.n_types +
			s->sel.n_parents + s->sel.n_bundle ==
		    0)
			abort();
		/* A bundle's members are exact ids, each once, with an explicit name. */
		for (size_t a = 0; a < s->sel.n_bundle; a++) {
			if (s->sel.bundle[a].second < 0 || s->naming != DP_NAMING_EXPLICIT ||
			    s->sel.n_ids)
				abort();
			for (size_t b = 0; b < a; b++)
				if (s->sel.bundle[a].first == s->sel.bundle[b].first &&
				    s->sel.bundle[a].second == s->sel.bundle[b].second)
					abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hostdev_dp_config *config = NULL;
	char err[1024];
	char *text = malloc(size + 1);
	int r;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	r = dp_config_parse_text(text, &config, err, sizeof(err));
	if (r == 0) {
		check(config);
		dp_config_unref(config);
	} else if (r != -EINVAL && r != -ENOMEM) {
		abort();
	} else if (r == -EINVAL && !err[0]) {
		abort(); /* every refusal says why */
	}
	free(text);
	return 0;
}
