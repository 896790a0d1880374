/* SPDX-License-Identifier: Apache-2.0 */
/* The one string hash of the library (core.h says where it is used and why it must never change).
 */
#include <stdint.h>

#include "core.h"

uint64_t fnv1a64(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ull;
	}
	return h;
}
