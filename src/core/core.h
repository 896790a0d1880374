/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The core of the library (src/core/): the context, logging and errors, string vectors and maps,
 * sysfs reads and attribute writes, JSON building and checks. Every other folder of src/ builds on
 * it; this header is core's only interface to them. Never installed.
 */
#ifndef HOSTDEV_CORE_H
#define HOSTDEV_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hostdev.h"

/* Everything is hidden (-fvisibility=hidden) except definitions marked with this. */
#define HOSTDEV_EXPORT __attribute__((visibility("default")))

#define HOSTDEV_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * The reference counting of an object kind: HOSTDEV_DEFINE_REF_UNREF(hostdev_x, destroy) defines
 * the exported hostdev_x *hostdev_x_ref(hostdev_x *) and hostdev_x_unref(), for a struct with an
 * `int refcount` member set to 1 when it is made. _ref() returns its argument; _unref() returns
 * NULL and calls @destroy(object) when the last reference goes; both are NULL-safe. The ATOMIC
 * form counts with atomic operations, for objects whose references threads take and drop
 * concurrently (immutable ones, shared between a loop and its worker).
 */
#define HOSTDEV_DEFINE_REF_UNREF(type, destroy)                                                    \
	HOSTDEV_EXPORT type *type##_ref(type *object)                                              \
	{                                                                                          \
		if (object)                                                                        \
			object->refcount++;                                                        \
		return object;                                                                     \
	}                                                                                          \
	HOSTDEV_EXPORT type *type##_unref(type *object)                                            \
	{                                                                                          \
		if (object && --object->refcount <= 0)                                             \
			destroy(object);                                                           \
		return NULL;                                                                       \
	}
#define HOSTDEV_DEFINE_ATOMIC_REF_UNREF(type, destroy)                                             \
	HOSTDEV_EXPORT type *type##_ref(type *object)                                              \
	{                                                                                          \
		if (object)                                                                        \
			__atomic_add_fetch(&object->refcount, 1, __ATOMIC_RELAXED);                \
		return object;                                                                     \
	}                                                                                          \
	HOSTDEV_EXPORT type *type##_unref(type *object)                                            \
	{                                                                                          \
		if (object && __atomic_sub_fetch(&object->refcount, 1, __ATOMIC_ACQ_REL) <= 0)     \
			destroy(object);                                                           \
		return NULL;                                                                       \
	}

/*
 * The getters of an object kind, by the public API's rule that a getter of a NULL object (or of an
 * index out of range) returns the fallback its doc comment names (NULL, 0, -1, -EINVAL):
 *
 *   HOSTDEV_DEFINE_GETTER(rtype, type, name, field, fallback)
 *       the exported rtype type_name(type *object): object->field
 *   HOSTDEV_DEFINE_CONST_GETTER(rtype, type, name, field, fallback)
 *       the same on a const type *
 *   HOSTDEV_DEFINE_LOADING_GETTER(rtype, type, name, load, field, fallback)
 *       rtype type_name(type *object): load(object) first, for fields made on first use
 *   HOSTDEV_DEFINE_INDEXED_GETTER(rtype, type, name, at, field, fallback)
 *       rtype type_name(type *object, size_t index): at(object, index)->field, where at()
 *       returns the element, or NULL for a NULL object or an index out of range (and may load
 *       the elements on first use)
 *   HOSTDEV_DEFINE_CONST_INDEXED_GETTER(rtype, type, name, at, field, fallback)
 *       the same on a const type *
 *
 * @name is the function's name after "type_" (get_driver, is_complete); @field may name a member
 * of a member (data.count).
 */
#define HOSTDEV_DEFINE_GETTER(rtype, type, name, field, fallback)                                  \
	HOSTDEV_EXPORT rtype type##_##name(type *object)                                           \
	{                                                                                          \
		return object ? object->field : (fallback);                                        \
	}
#define HOSTDEV_DEFINE_CONST_GETTER(rtype, type, name, field, fallback)                            \
	HOSTDEV_EXPORT rtype type##_##name(const type *object)                                     \
	{                                                                                          \
		return object ? object->field : (fallback);                                        \
	}
