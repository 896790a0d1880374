// SPDX-License-Identifier: Apache-2.0
/*
 * vm-list-check: compare `hostdev list --json` with lspci (and with sysfs) inside the VM guest,
 * where no Python runs.
 *
 *   vm-list-check HOSTDEV_JSON LSPCI_VMM [SYSFS]
 *
 * HOSTDEV_JSON is the output of `hostdev list --json`; LSPCI_VMM the output of `lspci -vmm -nn -k
 * -D`. Per device it checks the address set, vendor/device/subsystem ids, class with prog-if,
 * revision, driver, kernel modules, IOMMU group, NUMA node and (when lspci knows them) vendor and
 * device names. With SYSFS (e.g. /sys) it also checks the SR-IOV relations (sriov_totalvfs,
 * sriov_numvfs, virtfnN, physfn), driver_override and the network interfaces against the kernel's
 * own files. Prints one "ok - ..." or "not ok - ..." line per device; exit 0 when everything
 * agrees, 1 on a disagreement (or no device at all), 2 on a usage or input error.
 */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_DEVS 512
#define MAX_MODS 8

struct lspci_dev {
	char slot[32];
	char class_id[8], progif[8], rev[8];
	char vendor[256], vendor_id[8], device[256], device_id[8];
	char svendor_id[8], sdevice_id[8];
	char driver[64];
	char modules[MAX_MODS][64];
	int nmodules;
	char iommu_group[16];
	char numa_node[16];
	bool seen;
};

static struct lspci_dev lspci[MAX_DEVS];
static int nlspci;
static int failures;

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	while (buf) {
		size_t r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
		if (r == 0)
			break;
		if (cap - n - 1 == 0) {
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	fclose(f);
	if (buf) {
		buf[n] = '\0';
		if (len)
			*len = n;
	}
	return buf;
}

/* Copy with truncation (snprintf "%s" makes gcc's -Wformat-truncation fire at -O2). */
static void copy(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* "Intel Corporation [8086]" -> name "Intel Corporation", id "8086". */
static void split_nn(const char *v, char *name, size_t nsize, char *id, size_t isize)
{
	const char *open = strrchr(v, '[');
	size_t l = strlen(v);
	if (open && l > 0 && v[l - 1] == ']') {
		size_t nl = (size_t)(open - v);
		while (nl > 0 && v[nl - 1] == ' ')
			nl--;
		snprintf(name, nsize, "%.*s", (int)nl, v);
		snprintf(id, isize, "%.*s", (int)(v + l - 1 - open - 1), open + 1);
	} else {
		copy(name, nsize, v);
		id[0] = '\0';
	}
	for (char *p = id; *p; p++)
		*p = (char)tolower((unsigned char)*p);
}

static int parse_lspci(char *text)
{
	struct lspci_dev *d = NULL;
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *tab = strstr(line, ":\t");
		if (!tab)
			continue;
		*tab = '\0';
		const char *k = line, *v = tab + 2;
		char scratch[256];
		if (strcmp(k, "Slot") == 0) {
			if (nlspci == MAX_DEVS)
				return -1;
			d = &lspci[nlspci++];
			memset(d, 0, sizeof(*d));
			copy(d->slot, sizeof(d->slot), v);
			copy(d->progif, sizeof(d->progif), "00");
			copy(d->rev, sizeof(d->rev), "00");
			continue;
		}
		if (!d)
			continue;
		if (strcmp(k, "Class") == 0)
			split_nn(v, scratch, sizeof(scratch), d->class_id, sizeof(d->class_id));
		else if (strcmp(k, "Vendor") == 0)
			split_nn(v, d->vendor, sizeof(d->vendor), d->vendor_id,
				 sizeof(d->vendor_id));
		else if (strcmp(k, "Device") == 0)
			split_nn(v, d->device, sizeof(d->device), d->device_id,
				 sizeof(d->device_id));
		else if (strcmp(k, "SVendor") == 0)
			split_nn(v, scratch, sizeof(scratch), d->svendor_id, sizeof(d->svendor_id));
		else if (strcmp(k, "SDevice") == 0)
			split_nn(v, scratch, sizeof(scratch), d->sdevice_id, sizeof(d->sdevice_id));
		else if (strcmp(k, "Rev") == 0)
			copy(d->rev, sizeof(d->rev), v);
		else if (strcmp(k, "ProgIf") == 0)
			copy(d->progif, sizeof(d->progif), v);
		else if (strcmp(k, "Driver") == 0)
			copy(d->driver, sizeof(d->driver), v);
		else if (strcmp(k, "Module") == 0 && d->nmodules < MAX_MODS)
			copy(d->modules[d->nmodules++], sizeof(d->modules[0]), v);
		else if (strcmp(k, "IOMMUGroup") == 0)
			copy(d->iommu_group, sizeof(d->iommu_group), v);
		else if (strcmp(k, "NUMANode") == 0)
			copy(d->numa_node, sizeof(d->numa_node), v);
	}
	return 0;
}

static struct lspci_dev *find_lspci(const char *addr)
{
	for (int i = 0; i < nlspci; i++)
		if (strcmp(lspci[i].slot, addr) == 0)
			return &lspci[i];
	return NULL;
}

/* A JSON member as a string for comparison: null/missing -> "", number -> decimal, string as is. */
static const char *jstr(const cJSON *obj, const char *key, char *buf, size_t size)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (cJSON_IsString(v))
		copy(buf, size, v->valuestring);
	else if (cJSON_IsNumber(v))
		snprintf(buf, size, "%d", v->valueint);
	else if (cJSON_IsBool(v))
		copy(buf, size, cJSON_IsTrue(v) ? "true" : "false");
	else if (v && !cJSON_IsNull(v))
		copy(buf, size, "<unexpected type>");
	else
		buf[0] = '\0';
	return buf;
}

