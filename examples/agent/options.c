/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Command line and environment. Every flag is documented in usage() and docs/agent.md; the
 * DaemonSet sets NODE_NAME from the downward API, tests pass --node-name and --kubeconfig.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

#define DEFAULT_METRICS_ADDRESS "127.0.0.1:9450"

enum {
	OPT_KUBECONFIG = 0x100,
	OPT_CONTEXT,
	OPT_ALLOW_INSECURE,
	OPT_SA_DIR,
	OPT_NODE_NAME,
	OPT_ROOT,
	OPT_SYSFS,
	OPT_DEV,
	OPT_PCI_IDS,
	OPT_USB_IDS,
	OPT_USB_NAMING,
	OPT_RESYNC,
	OPT_WATCH_TIMEOUT,
	OPT_MAX_INFLIGHT,
	OPT_METRICS_ADDRESS,
	OPT_ONCE,
	OPT_UEVENT_SOURCE,
	OPT_LOG_FORMAT,
	OPT_LOG_LEVEL,
	OPT_VERSION,
	OPT_STATE_DIR,
	OPT_KUBELET_DIR,
	OPT_NO_CLAIMS,
	OPT_SERVE_MDEVS,
	OPT_KUBEVIRT,
	OPT_DRA,
	OPT_DRA_ONLY,
	OPT_DRA_DRIVER,
	OPT_DRA_CONFIG,
	OPT_BIND_TIMEOUT,
};

static void usage(FILE *f)
{
	fputs(
	    "Usage: hostdev-agent [OPTIONS]\n"
	    "Publish this node's PCI, USB and SR-IOV devices as devices.harvesterhci.io/v1beta1\n"
	    "objects (PCIDevice, USBDevice, SRIOVNetworkDevice) and keep them in step.\n\n"
	    "Cluster:\n"
	    "  --kubeconfig FILE        kubeconfig to use (env KUBECONFIG); default: in-cluster\n"
	    "  --context NAME           kubeconfig context (default: its current-context)\n"
	    "  --allow-insecure         accept insecure-skip-tls-verify in the kubeconfig\n"
	    "  --serviceaccount-dir DIR in-cluster token/ca.crt directory\n"
	    "                           (default " KUBE_SERVICEACCOUNT_DIR ")\n"
	    "  --node-name NAME         this node's name (env NODE_NAME, required)\n"
	    "Devices:\n"
	    "  --root DIR               read devices from a fake root (tests)\n"
	    "  --sysfs DIR              sysfs mount (default /sys)\n"
	    "  --dev DIR                device nodes (default /dev, under --root when given)\n"
	    "  --pci-ids FILE, --usb-ids FILE   id databases\n"
	    "  --usb-naming MODE        USBDevice names: port (stable port identity, default)\n"
	    "                           or harvester (<node>-<vid>-<pid>-<bus><dev>)\n"
	    "  --uevent-source SOURCE   auto (default), kernel or udev\n"
	    "  --kubelet-dir DIR        the kubelet's root directory, where the device plugins of\n"
	    "                           the claimed devices register (default /var/lib/kubelet,\n"
	    "                           under --root when given)\n"
	    "  --state-dir DIR          libhostdev's state directory, the vfio journal\n"
	    "                           (default /var/lib/hostdev, under --root when given)\n"
	    "Claims:\n"
	    "  --no-claims              publish only; leave PCIDeviceClaims to another\n"
	    "                           controller (Harvester's)\n"
	    "  --serve-mdevs            also serve every mediated device of the node, a\n"
	    "                           resource per type (nvidia.com/GRID_T4-1Q), and permit\n"
	    "                           them in KubeVirt's mediatedDevices\n"
	    "  --kubevirt NS/NAME       the KubeVirt CR whose permittedHostDevices the agent\n"
	    "                           keeps in step (default kubevirt/kubevirt; Harvester:\n"
	    "                           harvester-system/kubevirt; none: not kept)\n"
	    "  --bind-timeout SECONDS   how long one sysfs store of a claim's bind or restore\n"
	    "                           may block, and the wait for vfio-pci (default 5)\n"
	    "Dynamic Resource Allocation (resource.k8s.io/v1):\n"
	    "  --dra                    also publish this node's ResourceSlices\n"
	    "  --dra-only               publish only ResourceSlices (no Harvester objects,\n"
	    "                           no PCIDeviceClaims; their CRDs are not needed)\n"
	    "  --dra-driver-name NAME   the DRA driver (default " AGENT_DRA_DEFAULT_DRIVER ")\n"
	    "  --dra-config FILE        resource selection config (docs/device-plugin.md) of\n"
	    "                           the devices offered; default: every PCI function but\n"
	    "                           bridges\n"
	    "Behaviour:\n"
	    "  --resync-interval TIME   full re-inventory, e.g. 12h (default), 30m, 0 = never\n"
	    "                           (devices are followed by their events; a resync\n"
	    "                           also runs when events were lost, and on SIGHUP)\n"
	    "  --watch-timeout SECONDS  shortest server-side watch timeout; the watches share one\n"
	    "                           deadline drawn from [SECONDS, 2 SECONDS] (default 300)\n"
	    "  --max-inflight N         concurrent writes (default 16)\n"
	    "  --once                   publish once, then exit (0: converged, 1: failed)\n"
	    "Operation:\n"
	    "  --metrics-address ADDR   /healthz /readyz /metrics (default " DEFAULT_METRICS_ADDRESS
	    ")\n"
	    "  --log-format FORMAT      text (default) or json\n"
	    "  --log-level LEVEL        error, warning, info (default) or debug\n"
	    "  --version, --help\n",
	    f);
}