#define HOSTDEV_DEFINE_LOADING_GETTER(rtype, type, name, load, field, fallback)                    \
	HOSTDEV_EXPORT rtype type##_##name(type *object)                                           \
	{                                                                                          \
		if (!object)                                                                       \
			return (fallback);                                                         \
		load(object);                                                                      \
		return object->field;                                                              \
	}
#define HOSTDEV_DEFINE_INDEXED_GETTER(rtype, type, name, at, field, fallback)                      \
	HOSTDEV_EXPORT rtype type##_##name(type *object, size_t index)                             \
	{                                                                                          \
		__typeof__(at(object, index)) element = at(object, index);                         \
                                                                                                   \
		return element ? element->field : (fallback);                                      \
	}
#define HOSTDEV_DEFINE_CONST_INDEXED_GETTER(rtype, type, name, at, field, fallback)                \
	HOSTDEV_EXPORT rtype type##_##name(const type *object, size_t index)                       \
	{                                                                                          \
		__typeof__(at(object, index)) element = at(object, index);                         \
                                                                                                   \
		return element ? element->field : (fallback);                                      \
	}

/* Number of enum hostdev_path members; grows with the public enum. */
#define HOSTDEV_PATH_COUNT 9

/* Size of the per-context error message buffer. */
#define HOSTDEV_ERROR_MAX 1024

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
	/* The caches of the subsystems (ctx_cache_get()), in the order they were made. */
	struct ctx_cache *caches;
	size_t n_caches;
};

/*
 * A per-context cache of a subsystem above core (libpci's access object, the libkmod context, the
 * physical slot table, the usb.ids tables): created on first use, kept in a slot of the context,
 * freed with the context and whenever a path it depends on changes. The subsystem describes it
 * once (a static struct ctx_cache_type) and the context frees it through that description, so
 * core knows none of them.
 */
struct ctx_cache_type {
	const char *name;
	/* Free @data (never called with NULL). */
	void (*release)(void *data);
	/* CTX_CACHE_PATH(p) for each enum hostdev_path p whose change drops the cache. */
	unsigned int paths;
};
#define CTX_CACHE_PATH(p) (1u << (p))

struct ctx_cache {
	const struct ctx_cache_type *type;
	void *data; /* NULL: making it failed, and is not retried until the cache is dropped */
};

/*
 * True when @ctx holds a cache of @type, with its data in *@data (NULL when making it failed: do
 * not try again). False when there is none yet.
 */
bool ctx_cache_get(const hostdev_ctx *ctx, const struct ctx_cache_type *type, void **data);
/*
 * Keep @data (NULL: making it failed) as @ctx's cache of @type, replacing one that is there. The
 * context owns @data from now on. Returns 0, or -ENOMEM (@data is then released at once).
 */
int ctx_cache_set(hostdev_ctx *ctx, const struct ctx_cache_type *type, void *data);
/* Drop @ctx's cache of @type, if any (it is made again on next use). */
void ctx_cache_drop(hostdev_ctx *ctx, const struct ctx_cache_type *type);

/*
 * hash.c: FNV-1a, 64 bits, of @s: tiny, stable across platforms and releases, good enough
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
/*
 * Make the calling function fail with -EINVAL when @flags has bits outside @known, naming them:
 * CHECK_FLAGS(ctx, flags, HOSTDEV_BIND_GROUP | HOSTDEV_BIND_FORCE, "unknown bind") records
 * "unknown bind flags 0x80". The message before " flags" is a printf format with its arguments
 * ("%s: unknown JSON", address).
 */
#define CHECK_FLAGS(ctx, flags, known, ...)                                                        \
	do {                                                                                       \
		unsigned int unknown_flags_ = (unsigned int)(flags) & ~(unsigned int)(known);      \
		if (unknown_flags_)                                                                \
			return hostdev_flags_error(ctx, unknown_flags_, __VA_ARGS__);              \
	} while (0)
