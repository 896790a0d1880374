/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of what the agent publishes and when it writes: the objects of the server fake tree
 * (tests/lib/server_tree.h) with Harvester's fields, names and formats and the agent's extras;
 * USB classType and label values; schema pruning as the API server does it; and the diff, which
 * must find nothing to write when the server pruned the extras (Harvester's CRDs) and must
 * touch only the fields the agent owns.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent.h"
#include "fakeroot.h"
#include "server_tree.h"

struct fixture {
	struct fakeroot *root;
	hostdev_ctx *ctx;
	struct strmap *desired[KIND_COUNT];
	struct agent_ids ids;
};

/* The inventory's objects into the fixture's maps, by name. */
static int into_maps(enum agent_kind kind, cJSON *obj, void *userdata)
{
	struct strmap **desired = userdata;
	const char *name = kube_meta_string(obj, "name");

	if (!name || strmap_set(desired[kind], name, obj) < 0) {
		cJSON_Delete(obj);
		return -ENOMEM;
	}
	return 0;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->root = fakeroot_new();
	if (!f->root || server_tree_build(f->root) < 0 || hostdev_ctx_new(&f->ctx) < 0 ||
	    hostdev_ctx_set_root(f->ctx, fakeroot_path(f->root)) < 0 ||
	    hostdev_ctx_set_path(f->ctx, HOSTDEV_PATH_PCI_IDS, HOSTDEV_TEST_PCI_IDS) < 0 ||
	    hostdev_ctx_set_node_name(f->ctx, "node1") < 0)
		return -1;
	f->ids.node = "node1";
	f->ids.node_uid = "3f1c-uid";
	f->ids.usb_naming = USB_NAMING_PORT;
	for (int k = 0; k < KIND_COUNT; k++)
		f->desired[k] = strmap_new((void (*)(void *))cJSON_Delete);
	if (inventory_full(f->ctx, &f->ids, into_maps, f->desired) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	for (int k = 0; k < KIND_COUNT; k++)
		strmap_free(f->desired[k]);
	hostdev_ctx_unref(f->ctx);
	fakeroot_free(f->root);
	free(f);
	return 0;
}

static const char *str_at(const cJSON *obj, const char *a, const char *b)
{
	return cJSON_GetStringValue(
	    cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(obj, a), b));
}

static void test_pci_objects(void **state)
{
	struct fixture *f = *state;
	const cJSON *nic, *vf, *host, *labels, *refs, *members;

	/* 16 functions, 4 of them PCI-to-PCI bridges (0604); the host bridge (0600) stays. */
	assert_int_equal(strmap_count(f->desired[KIND_PCI]), 12);
	assert_null(strmap_get(f->desired[KIND_PCI], "node1-0000001c0"));
	assert_null(strmap_get(f->desired[KIND_PCI], "node1-00003a000"));
	host = strmap_get(f->desired[KIND_PCI], "node1-000000000");
	assert_non_null(host);

	nic = strmap_get(f->desired[KIND_PCI], "node1-000001000");
	assert_non_null(nic);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(nic, "apiVersion")),
			    "devices.harvesterhci.io/v1beta1");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(nic, "kind")), "PCIDevice");
	assert_string_equal(str_at(nic, "status", "address"), "0000:01:00.0");
	assert_string_equal(str_at(nic, "status", "vendorId"), "8086");
	assert_string_equal(str_at(nic, "status", "deviceId"), "1521");
	assert_string_equal(str_at(nic, "status", "classId"), "0200");
	assert_string_equal(str_at(nic, "status", "iommuGroup"), "10");
	assert_string_equal(str_at(nic, "status", "nodeName"), "node1");
	assert_string_equal(str_at(nic, "status", "resourceName"),
			    "intel.com/I350_GIGABIT_NETWORK_CONNECTION");
	assert_string_equal(str_at(nic, "status", "description"),
			    "Ethernet controller: Intel Corporation I350 Gigabit Network "
			    "Connection");
	assert_string_equal(str_at(nic, "status", "kernelDriverInUse"), "igb");
	assert_int_equal(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(nic, "status"), "numaNode")->valueint, 0);
	members = cJSON_GetObjectItem(cJSON_GetObjectItem(nic, "status"), "vfAddresses");
	assert_int_equal(cJSON_GetArraySize(members), 2);
	assert_string_equal(cJSON_GetArrayItem(members, 1)->valuestring, "0000:01:10.4");
	labels = cJSON_GetObjectItem(cJSON_GetObjectItem(nic, "metadata"), "labels");
	assert_string_equal(cJSON_GetObjectItem(labels, "nodename")->valuestring, "node1");
	assert_string_equal(cJSON_GetObjectItem(labels, "hostdev.io/vendor")->valuestring, "8086");
	assert_string_equal(cJSON_GetObjectItem(labels, "hostdev.io/class")->valuestring, "0200");
	assert_string_equal(cJSON_GetObjectItem(labels, "hostdev.io/driver")->valuestring, "igb");
	refs = cJSON_GetObjectItem(cJSON_GetObjectItem(nic, "metadata"), "ownerReferences");
	assert_int_equal(cJSON_GetArraySize(refs), 1);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(refs, 0), "uid")->valuestring,
			    "3f1c-uid");

	vf = strmap_get(f->desired[KIND_PCI], "node1-000001104");
	assert_string_equal(str_at(vf, "status", "pfAddress"), "0000:01:00.0");
	assert_string_equal(str_at(vf, "status", "kernelDriverInUse"), "vfio-pci");

	/* IOMMU group 9 holds 1f.0, 1f.2 and 1f.3. */
	members = cJSON_GetObjectItem(
	    cJSON_GetObjectItem(strmap_get(f->desired[KIND_PCI], "node1-0000001f2"), "status"),
	    "iommuGroupMembers");
	assert_int_equal(cJSON_GetArraySize(members), 3);

	/* Unbound, unknown ids, no NUMA: Harvester's fallbacks and omitted fields. */
	host = strmap_get(f->desired[KIND_PCI], "node1-000100000");
	assert_non_null(host);
	assert_null(str_at(host, "status", "kernelDriverInUse"));
	assert_int_equal(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(host, "status"), "numaNode")->valueint, -1);
	assert_string_equal(str_at(host, "status", "resourceName"), "unknown.com/0001");
}

