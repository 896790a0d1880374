/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Python-only part of the SWIG interface (included by ../hostdev.i under SWIGPYTHON).
 *
 * The log callback: the library calls it with the GIL released (every wrapped call releases it,
 * SWIG -threads), so it takes the GIL itself. The C side holds a borrowed pointer: the Python
 * Context keeps the callable alive and removes it (hdb_ctx_set_log_python(ctx, None)) before it
 * lets go of it. An exception raised by the callable cannot cross the C library; it is reported
 * through sys.unraisablehook like exceptions in __del__.
 */
%{
static void hdb_python_log(int priority, const char *message, void *userdata)
{
	PyGILState_STATE gil = PyGILState_Ensure();
	PyObject *text = PyUnicode_DecodeUTF8(message, (Py_ssize_t)strlen(message), "surrogateescape");
	PyObject *result = NULL;

	if (text)
		result = PyObject_CallFunction((PyObject *)userdata, "iO", priority, text);
	if (!result)
		PyErr_WriteUnraisable((PyObject *)userdata);
	Py_XDECREF(result);
	Py_XDECREF(text);
	PyGILState_Release(gil);
}
%}

%inline %{
/* Install @fn(priority, message) as the log callback of @ctx, or remove it with None. */
static void hdb_ctx_set_log_python(hostdev_ctx *ctx, PyObject *fn)
{
	if (fn == Py_None)
		hostdev_ctx_set_log_fn(ctx, NULL, NULL);
	else
		hostdev_ctx_set_log_fn(ctx, hdb_python_log, fn);
}
%}

/*
 * `int *err` of the shims: always return (object, err). The standard OUTPUT typemap drops a None
 * result (it would turn (None, -19) into -19), which is exactly the failure case.
 */
%typemap(in, numinputs=0) int *err (int temp = 0) {
	$1 = &temp;
}
%typemap(argout) int *err {
	PyObject *code = PyLong_FromLong(*$1);
	PyObject *pair = code ? PyTuple_Pack(2, $result, code) : NULL;

	Py_XDECREF(code);
	Py_DECREF($result);
	$result = pair;
	if (!pair)
		SWIG_fail;
}
