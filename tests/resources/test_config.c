/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The resource selection config: every error message (resource, key, problem, remedy), loading
 * from files, what the parser makes of valid values, and a thorough set of malformed inputs
 * (every prefix of a valid config, byte mutations, every value replaced by every JSON type,
 * deep nesting, huge values) that must give 0 or -EINVAL with a message and never crash (this
 * test also runs under ASan and UBSan).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "resources/dp_config.h"
#include "fakeroot.h"
#include "hostdev.h"

/* 247 characters: with "requests." more than the 253 of a DNS subdomain. */
#define LABEL_60 "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij"
#define LONG_DOMAIN LABEL_60 "." LABEL_60 "." LABEL_60 "." LABEL_60 ".com"
/* The label of a message shows the first 92 characters of a name. */
#define LONG_DOMAIN_SHOWN LABEL_60 ".abcdefghijabcdefghijabcdefghija"

struct error_case {
	const char *what, *json, *message;
};

static const struct error_case error_cases[] = {
    {"not json", "{",
     "the config is not valid JSON: it ends too early (line 1, column 2); check for a missing "
     "closing bracket or quote"},
    {"not object", "[]", "the config must be a JSON object such as {\"resources\": [...]}"},
    {"unknown top key", "{\"resources\": [], \"extra\": 1}",
     "unknown top-level key \"extra\"; the config has \"resources\" and optionally \"version\": 1"},
    {"bad version", "{\"version\": 2, \"resources\": []}",
     "\"version\" must be 1, the only version of the config format"},
    {"missing resources", "{}",
     "\"resources\" is missing: list the resources to serve, e.g. {\"resources\": [{\"kind\": "
     "\"pci\", \"naming\": \"harvester\", \"selectors\": {\"driver\": [\"vfio-pci\"]}}]}"},
    {"resources not list", "{\"resources\": {}}", "\"resources\" must be a list of resources"},
    {"resources empty", "{\"resources\": []}",
     "\"resources\" is empty: list at least one resource to serve"},
    {"duplicate top key", "{\"resources\": [], \"resources\": []}",
     "key \"resources\" is given twice; keep one"},
    {"resource not object", "{\"resources\": [\"pci\"]}",
     "resources[0]: each resource must be an object such as {\"kind\": \"pci\", \"resourceName\": "
     "\"example.com/nic\", \"selectors\": {\"vendorDevice\": [\"8086:10d3\"]}}"},
    {"unknown resource key",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"example.com/nic\", \"selector\": "
     "{}}]}",
     "resources[0] \"example.com/nic\": unknown key \"selector\"; a resource has kind, "
     "resourceName or naming, selectors, and optionally sriovEnv (pci) or usbIdentity (usb)"},
    {"duplicate resource key",
     "{\"resources\": [{\"kind\": \"pci\", \"kind\": \"usb\", \"resourceName\": "
     "\"example.com/nic\", \"selectors\": {\"driver\": [\"vfio-pci\"]}}]}",
     "resources[0] \"example.com/nic\": key \"kind\" is given twice; keep one"},
    {"missing kind",
     "{\"resources\": [{\"resourceName\": \"example.com/nic\", \"selectors\": {\"driver\": "
     "[\"vfio-pci\"]}}]}",
     "resources[0] \"example.com/nic\": \"kind\" is missing: write \"kind\": \"pci\", \"usb\" or "
     "\"mdev\""},
    {"bad kind",
     "{\"resources\": [{\"kind\": \"gpu\", \"resourceName\": \"example.com/nic\", \"selectors\": "
     "{\"driver\": [\"vfio-pci\"]}}]}",
     "resources[0] \"example.com/nic\": \"kind\" must be \"pci\" (vfio PCI devices), \"usb\" or "
     "\"mdev\" (mediated devices)"},
    {"kind not string",
     "{\"resources\": [{\"kind\": 1, \"resourceName\": \"example.com/nic\", \"selectors\": "
     "{\"driver\": [\"vfio-pci\"]}}]}",
     "resources[0] \"example.com/nic\": \"kind\" must be \"pci\" (vfio PCI devices), \"usb\" or "
     "\"mdev\" (mediated devices)"},
    {"name and naming",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"example.com/nic\", \"naming\": "
     "\"harvester\", \"selectors\": {\"driver\": [\"vfio-pci\"]}}]}",
     "resources[0] \"example.com/nic\": \"resourceName\" and \"naming\" exclude each other: give a "
     "resourceName to pool every match under it, or a naming to let the host's devices name the "
     "resources"},
    {"neither name",
     "{\"resources\": [{\"kind\": \"pci\", \"selectors\": {\"driver\": [\"vfio-pci\"]}}]}",
     "resources[0] (pci): give either \"resourceName\" (e.g. \"example.com/nic\": every matching "
     "device in one resource) or \"naming\": \"harvester\" (one resource per Harvester name) or "
     "\"per-device\""},
    {"bad resource name",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"Example.com/nic\", \"selectors\": "
     "{\"driver\": [\"vfio-pci\"]}}]}",
     "resources[0] \"Example.com/nic\": resourceName is not a resource name the kubelet accepts "
     "(it would refuse every registration): the domain is not a DNS subdomain: lower-case "
     "letters, digits, '-' and '.', each dot-separated part starting and ending with a letter or "
     "digit"},
    {"long resource name",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": "
     "\"example.com/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", "
     "\"selectors\": {\"driver\": [\"vfio-pci\"]}}]}",
     "resources[0] "
     "\"example.com/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\": "
     "resourceName is not a resource name the kubelet accepts (it would refuse every "
     "registration): the name after '/' is longer than 63 characters"},
    {"name no slash",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"nic\", \"selectors\": {\"driver\": "
     "[\"vfio-pci\"]}}]}",
     "resources[0] \"nic\": resourceName is not a resource name the kubelet accepts (it would "
     "refuse every registration): it has no domain: a name without '/' is one of Kubernetes' own "
     "resources; write <domain>/<name>, e.g. example.com/nic"},
    {"name not string",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": 7, \"selectors\": {\"driver\": "
     "[\"vfio-pci\"]}}]}",
     "resources[0] (pci): \"resourceName\" must be a string such as \"example.com/nic\""},
    {"bad naming",
     "{\"resources\": [{\"kind\": \"pci\", \"naming\": \"pooled\", \"selectors\": {\"driver\": "
     "[\"vfio-pci\"]}}]}",
     "resources[0] (pci, naming pooled): \"naming\" must be \"harvester\" (one resource per "
     "Harvester name) or \"per-device\" (one resource per device)"},
    {"missing selectors",
     "{\"resources\": [{\"kind\": \"usb\", \"resourceName\": \"example.com/key\"}]}",
     "resources[0] \"example.com/key\": \"selectors\" is missing: say which usb devices the "
     "resource has (keys: vendorProduct, bundle, serial, port)"},
    {"selectors not object",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"example.com/nic\", \"selectors\": "
     "[\"vfio-pci\"]}]}",
     "resources[0] \"example.com/nic\": \"selectors\" must be an object (keys: vendorDevice, "
     "class, driver, address, pf)"},
    {"empty selectors",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"example.com/nic\", \"selectors\": "
     "{}}]}",
     "resources[0] \"example.com/nic\": \"selectors\" is empty, which would select every pci "
     "device of the host; give at least one of vendorDevice, class, driver, address, pf"},
    {"unknown selector",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"example.com/nic\", \"selectors\": "
     "{\"vendorProduct\": [\"8086:10d3\"]}}]}",
     "resources[0] \"example.com/nic\": unknown selector \"vendorProduct\" for a pci resource; the "
     "pci selectors are vendorDevice, class, driver, address, pf"},
    {"mdev unknown selector",
     "{\"resources\": [{\"kind\": \"mdev\", \"naming\": \"harvester\", \"selectors\": {\"driver\": "
     "[\"nvidia\"]}}]}",
     "resources[0] (mdev, naming harvester): unknown selector \"driver\" for an mdev resource; the "
     "mdev selectors are type, parent"},
    {"duplicate selector",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"example.com/nic\", \"selectors\": "
     "{\"driver\": [\"vfio-pci\"], \"driver\": [\"none\"]}}]}",
     "resources[0] \"example.com/nic\": selectors: key \"driver\" is given twice; keep one"},
    {"selector not list",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"example.com/nic\", \"selectors\": "
     "{\"vendorDevice\": \"8086:10d3\"}}]}",
     "resources[0] \"example.com/nic\": selectors.vendorDevice must be a list of strings, e.g. "
     "\"vendorDevice\": [\"8086:10d3\"]"},
    {"selector empty list",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"example.com/nic\", \"selectors\": "
     "{\"class\": []}}]}",
     "resources[0] \"example.com/nic\": selectors.class is an empty list, which matches nothing; "
     "list at least one value or remove the key"},
    {"item not string",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"example.com/nic\", \"selectors\": "
     "{\"driver\": [1]}}]}",
     "resources[0] \"example.com/nic\": selectors.driver[0] must be a string"},
    {"item empty",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"example.com/nic\", \"selectors\": "
     "{\"driver\": [\"\"]}}]}",
     "resources[0] \"example.com/nic\": selectors.driver[0] is an empty string; remove it or give "
     "a value"},
    {"bad id",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"example.com/nic\", \"selectors\": "
     "{\"vendorDevice\": [\"8086:10d3\", \"8086:10dx\"]}}]}",
     "resources[0] \"example.com/nic\": selectors.vendorDevice[1] \"8086:10dx\" is not a "
     "vendor:device id: write two 4-digit hex ids separated by ':', e.g. \"8086:10d3\" (\"8086:*\" "
     "for every device of the vendor)"},
    {"short id",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"example.com/nic\", \"selectors\": "
     "{\"vendorDevice\": [\"86:10d3\"]}}]}",
     "resources[0] \"example.com/nic\": selectors.vendorDevice[0] \"86:10d3\" is not a "
     "vendor:device id: write two 4-digit hex ids separated by ':', e.g. \"8086:10d3\" (\"8086:*\" "
     "for every device of the vendor)"},
    {"wildcard vendor",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"example.com/nic\", \"selectors\": "
     "{\"vendorDevice\": [\"*:10d3\"]}}]}",
     "resources[0] \"example.com/nic\": selectors.vendorDevice[0] \"*:10d3\" is not a "
     "vendor:device id: write two 4-digit hex ids separated by ':', e.g. \"8086:10d3\" (\"8086:*\" "
     "for every device of the vendor)"},
    {"bad usb id",
     "{\"resources\": [{\"kind\": \"usb\", \"resourceName\": \"example.com/key\", \"selectors\": "
     "{\"vendorProduct\": [\"1050-0407\"]}}]}",
     "resources[0] \"example.com/key\": selectors.vendorProduct[0] \"1050-0407\" is not a "
     "vendor:product id: write two 4-digit hex ids separated by ':', e.g. \"0627:0001\" "
     "(\"0627:*\" for every product of the vendor)"},
    {"bad class",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"example.com/nic\", \"selectors\": "
     "{\"class\": [\"020\"]}}]}",
     "resources[0] \"example.com/nic\": selectors.class[0] \"020\" is not a PCI class: write 2, 4 "
     "or 6 hex digits (class, class+subclass, with programming interface), e.g. \"02\" or "
     "\"0200\""},
    {"bad driver",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"example.com/nic\", \"selectors\": "
     "{\"driver\": [\"vfio pci\"]}}]}",
     "resources[0] \"example.com/nic\": selectors.driver[0] \"vfio pci\" is not a driver name: "
     "write the name of /sys/bus/pci/drivers/<name>, e.g. \"vfio-pci\" (\"none\" for devices "
     "without a driver)"},
    {"bad address",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"example.com/nic\", \"selectors\": "
     "{\"address\": [\"0000:3b:00.8\"]}}]}",
     "resources[0] \"example.com/nic\": selectors.address[0] \"0000:3b:00.8\" is not a PCI "
     "address: expected "
     "DDDD:BB:DD.F in hex (domain, bus, device 00-1f, function 0-7), such as 0000:3b:00.0; the "
     "domain may be left out (3b:00.0 is 0000:3b:00.0)"},
    {"pf not list",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"example.com/vf\", \"selectors\": "
     "{\"pf\": {\"name\": \"ens1f0\"}}}]}",
     "resources[0] \"example.com/vf\": selectors.pf must be a list of PF selectors, e.g. \"pf\": "
     "[{\"name\": \"ens1f0\", \"vfs\": \"#0-3\"}]"},
    {"pf empty",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"example.com/vf\", \"selectors\": "
     "{\"pf\": []}}]}",
     "resources[0] \"example.com/vf\": selectors.pf is an empty list, which matches nothing; list "
     "at least one PF or remove the key"},
    {"pf not object",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"example.com/vf\", \"selectors\": "
     "{\"pf\": [\"ens1f0\"]}}]}",
     "resources[0] \"example.com/vf\": selectors.pf[0] must be an object such as {\"name\": "
     "\"ens1f0\", \"vfs\": \"#0-3\"} or {\"address\": \"0000:3b:00.0\"}"},
    {"pf unknown key",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"example.com/vf\", \"selectors\": "
     "{\"pf\": [{\"name\": \"ens1f0\", \"vf\": \"0-3\"}]}}]}",
     "resources[0] \"example.com/vf\": selectors.pf[0]: unknown key \"vf\"; a PF selector has "
     "\"name\" (interface) or \"address\" (PCI address), and optionally \"vfs\""},
    {"pf both",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"example.com/vf\", \"selectors\": "
     "{\"pf\": [{\"name\": \"ens1f0\", \"address\": \"0000:3b:00.0\"}]}}]}",
     "resources[0] \"example.com/vf\": selectors.pf[0] needs exactly one of \"name\" (the PF's "
     "network interface, e.g. \"ens1f0\") and \"address\" (its PCI address)"},
    {"pf neither",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"example.com/vf\", \"selectors\": "
     "{\"pf\": [{\"vfs\": \"0-3\"}]}}]}",
     "resources[0] \"example.com/vf\": selectors.pf[0] needs exactly one of \"name\" (the PF's "
     "network interface, e.g. \"ens1f0\") and \"address\" (its PCI address)"},
    {"pf bad name",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"example.com/vf\", \"selectors\": "
     "{\"pf\": [{\"name\": \"a/b\"}]}}]}",
     "resources[0] \"example.com/vf\": selectors.pf[0].name must be a network interface name (1-15 "
     "characters without '/', ':' or blanks), e.g. \"ens1f0\""},
    {"pf long name",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"example.com/vf\", \"selectors\": "
     "{\"pf\": [{\"name\": \"ens1f0npf0vf0xyz\"}]}}]}",
     "resources[0] \"example.com/vf\": selectors.pf[0].name must be a network interface name (1-15 "
     "characters without '/', ':' or blanks), e.g. \"ens1f0\""},
    {"pf bad address",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"example.com/vf\", \"selectors\": "
     "{\"pf\": [{\"address\": \"3b:00\"}]}}]}",
     "resources[0] \"example.com/vf\": selectors.pf[0].address \"3b:00\" is not a PCI address: "
     "expected "
     "DDDD:BB:DD.F in hex (domain, bus, device 00-1f, function 0-7), such as 0000:3b:00.0; the "
     "domain may be left out (3b:00.0 is 0000:3b:00.0)"},
    {"pf address not string",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"example.com/vf\", \"selectors\": "
     "{\"pf\": [{\"address\": 59}]}}]}",
     "resources[0] \"example.com/vf\": selectors.pf[0].address must be a string such as "
     "\"0000:3b:00.0\""},
    {"vfs not string",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"example.com/vf\", \"selectors\": "
     "{\"pf\": [{\"name\": \"ens1f0\", \"vfs\": 3}]}}]}",
     "resources[0] \"example.com/vf\": selectors.pf[0].vfs must be a string of VF indexes and "
     "ranges, e.g. \"#0,2-7\""},
    {"vfs descending",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"example.com/vf\", \"selectors\": "
     "{\"pf\": [{\"name\": \"ens1f0\", \"vfs\": \"#7-2\"}]}}]}",
     "resources[0] \"example.com/vf\": selectors.pf[0].vfs \"#7-2\" is not a list of VF indexes: "
     "write decimal indexes and ascending ranges separated by commas, optionally after '#', e.g. "
     "\"#0,2-7\" (omit \"vfs\" for every VF)"},
    {"vfs empty item",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"example.com/vf\", \"selectors\": "
     "{\"pf\": [{\"name\": \"ens1f0\", \"vfs\": \"0,,2\"}]}}]}",
     "resources[0] \"example.com/vf\": selectors.pf[0].vfs \"0,,2\" is not a list of VF indexes: "
     "write decimal indexes and ascending ranges separated by commas, optionally after '#', e.g. "
     "\"#0,2-7\" (omit \"vfs\" for every VF)"},
    {"vfs too big",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"example.com/vf\", \"selectors\": "
     "{\"pf\": [{\"name\": \"ens1f0\", \"vfs\": \"65536\"}]}}]}",
     "resources[0] \"example.com/vf\": selectors.pf[0].vfs \"65536\" is not a list of VF indexes: "
     "write decimal indexes and ascending ranges separated by commas, optionally after '#', e.g. "
     "\"#0,2-7\" (omit \"vfs\" for every VF)"},
    {"vfs space",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"example.com/vf\", \"selectors\": "
     "{\"pf\": [{\"name\": \"ens1f0\", \"vfs\": \"0, 2\"}]}}]}",
     "resources[0] \"example.com/vf\": selectors.pf[0].vfs \"0, 2\" is not a list of VF indexes: "
     "write decimal indexes and ascending ranges separated by commas, optionally after '#', e.g. "
     "\"#0,2-7\" (omit \"vfs\" for every VF)"},
    {"vfs only hash",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"example.com/vf\", \"selectors\": "
     "{\"pf\": [{\"name\": \"ens1f0\", \"vfs\": \"#\"}]}}]}",
     "resources[0] \"example.com/vf\": selectors.pf[0].vfs \"#\" is not a list of VF indexes: "
     "write decimal indexes and ascending ranges separated by commas, optionally after '#', e.g. "
     "\"#0,2-7\" (omit \"vfs\" for every VF)"},
    {"bad port",
     "{\"resources\": [{\"kind\": \"usb\", \"resourceName\": \"example.com/key\", \"selectors\": "
     "{\"port\": [\"1-2:1.0\"]}}]}",
     "resources[0] \"example.com/key\": selectors.port[0] \"1-2:1.0\" is not a USB port path: "
     "write BUS-PORT[.PORT...] as in /sys/bus/usb/devices, e.g. \"1-2.1\", or \"1-2.*\" for every "
     "device below port 1-2"},
    {"port zero",
     "{\"resources\": [{\"kind\": \"usb\", \"resourceName\": \"example.com/key\", \"selectors\": "
     "{\"port\": [\"0-1\"]}}]}",
     "resources[0] \"example.com/key\": selectors.port[0] \"0-1\" is not a USB port path: write "
     "BUS-PORT[.PORT...] as in /sys/bus/usb/devices, e.g. \"1-2.1\", or \"1-2.*\" for every device "
     "below port 1-2"},
    {"bad mdev parent",
     "{\"resources\": [{\"kind\": \"mdev\", \"naming\": \"harvester\", \"selectors\": {\"parent\": "
     "[\"0000:af:00\"]}}]}",
     "resources[0] (mdev, naming harvester): selectors.parent[0] \"0000:af:00\" is not an mdev "
     "parent: write the parent's PCI address (\"0000:af:00.0\") or its device name in "
     "/sys/class/mdev_bus (\"mtty\")"},
    {"sriovEnv on usb",
     "{\"resources\": [{\"kind\": \"usb\", \"resourceName\": \"example.com/key\", \"selectors\": "
     "{\"serial\": [\"42\"]}, \"sriovEnv\": true}]}",
     "resources[0] \"example.com/key\": \"sriovEnv\" is only for pci resources; remove it"},
    {"bad sriovEnv",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"example.com/nic\", \"selectors\": "
     "{\"driver\": [\"vfio-pci\"]}, \"sriovEnv\": \"Intel.com\"}]}",
     "resources[0] \"example.com/nic\": \"sriovEnv\" \"Intel.com\" must be true "
     "(PCIDEVICE_<RESOURCE> from the resource name) or a lower-case DNS domain used as the SR-IOV "
     "resource prefix, e.g. \"intel.com\""},
    {"sriovEnv number",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"example.com/nic\", \"selectors\": "
     "{\"driver\": [\"vfio-pci\"]}, \"sriovEnv\": 1}]}",
     "resources[0] \"example.com/nic\": \"sriovEnv\" must be true (PCIDEVICE_<RESOURCE> from the "
     "resource name) or a lower-case DNS domain used as the SR-IOV resource prefix, e.g. "
     "\"intel.com\""},
    {"usbIdentity on pci",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"example.com/nic\", \"selectors\": "
     "{\"driver\": [\"vfio-pci\"]}, \"usbIdentity\": \"port\"}]}",
     "resources[0] \"example.com/nic\": \"usbIdentity\" is only for usb resources; remove it"},
    {"bad usbIdentity",
     "{\"resources\": [{\"kind\": \"usb\", \"resourceName\": \"example.com/key\", \"selectors\": "
     "{\"serial\": [\"42\"]}, \"usbIdentity\": \"bus\"}]}",
     "resources[0] \"example.com/key\": \"usbIdentity\" must be \"auto\" (the serial when it is "
     "unique, else the port), \"port\" or \"serial\""},
    /* USB bundles: sets of devices under one id (KubeVirt's usb[].selectors). */
    {"bundle empty list",
     "{\"resources\": [{\"kind\": \"usb\", \"resourceName\": \"example.com/desk\", \"selectors\": "
     "{\"bundle\": []}}]}",
     "resources[0] \"example.com/desk\": selectors.bundle is an empty list, which matches "
     "nothing; list at least one value or remove the key"},
    {"bundle not list",
     "{\"resources\": [{\"kind\": \"usb\", \"resourceName\": \"example.com/desk\", \"selectors\": "
     "{\"bundle\": \"046d:c31c\"}}]}",
     "resources[0] \"example.com/desk\": selectors.bundle must be a list of strings, e.g. "
     "\"bundle\": [\"046d:c31c\", \"046d:c077\"]"},
    {"bundle empty selector",
     "{\"resources\": [{\"kind\": \"usb\", \"resourceName\": \"example.com/desk\", \"selectors\": "
     "{\"bundle\": [\"046d:c31c\", \"\"]}}]}",
     "resources[0] \"example.com/desk\": selectors.bundle[1] is an empty string; remove it or "
     "give a value"},
    {"bundle selector not a string",
     "{\"resources\": [{\"kind\": \"usb\", \"resourceName\": \"example.com/desk\", \"selectors\": "
     "{\"bundle\": [\"046d:c31c\", {\"vendor\": \"046d\"}]}}]}",
     "resources[0] \"example.com/desk\": selectors.bundle[1] must be a string"},
    {"bundle selector not vendor:product",
     "{\"resources\": [{\"kind\": \"usb\", \"resourceName\": \"example.com/desk\", \"selectors\": "
     "{\"bundle\": [\"046d:c31c\", \"046d-c077\"]}}]}",
     "resources[0] \"example.com/desk\": selectors.bundle[1] \"046d-c077\" is not a "
     "vendor:product id: each member of a bundle is one exact device id, two 4-digit hex ids "
     "separated by ':', e.g. \"046d:c31c\" (no \"*\": KubeVirt's USB selectors name one "
     "product)"},
    {"bundle wildcard",
     "{\"resources\": [{\"kind\": \"usb\", \"resourceName\": \"example.com/desk\", \"selectors\": "
     "{\"bundle\": [\"046d:*\", \"076b:3021\"]}}]}",
     "resources[0] \"example.com/desk\": selectors.bundle[0] \"046d:*\" is not a "
     "vendor:product id: each member of a bundle is one exact device id, two 4-digit hex ids "
     "separated by ':', e.g. \"046d:c31c\" (no \"*\": KubeVirt's USB selectors name one "
     "product)"},
    {"bundle same device twice",
     "{\"resources\": [{\"kind\": \"usb\", \"resourceName\": \"example.com/desk\", \"selectors\": "
     "{\"bundle\": [\"046d:c31c\", \"076b:3021\", \"046D:C31C\"]}}]}",
     "resources[0] \"example.com/desk\": selectors.bundle[2] \"046D:C31C\" is also "
     "selectors.bundle[0]: one device would be matched by two members of the bundle; list each "
     "vendor:product once"},
    {"bundle with vendorProduct",
     "{\"resources\": [{\"kind\": \"usb\", \"resourceName\": \"example.com/desk\", \"selectors\": "
     "{\"bundle\": [\"046d:c31c\", \"076b:3021\"], \"vendorProduct\": [\"046d:c077\"]}}]}",
     "resources[0] \"example.com/desk\": selectors.bundle and selectors.vendorProduct exclude "
     "each other: a bundle names the vendor:product of each of its members; put single devices "
     "in an entry of their own"},
    {"bundle with naming",
     "{\"resources\": [{\"kind\": \"usb\", \"naming\": \"per-device\", \"selectors\": "
     "{\"bundle\": [\"046d:c31c\", \"076b:3021\"]}}]}",
     "resources[0] (usb, naming per-device): selectors.bundle needs a \"resourceName\" instead of "
     "\"naming\": each set of devices is one device id of that resource, e.g. \"resourceName\": "
     "\"example.com/desk-set\""},
    {"bundle on pci",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"example.com/nic\", \"selectors\": "
     "{\"bundle\": [\"8086:10d3\", \"8086:10d4\"]}}]}",
     "resources[0] \"example.com/nic\": unknown selector \"bundle\" for a pci resource; the pci "
     "selectors are vendorDevice, class, driver, address, pf"},
    {"duplicate names",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"example.com/nic\", \"selectors\": "
     "{\"driver\": [\"vfio-pci\"]}}, {\"kind\": \"usb\", \"naming\": \"per-device\", "
     "\"selectors\": {\"serial\": [\"42\"]}}, {\"kind\": \"usb\", \"resourceName\": "
     "\"example.com/nic\", \"selectors\": {\"serial\": [\"43\"]}}]}",
     "resources[2] \"example.com/nic\": resourceName is also the name of resources[0]; a resource "
     "is served by one entry: merge the selectors into one entry or rename one of them"},
    {"second resource",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"example.com/nic\", \"selectors\": "
     "{\"driver\": [\"vfio-pci\"]}}, {\"kind\": \"usb\", \"naming\": \"per-device\", "
     "\"selectors\": {\"vendorProduct\": [\"1050:zz\"]}}]}",
     "resources[1] (usb, naming per-device): selectors.vendorProduct[0] \"1050:zz\" is not a "
     "vendor:product id: write two 4-digit hex ids separated by ':', e.g. \"0627:0001\" "
     "(\"0627:*\" for every product of the vendor)"},
    {"trailing garbage", "{\"resources\": []} x",
     "the config is not valid JSON: error at line 1, column 19 (near \"urces\": []} x\"); check "
     "commas, quotes and brackets there"},
    {"NUL in a value",
     "{\"resources\": [{\"kind\": \"usb\", \"resourceName\": \"example.com/key\", "
     "\"selectors\": {\"serial\": [\"42\", \"ab\\u0000cd\"]}}]}",
     "the config has \\u0000 (a NUL character) in resources[0].selectors.serial[1]: it would cut "
     "the string short there; remove it"},
    {"NUL in a name",
     "{\"resources\": [{\"kind\": \"usb\", \"resourceName\": \"example.com/key\\u0000x\", "
     "\"selectors\": {\"serial\": [\"42\"]}}]}",
     "the config has \\u0000 (a NUL character) in resources[0].resourceName: it would cut the "
     "string short there; remove it"},
    {"NUL in a key",
     "{\"resources\": [{\"kind\": \"usb\", \"resourceName\": \"example.com/key\", "
     "\"selectors\": {\"serial\\u0000\": [\"42\"]}}]}",
     "the config has \\u0000 (a NUL character) in a key of resources[0].selectors: it would cut "
     "the string short there; remove it"},
    {"NUL in a top-level key", "{\"resources\\u0000\": []}",
     "the config has \\u0000 (a NUL character) in a key of the top-level object: it would cut the "
     "string short there; remove it"},
    {"control chars",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"example.com/nic\\u0001\", "
     "\"selectors\": {\"driver\": [\"vfio-pci\"]}}]}",
     "resources[0] \"example.com/nic?\": resourceName is not a resource name the kubelet accepts "
     "(it would refuse every registration): the name after '/' must start and end with a letter "
     "or digit"},
    {"kubernetes.io",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"kubernetes.io/nic\", "
     "\"selectors\": {\"driver\": [\"vfio-pci\"]}}]}",
     "resources[0] \"kubernetes.io/nic\": resourceName is not a resource name the kubelet accepts "
     "(it would refuse every registration): the kubelet treats every name with "
     "\"kubernetes.io/\" as one of Kubernetes' own resources; use a domain of your own, e.g. "
     "example.com/nic"},
    {"subdomain of kubernetes.io",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"devices.kubernetes.io/nic\", "
     "\"selectors\": {\"driver\": [\"vfio-pci\"]}}]}",
     "resources[0] \"devices.kubernetes.io/nic\": resourceName is not a resource name the kubelet "
     "accepts (it would refuse every registration): the kubelet treats every name with "
     "\"kubernetes.io/\" as one of Kubernetes' own resources; use a domain of your own, e.g. "
     "example.com/nic"},
    {"requests. prefix",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"requests.example.com/nic\", "
     "\"selectors\": {\"driver\": [\"vfio-pci\"]}}]}",
     "resources[0] \"requests.example.com/nic\": resourceName is not a resource name the kubelet "
     "accepts (it would refuse every registration): a name starting with \"requests.\" is how "
     "resource quotas name requests, so the kubelet refuses it; use another domain"},
    {"long domain",
     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"" LONG_DOMAIN "/nic\", "
     "\"selectors\": {\"driver\": [\"vfio-pci\"]}}]}",
     "resources[0] \"" LONG_DOMAIN_SHOWN "...\": resourceName is not a resource name the kubelet "
     "accepts (it would refuse every registration): the domain is longer than 244 characters (the "
     "kubelet checks \"requests.<domain>\", at most 253 characters)"},
};