static void test_sriov_objects(void **state)
{
	struct fixture *f = *state;
	const cJSON *pf, *status;

	/* Only the I350 PF: the Realtek NIC is no PF, the VFs are VFs. */
	assert_int_equal(strmap_count(f->desired[KIND_SRIOV]), 1);
	pf = strmap_get(f->desired[KIND_SRIOV], "node1-eth0");
	assert_non_null(pf);
	assert_string_equal(str_at(pf, "spec", "address"), "0000:01:00.0");
	assert_string_equal(str_at(pf, "spec", "nodeName"), "node1");
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(pf, "spec"), "numVFs")->valueint,
			 0);
	status = cJSON_GetObjectItem(pf, "status");
	assert_string_equal(cJSON_GetObjectItem(status, "status")->valuestring,
			    "sriovNetworkDeviceEnabled");
	assert_string_equal(
	    cJSON_GetArrayItem(cJSON_GetObjectItem(status, "vfAddresses"), 0)->valuestring,
	    "0000:01:10.0");
	assert_string_equal(
	    cJSON_GetArrayItem(cJSON_GetObjectItem(status, "vfPCIDevices"), 1)->valuestring,
	    "node1-000001104");
	assert_int_equal(cJSON_GetObjectItem(status, "totalVFs")->valueint, 8);
}

static void test_usb_strings(void **state)
{
	char buf[64], lbuf[64];

	assert_string_equal(naming_usb_class_type(0x03, buf, sizeof(buf)), "HID");
	assert_string_equal(naming_usb_class_type(0x08, buf, sizeof(buf)), "Mass Storage");
	assert_string_equal(naming_usb_class_type(0x42, buf, sizeof(buf)), "Unknown (0x42)");
	assert_null(naming_usb_class_type(0, buf, sizeof(buf)));
	assert_string_equal(naming_label_value("vfio-pci", lbuf, sizeof(lbuf)), "vfio-pci");
	assert_string_equal(naming_label_value("a b/c_", lbuf, sizeof(lbuf)), "a_b_c");
	assert_null(naming_label_value("--", lbuf, sizeof(lbuf)));
	assert_true(naming_valid_object_name("node1-000000140-usb2-1.4"));
	assert_false(naming_valid_object_name("Node1"));
	assert_false(naming_valid_object_name("node_1"));
	assert_false(naming_valid_object_name("-a"));
}

/* Harvester's PCIDevice CRD schema in short: status without our extras, empty spec. */
static const char harvester_schema[] =
    "{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":\"object\"},\"status\":{\"type\":"
    "\"object\",\"properties\":{\"address\":{\"type\":\"string\"},\"vendorId\":{\"type\":"
    "\"string\"},\"deviceId\":{\"type\":\"string\"},\"classId\":{\"type\":\"string\"},"
    "\"iommuGroup\":{\"type\":\"string\"},\"nodeName\":{\"type\":\"string\"},\"resourceName\":"
    "{\"type\":\"string\"},\"description\":{\"type\":\"string\"},\"kernelDriverInUse\":{"
    "\"type\":\"string\"}}}}}";

