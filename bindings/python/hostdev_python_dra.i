/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Python-only part of the SWIG interface for DRA plugins written in Python (included by
 * ../hostdev.i under SWIGPYTHON, after dra.h).
 *
 * hdb_dra_plugin_new_python() makes a plugin whose ops call methods of a Python "bridge" object
 * (_hostdev._dra._DraBridge): _prepare(request), _unprepare(request), _registration(registered,
 * error). The request is handed over as a borrowed SWIG proxy, valid during the call only; the
 * bridge fills it (hostdev_dra_request_add_*, _set_error) and returns 0 or a negative errno, never
 * HOSTDEV_DRA_DEFERRED: the request is complete when the call returns. The bridge raising itself
 * is reported through sys.unraisablehook and the claim fails with -EIO.
 *
 * The GIL and the loop's lock are taken in the same order as for the device-plugin ops
 * (hostdev_python_dp.i): the ops run on the loop's thread with the loop's lock held and take the
 * GIL; every other wrapped call releases the GIL before it can wait for the loop's lock.
 */
%{
static int hdb_py_dra_request(void *userdata, hostdev_dra_request *req, const char *method)
{
	PyGILState_STATE gil = PyGILState_Ensure();
	PyObject *bridge = userdata;
	PyObject *r = SWIG_NewPointerObj(req, SWIGTYPE_p_hostdev_dra_request, 0);
	PyObject *result = r ? PyObject_CallMethod(bridge, method, "(O)", r) : NULL;
	long rc = -EIO;

	if (result && PyLong_Check(result)) {
		rc = PyLong_AsLong(result);
		/* Not HOSTDEV_DRA_DEFERRED (1): the request is complete when the call returns. */
		if (rc > 0 || (rc == -1 && PyErr_Occurred()))
			rc = -EIO;
	}
	if (PyErr_Occurred())
		PyErr_WriteUnraisable(bridge);
	Py_XDECREF(result);
	Py_XDECREF(r);
	PyGILState_Release(gil);
	return (int)rc;
}

static int hdb_py_dra_prepare(void *userdata, hostdev_dra_request *req)
{
	return hdb_py_dra_request(userdata, req, "_prepare");
}

static int hdb_py_dra_unprepare(void *userdata, hostdev_dra_request *req)
{
	return hdb_py_dra_request(userdata, req, "_unprepare");
}

static void hdb_py_dra_registration(void *userdata, int registered, const char *error)
{
	PyGILState_STATE gil = PyGILState_Ensure();
	PyObject *bridge = userdata;
	PyObject *result = PyObject_CallMethod(bridge, "_registration", "(is)", registered,
					       error ? error : "");

	if (!result)
		PyErr_WriteUnraisable(bridge);
	Py_XDECREF(result);
	PyGILState_Release(gil);
}

static void hdb_py_dra_destroy(void *userdata)
{
	PyGILState_STATE gil = PyGILState_Ensure();

	Py_DECREF((PyObject *)userdata);
	PyGILState_Release(gil);
}
%}

%nothread hdb_dra_plugin_new_python;
%newobject hdb_dra_plugin_new_python;
%inline %{
/* hostdev_dra_plugin_new() on @loop for driver @driver_name with the ops of @bridge (prepare and
 * unprepare only when @has_* says the driver has them: a missing one changes the answers, see
 * struct hostdev_dra_plugin_ops), the options as for hdb_dra_options(). NULL on failure. */
static hostdev_dra_plugin *hdb_dra_plugin_new_python(hostdev_ctx *ctx, hostdev_dp_loop *loop,
						     const char *driver_name, PyObject *bridge,
						     int has_prepare, int has_unprepare,
						     const char *plugin_dir, const char *registry_dir,
						     unsigned int api_versions, int kubelet_uid,
						     int no_registration, hdb_status *st)
{
	struct hostdev_dra_plugin_ops ops = {
	    .version = HOSTDEV_DRA_PLUGIN_OPS_VERSION,
	    .prepare = has_prepare ? hdb_py_dra_prepare : NULL,
	    .unprepare = has_unprepare ? hdb_py_dra_unprepare : NULL,
	    .registration_status = hdb_py_dra_registration,
	    .destroy = hdb_py_dra_destroy,
	};
	struct hostdev_dra_plugin_options opts;
	hostdev_dra_plugin *plugin = NULL;
	int r;

	hdb_dra_options(&opts, plugin_dir, registry_dir, api_versions, kubelet_uid,
			no_registration);
	/* The plugin owns this reference: ops.destroy drops it, also when the call fails. */
	Py_INCREF(bridge);
	Py_BEGIN_ALLOW_THREADS
	r = hostdev_dra_plugin_new(loop, driver_name, &ops, bridge, &opts, &plugin);
	hdb_status_set(st, ctx, r);
	Py_END_ALLOW_THREADS
	return plugin;
}
%}
