/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libkmod, loaded with dlopen on first use instead of linked (no DT_NEEDED entry), the way systemd
 * loads its optional libraries. A distribution's libkmod pulls its decompressors and libcrypto
 * (Debian: libzstd, liblzma, libcrypto, about 1.7 MiB resident) into every process that maps it,
 * while most users of the library never look a module up: `hostdev serve`, the agent, a program
 * that lists devices without their modules. The soname is libkmod's as found by pkg-config at build
 * time (HOSTDEV_LIBKMOD_SONAME); packages depend on it explicitly, as the linker no longer records
 * it.
 *
 * Loaded once per process and never unloaded: the table of functions is shared by every context and
 * thread, and a failure (library missing, or lacking a function) is kept with its message, so that
 * each caller reports the same specific error instead of crashing.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

#include "pci.h"

#ifndef HOSTDEV_LIBKMOD_SONAME
#error "HOSTDEV_LIBKMOD_SONAME (libkmod's soname) is set by src/pci/CMakeLists.txt"
#endif

static struct pci_kmod kmod_table;
static const struct pci_kmod *kmod_loaded;
static char kmod_error[512];
static pthread_once_t kmod_once = PTHREAD_ONCE_INIT;

/* Resolve libkmod's function @name into the table's @field; false (with the message) when absent.
 * dlsym returns an object pointer, which POSIX guarantees converts to a function's. */
#define RESOLVE(lib, field, name)                                                                  \
	((kmod_table.field = (__typeof__(kmod_table.field))dlsym(lib, #name)) != NULL ||           \
	 missing(#name))

static bool missing(const char *name)
{
	snprintf(kmod_error, sizeof(kmod_error),
		 "%s has no function %s: it is not the libkmod this library was built for",
		 HOSTDEV_LIBKMOD_SONAME, name);
	return false;
}

static void kmod_load(void)
{
	void *lib = dlopen(HOSTDEV_LIBKMOD_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (!lib) {
		snprintf(kmod_error, sizeof(kmod_error),
			 "cannot load %s, the library that looks kernel modules up (%s): install "
			 "libkmod (Debian: libkmod2)",
			 HOSTDEV_LIBKMOD_SONAME, dlerror());
		return;
	}
	/* On a failure the handle stays open: it is process-wide and a retry would fail alike. */
	if (RESOLVE(lib, new_ctx, kmod_new) && RESOLVE(lib, unref, kmod_unref) &&
	    RESOLVE(lib, set_log_fn, kmod_set_log_fn) &&
	    RESOLVE(lib, load_resources, kmod_load_resources) &&
	    RESOLVE(lib, get_dirname, kmod_get_dirname) &&
	    RESOLVE(lib, list_next, kmod_list_next) &&
	    RESOLVE(lib, module_new_from_lookup, kmod_module_new_from_lookup) &&
	    RESOLVE(lib, module_get_module, kmod_module_get_module) &&
	    RESOLVE(lib, module_get_initstate, kmod_module_get_initstate) &&
	    RESOLVE(lib, module_get_name, kmod_module_get_name) &&
	    RESOLVE(lib, module_get_path, kmod_module_get_path) &&
	    RESOLVE(lib, module_apply_filter, kmod_module_apply_filter) &&
	    RESOLVE(lib, module_probe_insert_module, kmod_module_probe_insert_module) &&
	    RESOLVE(lib, module_unref, kmod_module_unref) &&
	    RESOLVE(lib, module_unref_list, kmod_module_unref_list))
		kmod_loaded = &kmod_table;
}

const struct pci_kmod *pci_kmod(const char **error)
{
	pthread_once(&kmod_once, kmod_load);
	if (!kmod_loaded && error)
		*error = kmod_error;
	return kmod_loaded;
}