static void test_schema_prune(void **state)
{
	cJSON *schema = cJSON_Parse(harvester_schema);
	cJSON *v = cJSON_Parse("{\"spec\":{\"x\":1},\"status\":{\"address\":\"a\",\"numaNode\":0,"
			       "\"iommuGroupMembers\":[\"a\"]}}");
	cJSON *preserve = cJSON_Parse("{\"type\":\"object\",\"x-kubernetes-preserve-unknown-"
				      "fields\":true}");
	cJSON *kept = cJSON_Parse("{\"a\":{\"b\":[{\"c\":1,\"d\":2}]}}");
	cJSON *items =
	    cJSON_Parse("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"object\","
			"\"properties\":{\"b\":{\"type\":\"array\",\"items\":{\"type\":"
			"\"object\",\"properties\":{\"c\":{\"type\":\"integer\"}}}}}}}}");
	char *text;

	schema_prune(cJSON_GetObjectItem(v, "status"), schema_property(schema, "status"));
	schema_prune(cJSON_GetObjectItem(v, "spec"), schema_property(schema, "spec"));
	text = cJSON_PrintUnformatted(v);
	assert_string_equal(text, "{\"spec\":{},\"status\":{\"address\":\"a\"}}");
	free(text);
	schema_prune(kept, preserve);
	text = cJSON_PrintUnformatted(kept);
	assert_string_equal(text, "{\"a\":{\"b\":[{\"c\":1,\"d\":2}]}}");
	free(text);
	schema_prune(kept, items);
	text = cJSON_PrintUnformatted(kept);
	assert_string_equal(text, "{\"a\":{\"b\":[{\"c\":1}]}}");
	free(text);
	cJSON_Delete(schema);
	cJSON_Delete(v);
	cJSON_Delete(preserve);
	cJSON_Delete(kept);
	cJSON_Delete(items);
}

/* The server's copy of @desired after a create and a status write through @schema. */
static cJSON *as_stored(const cJSON *desired, const cJSON *schema)
{
	cJSON *obj = cJSON_Duplicate(desired, true), *meta = cJSON_GetObjectItem(obj, "metadata");

	cJSON_AddStringToObject(meta, "uid", "u-1");
	cJSON_AddStringToObject(meta, "resourceVersion", "7");
	cJSON_AddStringToObject(cJSON_GetObjectItem(meta, "labels"), "team", "gpu");
	if (schema) {
		schema_prune(cJSON_GetObjectItem(obj, "status"), schema_property(schema, "status"));
		schema_prune(cJSON_GetObjectItem(obj, "spec"), schema_property(schema, "spec"));
	}
	return obj;
}

static void test_diff(void **state)
{
	struct fixture *f = *state;
	const struct kind_def *kind = &agent_kinds[KIND_PCI];
	const cJSON *desired = strmap_get(f->desired[KIND_PCI], "node1-000001000");
	cJSON *harvester = cJSON_Parse(harvester_schema), *observed, *patch = NULL;
	char *text;

	assert_int_equal(diff_object(kind, desired, NULL, NULL, &patch), DIFF_CREATE);
	assert_int_equal(diff_object(kind, NULL, desired, NULL, &patch), DIFF_DELETE);
	assert_int_equal(diff_object(kind, NULL, NULL, NULL, &patch), DIFF_NONE);

	/* Our CRDs keep everything: equal. Harvester's prune the extras: still equal, because
	 * the desired side is pruned the same way before comparing. */
	observed = as_stored(desired, NULL);
	assert_int_equal(diff_object(kind, desired, observed, NULL, &patch), DIFF_NONE);
	cJSON_Delete(observed);
	observed = as_stored(desired, harvester);
	assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(observed, "status"), "numaNode"));
	assert_int_equal(diff_object(kind, desired, observed, harvester, &patch), DIFF_NONE);
	/* ... and without the schema it would rewrite forever. */
	assert_int_equal(diff_object(kind, desired, observed, NULL, &patch), DIFF_STATUS);
	cJSON_Delete(patch);
	patch = NULL;

	/* A re-driven device: only the changed field, and a vanished one as null. */
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(observed, "status"), "kernelDriverInUse",
				  cJSON_CreateString("vfio-pci"));
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(observed, "status"), "description",
				  cJSON_CreateString("old"));
	assert_int_equal(diff_object(kind, desired, observed, harvester, &patch), DIFF_STATUS);
	text = cJSON_PrintUnformatted(patch);
	assert_string_equal(text, "{\"status\":{\"description\":\"Ethernet controller: Intel "
				  "Corporation I350 Gigabit Network Connection\","
				  "\"kernelDriverInUse\":\"igb\"}}");
	free(text);
	cJSON_Delete(patch);
	patch = NULL;
	cJSON_DeleteItemFromObject(cJSON_GetObjectItem(observed, "status"), "kernelDriverInUse");
	cJSON_Delete(observed);

	/* Fields of others (USBDevice enabled, a user's label) are not ours to compare. */
	observed = as_stored(desired, NULL);
	cJSON_AddBoolToObject(cJSON_GetObjectItem(observed, "status"), "enabled", true);
	assert_int_equal(diff_object(kind, desired, observed, NULL, &patch), DIFF_NONE);
	/* A stale label of ours, or a missing ownerReference, is a metadata update. */
	cJSON_AddStringToObject(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(observed, "metadata"), "labels"),
	    "hostdev.io/stale", "x");
	assert_int_equal(diff_object(kind, desired, observed, NULL, &patch), DIFF_METADATA);
	assert_int_equal(diff_apply_metadata(kind, observed, desired), 1);
	assert_null(cJSON_GetObjectItem(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(observed, "metadata"), "labels"),
	    "hostdev.io/stale"));
	assert_string_equal(
	    cJSON_GetObjectItem(
		cJSON_GetObjectItem(cJSON_GetObjectItem(observed, "metadata"), "labels"), "team")
		->valuestring,
	    "gpu");
	cJSON_DeleteItemFromObject(cJSON_GetObjectItem(observed, "metadata"), "ownerReferences");
	assert_int_equal(diff_object(kind, desired, observed, NULL, &patch), DIFF_METADATA);
	assert_int_equal(diff_apply_metadata(kind, observed, desired), 1);
	assert_int_equal(diff_apply_metadata(kind, observed, desired), 0);
	assert_int_equal(diff_object(kind, desired, observed, NULL, &patch), DIFF_NONE);
	cJSON_Delete(observed);

	/* SR-IOV: the user's numVFs is theirs; address is ours. */
	desired = strmap_get(f->desired[KIND_SRIOV], "node1-eth0");
	observed = as_stored(desired, NULL);
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(observed, "spec"), "numVFs",
				  cJSON_CreateNumber(4));
	assert_int_equal(diff_object(&agent_kinds[KIND_SRIOV], desired, observed, NULL, &patch),
			 DIFF_NONE);
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(observed, "spec"), "address",
				  cJSON_CreateString("0000:99:00.0"));
	assert_int_equal(diff_object(&agent_kinds[KIND_SRIOV], desired, observed, NULL, &patch),
			 DIFF_METADATA);
	assert_int_equal(diff_apply_metadata(&agent_kinds[KIND_SRIOV], observed, desired), 1);
	assert_int_equal(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(observed, "spec"), "numVFs")->valueint, 4);
	cJSON_Delete(observed);
	cJSON_Delete(harvester);
}