static void test_errors(void **state)
{
	hostdev_ctx *ctx;

	(void)state;
	assert_int_equal(hostdev_ctx_new(&ctx), 0);
	for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
		const struct error_case *c = &error_cases[i];
		hostdev_dp_config *config = NULL;
		int r = hostdev_dp_config_parse(ctx, c->json, &config);

		if (r != -EINVAL || strcmp(hostdev_ctx_get_error(ctx), c->message) != 0)
			fail_msg("case \"%s\": got %d \"%s\"\nwanted -EINVAL \"%s\"", c->what, r,
				 hostdev_ctx_get_error(ctx), c->message);
		assert_null(config);
	}
	hostdev_ctx_unref(ctx);
}

/* The same messages from the parser the library uses, without a context. */
static void test_errors_internal(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
		struct hostdev_dp_config *config = NULL;
		char err[1024];

		assert_int_equal(
		    dp_config_parse_text(error_cases[i].json, &config, err, sizeof(err)), -EINVAL);
		assert_string_equal(err, error_cases[i].message);
		assert_null(config);
	}
}

static void test_api_errors(void **state)
{
	hostdev_dp_config *config = NULL;
	hostdev_ctx *ctx;

	(void)state;
	assert_int_equal(hostdev_ctx_new(&ctx), 0);
	assert_int_equal(hostdev_dp_config_parse(NULL, "{}", &config), -EINVAL);
	assert_int_equal(hostdev_dp_config_parse(ctx, NULL, &config), -EINVAL);
	assert_string_equal(hostdev_ctx_get_error(ctx),
			    "hostdev_dp_config_parse: no config text given");
	assert_int_equal(hostdev_dp_config_parse(ctx, "{}", NULL), -EINVAL);
	assert_int_equal(hostdev_dp_config_load(NULL, "/x", &config), -EINVAL);
	assert_int_equal(hostdev_dp_config_load(ctx, "", &config), -EINVAL);
	assert_int_equal(hostdev_dp_config_load(ctx, "/x", NULL), -EINVAL);
	assert_null(config);
	assert_null(hostdev_dp_config_free(NULL));
	hostdev_ctx_unref(ctx);
}

