/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the agent's DRA pieces that need no API server: the device entries of the fake
 * server tree (tests/lib/server_tree.h) as ResourceSlices carry them, device names to addresses
 * and back, the allocation results a ResourceClaim gives this driver (and the kubelet's error
 * sentences), and the checkpoint on disk (atomic replacement, refusal of what is not ours).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent.h"
#include "fakeroot.h"
#include "server_tree.h"

static void test_device_names(void **state)
{
	char name[64], addr[32];

	assert_int_equal(dra_device_name("0000:08:00.0", name, sizeof(name)), 0);
	assert_string_equal(name, "pci-0000-08-00-0");
	assert_int_equal(dra_device_name("0000:AF:1f.7", name, sizeof(name)), 0);
	assert_string_equal(name, "pci-0000-af-1f-7");
	assert_int_equal(dra_device_address("pci-0000-af-1f-7", addr, sizeof(addr)), 0);
	assert_string_equal(addr, "0000:af:1f.7");
	/* Only the exact names the agent makes. */
	assert_int_equal(dra_device_address("pci-0000-AF-1f-7", addr, sizeof(addr)), -EINVAL);
	assert_int_equal(dra_device_address("pci-0000-af-1f-8", addr, sizeof(addr)), -EINVAL);
	assert_int_equal(dra_device_address("pci-0000-af-20-0", addr, sizeof(addr)), -EINVAL);
	assert_int_equal(dra_device_address("pci-0000-af-1f-7x", addr, sizeof(addr)), -EINVAL);
	assert_int_equal(dra_device_address("gpu-0", addr, sizeof(addr)), -EINVAL);
	assert_int_equal(dra_device_name("0000:08:00.0", name, 10), -ENAMETOOLONG);
}

static void test_device_entries(void **state)
{
	struct fakeroot *root = fakeroot_new();
	hostdev_ctx *ctx = NULL;
	cJSON *list = NULL, *e;
	const char *prev = "";
	int n = 0;

	assert_non_null(root);
	assert_int_equal(server_tree_build(root), 0);
	assert_int_equal(hostdev_ctx_new(&ctx), 0);
	assert_int_equal(hostdev_ctx_set_root(ctx, fakeroot_path(root)), 0);
	assert_int_equal(hostdev_ctx_set_path(ctx, HOSTDEV_PATH_PCI_IDS, HOSTDEV_TEST_PCI_IDS), 0);
	assert_int_equal(dra_devices(ctx, NULL, &list), 0);
	cJSON_ArrayForEach(e, list)
	{
		const char *name = cJSON_GetObjectItemCaseSensitive(e, "name")->valuestring;
		const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(e, "attributes");
		const cJSON *bus = cJSON_GetObjectItemCaseSensitive(attrs, DRA_ATTR_PCI_BUS_ID);
		char again[64];
		hostdev_pci_device *dev = NULL;

		/* sorted, unique, named after the address */
		assert_true(strcmp(prev, name) < 0);
		prev = name;
		assert_non_null(bus);
		assert_int_equal(
		    dra_device_name(cJSON_GetObjectItemCaseSensitive(bus, "string")->valuestring,
				    again, sizeof(again)),
		    0);
		assert_string_equal(again, name);
		assert_int_equal(
		    hostdev_pci_device_new(
			ctx, cJSON_GetObjectItemCaseSensitive(bus, "string")->valuestring, &dev),
		    0);
		assert_false(hostdev_pci_device_is_bridge(dev));
		/* nor a host or ISA bridge: the tree has both, which the library would bind */
		assert_int_not_equal(hostdev_pci_device_get_class(dev) >> 16, 0x06);
		assert_int_equal(cJSON_GetObjectItemCaseSensitive(
				     cJSON_GetObjectItemCaseSensitive(attrs, "numaNode"), "int")
				     ->valueint,
				 hostdev_pci_device_get_numa_node(dev));
		assert_int_equal(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
				     cJSON_GetObjectItemCaseSensitive(attrs, "sriovVF"), "bool")),
				 hostdev_pci_device_is_sriov_vf(dev) > 0);
		/* every value one of the API's types, strings within its 64 bytes */
		for (const cJSON *a = attrs->child; a; a = a->next) {
			const cJSON *s = cJSON_GetObjectItemCaseSensitive(a, "string");

			assert_int_equal(cJSON_GetArraySize(a), 1);
			if (s)
				assert_true(strlen(s->valuestring) <= 64);
		}
		assert_true(cJSON_GetArraySize(attrs) <= 32);
		hostdev_pci_device_unref(dev);
		n++;
	}
	assert_true(n > 3);
	cJSON_Delete(list);
	hostdev_ctx_unref(ctx);
	fakeroot_free(root);
}

