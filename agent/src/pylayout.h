/* CPython's memory layouts, as pyframes.c needs them: where the frame chain, code objects, bytes and str
 * objects keep their fields, per minor version, for LP64 Linux (x86-64 and aarch64).
 *
 * 3.9 to 3.12 are hard-coded below (GIL builds: there are no others); agent/test/layout_check.c compiles
 * against each installed version's headers and checks every number with offsetof(). 3.13 and later publish
 * their offsets in the runtime (_Py_DebugOffsets at the start of _PyRuntime), GIL and free-threaded builds
 * alike; the structs at the end of this file mirror the *shape* of that table for each minor version this
 * agent knows (the table's fields change between minor versions, and did between betas), and the values
 * are the running interpreter's own. The same test checks each mirror and the layout derived from it
 * against the headers (with and without Py_GIL_DISABLED). */
#ifndef MEMLENS_PYLAYOUT_H
#define MEMLENS_PYLAYOUT_H

#include <stddef.h>
#include <stdint.h>

#define ML_NO_FIELD 0xFFFFu

enum ml_frame_model {
    ML_FRAMES_OBJECTS = 1, /* 3.9, 3.10: PyThreadState.frame -> PyFrameObject.f_back chain */
    ML_FRAMES_INTERP = 2,  /* 3.11+: _PyInterpreterFrame.previous chain */
};

typedef struct ml_pylayout {
    uint8_t minor;
    uint8_t model; /* ml_frame_model */

    /* _PyRuntimeState._finalizing: the thread state finalizing the interpreter, once Py_Finalize began */
    uint16_t rt_finalizing;

    /* PyThreadState. 3.9/3.10: ts_frame is `frame`; 3.13+: `current_frame`; 3.11/3.12: ts_cframe is `cframe`
     * and cframe_current is _PyCFrame.current_frame (then ts_frame is ML_NO_FIELD). */
    uint16_t ts_frame;
    uint16_t ts_cframe;
    uint16_t cframe_current;

    /* PyFrameObject (3.9/3.10) */
    uint16_t f_back;
    uint16_t f_code;
    uint16_t f_lasti;   /* int */
    uint8_t lasti_unit; /* bytes per f_lasti unit: 1 on 3.9 (bytes), 2 on 3.10 (code units) */

    /* _PyInterpreterFrame (3.11+) */
    uint16_t if_previous;
    uint16_t if_code;        /* f_code (3.11/3.12), f_executable (3.13+) */
    uint16_t if_instr;       /* prev_instr (3.11/3.12), instr_ptr (3.13+) */
    uint16_t if_owner;       /* char */
    uint8_t owner_generator; /* FRAME_OWNED_BY_GENERATOR */
    uint8_t owner_shim_min;  /* owner >= this: a shim frame on the C stack, not Python code (255: none) */
    uint8_t code_tagged;     /* f_executable is a _PyStackRef: low 2 bits are tags (3.14) */

    /* PyCodeObject */
    uint16_t co_name;
    uint16_t co_qualname; /* ML_NO_FIELD before 3.11 */
    uint16_t co_filename;
    uint16_t co_firstlineno;    /* int */
    uint16_t co_linetable;      /* co_lnotab on 3.9 */
    uint16_t co_code_adaptive;  /* 3.11+: the bytecode, inline at the end of the object */
    uint16_t co_firsttraceable; /* 3.11+: int, index (code units) of the first traceable instruction */
    uint16_t code_basicsize;    /* PyCode_Type.tp_basicsize, checked at init */
    uint8_t linetable_kind;     /* ML_LINETABLE_* */

    /* PyBytesObject */
    uint16_t bytes_size; /* ob_size (Py_ssize_t) */
    uint16_t bytes_sval; /* ob_sval[] */

    /* str: PyASCIIObject, PyCompactUnicodeObject */
    uint16_t str_length;        /* Py_ssize_t, in code points */
    uint16_t str_state;         /* the state bit-field, read as a uint32 */
    uint16_t str_ascii_size;    /* sizeof(PyASCIIObject): compact ASCII data follows */
    uint16_t str_compact_size;  /* sizeof(PyCompactUnicodeObject): compact non-ASCII data follows */
    uint16_t unicode_basicsize; /* PyUnicode_Type.tp_basicsize == sizeof(PyUnicodeObject), checked at init */
    uint8_t str_has_ready;      /* 3.9–3.11: the `ready` bit exists and must be set */
    uint8_t str_kind_shift;     /* where the kind bits of the state start (ML_STR_KIND_SHIFT*) */

    /* Every object */
    uint8_t free_threaded; /* a free-threaded build (Py_GIL_DISABLED, 3.13+): the object header below */
    uint16_t ob_type;      /* PyObject.ob_type: 8, or 24 after ob_tid, flags, ob_ref_local/shared (free-threaded) */
    uint16_t tp_basicsize; /* PyTypeObject.tp_basicsize: after PyObject_VAR_HEAD and tp_name */

    /* Thread-local bytecode (free-threaded 3.14+): a thread may run its own copy of the bytecode, and its
     * frames' instr_ptr point into that copy: code->co_tlbc->entries[frame->tlbc_index]. */
    uint16_t if_tlbc_index; /* int32, or ML_NO_FIELD */
    uint16_t co_tlbc;       /* _PyCodeArray * {Py_ssize_t size; char *entries[]}, or ML_NO_FIELD */
} ml_pylayout;