/* A backslash followed by "u0000" is no NUL: kept as written. */
static void test_nul_lookalike(void **state)
{
	struct hostdev_dp_config *config = NULL;
	char err[512];

	(void)state;
	assert_int_equal(dp_config_parse_text("{\"resources\": [{\"kind\": \"usb\", "
					      "\"resourceName\": \"example.com/key\", "
					      "\"selectors\": {\"serial\": [\"a\\\\u0000\"]}}]}",
					      &config, err, sizeof(err)),
			 0);
	assert_int_equal(config->specs[0].sel.n_serials, 1);
	assert_string_equal(config->specs[0].sel.serials[0], "a\\u0000");
	dp_config_unref(config);
}

/* What the parser makes of valid values (the internal structure). */
static void test_values(void **state)
{
	static const char json[] =
	    "{\"version\": 1, \"resources\": ["
	    "{\"kind\": \"pci\", \"resourceName\": \"example.com/vf\", \"sriovEnv\": \"intel.com\","
	    " \"selectors\": {\"vendorDevice\": [\"8086:154C\", \"10de:*\"], \"class\": [\"02\", "
	    "\"030000\", \"0C03\"], \"driver\": [\"vfio-pci\", \"none\"], \"address\": "
	    "[\"3b:02.1\", "
	    "\"0000:AF:00.0\"], \"pf\": [{\"name\": \"ens1f0\", \"vfs\": \"#0,2-7\"}, "
	    "{\"address\": "
	    "\"86:00.0\", \"vfs\": \"5\"}, {\"name\": \"p1\"}]}},"
	    "{\"kind\": \"usb\", \"naming\": \"per-device\", \"usbIdentity\": \"port\", "
	    "\"selectors\": "
	    "{\"vendorProduct\": [\"1050:0407\"], \"serial\": [\"a b\"], \"port\": [\"1-2.1\", "
	    "\"3-1.*\"]}},"
	    "{\"kind\": \"mdev\", \"naming\": \"harvester\", \"selectors\": {\"type\": [\"GRID "
	    "T4-1Q\"], \"parent\": [\"AF:00.0\", \"mtty\"]}},"
	    "{\"kind\": \"pci\", \"naming\": \"harvester\", \"sriovEnv\": true, \"selectors\": "
	    "{\"driver\": [\"vfio-pci\"]}},"
	    "{\"kind\": \"usb\", \"resourceName\": \"example.com/s\", \"usbIdentity\": \"serial\", "
	    "\"selectors\": {\"serial\": [\"42\"]}},"
	    "{\"kind\": \"pci\", \"resourceName\": \"example.com/n\", \"sriovEnv\": false, "
	    "\"selectors\": {\"driver\": [\"none\"]}}"
	    "]}";
	struct hostdev_dp_config *c = NULL;
	const struct dp_selectors *s;
	char err[1024];

	(void)state;
	assert_int_equal(dp_config_parse_text(json, &c, err, sizeof(err)), 0);
	assert_int_equal(c->n_specs, 6);
	assert_int_equal(c->refcount, 1);

	assert_int_equal(c->specs[0].index, 0);
	assert_int_equal(c->specs[0].kind, HOSTDEV_DP_KIND_PCI);
	assert_int_equal(c->specs[0].naming, DP_NAMING_EXPLICIT);
	assert_string_equal(c->specs[0].resource_name, "example.com/vf");
	assert_string_equal(c->specs[0].sriov_prefix, "intel.com");
	s = &c->specs[0].sel;
	assert_int_equal(s->n_ids, 2);
	assert_int_equal(s->ids[0].first, 0x8086);
	assert_int_equal(s->ids[0].second, 0x154c);
	assert_int_equal(s->ids[1].first, 0x10de);
	assert_int_equal(s->ids[1].second, -1);
	assert_int_equal(s->n_classes, 3);
	assert_string_equal(s->classes[0], "02");
	assert_string_equal(s->classes[1], "030000");
	assert_string_equal(s->classes[2], "0c03");
	assert_int_equal(s->n_drivers, 2);
	assert_string_equal(s->drivers[1], "none");
	assert_int_equal(s->n_addresses, 2);
	assert_string_equal(s->addresses[0], "0000:3b:02.1");
	assert_string_equal(s->addresses[1], "0000:af:00.0");
	assert_int_equal(s->n_pfs, 3);
	assert_string_equal(s->pfs[0].name, "ens1f0");
	assert_null(s->pfs[0].address);
	assert_int_equal(s->pfs[0].n_ranges, 2);
	assert_int_equal(s->pfs[0].ranges[0].first, 0);
	assert_int_equal(s->pfs[0].ranges[0].last, 0);
	assert_int_equal(s->pfs[0].ranges[1].first, 2);
	assert_int_equal(s->pfs[0].ranges[1].last, 7);
	assert_true(dp_vf_in_ranges(s->pfs[0].ranges, s->pfs[0].n_ranges, 0));
	assert_false(dp_vf_in_ranges(s->pfs[0].ranges, s->pfs[0].n_ranges, 1));
	assert_true(dp_vf_in_ranges(s->pfs[0].ranges, s->pfs[0].n_ranges, 7));
	assert_false(dp_vf_in_ranges(s->pfs[0].ranges, s->pfs[0].n_ranges, 8));
	assert_string_equal(s->pfs[1].address, "0000:86:00.0");
	assert_int_equal(s->pfs[1].n_ranges, 1);
	assert_int_equal(s->pfs[2].n_ranges, 0);
	assert_true(dp_vf_in_ranges(s->pfs[2].ranges, s->pfs[2].n_ranges, 63));

	assert_int_equal(c->specs[1].kind, HOSTDEV_DP_KIND_USB);
	assert_int_equal(c->specs[1].naming, DP_NAMING_PER_DEVICE);
	assert_null(c->specs[1].resource_name);
	assert_int_equal(c->specs[1].usb_identity, DP_USB_ID_PORT);
	s = &c->specs[1].sel;
	assert_int_equal(s->n_ids, 1);
	assert_int_equal(s->ids[0].second, 0x0407);
	assert_string_equal(s->serials[0], "a b");
	assert_string_equal(s->ports[1], "3-1.*");

	assert_int_equal(c->specs[2].kind, HOSTDEV_DP_KIND_MDEV);
	assert_int_equal(c->specs[2].naming, DP_NAMING_HARVESTER);
	assert_string_equal(c->specs[2].sel.types[0], "GRID T4-1Q");
	assert_string_equal(c->specs[2].sel.parents[0], "0000:af:00.0");
	assert_string_equal(c->specs[2].sel.parents[1], "mtty");

	assert_string_equal(c->specs[3].sriov_prefix, "");
	assert_int_equal(c->specs[4].usb_identity, DP_USB_ID_SERIAL);
	assert_int_equal(c->specs[1 + 1].usb_identity, DP_USB_ID_AUTO);
	assert_null(c->specs[5].sriov_prefix);

	assert_ptr_equal(dp_config_ref(c), c);
	assert_int_equal(c->refcount, 2);
	dp_config_unref(c);
	dp_config_unref(c);
	dp_config_unref(NULL);
}