/* context.c: CHECK_FLAGS()'s error, -EINVAL with "<@fmt...> flags 0x<@unknown>". */
int hostdev_flags_error(hostdev_ctx *ctx, unsigned int unknown, const char *fmt, ...)
    HOSTDEV_PRINTF(3, 4);
/*
 * Whether @version, the version member of an options struct or ops table a caller filled, is one
 * this library knows: 1 (the first) to @known (the header's newest, HOSTDEV_*_VERSION). Version
 * 0 is a struct that was never initialised; a newer one asks for members this library would
 * silently ignore.
 */
#define VERSION_KNOWN(version, known) ((version) >= 1 && (version) <= (unsigned int)(known))
/*
 * Make the calling function fail with -EINVAL unless VERSION_KNOWN(@version, @known), naming the
 * struct and what to do: CHECK_VERSION(ctx, opts->version, HOSTDEV_MDEV_OPTIONS_VERSION,
 * "initialise them with hostdev_mdev_options_init()", "mdev options") records "mdev options
 * version 7 is not supported (this libhostdev knows versions 1 to 1): initialise them with
 * hostdev_mdev_options_init()". The words before " version" are a printf format with its
 * arguments ("DRA driver %s: options", driver).
 */
#define CHECK_VERSION(ctx, version, known, remedy, ...)                                            \
	do {                                                                                       \
		if (!VERSION_KNOWN(version, known))                                                \
			return hostdev_version_error(ctx, version, known, remedy, __VA_ARGS__);    \
	} while (0)
/* context.c: CHECK_VERSION()'s error. */
int hostdev_version_error(hostdev_ctx *ctx, unsigned int version, unsigned int known,
			  const char *remedy, const char *fmt, ...) HOSTDEV_PRINTF(5, 6);
#define log_debug(ctx, ...) hostdev_log(ctx, HOSTDEV_LOG_DEBUG, __VA_ARGS__)
#define log_info(ctx, ...) hostdev_log(ctx, HOSTDEV_LOG_INFO, __VA_ARGS__)
#define log_warn(ctx, ...) hostdev_log(ctx, HOSTDEV_LOG_WARNING, __VA_ARGS__)

/* The sysfs root of the context, e.g. "/sys". */
static inline const char *ctx_sysfs(const hostdev_ctx *ctx)
{
	return ctx->paths[HOSTDEV_PATH_SYSFS];
}

/* Generic string helpers (strv.c). */
int strv_push(struct strv *v, const char *s);
int strv_push_take(struct strv *v, char *s);
void strv_sort(struct strv *v);
void strv_clear(struct strv *v);
bool strv_contains(const struct strv *v, const char *s);
char *strdup_or_null(const char *s);

/* ---------------------------------------------------------------------------------------------- */
/* sysfs.c: attribute readers. All return a negative errno on failure and write nothing then. */

/*
 * Read attribute @name below @dirfd into @buf, trailing newlines removed. Returns the length. One
 * read(2) that leaves room in @buf is taken as the whole value, as sysfs gives it: use
 * sysfs_read_alloc() for /proc files, which come a page of records per read.
 */
int sysfs_read_attr(int dirfd, const char *name, char *buf, size_t size);
/* Same, into a malloc'ed string the caller frees, reading to the end of the file. */
int sysfs_read_alloc(int dirfd, const char *name, char **out);
/* Parse an unsigned number ("0x8086" with base 16 or 0, "3" with base 10). -EIO if malformed. */
int sysfs_read_uint(int dirfd, const char *name, int base, unsigned long *out);
/* Parse a signed decimal number (numa_node's "-1"). -EIO if malformed. */
int sysfs_read_int(int dirfd, const char *name, long *out);
/* The last path component of symlink @name ("driver" -> "e1000e"). */
int sysfs_read_link_basename(int dirfd, const char *name, char *buf, size_t size);
/* Sorted entries of directory @name (without . and ..), optionally filtered by @keep. */
int sysfs_list_dir(int dirfd, const char *name, bool (*keep)(const char *entry), struct strv *out);
/*
 * Call @fn(@data, name) for each entry of the directory open at @fd (without . and ..), in the
 * order the file system gives, from @fd's current position; @fd stays open. Returns 0, the
 * negative errno of getdents64(2), or the first negative value @fn returns (which stops it).
 */