/* ---- the reconciler's digest of an observed object ----------------------------------------- */

static cJSON *status_of(cJSON *obj)
{
	return cJSON_GetObjectItem(obj, "status");
}

/* diff_digest_compare() of @desired against the digest of @observed through @schema, the patch
 * as text in @patch_text (NULL when none; the caller frees it). The want the reconciler keeps of
 * @desired must match the digest exactly when there is nothing to write. */
static enum diff_action digest_diff_schema(const struct kind_def *kind, const cJSON *desired,
					   const cJSON *observed, const cJSON *schema,
					   char **patch_text)
{
	struct diff_digest *d = diff_digest_new(kind, observed);
	struct diff_want *w = diff_want_new(kind, desired, schema, "source");
	cJSON *patch = NULL;
	enum diff_action a;

	assert_non_null(d);
	assert_non_null(w);
	a = diff_digest_compare(kind, desired, d, schema, &patch);
	if (diff_want_matches(kind, w, d) != (a == DIFF_NONE))
		fail_msg("the want %s the digest, but the comparison is %d",
			 a == DIFF_NONE ? "does not match" : "matches", a);
	*patch_text = patch ? cJSON_PrintUnformatted(patch) : NULL;
	cJSON_Delete(patch);
	diff_want_free(w);
	diff_digest_free(d);
	return a;
}

static enum diff_action digest_diff(const struct kind_def *kind, const cJSON *desired,
				    const cJSON *observed, char **patch_text)
{
	return digest_diff_schema(kind, desired, observed, NULL, patch_text);
}

static void first_name(const char *key, void *value, void *ud)
{
	const char **name = ud;

	if (!*name)
		*name = key;
}

/* What the reconciler keeps of a published object finds what someone else changed in the fields
 * the agent owns, and only there: an owned field changed is a write of that field, an unowned
 * one is no write at all. */