/* Bits of PyASCIIObject.state on little-endian GCC/Clang (bit-fields fill from the least significant bit):
 * interned:2, kind:3, compact:1, ascii:1, then ready:1 (3.9–3.11) or statically_allocated:1 (3.12+). In
 * free-threaded builds from 3.14 on, `interned` is a whole unsigned char (it is read atomically), so the
 * bit-fields start at bit 8. */
#define ML_STR_KIND_SHIFT 2
#define ML_STR_KIND_SHIFT_FT314 8
#define ML_STR_KIND_MASK 7u
#define ML_STR_COMPACT_BIT(shift) (1u << ((shift) + 3))
#define ML_STR_ASCII_BIT(shift) (1u << ((shift) + 4))
#define ML_STR_READY_BIT (1u << 7)

/* GIL builds (without Py_TRACE_REFS): ob_refcnt, ob_type. */
#define ML_OB_TYPE 8
/* PyTypeObject.tp_basicsize in GIL builds: after PyObject_VAR_HEAD (24) and tp_name (8). */
#define ML_TP_BASICSIZE 32
/* Free-threaded builds: uintptr_t ob_tid; uint16_t ob_flags; PyMutex ob_mutex; uint8_t ob_gc_bits;
 * uint32_t ob_ref_local; Py_ssize_t ob_ref_shared (the count shifted left by 2, flags below); ob_type. */
#define ML_FT_OB_HEADER 32
#define ML_FT_REF_LOCAL 12
#define ML_FT_REF_SHARED 16
#define ML_FT_REF_SHARED_SHIFT 2

/* On 3.13+ the int _co_firsttraceable is followed by void *co_extra, then co_code_adaptive; free-threaded
 * builds from 3.14 on have _PyCodeArray *co_tlbc between co_extra and co_code_adaptive. */
#define ML_FIRSTTRACEABLE_BEFORE_CODE 16
#define ML_FIRSTTRACEABLE_BEFORE_CODE_TLBC 24

static const ml_pylayout ml_layout_39 = {
    .minor = 9,
    .model = ML_FRAMES_OBJECTS,
    .rt_finalizing = 16,
    .ts_frame = 24,
    .ts_cframe = ML_NO_FIELD,
    .cframe_current = ML_NO_FIELD,
    .f_back = 24,
    .f_code = 32,
    .f_lasti = 104,
    .lasti_unit = 1,
    .if_previous = ML_NO_FIELD,
    .if_code = ML_NO_FIELD,
    .if_instr = ML_NO_FIELD,
    .if_owner = ML_NO_FIELD,
    .owner_generator = 255,
    .owner_shim_min = 255,
    .code_tagged = 0,
    .co_name = 112,
    .co_qualname = ML_NO_FIELD,
    .co_filename = 104,
    .co_firstlineno = 40,
    .co_linetable = 120,
    .co_code_adaptive = ML_NO_FIELD,
    .co_firsttraceable = ML_NO_FIELD,
    .code_basicsize = 176,
    .linetable_kind = 1,
    .bytes_size = 16,
    .bytes_sval = 32,
    .str_length = 16,
    .str_state = 32,
    .str_ascii_size = 48,
    .str_compact_size = 72,
    .unicode_basicsize = 80,
    .str_has_ready = 1,
    .str_kind_shift = ML_STR_KIND_SHIFT,
    .free_threaded = 0,
    .ob_type = ML_OB_TYPE,
    .tp_basicsize = ML_TP_BASICSIZE,
    .if_tlbc_index = ML_NO_FIELD,
    .co_tlbc = ML_NO_FIELD,
};