/* A bundle keeps its members in the order written, next to the other USB selectors. */
static void test_bundle_values(void **state)
{
	static const char json[] =
	    "{\"resources\": [{\"kind\": \"usb\", \"resourceName\": \"example.com/desk\", "
	    "\"usbIdentity\": \"port\", \"selectors\": {\"bundle\": [\"076B:3021\", \"046d:c31c\", "
	    "\"046d:c077\"], \"port\": [\"1-3.*\"]}}]}";
	struct hostdev_dp_config *c = NULL;
	const struct dp_selectors *s;
	char err[1024];

	(void)state;
	assert_int_equal(dp_config_parse_text(json, &c, err, sizeof(err)), 0);
	s = &c->specs[0].sel;
	assert_int_equal(s->n_ids, 0);
	assert_int_equal(s->n_bundle, 3);
	assert_int_equal(s->bundle[0].first, 0x076b);
	assert_int_equal(s->bundle[0].second, 0x3021);
	assert_int_equal(s->bundle[1].first, 0x046d);
	assert_int_equal(s->bundle[1].second, 0xc31c);
	assert_int_equal(s->bundle[2].second, 0xc077);
	assert_int_equal(s->n_ports, 1);
	assert_string_equal(s->ports[0], "1-3.*");
	assert_int_equal(c->specs[0].usb_identity, DP_USB_ID_PORT);
	dp_config_unref(c);
}

