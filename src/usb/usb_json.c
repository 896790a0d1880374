/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON serialisation of a USB device in the stable schema of docs/json-schema.md ("USB device
 * object"). Only public getters are used, so the JSON shows what a C caller sees. Key names and
 * types are an interface: fields may be added, never renamed, retyped or removed.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/core.h"

/* A byte value 0..255 as "%02x", or null for -1 (unknown). */
static void add_byte_or_null(struct json_builder *b, cJSON *object, const char *key, int value)
{
	if (value < 0)
		json_attach(b, object, key, cJSON_CreateNull());
	else
		json_add_hex(b, object, key, (unsigned int)value, 2);
}

static void add_speed(struct json_builder *b, cJSON *root, hostdev_usb_device *dev)
{
	const char *speed = hostdev_usb_device_get_speed(dev);
	char *end;
	double mbps = speed ? strtod(speed, &end) : 0;

	json_add_string(b, root, "speed", speed);
	if (speed && end != speed)
		json_attach(b, root, "speed_mbps", cJSON_CreateNumber(mbps));
	else
		json_attach(b, root, "speed_mbps", cJSON_CreateNull());
}

static void add_interfaces(struct json_builder *b, cJSON *root, hostdev_usb_device *dev)
{
	cJSON *array = cJSON_CreateArray(), *intf;
	size_t count = hostdev_usb_device_get_interface_count(dev);

	json_attach(b, root, "interfaces", array);
	for (size_t i = 0; !b->oom && i < count; i++) {
		intf = cJSON_CreateObject();
		if (!intf || !cJSON_AddItemToArray(array, intf)) {
			cJSON_Delete(intf);
			b->oom = true;
			break;
		}
		json_add_string(b, intf, "name", hostdev_usb_device_get_interface_name(dev, i));
		json_add_int(b, intf, "number", hostdev_usb_device_get_interface_number(dev, i));
		add_byte_or_null(b, intf, "class", hostdev_usb_device_get_interface_class(dev, i));
		add_byte_or_null(b, intf, "subclass",
				 hostdev_usb_device_get_interface_subclass(dev, i));
		add_byte_or_null(b, intf, "protocol",
				 hostdev_usb_device_get_interface_protocol(dev, i));
		json_add_string(b, intf, "driver", hostdev_usb_device_get_interface_driver(dev, i));
	}
}

static int add_names(struct json_builder *b, cJSON *root, hostdev_usb_device *dev)
{
	cJSON *names = cJSON_CreateObject();
	const char *object_name = hostdev_usb_device_get_object_name(dev);
	const char *resource = hostdev_usb_device_get_resource_name(dev);
	char env[HOSTDEV_NAME_MAX];
	int r;

	json_attach(b, root, "names", names);
	if (b->oom)
		return 0;
	if (!object_name || !resource || !hostdev_usb_device_get_port_id(dev) ||
	    !hostdev_usb_device_get_port_resource_name(dev)) {
		b->oom = true;
		return 0;
	}
	json_add_string(b, names, "object_name", object_name);
	json_add_string(b, names, "resource_name", resource);
	r = hostdev_naming_kubevirt_env("USB_RESOURCE", resource, env, sizeof(env));
	if (r < 0)
		return r;
	json_add_string(b, names, "kubevirt_env", env);
	json_add_string(b, names, "port_id", hostdev_usb_device_get_port_id(dev));
	json_add_string(b, names, "port_resource_name",
			hostdev_usb_device_get_port_resource_name(dev));
	json_add_string(b, names, "serial_id", hostdev_usb_device_get_serial_id(dev));
	json_add_string(b, names, "serial_resource_name",
			hostdev_usb_device_get_serial_resource_name(dev));
	return 0;
}

HOSTDEV_EXPORT int hostdev_usb_device_to_json(hostdev_usb_device *dev, unsigned int flags,
					      char **out)
{
	struct json_builder b = {.oom = false};
	hostdev_ctx *ctx;
	cJSON *root;
	int r;

	if (!dev || !out)
		return -EINVAL;
	ctx = hostdev_usb_device_get_ctx(dev);
	CHECK_FLAGS(ctx, flags, HOSTDEV_JSON_PRETTY, "USB device %s: unknown JSON",
		    hostdev_usb_device_get_name(dev));
	root = cJSON_CreateObject();
	if (!root)
		goto oom;
	json_add_string(&b, root, "name", hostdev_usb_device_get_name(dev));
	json_add_string(&b, root, "port_path", hostdev_usb_device_get_port_path(dev));
	json_add_int(&b, root, "busnum", hostdev_usb_device_get_busnum(dev));
	json_add_int(&b, root, "devnum", hostdev_usb_device_get_devnum(dev));
	json_add_hex(&b, root, "vendor_id", hostdev_usb_device_get_vendor_id(dev), 4);
	json_add_hex(&b, root, "product_id", hostdev_usb_device_get_product_id(dev), 4);
	json_add_hex(&b, root, "bcd_device", hostdev_usb_device_get_bcd_device(dev), 4);
	json_add_hex(&b, root, "device_class", hostdev_usb_device_get_device_class(dev), 2);
	json_add_hex(&b, root, "class", hostdev_usb_device_get_class(dev), 2);
	json_add_string(&b, root, "class_name", hostdev_usb_device_get_class_name(dev));
	json_add_string(&b, root, "vendor_name", hostdev_usb_device_get_vendor_name(dev));
	json_add_string(&b, root, "product_name", hostdev_usb_device_get_product_name(dev));
	json_add_string(&b, root, "manufacturer", hostdev_usb_device_get_manufacturer(dev));
	json_add_string(&b, root, "product", hostdev_usb_device_get_product(dev));
	json_add_string(&b, root, "serial", hostdev_usb_device_get_serial(dev));
	add_speed(&b, root, dev);
	json_add_string(&b, root, "devnode", hostdev_usb_device_get_devnode(dev));
	json_add_string(&b, root, "controller_address",
			hostdev_usb_device_get_controller_address(dev));
	json_add_string(&b, root, "driver", hostdev_usb_device_get_driver(dev));
	json_add_bool(&b, root, "is_hub", hostdev_usb_device_is_hub(dev));
	json_add_bool(&b, root, "is_root_hub", hostdev_usb_device_is_root_hub(dev));
	add_interfaces(&b, root, dev);
	r = add_names(&b, root, dev);
	if (r < 0) {
		cJSON_Delete(root);
		return hostdev_error(ctx, r,
				     "USB device %s: cannot compute the KubeVirt variable "
				     "name: %s",
				     hostdev_usb_device_get_name(dev), strerror(-r));
	}
	if (b.oom) {
		cJSON_Delete(root);
		goto oom;
	}
	if (json_print_and_delete(root, flags & HOSTDEV_JSON_PRETTY, out) < 0)
		goto oom;
	return 0;
oom:
	return hostdev_error(ctx, -ENOMEM, "USB device %s: out of memory while building JSON",
			     hostdev_usb_device_get_name(dev));
}
