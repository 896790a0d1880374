/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `hostdev list --usb`: one line (or one JSON object) per USB device, with lsusb-style id filters
 * and the serial and port filters that tell identical devices apart. cmd_list.c hands its whole
 * command line over when it sees --usb.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum {
	OPT_JSON = 0x200,
	OPT_USB,
	OPT_SERIAL,
	OPT_PORT,
	OPT_HUBS,
	OPT_USB_IDS,
};

/* @s with bytes outside printable ASCII as \xNN, so that a hostile descriptor cannot garble the
 * terminal or the line structure. */
void cli_print_escaped(FILE *out, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p >= 0x20 && *p < 0x7f && *p != '\\')
			fputc(*p, out);
		else
			fprintf(out, "\\x%02x", *p);
	}
}

void cli_print_usb_line(FILE *out, hostdev_usb_device *dev)
{
	const char *vendor = hostdev_usb_device_get_vendor_name(dev);
	const char *product = hostdev_usb_device_get_product_name(dev);
	const char *class_name = hostdev_usb_device_get_class_name(dev);
	const char *speed = hostdev_usb_device_get_speed(dev);
	const char *serial = hostdev_usb_device_get_serial(dev);
	size_t count = hostdev_usb_device_get_interface_count(dev);
	bool any = false;

	/* Like lsusb: database names, else the device's own strings. */
	if (!vendor)
		vendor = hostdev_usb_device_get_manufacturer(dev);
	if (!product)
		product = hostdev_usb_device_get_product(dev);
	fprintf(out, "%s Bus %03u Device %03u: ID %04x:%04x ",
		hostdev_usb_device_get_port_path(dev), hostdev_usb_device_get_busnum(dev),
		hostdev_usb_device_get_devnum(dev), hostdev_usb_device_get_vendor_id(dev),
		hostdev_usb_device_get_product_id(dev));
	cli_print_escaped(out, vendor ? vendor : "Device");
	if (product) {
		fputc(' ', out);
		cli_print_escaped(out, product);
	}
	fprintf(out, " class=%02x", hostdev_usb_device_get_class(dev));
	if (class_name) {
		fputs(" (", out);
		cli_print_escaped(out, class_name);
		fputc(')', out);
	}
	fprintf(out, " speed=%s%s", speed ? speed : "unknown", speed ? "M" : "");
	fputs(" drivers=", out);
	for (size_t i = 0; i < count; i++) {
		const char *driver = hostdev_usb_device_get_interface_driver(dev, i);

		if (driver) {
			fprintf(out, "%s%s", any ? "," : "", driver);
			any = true;
		}
	}
	if (!any)
		fputs("none", out);
	fputs(" serial=", out);
	if (serial)
		cli_print_escaped(out, serial);
	else
		fputs("none", out);
	fprintf(out, " port_id=%s", hostdev_usb_device_get_port_id(dev));
}

cJSON *cli_usb_device_json(struct cli *cli, hostdev_usb_device *dev)
{
	char *text = NULL;
	cJSON *json;
	int r;

	r = hostdev_usb_device_to_json(dev, 0, &text);
	if (r < 0) {
		cli_lib_error(cli, r, NULL);
		return NULL;
	}
	json = cJSON_Parse(text);
	hostdev_free(text);
	if (!json)
		cli_error("USB device %s: the library produced JSON that does not parse",
			  hostdev_usb_device_get_name(dev));
	return json;
}

static int list(struct cli *cli, hostdev_usb_enum *e, bool json)
{
	hostdev_usb_device *dev;
	cJSON *doc = NULL, *devices = NULL, *item;
	int code = CLI_EXIT_OK, r;

	if (json) {
		doc = cli_json_document();
		devices = doc ? cJSON_AddArrayToObject(doc, "usb_devices") : NULL;
		if (!devices) {
			cJSON_Delete(doc);
			cli_error("out of memory");
			return CLI_EXIT_FAILURE;
		}
	}
	while ((r = hostdev_usb_enum_next(e, &dev)) > 0) {
		if (!json) {
			cli_print_usb_line(stdout, dev);
			fputc('\n', stdout);
			hostdev_usb_device_unref(dev);
			continue;
		}
		item = cli_usb_device_json(cli, dev);
		hostdev_usb_device_unref(dev);
		if (!item) {
			code = CLI_EXIT_FAILURE;
			break;
		}
		cJSON_AddItemToArray(devices, item);
	}
	if (r < 0)
		code = cli_lib_error(cli, r, "cannot list USB devices");
	if (json && code == CLI_EXIT_OK)
		code = cli_json_print(doc);
	cJSON_Delete(doc);
	return code;
}

struct usb_filter {
	int (*add)(hostdev_usb_enum *e, const char *spec);
	const char *option;
	const char *spec;
};

int cli_list_usb(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"usb", no_argument, NULL, OPT_USB},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"device", required_argument, NULL, 'd'},
	    {"serial", required_argument, NULL, OPT_SERIAL},
	    {"port", required_argument, NULL, OPT_PORT},
	    {"hubs", no_argument, NULL, OPT_HUBS},
	    {"usb-ids", required_argument, NULL, OPT_USB_IDS},
	    CLI_GLOBAL_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	hostdev_usb_enum *e = NULL;
	struct usb_filter *filters;
	const char *usb_ids = NULL;
	size_t count = 0;
	bool json = false, hubs = false;
	int c, code, r;

	filters = calloc((size_t)argc, sizeof(*filters));
	if (!filters) {
		cli_error("out of memory");
		return CLI_EXIT_FAILURE;
	}
	while ((c = cli_getopt(cli, argc, argv, ":d:" CLI_GLOBAL_SHORT_OPTIONS, options)) >= 0) {
		switch (c) {
		case OPT_USB:
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_HUBS:
			hubs = true;
			break;
		case OPT_USB_IDS:
			usb_ids = optarg;
			break;
		case 'd':
			filters[count++] =
			    (struct usb_filter){hostdev_usb_enum_add_id_filter, "-d", optarg};
			break;
		case OPT_SERIAL:
			filters[count++] = (struct usb_filter){hostdev_usb_enum_add_serial_filter,
							       "--serial", optarg};
			break;
		case OPT_PORT:
			filters[count++] =
			    (struct usb_filter){hostdev_usb_enum_add_port_filter, "--port", optarg};
			break;
		default:
			code = cli_usage_error(cli, "option not valid with --usb");
			goto out;
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
	if (usb_ids && usb_ids[0] != '/') {
		code = cli_usage_error(cli, "--usb-ids '%s': give an absolute path", usb_ids);
		goto out;
	}
	if (usb_ids && (r = hostdev_ctx_set_path(cli->ctx, HOSTDEV_PATH_USB_IDS, usb_ids)) < 0) {
		code = cli_lib_error(cli, r, "--usb-ids");
		goto out;
	}
	r = hostdev_usb_enum_new(cli->ctx, hubs ? HOSTDEV_USB_ENUM_HUBS : 0, &e);
	if (r < 0) {
		code = cli_lib_error(cli, r, "cannot list USB devices");
		goto out;
	}
	for (size_t i = 0; i < count; i++) {
		r = filters[i].add(e, filters[i].spec);
		if (r == -EINVAL) {
			code = cli_usage_error(cli, "%s: %s", filters[i].option,
					       hostdev_ctx_get_error(cli->ctx));
			goto out;
		}
		if (r < 0) {
			code = cli_lib_error(cli, r, filters[i].option);
			goto out;
		}
	}
	code = list(cli, e, json);
out:
	hostdev_usb_enum_unref(e);
	free(filters);
	return code;
}
