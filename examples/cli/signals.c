/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SIGINT and SIGTERM made readable on a pipe for the long-running commands (watch, serve): the
 * handler only writes a byte, the command polls the read end next to its other fds, so a stop
 * ends the wait cleanly and never interrupts a write half way. A signalfd would miss signals
 * delivered to other threads (those of a preloaded library, or the device-plugin loop's own).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* Write end of the pipe, for the handler; one set of handlers at a time. */
static int signal_pipe = -1;

static void on_signal(int sig)
{
	int saved = errno;
	char c = (char)sig;

	if (write(signal_pipe, &c, 1) < 0) {
		/* the pipe is full: a stop is already pending */
	}
	errno = saved;
}

int cli_signals_open(struct cli_signals *s)
{
	struct sigaction sa;

	if (pipe2(s->fds, O_CLOEXEC | O_NONBLOCK) < 0) {
		s->fds[0] = s->fds[1] = -1;
		cli_error("pipe: %s", strerror(errno));
		return CLI_EXIT_FAILURE;
	}
	signal_pipe = s->fds[1];
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGINT, &sa, &s->old_int);
	sigaction(SIGTERM, &sa, &s->old_term);
	return CLI_EXIT_OK;
}

void cli_signals_close(struct cli_signals *s)
{
	if (s->fds[0] < 0)
		return;
	sigaction(SIGINT, &s->old_int, NULL);
	sigaction(SIGTERM, &s->old_term, NULL);
	signal_pipe = -1;
	close(s->fds[0]);
	close(s->fds[1]);
	s->fds[0] = s->fds[1] = -1;
}
