/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hostdev.i: the SWIG interface of libhostdev, shared by the Python and the Go bindings.
 *
 * The generated module ("capi": _hostdev.capi in Python, internal/capi in Go) is a raw layer that
 * only the hand-written idiomatic layers use (bindings/python/_hostdev, bindings/go/hostdev). It
 * keeps the C conventions: int results are >= 0 or a negative errno, and the message of a failure
 * is hostdev_ctx_get_error() of the context. The idiomatic layers turn them into exceptions and
 * error values.
 *
 * How the C API is expressed to SWIG, in one place so that every language gets the same thing:
 *  - Each opaque ref-counted type becomes a class whose destructor drops the reference
 *    (HOSTDEV_OBJECT below); *_ref/*_unref are not wrapped. Python frees through the garbage
 *    collector, Go calls Delete<Type>() (the Go layer copies what it needs into Go values and
 *    deletes at once, so no C object outlives a call except the context).
 *  - C out-parameters (hostdev_x **out, char **out, caller buffers) have no portable SWIG mapping,
 *    so every function that hands out a new object or string gets a small "hdb_" shim here that
 *    returns it (NULL on failure, %newobject: the caller owns it) and reports the C result through
 *    `int *err` (the standard OUTPUT typemap: a tuple member in Python, a one-element slice in Go).
 *  - Arrays of strings (addresses to bind) go through hdb_strv, a tiny string list the languages
 *    fill element by element; option structs are built inside the shims from plain arguments,
 *    so their borrowed pointers never cross the language boundary.
 *  - Callbacks: the Python log callback is Python-specific C (it takes the GIL); Go receives log
 *    messages through a per-context buffer it drains after each call (hdb_log_*), because SWIG's
 *    Go directors are heavy for one function pointer.
 *
 * Adding a header: HOSTDEV_OBJECT() for each new type, hdb_ shims for its out-parameter functions
 * (options structs built inside them with their *_options_init()), %ignore for those functions,
 * then %include the header (dra.h at the end is the latest example).
 */
%module capi

%{
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <hostdev.h>

/* A malloc'd copy of a string the library allocated (released with hostdev_free()), or NULL with
 * *err = -ENOMEM. */
static char *hdb_copy(char *lib, int *err)
{
	char *copy;

	if (!lib)
		return NULL;
	copy = strdup(lib);
	hostdev_free(lib);
	if (!copy)
		*err = -ENOMEM;
	return copy;
}
%}

%include <stdint.i>
%include <typemaps.i>

%apply int *OUTPUT { int *err };

/* Strings returned by the shims are malloc'd copies (library strings are copied and released with
 * hostdev_free() inside the shims), freed once the language has its own copy. */
%typemap(newfree) char * "free($1);";

/* -------------------------------------------------------------------------------------------- */
/* Language-specific parts. */

#ifdef SWIGPYTHON
/* Release the GIL in every wrapped call (bindings/CMakeLists.txt and setup.py pass -threads); the
 * trivial getters too: cheaper than maintaining a list of the blocking ones, and a getter may read
 * sysfs (lazy attributes). */
%include "python/hostdev_python.i"
#endif

#ifdef SWIGGO
/* `int *err` of the shims: a one-element []int. SWIG's own int *OUTPUT typemap stores a C int
 * into the 64-bit Go int, which turns -22 into 4294967274. */
%typemap(in) int *err (int temp = 0) {
	if ($input.len == 0)
		_swig_gopanic("hostdev: the err slice needs one element");
	$1 = &temp;
}
%typemap(argout) int *err {
	((intgo *)$input.array)[0] = temp$argnum;
}

/* Go strings cannot be nil: an empty name passed to the naming shims means "unknown" (NULL), as
 * the Go layer documents. */
%typemap(in) const char *vendor_name, const char *device_name, const char *class_name,
	     const char *subclass_name %{
	$1 = NULL;
	if ($input.n > 0) {
		char *copy = malloc($input.n + 1);
		if (copy) {
			memcpy(copy, $input.p, $input.n);
			copy[$input.n] = '\0';
		}
		$1 = copy;
	}
%}
%typemap(freearg) const char *vendor_name, const char *device_name, const char *class_name,
	     const char *subclass_name %{
	free((char *)$1);
%}
#endif

/* -------------------------------------------------------------------------------------------- */
/* Opaque ref-counted objects. */

%define HOSTDEV_OBJECT(TYPE, UNREF)
%nodefaultctor TYPE;
struct TYPE {
	%extend {
		~TYPE() { UNREF($self); }
	}
};
%ignore TYPE##_ref;
%ignore UNREF;
%enddef

HOSTDEV_OBJECT(hostdev_ctx, hostdev_ctx_unref)
HOSTDEV_OBJECT(hostdev_pci_device, hostdev_pci_device_unref)
HOSTDEV_OBJECT(hostdev_pci_enum, hostdev_pci_enum_unref)
HOSTDEV_OBJECT(hostdev_vfio_journal, hostdev_vfio_journal_unref)
HOSTDEV_OBJECT(hostdev_vfio_report, hostdev_vfio_report_unref)
HOSTDEV_OBJECT(hostdev_vfio_persist, hostdev_vfio_persist_unref)
HOSTDEV_OBJECT(hostdev_vfio_result, hostdev_vfio_result_unref)
HOSTDEV_OBJECT(hostdev_usb_device, hostdev_usb_device_unref)
HOSTDEV_OBJECT(hostdev_usb_enum, hostdev_usb_enum_unref)
HOSTDEV_OBJECT(hostdev_sriov_pf, hostdev_sriov_pf_unref)
HOSTDEV_OBJECT(hostdev_mdev_types, hostdev_mdev_types_unref)
HOSTDEV_OBJECT(hostdev_mdev_list, hostdev_mdev_list_unref)
HOSTDEV_OBJECT(hostdev_vgpu_list, hostdev_vgpu_list_unref)

/* A list of strings for the functions that take `const char *const *items, size_t count`. */
%{
typedef struct hdb_strv {
	char **items;
	size_t count;
} hdb_strv;
%}
/* What SWIG sees: an opaque class (here and for hdb_log below). */
typedef struct hdb_strv {
} hdb_strv;
%extend hdb_strv {
	hdb_strv() { return calloc(1, sizeof(hdb_strv)); }
	~hdb_strv()
	{
		for (size_t i = 0; i < $self->count; i++)
			free($self->items[i]);
		free($self->items);
		free($self);
	}
	/* Append a copy of @item. Returns 0 or -ENOMEM. */
	int append(const char *item)
	{
		char **items = realloc($self->items, ($self->count + 1) * sizeof(*items));
		if (!items)
			return -ENOMEM;
		$self->items = items;
		if (!(items[$self->count] = strdup(item ? item : "")))
			return -ENOMEM;
		$self->count++;
		return 0;
	}
}

/* -------------------------------------------------------------------------------------------- */
/* context.h */

%ignore hostdev_ctx_new;
%ignore hostdev_ctx_set_log_fn; /* per language: hdb_ctx_set_log_python, hdb_log_* */
%ignore hostdev_free;		/* used by the newfree typemaps */
/* For C code built on the library that reports through a context. */
%ignore hostdev_ctx_set_error;
%ignore hostdev_ctx_log;

%newobject hdb_ctx_new;
%inline %{
/* hostdev_ctx_new(): the new context, or NULL with *err < 0. */
static hostdev_ctx *hdb_ctx_new(int *err)
{
	hostdev_ctx *ctx = NULL;

	*err = hostdev_ctx_new(&ctx);
	return ctx;
}

/* A copy of the context's last error message (the raw layer's strings are copies, so a message
 * survives the next failing call). */
static char *hdb_ctx_get_error(const hostdev_ctx *ctx)
{
	return strdup(ctx ? hostdev_ctx_get_error(ctx) : "");
}

/* strerror() of a negative errno, for errors without a context (naming functions). */
static const char *hdb_strerror(int err)
{
	return strerror(err < 0 ? -err : err);
}
%}
%newobject hdb_ctx_get_error;

/*
 * Log messages kept for languages without callbacks (Go): hdb_log_capture() installs a log
 * function that appends "priority\tmessage\n" to a buffer owned by this binding object, and
 * hdb_log_take() hands the collected text over. One buffer per context; the language drains it
 * after each call under the same lock that serialises the calls.
 */
