/* Checks agent/src/pylayout.h against the headers of the CPython it is compiled with (test only; built
 * by test/pyframes/layout.test.ts with -I<include>/python3.X -I<include>/python3.X/internal, and for 3.13+
 * also with -DPy_GIL_DISABLED=1: the free-threaded layout from the same headers).
 * Prints one line per mismatch and exits 1, or prints "ok <n> checks" and exits 0. */
#define Py_BUILD_CORE 1
#include <Python.h>
#include <frameobject.h>
#if PY_MINOR_VERSION >= 11
#include "internal/pycore_frame.h"
#endif
#include "internal/pycore_runtime.h"
#if PY_MINOR_VERSION >= 14
#include "internal/pycore_debug_offsets.h"
#include "internal/pycore_interp.h"
#endif
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "../src/format.h"
#include "../src/pylayout.h"

static int failures, checks;

static void check(const char *what, unsigned long have, unsigned long want) {
    checks++;
    if (have != want) {
        printf("mismatch: %s: pylayout.h has %lu, the headers say %lu\n", what, have, want);
        failures++;
    }
}

#define CHECK(field, value) check(#field, (unsigned long)(L->field), (unsigned long)(value))

/* The state bit-field of PyASCIIObject: set each field through the compiler, read the word back. */
static void check_str_state_bits(unsigned shift) {
    PyASCIIObject o;
    uint32_t w;
    memset(&o, 0, sizeof o);
    o.state.kind = 7;
    memcpy(&w, (char *)&o + offsetof(PyASCIIObject, state), 4);
    check("str state kind bits", w, ML_STR_KIND_MASK << shift);
    memset(&o, 0, sizeof o);
    o.state.compact = 1;
    memcpy(&w, (char *)&o + offsetof(PyASCIIObject, state), 4);
    check("str state compact bit", w, ML_STR_COMPACT_BIT(shift));
    memset(&o, 0, sizeof o);
    o.state.ascii = 1;
    memcpy(&w, (char *)&o + offsetof(PyASCIIObject, state), 4);
    check("str state ascii bit", w, ML_STR_ASCII_BIT(shift));
#if PY_MINOR_VERSION <= 11
    memset(&o, 0, sizeof o);
    o.state.ready = 1;
    memcpy(&w, (char *)&o + offsetof(PyASCIIObject, state), 4);
    check("str state ready bit", w, ML_STR_READY_BIT);
#endif
}