static void test_value_syntax(void **state)
{
	struct dp_vf_range *ranges = NULL;
	struct dp_id_pair pair;
	char *s = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(dp_parse_id_pair("abcd:EF01", &pair), 0);
	assert_int_equal(pair.first, 0xabcd);
	assert_int_equal(pair.second, 0xef01);
	assert_int_equal(dp_parse_id_pair("abcd:", &pair), -EINVAL);
	assert_int_equal(dp_parse_id_pair(":abcd", &pair), -EINVAL);
	assert_int_equal(dp_parse_id_pair("abcd:ef01:02", &pair), -EINVAL);
	assert_int_equal(dp_parse_id_pair("abcde:ef01", &pair), -EINVAL);
	assert_int_equal(dp_parse_id_pair(NULL, &pair), -EINVAL);
	assert_int_equal(dp_parse_class("0", &s), -EINVAL);
	assert_int_equal(dp_parse_class("0g", &s), -EINVAL);
	assert_int_equal(dp_parse_class("0200000", &s), -EINVAL);
	assert_null(s);
	assert_int_equal(dp_parse_pci_address("0000:00:1f.7", &s), 0);
	assert_string_equal(s, "0000:00:1f.7");
	free(s);
	assert_int_equal(dp_parse_pci_address("0000:00:20.0", &s), -EINVAL);
	assert_int_equal(dp_parse_vf_ranges("0-65535", &ranges, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ranges[0].last, 65535);
	free(ranges);
	assert_int_equal(dp_parse_vf_ranges("1,", &ranges, &n), -EINVAL);
	assert_int_equal(dp_parse_vf_ranges(",1", &ranges, &n), -EINVAL);
	assert_int_equal(dp_parse_vf_ranges("1-", &ranges, &n), -EINVAL);
	assert_int_equal(dp_parse_vf_ranges("-1", &ranges, &n), -EINVAL);
	assert_int_equal(dp_parse_vf_ranges("##1", &ranges, &n), -EINVAL);
	assert_int_equal(dp_parse_vf_ranges("000001", &ranges, &n), -EINVAL);
	assert_int_equal(dp_parse_vf_ranges("1-2-3", &ranges, &n), -EINVAL);
	assert_int_equal(dp_check_usb_port("1-2.3.4"), 0);
	assert_int_equal(dp_check_usb_port("1-2.*"), 0);
	assert_int_equal(dp_check_usb_port("1-*"), -EINVAL);
	assert_int_equal(dp_check_usb_port("1-2.*.3"), -EINVAL);
	assert_int_equal(dp_check_usb_port("1-256"), -EINVAL);
	assert_int_equal(dp_check_usb_port("usb1"), -EINVAL);
	assert_int_equal(dp_check_usb_port("1-"), -EINVAL);
	assert_int_equal(dp_check_ifname("eth0.100"), 0);
	assert_int_equal(dp_check_ifname(".."), -EINVAL);
	assert_int_equal(dp_check_ifname("a b"), -EINVAL);
	assert_int_equal(dp_check_driver("vfio-pci"), 0);
	assert_int_equal(dp_check_driver("a/b"), -EINVAL);
	assert_int_equal(dp_check_domain("openshift.io"), 0);
	assert_int_equal(dp_check_domain("Intel.com"), -EINVAL);
	assert_int_equal(dp_check_domain("intel.com/x"), -EINVAL);
}

/* ---------------------------------------------------------------------------------------------- */
/* Files */

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text;
	long size;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)size + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	return text;
}

