/* SPDX-License-Identifier: Apache-2.0 */
/* The context: root paths, node name, log callback and the last error message. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "core.h"

#ifndef HOSTDEV_VERSION_STRING
#define HOSTDEV_VERSION_STRING "0.0.0"
#endif

/* The only place where the system locations are spelled out. */
static const char *const default_paths[HOSTDEV_PATH_COUNT] = {
    [HOSTDEV_PATH_SYSFS] = "/sys",
    [HOSTDEV_PATH_DEV] = "/dev",
    [HOSTDEV_PATH_PROC] = "/proc",
    [HOSTDEV_PATH_STATE] = "/var/lib/hostdev",
    [HOSTDEV_PATH_CONFIG] = "/etc/hostdev",
    [HOSTDEV_PATH_KUBELET] = "/var/lib/kubelet",
    [HOSTDEV_PATH_PCI_IDS] = "/usr/share/misc/pci.ids",
    [HOSTDEV_PATH_USB_IDS] = "/usr/share/misc/usb.ids",
    [HOSTDEV_PATH_MODULES] = "",
};

/* Paths that hostdev_ctx_set_root() moves under the fake root. */
static const enum hostdev_path rooted_paths[] = {
    HOSTDEV_PATH_SYSFS, HOSTDEV_PATH_DEV,    HOSTDEV_PATH_PROC,
    HOSTDEV_PATH_STATE, HOSTDEV_PATH_CONFIG, HOSTDEV_PATH_KUBELET,
};

HOSTDEV_EXPORT int hostdev_ctx_new(hostdev_ctx **out)
{
	hostdev_ctx *ctx;
	struct utsname uts;

	if (!out)
		return -EINVAL;
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	ctx->refcount = 1;
	ctx->log_priority = HOSTDEV_LOG_WARNING;
	for (size_t i = 0; i < HOSTDEV_PATH_COUNT; i++) {
		ctx->paths[i] = strdup(default_paths[i]);
		if (!ctx->paths[i])
			goto oom;
	}
	ctx->node_name = strdup(uname(&uts) == 0 && uts.nodename[0] ? uts.nodename : "localhost");
	if (!ctx->node_name)
		goto oom;
	*out = ctx;
	return 0;
oom:
	hostdev_ctx_unref(ctx);
	return -ENOMEM;
}

/* What _unref() does when the last reference goes. */
static void ctx_destroy(hostdev_ctx *ctx)
{
	/* The newest cache first: one may use an older one while it is released. */
	while (ctx->n_caches > 0)
		ctx_cache_drop(ctx, ctx->caches[ctx->n_caches - 1].type);
	free(ctx->caches);
	for (size_t i = 0; i < HOSTDEV_PATH_COUNT; i++)
		free(ctx->paths[i]);
	free(ctx->node_name);
	free(ctx);
}

/* Atomic: every object holds a reference to its context, and a language runtime releases objects
 * from whichever thread its garbage collector runs on (Python's SWIG wrappers drop the GIL in
 * _unref, Go runs finalizers on their own goroutine) while another thread makes objects of the
 * same context under its lock. A plain count loses updates then, and the context is freed early. */
HOSTDEV_DEFINE_ATOMIC_REF_UNREF(hostdev_ctx, ctx_destroy)

static struct ctx_cache *cache_find(const hostdev_ctx *ctx, const struct ctx_cache_type *type)
{
	for (size_t i = 0; i < ctx->n_caches; i++)
		if (ctx->caches[i].type == type)
			return &ctx->caches[i];
	return NULL;
}

bool ctx_cache_get(const hostdev_ctx *ctx, const struct ctx_cache_type *type, void **data)
{
	const struct ctx_cache *c = cache_find(ctx, type);

	*data = c ? c->data : NULL;
	return c != NULL;
}

int ctx_cache_set(hostdev_ctx *ctx, const struct ctx_cache_type *type, void *data)
{
	struct ctx_cache *c = cache_find(ctx, type), *grown;

	if (c) {
		if (c->data)
			type->release(c->data);
		c->data = data;
		return 0;
	}
	grown = dp_array_grow(ctx->caches, ctx->n_caches, sizeof(*ctx->caches));
	if (!grown) {
		if (data)
			type->release(data);
		return -ENOMEM;
	}
	ctx->caches = grown;
	ctx->caches[ctx->n_caches++] = (struct ctx_cache){.type = type, .data = data};
	return 0;
}