struct report {
	char text[4096];
	size_t len;
	int bad;
};

static void mismatch(struct report *r, const char *field, const char *ours, const char *theirs,
		     const char *who)
{
	r->bad++;
	int n = snprintf(r->text + r->len, sizeof(r->text) - r->len,
			 "#   %s: hostdev '%s', %s '%s'\n", field, ours, who, theirs);
	if (n > 0 && (size_t)n < sizeof(r->text) - r->len)
		r->len += (size_t)n;
}

static void expect(struct report *r, const char *field, const char *ours, const char *theirs,
		   const char *who)
{
	if (strcasecmp(ours, theirs) != 0)
		mismatch(r, field, ours, theirs, who);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

static void check_modules(struct report *r, const cJSON *dev, struct lspci_dev *l)
{
	char ours[512] = "", theirs[512] = "";
	const cJSON *mods = cJSON_GetObjectItemCaseSensitive(dev, "modules");
	char names[MAX_MODS][64];
	int n = 0;
	const cJSON *m;
	cJSON_ArrayForEach(m, mods)
	{
		if (cJSON_IsString(m) && n < MAX_MODS)
			copy(names[n++], sizeof(names[0]), m->valuestring);
	}
	qsort(names, (size_t)n, sizeof(names[0]), cmp_str);
	for (int i = 0; i < n; i++)
		snprintf(ours + strlen(ours), sizeof(ours) - strlen(ours), "%s%s", i ? " " : "",
			 names[i]);
	qsort(l->modules, (size_t)l->nmodules, sizeof(l->modules[0]), cmp_str);
	for (int i = 0; i < l->nmodules; i++)
		snprintf(theirs + strlen(theirs), sizeof(theirs) - strlen(theirs), "%s%s",
			 i ? " " : "", l->modules[i]);
	expect(r, "modules", ours, theirs, "lspci");
}

/* lspci prints "Device"/"Vendor" (or a cut name ending in "...") when pci.ids has no entry. */
static void check_name(struct report *r, const char *field, const cJSON *dev, const char *theirs)
{
	char ours[256];
	jstr(dev, field, ours, sizeof(ours));
	size_t tl = strlen(theirs);
	if (tl >= 3 && strcmp(theirs + tl - 3, "...") == 0)
		return;
	if (ours[0] == '\0') {
		if (strcmp(theirs, "Device") != 0 && strcmp(theirs, "Vendor") != 0 &&
		    strncmp(theirs, "Unknown", 7) != 0)
			mismatch(r, field, "(null)", theirs, "lspci");
		return;
	}
	expect(r, field, ours, theirs, "lspci");
}

static bool read_attr(const char *sysfs, const char *addr, const char *attr, char *buf, size_t size)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/%s", sysfs, addr, attr);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	if (!fgets(buf, (int)size, f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return true;
}

static bool read_link_base(const char *sysfs, const char *addr, const char *link, char *buf,
			   size_t size)
{
	char path[PATH_MAX], target[PATH_MAX];
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/%s", sysfs, addr, link);
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = '\0';
	const char *base = strrchr(target, '/');
	copy(buf, size, base ? base + 1 : target);
	return true;
}