static void test_load(void **state)
{
	struct fakeroot *root = fakeroot_new();
	hostdev_dp_config *config = NULL;
	hostdev_ctx *ctx;
	char path[1024], want[1200];
	char *big;

	(void)state;
	assert_non_null(root);
	assert_int_equal(hostdev_ctx_new(&ctx), 0);

	/* The shipped example. */
	assert_int_equal(hostdev_dp_config_load(ctx, HOSTDEV_TEST_EXAMPLE_CONFIG, &config), 0);
	assert_non_null(config);
	config = hostdev_dp_config_free(config);

	snprintf(path, sizeof(path), "%s/etc/hostdev/missing.json", fakeroot_path(root));
	assert_int_equal(hostdev_dp_config_load(ctx, path, &config), -ENOENT);
	snprintf(want, sizeof(want),
		 "cannot open the device-plugin config %s: No such file or directory (give the "
		 "path of an existing file)",
		 path);
	assert_string_equal(hostdev_ctx_get_error(ctx), want);

	snprintf(path, sizeof(path), "%s/etc/hostdev", fakeroot_path(root));
	assert_int_equal(hostdev_dp_config_load(ctx, path, &config), -EISDIR);
	snprintf(want, sizeof(want),
		 "the device-plugin config %s is a directory; give the JSON file", path);
	assert_string_equal(hostdev_ctx_get_error(ctx), want);

	assert_int_equal(fakeroot_write_bytes(root, "etc/hostdev/nul.json", "{\0}", 3), 0);
	snprintf(path, sizeof(path), "%s/etc/hostdev/nul.json", fakeroot_path(root));
	assert_int_equal(hostdev_dp_config_load(ctx, path, &config), -EINVAL);
	snprintf(want, sizeof(want),
		 "the device-plugin config %s contains a NUL byte; it must be JSON text", path);
	assert_string_equal(hostdev_ctx_get_error(ctx), want);

	assert_int_equal(
	    fakeroot_write(root, "etc/hostdev/bad.json",
			   "{\n  \"resources\": [\n    {\"kind\": \"pci\",}\n  ]\n}\n"),
	    0);
	snprintf(path, sizeof(path), "%s/etc/hostdev/bad.json", fakeroot_path(root));
	assert_int_equal(hostdev_dp_config_load(ctx, path, &config), -EINVAL);
	/* The text just before the position cJSON reports (one past the error). */
	snprintf(want, sizeof(want),
		 "%s: the config is not valid JSON: error at line 3, column 21 (near \"nd\": "
		 "\"pci\",}\"); check commas, quotes and brackets there",
		 path);
	assert_string_equal(hostdev_ctx_get_error(ctx), want);

	assert_int_equal(fakeroot_write(root, "etc/hostdev/empty.json", "{\"resources\": []}"), 0);
	snprintf(path, sizeof(path), "%s/etc/hostdev/empty.json", fakeroot_path(root));
	assert_int_equal(hostdev_dp_config_load(ctx, path, &config), -EINVAL);
	snprintf(want, sizeof(want),
		 "%s: \"resources\" is empty: list at least one resource to serve", path);
	assert_string_equal(hostdev_ctx_get_error(ctx), want);

	big = malloc(DP_CONFIG_MAX_SIZE + 2);
	assert_non_null(big);
	memset(big, ' ', DP_CONFIG_MAX_SIZE + 1);
	big[DP_CONFIG_MAX_SIZE + 1] = '\0';
	assert_int_equal(fakeroot_write(root, "etc/hostdev/big.json", big), 0);
	snprintf(path, sizeof(path), "%s/etc/hostdev/big.json", fakeroot_path(root));
	assert_int_equal(hostdev_dp_config_load(ctx, path, &config), -EFBIG);
	snprintf(want, sizeof(want),
		 "the device-plugin config %s is larger than %u bytes; it cannot be a resource "
		 "list",
		 path, DP_CONFIG_MAX_SIZE);
	assert_string_equal(hostdev_ctx_get_error(ctx), want);
	assert_int_equal(hostdev_dp_config_parse(ctx, big, &config), -EINVAL);
	free(big);
	assert_null(config);

	hostdev_ctx_unref(ctx);
	fakeroot_free(root);
}