static void check_common(const ml_pylayout *L) {
    CHECK(minor, PY_MINOR_VERSION);
    CHECK(co_name, offsetof(PyCodeObject, co_name));
    CHECK(co_filename, offsetof(PyCodeObject, co_filename));
    CHECK(co_firstlineno, offsetof(PyCodeObject, co_firstlineno));
#if PY_MINOR_VERSION == 9
    CHECK(co_linetable, offsetof(PyCodeObject, co_lnotab));
    CHECK(linetable_kind, ML_LINETABLE_LNOTAB);
#elif PY_MINOR_VERSION == 10
    CHECK(co_linetable, offsetof(PyCodeObject, co_linetable));
    CHECK(linetable_kind, ML_LINETABLE_310);
#else
    CHECK(co_linetable, offsetof(PyCodeObject, co_linetable));
    CHECK(linetable_kind, ML_LINETABLE_LOCATIONS);
    CHECK(co_qualname, offsetof(PyCodeObject, co_qualname));
    CHECK(co_code_adaptive, offsetof(PyCodeObject, co_code_adaptive));
    CHECK(co_firsttraceable, offsetof(PyCodeObject, _co_firsttraceable));
#endif
#if PY_MINOR_VERSION <= 10
    CHECK(co_qualname, ML_NO_FIELD);
    CHECK(code_basicsize, sizeof(PyCodeObject));
#else
    CHECK(code_basicsize, offsetof(PyCodeObject, co_code_adaptive));
#endif
    CHECK(bytes_size, offsetof(PyBytesObject, ob_base.ob_size));
    CHECK(bytes_sval, offsetof(PyBytesObject, ob_sval));
    CHECK(str_length, offsetof(PyASCIIObject, length));
    CHECK(str_state, offsetof(PyASCIIObject, state));
    CHECK(str_ascii_size, sizeof(PyASCIIObject));
    CHECK(str_compact_size, sizeof(PyCompactUnicodeObject));
    CHECK(unicode_basicsize, sizeof(PyUnicodeObject));
    CHECK(str_has_ready, PY_MINOR_VERSION <= 11);
    CHECK(ob_type, offsetof(PyObject, ob_type));
    CHECK(tp_basicsize, offsetof(PyTypeObject, tp_basicsize));
    check_str_state_bits(L->str_kind_shift);
#ifdef Py_GIL_DISABLED
    CHECK(free_threaded, 1);
    check("ML_FT_OB_HEADER", ML_FT_OB_HEADER, sizeof(PyObject));
    check("ML_FT_REF_LOCAL", ML_FT_REF_LOCAL, offsetof(PyObject, ob_ref_local));
    check("sizeof ob_ref_local", sizeof(((PyObject *)0)->ob_ref_local), 4);
    check("ML_FT_REF_SHARED", ML_FT_REF_SHARED, offsetof(PyObject, ob_ref_shared));
    check("ML_FT_REF_SHARED_SHIFT", ML_FT_REF_SHARED_SHIFT, _Py_REF_SHARED_SHIFT);
#else
    CHECK(free_threaded, 0);
    check("ML_OB_TYPE", ML_OB_TYPE, offsetof(PyObject, ob_type));
    check("ML_TP_BASICSIZE", ML_TP_BASICSIZE, offsetof(PyTypeObject, tp_basicsize));
#endif
#if defined(Py_GIL_DISABLED) && PY_MINOR_VERSION >= 14
    CHECK(if_tlbc_index, offsetof(_PyInterpreterFrame, tlbc_index));
    check("sizeof tlbc_index", sizeof(((_PyInterpreterFrame *)0)->tlbc_index), 4);
    CHECK(co_tlbc, offsetof(PyCodeObject, co_tlbc));
    check("_PyCodeArray.entries", offsetof(_PyCodeArray, entries), 8);
#else
    CHECK(if_tlbc_index, ML_NO_FIELD);
    CHECK(co_tlbc, ML_NO_FIELD);
#endif
}

#if PY_MINOR_VERSION <= 12
static void check_table(const ml_pylayout *L) {
    check_common(L);
    CHECK(rt_finalizing, offsetof(_PyRuntimeState, _finalizing));
#if PY_MINOR_VERSION <= 10
    CHECK(model, ML_FRAMES_OBJECTS);
    CHECK(ts_frame, offsetof(PyThreadState, frame));
    CHECK(f_back, offsetof(PyFrameObject, f_back));
    CHECK(f_code, offsetof(PyFrameObject, f_code));
    CHECK(f_lasti, offsetof(PyFrameObject, f_lasti));
    check("sizeof f_lasti", sizeof(((PyFrameObject *)0)->f_lasti), 4);
    CHECK(lasti_unit, PY_MINOR_VERSION == 9 ? 1 : sizeof(_Py_CODEUNIT));
#else
    CHECK(model, ML_FRAMES_INTERP);
    CHECK(ts_frame, ML_NO_FIELD);
    CHECK(ts_cframe, offsetof(PyThreadState, cframe));
    CHECK(cframe_current, offsetof(_PyCFrame, current_frame));
    CHECK(if_previous, offsetof(_PyInterpreterFrame, previous));
    CHECK(if_code, offsetof(_PyInterpreterFrame, f_code));
    CHECK(if_instr, offsetof(_PyInterpreterFrame, prev_instr));
    CHECK(if_owner, offsetof(_PyInterpreterFrame, owner));
    check("sizeof owner", sizeof(((_PyInterpreterFrame *)0)->owner), 1);
    check("sizeof _co_firsttraceable", sizeof(((PyCodeObject *)0)->_co_firsttraceable), 4);
    CHECK(owner_generator, FRAME_OWNED_BY_GENERATOR);
#if PY_MINOR_VERSION == 12
    CHECK(owner_shim_min, FRAME_OWNED_BY_CSTACK);
    check("FRAME_OWNED_BY_CSTACK is the last owner", FRAME_OWNED_BY_CSTACK, 3);
#else
    CHECK(owner_shim_min, 255);
#endif
    CHECK(code_tagged, 0);
#endif
}
#endif