static int parse_duration(const char *text, unsigned int *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno || end == text)
		return -1;
	if (strcmp(end, "h") == 0)
		v *= 3600;
	else if (strcmp(end, "m") == 0)
		v *= 60;
	else if (*end && strcmp(end, "s") != 0)
		return -1;
	if (v > 7 * 24 * 3600)
		return -1;
	*out = (unsigned int)v;
	return 0;
}

static int bad(const char *option, const char *value, const char *expected)
{
	fprintf(stderr, "hostdev-agent: %s %s: expected %s\n", option, value, expected);
	return -1;
}

int agent_options_parse(struct agent_options *o, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"kubeconfig", required_argument, NULL, OPT_KUBECONFIG},
	    {"context", required_argument, NULL, OPT_CONTEXT},
	    {"allow-insecure", no_argument, NULL, OPT_ALLOW_INSECURE},
	    {"serviceaccount-dir", required_argument, NULL, OPT_SA_DIR},
	    {"node-name", required_argument, NULL, OPT_NODE_NAME},
	    {"root", required_argument, NULL, OPT_ROOT},
	    {"sysfs", required_argument, NULL, OPT_SYSFS},
	    {"dev", required_argument, NULL, OPT_DEV},
	    {"pci-ids", required_argument, NULL, OPT_PCI_IDS},
	    {"usb-ids", required_argument, NULL, OPT_USB_IDS},
	    {"usb-naming", required_argument, NULL, OPT_USB_NAMING},
	    {"resync-interval", required_argument, NULL, OPT_RESYNC},
	    {"watch-timeout", required_argument, NULL, OPT_WATCH_TIMEOUT},
	    {"max-inflight", required_argument, NULL, OPT_MAX_INFLIGHT},
	    {"metrics-address", required_argument, NULL, OPT_METRICS_ADDRESS},
	    {"once", no_argument, NULL, OPT_ONCE},
	    {"uevent-source", required_argument, NULL, OPT_UEVENT_SOURCE},
	    {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
	    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
	    {"version", no_argument, NULL, OPT_VERSION},
	    {"state-dir", required_argument, NULL, OPT_STATE_DIR},
	    {"kubelet-dir", required_argument, NULL, OPT_KUBELET_DIR},
	    {"no-claims", no_argument, NULL, OPT_NO_CLAIMS},
	    {"serve-mdevs", no_argument, NULL, OPT_SERVE_MDEVS},
	    {"kubevirt", required_argument, NULL, OPT_KUBEVIRT},
	    {"dra", no_argument, NULL, OPT_DRA},
	    {"dra-only", no_argument, NULL, OPT_DRA_ONLY},
	    {"dra-driver-name", required_argument, NULL, OPT_DRA_DRIVER},
	    {"dra-config", required_argument, NULL, OPT_DRA_CONFIG},
	    {"bind-timeout", required_argument, NULL, OPT_BIND_TIMEOUT},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	unsigned int n;
	int c;

	memset(o, 0, sizeof(*o));
	o->resync_s = 12 * 3600;
	o->watch_timeout_s = 300;
	o->max_inflight = 16;
	o->metrics_address = DEFAULT_METRICS_ADDRESS;
	o->kubevirt_ns = "kubevirt";
	o->kubevirt_name = "kubevirt";
	o->dra_driver = AGENT_DRA_DEFAULT_DRIVER;
	o->log_level = HOSTDEV_LOG_INFO;
	o->kubeconfig =
	    getenv("KUBECONFIG") && getenv("KUBECONFIG")[0] ? getenv("KUBECONFIG") : NULL;
	o->node_name = getenv("NODE_NAME") && getenv("NODE_NAME")[0] ? getenv("NODE_NAME") : NULL;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_KUBECONFIG:
			o->kubeconfig = optarg;
			break;
		case OPT_CONTEXT:
			o->context = optarg;
			break;
		case OPT_ALLOW_INSECURE:
			o->allow_insecure = true;
			break;
		case OPT_SA_DIR:
			o->serviceaccount_dir = optarg;
			break;
		case OPT_NODE_NAME:
			o->node_name = optarg;
			break;
		case OPT_ROOT:
			o->root = optarg;
			break;
		case OPT_SYSFS:
			o->sysfs = optarg;
			break;
		case OPT_DEV:
			o->dev = optarg;
			break;
		case OPT_PCI_IDS:
			o->pci_ids = optarg;
			break;
		case OPT_USB_IDS:
			o->usb_ids = optarg;
			break;
		case OPT_USB_NAMING:
			if (strcmp(optarg, "port") == 0)
				o->usb_naming = USB_NAMING_PORT;
			else if (strcmp(optarg, "harvester") == 0)
				o->usb_naming = USB_NAMING_HARVESTER;
			else
				return bad("--usb-naming", optarg, "port or harvester");
			break;
		case OPT_RESYNC:
			if (parse_duration(optarg, &o->resync_s) < 0)
				return bad("--resync-interval", optarg,
					   "a duration such as 10m, 90s or 1h (at most a week)");
			break;
		case OPT_WATCH_TIMEOUT:
			if (parse_duration(optarg, &n) < 0 || n == 0 || n > 3600)
				return bad("--watch-timeout", optarg, "1 to 3600 seconds");
			o->watch_timeout_s = n;
			break;
		case OPT_MAX_INFLIGHT:
			if (parse_duration(optarg, &n) < 0 || n == 0 || n > 256)
				return bad("--max-inflight", optarg, "1 to 256");
			o->max_inflight = n;
			break;
		case OPT_METRICS_ADDRESS:
			o->metrics_address = optarg;
			break;
		case OPT_ONCE:
			o->once = true;
			break;
		case OPT_BIND_TIMEOUT:
			if (parse_duration(optarg, &n) < 0 || n == 0 || n > 3600)
				return bad("--bind-timeout", optarg, "1 to 3600 seconds");
			o->bind_timeout_s = n;
			break;
		case OPT_STATE_DIR:
			if (optarg[0] != '/')
				return bad("--state-dir", optarg, "an absolute directory");
			o->state_dir = optarg;
			break;
		case OPT_KUBELET_DIR:
			if (optarg[0] != '/')
				return bad("--kubelet-dir", optarg, "an absolute directory");
			o->kubelet_dir = optarg;
			break;
		case OPT_NO_CLAIMS:
			o->no_claims = true;
			break;
		case OPT_SERVE_MDEVS:
			o->serve_mdevs = true;
			break;
		case OPT_KUBEVIRT: {
			char *slash = strchr(optarg, '/');

			if (strcmp(optarg, "none") == 0) {
				o->kubevirt_ns = o->kubevirt_name = NULL;
				break;
			}
			if (!slash || slash == optarg || !slash[1] || strchr(slash + 1, '/'))
				return bad("--kubevirt", optarg, "NAMESPACE/NAME or none");
			*slash = '\0'; /* argv is ours to cut */
			o->kubevirt_ns = optarg;
			o->kubevirt_name = slash + 1;
			break;
		}
		case OPT_DRA:
			o->dra = true;
			break;
		case OPT_DRA_ONLY:
			o->dra = o->dra_only = true;
			break;
		case OPT_DRA_DRIVER:
			/* The API server's rule for spec.driver: a DNS subdomain of <= 63. */
			if (strlen(optarg) > 63 || !naming_valid_object_name(optarg))
				return bad("--dra-driver-name", optarg,
					   "a lower-case DNS subdomain of at most 63 characters "
					   "such as vfio.example.com");
			o->dra_driver = optarg;
			break;
		case OPT_DRA_CONFIG:
			o->dra_config = optarg;
			break;
		case OPT_UEVENT_SOURCE:
			if (strcmp(optarg, "auto") == 0)
				o->uevent_source = UEVENT_AUTO;
			else if (strcmp(optarg, "kernel") == 0)
				o->uevent_source = UEVENT_KERNEL;
			else if (strcmp(optarg, "udev") == 0)
				o->uevent_source = UEVENT_UDEV;
			else
				return bad("--uevent-source", optarg, "auto, kernel or udev");
			break;
		case OPT_LOG_FORMAT:
			if (strcmp(optarg, "text") == 0)
				o->log_format = LOG_TEXT;
			else if (strcmp(optarg, "json") == 0)
				o->log_format = LOG_JSON;
			else
				return bad("--log-format", optarg, "text or json");
			break;
		case OPT_LOG_LEVEL:
			if (strcmp(optarg, "error") == 0)
				o->log_level = HOSTDEV_LOG_ERR;
			else if (strcmp(optarg, "warning") == 0)
				o->log_level = HOSTDEV_LOG_WARNING;
			else if (strcmp(optarg, "info") == 0)
				o->log_level = HOSTDEV_LOG_INFO;
			else if (strcmp(optarg, "debug") == 0)
				o->log_level = HOSTDEV_LOG_DEBUG;
			else
				return bad("--log-level", optarg, "error, warning, info or debug");
			break;
		case OPT_VERSION:
			printf("hostdev-agent %s (libhostdev %s)\n", HOSTDEV_AGENT_VERSION,
			       hostdev_version());
			return 1;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return -1;
		}
	}
	if ((o->dra_config || strcmp(o->dra_driver, AGENT_DRA_DEFAULT_DRIVER) != 0) && !o->dra) {
		fprintf(stderr, "hostdev-agent: --dra-driver-name and --dra-config need --dra or "
				"--dra-only\n");
		return -1;
	}
	if (o->serve_mdevs && (o->no_claims || o->once || o->dra_only)) {
		fprintf(stderr,
			"hostdev-agent: --serve-mdevs serves from the claims' device-plugin "
			"loop: it cannot go with --no-claims, --once or --dra-only\n");
		return -1;
	}
	if (optind < argc) {
		fprintf(stderr, "hostdev-agent: unexpected argument \"%s\"\n", argv[optind]);
		return -1;
	}
	return 0;
}