/* Append the interface names under <dev>[/SUB]/net to LIST (space separated). */
static void list_netdevs(const char *sysfs, const char *addr, const char *sub, char *list,
			 size_t size)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/%s%snet", sysfs, addr, sub,
		 sub[0] ? "/" : "");
	DIR *d = opendir(path);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			snprintf(list + strlen(list), size - strlen(list), "%s%s",
				 list[0] ? " " : "", e->d_name);
	closedir(d);
}

static void check_sysfs(struct report *r, const cJSON *dev, const char *sysfs, const char *addr)
{
	char ours[256], theirs[256], attr[64];
	const cJSON *sriov = cJSON_GetObjectItemCaseSensitive(dev, "sriov");

	/* driver_override: "(null)" in sysfs is JSON null */
	if (read_attr(sysfs, addr, "driver_override", theirs, sizeof(theirs))) {
		if (strcmp(theirs, "(null)") == 0)
			theirs[0] = '\0';
		expect(r, "driver_override", jstr(dev, "driver_override", ours, sizeof(ours)),
		       theirs, "sysfs");
	}

	/* PF side */
	bool is_pf = read_attr(sysfs, addr, "sriov_totalvfs", theirs, sizeof(theirs));
	expect(r, "sriov.is_pf", jstr(sriov, "is_pf", ours, sizeof(ours)), is_pf ? "true" : "false",
	       "sysfs");
	if (is_pf) {
		expect(r, "sriov.total_vfs", jstr(sriov, "total_vfs", ours, sizeof(ours)), theirs,
		       "sysfs");
		read_attr(sysfs, addr, "sriov_numvfs", theirs, sizeof(theirs));
		expect(r, "sriov.num_vfs", jstr(sriov, "num_vfs", ours, sizeof(ours)), theirs,
		       "sysfs");
		const cJSON *vfs = cJSON_GetObjectItemCaseSensitive(sriov, "vfs");
		int nvfs = cJSON_GetArraySize(vfs);
		int i = 0;
		for (;; i++) {
			snprintf(attr, sizeof(attr), "virtfn%d", i);
			if (!read_link_base(sysfs, addr, attr, theirs, sizeof(theirs)))
				break;
			/* the entry {"number": i, "address": ...} */
			const cJSON *vf;
			ours[0] = '\0';
			cJSON_ArrayForEach(vf, vfs)
			{
				char num[16];
				if (atoi(jstr(vf, "number", num, sizeof(num))) == i)
					jstr(vf, "address", ours, sizeof(ours));
			}
			expect(r, attr, ours, theirs, "sysfs");
		}
		snprintf(theirs, sizeof(theirs), "%d", i);
		snprintf(ours, sizeof(ours), "%d", nvfs);
		expect(r, "number of sriov.vfs", ours, theirs, "sysfs virtfn links");
	}

	/* VF side */
	bool is_vf = read_link_base(sysfs, addr, "physfn", theirs, sizeof(theirs));
	expect(r, "is_vf", jstr(dev, "is_vf", ours, sizeof(ours)), is_vf ? "true" : "false",
	       "sysfs");
	expect(r, "pf_address", jstr(dev, "pf_address", ours, sizeof(ours)), is_vf ? theirs : "",
	       "sysfs");

	/* network interfaces: <dev>/net/<if> and, for virtio, <dev>/virtioN/net/<if> */
	char want[256] = "", got[256] = "";
	list_netdevs(sysfs, addr, "", want, sizeof(want));
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s", sysfs, addr);
	DIR *d = opendir(path);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)))
			if (strncmp(e->d_name, "virtio", 6) == 0 &&
			    isdigit((unsigned char)e->d_name[6]))
				list_netdevs(sysfs, addr, e->d_name, want, sizeof(want));
		closedir(d);
	}
	const cJSON *nd;
	cJSON_ArrayForEach(nd, cJSON_GetObjectItemCaseSensitive(dev, "netdevs"))
	{
		const char *name =
		    cJSON_IsString(nd) ? nd->valuestring : jstr(nd, "name", ours, sizeof(ours));
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", got[0] ? " " : "",
			 name ? name : "");
	}
	expect(r, "netdevs", got, want, "sysfs");
}