#if PY_MINOR_VERSION >= 13
#if PY_MINOR_VERSION == 13
typedef ml_dbg313 ml_dbg;
/* 3.13 builds its table inside _PyRuntimeState_INIT: the fields pyframes.c reads, as CPython sets them. */
static void headers_table(_Py_DebugOffsets *d) {
    memset(d, 0, sizeof *d);
    memcpy(d->cookie, "xdebugpy", 8);
    d->version = PY_VERSION_HEX;
#ifdef Py_GIL_DISABLED
    d->free_threaded = 1;
#endif
    d->runtime_state.size = sizeof(_PyRuntimeState);
    d->runtime_state.finalizing = offsetof(_PyRuntimeState, _finalizing);
    d->thread_state.size = sizeof(PyThreadState);
    d->thread_state.current_frame = offsetof(PyThreadState, current_frame);
    d->interpreter_frame.size = sizeof(_PyInterpreterFrame);
    d->interpreter_frame.previous = offsetof(_PyInterpreterFrame, previous);
    d->interpreter_frame.executable = offsetof(_PyInterpreterFrame, f_executable);
    d->interpreter_frame.instr_ptr = offsetof(_PyInterpreterFrame, instr_ptr);
    d->interpreter_frame.owner = offsetof(_PyInterpreterFrame, owner);
    d->code_object.size = sizeof(PyCodeObject);
    d->code_object.filename = offsetof(PyCodeObject, co_filename);
    d->code_object.name = offsetof(PyCodeObject, co_name);
    d->code_object.qualname = offsetof(PyCodeObject, co_qualname);
    d->code_object.linetable = offsetof(PyCodeObject, co_linetable);
    d->code_object.firstlineno = offsetof(PyCodeObject, co_firstlineno);
    d->code_object.co_code_adaptive = offsetof(PyCodeObject, co_code_adaptive);
    d->pyobject.size = sizeof(PyObject);
    d->pyobject.ob_type = offsetof(PyObject, ob_type);
    d->type_object.tp_name = offsetof(PyTypeObject, tp_name);
    d->bytes_object.ob_size = offsetof(PyBytesObject, ob_base.ob_size);
    d->bytes_object.ob_sval = offsetof(PyBytesObject, ob_sval);
    d->unicode_object.size = sizeof(PyUnicodeObject);
    d->unicode_object.state = offsetof(PyUnicodeObject, _base._base.state);
    d->unicode_object.length = offsetof(PyUnicodeObject, _base._base.length);
    d->unicode_object.asciiobject_size = sizeof(PyASCIIObject);
}
#else
#if PY_MINOR_VERSION == 14
typedef ml_dbg314 ml_dbg;
#else
typedef ml_dbg315 ml_dbg;
#endif
/* 3.14+: the very initializer CPython puts at the start of _PyRuntime. */
static void headers_table(_Py_DebugOffsets *d) {
    _Py_DebugOffsets t = _Py_DebugOffsets_INIT("xdebugpy");
    *d = t;
}
#endif

