/* The few CPython C API functions the agent uses, found with dlsym at run time: the agent does not link
 * against libpython, so one build serves every CPython from 3.9 on. Objects are `void *`. */
#ifndef MEMLENS_PYAPI_H
#define MEMLENS_PYAPI_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct ml_pyapi {
    int (*PyTraceMalloc_Track)(unsigned int domain, uintptr_t ptr, size_t size);
    int (*PyTraceMalloc_Untrack)(unsigned int domain, uintptr_t ptr);
    void (*PyMem_GetAllocator)(int domain, void *allocator);
    void (*PyMem_SetAllocator)(int domain, void *allocator);
    void *(*PyImport_ImportModule)(const char *name);
    void *(*PyObject_GetAttrString)(void *o, const char *name);
    void *(*PyObject_CallObject)(void *callable, void *args);
    void *(*PyObject_CallFunctionObjArgs)(void *callable, ...);
    int (*PyObject_IsTrue)(void *o);
    int (*PyList_Append)(void *list, void *item);
    void *(*PyCFunction_NewEx)(void *def, void *self, void *module);
    void *(*PyDict_GetItemString)(void *d, const char *key);
    long (*PyLong_AsLong)(void *o);
    void *(*PyTuple_GetItem)(void *t, ssize_t i);
    ssize_t (*PyTuple_Size)(void *t);
    int (*PyUnicode_CompareWithASCIIString)(void *u, const char *s);
    void (*Py_IncRef)(void *o);
    void (*Py_DecRef)(void *o);
    void (*PyErr_Clear)(void);
    void *(*PyErr_Occurred)(void);
    void (*PyErr_Fetch)(void **type, void **value, void **tb);
    void (*PyErr_Restore)(void *type, void *value, void *tb);
    int (*PyGILState_Check)(void);
    int (*Py_AddPendingCall)(int (*func)(void *), void *arg);
    int (*PyRun_SimpleString)(const char *command);
    /* Optional (NULL where missing): the code watchers of 3.12+ (codewatch.c), and the interpreters. */
    int (*PyCode_AddWatcher)(int (*callback)(int event, void *code));
    int (*PyCode_ClearWatcher)(int watcher_id);
    void *(*PyInterpreterState_Get)(void);
    void *(*PyInterpreterState_Main)(void);
    void *Py_None;
    int ready;
} ml_pyapi;

/* PyMemAllocatorEx, the same layout in every CPython since 3.5. */
typedef struct ml_pymem_allocator {
    void *ctx;
    void *(*malloc)(void *ctx, size_t size);
    void *(*calloc)(void *ctx, size_t nelem, size_t elsize);
    void *(*realloc)(void *ctx, void *ptr, size_t new_size);
    void (*free)(void *ctx, void *ptr);
} ml_pymem_allocator;

/* PyMethodDef. */
typedef struct ml_pymethoddef {
    const char *ml_name;
    void *ml_meth;
    int ml_flags;
    const char *ml_doc;
} ml_pymethoddef;

#define ML_METH_VARARGS 0x0001
#define ML_PYMEM_DOMAIN_RAW 0
#define ML_PYMEM_DOMAIN_MEM 1
#define ML_PYMEM_DOMAIN_OBJ 2

extern ml_pyapi ml_py;

/* Resolves everything; -1 with err naming the first symbol missing (ml_py.ready stays 0). The tracking
 * hooks (PyTraceMalloc_*) are resolved even then when they exist. */
int ml_pyapi_init(char *err, size_t errlen);

#endif