void ctx_cache_drop(hostdev_ctx *ctx, const struct ctx_cache_type *type)
{
	struct ctx_cache *c = cache_find(ctx, type);
	void *data;

	if (!c)
		return;
	data = c->data;
	/* Keep the order of the others: unref drops the newest first. */
	memmove(c, c + 1, (size_t)(ctx->caches + ctx->n_caches - (c + 1)) * sizeof(*c));
	ctx->n_caches--;
	if (data)
		type->release(data);
}

/* Drop the caches that depend on @which so that they are made again with the new value. */
static void invalidate_helpers(hostdev_ctx *ctx, enum hostdev_path which)
{
	for (size_t i = ctx->n_caches; i-- > 0;)
		if (i < ctx->n_caches && (ctx->caches[i].type->paths & CTX_CACHE_PATH(which)))
			ctx_cache_drop(ctx, ctx->caches[i].type);
}

static int replace_path(hostdev_ctx *ctx, enum hostdev_path which, const char *a, const char *b)
{
	size_t la = strlen(a), lb = b ? strlen(b) : 0;
	char *copy = malloc(la + lb + 1);

	if (!copy)
		return -ENOMEM;
	memcpy(copy, a, la);
	if (b)
		memcpy(copy + la, b, lb);
	copy[la + lb] = '\0';
	/* Keep "/fake/" + "/sys" from becoming "/fake//sys": harmless, but it shows in messages. */
	if (b && la > 0 && a[la - 1] == '/' && b[0] == '/')
		memmove(copy + la - 1, copy + la, lb + 1);
	free(ctx->paths[which]);
	ctx->paths[which] = copy;
	invalidate_helpers(ctx, which);
	return 0;
}

HOSTDEV_EXPORT int hostdev_ctx_set_path(hostdev_ctx *ctx, enum hostdev_path which, const char *path)
{
	if (!ctx)
		return -EINVAL;
	if ((unsigned int)which >= HOSTDEV_PATH_COUNT)
		return hostdev_error(ctx, -EINVAL, "unknown path kind %d", (int)which);
	if (!path)
		return hostdev_error(ctx, -EINVAL, "path kind %d: NULL path", (int)which);
	if (path[0] == '\0' && which != HOSTDEV_PATH_MODULES)
		return hostdev_error(ctx, -EINVAL, "path kind %d: empty path", (int)which);
	if (path[0] != '\0' && path[0] != '/')
		return hostdev_error(ctx, -EINVAL,
				     "path '%s' is relative: give an absolute path so that it does "
				     "not depend on the working directory",
				     path);
	return replace_path(ctx, which, path, NULL);
}

HOSTDEV_EXPORT const char *hostdev_ctx_get_path(const hostdev_ctx *ctx, enum hostdev_path which)
{
	if (!ctx || (unsigned int)which >= HOSTDEV_PATH_COUNT)
		return NULL;
	return ctx->paths[which];
}

HOSTDEV_EXPORT int hostdev_ctx_set_root(hostdev_ctx *ctx, const char *root)
{
	int r;

	if (!ctx)
		return -EINVAL;
	if (!root || root[0] != '/')
		return hostdev_error(ctx, -EINVAL, "root '%s' must be an absolute directory path",
				     root ? root : "(null)");
	for (size_t i = 0; i < ARRAY_SIZE(rooted_paths); i++) {
		r = replace_path(ctx, rooted_paths[i], root, default_paths[rooted_paths[i]]);
		if (r < 0)
			return r;
	}
	return 0;
}

HOSTDEV_EXPORT int hostdev_ctx_set_node_name(hostdev_ctx *ctx, const char *name)
{
	char *copy;

	if (!ctx)
		return -EINVAL;
	if (!name || !name[0])
		return hostdev_error(ctx, -EINVAL, "node name must not be empty");
	copy = strdup(name);
	if (!copy)
		return -ENOMEM;
	free(ctx->node_name);
	ctx->node_name = copy;
	return 0;
}