static void test_digest(void **state)
{
	struct fixture *f = *state;
	const struct kind_def *kind = &agent_kinds[KIND_PCI];
	const cJSON *desired = strmap_get(f->desired[KIND_PCI], "node1-000001000");
	cJSON *observed = as_stored(desired, NULL), *members;
	struct diff_digest *d;
	const char *usb = NULL;
	char *patch;

	d = diff_digest_new(kind, observed);
	assert_non_null(d);
	assert_string_equal(diff_digest_uid(d), "u-1");
	diff_digest_free(d);
	assert_int_equal(digest_diff(kind, desired, observed, &patch), DIFF_NONE);
	assert_null(patch);

	/* Unowned: another controller's status field, a user's label and annotation, the order of
	 * the members of an object (the server keeps its own). No write. */
	cJSON_AddStringToObject(status_of(observed), "message", "someone else's");
	cJSON_ReplaceItemInObject(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(observed, "metadata"), "labels"), "team",
	    cJSON_CreateString("ml"));
	cJSON_AddObjectToObject(cJSON_GetObjectItem(observed, "metadata"), "annotations");
	cJSON_AddStringToObject(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(observed, "metadata"), "annotations"), "note",
	    "x");
	{
		cJSON *address = cJSON_DetachItemFromObject(status_of(observed), "address");

		cJSON_AddItemToObject(status_of(observed), "address", address);
	}
	assert_int_equal(digest_diff(kind, desired, observed, &patch), DIFF_NONE);

	/* Owned, changed by someone else: the field's value, its type ("0" is not 0), an array's
	 * order, a field removed. Each is a patch of that field alone. */
	cJSON_ReplaceItemInObject(status_of(observed), "kernelDriverInUse",
				  cJSON_CreateString("vfio-pci"));
	assert_int_equal(digest_diff(kind, desired, observed, &patch), DIFF_STATUS);
	assert_string_equal(patch, "{\"status\":{\"kernelDriverInUse\":\"igb\"}}");
	free(patch);
	cJSON_ReplaceItemInObject(
	    status_of(observed), "kernelDriverInUse",
	    cJSON_Duplicate(
		cJSON_GetObjectItem(cJSON_GetObjectItem(desired, "status"), "kernelDriverInUse"),
		true));
	assert_int_equal(digest_diff(kind, desired, observed, &patch), DIFF_NONE);
	cJSON_ReplaceItemInObject(status_of(observed), "numaNode", cJSON_CreateString("0"));
	assert_int_equal(digest_diff(kind, desired, observed, &patch), DIFF_STATUS);
	assert_string_equal(patch, "{\"status\":{\"numaNode\":0}}");
	free(patch);
	cJSON_ReplaceItemInObject(status_of(observed), "numaNode", cJSON_CreateNumber(0));
	members = cJSON_GetObjectItem(status_of(observed), "iommuGroupMembers");
	assert_non_null(members);
	cJSON_AddItemToArray(members, cJSON_CreateString("0000:00:00.0"));
	assert_int_equal(digest_diff(kind, desired, observed, &patch), DIFF_STATUS);
	assert_non_null(strstr(patch, "\"iommuGroupMembers\":["));
	free(patch);
	cJSON_DeleteItemFromArray(members, cJSON_GetArraySize(members) - 1);
	assert_int_equal(digest_diff(kind, desired, observed, &patch), DIFF_NONE);
	cJSON_DeleteItemFromObject(status_of(observed), "description");
	assert_int_equal(digest_diff(kind, desired, observed, &patch), DIFF_STATUS);
	assert_non_null(strstr(patch, "\"description\":"));
	free(patch);
	cJSON_Delete(observed);

	/* A label of ours changed, or the Node re-created (another uid): metadata. */
	observed = as_stored(desired, NULL);
	cJSON_ReplaceItemInObject(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(observed, "metadata"), "labels"),
	    AGENT_NODE_LABEL, cJSON_CreateString("node2"));
	assert_int_equal(digest_diff(kind, desired, observed, &patch), DIFF_METADATA);
	cJSON_Delete(observed);
	observed = as_stored(desired, NULL);
	cJSON_ReplaceItemInObject(
	    cJSON_GetArrayItem(
		cJSON_GetObjectItem(cJSON_GetObjectItem(observed, "metadata"), "ownerReferences"),
		0),
	    "uid", cJSON_CreateString("older-node"));
	assert_int_equal(digest_diff(kind, desired, observed, &patch), DIFF_METADATA);
	cJSON_Delete(observed);

	/* USBDevice: enabled is Harvester's, set once when missing; present with any value, it is
	 * theirs. */
	strmap_foreach(f->desired[KIND_USB], first_name, &usb);
	if (usb) {
		desired = strmap_get(f->desired[KIND_USB], usb);
		observed = as_stored(desired, NULL);
		cJSON_DeleteItemFromObject(status_of(observed), "enabled");
		assert_int_equal(digest_diff(&agent_kinds[KIND_USB], desired, observed, &patch),
				 DIFF_STATUS);
		assert_string_equal(patch, "{\"status\":{\"enabled\":false}}");
		free(patch);
		cJSON_AddBoolToObject(status_of(observed), "enabled", true);
		assert_int_equal(digest_diff(&agent_kinds[KIND_USB], desired, observed, &patch),
				 DIFF_NONE);
		cJSON_Delete(observed);
	}
}

/* ---- desired objects kept as wants, built from their device when a write needs them -------- */

struct builds {
	struct fixture *f;
	int n; /* objects built */
};

static cJSON *count_build(enum agent_kind kind, const char *source, void *userdata)
{
	struct builds *b = userdata;

	b->n++;
	return inventory_build(b->f->ctx, &b->f->ids, kind, source);
}

