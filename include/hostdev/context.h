/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libhostdev context: the one object that owns every root path, the node name, the log callback and
 * the last error message. Every other object of the library hangs off a context.
 *
 * Conventions used by the whole API (see docs/api.md):
 *  - Functions returning int return >= 0 on success and a negative errno on failure. On failure,
 * output parameters are left untouched and hostdev_ctx_get_error() holds one human sentence naming
 * the device, what is wrong and what to do.
 *  - Objects are reference counted: *_ref() returns its argument, *_unref() returns NULL and
 * accepts NULL.
 *  - Strings returned by getters belong to the object and stay valid until it is released.
 *  - A context and the objects made from it must not be used from two threads at the same time; use
 * one context per thread instead (they are cheap). One exception: an object made from a context may
 * be released (its last *_unref()) on any thread while the context is in use on another, as a
 * garbage collector does; the context's own reference count is atomic.
 */
#ifndef HOSTDEV_CONTEXT_H
#define HOSTDEV_CONTEXT_H

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque library context. */
typedef struct hostdev_ctx hostdev_ctx;

/**
 * The paths a context owns. Defaults are the real system locations; tests and `hostdev --root`
 * point them at a fake tree. New members are only ever added at the end.
 */
enum hostdev_path {
	HOSTDEV_PATH_SYSFS = 0,	  /**< sysfs mount, default "/sys" */
	HOSTDEV_PATH_DEV = 1,	  /**< device nodes, default "/dev" */
	HOSTDEV_PATH_PROC = 2,	  /**< procfs mount, default "/proc" */
	HOSTDEV_PATH_STATE = 3,	  /**< library state (journal, locks), default "/var/lib/hostdev" */
	HOSTDEV_PATH_CONFIG = 4,  /**< configuration, default "/etc/hostdev" */
	HOSTDEV_PATH_KUBELET = 5, /**< kubelet root, default "/var/lib/kubelet" */
	HOSTDEV_PATH_PCI_IDS = 6, /**< pci.ids database, default "/usr/share/misc/pci.ids" */
	HOSTDEV_PATH_USB_IDS = 7, /**< usb.ids database, default "/usr/share/misc/usb.ids" */
	HOSTDEV_PATH_MODULES =
	    8, /**< kernel module dir, default "" = libkmod's /lib/modules/$(uname -r) */
};

/** Log priorities, the syslog numbers. */
enum hostdev_log_priority {
	HOSTDEV_LOG_ERR = 3,
	HOSTDEV_LOG_WARNING = 4,
	HOSTDEV_LOG_NOTICE = 5,
	HOSTDEV_LOG_INFO = 6,
	HOSTDEV_LOG_DEBUG = 7,
};

/**
 * Log callback. @message is fully formatted (no trailing newline) and only valid during the call.
 * The library never prints on its own: without a callback, messages are dropped.
 */
typedef void (*hostdev_log_fn)(int priority, const char *message, void *userdata);

/**
 * Create a context with the default paths, the node name from uname(2) and no log callback.
 * On success *@out holds a new reference the caller releases with hostdev_ctx_unref().
 * Returns 0, -EINVAL if @out is NULL, -ENOMEM.
 */
int hostdev_ctx_new(hostdev_ctx **out);

/** Take a reference. Returns @ctx. */
hostdev_ctx *hostdev_ctx_ref(hostdev_ctx *ctx);

/** Drop a reference; the last one frees the context. NULL-safe. Always returns NULL. */
hostdev_ctx *hostdev_ctx_unref(hostdev_ctx *ctx);

/**
 * Set one path (copied). An empty string is allowed only for HOSTDEV_PATH_MODULES (libkmod
 * default). Returns 0, -EINVAL for an unknown @which or a NULL/empty/relative path, -ENOMEM.
 */
int hostdev_ctx_set_path(hostdev_ctx *ctx, enum hostdev_path which, const char *path);

/** The current value of one path, or NULL for an unknown @which. Owned by the context. */
const char *hostdev_ctx_get_path(const hostdev_ctx *ctx, enum hostdev_path which);

/**
 * Point the context at a fake root: sysfs, dev, proc, state, config and kubelet become @root +
 * their default. The ids databases and the module directory keep their values (fake trees ship
 * none). Returns 0, -EINVAL for a NULL or relative @root, -ENOMEM.
 */
int hostdev_ctx_set_root(hostdev_ctx *ctx, const char *root);

/**
 * Node (Kubernetes node) name used by Harvester-style object names. Default: uname(2) nodename.
 * Returns 0, -EINVAL for NULL/empty, -ENOMEM.
 */
int hostdev_ctx_set_node_name(hostdev_ctx *ctx, const char *name);

/** The node name. Owned by the context. */
const char *hostdev_ctx_get_node_name(const hostdev_ctx *ctx);

/** Install (or with @fn NULL remove) the log callback. */
void hostdev_ctx_set_log_fn(hostdev_ctx *ctx, hostdev_log_fn fn, void *userdata);

/** Messages with a priority numerically above @priority are dropped. Default HOSTDEV_LOG_WARNING.
 */
void hostdev_ctx_set_log_priority(hostdev_ctx *ctx, int priority);

/** The current log priority threshold. */
int hostdev_ctx_get_log_priority(const hostdev_ctx *ctx);

/**
 * The message of the last failed call on this context ("" if none). Owned by the context; valid
 * until the next failing call.
 */
const char *hostdev_ctx_get_error(const hostdev_ctx *ctx);

/**
 * For code built on the library (the built-in device plugins, a program's own plugins) that
 * reports the way the library does: record @message as that of a failing call on @ctx, what
 * hostdev_ctx_get_error() then gives (on the calling thread, as the loop rules of deviceplugin.h
 * say; cut to 1023 bytes), and log it at HOSTDEV_LOG_DEBUG. Returns @err (a negative errno), so
 * that `return hostdev_ctx_set_error(ctx, -EINVAL, message)` works; NULL @ctx records nothing.
 * The message is taken as it is (no format: public functions take no varargs, docs/abi.md).
 * Since HOSTDEV_1.3.
 */
int hostdev_ctx_set_error(hostdev_ctx *ctx, int err, const char *message);

/**
 * Log @message through the log callback of @ctx at @priority (enum hostdev_log_priority), when
 * the context's log priority lets it through. NULL-safe. Since HOSTDEV_1.3.
 */
void hostdev_ctx_log(hostdev_ctx *ctx, int priority, const char *message);

/** Library version string, e.g. "0.1.0". */
const char *hostdev_version(void);

/** Free memory the library returned to the caller (strings from *_to_json and similar). NULL-safe.
 */
void hostdev_free(void *ptr);

#ifdef __cplusplus
}
#endif

#endif /* HOSTDEV_CONTEXT_H */
