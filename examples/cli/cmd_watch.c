/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `hostdev watch`: one line (text or JSON) per USB/PCI hot-plug event as it happens, until SIGINT
 * or SIGTERM (or --count events). The library's monitor is driven by poll(2) here, next to the
 * signal pipe of signals.c (a signalfd would miss signals delivered
 * to other threads, e.g. those of a preloaded library), so an interrupted wait ends cleanly.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum {
	OPT_JSON = 0x200,
	OPT_USB,
	OPT_PCI,
	OPT_ENUMERATE,
	OPT_CLASS,
	OPT_COUNT,
	OPT_KERNEL,
};

struct watch {
	struct cli *cli;
	bool json;
	long count, seen;
	int failed;
};

static void print_text(const hostdev_event *ev)
{
	hostdev_usb_device *usb = hostdev_event_get_usb_device(ev);
	hostdev_pci_device *pci = hostdev_event_get_pci_device(ev);

	printf("%s %s ", hostdev_event_get_action_name(ev), hostdev_event_get_subsystem(ev));
	if (usb) {
		cli_print_usb_line(stdout, usb);
	} else {
		const char *driver = hostdev_pci_device_get_driver(pci);

		cli_print_lspci_line(stdout, pci);
		printf(" driver=%s", driver ? driver : "none");
	}
	if (hostdev_event_get_interface(ev))
		printf(" interface=%s", hostdev_event_get_interface(ev));
	if (hostdev_event_get_driver(ev))
		printf(" event_driver=%s", hostdev_event_get_driver(ev));
	if (hostdev_event_is_replay(ev))
		fputs(" replay", stdout);
	if (hostdev_event_is_partial(ev))
		fputs(" partial", stdout);
	fputc('\n', stdout);
}

static int print_json(struct watch *w, const hostdev_event *ev)
{
	hostdev_usb_device *usb = hostdev_event_get_usb_device(ev);
	cJSON *doc = cli_json_document(), *device;
	char *text;

	if (!doc)
		return -ENOMEM;
	device = usb ? cli_usb_device_json(w->cli, usb)
		     : cli_device_json(w->cli, hostdev_event_get_pci_device(ev));
	if (!device || !cJSON_AddStringToObject(doc, "action", hostdev_event_get_action_name(ev)) ||
	    !cJSON_AddStringToObject(doc, "subsystem", hostdev_event_get_subsystem(ev)) ||
	    !cJSON_AddStringToObject(doc, "name", hostdev_event_get_name(ev)) ||
	    !cli_json_add_string(doc, "interface", hostdev_event_get_interface(ev)) ||
	    !cli_json_add_string(doc, "driver", hostdev_event_get_driver(ev)) ||
	    !cJSON_AddNumberToObject(doc, "seqnum", (double)hostdev_event_get_seqnum(ev)) ||
	    !cJSON_AddBoolToObject(doc, "replay", hostdev_event_is_replay(ev)) ||
	    !cJSON_AddBoolToObject(doc, "partial", hostdev_event_is_partial(ev))) {
		cJSON_Delete(device);
		cJSON_Delete(doc);
		return -ENOMEM;
	}
	cJSON_AddItemToObject(doc, "device", device);
	/* One compact document per line (JSON Lines), so that readers can split on newlines. */
	text = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	if (!text)
		return -ENOMEM;
	puts(text);
	cJSON_free(text);
	return 0;
}

static void on_event(hostdev_monitor *mon, const hostdev_event *ev, void *userdata)
{
	struct watch *w = userdata;

	if (w->failed || (w->count > 0 && w->seen >= w->count))
		return;
	if (w->json) {
		if (print_json(w, ev) < 0) {
			cli_error("out of memory");
			w->failed = 1;
			return;
		}
	} else {
		print_text(ev);
	}
	w->seen++;
	if (ferror(stdout))
		w->failed = 1;
}

static int loop(struct watch *w, hostdev_monitor *mon, int sigfd)
{
	struct pollfd fds[2] = {{.fd = hostdev_monitor_get_fd(mon), .events = POLLIN},
				{.fd = sigfd, .events = POLLIN}};
	int r;

	while (!w->failed && (w->count <= 0 || w->seen < w->count)) {
		r = poll(fds, 2, -1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			cli_error("poll: %s", strerror(errno));
			return CLI_EXIT_FAILURE;
		}
		if (fds[1].revents)
			return CLI_EXIT_OK; /* SIGINT or SIGTERM */
		if (fds[0].revents) {
			r = hostdev_monitor_process(mon);
			if (r < 0)
				return cli_lib_error(w->cli, r, "cannot read hot-plug events");
		}
	}
	if (w->failed) {
		cli_error("write error on standard output");
		return CLI_EXIT_FAILURE;
	}
	return CLI_EXIT_OK;
}

