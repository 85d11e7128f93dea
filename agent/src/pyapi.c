/* dlsym(RTLD_DEFAULT) finds libpython's symbols whether libpython is a shared library the executable
 * needs or linked into an executable that exports its symbols (Debian's /usr/bin/python3). */
#include "pyapi.h"

#include <dlfcn.h>
#include <string.h>

#include "common.h"
#include "util.h"

ml_pyapi ml_py;

#define RESOLVE(name)                              \
    do {                                           \
        void *sym = dlsym(RTLD_DEFAULT, #name);    \
        if (sym == NULL) {                         \
            if (missing == NULL) missing = #name;  \
        } else {                                   \
            memcpy(&ml_py.name, &sym, sizeof sym); \
        }                                          \
    } while (0)

int ml_pyapi_init(char *err, size_t errlen) {
    const char *missing = NULL;
    memset(&ml_py, 0, sizeof ml_py);
    RESOLVE(PyTraceMalloc_Track);
    RESOLVE(PyTraceMalloc_Untrack);
    missing = NULL; /* optional: the hooks pass through without them */
    RESOLVE(PyMem_GetAllocator);
    RESOLVE(PyMem_SetAllocator);
    RESOLVE(PyImport_ImportModule);
    RESOLVE(PyObject_GetAttrString);
    RESOLVE(PyObject_CallObject);
    RESOLVE(PyObject_CallFunctionObjArgs);
    RESOLVE(PyObject_IsTrue);
    RESOLVE(PyList_Append);
    RESOLVE(PyCFunction_NewEx);
    RESOLVE(PyDict_GetItemString);
    RESOLVE(PyLong_AsLong);
    RESOLVE(PyTuple_GetItem);
    RESOLVE(PyTuple_Size);
    RESOLVE(PyUnicode_CompareWithASCIIString);
    RESOLVE(Py_IncRef);
    RESOLVE(Py_DecRef);
    RESOLVE(PyErr_Clear);
    RESOLVE(PyErr_Occurred);
    RESOLVE(PyErr_Fetch);
    RESOLVE(PyErr_Restore);
    RESOLVE(PyGILState_Check);
    RESOLVE(Py_AddPendingCall);
    RESOLVE(PyRun_SimpleString);
    const char *required = missing;
    RESOLVE(PyCode_AddWatcher);
    RESOLVE(PyCode_ClearWatcher);
    RESOLVE(PyInterpreterState_Get);
    RESOLVE(PyInterpreterState_Main);
    missing = required; /* optional: without them code frees are not watched */
    ml_py.Py_None = dlsym(RTLD_DEFAULT, "_Py_NoneStruct");
    if (ml_py.Py_None == NULL && missing == NULL) missing = "_Py_NoneStruct";
    if (missing != NULL) {
        char what[128];
        ml_strlcpy(what, "symbol not found: ", sizeof what);
        ml_strlcat(what, missing, sizeof what);
        ml_set_err(err, errlen, what, 0);
        return -1;
    }
    ml_py.ready = 1;
    return 0;
}