static const ml_pylayout ml_layout_310 = {
    .minor = 10,
    .model = ML_FRAMES_OBJECTS,
    .rt_finalizing = 16,
    .ts_frame = 24,
    .ts_cframe = ML_NO_FIELD,
    .cframe_current = ML_NO_FIELD,
    .f_back = 24,
    .f_code = 32,
    .f_lasti = 96,
    .lasti_unit = 2,
    .if_previous = ML_NO_FIELD,
    .if_code = ML_NO_FIELD,
    .if_instr = ML_NO_FIELD,
    .if_owner = ML_NO_FIELD,
    .owner_generator = 255,
    .owner_shim_min = 255,
    .code_tagged = 0,
    .co_name = 112,
    .co_qualname = ML_NO_FIELD,
    .co_filename = 104,
    .co_firstlineno = 40,
    .co_linetable = 120,
    .co_code_adaptive = ML_NO_FIELD,
    .co_firsttraceable = ML_NO_FIELD,
    .code_basicsize = 176,
    .linetable_kind = 2,
    .bytes_size = 16,
    .bytes_sval = 32,
    .str_length = 16,
    .str_state = 32,
    .str_ascii_size = 48,
    .str_compact_size = 72,
    .unicode_basicsize = 80,
    .str_has_ready = 1,
    .str_kind_shift = ML_STR_KIND_SHIFT,
    .free_threaded = 0,
    .ob_type = ML_OB_TYPE,
    .tp_basicsize = ML_TP_BASICSIZE,
    .if_tlbc_index = ML_NO_FIELD,
    .co_tlbc = ML_NO_FIELD,
};

static const ml_pylayout ml_layout_311 = {
    .minor = 11,
    .model = ML_FRAMES_INTERP,
    .rt_finalizing = 24,
    .ts_frame = ML_NO_FIELD,
    .ts_cframe = 56,
    .cframe_current = 8,
    .f_back = ML_NO_FIELD,
    .f_code = ML_NO_FIELD,
    .f_lasti = ML_NO_FIELD,
    .lasti_unit = 0,
    .if_previous = 48,
    .if_code = 32,
    .if_instr = 56,
    .if_owner = 69,
    .owner_generator = 1,
    .owner_shim_min = 255,
    .code_tagged = 0,
    .co_name = 120,
    .co_qualname = 128,
    .co_filename = 112,
    .co_firstlineno = 72,
    .co_linetable = 136,
    .co_code_adaptive = 184,
    .co_firsttraceable = 168,
    .code_basicsize = 184,
    .linetable_kind = 3,
    .bytes_size = 16,
    .bytes_sval = 32,
    .str_length = 16,
    .str_state = 32,
    .str_ascii_size = 48,
    .str_compact_size = 72,
    .unicode_basicsize = 80,
    .str_has_ready = 1,
    .str_kind_shift = ML_STR_KIND_SHIFT,
    .free_threaded = 0,
    .ob_type = ML_OB_TYPE,
    .tp_basicsize = ML_TP_BASICSIZE,
    .if_tlbc_index = ML_NO_FIELD,
    .co_tlbc = ML_NO_FIELD,
};

static const ml_pylayout ml_layout_312 = {
    .minor = 12,
    .model = ML_FRAMES_INTERP,
    .rt_finalizing = 24,
    .ts_frame = ML_NO_FIELD,
    .ts_cframe = 56,
    .cframe_current = 0,
    .f_back = ML_NO_FIELD,
    .f_code = ML_NO_FIELD,
    .f_lasti = ML_NO_FIELD,
    .lasti_unit = 0,
    .if_previous = 8,
    .if_code = 0,
    .if_instr = 56,
    .if_owner = 70,
    .owner_generator = 1,
    .owner_shim_min = 3,
    .code_tagged = 0,
    .co_name = 120,
    .co_qualname = 128,
    .co_filename = 112,
    .co_firstlineno = 68,
    .co_linetable = 136,
    .co_code_adaptive = 192,
    .co_firsttraceable = 176,
    .code_basicsize = 192,
    .linetable_kind = 3,
    .bytes_size = 16,
    .bytes_sval = 32,
    .str_length = 16,
    .str_state = 32,
    .str_ascii_size = 40,
    .str_compact_size = 56,
    .unicode_basicsize = 64,
    .str_has_ready = 0,
    .str_kind_shift = ML_STR_KIND_SHIFT,
    .free_threaded = 0,
    .ob_type = ML_OB_TYPE,
    .tp_basicsize = ML_TP_BASICSIZE,
    .if_tlbc_index = ML_NO_FIELD,
    .co_tlbc = ML_NO_FIELD,
};

