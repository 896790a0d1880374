/* SPDX-License-Identifier: Apache-2.0 */
/* Declarations shared by the library's source files. Never installed. */
#ifndef HOSTDEV_INTERNAL_H
#define HOSTDEV_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hostdev.h"

/* Everything is hidden (-fvisibility=hidden) except definitions marked with this. */
#define HOSTDEV_EXPORT __attribute__((visibility("default")))

#define HOSTDEV_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Number of enum hostdev_path members; grows with the public enum. */
#define HOSTDEV_PATH_COUNT 9

/* Size of the per-context error message buffer. */
#define HOSTDEV_ERROR_MAX 1024

struct pci_access;
struct kmod_ctx;
struct usb_ids;

/* A growable, NULL-terminated array of malloc'ed strings (strv.c). */
struct strv {
	char **items;
	size_t count;
	size_t capacity;
};

struct hostdev_ctx {
	int refcount;
	char *paths[HOSTDEV_PATH_COUNT];
	char *node_name;
	hostdev_log_fn log_fn;
	void *log_userdata;
	int log_priority;
	char error[HOSTDEV_ERROR_MAX];
	/* Lazily created helpers; reset whenever a path they depend on changes. */
	struct pci_access *pacc;
	bool pacc_failed;
	struct kmod_ctx *kmod;
	bool kmod_failed;
	/*
	 * Physical slots: "dddd:bb:ss" -> slot name, read once instead of once per device (a server
	 * has hundreds of slots and thousands of functions). Refreshed at the start of every
	 * enumeration.
	 */
	struct strv slot_addresses, slot_names;
	bool slots_loaded;
	/* usb.ids tables (usb_names.c), read on first use. */
	struct usb_ids *usb_ids;
	bool usb_ids_failed;
};

/*
 * naming.c: FNV-1a, 64 bits, of @s: tiny, stable across platforms and releases, good enough
 * against accidents; the tag of shortened ids and socket names, which must never change.
 */
uint64_t fnv1a64(const char *s);

/* context.c: logging and error reporting. */
void hostdev_log(hostdev_ctx *ctx, int priority, const char *fmt, ...) HOSTDEV_PRINTF(3, 4);
/*
 * Record the human message for the failing call and log it at debug priority (the caller decides
 * whether the failure is worth reporting). Returns @err (a negative
 * errno) so that callers can write `return hostdev_error(ctx, -EINVAL, "...")`.
 */
int hostdev_error(hostdev_ctx *ctx, int err, const char *fmt, ...) HOSTDEV_PRINTF(3, 4);
void hostdev_clear_error(hostdev_ctx *ctx);
/*
 * While a device-plugin loop runs its handlers on a thread, hostdev_error() and
 * hostdev_ctx_get_error() of that loop's context use a buffer of the handling thread instead of
 * the context's: deviceplugin.h lets other threads call hostdev_dp_* functions and then read the
 * context's message, which event handling on the loop's thread must not overwrite. Handlers
 * (plugin callbacks included) still read the errors they cause. Pairs nest; @saved restores.
 */
struct ctx_error_redirect {
	const hostdev_ctx *ctx;
	char *buffer;
};
void ctx_error_redirect_begin(const hostdev_ctx *ctx, char *buffer,
			      struct ctx_error_redirect *saved);
void ctx_error_redirect_end(const struct ctx_error_redirect *saved);
#define log_debug(ctx, ...) hostdev_log(ctx, HOSTDEV_LOG_DEBUG, __VA_ARGS__)
#define log_info(ctx, ...) hostdev_log(ctx, HOSTDEV_LOG_INFO, __VA_ARGS__)
#define log_warn(ctx, ...) hostdev_log(ctx, HOSTDEV_LOG_WARNING, __VA_ARGS__)

/* The sysfs root of the context, e.g. "/sys". */
static inline const char *ctx_sysfs(const hostdev_ctx *ctx)
{
	return ctx->paths[HOSTDEV_PATH_SYSFS];
}

/* pci_names.c / pci_modules.c: helpers owned by the context, created on first use. */
struct pci_access *ctx_pci_access(hostdev_ctx *ctx);
void ctx_pci_access_release(hostdev_ctx *ctx);
struct kmod_ctx *ctx_kmod(hostdev_ctx *ctx);
void ctx_kmod_release(hostdev_ctx *ctx);

/* usb_names.c */
void ctx_usb_ids_release(hostdev_ctx *ctx);

/* pci_slots.c */
const char *ctx_slot_for(hostdev_ctx *ctx, const char *bus_slot);
void ctx_slots_release(hostdev_ctx *ctx);

/* pci_sriov.c: true for "virtfn<N>", the links from a PF to its VFs. */
bool is_virtfn_link(const char *name);

/* pci_device.c */
int pci_device_new_at(hostdev_ctx *ctx, int devices_dirfd, const char *name,
		      hostdev_pci_device **out);

/* Generic string helpers (strv.c). */
int strv_push(struct strv *v, const char *s);
int strv_push_take(struct strv *v, char *s);
void strv_sort(struct strv *v);
void strv_clear(struct strv *v);
bool strv_contains(const struct strv *v, const char *s);
char *strdup_or_null(const char *s);

#endif /* HOSTDEV_INTERNAL_H */