#define DBG(field) check("_Py_DebugOffsets." #field, offsetof(ml_dbg, field), offsetof(_Py_DebugOffsets, field))
static void check_debug_offsets(void) {
    check("sizeof _Py_DebugOffsets", sizeof(ml_dbg), sizeof(_Py_DebugOffsets));
    DBG(version);
    DBG(free_threaded);
    DBG(runtime_state.size);
    DBG(runtime_state.finalizing);
    DBG(runtime_state.interpreters_head);
    DBG(thread_state.size);
    DBG(thread_state.current_frame);
    DBG(interpreter_frame.size);
    DBG(interpreter_frame.previous);
    DBG(interpreter_frame.executable);
    DBG(interpreter_frame.instr_ptr);
    DBG(interpreter_frame.owner);
    DBG(code_object.size);
    DBG(code_object.filename);
    DBG(code_object.name);
    DBG(code_object.qualname);
    DBG(code_object.linetable);
    DBG(code_object.firstlineno);
    DBG(code_object.co_code_adaptive);
    DBG(pyobject.size);
    DBG(pyobject.ob_type);
    DBG(type_object.tp_name);
    DBG(bytes_object.ob_size);
    DBG(bytes_object.ob_sval);
    DBG(unicode_object.size);
    DBG(unicode_object.state);
    DBG(unicode_object.length);
    DBG(unicode_object.asciiobject_size);
    DBG(gc.collecting);
#if PY_MINOR_VERSION >= 14
    DBG(interpreter_state.threads_main);
    DBG(interpreter_frame.tlbc_index);
    DBG(code_object.co_tlbc);
    DBG(debugger_support.eval_breaker);
    DBG(debugger_support.remote_debugger_support);
    DBG(debugger_support.remote_debugging_enabled);
    DBG(debugger_support.debugger_pending_call);
    DBG(debugger_support.debugger_script_path);
    DBG(debugger_support.debugger_script_path_size);
#endif
#if PY_MINOR_VERSION >= 15
    DBG(thread_state.last_profiled_frame_seq);
    DBG(type_object.tp_basicsize);
    DBG(unicode_object.compactunicodeobject_size);
#endif
    check("offsetof(_PyRuntimeState, debug_offsets)", offsetof(_PyRuntimeState, debug_offsets), 0);
    /* What pyframes.c derives rather than reads. */
#if defined(Py_GIL_DISABLED) && PY_MINOR_VERSION >= 14
    check("_co_firsttraceable before co_code_adaptive",
          offsetof(PyCodeObject, co_code_adaptive) - offsetof(PyCodeObject, _co_firsttraceable), ML_FIRSTTRACEABLE_BEFORE_CODE_TLBC);
#else
    check("_co_firsttraceable before co_code_adaptive",
          offsetof(PyCodeObject, co_code_adaptive) - offsetof(PyCodeObject, _co_firsttraceable), ML_FIRSTTRACEABLE_BEFORE_CODE);
#endif
    check("sizeof(PyCompactUnicodeObject) - sizeof(PyASCIIObject)", sizeof(PyCompactUnicodeObject) - sizeof(PyASCIIObject), 16);
#if PY_MINOR_VERSION == 13
    check("ML_OWNER_GENERATOR_313", ML_OWNER_GENERATOR_313, FRAME_OWNED_BY_GENERATOR);
    check("ML_OWNER_SHIM_MIN_313", ML_OWNER_SHIM_MIN_313, FRAME_OWNED_BY_CSTACK);
    check("FRAME_OWNED_BY_CSTACK is the last owner", FRAME_OWNED_BY_CSTACK, 3);
#elif PY_MINOR_VERSION == 14
    check("ML_OWNER_GENERATOR_314", ML_OWNER_GENERATOR_314, FRAME_OWNED_BY_GENERATOR);
    check("ML_OWNER_SHIM_MIN_314", ML_OWNER_SHIM_MIN_314, FRAME_OWNED_BY_INTERPRETER);
    check("FRAME_OWNED_BY_CSTACK follows INTERPRETER", FRAME_OWNED_BY_CSTACK, FRAME_OWNED_BY_INTERPRETER + 1);
#else
    check("ML_OWNER_GENERATOR_315", ML_OWNER_GENERATOR_315, FRAME_OWNED_BY_GENERATOR);
    check("ML_OWNER_SHIM_MIN_315", ML_OWNER_SHIM_MIN_315, FRAME_OWNED_BY_INTERPRETER);
#endif
    check("sizeof owner", sizeof(((_PyInterpreterFrame *)0)->owner), 1);
    check("sizeof f_executable", sizeof(((_PyInterpreterFrame *)0)->f_executable), 8);
    check("sizeof co_firstlineno", sizeof(((PyCodeObject *)0)->co_firstlineno), 4);

    /* Run pyframes.c's derivation on the table CPython builds from these headers, and check the layout it
     * gives like the hard-coded ones. */
    _Py_DebugOffsets d;
    headers_table(&d);
    ml_pylayout derived;
    char err[256];
    if (ml_pylayout_from_debug_offsets(&d, PY_VERSION_HEX, &derived, err, sizeof err) != 0) {
        printf("mismatch: ml_pylayout_from_debug_offsets refused the headers' table: %s\n", err);
        failures++;
        return;
    }
    const ml_pylayout *L = &derived;
    check_common(L);
    CHECK(model, ML_FRAMES_INTERP);
    CHECK(rt_finalizing, offsetof(_PyRuntimeState, _finalizing));
    CHECK(ts_frame, offsetof(PyThreadState, current_frame));
    CHECK(ts_cframe, ML_NO_FIELD);
    CHECK(if_previous, offsetof(_PyInterpreterFrame, previous));
    CHECK(if_code, offsetof(_PyInterpreterFrame, f_executable));
    CHECK(if_instr, offsetof(_PyInterpreterFrame, instr_ptr));
    CHECK(if_owner, offsetof(_PyInterpreterFrame, owner));
    CHECK(owner_generator, FRAME_OWNED_BY_GENERATOR);
    CHECK(code_tagged, PY_MINOR_VERSION >= 14);

    /* A table of another shape is refused. */
    _Py_DebugOffsets bad = d;
    bad.pyobject.ob_type += 8;
    check("refuses an unexpected object header", ml_pylayout_from_debug_offsets(&bad, PY_VERSION_HEX, &derived, err, sizeof err),
          (unsigned long)-1);
    bad = d;
    bad.free_threaded = !d.free_threaded; /* the header sizes then belong to the other kind of build */
    check("refuses a table of the other kind of build", ml_pylayout_from_debug_offsets(&bad, PY_VERSION_HEX, &derived, err, sizeof err),
          (unsigned long)-1);
    bad = d;
    memcpy(bad.cookie, "xdebugpz", 8);
    check("refuses a wrong cookie", ml_pylayout_from_debug_offsets(&bad, PY_VERSION_HEX, &derived, err, sizeof err), (unsigned long)-1);
    check("refuses another minor version", ml_pylayout_from_debug_offsets(&d, PY_VERSION_HEX + 0x10000, &derived, err, sizeof err),
          (unsigned long)-1);
}
#endif

int main(void) {
#if PY_MINOR_VERSION == 9
    check_table(&ml_layout_39);
#elif PY_MINOR_VERSION == 10
    check_table(&ml_layout_310);
#elif PY_MINOR_VERSION == 11
    check_table(&ml_layout_311);
#elif PY_MINOR_VERSION == 12
    check_table(&ml_layout_312);
#elif PY_MINOR_VERSION >= 13 && PY_MINOR_VERSION <= ML_NEWEST_MINOR
    check_debug_offsets();
#else
    printf("no table to check for CPython 3.%d\n", PY_MINOR_VERSION);
    return 2;
#endif
    if (failures != 0) return 1;
#ifdef Py_GIL_DISABLED
    printf("ok %d checks for CPython %s (free-threaded)\n", checks, PY_VERSION);
#else
    printf("ok %d checks for CPython %s\n", checks, PY_VERSION);
#endif
    return 0;
}