static cJSON *claim(const char *uid, const char *results)
{
	char text[4096];

	snprintf(text, sizeof(text),
		 "{\"metadata\":{\"namespace\":\"vms\",\"name\":\"c1\",\"uid\":\"%s\"},"
		 "\"status\":%s}",
		 uid, results);
	return cJSON_Parse(text);
}

static void test_claim_devices(void **state)
{
	struct dra_claim_device *devs;
	size_t n;
	char err[512];
	cJSON *c =
	    claim("u1", "{\"allocation\":{\"devices\":{\"results\":["
			"{\"request\":\"nic\",\"driver\":\"vfio.hostdev.io\",\"pool\":\"node1\","
			"\"device\":\"pci-0000-08-00-0\"},"
			"{\"request\":\"gpu\",\"driver\":\"gpu.example.com\",\"pool\":\"node1\","
			"\"device\":\"gpu-0\"},"
			"{\"request\":\"nic\",\"driver\":\"vfio.hostdev.io\",\"pool\":\"node1\","
			"\"device\":\"pci-0000-09-00-1\"}]}}}");

	assert_int_equal(
	    dra_claim_devices(c, "u1", "vfio.hostdev.io", "node1", &devs, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 2); /* the other driver's device is not ours */
	assert_string_equal(devs[0].request, "nic");
	assert_string_equal(devs[0].address, "0000:08:00.0");
	assert_string_equal(devs[1].device, "pci-0000-09-00-1");
	assert_string_equal(devs[1].address, "0000:09:00.1");
	dra_claim_devices_free(devs, n);
	/* the kubelet's uid is another claim's */
	assert_int_equal(
	    dra_claim_devices(c, "u2", "vfio.hostdev.io", "node1", &devs, &n, err, sizeof(err)),
	    -ESTALE);
	assert_non_null(strstr(err, "ResourceClaim vms/c1 has uid u1, not u2"));
	/* another node's pool */
	assert_int_equal(
	    dra_claim_devices(c, "u1", "vfio.hostdev.io", "node2", &devs, &n, err, sizeof(err)),
	    -EXDEV);
	assert_non_null(strstr(err, "allocated from pool node1, but this node's pool is node2"));
	cJSON_Delete(c);
	c = claim("u1", "{}");
	assert_int_equal(
	    dra_claim_devices(c, "u1", "vfio.hostdev.io", "node1", &devs, &n, err, sizeof(err)),
	    -EAGAIN);
	assert_non_null(strstr(err, "ResourceClaim vms/c1 is not allocated"));
	cJSON_Delete(c);
	c = claim("u1",
		  "{\"allocation\":{\"devices\":{\"results\":[{\"request\":\"nic\","
		  "\"driver\":\"vfio.hostdev.io\",\"pool\":\"node1\",\"device\":\"gpu-0\"}]}}}");
	assert_int_equal(
	    dra_claim_devices(c, "u1", "vfio.hostdev.io", "node1", &devs, &n, err, sizeof(err)),
	    -EINVAL);
	assert_non_null(strstr(err, "device gpu-0 is not a device this driver publishes"));
	cJSON_Delete(c);
	/* allocated, but nothing of ours: nothing to prepare, not an error */
	c = claim("u1", "{\"allocation\":{\"devices\":{\"results\":[]}}}");
	assert_int_equal(
	    dra_claim_devices(c, "u1", "vfio.hostdev.io", "node1", &devs, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	cJSON_Delete(c);
}

static char *tmpdir(void)
{
	char *d = strdup("/tmp/hostdev-dra-unit-XXXXXX");

	assert_non_null(d);
	assert_non_null(mkdtemp(d));
	return d;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 65536);

	assert_non_null(f);
	assert_non_null(buf);
	assert_true(fread(buf, 1, 65535, f) > 0);
	fclose(f);
	return buf;
}

static void test_checkpoint(void **state)
{
	char *dir = tmpdir(), path[512], tmp[520], err[512];
	struct dra_checkpoint *cp = NULL, *again = NULL;
	struct dra_claim_device dev = {.request = "nic",
				       .pool = "node1",
				       .device = "pci-0000-08-00-0",
				       .address = "0000:08:00.0"};
	const cJSON *e;
	FILE *f;

	snprintf(path, sizeof(path), "%s/checkpoint.json", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	/* missing file: empty */
	assert_int_equal(dra_checkpoint_load(path, &cp, err, sizeof(err)), 0);
	assert_int_equal(dra_checkpoint_count(cp), 0);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(dra_checkpoint_set(cp, "u1", "vms", "c1", DRA_CLAIM_PREPARING, &dev, 1,
					    err, sizeof(err)),
			 0);
	assert_int_equal(access(tmp, F_OK), -1); /* renamed over, nothing left behind */
	assert_int_equal(dra_checkpoint_set_state(cp, "u1", DRA_CLAIM_PREPARED, err, sizeof(err)),
			 0);
	assert_int_equal(dra_checkpoint_set(cp, "u2", "vms", "c2", DRA_CLAIM_UNPREPARING, NULL, 0,
					    err, sizeof(err)),
			 0);
	assert_int_equal(dra_checkpoint_set_state(cp, "u9", DRA_CLAIM_PREPARED, err, sizeof(err)),
			 -ENOENT);
	/* what a restart reads back */
	assert_int_equal(dra_checkpoint_load(path, &again, err, sizeof(err)), 0);
	assert_int_equal(dra_checkpoint_count(again), 2);
	e = dra_checkpoint_get(again, "u1");
	assert_non_null(e);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(e, "state")->valuestring,
			    DRA_CLAIM_PREPARED);
	assert_string_equal(
	    cJSON_GetObjectItemCaseSensitive(
		cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(e, "devices"), 0), "address")
		->valuestring,
	    "0000:08:00.0");
	dra_checkpoint_free(again);
	assert_int_equal(dra_checkpoint_remove(cp, "u2", err, sizeof(err)), 0);
	assert_int_equal(dra_checkpoint_remove(cp, "u2", err, sizeof(err)), 0);
	{
		char *text = slurp(path);

		assert_null(strstr(text, "u2"));
		assert_non_null(strstr(text, "\"u1\""));
		free(text);
	}
	/* a write that fails keeps memory as the disk is: the directory is read-only now */
	if (geteuid() != 0) {
		assert_int_equal(chmod(dir, 0500), 0);
		assert_true(dra_checkpoint_set(cp, "u3", "vms", "c3", DRA_CLAIM_PREPARING, NULL, 0,
					       err, sizeof(err)) < 0);
		assert_null(dra_checkpoint_get(cp, "u3"));
		assert_int_equal(chmod(dir, 0700), 0);
	}
	/* the temporary file's name taken by a directory: the rename cannot happen */
	assert_int_equal(mkdir(tmp, 0700), 0);
	assert_true(dra_checkpoint_set(cp, "u3", "vms", "c3", DRA_CLAIM_PREPARING, NULL, 0, err,
				       sizeof(err)) < 0);
	assert_non_null(strstr(err, "cannot write the DRA checkpoint"));
	assert_null(dra_checkpoint_get(cp, "u3"));
	assert_non_null(dra_checkpoint_get(cp, "u1"));
	assert_int_equal(rmdir(tmp), 0);
	dra_checkpoint_free(cp);
	/* not ours, or damaged: refused, and the file is left as it is */
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"version\": 7, \"claims\": {}}", f);
	fclose(f);
	assert_int_equal(dra_checkpoint_load(path, &cp, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "is not a version 1 checkpoint"));
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"version\": 1, \"claims\": {\"u1\": {\"namespace\": \"vms\", \"state\": "
	      "\"prepared\", \"devices\": []}}}",
	      f);
	fclose(f);
	assert_int_equal(dra_checkpoint_load(path, &cp, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "the entry of claim u1 lacks"));
	{
		char *text = slurp(path);

		assert_non_null(strstr(text, "\"namespace\": \"vms\""));
		free(text);
	}
	unlink(path);
	rmdir(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_device_names),
	    cmocka_unit_test(test_device_entries),
	    cmocka_unit_test(test_claim_devices),
	    cmocka_unit_test(test_checkpoint),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