%{
typedef struct hdb_log {
	hostdev_ctx *ctx;
	char *text;
	size_t len;
	int overflow;
} hdb_log;

/* Enough for any one call's messages; past it lines are dropped and counted as one marker. */
#define HDB_LOG_MAX (64 * 1024)

static void hdb_log_append(int priority, const char *message, void *userdata)
{
	hdb_log *log = userdata;
	char prefix[16];
	size_t plen, mlen = strlen(message);
	char *text;

	plen = (size_t)snprintf(prefix, sizeof(prefix), "%d\t", priority);
	if (log->len + plen + mlen + 2 > HDB_LOG_MAX) {
		log->overflow = 1;
		return;
	}
	text = realloc(log->text, log->len + plen + mlen + 2);
	if (!text) {
		log->overflow = 1;
		return;
	}
	memcpy(text + log->len, prefix, plen);
	memcpy(text + log->len + plen, message, mlen);
	log->len += plen + mlen;
	text[log->len++] = '\n';
	text[log->len] = '\0';
	log->text = text;
}
%}
%nodefaultctor hdb_log;
typedef struct hdb_log {
} hdb_log;
%extend hdb_log {
	/* Capture the messages of @ctx at @priority and below. The hdb_log holds a context
	 * reference; deleting it removes the log function. */
	hdb_log(hostdev_ctx *ctx, int priority)
	{
		hdb_log *log = calloc(1, sizeof(*log));
		if (!log || !ctx) {
			free(log);
			return NULL;
		}
		log->ctx = hostdev_ctx_ref(ctx);
		hostdev_ctx_set_log_fn(ctx, hdb_log_append, log);
		hostdev_ctx_set_log_priority(ctx, priority);
		return log;
	}
	~hdb_log()
	{
		hostdev_ctx_set_log_fn($self->ctx, NULL, NULL);
		hostdev_ctx_unref($self->ctx);
		free($self->text);
		free($self);
	}
	/* The collected lines ("priority\tmessage\n" each, a last "3\t(log lines dropped)\n" after
	 * an overflow) and an empty buffer. */
	%newobject take;
	char *take()
	{
		char *text = $self->text ? $self->text : strdup("");
		if (text && $self->overflow) {
			static const char marker[] = "3\t(log lines dropped)\n";
			char *t = realloc(text, strlen(text) + sizeof(marker));
			if (t) {
				strcat(t, marker);
				text = t;
			}
		}
		$self->text = NULL;
		$self->len = 0;
		$self->overflow = 0;
		return text;
	}
}

%include <hostdev/context.h>

/* -------------------------------------------------------------------------------------------- */
/* pci.h */

%ignore hostdev_pci_address_parse;
%ignore hostdev_pci_address_format;
%ignore hostdev_pci_device_new;
%ignore hostdev_pci_device_to_json;
%ignore hostdev_pci_device_to_json_nested; /* char **out; hdb_pci_device_to_json covers the bindings */
%ignore hostdev_pci_enum_new;
%ignore hostdev_pci_enum_next;
/* The bus topology of `hostdev list -t` (out-parameters and a caller's buffer): the shims below. */
%ignore hostdev_pci_device_get_bridge_buses;
%ignore hostdev_pci_device_get_parent_address;

%newobject hdb_pci_address_parse;
%newobject hdb_pci_address_format;
%newobject hdb_pci_device_new;
%newobject hdb_pci_device_to_json;
%newobject hdb_pci_enum_new;
%newobject hdb_pci_enum_next;
%newobject hdb_pci_device_get_parent_address;
%inline %{
/* hostdev_pci_device_get_parent_address(): the address upstream of @dev, or NULL with *err 0 for
 * a device on a root bus (< 0 on error). */
static char *hdb_pci_device_get_parent_address(hostdev_pci_device *dev, int *err)
{
	char buf[HOSTDEV_PCI_ADDRESS_MAX], *copy;

	*err = hostdev_pci_device_get_parent_address(dev, buf, sizeof(buf));
	if (*err <= 0)
		return NULL;
	if (!(copy = strdup(buf)))
		*err = -ENOMEM;
	return copy;
}

/* hostdev_pci_device_get_bridge_buses(): for a bridge (*err 1) the bus numbers packed as
 * primary | secondary << 8 | subordinate << 16 (each is 0-255), so that one call gives all three
 * without out-parameters; 0 with *err 0 for another device, *err < 0 on error. */
static unsigned int hdb_pci_device_get_bridge_buses(hostdev_pci_device *dev, int *err)
{
	unsigned int primary = 0, secondary = 0, subordinate = 0;

	*err = hostdev_pci_device_get_bridge_buses(dev, &primary, &secondary, &subordinate);
	if (*err <= 0)
		return 0;
	return (primary & 0xff) | (secondary & 0xff) << 8 | (subordinate & 0xff) << 16;
}

/* hostdev_pci_address_parse(): a new address, or NULL with *err < 0. */
static struct hostdev_pci_address *hdb_pci_address_parse(const char *text, int *err)
{
	struct hostdev_pci_address *addr = malloc(sizeof(*addr));

	if (!addr) {
		*err = -ENOMEM;
		return NULL;
	}
	*err = hostdev_pci_address_parse(text, addr);
	if (*err < 0) {
		free(addr);
		return NULL;
	}
	return addr;
}

/* hostdev_pci_address_format(): "dddd:bb:ss.f", or NULL with *err < 0. */
static char *hdb_pci_address_format(const struct hostdev_pci_address *addr, int *err)
{
	char buf[HOSTDEV_PCI_ADDRESS_MAX];

	*err = hostdev_pci_address_format(addr, buf, sizeof(buf));
	if (*err < 0)
		return NULL;
	return strdup(buf);
}

static hostdev_pci_device *hdb_pci_device_new(hostdev_ctx *ctx, const char *address, int *err)
{
	hostdev_pci_device *dev = NULL;

	*err = hostdev_pci_device_new(ctx, address, &dev);
	return dev;
}

static char *hdb_pci_device_to_json(hostdev_pci_device *dev, unsigned int flags, int *err)
{
	char *json = NULL;

	*err = hostdev_pci_device_to_json(dev, flags, &json);
	return hdb_copy(json, err);
}

static hostdev_pci_enum *hdb_pci_enum_new(hostdev_ctx *ctx, int *err)
{
	hostdev_pci_enum *e = NULL;

	*err = hostdev_pci_enum_new(ctx, &e);
	return e;
}

/* hostdev_pci_enum_next(): *err is 1 with a device, 0 at the end (NULL), < 0 on error (NULL). */
static hostdev_pci_device *hdb_pci_enum_next(hostdev_pci_enum *e, int *err)
{
	hostdev_pci_device *dev = NULL;

	*err = hostdev_pci_enum_next(e, &dev);
	return dev;
}
%}

%include <hostdev/pci.h>

/* -------------------------------------------------------------------------------------------- */
/* naming.h: the functions write into a caller buffer; the shims return a copy. */

%newobject hdb_naming_resource_vendor;
%newobject hdb_naming_pci_resource;
%newobject hdb_naming_pci_object_name;
%newobject hdb_naming_pci_description;
%newobject hdb_naming_usb_object_name;
%newobject hdb_naming_kubevirt_env;
%newobject hdb_naming_device_id;
%newobject hdb_naming_vgpu_resource;
%{
/* The result of a naming call: a copy of @buf, or NULL with *err < 0. */
static char *hdb_name(int r, const char *buf, int *err)
{
	*err = r;
	if (r < 0)
		return NULL;
	if (!(buf = strdup(buf)))
		*err = -ENOMEM;
	return (char *)buf;
}
%}
%inline %{
static char *hdb_naming_resource_vendor(const char *vendor_name, int *err)
{
	char buf[HOSTDEV_NAME_MAX];

	return hdb_name(hostdev_naming_resource_vendor(vendor_name, buf, sizeof(buf)), buf, err);
}

static char *hdb_naming_pci_resource(const char *vendor_name, const char *device_name,
			      unsigned int device_id, int *err)
{
	char buf[HOSTDEV_NAME_MAX];

	return hdb_name(hostdev_naming_pci_resource(vendor_name, device_name, device_id, buf,
						    sizeof(buf)),
			buf, err);
}

static char *hdb_naming_pci_object_name(const char *node, const char *address, int *err)
{
	char buf[HOSTDEV_NAME_MAX];

	return hdb_name(hostdev_naming_pci_object_name(node, address, buf, sizeof(buf)), buf, err);
}

static char *hdb_naming_pci_description(const char *class_name, const char *subclass_name,
				 unsigned int class_code, const char *vendor_name,
				 unsigned int vendor_id, const char *device_name,
				 unsigned int device_id, int *err)
{
	char buf[HOSTDEV_NAME_MAX];

	return hdb_name(hostdev_naming_pci_description(class_name, subclass_name, class_code,
						       vendor_name, vendor_id, device_name,
						       device_id, buf, sizeof(buf)),
			buf, err);
}

static char *hdb_naming_usb_object_name(const char *node, unsigned int vendor_id,
				 unsigned int product_id, unsigned int busnum,
				 unsigned int devnum, int *err)
{
	char buf[HOSTDEV_NAME_MAX];

	return hdb_name(hostdev_naming_usb_object_name(node, vendor_id, product_id, busnum,
						       devnum, buf, sizeof(buf)),
			buf, err);
}

static char *hdb_naming_device_id(const char *text, int *err)
{
	char buf[HOSTDEV_NAME_MAX];

	return hdb_name(hostdev_naming_device_id(text, buf, sizeof(buf)), buf, err);
}

static char *hdb_naming_kubevirt_env(const char *prefix, const char *resource_name, int *err)
{
	char buf[HOSTDEV_NAME_MAX];

	return hdb_name(hostdev_naming_kubevirt_env(prefix, resource_name, buf, sizeof(buf)), buf,
			err);
}

static char *hdb_naming_vgpu_resource(const char *type_name, int *err)
{
	char buf[HOSTDEV_NAME_MAX];

	return hdb_name(hostdev_naming_vgpu_resource(type_name, buf, sizeof(buf)), buf, err);
}
%}