HOSTDEV_DEFINE_CONST_GETTER(const char *, hostdev_ctx, get_node_name, node_name, NULL)

HOSTDEV_EXPORT void hostdev_ctx_set_log_fn(hostdev_ctx *ctx, hostdev_log_fn fn, void *userdata)
{
	if (!ctx)
		return;
	ctx->log_fn = fn;
	ctx->log_userdata = userdata;
}

HOSTDEV_EXPORT void hostdev_ctx_set_log_priority(hostdev_ctx *ctx, int priority)
{
	if (ctx)
		ctx->log_priority = priority;
}

HOSTDEV_DEFINE_CONST_GETTER(int, hostdev_ctx, get_log_priority, log_priority, -EINVAL)

/* The redirection of this thread (core.h); .ctx NULL when none. */
static _Thread_local struct ctx_error_redirect error_redirect;

void ctx_error_redirect_begin(const hostdev_ctx *ctx, char *buffer,
			      struct ctx_error_redirect *saved)
{
	*saved = error_redirect;
	error_redirect.ctx = ctx;
	error_redirect.buffer = buffer;
	buffer[0] = '\0';
}

void ctx_error_redirect_end(const struct ctx_error_redirect *saved)
{
	error_redirect = *saved;
}

/* Where the messages of @ctx go on this thread. */
static char *error_buffer(const hostdev_ctx *ctx)
{
	if (error_redirect.ctx && error_redirect.ctx == ctx)
		return error_redirect.buffer;
	return (char *)ctx->error;
}

HOSTDEV_EXPORT const char *hostdev_ctx_get_error(const hostdev_ctx *ctx)
{
	return ctx ? error_buffer(ctx) : "";
}

HOSTDEV_EXPORT const char *hostdev_version(void)
{
	return HOSTDEV_VERSION_STRING;
}

HOSTDEV_EXPORT void hostdev_free(void *ptr)
{
	free(ptr);
}

static void log_message(hostdev_ctx *ctx, int priority, const char *message)
{
	if (ctx->log_fn && priority <= ctx->log_priority)
		ctx->log_fn(priority, message, ctx->log_userdata);
}

void hostdev_log(hostdev_ctx *ctx, int priority, const char *fmt, ...)
{
	char message[HOSTDEV_ERROR_MAX];
	va_list ap;

	if (!ctx || !ctx->log_fn || priority > ctx->log_priority)
		return;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	log_message(ctx, priority, message);
}

int hostdev_error(hostdev_ctx *ctx, int err, const char *fmt, ...)
{
	va_list ap;
	char *buffer;

	if (!ctx)
		return err;
	buffer = error_buffer(ctx);
	va_start(ap, fmt);
	vsnprintf(buffer, HOSTDEV_ERROR_MAX, fmt, ap);
	va_end(ap);
	/* Debug only: the caller decides whether a failure is worth reporting. */
	log_message(ctx, HOSTDEV_LOG_DEBUG, buffer);
	return err;
}

int hostdev_flags_error(hostdev_ctx *ctx, unsigned int unknown, const char *fmt, ...)
{
	char what[HOSTDEV_ERROR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return hostdev_error(ctx, -EINVAL, "%s flags 0x%x", what, unknown);
}

int hostdev_version_error(hostdev_ctx *ctx, unsigned int version, unsigned int known,
			  const char *remedy, const char *fmt, ...)
{
	char what[HOSTDEV_ERROR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return hostdev_error(ctx, -EINVAL,
			     "%s version %u is not supported (this libhostdev knows versions 1 to "
			     "%u): %s",
			     what, version, known, remedy);
}

/* The same two for code built on the public API (plugins/), which takes no varargs. */
HOSTDEV_EXPORT void hostdev_ctx_log(hostdev_ctx *ctx, int priority, const char *message)
{
	hostdev_log(ctx, priority, "%s", message ? message : "");
}

HOSTDEV_EXPORT int hostdev_ctx_set_error(hostdev_ctx *ctx, int err, const char *message)
{
	return hostdev_error(ctx, err, "%s", message ? message : "");
}

void hostdev_clear_error(hostdev_ctx *ctx)
{
	if (ctx)
		error_buffer(ctx)[0] = '\0';
}