/* Frame owners from 3.13 on (not in _Py_DebugOffsets). 3.13: THREAD 0, GENERATOR 1, FRAME_OBJECT 2, CSTACK 3.
 * 3.14: ... INTERPRETER 3 (the entry shim of _PyEval_EvalFrameDefault), CSTACK 4. 3.15: ... INTERPRETER 3. */
#define ML_OWNER_GENERATOR_313 1
#define ML_OWNER_SHIM_MIN_313 3
#define ML_OWNER_GENERATOR_314 1
#define ML_OWNER_SHIM_MIN_314 3
#define ML_OWNER_GENERATOR_315 1
#define ML_OWNER_SHIM_MIN_315 3

/* The newest minor version whose _Py_DebugOffsets shape this agent knows. */
#define ML_NEWEST_MINOR 15

/* Mirror of _Py_DebugOffsets as CPython 3.13 defines it (Include/internal/pycore_runtime.h). */
typedef struct ml_dbg313 {
    char cookie[8];
    uint64_t version;
    uint64_t free_threaded;
    struct {
        uint64_t size, finalizing, interpreters_head;
    } runtime_state;
    struct {
        uint64_t size, id, next, threads_head, gc, imports_modules, sysdict, builtins, ceval_gil, gil_runtime_state,
            gil_runtime_state_enabled, gil_runtime_state_locked, gil_runtime_state_holder;
    } interpreter_state;
    struct {
        uint64_t size, prev, next, interp, current_frame, thread_id, native_thread_id, datastack_chunk, status;
    } thread_state;
    struct {
        uint64_t size, previous, executable, instr_ptr, localsplus, owner;
    } interpreter_frame;
    struct {
        uint64_t size, filename, name, qualname, linetable, firstlineno, argcount, localsplusnames, localspluskinds, co_code_adaptive;
    } code_object;
    struct {
        uint64_t size, ob_type;
    } pyobject;
    struct {
        uint64_t size, tp_name, tp_repr, tp_flags;
    } type_object;
    struct {
        uint64_t size, ob_item, ob_size;
    } tuple_object;
    struct {
        uint64_t size, ob_item, ob_size;
    } list_object;
    struct {
        uint64_t size, ma_keys, ma_values;
    } dict_object;
    struct {
        uint64_t size, ob_fval;
    } float_object;
    struct {
        uint64_t size, lv_tag, ob_digit;
    } long_object;
    struct {
        uint64_t size, ob_size, ob_sval;
    } bytes_object;
    struct {
        uint64_t size, state, length, asciiobject_size;
    } unicode_object;
    struct {
        uint64_t size, collecting;
    } gc;
} ml_dbg313;

/* Mirror of _Py_DebugOffsets as CPython 3.14 defines it (Include/internal/pycore_debug_offsets.h): 3.13's
 * table with threads_main, code_object_generation and tlbc_generation in interpreter_state, stackpointer and
 * tlbc_index in interpreter_frame, co_tlbc in code_object, and set_object after list_object; gen_object,
 * llist_node and debugger_support at the end. */
typedef struct ml_dbg314 {
    char cookie[8];
    uint64_t version;
    uint64_t free_threaded;
    struct {
        uint64_t size, finalizing, interpreters_head;
    } runtime_state;
    struct {
        uint64_t size, id, next, threads_head, threads_main, gc, imports_modules, sysdict, builtins, ceval_gil, gil_runtime_state,
            gil_runtime_state_enabled, gil_runtime_state_locked, gil_runtime_state_holder, code_object_generation, tlbc_generation;
    } interpreter_state;
    struct {
        uint64_t size, prev, next, interp, current_frame, thread_id, native_thread_id, datastack_chunk, status;
    } thread_state;
    struct {
        uint64_t size, previous, executable, instr_ptr, localsplus, owner, stackpointer, tlbc_index;
    } interpreter_frame;
    struct {
        uint64_t size, filename, name, qualname, linetable, firstlineno, argcount, localsplusnames, localspluskinds, co_code_adaptive,
            co_tlbc;
    } code_object;
    struct {
        uint64_t size, ob_type;
    } pyobject;
    struct {
        uint64_t size, tp_name, tp_repr, tp_flags;
    } type_object;
    struct {
        uint64_t size, ob_item, ob_size;
    } tuple_object;
    struct {
        uint64_t size, ob_item, ob_size;
    } list_object;
    struct {
        uint64_t size, used, table, mask;
    } set_object;
    struct {
        uint64_t size, ma_keys, ma_values;
    } dict_object;
    struct {
        uint64_t size, ob_fval;
    } float_object;
    struct {
        uint64_t size, lv_tag, ob_digit;
    } long_object;
    struct {
        uint64_t size, ob_size, ob_sval;
    } bytes_object;
    struct {
        uint64_t size, state, length, asciiobject_size;
    } unicode_object;
    struct {
        uint64_t size, collecting;
    } gc;
    struct {
        uint64_t size, gi_name, gi_iframe, gi_frame_state;
    } gen_object;
    struct {
        uint64_t next, prev;
    } llist_node;
    struct {
        uint64_t eval_breaker, remote_debugger_support, remote_debugging_enabled, debugger_pending_call, debugger_script_path,
            debugger_script_path_size;
    } debugger_support;
} ml_dbg314;