/* ---------------------------------------------------------------------------------------------- */
/* Malformed inputs */

/* 0, or -EINVAL with a message; never anything else. */
static void parse_any(hostdev_ctx *ctx, const char *text)
{
	hostdev_dp_config *config = NULL;
	int r = hostdev_dp_config_parse(ctx, text, &config);

	if (r == 0) {
		assert_non_null(config);
		hostdev_dp_config_free(config);
		return;
	}
	if (r != -EINVAL)
		fail_msg("parse returned %d for:\n%s", r, text);
	assert_null(config);
	assert_true(strlen(hostdev_ctx_get_error(ctx)) > 10);
}

static void test_prefixes(void **state)
{
	char *text = read_file(HOSTDEV_TEST_EXAMPLE_CONFIG);
	size_t len = strlen(text);
	hostdev_ctx *ctx;

	(void)state;
	assert_int_equal(hostdev_ctx_new(&ctx), 0);
	for (size_t i = 0; i < len; i++) {
		hostdev_dp_config *config = NULL;
		char saved = text[i];

		text[i] = '\0';
		/* A cut JSON text is never valid, except after the closing brace. */
		if (strchr(text, '}') == NULL || i < len - 2) {
			assert_int_equal(hostdev_dp_config_parse(ctx, text, &config), -EINVAL);
			assert_null(config);
		}
		text[i] = saved;
	}
	free(text);
	hostdev_ctx_unref(ctx);
}