/* The header is not %included: every other function of it writes into a caller buffer and needs a
 * shim above, so a function added to naming.h stays unwrapped until it gets one. */
#define HOSTDEV_NAME_MAX 512
int hostdev_naming_check_resource_name(const char *resource_name);

/* -------------------------------------------------------------------------------------------- */
/* vfio.h */

/* The options struct holds borrowed pointers: it is built inside the shims from plain arguments. */
%ignore hostdev_vfio_options;
%ignore hostdev_vfio_options_init;
%ignore hostdev_vfio_bind;
%ignore hostdev_vfio_bind_set;
%ignore hostdev_vfio_restore;
%ignore hostdev_vfio_restore_set;
%ignore hostdev_vfio_restore_all;
%ignore hostdev_vfio_restore_with_result;
%ignore hostdev_vfio_bind_with_result;
%ignore hostdev_vfio_result_to_json;
%ignore hostdev_vfio_apply;
%ignore hostdev_vfio_journal_read;
%ignore hostdev_vfio_journal_to_json;
%ignore hostdev_vfio_check;
%ignore hostdev_vfio_report_to_json;
%ignore hostdev_vfio_persist_read;
%ignore hostdev_vfio_modprobe_conf;

%newobject hdb_vfio_restore_with_result;
%newobject hdb_vfio_bind_with_result;
%newobject hdb_vfio_result_to_json;
%newobject hdb_vfio_journal_read;
%newobject hdb_vfio_journal_to_json;
%newobject hdb_vfio_check;
%newobject hdb_vfio_report_to_json;
%newobject hdb_vfio_persist_read;
%newobject hdb_vfio_modprobe_conf;
%{
/* Options from the shims' plain arguments; @owner "" means none, @protect may be NULL. */
static int hdb_vfio_opts(struct hostdev_vfio_options *opts, const char *owner,
			 unsigned int timeout_ms, const hdb_strv *protect)
{
	int r = hostdev_vfio_options_init(opts, HOSTDEV_VFIO_OPTIONS_VERSION);

	if (r < 0)
		return r;
	opts->owner = owner && *owner ? owner : NULL;
	opts->timeout_ms = timeout_ms;
	if (protect && protect->count) {
		opts->protected_addresses = (const char *const *)protect->items;
		opts->protected_count = protect->count;
	}
	return 0;
}

static const char *const *hdb_items(const hdb_strv *v)
{
	return v ? (const char *const *)v->items : NULL;
}

static size_t hdb_count(const hdb_strv *v)
{
	return v ? v->count : 0;
}
%}
%inline %{
/* hostdev_vfio_bind_set() with options {owner ("" = none), timeout_ms, protected addresses}. */
static int hdb_vfio_bind_set(hostdev_ctx *ctx, const hdb_strv *addresses, const char *owner,
		      unsigned int timeout_ms, const hdb_strv *protect, unsigned int flags)
{
	struct hostdev_vfio_options opts;
	int r = hdb_vfio_opts(&opts, owner, timeout_ms, protect);

	return r < 0 ? r
		     : hostdev_vfio_bind_set(ctx, hdb_items(addresses), hdb_count(addresses),
					     &opts, flags);
}

/* hostdev_vfio_bind_with_result(): the result on success, NULL on failure; *err the C result. */
static hostdev_vfio_result *hdb_vfio_bind_with_result(hostdev_ctx *ctx, const hdb_strv *addresses,
						      const char *owner, unsigned int timeout_ms,
						      const hdb_strv *protect,
						      unsigned int lock_timeout_ms, unsigned int flags,
						      int *err)
{
	struct hostdev_vfio_options opts;
	hostdev_vfio_result *result = NULL;
	int r = hdb_vfio_opts(&opts, owner, timeout_ms, protect);

	opts.lock_timeout_ms = lock_timeout_ms;
	*err = r < 0 ? r
		     : hostdev_vfio_bind_with_result(ctx, hdb_items(addresses), hdb_count(addresses),
						     &opts, flags, &result);
	return result;
}

static int hdb_vfio_restore_set(hostdev_ctx *ctx, const hdb_strv *addresses, unsigned int timeout_ms,
			 unsigned int flags)
{
	struct hostdev_vfio_options opts;
	int r = hdb_vfio_opts(&opts, NULL, timeout_ms, NULL);

	return r < 0 ? r
		     : hostdev_vfio_restore_set(ctx, hdb_items(addresses), hdb_count(addresses),
						&opts, flags);
}

/* hostdev_vfio_restore_all(); @owner "" restores every record. */
static int hdb_vfio_restore_all(hostdev_ctx *ctx, const char *owner, unsigned int timeout_ms,
			 unsigned int flags)
{
	struct hostdev_vfio_options opts;
	int r = hdb_vfio_opts(&opts, owner, timeout_ms, NULL);

	return r < 0 ? r : hostdev_vfio_restore_all(ctx, &opts, flags);
}

/*
 * hostdev_vfio_restore_with_result(); @owner "" means every owner. The result is returned on
 * failure too (it says what was done before and which device failed), NULL only when the call
 * failed before reading the journal; *err is the C result either way.
 */
static hostdev_vfio_result *hdb_vfio_restore_with_result(hostdev_ctx *ctx, const hdb_strv *addresses,
							 const char *owner, unsigned int timeout_ms,
							 unsigned int lock_timeout_ms,
							 unsigned int flags, int *err)
{
	struct hostdev_vfio_options opts;
	hostdev_vfio_result *result = NULL;
	int r = hdb_vfio_opts(&opts, owner, timeout_ms, NULL);

	opts.lock_timeout_ms = lock_timeout_ms;
	*err = r < 0 ? r
		     : hostdev_vfio_restore_with_result(ctx, hdb_items(addresses),
							hdb_count(addresses), &opts, flags,
							&result);
	return result;
}

static char *hdb_vfio_result_to_json(const hostdev_vfio_result *result, unsigned int flags, int *err)
{
	char *json = NULL;

	*err = hostdev_vfio_result_to_json(result, flags, &json);
	return hdb_copy(json, err);
}

static int hdb_vfio_apply(hostdev_ctx *ctx, const char *owner, unsigned int timeout_ms,
		   const hdb_strv *protect, unsigned int flags)
{
	struct hostdev_vfio_options opts;
	int r = hdb_vfio_opts(&opts, owner, timeout_ms, protect);

	return r < 0 ? r : hostdev_vfio_apply(ctx, &opts, flags);
}

static hostdev_vfio_journal *hdb_vfio_journal_read(hostdev_ctx *ctx, int *err)
{
	hostdev_vfio_journal *journal = NULL;

	*err = hostdev_vfio_journal_read(ctx, &journal);
	return journal;
}

static char *hdb_vfio_journal_to_json(const hostdev_vfio_journal *journal, unsigned int flags, int *err)
{
	char *json = NULL;

	*err = hostdev_vfio_journal_to_json(journal, flags, &json);
	return hdb_copy(json, err);
}

/* hostdev_vfio_check(); @addresses NULL or empty judges every non-bridge device. */
static hostdev_vfio_report *hdb_vfio_check(hostdev_ctx *ctx, const hdb_strv *addresses,
				    unsigned int flags, int *err)
{
	hostdev_vfio_report *report = NULL;

	*err = hostdev_vfio_check(ctx, hdb_items(addresses), hdb_count(addresses), flags, &report);
	return report;
}

static char *hdb_vfio_report_to_json(const hostdev_vfio_report *report, unsigned int flags, int *err)
{
	char *json = NULL;

	*err = hostdev_vfio_report_to_json(report, flags, &json);
	return hdb_copy(json, err);
}

static hostdev_vfio_persist *hdb_vfio_persist_read(hostdev_ctx *ctx, int *err)
{
	hostdev_vfio_persist *list = NULL;

	*err = hostdev_vfio_persist_read(ctx, &list);
	return list;
}

static char *hdb_vfio_modprobe_conf(hostdev_ctx *ctx, unsigned int flags, int *err)
{
	char *conf = NULL;

	*err = hostdev_vfio_modprobe_conf(ctx, flags, &conf);
	return hdb_copy(conf, err);
}
%}

%include <hostdev/vfio.h>

/* -------------------------------------------------------------------------------------------- */
/* usb.h */

%ignore hostdev_usb_device_new;
%ignore hostdev_usb_device_to_json;
%ignore hostdev_usb_enum_new;
%ignore hostdev_usb_enum_next;

