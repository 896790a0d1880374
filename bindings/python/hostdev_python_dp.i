/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Python-only part of the SWIG interface for device plugins written in Python (included by
 * ../hostdev.i under SWIGPYTHON, after deviceplugin.h).
 *
 * hdb_dp_server_new_python() makes a server whose plugin ops call methods of a Python "bridge"
 * object (_hostdev._deviceplugin._PluginBridge): _list(devices), _allocate(ids, response),
 * _preferred(available, must_include, size, response), _prestart(ids). The C objects are handed
 * over as borrowed SWIG proxies (no ownership), valid during the call only. The bridge catches
 * the plugin's exceptions and returns 0 or a negative errno; it raising itself is reported through
 * sys.unraisablehook and the call fails with -EIO.
 *
 * The ops run on the loop's thread (or a thread calling refresh()) with the loop's lock held and
 * take the GIL. Every other wrapped call releases the GIL before it can wait for the loop's lock,
 * so a thread holding the GIL never waits for the lock while the loop holds it waiting for the
 * GIL. hdb_dp_server_new_python() is %nothread: it takes a reference to the bridge with the GIL,
 * then releases it around hostdev_dp_server_new(); the destroy op drops the reference with the GIL.
 */
%{
static PyObject *hdb_py_strs(const char *const *v, size_t n)
{
	PyObject *t = PyTuple_New((Py_ssize_t)n);

	for (size_t i = 0; t && i < n; i++) {
		PyObject *s = PyUnicode_DecodeUTF8(v[i], (Py_ssize_t)strlen(v[i]), "surrogateescape");

		if (!s) {
			Py_DECREF(t);
			return NULL;
		}
		PyTuple_SET_ITEM(t, (Py_ssize_t)i, s);
	}
	return t;
}

/* The bridge's answer (a new reference, NULL when it raised): 0 or a negative errno. */
static int hdb_py_rc(PyObject *bridge, PyObject *result)
{
	long r = -EIO;

	if (result && PyLong_Check(result)) {
		r = PyLong_AsLong(result);
		if (r > 0 || (r == -1 && PyErr_Occurred()))
			r = -EIO;
	}
	if (PyErr_Occurred())
		PyErr_WriteUnraisable(bridge);
	Py_XDECREF(result);
	return (int)r;
}

static int hdb_py_list(void *userdata, hostdev_dp_devices *out)
{
	PyGILState_STATE gil = PyGILState_Ensure();
	PyObject *bridge = userdata;
	PyObject *devices = SWIG_NewPointerObj(out, SWIGTYPE_p_hostdev_dp_devices, 0);
	PyObject *result = devices ? PyObject_CallMethod(bridge, "_list", "(O)", devices) : NULL;
	int r = hdb_py_rc(bridge, result);

	Py_XDECREF(devices);
	PyGILState_Release(gil);
	return r;
}

static int hdb_py_allocate(void *userdata, const char *const *ids, size_t n_ids,
			   hostdev_dp_response *out)
{
	PyGILState_STATE gil = PyGILState_Ensure();
	PyObject *bridge = userdata;
	PyObject *resp = SWIG_NewPointerObj(out, SWIGTYPE_p_hostdev_dp_response, 0);
	PyObject *args = hdb_py_strs(ids, n_ids);
	PyObject *result = resp && args ? PyObject_CallMethod(bridge, "_allocate", "OO", args, resp)
					: NULL;
	int r = hdb_py_rc(bridge, result);

	Py_XDECREF(args);
	Py_XDECREF(resp);
	PyGILState_Release(gil);
	return r;
}

static int hdb_py_preferred(void *userdata, const char *const *available, size_t n_available,
			    const char *const *must_include, size_t n_must_include, size_t size,
			    hostdev_dp_response *out)
{
	PyGILState_STATE gil = PyGILState_Ensure();
	PyObject *bridge = userdata;
	PyObject *resp = SWIG_NewPointerObj(out, SWIGTYPE_p_hostdev_dp_response, 0);
	PyObject *avail = hdb_py_strs(available, n_available);
	PyObject *must = hdb_py_strs(must_include, n_must_include);
	PyObject *result = resp && avail && must
			       ? PyObject_CallMethod(bridge, "_preferred", "OOnO", avail, must,
						     (Py_ssize_t)size, resp)
			       : NULL;
	int r = hdb_py_rc(bridge, result);

	Py_XDECREF(must);
	Py_XDECREF(avail);
	Py_XDECREF(resp);
	PyGILState_Release(gil);
	return r;
}

static int hdb_py_prestart(void *userdata, const char *const *ids, size_t n_ids)
{
	PyGILState_STATE gil = PyGILState_Ensure();
	PyObject *bridge = userdata;
	PyObject *args = hdb_py_strs(ids, n_ids);
	PyObject *result = args ? PyObject_CallMethod(bridge, "_prestart", "(O)", args) : NULL;
	int r = hdb_py_rc(bridge, result);

	Py_XDECREF(args);
	PyGILState_Release(gil);
	return r;
}

static void hdb_py_destroy(void *userdata)
{
	PyGILState_STATE gil = PyGILState_Ensure();

	Py_DECREF((PyObject *)userdata);
	PyGILState_Release(gil);
}
%}

%nothread hdb_dp_server_new_python;
%newobject hdb_dp_server_new_python;
%inline %{
/* hostdev_dp_server_new() with the ops of @bridge: list_devices, allocate, get_preferred_allocation
 * and pre_start_container only when @has_* says the plugin has them (a missing one changes what
 * the server advertises), the options as for hdb_dp_server_new_builtin(). NULL on failure. */
static hostdev_dp_server *hdb_dp_server_new_python(hostdev_ctx *ctx, hostdev_dp_loop *loop,
						   const char *resource_name, PyObject *bridge,
						   int has_list, int has_allocate, int has_preferred,
						   int has_prestart, int registration,
						   const char *socket_name,
						   const char *device_plugin_dir,
						   const char *plugins_registry_dir,
						   int refresh_interval_ms, hdb_status *st)
{
	struct hostdev_dp_plugin_ops ops = {
	    .version = HOSTDEV_DP_PLUGIN_OPS_VERSION,
	    .list_devices = has_list ? hdb_py_list : NULL,
	    .allocate = has_allocate ? hdb_py_allocate : NULL,
	    .get_preferred_allocation = has_preferred ? hdb_py_preferred : NULL,
	    .pre_start_container = has_prestart ? hdb_py_prestart : NULL,
	    .destroy = hdb_py_destroy,
	};
	struct hostdev_dp_server_options opts;
	hostdev_dp_server *server = NULL;
	int r;

	hostdev_dp_server_options_init(&opts);
	opts.registration = registration;
	opts.socket_name = hdb_or_null(socket_name);
	opts.device_plugin_dir = hdb_or_null(device_plugin_dir);
	opts.plugins_registry_dir = hdb_or_null(plugins_registry_dir);
	opts.refresh_interval_ms = refresh_interval_ms;
	/* The server owns this reference: ops.destroy drops it, also when the call fails. */
	Py_INCREF(bridge);
	Py_BEGIN_ALLOW_THREADS
	r = hostdev_dp_server_new(loop, resource_name, &ops, bridge, &opts, &server);
	hdb_status_set(st, ctx, r);
	Py_END_ALLOW_THREADS
	return server;
}
%}