/* desired_compare() of the PCIDevice @name against @observed (NULL: not on the server) through @schema; the
 * object built for the write is checked to be the inventory's and dropped, the patch returned as
 * text (NULL when none; the caller frees it). */
static enum diff_action compare(struct desired *d, const char *name, const cJSON *observed,
				const cJSON *schema, const cJSON *inventory, char **patch_text)
{
	struct diff_digest *digest =
	    observed ? diff_digest_new(&agent_kinds[KIND_PCI], observed) : NULL;
	cJSON *obj = NULL, *patch = NULL;
	enum diff_action a;

	a = desired_compare(d, name, digest, schema, &obj, &patch);
	if (a == DIFF_CREATE || a == DIFF_METADATA || a == DIFF_STATUS) {
		assert_non_null(obj);
		assert_true(cJSON_Compare(obj, inventory, true));
	} else {
		assert_null(obj);
	}
	*patch_text = patch ? cJSON_PrintUnformatted(patch) : NULL;
	cJSON_Delete(obj);
	cJSON_Delete(patch);
	diff_digest_free(digest);
	return a;
}

/* The reconciler keeps no desired object, only its want: an object in step with the server costs
 * no device read and no write; one someone changed (an owned status field, a label of ours) is
 * found from the hashes, built again from its device and written with exactly what differs, as
 * when the object was kept; one not on the server is built for its create. */
static void test_desired_on_demand(void **state)
{
	struct fixture *f = *state;
	const char *name = "node1-000001000";
	const cJSON *inventory = strmap_get(f->desired[KIND_PCI], name);
	cJSON *harvester = cJSON_Parse(harvester_schema), *observed, *gone;
	struct builds b = {f, 0};
	struct desired *d = desired_new(KIND_PCI, count_build, &b);
	char *patch;

	assert_non_null(d);
	assert_non_null(inventory);
	assert_int_equal(desired_put(d, cJSON_Duplicate(inventory, true), NULL), 0);
	assert_true(desired_has(d, name));
	assert_string_equal(desired_source_of(KIND_PCI, inventory), "0000:01:00.0");

	/* In step: nothing built, nothing to write, however often it is looked at. */
	observed = as_stored(inventory, NULL);
	for (int i = 0; i < 3; i++)
		assert_int_equal(compare(d, name, observed, NULL, inventory, &patch), DIFF_NONE);
	assert_int_equal(b.n, 0);

	/* Someone changed an owned status field: one build, a patch of that field alone. */
	cJSON_ReplaceItemInObject(status_of(observed), "kernelDriverInUse",
				  cJSON_CreateString("vfio-pci"));
	assert_int_equal(compare(d, name, observed, NULL, inventory, &patch), DIFF_STATUS);
	assert_string_equal(patch, "{\"status\":{\"kernelDriverInUse\":\"igb\"}}");
	free(patch);
	assert_int_equal(b.n, 1);
	cJSON_Delete(observed);

	/* A label of ours removed: a metadata update, with the object built for it. */
	observed = as_stored(inventory, NULL);
	cJSON_DeleteItemFromObject(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(observed, "metadata"), "labels"),
	    AGENT_LABEL_PREFIX "vendor");
	assert_int_equal(compare(d, name, observed, NULL, inventory, &patch), DIFF_METADATA);
	assert_int_equal(b.n, 2);
	cJSON_Delete(observed);

	/* Not on the server: built for its create. Deleted from the desired state: a delete, with
	 * nothing built. */
	assert_int_equal(compare(d, name, NULL, NULL, inventory, &patch), DIFF_CREATE);
	assert_int_equal(b.n, 3);
	observed = as_stored(inventory, NULL);
	assert_true(desired_remove(d, name));
	assert_int_equal(compare(d, name, observed, NULL, inventory, &patch), DIFF_DELETE);
	assert_int_equal(compare(d, name, NULL, NULL, inventory, &patch), DIFF_NONE);
	assert_int_equal(b.n, 3);
	cJSON_Delete(observed);

	/* Pruned by Harvester's CRD on both sides: in step, nothing built. */
	assert_int_equal(desired_put(d, cJSON_Duplicate(inventory, true), harvester), 0);
	observed = as_stored(inventory, harvester);
	assert_int_equal(compare(d, name, observed, harvester, inventory, &patch), DIFF_NONE);
	assert_int_equal(b.n, 3);
	cJSON_ReplaceItemInObject(status_of(observed), "description", cJSON_CreateString("old"));
	assert_int_equal(compare(d, name, observed, harvester, inventory, &patch), DIFF_STATUS);
	assert_non_null(strstr(patch, "\"description\":\"Ethernet controller"));
	free(patch);
	assert_int_equal(b.n, 4);
	cJSON_Delete(observed);

	/* A device that is gone when its write comes (its event is on the way): no write, and no
	 * deletion either. */
	gone = cJSON_Duplicate(inventory, true);
	cJSON_ReplaceItemInObject(status_of(gone), "address", cJSON_CreateString("0000:7f:1f.7"));
	assert_int_equal(desired_put(d, gone, NULL), 0);
	assert_int_equal(compare(d, name, NULL, NULL, inventory, &patch), DIFF_NONE);
	assert_null(desired_build(d, name, NULL));
	assert_true(desired_has(d, name));

	/* An object without its device is refused (nothing to build it from). */
	gone = cJSON_Duplicate(inventory, true);
	cJSON_DeleteItemFromObject(status_of(gone), "address");
	assert_int_equal(desired_put(d, gone, NULL), -EINVAL);
	desired_free(d);
	cJSON_Delete(harvester);
}