%newobject hdb_usb_device_new;
%newobject hdb_usb_device_to_json;
%newobject hdb_usb_enum_new;
%newobject hdb_usb_enum_next;
%inline %{
static hostdev_usb_device *hdb_usb_device_new(hostdev_ctx *ctx, const char *name, int *err)
{
	hostdev_usb_device *dev = NULL;

	*err = hostdev_usb_device_new(ctx, name, &dev);
	return dev;
}

static char *hdb_usb_device_to_json(hostdev_usb_device *dev, unsigned int flags, int *err)
{
	char *json = NULL;

	*err = hostdev_usb_device_to_json(dev, flags, &json);
	return hdb_copy(json, err);
}

static hostdev_usb_enum *hdb_usb_enum_new(hostdev_ctx *ctx, unsigned int flags, int *err)
{
	hostdev_usb_enum *e = NULL;

	*err = hostdev_usb_enum_new(ctx, flags, &e);
	return e;
}

/* hostdev_usb_enum_next(): *err is 1 with a device, 0 at the end (NULL), < 0 on error (NULL). */
static hostdev_usb_device *hdb_usb_enum_next(hostdev_usb_enum *e, int *err)
{
	hostdev_usb_device *dev = NULL;

	*err = hostdev_usb_enum_next(e, &dev);
	return dev;
}
%}

%include <hostdev/usb.h>

/* -------------------------------------------------------------------------------------------- */
/* monitor.h: the callback becomes a queue. hdb_monitor owns a hostdev_monitor whose callback
 * copies every event into a hdb_event (with references to its device snapshots); the languages
 * call process() and then take the events with next_event(), so nothing calls back into Python or
 * Go. The fd is the monitor's, for any event loop. */

%ignore hostdev_monitor;
%ignore hostdev_event;
%ignore hostdev_monitor_new;
%ignore hostdev_monitor_ref;
%ignore hostdev_monitor_unref;
%ignore hostdev_monitor_add_match_subsystem;
%ignore hostdev_monitor_add_match_id;
%ignore hostdev_monitor_add_match_class;
%ignore hostdev_monitor_set_callback;
%ignore hostdev_monitor_start;
%ignore hostdev_monitor_get_fd;
%ignore hostdev_monitor_process;
%rename("$ignore", regextarget=1) "^hostdev_event_(get|is)_";

%{
typedef struct hdb_event {
	int action;
	char *action_name, *subsystem, *name, *interface, *driver;
	unsigned long long seqnum;
	int replay, partial;
	hostdev_usb_device *usb;
	hostdev_pci_device *pci;
	struct hdb_event *next;
} hdb_event;

typedef struct hdb_monitor {
	hostdev_monitor *monitor;
	hdb_event *head, *tail;
	int oom; /* an event could not be queued */
} hdb_monitor;

static char *hdb_dup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void hdb_event_free(hdb_event *ev)
{
	if (!ev)
		return;
	free(ev->action_name);
	free(ev->subsystem);
	free(ev->name);
	free(ev->interface);
	free(ev->driver);
	hostdev_usb_device_unref(ev->usb);
	hostdev_pci_device_unref(ev->pci);
	free(ev);
}

static void hdb_monitor_queue(hostdev_monitor *monitor, const hostdev_event *event, void *userdata)
{
	hdb_monitor *m = userdata;
	hdb_event *ev = calloc(1, sizeof(*ev));

	(void)monitor;
	if (!ev) {
		m->oom = 1;
		return;
	}
	ev->action = (int)hostdev_event_get_action(event);
	ev->action_name = hdb_dup(hostdev_event_get_action_name(event));
	ev->subsystem = hdb_dup(hostdev_event_get_subsystem(event));
	ev->name = hdb_dup(hostdev_event_get_name(event));
	ev->interface = hdb_dup(hostdev_event_get_interface(event));
	ev->driver = hdb_dup(hostdev_event_get_driver(event));
	ev->seqnum = hostdev_event_get_seqnum(event);
	ev->replay = hostdev_event_is_replay(event);
	ev->partial = hostdev_event_is_partial(event);
	ev->usb = hostdev_usb_device_ref(hostdev_event_get_usb_device(event));
	ev->pci = hostdev_pci_device_ref(hostdev_event_get_pci_device(event));
	if (m->tail)
		m->tail->next = ev;
	else
		m->head = ev;
	m->tail = ev;
}
%}

/* What SWIG sees: opaque classes. */
%nodefaultctor hdb_event;
typedef struct hdb_event {
} hdb_event;
%nodefaultctor hdb_monitor;
typedef struct hdb_monitor {
} hdb_monitor;

%extend hdb_event {
	~hdb_event() { hdb_event_free($self); }
	/* enum hostdev_event_action */
	int action() { return $self->action; }
	const char *action_name() { return $self->action_name; }
	const char *subsystem() { return $self->subsystem; }
	const char *name() { return $self->name; }
	const char *interface_name() { return $self->interface; }
	const char *driver() { return $self->driver; }
	unsigned long long seqnum() { return $self->seqnum; }
	int is_replay() { return $self->replay; }
	int is_partial() { return $self->partial; }
	/* A new reference to the USB snapshot, NULL for PCI events. */
	%newobject usb_device;
	hostdev_usb_device *usb_device() { return hostdev_usb_device_ref($self->usb); }
	/* A new reference to the PCI snapshot, NULL for USB events. */
	%newobject pci_device;
	hostdev_pci_device *pci_device() { return hostdev_pci_device_ref($self->pci); }
}

/* hostdev_monitor_new() with the queueing callback; NULL with *err < 0 (a function, not a
 * constructor: constructors cannot hand *err back in every language). */
%newobject hdb_monitor_new;
%inline %{
static hdb_monitor *hdb_monitor_new(hostdev_ctx *ctx, int *err)
{
	hdb_monitor *m = calloc(1, sizeof(*m));

	if (!m) {
		*err = -ENOMEM;
		return NULL;
	}
	*err = hostdev_monitor_new(ctx, &m->monitor);
	if (*err < 0) {
		free(m);
		return NULL;
	}
	hostdev_monitor_set_callback(m->monitor, hdb_monitor_queue, m);
	return m;
}
%}

%extend hdb_monitor {
	~hdb_monitor()
	{
		hostdev_monitor_unref($self->monitor);
		while ($self->head) {
			hdb_event *next = $self->head->next;
			hdb_event_free($self->head);
			$self->head = next;
		}
		free($self);
	}
	int add_match_subsystem(const char *subsystem)
	{
		return hostdev_monitor_add_match_subsystem($self->monitor, subsystem);
	}
	int add_match_id(const char *spec) { return hostdev_monitor_add_match_id($self->monitor, spec); }
	int add_match_class(const char *spec)
	{
		return hostdev_monitor_add_match_class($self->monitor, spec);
	}
	/* hostdev_monitor_start(); with HOSTDEV_MONITOR_ENUMERATE the replayed devices are queued. */
	int start(unsigned int flags) { return hostdev_monitor_start($self->monitor, flags); }
	int fd() { return hostdev_monitor_get_fd($self->monitor); }
	/* hostdev_monitor_process(): the number of events queued, or a negative errno (-ENOMEM
	 * when an event could not be queued). */
	int process()
	{
		int r = hostdev_monitor_process($self->monitor);

		if (r >= 0 && $self->oom) {
			$self->oom = 0;
			return -ENOMEM;
		}
		return r;
	}
	/* The oldest queued event (the caller owns it), NULL when the queue is empty. */
	%newobject next_event;
	hdb_event *next_event()
	{
		hdb_event *ev = $self->head;

		if (ev) {
			$self->head = ev->next;
			if (!$self->head)
				$self->tail = NULL;
			ev->next = NULL;
		}
		return ev;
	}
}

%include <hostdev/monitor.h>

/* -------------------------------------------------------------------------------------------- */
/* sriov.h: the PF snapshot is a HOSTDEV_OBJECT; the options struct is built inside the shim from
 * plain arguments with hostdev_sriov_options_init(), like the vfio options. */

%ignore hostdev_sriov_pf_new;
%ignore hostdev_sriov_options;
%ignore hostdev_sriov_options_init;
%ignore hostdev_sriov_set_num_vfs;

%newobject hdb_sriov_pf_new;
%inline %{
/* hostdev_sriov_pf_new(): the PF snapshot, or NULL with *err < 0. */
static hostdev_sriov_pf *hdb_sriov_pf_new(hostdev_ctx *ctx, const char *address, int *err)
{
	hostdev_sriov_pf *pf = NULL;

	*err = hostdev_sriov_pf_new(ctx, address, &pf);
	return pf;
}

/* hostdev_sriov_set_num_vfs() with options {timeout_ms (0 = default), autoprobe (enum
 * hostdev_sriov_autoprobe)}. Returns the number of VFs enabled afterwards or a negative errno. */
static int hdb_sriov_set_num_vfs(hostdev_ctx *ctx, const char *address, unsigned int num_vfs,
				 unsigned int timeout_ms, unsigned int autoprobe, unsigned int flags)
{
	struct hostdev_sriov_options opts;
	int r = hostdev_sriov_options_init(&opts, HOSTDEV_SRIOV_OPTIONS_VERSION);

	if (r < 0)
		return r;
	opts.timeout_ms = timeout_ms;
	opts.autoprobe = autoprobe;
	return hostdev_sriov_set_num_vfs(ctx, address, num_vfs, &opts, flags);
}
%}