/* Mirror of _Py_DebugOffsets as CPython 3.15 defines it (Include/internal/pycore_debug_offsets.h, 3.15.0
 * final; 3.15.0b4 added last_profiled_frame_seq, so earlier pre-releases have another shape): 3.14's table
 * with base_frame, last_profiled_frame(_seq), holds_gil, gil_requested, current_exception and exc_state in
 * thread_state, err_stackitem after it, tp_basicsize and tp_dictoffset in type_object, heap_type_object,
 * compactunicodeobject_size, and frame and generation stats in gc. */
typedef struct ml_dbg315 {
    char cookie[8];
    uint64_t version;
    uint64_t free_threaded;
    struct {
        uint64_t size, finalizing, interpreters_head;
    } runtime_state;
    struct {
        uint64_t size, id, next, threads_head, threads_main, gc, imports_modules, sysdict, builtins, ceval_gil, gil_runtime_state,
            gil_runtime_state_enabled, gil_runtime_state_locked, gil_runtime_state_holder, code_object_generation, tlbc_generation;
    } interpreter_state;
    struct {
        uint64_t size, prev, next, interp, current_frame, base_frame, last_profiled_frame, last_profiled_frame_seq, thread_id,
            native_thread_id, datastack_chunk, status, holds_gil, gil_requested, current_exception, exc_state;
    } thread_state;
    struct {
        uint64_t exc_value;
    } err_stackitem;
    struct {
        uint64_t size, previous, executable, instr_ptr, localsplus, owner, stackpointer, tlbc_index;
    } interpreter_frame;
    struct {
        uint64_t size, filename, name, qualname, linetable, firstlineno, argcount, localsplusnames, localspluskinds, co_code_adaptive,
            co_tlbc;
    } code_object;
    struct {
        uint64_t size, ob_type;
    } pyobject;
    struct {
        uint64_t size, tp_name, tp_repr, tp_flags, tp_basicsize, tp_dictoffset;
    } type_object;
    struct {
        uint64_t size, ht_cached_keys;
    } heap_type_object;
    struct {
        uint64_t size, ob_item, ob_size;
    } tuple_object;
    struct {
        uint64_t size, ob_item, ob_size;
    } list_object;
    struct {
        uint64_t size, used, table, mask;
    } set_object;
    struct {
        uint64_t size, ma_keys, ma_values;
    } dict_object;
    struct {
        uint64_t size, ob_fval;
    } float_object;
    struct {
        uint64_t size, lv_tag, ob_digit;
    } long_object;
    struct {
        uint64_t size, ob_size, ob_sval;
    } bytes_object;
    struct {
        uint64_t size, state, length, asciiobject_size, compactunicodeobject_size;
    } unicode_object;
    struct {
        uint64_t size, collecting, frame, generation_stats_size, generation_stats;
    } gc;
    struct {
        uint64_t size, gi_name, gi_iframe, gi_frame_state;
    } gen_object;
    struct {
        uint64_t next, prev;
    } llist_node;
    struct {
        uint64_t eval_breaker, remote_debugger_support, remote_debugging_enabled, debugger_pending_call, debugger_script_path,
            debugger_script_path_size;
    } debugger_support;
} ml_dbg315;

/* 3.13+: fills *L from a _Py_DebugOffsets table (the start of _PyRuntime) for sys.hexversion, checking
 * the table's cookie, version, and the values every LP64 build of its kind (GIL or free-threaded) must
 * have. 0, or -1 with a reason. */
int ml_pylayout_from_debug_offsets(const void *table, unsigned long hexversion, ml_pylayout *L, char *err, size_t errlen);

#endif