/* Every object of the inventory is built again from its device as it was listed: the wants
 * (desired.c) can stand for the objects. */
static void count_kind(const char *name, const char *source, void *userdata)
{
	(*(size_t *)userdata)++;
}

static void put_copy(const char *name, void *value, void *userdata)
{
	struct desired *d = userdata;

	assert_int_equal(desired_put(d, cJSON_Duplicate(value, true), NULL), 0);
}

struct rebuild_ctx {
	struct fixture *f;
	enum agent_kind kind;
	size_t n;
};

static void rebuild_one(const char *name, void *value, void *userdata)
{
	struct rebuild_ctx *c = userdata;
	const char *source = desired_source_of(c->kind, value);
	cJSON *built;

	assert_non_null(source);
	built = inventory_build(c->f->ctx, &c->f->ids, c->kind, source);
	if (!cJSON_Compare(built, value, true))
		fail_msg("%s %s is not built again from %s as listed", agent_kinds[c->kind].kind,
			 name, source);
	cJSON_Delete(built);
	c->n++;
}

static void test_inventory_build(void **state)
{
	struct fixture *f = *state;

	for (int k = 0; k < KIND_COUNT; k++) {
		struct rebuild_ctx c = {f, (enum agent_kind)k, 0};
		struct desired *d = desired_new((enum agent_kind)k, NULL, NULL);
		size_t n = 0;

		strmap_foreach(f->desired[k], rebuild_one, &c);
		assert_int_equal(c.n, strmap_count(f->desired[k]));
		assert_true(k == KIND_USB || c.n > 0);
		/* ... and each is kept. */
		assert_non_null(d);
		strmap_foreach(f->desired[k], put_copy, d);
		desired_foreach(d, count_kind, &n);
		assert_int_equal(n, c.n);
		desired_free(d);
	}
}

/* ---- kubevirt_apply(): the three lists of permittedHostDevices ------------------------------ */

static cJSON *list_of(cJSON *kv, const char *list)
{
	return cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(kv, "spec"),
						 "configuration"),
		"permittedHostDevices"),
	    list);
}

static void assert_list(cJSON *kv, const char *list, const char *json)
{
	cJSON *want = cJSON_Parse(json);
	char *have = cJSON_PrintUnformatted(list_of(kv, list));

	assert_non_null(want);
	if (!cJSON_Compare(want, list_of(kv, list), true))
		fail_msg("%s: have %s, want %s", list, have, json);
	free(have);
	cJSON_Delete(want);
}

static int apply(cJSON *kv, const char *node, const char *want_json)
{
	cJSON *want = cJSON_Parse(want_json);
	const char *bad = NULL;
	int r;

	assert_non_null(want);
	r = kubevirt_apply(kv, node, want, &bad);
	cJSON_Delete(want);
	return r;
}

#define HAND_PCI "{\"pciVendorSelector\":\"10de:1eb8\",\"resourceName\":\"nvidia.com/T4\"}"
#define HAND_USB                                                                                   \
	"{\"resourceName\":\"example.com/yubikey\",\"selectors\":[{\"vendor\":\"1050\","           \
	"\"product\":\"0407\"}]}"
#define HAND_MDEV "{\"mdevNameSelector\":\"GRID T4-2Q\",\"resourceName\":\"nvidia.com/hand\"}"
#define MDEV(sel, res)                                                                             \
	"{\"mdevNameSelector\":\"" sel "\",\"resourceName\":\"" res                                \
	"\",\"externalResourceProvider\":true}"