%include <hostdev/sriov.h>

/* -------------------------------------------------------------------------------------------- */
/* mdev.h: both snapshots are HOSTDEV_OBJECTs; the shims build the options struct with
 * hostdev_mdev_options_init() and return the UUIDs as malloc'd copies. A parent or UUID of NULL
 * or "" means "none" (all parents, a generated UUID): Go strings cannot be nil. */

%ignore hostdev_mdev_types_read;
%ignore hostdev_mdev_list_read;
%ignore hostdev_mdev_options;
%ignore hostdev_mdev_options_init;
%ignore hostdev_mdev_uuid_generate;
%ignore hostdev_mdev_create;
%ignore hostdev_mdev_remove;

%newobject hdb_mdev_types_read;
%newobject hdb_mdev_list_read;
%newobject hdb_mdev_uuid_generate;
%newobject hdb_mdev_create;
%{
static const char *hdb_or_null(const char *s)
{
	return s && *s ? s : NULL;
}

static int hdb_mdev_opts(struct hostdev_mdev_options *opts, unsigned int timeout_ms)
{
	int r = hostdev_mdev_options_init(opts, HOSTDEV_MDEV_OPTIONS_VERSION);

	if (r < 0)
		return r;
	opts->timeout_ms = timeout_ms;
	return 0;
}
%}
%inline %{
/* hostdev_mdev_types_read(); @parent NULL or "" reads every parent. NULL with *err < 0. */
static hostdev_mdev_types *hdb_mdev_types_read(hostdev_ctx *ctx, const char *parent, int *err)
{
	hostdev_mdev_types *types = NULL;

	*err = hostdev_mdev_types_read(ctx, hdb_or_null(parent), &types);
	return types;
}

/* hostdev_mdev_list_read(): the mdevs, or NULL with *err < 0. */
static hostdev_mdev_list *hdb_mdev_list_read(hostdev_ctx *ctx, int *err)
{
	hostdev_mdev_list *list = NULL;

	*err = hostdev_mdev_list_read(ctx, &list);
	return list;
}

/* hostdev_mdev_uuid_generate(): a new UUID, or NULL with *err < 0. */
static char *hdb_mdev_uuid_generate(hostdev_ctx *ctx, int *err)
{
	char buf[HOSTDEV_MDEV_UUID_MAX];

	return hdb_name(hostdev_mdev_uuid_generate(ctx, buf, sizeof(buf)), buf, err);
}

/* hostdev_mdev_create() with options {timeout_ms (0 = default)}; @uuid NULL or "" generates one.
 * Returns the UUID of the new mdev, or NULL with *err < 0. */
static char *hdb_mdev_create(hostdev_ctx *ctx, const char *parent, const char *type,
			     const char *uuid, unsigned int timeout_ms, unsigned int flags, int *err)
{
	struct hostdev_mdev_options opts;
	char *uuid_out = NULL;

	*err = hdb_mdev_opts(&opts, timeout_ms);
	if (*err < 0)
		return NULL;
	*err = hostdev_mdev_create(ctx, parent, type, hdb_or_null(uuid), &opts, flags, &uuid_out);
	return hdb_copy(uuid_out, err);
}

/* hostdev_mdev_remove() with options {timeout_ms (0 = default)}. */
static int hdb_mdev_remove(hostdev_ctx *ctx, const char *uuid, unsigned int timeout_ms,
			   unsigned int flags)
{
	struct hostdev_mdev_options opts;
	int r = hdb_mdev_opts(&opts, timeout_ms);

	return r < 0 ? r : hostdev_mdev_remove(ctx, uuid, &opts, flags);
}
%}

%include <hostdev/mdev.h>

/* -------------------------------------------------------------------------------------------- */
/* vgpu.h: the snapshot is a HOSTDEV_OBJECT read by a shim (no out-parameter); set, clear and
 * restore take plain arguments and build the options struct with hostdev_vgpu_options_init().
 * An address of NULL or "" means "every VF" (read) or "every record" (restore). */

%ignore hostdev_vgpu_read;
%ignore hostdev_vgpu_list_to_json;
%ignore hostdev_vgpu_options;
%ignore hostdev_vgpu_options_init;
%ignore hostdev_vgpu_set_type;
%ignore hostdev_vgpu_clear_type;
%ignore hostdev_vgpu_restore;

%newobject hdb_vgpu_read;
%newobject hdb_vgpu_list_to_json;
%{
static int hdb_vgpu_opts(struct hostdev_vgpu_options *opts, unsigned int timeout_ms,
			 unsigned int lock_timeout_ms)
{
	int r = hostdev_vgpu_options_init(opts, HOSTDEV_VGPU_OPTIONS_VERSION);

	if (r < 0)
		return r;
	opts->timeout_ms = timeout_ms;
	opts->lock_timeout_ms = lock_timeout_ms;
	return 0;
}
%}
%inline %{
/* hostdev_vgpu_read(); @address NULL or "" reads every vGPU-capable VF. NULL with *err < 0. */
static hostdev_vgpu_list *hdb_vgpu_read(hostdev_ctx *ctx, const char *address, int *err)
{
	hostdev_vgpu_list *list = NULL;

	*err = hostdev_vgpu_read(ctx, hdb_or_null(address), &list);
	return list;
}

/* hostdev_vgpu_list_to_json() (compact): the text, or NULL with *err < 0. */
static char *hdb_vgpu_list_to_json(const hostdev_vgpu_list *list, int *err)
{
	char *text = NULL;

	*err = hostdev_vgpu_list_to_json(list, 0, &text);
	return hdb_copy(text, err);
}

/* hostdev_vgpu_set_type() with options {timeout_ms, lock_timeout_ms (0 = defaults)}. */
static int hdb_vgpu_set_type(hostdev_ctx *ctx, const char *address, unsigned int type_id,
			     unsigned int timeout_ms, unsigned int lock_timeout_ms)
{
	struct hostdev_vgpu_options opts;
	int r = hdb_vgpu_opts(&opts, timeout_ms, lock_timeout_ms);

	return r < 0 ? r : hostdev_vgpu_set_type(ctx, address, type_id, &opts, 0);
}

/* hostdev_vgpu_clear_type() with options as above. */
static int hdb_vgpu_clear_type(hostdev_ctx *ctx, const char *address, unsigned int timeout_ms,
			       unsigned int lock_timeout_ms)
{
	struct hostdev_vgpu_options opts;
	int r = hdb_vgpu_opts(&opts, timeout_ms, lock_timeout_ms);

	return r < 0 ? r : hostdev_vgpu_clear_type(ctx, address, &opts, 0);
}

/* hostdev_vgpu_restore(); @address NULL or "" restores every record. */
static int hdb_vgpu_restore(hostdev_ctx *ctx, const char *address, unsigned int timeout_ms,
			    unsigned int lock_timeout_ms)
{
	struct hostdev_vgpu_options opts;
	int r = hdb_vgpu_opts(&opts, timeout_ms, lock_timeout_ms);

	return r < 0 ? r : hostdev_vgpu_restore(ctx, hdb_or_null(address), &opts, 0);
}
%}

%include <hostdev/vgpu.h>

/* -------------------------------------------------------------------------------------------- */
/* deviceplugin.h: serving kubelet device plugins with the built-in plugins.
 *
 * The loop and the server are HOSTDEV_OBJECTs; the config, the resolved resources and the device
 * lists are freed, not unref'd (HOSTDEV_OWNED). The idiomatic layers give each loop a context of
 * its own (hdb_ctx_clone() of the caller's): the built-in plugins use the loop's context on the
 * loop's thread, so the caller's context stays free for other calls meanwhile.
 *
 * Every shim reports through an hdb_status the language creates per call: the C result and a copy
 * of the context's message, taken in the same C call as the failing function. Two goroutines or
 * threads failing at once therefore each get their own message, without a lock in the language
 * (the library serialises the calls on a loop itself). The options struct is built inside
 * hdb_dp_server_new_builtin() with hostdev_dp_server_options_init().
 *
 * Custom plugins (struct hostdev_dp_plugin_ops, hostdev_dp_server_new()) are Python-only:
 * python/hostdev_python_dp.i makes ops that call into Python with the GIL; the response object is
 * wrapped for Python only. Go serves the built-in plugins. */

HOSTDEV_OBJECT(hostdev_dp_loop, hostdev_dp_loop_unref)
HOSTDEV_OBJECT(hostdev_dp_server, hostdev_dp_server_unref)
HOSTDEV_OBJECT(hostdev_dp_config, hostdev_dp_config_unref)
HOSTDEV_OBJECT(hostdev_dp_resources, hostdev_dp_resources_unref)
HOSTDEV_OBJECT(hostdev_dp_devices, hostdev_dp_devices_unref)
HOSTDEV_OBJECT(hostdev_dp_manager, hostdev_dp_manager_unref)
/* The deprecated HOSTDEV_1 names of the three _unref above. */
%ignore hostdev_dp_config_free;
%ignore hostdev_dp_resources_free;
%ignore hostdev_dp_devices_free;