/* xorshift: the same "random" mutations on every run. */
static uint32_t next_random(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void test_mutations(void **state)
{
	static const char interesting[] = "\"{}[],:0a\\-#* \x01\xff.9/";
	char *text = read_file(HOSTDEV_TEST_EXAMPLE_CONFIG);
	size_t len = strlen(text);
	char *buf = malloc(len * 2 + 1);
	uint32_t seed = 0x1234567;
	hostdev_ctx *ctx;

	(void)state;
	assert_non_null(buf);
	assert_int_equal(hostdev_ctx_new(&ctx), 0);
	for (int round = 0; round < 4000; round++) {
		size_t n = len;

		memcpy(buf, text, len + 1);
		for (int k = 0; k < 1 + round % 4; k++) {
			size_t at = next_random(&seed) % n;
			uint32_t op = next_random(&seed) % 3;

			if (op == 0) {
				buf[at] =
				    interesting[next_random(&seed) % (sizeof(interesting) - 1)];
			} else if (op == 1 && n > 1) {
				memmove(buf + at, buf + at + 1, n - at);
				n--;
			} else {
				size_t span = next_random(&seed) % 24;

				if (at + span > n)
					span = n - at;
				if (n + span > len * 2)
					continue;
				memmove(buf + at + span, buf + at, n - at + 1);
				n += span;
			}
		}
		buf[n] = '\0';
		parse_any(ctx, buf);
	}
	free(buf);
	free(text);
	hostdev_ctx_unref(ctx);
}

/* The @k-th node below @node in pre-order, with its parent; NULL when there are fewer. */
static cJSON *nth_node(cJSON *node, size_t *k, cJSON **parent)
{
	for (cJSON *child = node->child; child; child = child->next) {
		cJSON *found;

		if ((*k)-- == 0) {
			*parent = node;
			return child;
		}
		if ((found = nth_node(child, k, parent)))
			return found;
	}
	return NULL;
}

static void test_types(void **state)
{
	static const char *const values[] = {
	    "null", "true", "false",  "0",   "-1",   "1.5",    "1e400", "\"\"",	      "\"x\"",
	    "[]",   "{}",   "[null]", "[1]", "[[]]", "[\"\"]", "[{}]",	"\"\\u0000\""};
	char *text = read_file(HOSTDEV_TEST_EXAMPLE_CONFIG);
	cJSON *root = cJSON_Parse(text);
	hostdev_ctx *ctx;
	size_t count = 0;

	(void)state;
	assert_non_null(root);
	assert_int_equal(hostdev_ctx_new(&ctx), 0);
	for (size_t k = 0;; k++) {
		bool more = false;

		for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
			cJSON *copy = cJSON_Duplicate(root, 1), *parent = NULL, *node;
			size_t left = k;
			char *printed;

			assert_non_null(copy);
			node = nth_node(copy, &left, &parent);
			if (!node) {
				cJSON_Delete(copy);
				break;
			}
			more = true;
			assert_true(
			    cJSON_ReplaceItemViaPointer(parent, node, cJSON_Parse(values[v])));
			printed = cJSON_PrintUnformatted(copy);
			assert_non_null(printed);
			parse_any(ctx, printed);
			cJSON_free(printed);
			cJSON_Delete(copy);
			count++;
		}
		if (!more)
			break;
	}
	assert_true(count > 900);
	cJSON_Delete(root);
	free(text);
	hostdev_ctx_unref(ctx);
}

static void test_extremes(void **state)
{
	hostdev_dp_config *config = NULL;
	size_t n = 20000, len;
	hostdev_ctx *ctx;
	char *text, *p;

	(void)state;
	assert_int_equal(hostdev_ctx_new(&ctx), 0);
	/* Deep nesting. */
	text = malloc(2 * n + 32);
	assert_non_null(text);
	p = text + sprintf(text, "{\"resources\": ");
	for (size_t i = 0; i < n; i++)
		*p++ = '[';
	for (size_t i = 0; i < n; i++)
		*p++ = ']';
	strcpy(p, "}");
	parse_any(ctx, text);
	free(text);

	/* A 1 MiB resource name and selector value. */
	len = 1024 * 1024;
	text = malloc(len + 256);
	assert_non_null(text);
	p = text +
	    sprintf(text, "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"example.com/");
	memset(p, 'a', len);
	p += len;
	strcpy(p, "\", \"selectors\": {\"driver\": [\"vfio-pci\"]}}]}");
	assert_int_equal(hostdev_dp_config_parse(ctx, text, &config), -EINVAL);
	assert_non_null(strstr(hostdev_ctx_get_error(ctx), "resources[0] \"example.com/aaaa"));
	assert_non_null(strstr(hostdev_ctx_get_error(ctx), "aaa...\": resourceName is not"));
	assert_true(strlen(hostdev_ctx_get_error(ctx)) < 1024);
	free(text);

	/* Many resources (unique names are checked pairwise). */
	n = 2000;
	text = malloc(n * 128 + 64);
	assert_non_null(text);
	p = text + sprintf(text, "{\"resources\": [");
	for (size_t i = 0; i < n; i++)
		p += sprintf(p,
			     "%s{\"kind\": \"pci\", \"resourceName\": \"example.com/r%zu\", "
			     "\"selectors\": {\"driver\": [\"vfio-pci\"]}}",
			     i ? "," : "", i);
	strcpy(p, "]}");
	assert_int_equal(hostdev_dp_config_parse(ctx, text, &config), 0);
	hostdev_dp_config_free(config);
	free(text);
	hostdev_ctx_unref(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_errors),	  cmocka_unit_test(test_errors_internal),
	    cmocka_unit_test(test_api_errors),	  cmocka_unit_test(test_values),
	    cmocka_unit_test(test_bundle_values), cmocka_unit_test(test_value_syntax),
	    cmocka_unit_test(test_load),	  cmocka_unit_test(test_prefixes),
	    cmocka_unit_test(test_mutations),	  cmocka_unit_test(test_types),
	    cmocka_unit_test(test_extremes),	  cmocka_unit_test(test_nul_lookalike),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
