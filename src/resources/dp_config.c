/* SPDX-License-Identifier: Apache-2.0 */
/* The public face of the resource selection config: parse, load, free (deviceplugin.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dp_config.h"
#include "core/core.h"

HOSTDEV_EXPORT int hostdev_dp_config_parse(hostdev_ctx *ctx, const char *json,
					   hostdev_dp_config **out)
{
	char err[HOSTDEV_ERROR_MAX];
	int r;

	if (!ctx)
		return -EINVAL;
	if (!json || !out)
		return hostdev_error(ctx, -EINVAL, "hostdev_dp_config_parse: no config text given");
	r = dp_config_parse_text(json, out, err, sizeof(err));
	if (r < 0)
		return hostdev_error(ctx, r, "%s", err);
	return 0;
}

/* Read all of @fd into a string; -EFBIG beyond DP_CONFIG_MAX_SIZE bytes. */
static int read_all(int fd, char **out)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (len + 1 >= cap) {
			char *grown;

			grown = realloc(buf, cap * 2);
			if (!grown) {
				free(buf);
				return -ENOMEM;
			}
			buf = grown;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			n = -errno;
			free(buf);
			return (int)n;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > DP_CONFIG_MAX_SIZE) {
			free(buf);
			return -EFBIG;
		}
	}
	buf[len] = '\0';
	if (strlen(buf) != len) {
		free(buf);
		return -EILSEQ;
	}
	*out = buf;
	return 0;
}

HOSTDEV_EXPORT int hostdev_dp_config_load(hostdev_ctx *ctx, const char *path,
					  hostdev_dp_config **out)
{
	char err[HOSTDEV_ERROR_MAX];
	char *text = NULL;
	struct stat st;
	int fd, r;

	if (!ctx)
		return -EINVAL;
	if (!path || !*path || !out)
		return hostdev_error(ctx, -EINVAL, "hostdev_dp_config_load: no config file given");
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		return hostdev_error(ctx, r, "cannot open the device-plugin config %s: %s%s", path,
				     strerror(-r),
				     r == -ENOENT   ? " (give the path of an existing file)"
				     : r == -EACCES ? " (run with permission to read it)"
						    : "");
	}
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		return hostdev_error(ctx, -EISDIR,
				     "the device-plugin config %s is a directory; give the JSON "
				     "file",
				     path);
	}
	r = read_all(fd, &text);
	close(fd);
	if (r == -EFBIG)
		return hostdev_error(ctx, r,
				     "the device-plugin config %s is larger than %u bytes; it "
				     "cannot be a resource list",
				     path, DP_CONFIG_MAX_SIZE);
	if (r == -EILSEQ)
		return hostdev_error(ctx, -EINVAL,
				     "the device-plugin config %s contains a NUL byte; it must be "
				     "JSON text",
				     path);
	if (r < 0)
		return hostdev_error(ctx, r, "cannot read the device-plugin config %s: %s", path,
				     strerror(-r));
	r = dp_config_parse_text(text, out, err, sizeof(err));
	free(text);
	if (r < 0)
		return hostdev_error(ctx, r, "%s: %s", path, err);
	return 0;
}

HOSTDEV_EXPORT hostdev_dp_config *hostdev_dp_config_ref(hostdev_dp_config *config)
{
	return dp_config_ref(config);
}

HOSTDEV_EXPORT hostdev_dp_config *hostdev_dp_config_unref(hostdev_dp_config *config)
{
	dp_config_unref(config);
	return NULL;
}

/* The name of HOSTDEV_1, kept: the ABI is add-only. */
HOSTDEV_EXPORT hostdev_dp_config *hostdev_dp_config_free(hostdev_dp_config *config)
{
	return hostdev_dp_config_unref(config);
}

static const struct dp_spec *entry(const hostdev_dp_config *config, size_t i)
{
	return config && i < config->n_specs ? &config->specs[i] : NULL;
}

HOSTDEV_DEFINE_CONST_GETTER(size_t, hostdev_dp_config, get_count, n_specs, 0)

HOSTDEV_EXPORT int hostdev_dp_config_get_kind(const hostdev_dp_config *config, size_t i)
{
	const struct dp_spec *spec = entry(config, i);

	return spec ? (int)spec->kind : -1;
}

/* The public values are the parsed ones. */
_Static_assert((int)HOSTDEV_DP_NAMING_EXPLICIT == (int)DP_NAMING_EXPLICIT &&
		   (int)HOSTDEV_DP_NAMING_HARVESTER == (int)DP_NAMING_HARVESTER &&
		   (int)HOSTDEV_DP_NAMING_PER_DEVICE == (int)DP_NAMING_PER_DEVICE,
	       "enum hostdev_dp_naming follows enum dp_naming");

HOSTDEV_EXPORT int hostdev_dp_config_get_naming(const hostdev_dp_config *config, size_t i)
{
	const struct dp_spec *spec = entry(config, i);

	return spec ? (int)spec->naming : -1;
}

HOSTDEV_EXPORT const char *hostdev_dp_config_get_sriov_env_prefix(const hostdev_dp_config *config,
								  size_t i)
{
	const struct dp_spec *spec = entry(config, i);

	return spec && spec->kind == HOSTDEV_DP_KIND_PCI ? spec->sriov_prefix : NULL;
}