%{
typedef struct hdb_status {
	int code;
	char *message;
} hdb_status;

/* Record @r and, for a failure, the message of @ctx (strerror without a context or message). */
static int hdb_status_set(hdb_status *st, const hostdev_ctx *ctx, int r)
{
	const char *msg = NULL;

	if (!st)
		return r;
	st->code = r;
	free(st->message);
	st->message = NULL;
	if (r < 0) {
		if (ctx)
			msg = hostdev_ctx_get_error(ctx);
		st->message = strdup(msg && *msg ? msg : strerror(-r));
	}
	return r;
}
%}
%nodefaultctor hdb_status;
typedef struct hdb_status {
} hdb_status;
%extend hdb_status {
	hdb_status() { return calloc(1, sizeof(hdb_status)); }
	~hdb_status()
	{
		free($self->message);
		free($self);
	}
	/* The C result: >= 0, or a negative errno. */
	int code() { return $self->code; }
	/* The message of a failure ("" after a success). */
	const char *message() { return $self->message ? $self->message : ""; }
}

/* The shims replace these. */
%ignore hostdev_dp_loop_new;
%ignore hostdev_dp_loop_dispatch;
%ignore hostdev_dp_loop_run;
%ignore hostdev_dp_loop_start_thread;
%ignore hostdev_dp_loop_stop_thread;
%ignore hostdev_dp_devices_new;
%ignore hostdev_dp_server_options;
%ignore hostdev_dp_server_options_init;
%ignore hostdev_dp_server_new;
%ignore hostdev_dp_server_new_builtin;
%ignore hostdev_dp_server_start;
%ignore hostdev_dp_server_stop;
%ignore hostdev_dp_server_refresh;
%ignore hostdev_dp_server_set_devices;
%ignore hostdev_dp_config_parse;
%ignore hostdev_dp_config_load;
%ignore hostdev_dp_resources_resolve;
%ignore hostdev_dp_resources_permitted_host_devices;
%ignore hostdev_dp_manager_options;
%ignore hostdev_dp_manager_options_init;
%ignore hostdev_dp_manager_new;
%ignore hostdev_dp_manager_start;
%ignore hostdev_dp_manager_stop;
%ignore hostdev_dp_manager_resolve;
%ignore hostdev_dp_manager_refresh;
%ignore hostdev_dp_manager_get_server;
/* Custom plugins: only Python has them (python/hostdev_python_dp.i builds the ops itself). */
%ignore hostdev_dp_plugin_ops;
/* What a plugin written in C reads of a config (HOSTDEV_1.3): the languages serve the built-in
 * plugins, and a borrowed config or a list of borrowed ids would outlive its owner there. */
%ignore hostdev_dp_resources_get_config;
%ignore hostdev_dp_config_match;
%ignore hostdev_dp_matches;
%rename("$ignore", regextarget=1) "^hostdev_dp_matches_";
#ifndef SWIGPYTHON
%rename("$ignore", regextarget=1) "^hostdev_dp_response_";
#endif

%newobject hdb_ctx_clone;
%newobject hdb_dp_loop_new;
%newobject hdb_dp_devices_new;
%newobject hdb_dp_config_parse;
%newobject hdb_dp_config_load;
%newobject hdb_dp_resources_resolve;
%newobject hdb_dp_resources_permitted_host_devices;
%newobject hdb_dp_server_new_builtin;
%newobject hdb_dp_manager_new;
%newobject hdb_dp_manager_get_server;
%inline %{
/* A new context with the paths, node name and log priority of @ctx (no log function): the
 * context of a device-plugin loop. NULL on failure. */
static hostdev_ctx *hdb_ctx_clone(hostdev_ctx *ctx, hdb_status *st)
{
	static const enum hostdev_path paths[] = {
	    HOSTDEV_PATH_SYSFS,	  HOSTDEV_PATH_DEV,	HOSTDEV_PATH_PROC,
	    HOSTDEV_PATH_STATE,	  HOSTDEV_PATH_CONFIG,	HOSTDEV_PATH_KUBELET,
	    HOSTDEV_PATH_PCI_IDS, HOSTDEV_PATH_USB_IDS, HOSTDEV_PATH_MODULES,
	};
	hostdev_ctx *clone = NULL;
	const char *node;
	int r;

	if (!ctx) {
		hdb_status_set(st, NULL, -EINVAL);
		return NULL;
	}
	r = hostdev_ctx_new(&clone);
	for (size_t i = 0; r >= 0 && i < sizeof(paths) / sizeof(paths[0]); i++) {
		const char *value = hostdev_ctx_get_path(ctx, paths[i]);

		if (value)
			r = hostdev_ctx_set_path(clone, paths[i], value);
	}
	if (r >= 0 && (node = hostdev_ctx_get_node_name(ctx)) && *node)
		r = hostdev_ctx_set_node_name(clone, node);
	if (r < 0) {
		hdb_status_set(st, clone ? clone : ctx, r);
		hostdev_ctx_unref(clone);
		return NULL;
	}
	hostdev_ctx_set_log_priority(clone, hostdev_ctx_get_log_priority(ctx));
	hdb_status_set(st, NULL, 0);
	return clone;
}

/* hostdev_dp_loop_new(); NULL on failure. */
static hostdev_dp_loop *hdb_dp_loop_new(hostdev_ctx *ctx, hdb_status *st)
{
	hostdev_dp_loop *loop = NULL;

	hdb_status_set(st, ctx, hostdev_dp_loop_new(ctx, &loop));
	return loop;
}

/* The loop calls, @ctx being the loop's context. Each returns the C result. */
static int hdb_dp_loop_dispatch(hostdev_ctx *ctx, hostdev_dp_loop *loop, int timeout_ms,
				hdb_status *st)
{
	return hdb_status_set(st, ctx, hostdev_dp_loop_dispatch(loop, timeout_ms));
}

static int hdb_dp_loop_run(hostdev_ctx *ctx, hostdev_dp_loop *loop, hdb_status *st)
{
	return hdb_status_set(st, ctx, hostdev_dp_loop_run(loop));
}

static int hdb_dp_loop_start_thread(hostdev_ctx *ctx, hostdev_dp_loop *loop, hdb_status *st)
{
	return hdb_status_set(st, ctx, hostdev_dp_loop_start_thread(loop));
}

static int hdb_dp_loop_stop_thread(hostdev_ctx *ctx, hostdev_dp_loop *loop, hdb_status *st)
{
	return hdb_status_set(st, ctx, hostdev_dp_loop_stop_thread(loop));
}

static hostdev_dp_config *hdb_dp_config_parse(hostdev_ctx *ctx, const char *json, hdb_status *st)
{
	hostdev_dp_config *config = NULL;

	hdb_status_set(st, ctx, hostdev_dp_config_parse(ctx, json, &config));
	return config;
}

static hostdev_dp_config *hdb_dp_config_load(hostdev_ctx *ctx, const char *path, hdb_status *st)
{
	hostdev_dp_config *config = NULL;

	hdb_status_set(st, ctx, hostdev_dp_config_load(ctx, path, &config));
	return config;
}

static hostdev_dp_resources *hdb_dp_resources_resolve(hostdev_ctx *ctx,
						      const hostdev_dp_config *config,
						      hdb_status *st)
{
	hostdev_dp_resources *res = NULL;

	hdb_status_set(st, ctx, hostdev_dp_resources_resolve(ctx, config, &res));
	return res;
}

/* hostdev_dp_resources_permitted_host_devices() (enum hostdev_dp_format): the text, or NULL. */
static char *hdb_dp_resources_permitted_host_devices(const hostdev_dp_resources *res, int format,
						     hdb_status *st)
{
	char *text = NULL;
	int r = hostdev_dp_resources_permitted_host_devices(res, format, &text);

	hdb_status_set(st, NULL, r);
	if (r < 0)
		return NULL;
	r = 0;
	text = hdb_copy(text, &r);
	hdb_status_set(st, NULL, r);
	return text;
}

/* hostdev_dp_devices_new(); NULL on failure. */
static hostdev_dp_devices *hdb_dp_devices_new(hdb_status *st)
{
	hostdev_dp_devices *devices = NULL;

	hdb_status_set(st, NULL, hostdev_dp_devices_new(&devices));
	return devices;
}

/* hostdev_dp_server_new_builtin() for resource @i with the options {registration (enum
 * hostdev_dp_registration), socket_name, device_plugin_dir, plugins_registry_dir ("" = the
 * default each), refresh_interval_ms (0 = default, -1 = never)}. NULL on failure. */
static hostdev_dp_server *hdb_dp_server_new_builtin(hostdev_ctx *ctx, hostdev_dp_loop *loop,
						    const hostdev_dp_resources *res, size_t i,
						    int registration, const char *socket_name,
						    const char *device_plugin_dir,
						    const char *plugins_registry_dir,
						    int refresh_interval_ms, hdb_status *st)
{
	struct hostdev_dp_server_options opts;
	hostdev_dp_server *server = NULL;

	hostdev_dp_server_options_init(&opts);
	opts.registration = registration;
	opts.socket_name = hdb_or_null(socket_name);
	opts.device_plugin_dir = hdb_or_null(device_plugin_dir);
	opts.plugins_registry_dir = hdb_or_null(plugins_registry_dir);
	opts.refresh_interval_ms = refresh_interval_ms;
	hdb_status_set(st, ctx, hostdev_dp_server_new_builtin(loop, res, i, &opts, &server));
	return server;
}

/* The server calls, @ctx being the loop's context. Each returns the C result. */
static int hdb_dp_server_start(hostdev_ctx *ctx, hostdev_dp_server *server, hdb_status *st)
{
	return hdb_status_set(st, ctx, hostdev_dp_server_start(server));
}

static int hdb_dp_server_stop(hostdev_ctx *ctx, hostdev_dp_server *server, hdb_status *st)
{
	return hdb_status_set(st, ctx, hostdev_dp_server_stop(server));
}

static int hdb_dp_server_refresh(hostdev_ctx *ctx, hostdev_dp_server *server, hdb_status *st)
{
	return hdb_status_set(st, ctx, hostdev_dp_server_refresh(server));
}

static int hdb_dp_server_set_devices(hostdev_ctx *ctx, hostdev_dp_server *server,
				     const hostdev_dp_devices *devices, hdb_status *st)
{
	return hdb_status_set(st, ctx, hostdev_dp_server_set_devices(server, devices));
}

/* hostdev_dp_manager_new() with the server options of hdb_dp_server_new_builtin() (no socket
 * name: each resource's is its own) and {grace_ms, resolve_interval_ms, hotplug} of struct
 * hostdev_dp_manager_options. NULL on failure. */
static hostdev_dp_manager *hdb_dp_manager_new(hostdev_ctx *ctx, hostdev_dp_loop *loop,
					      hostdev_dp_config *config, int registration,
					      const char *device_plugin_dir,
					      const char *plugins_registry_dir,
					      int refresh_interval_ms, int grace_ms,
					      int resolve_interval_ms, int hotplug, hdb_status *st)
{
	struct hostdev_dp_server_options server;
	struct hostdev_dp_manager_options opts;
	hostdev_dp_manager *manager = NULL;

	hostdev_dp_server_options_init(&server);
	server.registration = registration;
	server.device_plugin_dir = hdb_or_null(device_plugin_dir);
	server.plugins_registry_dir = hdb_or_null(plugins_registry_dir);
	server.refresh_interval_ms = refresh_interval_ms;
	hostdev_dp_manager_options_init(&opts);
	opts.server = &server;
	opts.grace_ms = grace_ms;
	opts.resolve_interval_ms = resolve_interval_ms;
	opts.hotplug = hotplug;
	hdb_status_set(st, ctx,
		       hostdev_dp_manager_new(loop, config, &opts, &manager));
	return manager;
}

/* The manager calls, @ctx being the loop's context. Each returns the C result. */
static int hdb_dp_manager_start(hostdev_ctx *ctx, hostdev_dp_manager *manager, hdb_status *st)
{
	return hdb_status_set(st, ctx, hostdev_dp_manager_start(manager));
}

static int hdb_dp_manager_stop(hostdev_ctx *ctx, hostdev_dp_manager *manager, hdb_status *st)
{
	return hdb_status_set(st, ctx, hostdev_dp_manager_stop(manager));
}

static int hdb_dp_manager_resolve(hostdev_ctx *ctx, hostdev_dp_manager *manager, hdb_status *st)
{
	return hdb_status_set(st, ctx, hostdev_dp_manager_resolve(manager));
}

static int hdb_dp_manager_refresh(hostdev_ctx *ctx, hostdev_dp_manager *manager, hdb_status *st)
{
	return hdb_status_set(st, ctx, hostdev_dp_manager_refresh(manager));
}

/* Server @i of the manager, a new reference (the manager may end it at the next dispatch);
 * NULL out of range. */
static hostdev_dp_server *hdb_dp_manager_get_server(hostdev_dp_manager *manager, size_t i)
{
	return hostdev_dp_server_ref(hostdev_dp_manager_get_server(manager, i));
}
%}


