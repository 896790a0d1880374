/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The resource name Harvester gives an NVIDIA vGPU type (pcidevices, pkg/util/common:
 * GeneratevGPUDeviceName): Harvester patches it onto the VF's PCIDevice and serves the VF under
 * it, so a VM written for Harvester asks for "nvidia.com/NVIDIA_A2-4Q". Step by step as there:
 * strings.TrimSpace, "/" -> "_", "." -> "_", every run of whitespace (\s+) -> "_", "nvidia.com/"
 * in front. (Its last step, a regexp meant to drop other characters, is written so that it never
 * matches: nothing else is dropped, and a name the kubelet would refuse is -EINVAL here.)
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "hostdev/naming.h"
#include "naming.h"

/* Go's regexp \s: [\t\n\f\r ]. */
static bool is_go_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

/* strings.TrimSpace also trims \v (unicode.IsSpace); ASCII is all type names hold. */
static bool is_trim_space(char c)
{
	return is_go_space(c) || c == '\v';
}

HOSTDEV_EXPORT int hostdev_naming_vgpu_resource(const char *type_name, char *buf, size_t size)
{
	static const char prefix[] = "nvidia.com/";
	const char *s, *e;
	size_t len = sizeof(prefix) - 1;

	if (!type_name || !buf)
		return -EINVAL;
	s = type_name;
	e = s + strlen(s);
	while (s < e && is_trim_space(*s))
		s++;
	while (e > s && is_trim_space(e[-1]))
		e--;
	if (size <= len)
		return -ENOSPC;
	memcpy(buf, prefix, len);
	for (const char *p = s; p < e; p++) {
		char c = *p;

		if (is_go_space(c)) {
			while (p + 1 < e && is_go_space(p[1]))
				p++;
			c = '_';
		} else if (c == '/' || c == '.') {
			c = '_';
		}
		if (len + 1 >= size)
			return -ENOSPC;
		buf[len++] = c;
	}
	buf[len] = '\0';
	return hostdev_naming_check_resource_name(buf) < 0 ? -EINVAL : (int)len;
}