int sysfs_dir_for_each(int fd, int (*fn)(void *data, const char *name), void *data);
/* @a + "/" + @b into @buf. Returns 0, or -ENAMETOOLONG if it does not fit. */
int path_join(char *buf, size_t size, const char *a, const char *b);
/*
 * The sysfs path of the PCI device @address, <sysfs>/bus/pci/devices/@address, or with @attr (a
 * path below the device: "driver", "virtfn3/physfn") that of its attribute, into @buf. Returns
 * 0, or -ENAMETOOLONG if it does not fit (the message, naming the device, is the caller's).
 */
int sysfs_pci_device_path(const hostdev_ctx *ctx, char *buf, size_t size, const char *address,
			  const char *attr);
/* Milliseconds of CLOCK_MONOTONIC, for deadlines of polling loops. */
int64_t monotonic_ms(void);
/* Sleep one polling interval (10 ms) while waiting for the kernel to show a change in sysfs. */
void poll_pause(void);
/* openat(O_DIRECTORY) returning a negative errno on failure. */
int open_dir_at(int dirfd, const char *path);

/* file_write.c: write all @length bytes of @data to @fd (retrying short writes and EINTR).
 * Returns 0 or the negative errno of write(2). */
int write_all(int fd, const void *data, size_t length);

/* ---------------------------------------------------------------------------------------------- */
/* attr_write.c: sysfs stores that may block in a driver, one write(2) in a worker thread under a
 * watchdog. */

/*
 * Write @value to the attribute @path with one write(2), as the kernel wants stores, in a detached
 * worker thread, and wait at most @timeout_ms for it. The attribute is opened with O_NONBLOCK and
 * must be a regular file (sysfs attributes are): a FIFO in its place would block open(2), and a
 * device node or directory is not an attribute either. Returns 0, the negative errno of the open
 * or the write, -ENOTTY when @path is not a regular file (nothing was written; say
 * ATTR_NOT_REGULAR), -ETIMEDOUT when the write has not returned in time (the worker stays blocked
 * in the kernel and finishes on its own; the write may still take effect), or -EAGAIN/-ENOMEM when
 * no worker could be started (nothing was written then).
 */
int attr_write_watchdog(const char *path, const char *value, unsigned int timeout_ms);

/* What -ENOTTY of attr_write_watchdog() means, for messages. */
#define ATTR_NOT_REGULAR                                                                           \
	"is not a regular file (sysfs attributes are; a FIFO, device node or directory stands in " \
	"its place): nothing was written"

/* ---------------------------------------------------------------------------------------------- */
/*
 * strmap.c: a map from strings to indexes and growable arrays. The map uses open addressing over
 * borrowed keys, so that checks of device ids against the advertised list, of the ids of a request
 * against each other and of the keys of a JSON object cost linear time, not the quadratic time of
 * comparing every pair. Peers choose the ids of a request: the hash is seeded per process, so that
 * nobody can prepare ids that all land in one slot.
 */

struct dp_strmap_slot {
	const char *key; /* NULL: free */
	size_t value;
};

struct dp_strmap {
	struct dp_strmap_slot *slots;
	size_t mask; /* capacity - 1 (capacity a power of two), 0 while empty */
	size_t count;
};

/* An empty map (zero-initialising one is the same). */
void dp_strmap_init(struct dp_strmap *m);
/* Free the slots (not the keys: they are borrowed). The map is empty again. */
void dp_strmap_clear(struct dp_strmap *m);
/*
 * Map @key (borrowed: it must stay valid and unchanged while the map holds it) to @value.
 * Returns 0; -EEXIST when @key is there already (its value in *@existing when not NULL; the map is
 * unchanged); -ENOMEM.
 */
int dp_strmap_add(struct dp_strmap *m, const char *key, size_t value, size_t *existing);
/* The value of @key, or -1 when it is not in the map. */
ptrdiff_t dp_strmap_find(const struct dp_strmap *m, const char *key);