static void test_kubevirt_lists(void **state)
{
	cJSON *kv = cJSON_Parse(
	    "{\"apiVersion\":\"kubevirt.io/v1\",\"kind\":\"KubeVirt\",\"metadata\":{\"name\":"
	    "\"kubevirt\",\"namespace\":\"kubevirt\"},\"spec\":{\"configuration\":{"
	    "\"permittedHostDevices\":{\"pciHostDevices\":[" HAND_PCI "],\"usb\":[" HAND_USB
	    "],\"mediatedDevices\":[" HAND_MDEV "]}}}}");
	const char *bad = NULL;
	cJSON *want;

	(void)state;
	assert_non_null(kv);
	/* node1 serves a vGPU type and two USB devices, one under a resource a hand-written entry
	 * permits already (not taken over). */
	assert_int_equal(apply(kv, "node1",
			       "{\"usb\":{\"kubevirt.io/n1-stick\":[\"0951:1666\"],"
			       "\"example.com/yubikey\":[\"1050:0407\"]},"
			       "\"mediatedDevices\":{\"nvidia.com/GRID_T4-1Q\":[\"GRID T4-1Q\"]}}"),
			 0);
	assert_list(kv, "pciHostDevices", "[" HAND_PCI "]");
	assert_list(
	    kv, "usb",
	    "[" HAND_USB ",{\"resourceName\":\"kubevirt.io/n1-stick\",\"selectors\":[{"
	    "\"vendor\":\"0951\",\"product\":\"1666\"}],\"externalResourceProvider\":true}]");
	assert_list(kv, "mediatedDevices",
		    "[" HAND_MDEV "," MDEV("GRID T4-1Q", "nvidia.com/GRID_T4-1Q") "]");
	/* The same again: nothing to write. */
	assert_int_equal(apply(kv, "node1",
			       "{\"usb\":{\"kubevirt.io/n1-stick\":[\"0951:1666\"],"
			       "\"example.com/yubikey\":[\"1050:0407\"]},"
			       "\"mediatedDevices\":{\"nvidia.com/GRID_T4-1Q\":[\"GRID T4-1Q\"]}}"),
			 1);
	/* node2 serves the same vGPU type (no second entry), and a USB resource of the same name as
	 * another node's with another device: one entry, both selectors. */
	assert_int_equal(apply(kv, "node2",
			       "{\"usb\":{\"kubevirt.io/n1-stick\":[\"0781:5567\"]},"
			       "\"mediatedDevices\":{\"nvidia.com/GRID_T4-1Q\":[\"GRID T4-1Q\","
			       "\"nvidia-222\"]}}"),
			 0);
	assert_list(kv, "mediatedDevices",
		    "[" HAND_MDEV "," MDEV("GRID T4-1Q", "nvidia.com/GRID_T4-1Q") "," MDEV(
			"nvidia-222", "nvidia.com/GRID_T4-1Q") "]");
	assert_list(kv, "usb",
		    "[" HAND_USB ",{\"resourceName\":\"kubevirt.io/n1-stick\",\"selectors\":[{"
		    "\"vendor\":\"0951\",\"product\":\"1666\"},{\"vendor\":\"0781\",\"product\":"
		    "\"5567\"}],\"externalResourceProvider\":true}]");
	/* node1 stops serving: what node2 serves stays. */
	assert_int_equal(apply(kv, "node1", "{\"usb\":{},\"mediatedDevices\":{}}"), 0);
	assert_list(kv, "mediatedDevices",
		    "[" HAND_MDEV "," MDEV("GRID T4-1Q", "nvidia.com/GRID_T4-1Q") "," MDEV(
			"nvidia-222", "nvidia.com/GRID_T4-1Q") "]");
	assert_list(kv, "usb",
		    "[" HAND_USB ",{\"resourceName\":\"kubevirt.io/n1-stick\",\"selectors\":[{"
		    "\"vendor\":\"0781\",\"product\":\"5567\"}],\"externalResourceProvider\":"
		    "true}]");
	/* node2 too: only the hand-written entries, and no records. */
	assert_int_equal(apply(kv, "node2", "{\"usb\":{},\"mediatedDevices\":{}}"), 0);
	assert_list(kv, "usb", "[" HAND_USB "]");
	assert_list(kv, "mediatedDevices", "[" HAND_MDEV "]");
	assert_list(kv, "pciHostDevices", "[" HAND_PCI "]");
	assert_null(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(kv, "metadata"),
					     "annotations"),
	    AGENT_KUBEVIRT_USB_ANNOTATION));
	/* A list that is not a list is refused by name; lists the node did not name are not
	 * looked at. */
	cJSON_ReplaceItemInObjectCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(kv, "spec"),
						 "configuration"),
		"permittedHostDevices"),
	    "mediatedDevices", cJSON_CreateString("oops"));
	assert_int_equal(apply(kv, "node1", "{\"usb\":{}}"), 1);
	want = cJSON_Parse("{\"mediatedDevices\":{\"nvidia.com/x\":[\"GRID T4-1Q\"]}}");
	assert_int_equal(kubevirt_apply(kv, "node1", want, &bad), -EINVAL);
	assert_string_equal(bad, "mediatedDevices");
	cJSON_Delete(want);
	cJSON_Delete(kv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_pci_objects, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sriov_objects, setup, teardown),
	    cmocka_unit_test(test_usb_strings),
	    cmocka_unit_test(test_schema_prune),
	    cmocka_unit_test_setup_teardown(test_diff, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_digest, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_desired_on_demand, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_inventory_build, setup, teardown),
	    cmocka_unit_test(test_kubevirt_lists),
	};

	log_setup(LOG_TEXT, HOSTDEV_LOG_WARNING);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
