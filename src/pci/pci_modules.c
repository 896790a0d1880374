/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kernel modules able to drive a device: its modalias looked up through libkmod, the way `lspci -k`
 * finds "Kernel modules:". The kmod context is owned by the hostdev context and created on first
 * use; libkmod itself is loaded then (pci_kmod.c). Without it, or without a context, devices list
 * no modules and a warning says why, once per hostdev context.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pci.h"

/* libkmod logs to stderr by default; route its messages to our callback at debug priority. */
static void __attribute__((format(printf, 6, 0)))
kmod_log_to_ctx(void *data, int priority, const char *file, int line, const char *fn,
		const char *format, va_list args)
{
	hostdev_ctx *ctx = data;
	char message[512];
	size_t n;

	vsnprintf(message, sizeof(message), format, args);
	n = strlen(message);
	if (n > 0 && message[n - 1] == '\n')
		message[n - 1] = '\0';
	hostdev_log(ctx, HOSTDEV_LOG_DEBUG, "libkmod: %s", message);
}

static void kmod_release(void *data)
{
	/* Only a context made through the table is ever cached, so the table is loaded. */
	pci_kmod(NULL)->unref(data);
}

static const struct ctx_cache_type kmod_cache = {
    .name = "libkmod context",
    .release = kmod_release,
    .paths = CTX_CACHE_PATH(HOSTDEV_PATH_MODULES),
};

struct kmod_ctx *ctx_kmod(hostdev_ctx *ctx)
{
	const char *dir = ctx->paths[HOSTDEV_PATH_MODULES];
	const struct pci_kmod *k;
	const char *error;
	struct kmod_ctx *kmod;
	void *cached;
	int r;

	if (ctx_cache_get(ctx, &kmod_cache, &cached))
		return cached;
	if (!(k = pci_kmod(&error))) {
		ctx_cache_set(ctx, &kmod_cache, NULL);
		log_warn(ctx, "%s: kernel modules will not be listed", error);
		return NULL;
	}
	kmod = k->new_ctx(dir[0] ? dir : NULL, NULL);
	if (!kmod) {
		ctx_cache_set(ctx, &kmod_cache, NULL);
		log_warn(ctx, "cannot create a libkmod context: kernel modules will not be listed");
		return NULL;
	}
	k->set_log_fn(kmod, kmod_log_to_ctx, ctx);
	/*
	 * Loading the indexes once makes each lookup a few hash probes instead of file opens. When
	 * some index is missing (no modules.builtin, or no module tree at all) lookups still work
	 * from the files that exist, opened on demand, so keep the context.
	 */
	r = k->load_resources(kmod);
	if (r < 0) {
		log_warn(ctx,
			 "cannot load the module indexes of %s (%s): kernel modules may be missing "
			 "from the output; install the kernel's modules, or point the context's "
			 "HOSTDEV_PATH_MODULES path at them",
			 k->get_dirname(kmod), strerror(-r));
		/* No module tree at all: every lookup would only retry the failing opens. */
		if (access(k->get_dirname(kmod), F_OK) != 0) {
			k->unref(kmod);
			ctx_cache_set(ctx, &kmod_cache, NULL);
			return NULL;
		}
	}
	return ctx_cache_set(ctx, &kmod_cache, kmod) == 0 ? kmod : NULL;
}

void pci_device_load_modules(hostdev_pci_device *dev)
{
	const struct pci_kmod *k;
	struct kmod_ctx *kmod;
	struct kmod_list *list = NULL, *it;

	if (dev->loaded & PCI_PART_MODULES)
		return;
	dev->loaded |= PCI_PART_MODULES;
	if (!dev->modalias)
		return;
	kmod = ctx_kmod(dev->ctx);
	if (!kmod)
		return;
	k = pci_kmod(NULL); /* loaded: the context above was made through it */
	if (k->module_new_from_lookup(kmod, dev->modalias, &list) < 0)
		return;
	/* kmod_list_foreach(), with the loaded kmod_list_next(). */
	for (it = list; it; it = k->list_next(list, it)) {
		struct kmod_module *mod = k->module_get_module(it);
		const char *name = k->module_get_name(mod);

		/* Aliases can resolve to the same module twice (builtin and loadable). */
		if (name && !strv_contains(&dev->modules, name))
			strv_push(&dev->modules, name);
		k->module_unref(mod);
	}
	k->module_unref_list(list);
}

HOSTDEV_DEFINE_LOADING_GETTER(size_t, hostdev_pci_device, get_module_count, pci_device_load_modules,
			      modules.count, 0)

HOSTDEV_EXPORT const char *hostdev_pci_device_get_module(hostdev_pci_device *dev, size_t index)
{
	if (!dev)
		return NULL;
	pci_device_load_modules(dev);
	return index < dev->modules.count ? dev->modules.items[index] : NULL;
}