/*
 * An index of the items of an array by a string each holds (a device id): the same map, in slots
 * of 4 bytes that hold only the item's index, not 16 that hold the key and the value. The key of a
 * slot is read from the item through @key_of(@owner, index) while probing, so the array may move
 * (be reallocated) between calls, as long as the item at an index keeps its key. For indexes that
 * live long and are large: a list of 10,000 devices takes 64 KiB, not 256 KiB (issue 15).
 */
typedef const char *(*dp_index_key_fn)(const void *owner, size_t i);

struct dp_index {
	uint32_t *slots; /* index + 1; 0: free */
	size_t mask;	 /* capacity - 1 (a power of two), 0 while empty */
	size_t count;
};

/* Free the slots. The index is empty again (zero-initialising one is the same). */
void dp_index_clear(struct dp_index *x);
/*
 * Index item @i, whose key is @key_of(@owner, @i). Returns 0; -EEXIST when an item with that key
 * is there already (its index in *@existing when not NULL; the index is unchanged); -ENOMEM (also
 * for @i >= UINT32_MAX).
 */
int dp_index_add(struct dp_index *x, dp_index_key_fn key_of, const void *owner, size_t i,
		 size_t *existing);
/* The index of the item whose key is @key, or -1. */
ptrdiff_t dp_index_find(const struct dp_index *x, dp_index_key_fn key_of, const void *owner,
			const char *key);

/*
 * Room for item @n of a growable array of @size-byte items that holds @n: returns @items or a
 * larger copy, NULL without memory (@items is then unchanged and still owned by the caller). The
 * capacity follows from @n (8, then doubling at every power of two), so that the array needs no
 * capacity field and n appends cost linear time (growing by one item copies it every time).
 */
void *dp_array_grow(void *items, size_t n, size_t size);

/* ---------------------------------------------------------------------------------------------- */
/*
 * json_scan.c: checks on the raw text of a JSON document that cJSON accepted. cJSON decodes
 * "\u0000" inside a string into a NUL byte and hands out a C string that ends there, so a
 * config value or a journal field would be silently cut short; the parsers refuse such
 * documents instead, naming where the escape is.
 */

/*
 * Find the first string (key or value) of the JSON text @text (@length bytes, already accepted by
 * cJSON) that contains the escape \u0000. Returns false when there is none; otherwise true, with
 * the path of that string in @where: "resources[1].selectors.serial[0]" for a value, or for a key
 * "a key of resources[1]" ("a key of the top-level object"). Key names in the path are shown as
 * written (escapes as they are), control bytes as '?', cut with "..." to fit @size.
 */
bool json_find_nul_escape(const char *text, size_t length, char *where, size_t size);

/* ---------------------------------------------------------------------------------------------- */
/*
 * json_builder.c: helpers that build the cJSON trees of the stable JSON schemas (pci_json.c,
 * usb_json.c). Every helper records an allocation failure in the builder instead of returning it,
 * so that a serialiser reads as a flat list of fields and checks once at the end.
 */

struct cJSON;

struct json_builder {
	bool oom;
};

/* A JSON string of @value made valid UTF-8 (bad bytes become U+FFFD), or null for NULL. */
struct cJSON *json_new_string(struct json_builder *b, const char *value);
/* Attach @item under @key (NULL @item: allocation failure). */
void json_attach(struct json_builder *b, struct cJSON *object, const char *key, struct cJSON *item);
/* Append @item to @array (NULL @item: allocation failure). */
void json_append(struct json_builder *b, struct cJSON *array, struct cJSON *item);
/* A string, or null when @value is NULL. */
void json_add_string(struct json_builder *b, struct cJSON *object, const char *key,
		     const char *value);
/* @value as a lower-case hex string of exactly @digits digits ("%04x", "%06x", "%02x"). */
void json_add_hex(struct json_builder *b, struct cJSON *object, const char *key, unsigned int value,
		  int digits);
