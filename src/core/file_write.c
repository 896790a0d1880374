/* SPDX-License-Identifier: Apache-2.0 */
/* Whole writes to regular files (journal and state files, DRA's CDI and metadata files). */
#include <errno.h>
#include <unistd.h>

#include "core.h"

int write_all(int fd, const void *data, size_t length)
{
	const char *p = data;

	while (length > 0) {
		ssize_t n = write(fd, p, length);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		length -= (size_t)n;
	}
	return 0;
}