/*
 * Log messages of a loop's context for languages without callbacks (Go): hdb_log_pipe installs a
 * log function that writes "priority\tmessage\n" lines to a non-blocking pipe, which the language
 * reads on a goroutine of its own. Unlike hdb_log (drained after each call), it takes messages
 * from the loop's thread at any time. A line is at most PIPE_BUF bytes, so each write is atomic;
 * a line that does not fit the pipe is dropped and counted, and the next line that fits is
 * preceded by "4\t(N log lines dropped)". The log function must be removed (the object deleted)
 * only once no thread uses the context any more: after the loop and its servers are freed.
 */
%{
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

typedef struct hdb_log_pipe {
	hostdev_ctx *ctx;
	int rfd, wfd;
	atomic_ulong dropped;
} hdb_log_pipe;

static int hdb_log_pipe_line(char *buf, size_t size, int priority, const char *message)
{
	int n = snprintf(buf, size, "%d\t%s", priority, message);

	if (n < 0)
		return -1;
	if ((size_t)n >= size - 1)
		n = (int)size - 2; /* cut: room for the newline */
	for (int i = 0; i < n; i++)
		if (buf[i] == '\n' || buf[i] == '\r')
			buf[i] = ' ';
	buf[n++] = '\n';
	return n;
}

static void hdb_log_pipe_write(int priority, const char *message, void *userdata)
{
	hdb_log_pipe *lp = userdata;
	char buf[PIPE_BUF];
	unsigned long dropped = atomic_exchange(&lp->dropped, 0);
	int n;

	if (dropped) {
		char note[64];

		snprintf(note, sizeof(note), "(%lu log lines dropped)", dropped);
		n = hdb_log_pipe_line(buf, sizeof(buf), HOSTDEV_LOG_WARNING, note);
		if (n < 0 || write(lp->wfd, buf, (size_t)n) != n) {
			atomic_fetch_add(&lp->dropped, dropped + 1);
			return;
		}
	}
	n = hdb_log_pipe_line(buf, sizeof(buf), priority, message);
	if (n < 0 || write(lp->wfd, buf, (size_t)n) != n)
		atomic_fetch_add(&lp->dropped, 1);
}
%}
%nodefaultctor hdb_log_pipe;
typedef struct hdb_log_pipe {
} hdb_log_pipe;
%extend hdb_log_pipe {
	/* Send the messages of @ctx at @priority and below to a new pipe. NULL when no pipe can be
	 * made. Holds a context reference. */
	hdb_log_pipe(hostdev_ctx *ctx, int priority)
	{
		hdb_log_pipe *lp = calloc(1, sizeof(*lp));
		int fds[2];

		if (!lp || !ctx || pipe(fds) < 0) {
			free(lp);
			return NULL;
		}
		fcntl(fds[0], F_SETFD, FD_CLOEXEC);
		fcntl(fds[1], F_SETFD, FD_CLOEXEC);
		/* Only the writer is non-blocking: the reader blocks in its goroutine. */
		fcntl(fds[1], F_SETFL, O_NONBLOCK);
		lp->rfd = fds[0];
		lp->wfd = fds[1];
		atomic_init(&lp->dropped, 0);
		lp->ctx = hostdev_ctx_ref(ctx);
		hostdev_ctx_set_log_priority(ctx, priority);
		hostdev_ctx_set_log_fn(ctx, hdb_log_pipe_write, lp);
		return lp;
	}
	/* Remove the log function and close the write end: the reader sees the end of the file. */
	~hdb_log_pipe()
	{
		hostdev_ctx_set_log_fn($self->ctx, NULL, NULL);
		hostdev_ctx_unref($self->ctx);
		close($self->wfd);
		if ($self->rfd >= 0)
			close($self->rfd);
		free($self);
	}
	/* The read end; the caller owns it from now on (-1 the second time). */
	int take_fd()
	{
		int fd = $self->rfd;

		$self->rfd = -1;
		return fd;
	}
}

%include <hostdev/deviceplugin.h>

#ifdef SWIGPYTHON
/* Device plugins written in Python: a server whose ops call into Python with the GIL. */
%include "python/hostdev_python_dp.i"
#endif

/* -------------------------------------------------------------------------------------------- */
/* dra.h: kubelet DRA plugins, CDI spec files and device-metadata files.
 *
 * The plugin, the CDI spec and the metadata are HOSTDEV_OBJECTs (the two helpers are freed, not
 * unref'd). A hostdev_dra_request is handed to the languages as a borrowed pointer, valid until
 * it is completed. The plugin lives on a device-plugin loop (hostdev_loop is hostdev_dp_loop).
 * Its ops are per language: python/hostdev_python_dra.i calls into Python on the loop's thread;
 * Go defers every request to a queue its goroutines read (hdb_dra_queue below). Every shim
 * reports through an hdb_status, like the device-plugin shims. */

