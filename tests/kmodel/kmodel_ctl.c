/* SPDX-License-Identifier: Apache-2.0 */
/* Test-side control of the kernel model; see kmodel_ctl.h. */
#include "kmodel_ctl.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

bool kmodel_present(void)
{
	return dlsym(RTLD_DEFAULT, "hostdev_kmodel_present") != NULL;
}

static void clear_injections(void)
{
	unsetenv(KMODEL_ENV_FAIL);
	unsetenv(KMODEL_ENV_KILL_AT);
	unsetenv(KMODEL_ENV_STALL);
	unsetenv(KMODEL_ENV_NO_DEVNODE);
	unsetenv(KMODEL_ENV_DELAY);
	unsetenv(KMODEL_ENV_HOLD);
	unsetenv(KMODEL_ENV_SRIOV_LIMIT);
	unsetenv(KMODEL_ENV_SRIOV_NO_PHYSFN);
}

int kmodel_enable(struct fakeroot *root)
{
	clear_injections();
	unlink(fakeroot_abspath(root, ".kmodel/release"));
	return setenv(KMODEL_ENV_ROOT, fakeroot_path(root), 1) == 0 ? 0 : -1;
}

void kmodel_disable(void)
{
	clear_injections();
	unsetenv(KMODEL_ENV_ROOT);
}

int kmodel_vfio_loaded(struct fakeroot *root)
{
	static const char *const files[] = {"bind", "unbind", "new_id", "remove_id", "uevent"};
	char rel[256];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(rel, sizeof(rel), "sys/bus/pci/drivers/vfio-pci/%s", files[i]);
		if (fakeroot_write(root, rel, "") < 0)
			return -1;
	}
	if (fakeroot_write(root, "sys/module/vfio_pci/initstate", "live\n") < 0 ||
	    fakeroot_write(root, "sys/module/vfio_iommu_type1/initstate", "live\n") < 0 ||
	    fakeroot_write(root, "dev/vfio/vfio", "") < 0)
		return -1;
	return 0;
}

int kmodel_set_native(struct fakeroot *root, const char *address, const char *driver)
{
	char rel[256];

	snprintf(rel, sizeof(rel), ".kmodel/native/%s", address);
	return fakeroot_write(root, rel, driver);
}

int kmodel_log_count(struct fakeroot *root, const char *needle)
{
	FILE *f = fopen(fakeroot_abspath(root, ".kmodel/log"), "re");
	char line[2048];
	int n = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

bool kmodel_hold_waiting(struct fakeroot *root)
{
	return access(fakeroot_abspath(root, ".kmodel/held"), F_OK) == 0;
}

bool kmodel_hold_wait(struct fakeroot *root)
{
	struct timespec ts = {0, 5 * 1000000L};

	for (int i = 0; i < 6000 && !kmodel_hold_waiting(root); i++)
		nanosleep(&ts, NULL);
	return kmodel_hold_waiting(root);
}

void kmodel_hold_release(struct fakeroot *root)
{
	int fd;

	mkdir(fakeroot_abspath(root, ".kmodel"), 0755);
	/* Created, never written: a write below the root would go through the model. */
	fd = open(fakeroot_abspath(root, ".kmodel/release"), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0)
		close(fd);
}

static void link_base(const char *path, char *buf, size_t size)
{
	char target[PATH_MAX];
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	const char *base;

	buf[0] = '\0';
	if (n <= 0)
		return;
	target[n] = '\0';
	base = strrchr(target, '/');
	snprintf(buf, size, "%s", base ? base + 1 : target);
}

void kmodel_driver(struct fakeroot *root, const char *address, char *buf, size_t size)
{
	char rel[256];

	snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/driver", address);
	link_base(fakeroot_abspath(root, rel), buf, size);
}

void kmodel_override(struct fakeroot *root, const char *address, char *buf, size_t size)
{
	char rel[256];
	FILE *f;

	buf[0] = '\0';
	snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/driver_override", address);
	f = fopen(fakeroot_abspath(root, rel), "re");
	if (!f)
		return;
	if (fgets(buf, (int)size, f))
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

bool kmodel_devnode(struct fakeroot *root, const char *group)
{
	char rel[64];

	snprintf(rel, sizeof(rel), "dev/vfio/%s", group);
	return access(fakeroot_abspath(root, rel), F_OK) == 0;
}

int kmodel_set_vf_driver(struct fakeroot *root, const char *pf, const char *driver,
			 const char *netdev_prefix)
{
	char rel[256];

	snprintf(rel, sizeof(rel), ".kmodel/vf_driver/%s", pf);
	if (fakeroot_write(root, rel, driver) < 0)
		return -1;
	if (!netdev_prefix)
		return 0;
	snprintf(rel, sizeof(rel), ".kmodel/vf_netdev/%s", pf);
	return fakeroot_write(root, rel, netdev_prefix) < 0 ? -1 : 0;
}

int kmodel_set_vgpu_types(struct fakeroot *root, const char *pf,
			  const struct kmodel_vgpu_type *types, size_t count)
{
	char rel[256], *text = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);
	int r;

	if (!f)
		return -1;
	for (size_t i = 0; i < count; i++)
		fprintf(f, "%u %u %s\n", types[i].id, types[i].max_instances, types[i].name);
	if (fclose(f) != 0)
		return -1;
	snprintf(rel, sizeof(rel), ".kmodel/vgpu_types/%s", pf);
	r = fakeroot_write(root, rel, text) < 0 ? -1 : 0;
	free(text);
	return r;
}