static int run(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"json", no_argument, NULL, OPT_JSON},
	    {"usb", no_argument, NULL, OPT_USB},
	    {"pci", no_argument, NULL, OPT_PCI},
	    {"enumerate", no_argument, NULL, OPT_ENUMERATE},
	    {"device", required_argument, NULL, 'd'},
	    {"class", required_argument, NULL, OPT_CLASS},
	    {"count", required_argument, NULL, OPT_COUNT},
	    {"kernel", no_argument, NULL, OPT_KERNEL},
	    CLI_GLOBAL_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct watch w = {.cli = cli};
	hostdev_monitor *mon = NULL;
	bool usb = false, pci = false;
	unsigned int flags = 0;
	const char **ids, **classes;
	size_t n_ids = 0, n_classes = 0;
	struct cli_signals signals = {.fds = {-1, -1}};
	int c, code, r;
	char *end;

	ids = calloc((size_t)argc, sizeof(*ids));
	classes = calloc((size_t)argc, sizeof(*classes));
	if (!ids || !classes) {
		free(ids);
		free(classes);
		cli_error("out of memory");
		return CLI_EXIT_FAILURE;
	}
	while ((c = cli_getopt(cli, argc, argv, ":d:" CLI_GLOBAL_SHORT_OPTIONS, options)) >= 0) {
		switch (c) {
		case OPT_JSON:
			w.json = true;
			break;
		case OPT_USB:
			usb = true;
			break;
		case OPT_PCI:
			pci = true;
			break;
		case OPT_ENUMERATE:
			flags |= HOSTDEV_MONITOR_ENUMERATE;
			break;
		case OPT_KERNEL:
			flags |= HOSTDEV_MONITOR_SOURCE_KERNEL;
			break;
		case 'd':
			ids[n_ids++] = optarg;
			break;
		case OPT_CLASS:
			classes[n_classes++] = optarg;
			break;
		case OPT_COUNT:
			errno = 0;
			w.count = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || w.count <= 0) {
				code = cli_usage_error(cli, "--count '%s': expected a number >= 1",
						       optarg);
				goto out;
			}
			break;
		}
	}
	if (c != CLI_GETOPT_END) {
		code = cli_getopt_exit_code(c);
		goto out;
	}
	if (optind < argc) {
		code = cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
		goto out;
	}
	code = cli_open_ctx(cli);
	if (code != CLI_EXIT_OK)
		goto out;
	if ((r = hostdev_monitor_new(cli->ctx, &mon)) < 0 ||
	    (usb && (r = hostdev_monitor_add_match_subsystem(mon, "usb")) < 0) ||
	    (pci && (r = hostdev_monitor_add_match_subsystem(mon, "pci")) < 0)) {
		code = cli_lib_error(cli, r, "cannot create the monitor");
		goto out;
	}
	for (size_t i = 0; i < n_ids; i++)
		if (hostdev_monitor_add_match_id(mon, ids[i]) < 0) {
			code = cli_usage_error(cli, "-d: %s", hostdev_ctx_get_error(cli->ctx));
			goto out;
		}
	for (size_t i = 0; i < n_classes; i++)
		if (hostdev_monitor_add_match_class(mon, classes[i]) < 0) {
			code = cli_usage_error(cli, "--class: %s", hostdev_ctx_get_error(cli->ctx));
			goto out;
		}
	code = cli_signals_open(&signals);
	if (code != CLI_EXIT_OK)
		goto out;
	/* One line per event, even when stdout is a pipe (`hostdev watch | jq`). */
	setvbuf(stdout, NULL, _IOLBF, 0);
	hostdev_monitor_set_callback(mon, on_event, &w);
	r = hostdev_monitor_start(mon, flags);
	if (r < 0) {
		code = cli_lib_error(cli, r, "cannot listen to hot-plug events");
		goto out;
	}
	code = loop(&w, mon, signals.fds[0]);
out:
	cli_signals_close(&signals);
	hostdev_monitor_unref(mon);
	free(ids);
	free(classes);
	return code;
}

const struct cli_command cli_cmd_watch = {
    .name = "watch",
    .summary = "Print USB and PCI hot-plug events as they happen, one line each.",
    .synopsis = "[--usb] [--pci] [--json] [--enumerate] [-d VENDOR:PRODUCT] [--class HEX] "
		"[--count N] [--kernel]",
    .help = "Runs until interrupted (SIGINT, SIGTERM) or until --count events were printed.\n"
	    "Each line is \"ACTION SUBSYSTEM DEVICE...\" (ACTION: add, remove, change, bind,\n"
	    "unbind); with --json one JSON document per line. Output is line-buffered.\n"
	    "\n"
	    "Options:\n"
	    "      --usb         USB devices (default: USB and PCI)\n"
	    "      --pci         PCI devices\n"
	    "      --enumerate   first report the devices already present (marked replay)\n"
	    "  -d, --device VENDOR:PRODUCT\n"
	    "                    only devices with these ids (hex, empty = any)\n"
	    "      --class HEX   USB class CC, or PCI class CC, CCSS, CCSSPP\n"
	    "      --count N     exit after N events\n"
	    "      --kernel      read the kernel's uevents even when udevd runs\n"
	    "      --json        {\"schema_version\": 1, \"action\": ..., \"device\": {...}} per "
	    "line\n",
    .run = run,
};
