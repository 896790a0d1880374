/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vfio-pci and vfio_iommu_type1 through libkmod: present (loaded or built in), loadable,
 * blacklisted or missing. Never runs modprobe or a shell: install commands of modprobe.d are
 * ignored (KMOD_PROBE_IGNORE_COMMAND), so a configuration that only works through one is reported
 * instead.
 *
 * Module configuration (blacklists) is read from libkmod's usual directories on a real system. When
 * the context points below a fake root (HOSTDEV_PATH_CONFIG is not /etc/hostdev), it is read from
 * the modprobe.d directory next to the config directory (<root>/etc/modprobe.d), so that tests and
 * chroots see their own configuration and never the host's.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "pci/pci.h"
#include "vfio.h"

#define DEFAULT_CONFIG_DIR "/etc/hostdev"

static bool sysfs_dir_exists(hostdev_ctx *ctx, const char *rel)
{
	char path[PATH_MAX];
	struct stat st;

	if (path_join(path, sizeof(path), ctx_sysfs(ctx), rel) < 0)
		return false;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool vfio_driver_present(hostdev_ctx *ctx)
{
	return sysfs_dir_exists(ctx, "bus/pci/drivers/" HOSTDEV_VFIO_DRIVER);
}

/* "vfio-pci" -> "vfio_pci", the name under /sys/module. */
static void module_sysfs_name(const char *name, char *buf, size_t size)
{
	size_t i;

	for (i = 0; name[i] && i + 1 < size; i++)
		buf[i] = name[i] == '-' ? '_' : name[i];
	buf[i] = '\0';
}

static bool module_present(hostdev_ctx *ctx, const char *name)
{
	char rel[128], mod[64];

	if (strcmp(name, HOSTDEV_VFIO_DRIVER) == 0 && vfio_driver_present(ctx))
		return true;
	module_sysfs_name(name, mod, sizeof(mod));
	snprintf(rel, sizeof(rel), "module/%s", mod);
	return sysfs_dir_exists(ctx, rel);
}

static void kmod_log(void *data, int priority, const char *file, int line, const char *fn,
		     const char *format, va_list args)
{
	char message[512];
	size_t n;

	vsnprintf(message, sizeof(message), format, args);
	n = strlen(message);
	if (n > 0 && message[n - 1] == '\n')
		message[n - 1] = '\0';
	hostdev_log(data, HOSTDEV_LOG_DEBUG, "libkmod: %s", message);
}

/*
 * A libkmod context for loading, with the module dir and the (rooted) configuration. NULL when
 * libkmod cannot be loaded (-ELIBACC, *@error says why) or cannot make a context (-ENOMEM).
 */
static struct kmod_ctx *kmod_for(hostdev_ctx *ctx, const struct pci_kmod *k)
{
	const char *modules = ctx->paths[HOSTDEV_PATH_MODULES];
	const char *config = ctx->paths[HOSTDEV_PATH_CONFIG];
	char confdir[PATH_MAX];
	const char *config_paths[2] = {confdir, NULL};
	struct kmod_ctx *kmod;

	if (strcmp(config, DEFAULT_CONFIG_DIR) == 0) {
		kmod = k->new_ctx(modules[0] ? modules : NULL, NULL);
	} else {
		const char *slash = strrchr(config, '/');
		size_t len = slash ? (size_t)(slash - config) : 0;

		if (len + sizeof("/modprobe.d") > sizeof(confdir))
			return NULL;
		memcpy(confdir, config, len);
		memcpy(confdir + len, "/modprobe.d", sizeof("/modprobe.d"));
		kmod = k->new_ctx(modules[0] ? modules : NULL, config_paths);
	}
	if (kmod)
		k->set_log_fn(kmod, kmod_log, ctx);
	return kmod;
}

/*
 * Look @name up. Returns 1 built in, 0 loadable (*@out set), -ENOENT, -EPERM (blacklisted), with
 * @detail describing the finding.
 */
static int lookup(const struct pci_kmod *k, struct kmod_ctx *kmod, const char *name,
		  struct kmod_module **out, char *detail, size_t size, char *remedy, size_t rsize)
{
	struct kmod_list *list = NULL, *filtered = NULL;
	struct kmod_module *mod;
	int r;

	r = k->module_new_from_lookup(kmod, name, &list);
	if (r < 0 || !list) {
		snprintf(detail, size, "module %s is not installed for this kernel (%s)", name,
			 k->get_dirname(kmod));
		snprintf(remedy, rsize,
			 "install the kernel's module package (vfio is in the main modules "
			 "package of most distributions), or point the context's "
			 "HOSTDEV_PATH_MODULES path at the modules");
		return -ENOENT;
	}
	mod = k->module_get_module(list);
	if (k->module_get_initstate(mod) == KMOD_MODULE_BUILTIN) {
		snprintf(detail, size, "%s is built into the kernel", name);
		k->module_unref(mod);
		k->module_unref_list(list);
		return 1;
	}
	r = k->module_apply_filter(kmod, KMOD_FILTER_BLACKLIST, list, &filtered);
	k->module_unref_list(list);
	if (r >= 0 && !filtered) {
		snprintf(detail, size, "module %s is blacklisted in the modprobe configuration",
			 name);
		snprintf(remedy, rsize,
			 "remove the 'blacklist %s' line (grep -r %s /etc/modprobe.d "
			 "/lib/modprobe.d) if it should be used",
			 k->module_get_name(mod), k->module_get_name(mod));
		k->module_unref(mod);
		return -EPERM;
	}
	k->module_unref_list(filtered);
	snprintf(detail, size, "%s is available (%s)", name,
		 k->module_get_path(mod) ? k->module_get_path(mod) : "loadable");
	*out = mod;
	return 0;
}

int vfio_module_state(hostdev_ctx *ctx, const char *name, char *detail, size_t size, char *remedy,
		      size_t rsize)
{
	struct kmod_module *mod = NULL;
	const struct pci_kmod *k;
	const char *error;
	struct kmod_ctx *kmod;
	int r;

	remedy[0] = '\0';
	if (module_present(ctx, name)) {
		snprintf(detail, size, "%s is loaded", name);
		return 1;
	}
	if (!(k = pci_kmod(&error))) {
		snprintf(detail, size, "cannot look %s up: %s", name, error);
		snprintf(remedy, rsize,
			 "install libkmod, the library kernel modules are looked up with (Debian: "
			 "libkmod2)");
		return -ELIBACC;
	}
	kmod = kmod_for(ctx, k);
	if (!kmod) {
		snprintf(detail, size, "cannot create a libkmod context to look %s up", name);
		return -ENOMEM;
	}
	r = lookup(k, kmod, name, &mod, detail, size, remedy, rsize);
	k->module_unref(mod);
	k->unref(kmod);
	if (r == 1) {
		/* Built in but not registered: the kernel has it under another name or not at all.
		 */
		snprintf(detail, size, "%s is built into the kernel but not registered in %s", name,
			 ctx_sysfs(ctx));
		return 1;
	}
	return r;
}

/* Load @name unless present. Returns 0 present, 1 loaded, negative errno with the message set. */
static int load_one(hostdev_ctx *ctx, const char *name)
{
	struct kmod_module *mod = NULL;
	const struct pci_kmod *k;
	const char *error;
	struct kmod_ctx *kmod;
	char detail[512], remedy[512] = "";
	int r;

	if (module_present(ctx, name))
		return 0;
	if (!(k = pci_kmod(&error)))
		return hostdev_error(ctx, -ELIBACC, "cannot load module %s: %s", name, error);
	kmod = kmod_for(ctx, k);
	if (!kmod)
		return hostdev_error(ctx, -ENOMEM, "cannot create a libkmod context to load %s",
				     name);
	r = lookup(k, kmod, name, &mod, detail, sizeof(detail), remedy, sizeof(remedy));
	if (r == 1) {
		k->unref(kmod);
		if (module_present(ctx, name))
			return 0;
		return hostdev_error(ctx, -ENODEV,
				     "%s is built into the kernel but did not register (nothing in "
				     "%s/bus/pci/drivers): check the kernel configuration",
				     name, ctx_sysfs(ctx));
	}
	if (r < 0) {
		k->unref(kmod);
		return hostdev_error(ctx, r, "%s: %s", detail, remedy);
	}
	r = k->module_probe_insert_module(mod, KMOD_PROBE_IGNORE_COMMAND, NULL, NULL, NULL, NULL);
	k->module_unref(mod);
	k->unref(kmod);
	if (r < 0)
		return hostdev_error(ctx, r, "cannot load module %s (%s)%s", name, strerror(-r),
				     r == -EPERM ? ": loading modules needs root (CAP_SYS_MODULE) "
						   "and a kernel that allows it"
						 : "");
	if (r > 0)
		return hostdev_error(
		    ctx, -EPERM,
		    "module %s was not loaded: the modprobe configuration blacklists "
		    "it or requires an install command",
		    name);
	log_info(ctx, "loaded kernel module %s", name);
	return 1;
}

HOSTDEV_EXPORT int hostdev_vfio_load_modules(hostdev_ctx *ctx)
{
	int r, loaded = 0;

	if (!ctx)
		return -EINVAL;
	r = load_one(ctx, HOSTDEV_VFIO_DRIVER);
	if (r < 0)
		return r;
	loaded |= r;
	if (!vfio_driver_present(ctx))
		return hostdev_error(
		    ctx, -ENODEV,
		    "module vfio-pci is loaded but %s/bus/pci/drivers/vfio-pci does "
		    "not exist: check the kernel log",
		    ctx_sysfs(ctx));
	/*
	 * The type1 IOMMU backend is what users open through /dev/vfio/vfio. A bind works without
	 * it (iommufd-only kernels do not have it), so its absence is a warning, and preflight says
	 * so.
	 */
	r = load_one(ctx, "vfio_iommu_type1");
	if (r < 0) {
		log_warn(ctx, "%s", hostdev_ctx_get_error(ctx));
		hostdev_clear_error(ctx);
	} else {
		loaded |= r;
	}
	return loaded;
}