HOSTDEV_OBJECT(hostdev_dra_plugin, hostdev_dra_plugin_unref)
HOSTDEV_OBJECT(hostdev_dra_cdi_spec, hostdev_dra_cdi_spec_free)
HOSTDEV_OBJECT(hostdev_dra_metadata, hostdev_dra_metadata_free)

%ignore hostdev_dra_plugin_ops;
%ignore hostdev_dra_plugin_options;
%ignore hostdev_dra_plugin_options_init;
%ignore hostdev_dra_plugin_new;
%ignore hostdev_dra_plugin_start;
%ignore hostdev_dra_plugin_stop;
%ignore hostdev_dra_cdi_spec_new;
%ignore hostdev_dra_cdi_spec_add_device;
%ignore hostdev_dra_cdi_spec_add_vfio_device;
%ignore hostdev_dra_cdi_spec_add_device_node;
%ignore hostdev_dra_cdi_spec_get_device_id;
%ignore hostdev_dra_cdi_spec_to_json;
%ignore hostdev_dra_cdi_spec_write;
%ignore hostdev_dra_cdi_spec_remove;
%ignore hostdev_dra_metadata_new;
%ignore hostdev_dra_metadata_add_device;
%ignore hostdev_dra_metadata_get_cdi_id;
%ignore hostdev_dra_metadata_to_json;
%ignore hostdev_dra_metadata_write;
%ignore hostdev_dra_metadata_remove;

%{
/* The options of hostdev_dra_plugin_new() from plain arguments: the directories ("" = the
 * default), api_versions (HOSTDEV_DRA_API_* bits, 0 = all), kubelet_uid (-1 = none),
 * no_registration. */
static void hdb_dra_options(struct hostdev_dra_plugin_options *opts, const char *plugin_dir,
			    const char *registry_dir, unsigned int api_versions, int kubelet_uid,
			    int no_registration)
{
	hostdev_dra_plugin_options_init(opts);
	opts->plugin_dir = hdb_or_null(plugin_dir);
	opts->registry_dir = hdb_or_null(registry_dir);
	opts->api_versions = api_versions;
	opts->kubelet_uid = kubelet_uid;
	opts->no_registration = no_registration;
}

/* A library string of @r (0 or a negative errno) as a malloc'd copy, the status set. */
static char *hdb_dra_string(hdb_status *st, const hostdev_ctx *ctx, int r, char *text)
{
	if (hdb_status_set(st, ctx, r) < 0)
		return NULL;
	r = 0;
	text = hdb_copy(text, &r);
	hdb_status_set(st, NULL, r);
	return text;
}
%}

%newobject hdb_dra_cdi_spec_new;
%newobject hdb_dra_cdi_spec_get_device_id;
%newobject hdb_dra_cdi_spec_to_json;
%newobject hdb_dra_metadata_new;
%newobject hdb_dra_metadata_get_cdi_id;
%newobject hdb_dra_metadata_to_json;
%inline %{
/* The plugin calls, @ctx being the loop's context. Each returns the C result. */
static int hdb_dra_plugin_start(hostdev_ctx *ctx, hostdev_dra_plugin *plugin, hdb_status *st)
{
	return hdb_status_set(st, ctx, hostdev_dra_plugin_start(plugin));
}

static int hdb_dra_plugin_stop(hostdev_ctx *ctx, hostdev_dra_plugin *plugin, hdb_status *st)
{
	return hdb_status_set(st, ctx, hostdev_dra_plugin_stop(plugin));
}

/* The CDI spec and metadata calls, @ctx being the context the object was made with (its
 * messages go there). */
static hostdev_dra_cdi_spec *hdb_dra_cdi_spec_new(hostdev_ctx *ctx, const char *kind,
						  hdb_status *st)
{
	hostdev_dra_cdi_spec *spec = NULL;

	hdb_status_set(st, ctx, hostdev_dra_cdi_spec_new(ctx, kind, &spec));
	return spec;
}

static int hdb_dra_cdi_spec_add_device(hostdev_ctx *ctx, hostdev_dra_cdi_spec *spec,
				       const char *name, hdb_status *st)
{
	return hdb_status_set(st, ctx, hostdev_dra_cdi_spec_add_device(spec, name));
}

/* hostdev_dra_cdi_spec_add_vfio_device(); @vfio_cdev -1: no iommufd nodes. */
static int hdb_dra_cdi_spec_add_vfio_device(hostdev_ctx *ctx, hostdev_dra_cdi_spec *spec,
					    const char *name, const char *iommu_group,
					    int vfio_cdev, hdb_status *st)
{
	return hdb_status_set(st, ctx, hostdev_dra_cdi_spec_add_vfio_device(spec, name, iommu_group,
									  vfio_cdev));
}

static int hdb_dra_cdi_spec_add_device_node(hostdev_ctx *ctx, hostdev_dra_cdi_spec *spec,
					    const char *name, const char *path, hdb_status *st)
{
	return hdb_status_set(st, ctx, hostdev_dra_cdi_spec_add_device_node(spec, name, path));
}

static char *hdb_dra_cdi_spec_get_device_id(hostdev_ctx *ctx, const hostdev_dra_cdi_spec *spec,
					    const char *name, hdb_status *st)
{
	char *id = NULL;
	int r = hostdev_dra_cdi_spec_get_device_id(spec, name, &id);

	return hdb_dra_string(st, ctx, r, id);
}

static char *hdb_dra_cdi_spec_to_json(hostdev_ctx *ctx, const hostdev_dra_cdi_spec *spec,
				      hdb_status *st)
{
	char *json = NULL;
	int r = hostdev_dra_cdi_spec_to_json(spec, &json);

	return hdb_dra_string(st, ctx, r, json);
}

static int hdb_dra_cdi_spec_write(hostdev_ctx *ctx, const hostdev_dra_cdi_spec *spec,
				  const char *dir, const char *file_name, hdb_status *st)
{
	return hdb_status_set(st, ctx, hostdev_dra_cdi_spec_write(spec, dir, file_name));
}

static int hdb_dra_cdi_spec_remove(hostdev_ctx *ctx, const char *dir, const char *file_name,
				   hdb_status *st)
{
	return hdb_status_set(st, ctx, hostdev_dra_cdi_spec_remove(ctx, dir, file_name));
}

static hostdev_dra_metadata *hdb_dra_metadata_new(hostdev_ctx *ctx, const char *driver,
						  const char *namespace_name,
						  const char *claim_name, const char *claim_uid,
						  const char *request, hdb_status *st)
{
	hostdev_dra_metadata *md = NULL;

	hdb_status_set(st, ctx, hostdev_dra_metadata_new(ctx, driver, namespace_name, claim_name,
							 claim_uid, request, &md));
	return md;
}

/* hostdev_dra_metadata_add_device(); "" for the one of @pci_bus_id and @mdev_uuid not given. */
static int hdb_dra_metadata_add_device(hostdev_ctx *ctx, hostdev_dra_metadata *md,
				       const char *pool_name, const char *device_name,
				       const char *pci_bus_id, const char *mdev_uuid,
				       hdb_status *st)
{
	return hdb_status_set(st, ctx, hostdev_dra_metadata_add_device(md, pool_name, device_name,
								       hdb_or_null(pci_bus_id),
								       hdb_or_null(mdev_uuid)));
}

static char *hdb_dra_metadata_get_cdi_id(hostdev_ctx *ctx, const hostdev_dra_metadata *md,
					 hdb_status *st)
{
	char *id = NULL;
	int r = hostdev_dra_metadata_get_cdi_id(md, &id);

	return hdb_dra_string(st, ctx, r, id);
}

static char *hdb_dra_metadata_to_json(hostdev_ctx *ctx, const hostdev_dra_metadata *md,
				      hdb_status *st)
{
	char *json = NULL;
	int r = hostdev_dra_metadata_to_json(md, &json);

	return hdb_dra_string(st, ctx, r, json);
}

static int hdb_dra_metadata_write(hostdev_ctx *ctx, const hostdev_dra_metadata *md,
				  const char *data_dir, const char *cdi_dir, hdb_status *st)
{
	return hdb_status_set(st, ctx, hostdev_dra_metadata_write(md, data_dir, cdi_dir));
}

static int hdb_dra_metadata_remove(hostdev_ctx *ctx, const hostdev_dra_metadata *md,
				   const char *data_dir, const char *cdi_dir, hdb_status *st)
{
	return hdb_status_set(st, ctx, hostdev_dra_metadata_remove(md, data_dir, cdi_dir));
}
%}

#ifdef SWIGGO
%include "go/hostdev_go_dra.i"
#endif

%include <hostdev/dra.h>

#ifdef SWIGPYTHON
/* DRA plugins written in Python: ops that call into Python with the GIL. */
%include "python/hostdev_python_dra.i"
#endif
