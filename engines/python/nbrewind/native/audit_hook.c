/*
 * The file observer's audit hook, in C (nbrewind/native_hook.py builds it).
 *
 * A hook added with sys.addaudithook is a Python function that CPython calls
 * for every audited event of the process: ~0.4 us an event before it does
 * anything, ~1 us with the few checks that collect a path (bench/README.md,
 * "bench:files"). On a cell that opens 10,000 small files that alone is
 * +4-9% of the cell. A runtime hook added with PySys_AddAuditHook is a C
 * function: events that are not ours cost a character comparison, and a
 * read-only open of an absolute path costs one call of the route's callable.
 *
 * It does exactly what the Python hook of file_observer._make_hook does, and
 * nothing more; everything that is not the common case goes to the same slow
 * half in Python (FileObserver._hook), so the two hooks record the same
 * files (test/unit/engines/native-hook checks it).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <fcntl.h>
#include <string.h>

typedef struct {
    /* A list whose item 0 is where a read path goes (a callable), or None when nothing is observed. */
    PyObject *route;
    /* FileObserver._hook(event, args): every case the fast path does not settle. */
    PyObject *slow;
} Hook;

static int call_slow(Hook *h, const char *event, PyObject *args) {
    PyObject *name = PyUnicode_FromString(event);
    if (name == NULL) return -1;
    PyObject *out = PyObject_CallFunctionObjArgs(h->slow, name, args, NULL);
    Py_DECREF(name);
    if (out == NULL) return -1; /* as a Python hook's exception: the audited operation raises it */
    Py_DECREF(out);
    return 0;
}

static int audit_hook(const char *event, PyObject *args, void *data) {
    Hook *h = (Hook *)data;
    /* Every event of ours starts with 'o': "open", "os.rename", "os.remove". */
    if (event[0] != 'o') return 0;
    if (strcmp(event, "open") == 0) {
        if (!PyList_Check(h->route) || PyList_GET_SIZE(h->route) < 1) return 0;
        PyObject *add = PyList_GET_ITEM(h->route, 0);
        if (add == Py_None) return 0;
        if (PyTuple_CheckExact(args) && PyTuple_GET_SIZE(args) == 3) {
            PyObject *path = PyTuple_GET_ITEM(args, 0);
            PyObject *flags = PyTuple_GET_ITEM(args, 2);
            if (PyUnicode_CheckExact(path) && PyUnicode_GET_LENGTH(path) > 0 &&
                PyUnicode_READ_CHAR(path, 0) == '/' && PyLong_CheckExact(flags)) {
                long mode = PyLong_AsLong(flags);
                if (mode == -1 && PyErr_Occurred()) {
                    PyErr_Clear(); /* a flag beyond a C long: the slow half decides */
                } else if ((mode & O_ACCMODE) == 0) {
                    /* The route may be pointed elsewhere while add runs (another thread): hold it. */
                    Py_INCREF(add);
#if PY_VERSION_HEX >= 0x03090000
                    PyObject *out = PyObject_CallOneArg(add, path);
#else
                    PyObject *out = PyObject_CallFunctionObjArgs(add, path, NULL);
#endif
                    Py_DECREF(add);
                    if (out == NULL) return -1;
                    Py_DECREF(out);
                    return 0;
                }
            }
        }
        return call_slow(h, event, args);
    }
    if (strcmp(event, "os.rename") == 0 || strcmp(event, "os.remove") == 0) return call_slow(h, event, args);
    return 0;
}

static PyObject *install(PyObject *self, PyObject *const *argv, Py_ssize_t argc) {
    if (argc != 2 || !PyList_Check(argv[0]) || !PyCallable_Check(argv[1])) {
        PyErr_SetString(PyExc_TypeError, "install(route: list, slow: callable)");
        return NULL;
    }
    /* Audit hooks cannot be removed: the hook and what it holds live as long as the process. */
    Hook *h = PyMem_RawMalloc(sizeof(Hook));
    if (h == NULL) return PyErr_NoMemory();
    Py_INCREF(argv[0]);
    Py_INCREF(argv[1]);
    h->route = argv[0];
    h->slow = argv[1];
    if (PySys_AddAuditHook(audit_hook, h) < 0) return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"install", (PyCFunction)(void (*)(void))install, METH_FASTCALL,
     "install(route, slow): observe opens, renames and removals as file_observer's Python hook does."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_nbrewind_audit", NULL, -1, methods};

PyMODINIT_FUNC PyInit__nbrewind_audit(void) { return PyModule_Create(&module); }