void json_add_int(struct json_builder *b, struct cJSON *object, const char *key, long long value);
/* An integer, or null when @value equals @none. */
void json_add_int_or_null(struct json_builder *b, struct cJSON *object, const char *key,
			  long long value, long long none);
void json_add_bool(struct json_builder *b, struct cJSON *object, const char *key, int value);
/* A new empty array or object attached under @key; NULL (and oom set) on failure. */
struct cJSON *json_add_container(struct json_builder *b, struct cJSON *object, const char *key,
				 bool array);

/*
 * Print @root (indented when @pretty) into a malloc'ed string for hostdev_free() and delete @root.
 * Returns 0 or -ENOMEM.
 */
int json_print_and_delete(struct cJSON *root, bool pretty, char **out);

/* Length of the valid UTF-8 sequence at @s, 0 if it is not one (overlong, surrogate, > U+10FFFF).
 */
size_t json_utf8_sequence_length(const unsigned char *s);

/* ---------------------------------------------------------------------------------------------- */
/*
 * json_writer.c: a streaming writer for the same schemas, without a tree: the text grows in one
 * buffer as the serialiser calls it, in exactly the bytes cJSON_PrintUnformatted() (or cJSON_Print()
 * with JSON_LAYOUT_CJSON) made of the equivalent tree. @key is the member's name inside an object and NULL for
 * an array element or the top-level value; it is written as it is, without escaping, so it must be
 * a literal of the schema (ASCII letters, digits, '_'). Like the builder, the writer records an allocation
 * failure and ignores every later call; json_writer_finish() reports it.
 */

#define JSON_WRITER_MAX_DEPTH 16

enum json_layout {
	JSON_LAYOUT_COMPACT, /* cJSON_PrintUnformatted() */
	JSON_LAYOUT_CJSON,   /* cJSON_Print(): tabs, arrays on one line */
	/* Two spaces a level, one member or element a line, "key": value, {} and [] when empty:
	 * the layout of `jq .` and Python's json.dumps(indent=2) (HOSTDEV_JSON_INDENT). */
	JSON_LAYOUT_SPACES,
};

struct json_writer {
	char *text;
	size_t length, capacity;
	unsigned int depth;
	unsigned int indent; /* levels of indentation the whole text is shifted by */
	enum json_layout layout;
	bool oom;
	bool first[JSON_WRITER_MAX_DEPTH]; /* no member written yet at this depth */
};

void json_writer_init(struct json_writer *w, enum json_layout layout);
/*
 * A writer for a value that sits @indent levels deep in a larger document (JSON_LAYOUT_SPACES and
 * JSON_LAYOUT_CJSON): every line after the first is indented as if the value were there, so that
 * the text is pasted in without re-indenting. The first line (the opening bracket) is not indented.
 */
void json_writer_init_nested(struct json_writer *w, enum json_layout layout, unsigned int indent);
void json_write_object_begin(struct json_writer *w, const char *key);
void json_write_object_end(struct json_writer *w);
void json_write_array_begin(struct json_writer *w, const char *key);
void json_write_array_end(struct json_writer *w);
/* A string made valid UTF-8 (bad bytes become U+FFFD), or null when @value is NULL. */
void json_write_string(struct json_writer *w, const char *key, const char *value);
/* @value as a lower-case hex string of exactly @digits digits (at most 8). */
void json_write_hex(struct json_writer *w, const char *key, unsigned int value, int digits);
void json_write_int(struct json_writer *w, const char *key, long long value);
/* An integer, or null when @value equals @none. */
void json_write_int_or_null(struct json_writer *w, const char *key, long long value,
			    long long none);
void json_write_bool(struct json_writer *w, const char *key, int value);
void json_write_null(struct json_writer *w, const char *key);
/*
 * Hand the text to *@out (malloc'ed, for hostdev_free()) and reset the writer. Returns 0, or
 * -ENOMEM (the text is freed) when any call failed for memory.
 */
int json_writer_finish(struct json_writer *w, char **out);
/* Free the text without handing it out. */
void json_writer_discard(struct json_writer *w);

#endif /* HOSTDEV_CORE_H */