static void check_device(const cJSON *dev, const char *sysfs)
{
	char addr[64], buf[256], cls[16];
	struct report r = {.len = 0, .bad = 0};
	jstr(dev, "address", addr, sizeof(addr));
	struct lspci_dev *l = find_lspci(addr);
	if (!l) {
		printf("not ok - %s: listed by hostdev, not by lspci\n", addr);
		failures++;
		return;
	}
	l->seen = true;
	expect(&r, "vendor_id", jstr(dev, "vendor_id", buf, sizeof(buf)), l->vendor_id, "lspci");
	expect(&r, "device_id", jstr(dev, "device_id", buf, sizeof(buf)), l->device_id, "lspci");
	expect(&r, "subsystem_vendor_id", jstr(dev, "subsystem_vendor_id", buf, sizeof(buf)),
	       l->svendor_id[0] ? l->svendor_id : "0000", "lspci");
	expect(&r, "subsystem_device_id", jstr(dev, "subsystem_device_id", buf, sizeof(buf)),
	       l->sdevice_id[0] ? l->sdevice_id : "0000", "lspci");
	snprintf(cls, sizeof(cls), "%s%s", l->class_id, l->progif);
	expect(&r, "class", jstr(dev, "class", buf, sizeof(buf)), cls, "lspci");
	expect(&r, "revision", jstr(dev, "revision", buf, sizeof(buf)), l->rev, "lspci");
	expect(&r, "driver", jstr(dev, "driver", buf, sizeof(buf)), l->driver, "lspci");
	expect(&r, "iommu_group", jstr(dev, "iommu_group", buf, sizeof(buf)), l->iommu_group,
	       "lspci");
	jstr(dev, "numa_node", buf, sizeof(buf));
	if (strcmp(buf, "-1") == 0)
		buf[0] = '\0';
	expect(&r, "numa_node", buf, l->numa_node, "lspci");
	check_modules(&r, dev, l);
	check_name(&r, "vendor_name", dev, l->vendor);
	check_name(&r, "device_name", dev, l->device);
	if (sysfs)
		check_sysfs(&r, dev, sysfs, addr);
	if (r.bad) {
		printf("not ok - %s %s:%s agrees with lspci%s\n%s", addr, l->vendor_id,
		       l->device_id, sysfs ? " and sysfs" : "", r.text);
		failures++;
	} else {
		printf("ok - %s %s:%s class %s driver %s group %s agrees with lspci%s\n", addr,
		       l->vendor_id, l->device_id, cls, l->driver[0] ? l->driver : "(none)",
		       l->iommu_group[0] ? l->iommu_group : "(none)", sysfs ? " and sysfs" : "");
	}
}

int main(int argc, char **argv)
{
	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: %s HOSTDEV_JSON LSPCI_VMM [SYSFS]\n", argv[0]);
		return 2;
	}
	char *json = read_file(argv[1], NULL);
	char *vmm = read_file(argv[2], NULL);
	if (!json || !vmm) {
		fprintf(stderr, "vm-list-check: cannot read %s: %s\n", json ? argv[2] : argv[1],
			strerror(errno));
		return 2;
	}
	if (parse_lspci(vmm) < 0) {
		fprintf(stderr, "vm-list-check: more than %d devices in %s\n", MAX_DEVS, argv[2]);
		return 2;
	}
	cJSON *doc = cJSON_Parse(json);
	if (!doc) {
		fprintf(stderr, "vm-list-check: %s is not JSON\n", argv[1]);
		return 2;
	}
	const cJSON *devs = cJSON_GetObjectItemCaseSensitive(doc, "devices");
	if (!cJSON_IsArray(devs)) {
		fprintf(stderr, "vm-list-check: %s has no \"devices\" array\n", argv[1]);
		return 2;
	}
	int n = 0;
	const cJSON *dev;
	cJSON_ArrayForEach(dev, devs)
	{
		check_device(dev, argc == 4 ? argv[3] : NULL);
		n++;
	}
	for (int i = 0; i < nlspci; i++) {
		if (!lspci[i].seen) {
			printf("not ok - %s: listed by lspci, not by hostdev\n", lspci[i].slot);
			failures++;
		}
	}
	if (n == 0) {
		printf("not ok - hostdev listed no device at all\n");
		failures++;
	}
	printf("# %d devices from hostdev, %d from lspci, %d disagreements\n", n, nlspci, failures);
	cJSON_Delete(doc);
	free(json);
	free(vmm);
	return failures ? 1 : 0;
}
