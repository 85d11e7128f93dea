/* Reading the calling thread's Python frames and code objects with plain memory reads (see pyframes.h).
 *
 * Called from inside malloc hooks, on threads that may not hold the GIL: no allocation, no lock, no call
 * into Python. A thread's own frame chain is only ever changed by that thread, so reading it while we run
 * on it is race-free whether or not we hold the GIL. The one function of CPython we call,
 * PyGILState_GetThisThreadState, is a pthread_getspecific() on every supported version.
 *
 * Defensive reading: every pointer we follow is checked for plausibility (non-null, aligned, in the user
 * address range) and objects for their type (ob_type == &PyCode_Type, &PyUnicode_Type, &PyBytes_Type);
 * an implausible frame pointer ends the walk, a cycle ends it (Brent's algorithm), and so does a hard
 * bound on its length. */
#include "pyframes.h"

#include <dlfcn.h>
#include <string.h>
#if defined(__x86_64__)
#include <emmintrin.h>
#define ML_PAIR_ONE_COMPARE 1 /* "one compare", below */
#else
#define ML_PAIR_ONE_COMPARE 0
#endif

#include "format.h"
#include "pylayout.h"

#define ML_WALK_MAX (1u << 20) /* frames; far above any recursion limit a real program survives */
#define ML_STR_MAX_CHARS (1u << 20)
#define ML_LINETABLE_MAX (1u << 28)
#define ML_PLACEHOLDER "<?>"

static struct {
    int ready; /* read with acquire, written with release, so a walk sees a complete layout */
    ml_pylayout L;
    void *(*get_tstate)(void);
    uintptr_t runtime; /* &_PyRuntime */
    uintptr_t code_type, unicode_type, bytes_type;
    int one_compare; /* the check compares a frame's two words at once ("one compare") */
} S;

/* ---- raw reads ---------------------------------------------------------------------------------------- */

static inline uintptr_t rd_ptr(uintptr_t base, unsigned off) {
    uintptr_t v;
    memcpy(&v, (const void *)(base + off), sizeof v);
    return v;
}

static inline int32_t rd_i32(uintptr_t base, unsigned off) {
    int32_t v;
    memcpy(&v, (const void *)(base + off), sizeof v);
    return v;
}

static inline uint32_t rd_u32(uintptr_t base, unsigned off) {
    uint32_t v;
    memcpy(&v, (const void *)(base + off), sizeof v);
    return v;
}

static inline int64_t rd_i64(uintptr_t base, unsigned off) {
    int64_t v;
    memcpy(&v, (const void *)(base + off), sizeof v);
    return v;
}

static inline uint8_t rd_u8(uintptr_t base, unsigned off) {
    return *(const uint8_t *)(base + off);
}

/* A pointer we are willing to dereference: non-null, past the first page, 8-byte aligned (objects and
 * frames are), below the top of the user address space (2^56 even with 5-level page tables). */
static inline int plausible(uintptr_t p) {
    /* The three tests as one: rotated right by 3, an aligned p in [4096, 2^56) is in [512, 2^53), and a
     * misaligned one has its low bits on top, far above (a rotate, a subtraction, a compare: this runs
     * twice per frame of every walk). */
    uintptr_t r = (p >> 3) | (p << (8 * sizeof p - 3));
    return r - 512u < ((uintptr_t)1 << 53) - 512u;
}

static inline int is_type(uintptr_t obj, uintptr_t type) {
    return plausible(obj) && rd_ptr(obj, S.L.ob_type) == type;
}

/* A code object a frame may show: of code type, and not being deallocated. Its reference count is 0
 * while code_dealloc runs, which frees allocations of its own (hooks walk then). GIL builds: the low 32
 * bits are the count on every version (3.14 keeps flags in the high half; immortal counts have all low
 * bits set). Free-threaded builds: the owning thread's local count and the shared count (shifted, flags
 * below) are both 0 once the object is being deallocated; an immortal has a local count of UINT32_MAX. */
static inline int is_live_code(uintptr_t obj) {
    if (!is_type(obj, S.code_type)) return 0;
    if (!S.L.free_threaded) return rd_u32(obj, 0) != 0;
    return rd_u32(obj, ML_FT_REF_LOCAL) != 0 || (rd_i64(obj, ML_FT_REF_SHARED) >> ML_FT_REF_SHARED_SHIFT) > 0;
}

/* ---- init ---------------------------------------------------------------------------------------------- */

static int fail(char *err, size_t errlen, const char *a, const char *b) {
    if (err != NULL && errlen > 0) {
        size_t n = 0;
        for (const char *s = a; s != NULL && *s != '\0' && n + 1 < errlen; s++) err[n++] = *s;
        for (const char *s = b; s != NULL && *s != '\0' && n + 1 < errlen; s++) err[n++] = *s;
        err[n] = '\0';
    }
    return -1;
}

/* Writes x (at most 255) in decimal at v[n]; returns the new length. */
static size_t put_uint(char *v, size_t n, unsigned x) {
    if (x >= 100) v[n++] = (char)('0' + x / 100 % 10);
    if (x >= 10) v[n++] = (char)('0' + x / 10 % 10);
    v[n++] = (char)('0' + x % 10);
    return n;
}

static void *sym(const char *name) {
    return dlsym(RTLD_DEFAULT, name);
}

static inline int fits16(uint64_t v) {
    return v < ML_NO_FIELD;
}

/* The fields of _Py_DebugOffsets that pyframes.c uses, whatever the table's shape. */
typedef struct dbg_fields {
    uint64_t free_threaded;
    uint64_t rt_size, rt_fin, ts_size, ts_frame;
    uint64_t if_size, if_prev, if_exec, if_instr, if_owner, if_tlbc;
    uint64_t co_size, co_name, co_qual, co_file, co_first, co_lt, co_code, co_tlbc;
    uint64_t ob_size, ob_type, tp_name, tp_basicsize;
    uint64_t by_size, by_sval, u_size, u_state, u_len, u_ascii, u_compact;
} dbg_fields;

/* The groups every known shape has, under the same names. */
#define DBG_COMMON(f, d)                                                                                \
    do {                                                                                                \
        (f).free_threaded = (d).free_threaded;                                                          \
        (f).rt_size = (d).runtime_state.size, (f).rt_fin = (d).runtime_state.finalizing;                \
        (f).ts_size = (d).thread_state.size, (f).ts_frame = (d).thread_state.current_frame;             \
        (f).if_size = (d).interpreter_frame.size, (f).if_prev = (d).interpreter_frame.previous;         \
        (f).if_exec = (d).interpreter_frame.executable, (f).if_instr = (d).interpreter_frame.instr_ptr; \
        (f).if_owner = (d).interpreter_frame.owner;                                                     \
        (f).co_size = (d).code_object.size, (f).co_name = (d).code_object.name;                         \
        (f).co_qual = (d).code_object.qualname, (f).co_file = (d).code_object.filename;                 \
        (f).co_first = (d).code_object.firstlineno, (f).co_lt = (d).code_object.linetable;              \
        (f).co_code = (d).code_object.co_code_adaptive;                                                 \
        (f).ob_size = (d).pyobject.size, (f).ob_type = (d).pyobject.ob_type;                            \
        (f).tp_name = (d).type_object.tp_name;                                                          \
        (f).by_size = (d).bytes_object.ob_size, (f).by_sval = (d).bytes_object.ob_sval;                 \
        (f).u_size = (d).unicode_object.size, (f).u_state = (d).unicode_object.state;                   \
        (f).u_len = (d).unicode_object.length, (f).u_ascii = (d).unicode_object.asciiobject_size;       \
    } while (0)

/* 3.13+ (declared in pylayout.h): the fields of L are copied from _Py_DebugOffsets; the values every LP64
 * build of the table's kind must have (object header, bytes and str headers, frame linkage) are checked, so
 * that a table of another shape (a pre-release, a debug build, a version whose table moved) is refused
 * instead of misread. Not in the table, and derived from the build's kind and version: where
 * _co_firsttraceable sits, the str state bits, the free-threaded reference count fields, frame owners. */
int ml_pylayout_from_debug_offsets(const void *table, unsigned long hexversion, ml_pylayout *L, char *err, size_t errlen) {
    const char *runtime = table;
    unsigned minor = (unsigned)(hexversion >> 16) & 0xffu;
    if (minor < 13 || minor > ML_NEWEST_MINOR) return fail(err, errlen, "no _Py_DebugOffsets layout for this version", NULL);
    if (memcmp(runtime, "xdebugpy", 8) != 0)
        return fail(err, errlen, "_PyRuntime does not start with the _Py_DebugOffsets cookie \"xdebugpy\"", NULL);
    uint64_t version;
    memcpy(&version, runtime + 8, sizeof version);
    if ((version >> 16) != (hexversion >> 16)) return fail(err, errlen, "_Py_DebugOffsets.version does not match sys.hexversion", NULL);

    dbg_fields f;
    memset(&f, 0, sizeof f);
    if (minor == 13) {
        ml_dbg313 d;
        memcpy(&d, runtime, sizeof d);
        DBG_COMMON(f, d);
    } else if (minor == 14) {
        ml_dbg314 d;
        memcpy(&d, runtime, sizeof d);
        DBG_COMMON(f, d);
        f.if_tlbc = d.interpreter_frame.tlbc_index, f.co_tlbc = d.code_object.co_tlbc;
    } else {
        ml_dbg315 d;
        memcpy(&d, runtime, sizeof d);
        DBG_COMMON(f, d);
        f.if_tlbc = d.interpreter_frame.tlbc_index, f.co_tlbc = d.code_object.co_tlbc;
        f.tp_basicsize = d.type_object.tp_basicsize, f.u_compact = d.unicode_object.compactunicodeobject_size;
    }
    int ft = f.free_threaded == 1;
    /* Free-threaded 3.14+: thread-local bytecode, and a whole byte for the str's `interned`. */
    int ft314 = ft && minor >= 14;
    uint64_t hdr = ft ? ML_FT_OB_HEADER : 16; /* sizeof(PyObject) */
    uint64_t before_code = ft314 ? ML_FIRSTTRACEABLE_BEFORE_CODE_TLBC : ML_FIRSTTRACEABLE_BEFORE_CODE;

    /* What every LP64 build of this kind has, whatever else moved: the object header, then ob_size of a
     * var object; the str header (length, hash, 4-byte state, padding); a frame starts with its
     * executable and then the previous frame. */
    int ok = (f.free_threaded == 0 || f.free_threaded == 1) && f.ob_size == hdr && f.ob_type == hdr - 8 && f.by_size == hdr &&
             f.by_sval == hdr + 16 && f.u_len == hdr && f.u_state == hdr + 16 && f.u_ascii == hdr + 24 &&
             (f.u_compact == 0 || f.u_compact == f.u_ascii + 16) && f.if_prev == 8 && f.if_exec == 0 && f.tp_name == hdr + 8 &&
             (f.tp_basicsize == 0 || f.tp_basicsize == f.tp_name + 8);
    /* Thread-local bytecode: co_tlbc right before the bytecode, tlbc_index an int32 inside the frame; none
     * in GIL builds. */
    ok = ok && (ft314 ? f.co_tlbc == f.co_code - 8 && f.if_tlbc != 0 && f.if_tlbc + 4 <= f.if_size && fits16(f.if_tlbc)
                      : f.co_tlbc == 0 && f.if_tlbc == 0);
    /* Every field inside its struct, every struct of a plausible size. */
    ok = ok && f.rt_fin + 8 <= f.rt_size && fits16(f.rt_fin) && f.ts_size < 65536 && f.ts_frame + 8 <= f.ts_size && f.if_size < 4096 &&
         f.if_instr + 8 <= f.if_size && f.if_owner < f.if_size && f.co_size < 65536 && f.co_name + 8 <= f.co_size &&
         f.co_qual + 8 <= f.co_size && f.co_file + 8 <= f.co_size && f.co_first + 4 <= f.co_size && f.co_lt + 8 <= f.co_size &&
         f.co_code <= f.co_size && f.co_code >= before_code && f.u_size <= 256 && fits16(f.u_size);
    if (!ok)
        return fail(err, errlen, "_Py_DebugOffsets of this CPython has an unexpected shape; ", "is it a pre-release or a debug build?");

    L->minor = (uint8_t)minor;
    L->model = ML_FRAMES_INTERP;
    L->rt_finalizing = (uint16_t)f.rt_fin;
    L->ts_frame = (uint16_t)f.ts_frame, L->ts_cframe = ML_NO_FIELD, L->cframe_current = ML_NO_FIELD;
    L->f_back = L->f_code = L->f_lasti = ML_NO_FIELD, L->lasti_unit = 0;
    L->if_previous = (uint16_t)f.if_prev, L->if_code = (uint16_t)f.if_exec, L->if_instr = (uint16_t)f.if_instr;
    L->if_owner = (uint16_t)f.if_owner;
    L->owner_generator = minor == 13 ? ML_OWNER_GENERATOR_313 : minor == 14 ? ML_OWNER_GENERATOR_314 : ML_OWNER_GENERATOR_315;
    L->owner_shim_min = minor == 13 ? ML_OWNER_SHIM_MIN_313 : minor == 14 ? ML_OWNER_SHIM_MIN_314 : ML_OWNER_SHIM_MIN_315;
    L->code_tagged = minor >= 14; /* f_executable is a _PyStackRef */
    L->co_name = (uint16_t)f.co_name, L->co_qualname = (uint16_t)f.co_qual, L->co_filename = (uint16_t)f.co_file;
    L->co_firstlineno = (uint16_t)f.co_first, L->co_linetable = (uint16_t)f.co_lt;
    L->co_code_adaptive = (uint16_t)f.co_code;
    L->co_firsttraceable = (uint16_t)(f.co_code - before_code);
    L->code_basicsize = (uint16_t)f.co_code;
    L->linetable_kind = ML_LINETABLE_LOCATIONS;
    L->bytes_size = (uint16_t)f.by_size, L->bytes_sval = (uint16_t)f.by_sval;
    L->str_length = (uint16_t)f.u_len, L->str_state = (uint16_t)f.u_state;
    L->str_ascii_size = (uint16_t)f.u_ascii;
    L->str_compact_size = (uint16_t)(f.u_ascii + 16); /* + utf8_length, utf8 */
    L->unicode_basicsize = (uint16_t)f.u_size;
    L->str_has_ready = 0;
    L->str_kind_shift = ft314 ? ML_STR_KIND_SHIFT_FT314 : ML_STR_KIND_SHIFT;
    L->free_threaded = (uint8_t)ft;
    L->ob_type = (uint16_t)f.ob_type;
    L->tp_basicsize = (uint16_t)(f.tp_name + 8);
    L->if_tlbc_index = ft314 ? (uint16_t)f.if_tlbc : ML_NO_FIELD;
    L->co_tlbc = ft314 ? (uint16_t)f.co_tlbc : ML_NO_FIELD;
    return 0;
}

int ml_pyframes_init(unsigned long hexversion, char *err, size_t errlen) {
    __atomic_store_n(&S.ready, 0, __ATOMIC_RELEASE);
#if !defined(__linux__) || !defined(__LP64__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
    (void)hexversion;
    return fail(err, errlen, "Python stacks need a little-endian LP64 Linux (x86-64 or aarch64)", NULL);
#else
    unsigned major = (unsigned)(hexversion >> 24) & 0xffu, minor = (unsigned)(hexversion >> 16) & 0xffu;
    if (major != 3 || minor < 9 || minor > ML_NEWEST_MINOR) {
        char v[16];
        size_t n = 0;
        n = put_uint(v, n, major);
        v[n++] = '.';
        n = put_uint(v, n, minor);
        v[n] = '\0';
        fail(err, errlen, "Python stacks are not supported on CPython ", v);
        size_t m = err != NULL && errlen > 0 ? strlen(err) : 0;
        if (m + 1 < errlen) fail(err + m, errlen - m, " (this agent knows 3.9 to 3.15)", NULL);
        return -1;
    }

    const void *runtime = sym("_PyRuntime");
    if (runtime == NULL) return fail(err, errlen, "_PyRuntime not found by dlsym", NULL);
    ml_pylayout L;
    switch (minor) {
    case 9: L = ml_layout_39; break;
    case 10: L = ml_layout_310; break;
    case 11: L = ml_layout_311; break;
    case 12: L = ml_layout_312; break;
    default:
        if (ml_pylayout_from_debug_offsets(runtime, hexversion, &L, err, errlen) != 0) return -1;
        break;
    }

    void *get_tstate = sym("PyGILState_GetThisThreadState");
    uintptr_t code_type = (uintptr_t)sym("PyCode_Type");
    uintptr_t unicode_type = (uintptr_t)sym("PyUnicode_Type");
    uintptr_t bytes_type = (uintptr_t)sym("PyBytes_Type");
    if (get_tstate == NULL || code_type == 0 || unicode_type == 0 || bytes_type == 0)
        return fail(err, errlen, "CPython's symbols (PyGILState_GetThisThreadState, PyCode_Type) are not ",
                    "visible to dlsym(RTLD_DEFAULT): load the agent into a process whose libpython is global");

    /* The type objects know their instance sizes: a build whose objects are not the size our table says
     * (Py_TRACE_REFS, a patched CPython, a wrong table) is refused here rather than misread later. */
    int64_t code_bs = rd_i64(code_type, L.tp_basicsize), bytes_bs = rd_i64(bytes_type, L.tp_basicsize);
    int64_t str_bs = rd_i64(unicode_type, L.tp_basicsize);
    if (code_bs != L.code_basicsize || bytes_bs != (int64_t)L.bytes_sval + 1 || str_bs != L.unicode_basicsize)
        return fail(err, errlen, "CPython's object sizes do not match this agent's layout for the version ", "(a debug or patched build?)");

    memcpy(&S.get_tstate, &get_tstate, sizeof get_tstate);
    S.runtime = (uintptr_t)runtime;
    S.code_type = code_type, S.unicode_type = unicode_type, S.bytes_type = bytes_type;
    S.L = L;
    S.one_compare = ML_PAIR_ONE_COMPARE && L.model == ML_FRAMES_INTERP && L.if_instr == L.if_previous + 8;
    if (err != NULL && errlen > 0) err[0] = '\0';
    __atomic_store_n(&S.ready, 1, __ATOMIC_RELEASE);
    return 0;
#endif
}

/* ---- the walk -------------------------------------------------------------------------------------------- */

/* Brent's cycle detection: one comparison per step, finds any cycle within twice its length. */
typedef struct {
    uintptr_t saved;
    uint32_t power, steps;
} cycle_guard;

static inline int cycle_step(cycle_guard *g, uintptr_t p) {
    if (p == g->saved) return 1;
    if (++g->steps == g->power) {
        g->saved = p;
        g->power <<= 1;
        g->steps = 0;
    }
    return 0;
}

static size_t walk_objects(const ml_pylayout *L, uintptr_t ts, ml_pyframe *out, size_t cap) {
    size_t n = 0;
    uintptr_t f = rd_ptr(ts, L->ts_frame);
    cycle_guard g = {0, 1, 0};
    while (plausible(f) && n < ML_WALK_MAX) {
        uintptr_t code = rd_ptr(f, L->f_code);
        if (!is_live_code(code)) break;
        if (n < cap) {
            int32_t lasti = rd_i32(f, L->f_lasti);
            /* -1: the frame has not started its first instruction yet */
            out[n].code = (const void *)code;
            out[n].instr = lasti < 0 ? 0u : (uint32_t)lasti * L->lasti_unit;
        }
        n++;
        f = rd_ptr(f, L->f_back);
        if (cycle_step(&g, f)) break;
    }
    return n;
}

/* Free-threaded 3.14+: the copy of the bytecode the frame's thread runs (entries[0] is co_code_adaptive;
 * the array is only replaced, never changed in place, and a replaced one is freed once every thread has
 * passed a quiescent state, which a thread inside an allocation has not). */
static uintptr_t thread_bytecode(const ml_pylayout *L, uintptr_t f, uintptr_t code) {
    uintptr_t main_copy = code + L->co_code_adaptive;
    int32_t index = rd_i32(f, L->if_tlbc_index);
    uintptr_t array = rd_ptr(code, L->co_tlbc);
    if (index <= 0 || !plausible(array)) return main_copy;
    int64_t size = rd_i64(array, 0);
    if (index >= size || size > (1 << 20)) return main_copy;
    uintptr_t copy = rd_ptr(array, 8 + 8 * (unsigned)index);
    return copy >= 4096 && copy < ((uintptr_t)1 << 56) ? copy : main_copy;
}

/* The 3.11+ walk, written once and compiled for each kind of build (free_threaded, code_tagged, tlbc are
 * constants at the call sites below), with the layout's offsets in locals: the walk runs on every
 * allocation, 15 to 20 frames deep on ordinary programs, and the general loop reloaded every offset and
 * tested every flag per frame (the agent is built with -fno-strict-aliasing, so each store to `out` could
 * have changed S). It reads and derives what the general loop did: the same words, the same tests, in the
 * same order; only the bound on a chain's length is tested elsewhere (below). */
static inline __attribute__((always_inline)) size_t walk_interp_frames(const ml_pylayout *L, uintptr_t f, ml_pyframe *out, size_t cap,
                                                                       const int free_threaded, const int tagged, const int tlbc) {
    const unsigned owner_off = L->if_owner, code_off = L->if_code, instr_off = L->if_instr, prev_off = L->if_previous;
    const unsigned type_off = L->ob_type, first_off = L->co_firsttraceable, adaptive = L->co_code_adaptive;
    const uint8_t shim_min = L->owner_shim_min, owner_generator = L->owner_generator;
    const uintptr_t code_type = S.code_type;
    /* Few live values, so that the loop keeps them in registers: the frames written as a pointer and its
     * end (those past cap only counted), and Brent's guard also bounding the walk (cycle_guard's steps and
     * power, its doubling the only place the bound is tested: ML_WALK_MAX - 1 frames at most). */
    ml_pyframe *o = out, *const end = out + cap;
    size_t past = 0;
    uintptr_t saved = 0;
    uint32_t power = 1, steps = 0;
    while (plausible(f)) {
        uint8_t owner = rd_u8(f, owner_off);
        if (owner < shim_min) {
            uintptr_t code = rd_ptr(f, code_off);
            if (tagged) code = (code & 3u) == 3u ? 0 : code & ~(uintptr_t)3u; /* 3: a tagged int */
            /* Not a code object: the None executable of a shim frame (3.13+); skip it, keep walking. The test
             * is is_live_code's. */
            int live = plausible(code) && rd_ptr(code, type_off) == code_type &&
                       (free_threaded ? rd_u32(code, ML_FT_REF_LOCAL) != 0 || (rd_i64(code, ML_FT_REF_SHARED) >> ML_FT_REF_SHARED_SHIFT) > 0
                                      : rd_u32(code, 0) != 0);
            if (live) {
                uintptr_t base = tlbc ? thread_bytecode(L, f, code) : code + adaptive;
                uintptr_t instr = rd_ptr(f, instr_off);
                int32_t first = rd_i32(code, first_off);
                /* Incomplete: pushed but still in its prologue (copying free variables, making cells),
                 * before the first traceable instruction; CPython's own walkers skip these too. */
                int incomplete = owner != owner_generator && first >= 0 && instr < base + (uintptr_t)first * 2u;
                if (!incomplete) {
                    if (o < end) {
                        uintptr_t off = instr >= base ? instr - base : 0;
                        o->code = (const void *)code;
                        o->instr = off < ((uintptr_t)1 << 31) ? (uint32_t)off : 0u;
                        o++;
                    } else {
                        past++;
                    }
                }
            }
        }
        f = rd_ptr(f, prev_off);
        if (f == saved) break;
        if (++steps == power) {
            if (power >= ML_WALK_MAX / 2) break;
            saved = f;
            power <<= 1;
            steps = 0;
        }
    }
    return (size_t)(o - out) + past;
}

/* One function per kind (the compiler merges inlined copies that differ only in constants back into one
 * general loop). */
__attribute__((noinline)) static size_t walk_gil(const ml_pylayout *L, uintptr_t f, ml_pyframe *out, size_t cap) {
    return walk_interp_frames(L, f, out, cap, 0, 0, 0);
}

__attribute__((noinline)) static size_t walk_gil_tagged(const ml_pylayout *L, uintptr_t f, ml_pyframe *out, size_t cap) {
    return walk_interp_frames(L, f, out, cap, 0, 1, 0);
}

__attribute__((noinline)) static size_t walk_any(const ml_pylayout *L, uintptr_t f, ml_pyframe *out, size_t cap) {
    return walk_interp_frames(L, f, out, cap, L->free_threaded, L->code_tagged, L->co_tlbc != ML_NO_FIELD);
}

static size_t walk_interp(const ml_pylayout *L, uintptr_t ts, ml_pyframe *out, size_t cap) {
    uintptr_t f;
    if (L->ts_cframe != ML_NO_FIELD) {
        uintptr_t cframe = rd_ptr(ts, L->ts_cframe);
        if (!plausible(cframe)) return 0;
        f = rd_ptr(cframe, L->cframe_current);
    } else {
        f = rd_ptr(ts, L->ts_frame);
    }
    /* The builds of the GIL: 3.11-3.13, and 3.14+ with tagged executables. Free-threaded ones in general. */
    if (!L->free_threaded && L->co_tlbc == ML_NO_FIELD) return L->code_tagged ? walk_gil_tagged(L, f, out, cap) : walk_gil(L, f, out, cap);
    return walk_any(L, f, out, cap);
}

size_t ml_pyframes_walk(ml_pyframe *out, size_t cap) {
    if (!__atomic_load_n(&S.ready, __ATOMIC_ACQUIRE)) return 0;
    uintptr_t ts = (uintptr_t)S.get_tstate();
    if (!plausible(ts)) return 0;
    /* Once Py_Finalize has begun, the finalizing thread deletes the other threads' states (daemon threads
     * keep running until they next want the GIL): only the finalizing thread's own state is still sure. */
    uintptr_t finalizing = __atomic_load_n((const uintptr_t *)(S.runtime + S.L.rt_finalizing), __ATOMIC_RELAXED);
    if (finalizing != 0 && finalizing != ts) return 0;
    if (S.L.model == ML_FRAMES_OBJECTS) return walk_objects(&S.L, ts, out, cap);
    return walk_interp(&S.L, ts, out, cap);
}

/* ---- the walk with the thread's cache ----------------------------------------------------------------------
 *
 * Why a cached part of the chain gives exactly what walking it again would give. Walking a frame reads
 * four words of the frame (the back pointer, the code word, the instruction word, the owner byte) and two
 * facts of its code object (is_live_code, _co_firsttraceable), and derives from these alone whether the
 * frame is shown and as what (code, offset): the derivation is a pure function of what it read (the
 * thread-local bytecode of free-threaded 3.14+ reads more, and is never cached). The cache keeps, for
 * every frame of the last walk's chain, root first, what was read and what was derived.
 *
 * On a new walk the chain is followed from the leaf as always. When it reaches a frame whose address is
 * that of cached entry j, entries j, j-1, ..., 0 are read again, every one of them, from memory, now: if
 * each frame's four words and its code object's two facts equal what the cache holds, then the chain from
 * that frame to the root is the cached one (each back pointer read now is the cached one, so the frames
 * visited are the cached frames, in the cached order, and entry 0's back pointer ends the chain now as it
 * did then), and every derivation gets the inputs it got then, so it gives what it gave then. Nothing is
 * assumed about calls and returns in between: a frame at the same address may be a new call whose callers
 * changed (a program that returned to its root and grew another stack of equal depth at the same
 * addresses); then some word read now differs from the cached one (the callers' code or instruction words,
 * or a back pointer) and the walk goes on from the leaf side as if there were no cache. What is saved is
 * not reading but deriving: the reads of the check do not depend on each other (the addresses are in the
 * cache), so the processor overlaps them, where the walk's reads wait each for the one before; and the
 * caller skips comparing the reused part with its last stack (it is that stack's root part).
 *
 * The words are read from entry j down (check_words), each frame only once the frame above was read naming
 * it, so that nothing but live frames is dereferenced; the two facts are a code object's, not a frame's, so
 * they are read once per distinct code object of entries [0, j] (check_codes): a code object named by several
 * entries has the same facts for all of them at one moment.
 *
 * The thread's own frames do not change while it runs the hook, so the check and the walk see one state.
 * A chain that ends otherwise than with a null back pointer (a cycle, a code object being freed in
 * 3.9/3.10, a chain longer than the cache) is not cached. */

/* ---- skipping the code objects' check ---------------------------------------------------------------------
 *
 * Why the cache's live code objects need no check while ml_code_frees has not moved since the walk that left
 * the cache began (ml_code_free_type set all along). A cached code object's two facts are its type word and
 * reference count (is_live_code) and _co_firsttraceable. For a code object that is the same object, alive:
 *  - its type is PyCode_Type for good (a static type: no __class__ assignment);
 *  - _co_firsttraceable is written once, when the object is made, before any frame can name it;
 *  - its reference count is not 0: the check only comes to a code object through a frame of the thread's
 *    chain that names it now (the words of every entry up to the junction were read first), and a linked
 *    frame owns a reference to its code (f_code, f_executable; 3.14's stack reference is a counted one on a
 *    GIL build, and borrowed only for an immortal object). The check's own reading of the count relies on
 *    the same ownership: it could not tell a freed object from a live one either.
 * So the facts of such an object read now as they read then; what can make them read otherwise is that the
 * object at that address is another one now, which takes a free of the cached one first. The cached ones are
 * code objects (live: of code type when read), and every free of one is counted before its memory is released
 * in either of two ways. From 3.12 on, a code watcher (codewatch.c) of the thread's interpreter: CPython calls
 * it in code_dealloc before anything is released, whatever allocator holds the object and whoever replaced
 * Python's allocators since; it covers the code objects of that interpreter only, so a walk counts on it where
 * the walked thread state's interpreter is the watched one (a subinterpreter's thread checks; a frame names only
 * code objects of its own interpreter, or immortal ones, never freed), and on GIL builds only (the third point
 * below holds for it as for the hook: it runs inside the dealloc). Otherwise (3.9-3.11, or no watcher slot free)
 * the OBJ domain's hook, when:
 *  - the hook is installed (--trace-python-allocators, or mimalloc's domains) and still in the chain: a later
 *    allocator must wrap it (tracemalloc does) since blocks made before it are freed through it, and
 *    uninstalling stops the count first;
 *  - the freed block starts at the object: the code type has no GC header and no managed dict or weakref
 *    before its objects (tp_flags, checked when counting is turned on);
 *  - a GIL build: every object is freed with the GIL held, so a count made before a free happens before any
 *    thread can take a frame naming the object allocated at that address afterwards (pushing a frame takes
 *    the GIL). Free-threaded builds keep the check (and 3.14t+ has no cache).
 *  - the hook can read the block's type word: the allocator's smallest block holds 16 bytes (pymalloc; a
 *    debug allocator's trailer), so a non-object block's second word is readable too (a false match only
 *    counts one more).
 * (The other points are the hook's alone: the watcher is handed the object, not a block, and no allocator stands
 * between CPython and it.) The count is read before any code object of the walk, and a walk that keeps a cache
 * stores it: every code object in the cache was read by that walk or by one before it with the same count. A code object whose
 * facts read "not live" (the None of a shim frame) is not covered: another object may take its place without a
 * code object being freed, so the check goes on from the first such one (first_dead). Turning counting on
 * counts one, then sets the type, and a walk reads the type before the count: a walk that sees the type sees
 * the count past every cache left before (frees were not counted then), and a cache left by a walk that did not
 * see the type (code_counted 0) is checked. Off clears the type before frees stop passing the hook. The watcher
 * is turned on and off the same way, with its interpreter in place of the type (ml_pyframes_watch_code_frees). */

/* ---- the code word ---------------------------------------------------------------------------------------
 *
 * Under the same condition (code frees counted, the count where the walk that left the cache read it), the check
 * reads three of an entry's four words on a 3.11+ build (these are GIL builds: the cache counts on no other),
 * when the entry is a shim (owner >= owner_shim_min: the walk derives nothing from its code word) or its code
 * object was live (coded and live). Why the code word then reads as cached when the other three do: a frame
 * CPython links into a thread's chain points its instruction word into the bytecode of the code object its
 * code word names (3.11/3.12: prev_instr from _PyCode_CODE(code) - 1, 3.13+: instr_ptr from _PyCode_CODE(code),
 * to the instruction running or calling; both inside the object, whose bytecode is its last field). The cached
 * code object C was live when cached and no code object was freed since, so C is alive now, at its address;
 * the frame's instruction word is the cached one, inside C; the object its code word names now holds that
 * address in its memory too, and live objects do not overlap: it is C (3.14's tag bits aside, which the walk
 * drops). Entries for which this does not hold (a code word that named no live code object) are counted per
 * prefix (nfull), and a check over a range with any of them reads all four words. 3.9/3.10 keep four: f_lasti
 * is an index, not an address. (The owner is left out too for these entries where the walk does not need it:
 * "the owner byte", below; nfull counts the entries that need either.) */

/* ---- the owner byte ---------------------------------------------------------------------------------------
 *
 * Under the same condition, the check reads two words of a settled entry (pyframes.h: a shim, or a frame whose
 * code object C was live and whose instruction word was past C's prologue), the back pointer and the
 * instruction word, and not its owner: where those two read as cached, what the walk derives from the frame is
 * what it derived then. The walk uses the owner twice: a shim (owner >= owner_shim_min) shows nothing, and a
 * generator's frame is shown even in its prologue. The second use does not arise for a settled entry that is no
 * shim: the instruction word is past the prologue of C, which is the code object its code word names ("the code
 * word"), whatever frame owns the memory. The first comes down to one fact of CPython, true of every version with
 * shims: the instruction word of a shim never points into the bytecode of a code object that a frame other than
 * a shim runs. 3.12: a shim (owner FRAME_OWNED_BY_CSTACK, assigned only to _PyEval_EvalFrameDefault's entry
 * frame) points into the interpreter's trampoline code object, which only entry frames run. 3.13+: the entry frame
 * (CSTACK on 3.13, INTERPRETER on 3.14+, the only owners >= owner_shim_min assigned in Python/ and Objects/)
 * points into _Py_INTERPRETER_TRAMPOLINE_INSTRUCTIONS, a static array that is no code object's bytecode, as a
 * frame other than a shim points into its code object's (3.13+'s _Py_InitCleanup frames are of owner THREAD
 * and run a code object of their own). So a cached shim read now with the same instruction word is a shim, and
 * a cached frame of live C read now with an instruction word inside C is no shim: C is alive (no code object was
 * freed), and no shim points inside it. 3.15's base frame, the thread state's own at the root of the chain (owner
 * INTERPRETER, a null back pointer), was not in the source this was checked against; its instruction word reads
 * null on 3.15.2, inside no code object, and the check reads the owner of the last entry it reads anyway (the
 * root, when it goes down to it). 3.11 has no
 * shims. A frame evaluator of another project (PEP 523) that made shims of its own pointing into a code object
 * would break the fact: memlens knows only CPython's. */

uint64_t ml_code_frees;
uintptr_t ml_code_free_type;
unsigned ml_code_free_type_off;
uintptr_t ml_code_watch_interp;
uintptr_t ml_code_watch_cache;
int ml_code_hook_counts;
/* ml_walk_cache_min's answer, set with the flags it depends on (one load per capture, not two). Where code frees
 * are counted, from 2 frames (round ten; 8 before): with the commonest walk alone (ml_pyframes_walk_whole) the
 * cache costs less than a walk again on short stacks too (objects, a 3-frame program under the bootstrap's
 * frames: the whole process's instructions -7.6 %, callgrind; web_requests and json_roundtrip -0.5 %, calls and
 * pyperf_float the same, the default mode the same). Without the count, a check reads the code objects too and
 * pays from 24. */
size_t ml_walk_min = 24;

static void set_walk_min(void) {
    int skips = (__atomic_load_n(&ml_code_free_type, __ATOMIC_ACQUIRE) | __atomic_load_n(&ml_code_watch_cache, __ATOMIC_ACQUIRE)) != 0;
    __atomic_store_n(&ml_walk_min, skips ? (size_t)2 : (size_t)24, __ATOMIC_RELAXED);
}

/* PyThreadState's third word, interp: the same on every version the watcher exists in (3.12+), and checked
 * against PyInterpreterState_Get() when the watcher is added (codewatch.c). */
#define ML_TS_INTERP 16

uintptr_t ml_pyframes_thread_interp(void) {
    if (!__atomic_load_n(&S.ready, __ATOMIC_ACQUIRE)) return 0;
    uintptr_t ts = (uintptr_t)S.get_tstate();
    return plausible(ts) ? rd_ptr(ts, ML_TS_INTERP) : 0;
}

int ml_pyframes_watch_code_frees(uintptr_t interp) {
    if (interp == 0 || !__atomic_load_n(&S.ready, __ATOMIC_ACQUIRE)) {
        if (__atomic_load_n(&ml_code_watch_interp, __ATOMIC_ACQUIRE) == ML_CODE_WATCH_ALL)
            __atomic_store_n(&ml_code_free_type, 0, __ATOMIC_RELEASE);
        __atomic_store_n(&ml_code_watch_cache, 0, __ATOMIC_RELEASE);
        __atomic_store_n(&ml_code_watch_interp, 0, __ATOMIC_RELEASE);
        set_walk_min();
        return 0;
    }
    /* As the OBJ hook's counting is turned on (above): count one, then say frees are counted. The walk cache's
     * skips stay on GIL builds (the proofs above lean on every free happening with the GIL held). */
    ml_pyframes_code_freed();
    __atomic_store_n(&ml_code_watch_interp, interp, __ATOMIC_RELEASE);
    if (!S.L.free_threaded) __atomic_store_n(&ml_code_watch_cache, interp, __ATOMIC_RELEASE);
    /* The wrapped dealloc counts for every thread: it says so where the hook would, the one flag the walk and a
     * capture read first (their other tests cost 2 % of the agent's instructions on json_roundtrip, 3.11). */
    if (interp == ML_CODE_WATCH_ALL) {
        ml_code_free_type_off = S.L.ob_type;
        __atomic_store_n(&ml_code_free_type, S.code_type, __ATOMIC_RELEASE);
    }
    set_walk_min();
    return 1;
}

int ml_pyframes_code_frees_counted(void) {
    if (__atomic_load_n(&ml_code_free_type, __ATOMIC_ACQUIRE) != 0) return 1;
    uintptr_t interp = __atomic_load_n(&ml_code_watch_interp, __ATOMIC_ACQUIRE);
    return interp != 0 && (interp == ML_CODE_WATCH_ALL || ml_pyframes_thread_interp() == interp);
}

void **ml_pyframes_code_dealloc_slot(void) {
    if (!__atomic_load_n(&S.ready, __ATOMIC_ACQUIRE)) return NULL;
    /* PyTypeObject: ..., tp_basicsize, tp_itemsize, tp_dealloc (the same order since 2.x). */
    return (void **)(S.code_type + S.L.tp_basicsize + 2 * sizeof(int64_t));
}

#define ML_TPFLAGS_PREHEADER ((1ul << 14) | (1ul << 4) | (1ul << 3)) /* HAVE_GC, MANAGED_DICT, MANAGED_WEAKREF */
#define ML_TP_FLAGS_AFTER_BASICSIZE 136                              /* tp_flags - tp_basicsize: 17 words, the same on 3.0 to 3.15 */

int ml_pyframes_count_code_frees(int on, int python_allocator) {
    if (!on) {
        __atomic_store_n(&ml_code_hook_counts, 0, __ATOMIC_RELEASE);
        __atomic_store_n(&ml_code_free_type, 0, __ATOMIC_RELEASE);
        set_walk_min();
        return 0;
    }
    if (!__atomic_load_n(&S.ready, __ATOMIC_ACQUIRE) || S.L.free_threaded) return 0;
    /* A watcher counts its interpreter's only: the hook counts as well, for the other interpreters' threads, and
     * so that a capture knows frees counted without looking up its thread's interpreter (that look-up per event
     * cost more than the type check, 7 % of the agent on json_roundtrip). Beside the wrapped dealloc (3.9-3.11)
     * it counts too: a free counted twice only moves the count further. */
    /* pymalloc, pymalloc_debug, malloc_debug (the bootstrap's numbers): blocks of 16 bytes at least. Plain
     * malloc may be another allocator's (LD_PRELOAD) with 8-byte blocks. */
    if (python_allocator != 1 && python_allocator != 2 && python_allocator != 4) return 0;
    unsigned long flags = (unsigned long)rd_i64(S.code_type, S.L.tp_basicsize + ML_TP_FLAGS_AFTER_BASICSIZE);
    if ((flags & ML_TPFLAGS_PREHEADER) != 0) return 0;
    ml_code_free_type_off = S.L.ob_type;
    __atomic_store_n(&ml_code_hook_counts, 1, __ATOMIC_RELEASE);
    ml_pyframes_code_freed();
    __atomic_store_n(&ml_code_free_type, S.code_type, __ATOMIC_RELEASE);
    set_walk_min();
    return 1;
}

static inline size_t slot_hash(uintptr_t addr, size_t mask) {
    uint64_t x = (uint64_t)addr * 0x9e3779b97f4a7c15ull;
    return (size_t)(x >> 32) & mask;
}

/* The cached index of the frame at addr, or SIZE_MAX. Slots may be stale (an index past len, or one whose
 * entry has another address since): each answer is checked against the entry. */
static size_t slot_find(const ml_walk_cache *c, uintptr_t addr) {
    size_t mask = c->slot_cap - 1;
    for (size_t i = slot_hash(addr, mask), n = 0; n < c->slot_cap; i = (i + 1) & mask, n++) {
        const struct ml_walk_slot *sl = &c->slots[i];
        if (sl->gen != c->slot_gen) return SIZE_MAX;
        if (sl->addr == addr) return sl->index < c->len && c->raw[sl->index].addr == addr ? sl->index : SIZE_MAX;
    }
    return SIZE_MAX;
}

static void slot_put(ml_walk_cache *c, uintptr_t addr, size_t index) {
    size_t mask = c->slot_cap - 1;
    for (size_t i = slot_hash(addr, mask);; i = (i + 1) & mask) {
        struct ml_walk_slot *sl = &c->slots[i];
        int empty = sl->gen != c->slot_gen;
        if (empty) c->slot_used++;
        if (empty || sl->addr == addr) {
            sl->addr = addr;
            sl->index = (uint32_t)index;
            sl->gen = c->slot_gen;
            return;
        }
    }
}

/* Reads the frame at f into r and derives what the walk makes of it. 0, or -1 when the chain must not be
 * cached (3.9/3.10: the walk ends at a code object that is not live). The memo: the code object last
 * checked in this walk and its two facts (one check per run of frames showing the same code). */
typedef struct code_memo {
    uintptr_t code;
    int32_t first;
    uint8_t live;
} code_memo;

static inline void code_facts(const ml_pylayout *L, code_memo *m, uintptr_t code) {
    if (code == m->code) return;
    m->code = code;
    m->live = (uint8_t)is_live_code(code);
    m->first = m->live && L->model == ML_FRAMES_INTERP ? rd_i32(code, L->co_firsttraceable) : 0;
}

static inline int read_frame(const ml_pylayout *L, uintptr_t f, ml_rawframe *r, code_memo *m, ml_pyframe *frame) {
    r->addr = f;
    r->shown = 0, r->coded = 0, r->settled = 0;
    if (L->model == ML_FRAMES_OBJECTS) {
        r->back = rd_ptr(f, L->f_back);
        r->code = rd_ptr(f, L->f_code);
        int32_t lasti = rd_i32(f, L->f_lasti);
        r->instr = (uintptr_t)(uint32_t)lasti;
        r->owner = 0;
        code_facts(L, m, r->code);
        r->coded = 1;
        r->live = m->live, r->first = 0;
        if (!r->live) return -1;
        r->shown = 1;
        frame->code = (const void *)r->code;
        frame->instr = lasti < 0 ? 0u : (uint32_t)lasti * L->lasti_unit;
        return 0;
    }
    r->back = rd_ptr(f, L->if_previous);
    r->code = rd_ptr(f, L->if_code);
    r->instr = rd_ptr(f, L->if_instr);
    r->owner = rd_u8(f, L->if_owner);
    r->live = 0, r->first = 0;
    if (r->owner >= L->owner_shim_min) {
        r->settled = 1;
        return 0;
    }
    uintptr_t code = r->code;
    if (L->code_tagged) code = (code & 3u) == 3u ? 0 : code & ~(uintptr_t)3u;
    if (code == 0) return 0;
    code_facts(L, m, code);
    r->coded = 1;
    r->live = m->live, r->first = m->first;
    if (!r->live) return 0;
    uintptr_t base = code + L->co_code_adaptive;
    /* Before the first traceable instruction: incomplete unless a generator's ("the owner byte" needs the owner). */
    int prologue = r->first >= 0 && r->instr < base + (uintptr_t)r->first * 2u;
    r->settled = (uint8_t)!prologue;
    if (prologue && r->owner != L->owner_generator) return 0;
    uintptr_t off = r->instr >= base ? r->instr - base : 0;
    r->shown = 1;
    frame->code = (const void *)code;
    frame->instr = off < ((uintptr_t)1 << 31) ? (uint32_t)off : 0u;
    return 0;
}

/* One frame's words against its cache entry (`below`: the back pointer it had): 0 when they read as cached. The
 * code word only where `code`, the owner only where `own` ("the owner byte", above). */
static inline __attribute__((always_inline)) uintptr_t frame_diff(uintptr_t f, uintptr_t below, const ml_rawframe *r, unsigned back,
                                                                  unsigned word, unsigned instr, unsigned owner, const int objects,
                                                                  const int code, const int own) {
    uintptr_t diff = rd_ptr(f, back) ^ below;
    if (code) diff |= rd_ptr(f, word) ^ r->code;
    if (objects) return diff | ((uintptr_t)(uint32_t)rd_i32(f, instr) ^ r->instr);
    diff |= rd_ptr(f, instr) ^ r->instr;
    return own ? diff | (uintptr_t)((uint32_t)rd_u8(f, owner) ^ r->owner) : diff;
}

/* Reads cached entries j, j-1, ..., from again, leaf side first: the four words of each frame (3.9/3.10: three;
 * no owner). Returns SIZE_MAX when every one reads as cached, else the first entry (from the leaf side) that
 * does not. Leaf side first, because only that order dereferences nothing but live frames: entry j's frame is
 * the one the walk is at, and each entry below is read only once the back pointer read just before named it
 * (a cached frame further down may have been freed since, its memory unmapped with a datastack chunk or a
 * frame object). The branch per frame is predicted taken, so the processor still issues the next frame's
 * reads early: their addresses are in the cache. Compiled per model with its offsets in locals. */
static inline __attribute__((always_inline)) size_t check_words(const ml_rawframe *raw, size_t from, size_t j, unsigned back, unsigned word,
                                                                unsigned instr, unsigned owner, const int objects, const int code,
                                                                const int own) {
    /* An entry's cached back pointer is the address of the entry below it (the walk followed it), so each
     * address is loaded once, as the frame below's and as the back pointer to compare with. Four frames a
     * step (the loop's own instructions were two of the 13 a frame), each behind its own branch: a frame is
     * read only once the one above named it. */
    uintptr_t f = raw[j].addr;
    size_t i = j;
    for (; i >= from + 4; i -= 4) {
        uintptr_t b1 = raw[i - 1].addr, b2 = raw[i - 2].addr, b3 = raw[i - 3].addr, b4 = raw[i - 4].addr;
        if (frame_diff(f, b1, &raw[i], back, word, instr, owner, objects, code, own) != 0) return i;
        if (frame_diff(b1, b2, &raw[i - 1], back, word, instr, owner, objects, code, own) != 0) return i - 1;
        if (frame_diff(b2, b3, &raw[i - 2], back, word, instr, owner, objects, code, own) != 0) return i - 2;
        if (frame_diff(b3, b4, &raw[i - 3], back, word, instr, owner, objects, code, own) != 0) return i - 3;
        f = b4;
    }
    for (; i > from; i--) {
        uintptr_t b = raw[i - 1].addr;
        if (frame_diff(f, b, &raw[i], back, word, instr, owner, objects, code, own) != 0) return i;
        f = b;
    }
    /* Entry `from`: its own cached back pointer (the root's is not an entry's address), and its owner always (the
     * root of 3.15+ is the thread state's base frame: "the owner byte" leaves it out). */
    return frame_diff(f, raw[from].back, &raw[from], back, word, instr, owner, objects, code, !objects) != 0 ? from : SIZE_MAX;
}

__attribute__((noinline)) static size_t check_words_interp(const ml_pylayout *L, const ml_rawframe *raw, size_t from, size_t j) {
    return check_words(raw, from, j, L->if_previous, L->if_code, L->if_instr, L->if_owner, 0, 1, 1);
}

/* The frame at f against the pair it is at: its back pointer against the address of the entry below, its
 * instruction word against the cached one. Nonzero when either reads otherwise. */
static inline __attribute__((always_inline)) int pair_diff(uintptr_t f, const struct ml_walk_pair *q, unsigned back, unsigned instr) {
    return ((rd_ptr(f, back) ^ q[-1].addr) | (rd_ptr(f, instr) ^ q[0].instr)) != 0;
}

/* ---- one compare ----------------------------------------------------------------------------------------------
 *
 * 3.11 keeps a frame's back pointer and instruction word side by side (previous at 48, prev_instr at 56), and the pairs
 * hold entry i - 1's address and entry i's instruction word side by side too, 16 bytes aligned (pyframes.h): the two
 * words of entry i's frame are then compared with one load of the frame's 16 bytes, one compare with the pairs' 16
 * (SSE2, part of every x86-64) and one test of its mask, where two loads, two exclusive ors and an or took 7
 * instructions a frame with the address's load; 6 with it. The same words, compared the same: nothing else changes
 * (the frame's 16 bytes are the two words pair_diff reads). Elsewhere (3.12+: 8 and 56; another architecture), the
 * words one by one. */
#if ML_PAIR_ONE_COMPARE
static inline __attribute__((always_inline)) int pair_diff_one(uintptr_t f, const struct ml_walk_pair *q, unsigned back) {
    __m128i words = _mm_loadu_si128((const __m128i *)(f + back));
    /* Entry i - 1's address, entry i's instr: aligned by pairs_alloc, read unaligned all the same (the same cost
     * when aligned, and no fault if another allocator ever places the pairs). */
    __m128i cached = _mm_loadu_si128((const __m128i *)(const void *)&q[-1].addr);
    return _mm_movemask_epi8(_mm_cmpeq_epi8(words, cached)) != 0xffff;
}
#endif

static inline __attribute__((always_inline)) int pair_differs(uintptr_t f, const struct ml_walk_pair *q, unsigned back, unsigned instr,
                                                              const int one) {
#if ML_PAIR_ONE_COMPARE
    if (one) return pair_diff_one(f, q, back);
#endif
    (void)one;
    return pair_diff(f, q, back, instr);
}

/* How many entries ahead of the one compared check_pairs asks for a frame's words (a prefetch, which never faults,
 * so a frame that is no longer there costs nothing): a 10,000-frame chain's words span a megabyte of data stack, past a
 * core's second-level cache, and the processor's own prefetcher left the check waiting on them ("Agent CPU, round ten"
 * in docs/benchmarks.md: 32 to 64 ahead alike, 128 less; a line a frame). */
#define ML_CHECK_AHEAD 32
/* The length from which a check prefetches: a chain of 2,048 frames is past the 32 KiB of a core's first-level cache
 * many times over, and checks of 512 or 8,192 on deep_every_level took more time. */
#define ML_CHECK_FAR 2048

/* The lines of eight frames' back pointers, entries a[0] down to a[-7], written out (gcc -O2 keeps a loop of eight as
 * a loop). Not the instruction word's as well where it is in another line (3.12+: 48 bytes further, in the next line
 * for most frames): that measured no faster on 3.12 and 3.13 (the processor fetches the adjacent line). */
static inline __attribute__((always_inline)) void prefetch_eight(const struct ml_walk_pair *a, unsigned back) {
    __builtin_prefetch((const char *)a[0].addr + back), __builtin_prefetch((const char *)a[-1].addr + back);
    __builtin_prefetch((const char *)a[-2].addr + back), __builtin_prefetch((const char *)a[-3].addr + back);
    __builtin_prefetch((const char *)a[-4].addr + back), __builtin_prefetch((const char *)a[-5].addr + back);
    __builtin_prefetch((const char *)a[-6].addr + back), __builtin_prefetch((const char *)a[-7].addr + back);
}

/* Eight entries' frames, from entry i (at f) down to i - 7: 8 when all read as cached, else how many entries above the
 * first that does not. */
static inline __attribute__((always_inline)) size_t pairs_eight(uintptr_t f, const struct ml_walk_pair *q, unsigned back, unsigned instr,
                                                                const int one) {
    /* q[-k]: entry i - k, read once the entry above named it */
    if (pair_differs(f, q, back, instr, one)) return 0;
    if (pair_differs(q[-1].addr, q - 1, back, instr, one)) return 1;
    if (pair_differs(q[-2].addr, q - 2, back, instr, one)) return 2;
    if (pair_differs(q[-3].addr, q - 3, back, instr, one)) return 3;
    if (pair_differs(q[-4].addr, q - 4, back, instr, one)) return 4;
    if (pair_differs(q[-5].addr, q - 5, back, instr, one)) return 5;
    if (pair_differs(q[-6].addr, q - 6, back, instr, one)) return 6;
    if (pair_differs(q[-7].addr, q - 7, back, instr, one)) return 7;
    return 8;
}

/* Without the code word and the owner: for settled entries whose code word the instruction word stands for ("the
 * code word", above) and whose owner the walk needs not know ("the owner byte"). Two words a frame, compared with
 * the packed pairs; as check_words otherwise (the same order, a branch per frame), eight frames a step: 7
 * instructions a frame and 4 a step (x86-64, gcc -O2), where three words with the owner took 10 and 5 a four; and,
 * where ML_CHECK_AHEAD entries are left below, 3 more a frame to prefetch the frame that many entries further down. */
static inline __attribute__((always_inline)) size_t check_pairs_kind(const ml_pylayout *L, const ml_walk_cache *c, size_t from, size_t j,
                                                                     const int far, const int one) {
    const unsigned back = L->if_previous, instr = L->if_instr;
    const struct ml_walk_pair *p = c->pairs;
    uintptr_t f = p[j].addr;
    size_t i = j;
    /* A long check asks for the frames ML_CHECK_AHEAD entries down while it compares. */
    if (far) {
        for (; i >= from + 8 && i >= ML_CHECK_AHEAD + 8; i -= 8) {
            prefetch_eight(p + i - ML_CHECK_AHEAD, back);
            size_t k = pairs_eight(f, p + i, back, instr, one);
            if (k < 8) return i - k;
            f = p[i - 8].addr;
        }
    }
    for (; i >= from + 8; i -= 8) {
        size_t k = pairs_eight(f, p + i, back, instr, one);
        if (k < 8) return i - k;
        f = p[i - 8].addr;
    }
    for (; i > from; i--) {
        if (pair_differs(f, p + i, back, instr, one)) return i;
        f = p[i - 1].addr;
    }
    return frame_diff(f, c->raw[from].back, &c->raw[from], back, 0, instr, L->if_owner, 0, 0, 1) != 0 ? from : SIZE_MAX;
}

/* A check of ML_CHECK_FAR frames or more, out of line: a shorter one, whose frames the processor's caches hold, pays one
 * comparison for it (a check with the prefetch inline in its loop cost deep_stacks 1-2 % more instructions). */
__attribute__((noinline)) static size_t check_pairs_far(const ml_pylayout *L, const ml_walk_cache *c, size_t from, size_t j) {
    if (S.one_compare) return check_pairs_kind(L, c, from, j, 1, 1);
    return check_pairs_kind(L, c, from, j, 1, 0);
}

/* `one`: S.one_compare, read by the caller once for all its checks. */
static inline __attribute__((always_inline)) size_t check_pairs(const ml_pylayout *L, const ml_walk_cache *c, size_t from, size_t j,
                                                                const int one) {
    if (__builtin_expect(j - from >= ML_CHECK_FAR, 0)) return check_pairs_far(L, c, from, j);
    return check_pairs_kind(L, c, from, j, 0, one);
}

/* The check's one copy for the walk's loop; ml_pyframes_walk_whole has its own, inline (a call fewer per event). */
__attribute__((noinline)) static size_t check_words_interp_uncoded(const ml_pylayout *L, const ml_walk_cache *c, size_t from, size_t j) {
    if (S.one_compare) return check_pairs(L, c, from, j, 1);
    return check_pairs(L, c, from, j, 0);
}

__attribute__((noinline)) static size_t check_words_objects(const ml_pylayout *L, const ml_rawframe *raw, size_t from, size_t j) {
    return check_words(raw, from, j, L->f_back, L->f_code, L->f_lasti, 0, 1, 1, 0);
}

/* The facts of the cache's distinct code objects [from, to) again (is_live_code, _co_firsttraceable): the
 * first that reads otherwise, or SIZE_MAX. A code object's facts are one per object, so they are checked
 * once per distinct code of the cached part instead of once per frame (a recursion has one). */
static inline __attribute__((always_inline)) size_t check_codes_kind(const ml_pylayout *L, const struct ml_walk_code *codes, size_t from,
                                                                     size_t to, const int interp) {
    const uintptr_t code_type = S.code_type;
    const unsigned type_off = L->ob_type, first_off = L->co_firsttraceable;
    const int gil = !L->free_threaded;
    for (const struct ml_walk_code *k = codes + from, *end = codes + to; k < end; k++) {
        uintptr_t code = k->code;
        if (__builtin_expect(k->live && gil, 1)) {
            /* is_live_code on a GIL build without plausible(), which held for this very value when cached;
             * the frame that names it was just read naming it, so it is as readable as the walk's reads. */
            uintptr_t diff = (rd_ptr(code, type_off) ^ code_type) | (uintptr_t)(rd_u32(code, 0) == 0);
            if (interp) diff |= (uint32_t)(rd_i32(code, first_off) ^ k->first);
            if (diff != 0) return (size_t)(k - codes);
            continue;
        }
        int live = is_live_code(code);
        int32_t first = live && interp ? rd_i32(code, first_off) : 0;
        if (live != k->live || first != k->first) return (size_t)(k - codes);
    }
    return SIZE_MAX;
}

__attribute__((noinline)) static size_t check_codes(const ml_pylayout *L, const struct ml_walk_code *codes, size_t from, size_t to) {
    if (L->model == ML_FRAMES_INTERP) return check_codes_kind(L, codes, from, to, 1);
    return check_codes_kind(L, codes, from, to, 0);
}

/* The cache's index of the distinct code object r names, appended if it is not among the last few (a code
 * object listed twice is only checked twice: the list is for checking, not for identity). */
static size_t code_index(ml_walk_cache *c, size_t n, const ml_pylayout *L, const ml_rawframe *r, size_t entry) {
    uintptr_t obj = r->code;
    if (L->code_tagged) obj &= ~(uintptr_t)3u; /* coded: not a tagged int */
    for (size_t q = n, seen = 0; q > 0 && seen < 8; q--, seen++) {
        const struct ml_walk_code *k = &c->codes[q - 1];
        if (k->code == obj && k->live == r->live && k->first == r->first) return n;
    }
    c->codes[n] = (struct ml_walk_code){obj, (uint32_t)entry, r->first, r->live};
    return n + 1;
}

/* The frame the thread state names (the 3.11+ model, or 3.9/3.10's frame object) into *f; 0 where 3.11's cframe
 * is not a pointer to follow (the walk then gives no frame). */
static inline int leaf_frame(const ml_pylayout *L, uintptr_t ts, uintptr_t *f) {
    if (L->model != ML_FRAMES_OBJECTS && L->ts_cframe != ML_NO_FIELD) {
        uintptr_t cframe = rd_ptr(ts, L->ts_cframe);
        if (!plausible(cframe)) return 0;
        *f = rd_ptr(cframe, L->cframe_current);
        return 1;
    }
    *f = rd_ptr(ts, L->ts_frame);
    return 1;
}

/* Whether code frees are counted for the thread of ts (ml_code_frees_counted for that thread). */
static inline int frees_counted(uintptr_t ts) {
    uintptr_t watched = __atomic_load_n(&ml_code_watch_cache, __ATOMIC_ACQUIRE);
    return __atomic_load_n(&ml_code_free_type, __ATOMIC_ACQUIRE) != 0 ||
           (watched != 0 && (watched == ML_CODE_WATCH_ALL || rd_ptr(ts, ML_TS_INTERP) == watched));
}

/* ---- a frame pushed or popped ----------------------------------------------------------------------------------
 *
 * The walks the leaf's step leaves to the general walk are mostly these: the leaf called a function (one frame
 * pushed: json_roundtrip's list comprehensions calling document(), the encoder's callers), or returned to its caller
 * (one popped), and in both the caller F, a cached entry, most often allocates or calls from another instruction
 * than when it was cached. Where the cache allows ml_pyframes_walk_whole (the same condition: 3.11+, code frees
 * counted and not one since the walk that left the cache, every entry settled, every code object live; it ran and
 * found the leaf elsewhere), `leaf_moved` answers what ml_pyframes_walk_cached would, from the same words:
 *  - Pushed: the leaf G's back pointer names the cached leaf's frame, entry len - 1, which is F. Popped: the leaf is
 *    the frame of entry len - 2, which is F. F's index is k, in both.
 *  - F's four words: its back pointer names entry k - 1, its code word and owner read as cached, the cached entry was
 *    a shown frame (a live code object's, past its prologue; all are settled); its instruction word is the cached one,
 *    or one past the prologue.
 *  - Entries k - 1 down to the root read as cached, with the check the general walk makes of them (two words a frame,
 *    leaf side first: G names F, F names entry k - 1, which is read only then; only live frames are dereferenced).
 *    Nothing less will do: a frame that returned and was called again at the same address, with the same words,
 *    proves nothing about its callers (test/agent/stacks.test.ts: a caller's line changed 11 frames below).
 *  - Pushed: G read as the walk reads a frame, and found shown and settled, of a live code object.
 * What the general walk does then, read for read the same words (the thread's frames do not change in the hook):
 *  - Pushed: G is at no cached address (it names F, entry len - 1; entry i > 0 names entry i - 1 now, entry 0 a
 *    pointer that ended the walk, so neither can be G), so the walk reads G, then finds F at entry len - 1 (the cached
 *    leaf is the first entry it compares) and checks entries len - 1 down: where F's instruction is the cached one
 *    they read as cached (junction len - 1, G the one new entry); where it is not, the check stops at F, the walk reads
 *    F and finds entry len - 2 next, whose check reads as cached (junction len - 2; F and G new).
 *  - Popped: the walk finds F at entry len - 2 (the one below the cached leaf, compared second) and checks entries
 *    len - 2 down: F's instruction the cached one, junction len - 2, nothing new; else it reads F, finds entry len - 3,
 *    junction there, F new.
 *  - The code objects' check is skipped (every cached code object live, the count unmoved). A new entry F read again
 *    gets the cached entry's address, words and facts but the instruction word (the leaf's step's argument: its code
 *    object is the cached one, alive, as no code object was freed), so the same derivation but for the offset, the
 *    same depth, nfull, and ncodes (code_index sees the same code objects below it, as it did for F); its address's
 *    slot names it already. G's entry is new: its slot is set, code_index finds or appends its code object.
 *  - The cache left: the kept entries, the new ones, fast_len, code_gen and code_counted as that walk sets them.
 * Not taken (nothing stored, and the general walk reads it all again) where any of that does not hold, or where the
 * general walk would do something else: a cache that keeps a chain shorter than 3 frames, one past its capacity, an
 * index of addresses that would be made again. Returns ML_NOT_MOVED then, else what ml_pyframes_walk_cached returns.
 * Round twelve: ml_pyframes_walk_whole calls it first, where it found the leaf elsewhere than the cached leaf, and
 * answers 3 with its answer in c->moved (ml_pystack_capture_moved takes it as the walk's): the same call with the same
 * words that ml_pyframes_walk_cached would make first with that walk's hint (its set-up's tests, which a cache of
 * len > 0 passes, are made before it), without that walk's set-up, its hint and the general capture's call. */
#define ML_NOT_MOVED (SIZE_MAX - 1)
static size_t leaf_moved(const ml_pylayout *L, ml_walk_cache *c, uintptr_t f, int counted, uint64_t gen, ml_pyframe *out, size_t cap,
                         size_t *reused) {
    size_t len = c->len;
    if (L->model != ML_FRAMES_INTERP || !counted || !c->code_counted || gen != c->code_gen || len < 3 || len + 1 > c->cap ||
        c->first_dead != SIZE_MAX || c->raw[len - 1].nfull != 0 || !c->slots_valid || cap < 2)
        return ML_NOT_MOVED;
    const struct ml_walk_pair *p = c->pairs;
    uintptr_t back = rd_ptr(f, L->if_previous);
    int pushed = back == p[len - 1].addr && f != p[len - 1].addr;
    if (!pushed && f != p[len - 2].addr) return ML_NOT_MOVED;
    size_t k = pushed ? len - 1 : len - 2;
    const ml_rawframe *e = &c->raw[k];
    uintptr_t fa = p[k].addr;
    uintptr_t fback = pushed ? rd_ptr(fa, L->if_previous) : back;
    uintptr_t fcode = rd_ptr(fa, L->if_code), finstr = rd_ptr(fa, L->if_instr);
    uint32_t fowner = rd_u8(fa, L->if_owner);
    if (fback != p[k - 1].addr || fcode != e->code || fowner != e->owner || !e->shown) return ML_NOT_MOVED;
    uintptr_t code = L->code_tagged ? fcode & ~(uintptr_t)3u : fcode; /* shown: the walk untagged it, no tagged int */
    uintptr_t base = code + L->co_code_adaptive;
    int stepped = finstr != e->instr;
    if (stepped && e->first >= 0 && finstr < base + (uintptr_t)e->first * 2u) return ML_NOT_MOVED; /* in the prologue */
    ml_rawframe g;
    ml_pyframe gframe;
    if (pushed) {
        code_memo m = {0, 0, 0};
        if (read_frame(L, f, &g, &m, &gframe) != 0 || !g.shown || !g.settled || !g.live) return ML_NOT_MOVED;
    }
    /* keep: the entries the general walk keeps; fresh: the new ones (F where it stepped, G where pushed). */
    size_t keep = stepped ? k : k + 1, fresh = (size_t)stepped + (size_t)pushed;
    if (keep + fresh < ml_walk_cache_min() || (c->slot_used + fresh) * 2 > c->slot_cap) return ML_NOT_MOVED;
    if (check_words_interp_uncoded(L, c, 0, k - 1) != SIZE_MAX) return ML_NOT_MOVED;
    size_t nout = 0;
    if (pushed) out[nout++] = gframe;
    if (stepped) {
        uintptr_t off = finstr >= base ? finstr - base : 0;
        out[nout].code = (const void *)code;
        out[nout++].instr = off < ((uintptr_t)1 << 31) ? (uint32_t)off : 0u;
        c->raw[k].instr = finstr;
        c->pairs[k].instr = finstr;
    }
    if (pushed) {
        ml_rawframe *r = &c->raw[len];
        *r = g;
        c->pairs[len] = (struct ml_walk_pair){.instr = r->instr, .addr = r->addr};
        slot_put(c, r->addr, len);
        r->depth = c->raw[len - 1].depth + 1;
        r->ncodes = (uint32_t)code_index(c, c->raw[len - 1].ncodes, L, r, len);
        r->nfull = c->raw[len - 1].nfull;
    }
    c->len = keep + fresh;
    c->code_gen = gen;
    c->code_counted = counted;
    c->fast_len = c->len;
    *reused = c->raw[keep - 1].depth;
    return nout;
}

/* ---- the leaf's step ----------------------------------------------------------------------------------------
 *
 * The next commonest walk (json's C encoder and decoder, a dict or a list built in one Python function: the same
 * frame allocating from another instruction): the leaf is the cached leaf's frame, and only its instruction word
 * reads otherwise. Where the cache allows ml_pyframes_walk_whole (fast_len: code frees counted and not one since the
 * walk that left the cache read the count, every entry settled, every code object live), the leaf's four words are
 * read (the back pointer, the code word, the instruction word, the owner) and the chain below it checked as
 * ml_pyframes_walk_whole checks the whole chain, leaf side first. Why that gives what ml_pyframes_walk_cached would:
 *  - The leaf's back pointer names entry len - 2, and the check reads entries len - 2 down to the root as cached
 *    (two words a frame: "the code word" and "the owner byte" hold for them as for the whole chain). So the chain
 *    below the leaf is the cached one and gives what it gave, and entry len - 2 is the junction that walk would
 *    find (it tries the entry below the last one not ruled out, len - 2, first).
 *  - The leaf: its code word and owner read as cached, and the cached leaf was a shown frame (no shim: a live code
 *    object's, past its prologue). Its code object C was live when cached and no code object was freed since, so
 *    the frame names C now, with C's facts as cached ("skipping the code objects' check": the frame names it now,
 *    having been read). The walk's derivation then gets every input it got but the instruction word, which is read
 *    now: the owner is no shim's (the same as cached), the code is live C with _co_firsttraceable `first`, so the
 *    frame is shown, at offset instr - base, where the instruction is past the prologue; in the prologue the frame
 *    would be hidden (or, a generator's, not settled), and the step gives up: the general walk takes it.
 *  - The cache that walk would leave: entries [0, len - 1) kept, the leaf's entry read again with the same address,
 *    back pointer, code word, owner, facts, shown and settled (so the same depth and nfull; code_index finds or
 *    appends the same code object after the same kept ones, as it did for the cached leaf: the same ncodes); only
 *    its instruction word is new. The index of addresses is unchanged (the same addresses; a walk that rebuilt it
 *    would give the same answers), fast_len, first_dead, code_gen and code_counted stay what that walk sets them to.
 * So the step stores the instruction word (raw and pairs) and the leaf's frame (c->step) and answers 2. Where any
 * of it does not hold it answers 0 having stored nothing, and the general walk reads the leaf again (a hint with the
 * leaf's check, as before); the entries of the chain the step read are read again only where the step's check of
 * them failed, up to the entry that differs. */
static inline __attribute__((always_inline)) int leaf_step(const ml_pylayout *L, ml_walk_cache *c, uintptr_t f, const int one) {
    size_t len = c->len;
    ml_rawframe *r = &c->raw[len - 1];
    /* len >= 2: the leaf has an entry below it (the cache is kept from ml_walk_cache_min() >= 2 frames). */
    if (len < 2 || !r->shown) return 0;
    uintptr_t back = rd_ptr(f, L->if_previous), code = rd_ptr(f, L->if_code), instr = rd_ptr(f, L->if_instr);
    uint32_t owner = rd_u8(f, L->if_owner);
    if (back != c->pairs[len - 2].addr || code != r->code || owner != r->owner) return 0;
    if (L->code_tagged) code &= ~(uintptr_t)3u; /* shown: the walk untagged it, and it was no tagged int */
    uintptr_t base = code + L->co_code_adaptive;
    if (r->first >= 0 && instr < base + (uintptr_t)r->first * 2u) return 0; /* in the prologue: not settled */
    if (check_pairs(L, c, 0, len - 2, one) != SIZE_MAX) return 0;
    uintptr_t off = instr >= base ? instr - base : 0;
    c->step.code = (const void *)code;
    c->step.instr = off < ((uintptr_t)1 << 31) ? (uint32_t)off : 0u;
    r->instr = instr;
    c->pairs[len - 1].instr = instr;
    return 1;
}

/* The first part of ml_pyframes_walk_cached alone, where the cache says its whole chain may be taken with the
 * two-word check (fast_len): what that function does when the leaf is the cached leaf and the whole chain reads as
 * cached, without its bookkeeping (the cache's sizes, checked when fast_len was set; the code objects' check,
 * which it skips, for codes_ok reaches every cached code object: first_dead is SIZE_MAX). The same reads in the
 * same order: the thread state, finalizing, the leaf, the count's flags, then the count. A third of the agent's
 * instructions per event on json_roundtrip went to that bookkeeping and the capture's around it. */
static inline __attribute__((always_inline)) int walk_whole_kind(ml_walk_cache *c, const int one) {
    struct ml_walk_hint *hint = &c->hint;
    size_t len = c->len;
    if (len == 0 || len != c->fast_len) return 0;
    const ml_pylayout *L = &S.L;
    uintptr_t ts = (uintptr_t)S.get_tstate();
    if (!plausible(ts)) return 0;
    uintptr_t finalizing = __atomic_load_n((const uintptr_t *)(S.runtime + L->rt_finalizing), __ATOMIC_RELAXED);
    if (finalizing != 0 && finalizing != ts) return 0;
    uintptr_t f;
    /* fast_len is only set for the 3.11+ model: 3.11's cframe, or the frame word of 3.12+. */
    if (L->ts_cframe != ML_NO_FIELD) {
        uintptr_t cframe = rd_ptr(ts, L->ts_cframe);
        if (!plausible(cframe)) return 0;
        f = rd_ptr(cframe, L->cframe_current);
    } else {
        f = rd_ptr(ts, L->ts_frame);
    }
    int counted = frees_counted(ts);
    uint64_t gen = __atomic_load_n(&ml_code_frees, __ATOMIC_ACQUIRE);
    /* fast_len was set by a walk that saw frees counted (code_counted) and left every entry settled and every code
     * object live; the rest of the condition of the leaf's check in ml_pyframes_walk_cached is read now. */
    int checked = 0, moved_tried = 0;
    size_t bad = 0;
    if (counted && gen == c->code_gen && len >= ml_walk_cache_min()) {
        if (f == c->pairs[len - 1].addr) {
            bad = check_pairs(L, c, 0, len - 1, one);
            if (bad == SIZE_MAX) return 1;
            if (bad == len - 1 && leaf_step(L, c, f, one)) return 2;
            checked = 1;
        } else if (L->co_tlbc == ML_NO_FIELD && c->slot_cap >= 2 * c->cap && c->codes != NULL) {
            /* A frame pushed or popped: what ml_pyframes_walk_cached does first with this hint (its set-up's tests are the
             * three above with the cache's own, which a cache of len > 0 passes, and then leaf_moved with the hint's
             * words), here without its set-up. leaf_moved's `cap` is only required to be 2 or more. */
            size_t n = leaf_moved(L, c, f, counted, gen, c->moved.out, 2, &c->moved.reused);
            if (n != ML_NOT_MOVED) {
                c->moved.n = n;
                return 3;
            }
            moved_tried = 1; /* it stored nothing, and would answer the same to the walk that follows */
        }
    }
    hint->ts = ts, hint->f = f, hint->gen = gen, hint->counted = counted, hint->checked = checked, hint->bad = bad;
    hint->moved_tried = moved_tried;
    return 0;
}

/* Each kind in a function of its own: both inline in one, the words' kind took 1 % more instructions on 3.12 (the
 * registers of one function for both). */
__attribute__((noinline)) static int walk_whole_one(ml_walk_cache *c) {
    return walk_whole_kind(c, 1);
}

__attribute__((noinline)) static int walk_whole_words(ml_walk_cache *c) {
    return walk_whole_kind(c, 0);
}

int ml_pyframes_walk_whole(ml_walk_cache *c) {
    c->hint.ts = 0;
    if (!__atomic_load_n(&S.ready, __ATOMIC_ACQUIRE)) return 0;
    /* One test of the check's kind per event, not one per check. */
    return S.one_compare ? walk_whole_one(c) : walk_whole_words(c);
}

size_t ml_pyframes_walk_cached(ml_walk_cache *c, ml_pyframe *out, size_t cap, size_t *reused, int hinted) {
    const struct ml_walk_hint *hint = hinted && c->hint.ts != 0 ? &c->hint : NULL;
    *reused = 0;
    c->fast_len = 0; /* set again below where the cache this walk leaves allows it */
    if (!__atomic_load_n(&S.ready, __ATOMIC_ACQUIRE)) return 0;
    const ml_pylayout *L = &S.L;
    if (L->co_tlbc != ML_NO_FIELD || c->cap == 0 || c->slot_cap < 2 * c->cap || c->codes == NULL || c->pairs == NULL) return SIZE_MAX;
    uintptr_t ts, f;
    int counted;
    uint64_t gen;
    if (hint != NULL) {
        /* ml_pyframes_walk_whole read these, in this order, in the same hook. */
        ts = hint->ts, f = hint->f, counted = hint->counted, gen = hint->gen;
    } else {
        ts = (uintptr_t)S.get_tstate();
        if (!plausible(ts)) return 0;
        uintptr_t finalizing = __atomic_load_n((const uintptr_t *)(S.runtime + L->rt_finalizing), __ATOMIC_RELAXED);
        if (finalizing != 0 && finalizing != ts) return 0;
        if (!leaf_frame(L, ts, &f)) return 0;
        /* No code object freed since the walk that left the cache began: its live code objects read as they did
         * (the proof above), up to the first that was not live. */
        counted = frees_counted(ts);
        gen = __atomic_load_n(&ml_code_frees, __ATOMIC_ACQUIRE);
    }
    /* The leaf pushed or popped by one frame (leaf_moved), where ml_pyframes_walk_whole found the leaf elsewhere. */
    if (hint != NULL && !hint->checked && !hint->moved_tried) {
        size_t moved = leaf_moved(L, c, f, counted, gen, out, cap, reused);
        if (moved != ML_NOT_MOVED) return moved;
    }
    size_t nf = 0, nout = 0;
    size_t junction = SIZE_MAX;
    /* Entries [0, words_ok) and distinct codes [0, codes_ok) read as cached now; no entry from limit on can be
     * a junction (one at or below it reads otherwise). Each entry's words are read at most once per walk. */
    size_t words_ok = 0, codes_ok = 0, limit = c->len;
    /* The same condition lets the check leave out the code word of entries that need it not (nfull). */
    int uncoded = 0;
    if (counted && c->len > 0 && c->code_counted && gen == c->code_gen) {
        size_t all = c->raw[c->len - 1].ncodes;
        codes_ok = c->first_dead < all ? c->first_dead : all;
        uncoded = L->model == ML_FRAMES_INTERP;
    }
    /* The commonest walk (a C function allocating again and again under the same Python frames): the leaf is
     * the cached leaf and the whole chain reads as cached. What the loop and the bookkeeping below would do
     * then comes to this: every entry kept, nothing read fresh, the index and the count as they are. */
    int leaf_known = 0;
    if (uncoded && f == c->raw[c->len - 1].addr && c->len >= ml_walk_cache_min()) {
        const ml_rawframe *top = &c->raw[c->len - 1];
        if (top->nfull == 0 && codes_ok >= top->ncodes) {
            /* ml_pyframes_walk_whole made this very check where it ran: the cache was left with fast_len, which says
             * nfull 0 and codes_ok past every code object, and it read the rest of this condition as here. */
            size_t bad = hint != NULL && hint->checked ? hint->bad : check_words_interp_uncoded(L, c, 0, c->len - 1);
            if (bad == SIZE_MAX) {
                if (c->first_dead >= top->ncodes) c->first_dead = SIZE_MAX;
                c->fast_len = c->len; /* nfull 0, every code object live (first_dead), frees counted */
                *reused = top->depth;
                return 0;
            }
            /* Entries from `bad` on are no junction; the loop goes on from the leaf as after its own check, without
             * looking the leaf up again (it is entry len - 1, at or above `bad`). */
            limit = bad;
            leaf_known = 1;
        }
    }
    code_memo m = {0, 0, 0};
    cycle_guard g = {0, 1, 0};
    while (plausible(f)) {
        if (leaf_known) {
            leaf_known = 0;
        } else if (limit > 0) {
            /* The frame is most often the last cached entry not yet ruled out (the leaf again) or the one below
             * it (the leaf returned): those two are compared before the index is probed, whose slot is seldom
             * in the processor's cache (a fifth of this function's time on json_roundtrip and deep_stacks).
             * The chain's addresses are distinct, so either gives the index the probe would. */
            const ml_rawframe *top = &c->raw[limit - 1];
            size_t j = top->addr == f                   ? limit - 1
                       : limit > 1 && top[-1].addr == f ? limit - 2
                       : c->slots_valid                 ? slot_find(c, f)
                                                        : SIZE_MAX;
            if (j < limit) {
                size_t bad = SIZE_MAX;
                if (j >= words_ok) {
                    if (L->model == ML_FRAMES_OBJECTS) bad = check_words_objects(L, c->raw, words_ok, j);
                    else if (uncoded && c->raw[j].nfull == (words_ok > 0 ? c->raw[words_ok - 1].nfull : 0))
                        bad = check_words_interp_uncoded(L, c, words_ok, j);
                    else bad = check_words_interp(L, c->raw, words_ok, j);
                    if (bad == SIZE_MAX) words_ok = j + 1;
                }
                if (bad == SIZE_MAX) {
                    size_t need = c->raw[j].ncodes;
                    size_t q = codes_ok < need ? check_codes(L, c->codes, codes_ok, need) : SIZE_MAX;
                    if (q == SIZE_MAX) {
                        if (need > codes_ok) codes_ok = need;
                        junction = j;
                        break;
                    }
                    codes_ok = q;
                    bad = c->codes[q].entry;
                }
                limit = bad;
            }
        }
        if (nf >= c->cap) return SIZE_MAX;
        ml_rawframe *r = &c->fresh[nf];
        ml_pyframe frame;
        if (read_frame(L, f, r, &m, &frame) != 0) return SIZE_MAX;
        if (r->shown) {
            if (nout >= cap) return SIZE_MAX;
            out[nout++] = frame;
        }
        nf++;
        f = r->back;
        if (plausible(f) && cycle_step(&g, f)) return SIZE_MAX; /* a cycle: not cached */
    }
    size_t keep = junction == SIZE_MAX ? 0 : junction + 1;
    if (keep + nf > c->cap) return SIZE_MAX;
    if (keep + nf < ml_walk_cache_min()) {
        /* A short chain is walked again whole next time: that costs less than keeping it. */
        c->len = 0;
        c->slots_valid = 0;
        *reused = keep > 0 ? c->raw[keep - 1].depth : 0;
        return nout;
    }
    size_t shown = keep > 0 ? c->raw[keep - 1].depth : 0; /* the stack's frames among the kept entries */
    uint32_t depth = (uint32_t)shown;
    size_t ncodes = keep > 0 ? c->raw[keep - 1].ncodes : 0; /* the distinct codes of the kept entries */
    uint32_t nfull = keep > 0 ? c->raw[keep - 1].nfull : 0;
    if (c->first_dead >= ncodes) c->first_dead = SIZE_MAX;
    /* The index is made again when it fills up with stale slots; otherwise each new entry's slot is set, unless
     * the entry it replaces had its address (a frame read again for a new instruction: the slot already says
     * so, for the slot of every entry of the chain the walk began with names that entry, and addresses in a
     * chain are distinct). */
    int rebuild = !c->slots_valid || (c->slot_used + nf) * 2 > c->slot_cap;
    size_t old_len = c->len;
    for (size_t i = 0; i < nf; i++) {
        ml_rawframe *r = &c->raw[keep + i];
        int slotted = keep + i < old_len && r->addr == c->fresh[nf - 1 - i].addr;
        *r = c->fresh[nf - 1 - i];
        c->pairs[keep + i] = (struct ml_walk_pair){.instr = r->instr, .addr = r->addr};
        if (!rebuild && !slotted) slot_put(c, r->addr, keep + i);
        depth += r->shown;
        r->depth = depth;
        if (r->coded) {
            size_t before = ncodes;
            ncodes = code_index(c, ncodes, L, r, keep + i);
            if (ncodes > before && !r->live && c->first_dead == SIZE_MAX) c->first_dead = before;
        }
        r->ncodes = (uint32_t)ncodes;
        /* A shim's code word is not read; a live code object's is the one its instruction word points into ("the
         * code word"). The owner of either is known from the other words where the walk's derivation does not
         * tell a generator's frame from another's ("the owner byte": settled). Any other entry's four words are
         * checked. */
        nfull += !r->settled;
        r->nfull = nfull;
    }
    c->len = keep + nf;
    c->code_gen = gen;
    c->code_counted = counted;
    /* What ml_pyframes_walk_whole needs of the next walk's cache: the leaf's check above would be of two words a
     * frame for the whole chain (nfull 0) with no code object to check (first_dead SIZE_MAX: every one live). */
    if (L->model == ML_FRAMES_INTERP && counted && nfull == 0 && c->first_dead == SIZE_MAX) c->fast_len = c->len;
    if (rebuild) {
        /* A new generation empties every slot (clearing them all was a twentieth of the agent's instructions
         * on pyperf_json_dumps, whose leaf frames change address often). */
        if (++c->slot_gen == 0) {
            memset(c->slots, 0, c->slot_cap * sizeof *c->slots);
            c->slot_gen = 1;
        }
        c->slot_used = 0;
        for (size_t i = 0; i < c->len; i++) slot_put(c, c->raw[i].addr, i);
        c->slots_valid = 1;
    }
    *reused = shown;
    return nout;
}

/* ---- code objects ------------------------------------------------------------------------------------ */

int ml_pyframes_code_key(const void *code, ml_code_key *out) {
    if (!__atomic_load_n(&S.ready, __ATOMIC_ACQUIRE)) return -1;
    uintptr_t c = (uintptr_t)code;
    if (!is_type(c, S.code_type)) return -1;
    out->name = (const void *)rd_ptr(c, S.L.co_name);
    out->filename = (const void *)rd_ptr(c, S.L.co_filename);
    int32_t first = rd_i32(c, S.L.co_firstlineno);
    out->firstlineno = first < 0 ? 0u : (uint32_t)first;
    return 0;
}

/* Appends one code point as UTF-8. Surrogates (lone, as in file names decoded with surrogateescape) and
 * values past U+10FFFF are not valid in UTF-8 and become U+FFFD. Returns 0, or -1 if it does not fit. */
static int put_utf8(char *buf, size_t cap, size_t *pos, uint32_t c) {
    unsigned char b[4];
    size_t k;
    if ((c >= 0xD800 && c <= 0xDFFF) || c > 0x10FFFF) c = 0xFFFD;
    if (c < 0x80) {
        b[0] = (unsigned char)c, k = 1;
    } else if (c < 0x800) {
        b[0] = (unsigned char)(0xC0 | (c >> 6)), b[1] = (unsigned char)(0x80 | (c & 0x3F)), k = 2;
    } else if (c < 0x10000) {
        b[0] = (unsigned char)(0xE0 | (c >> 12)), b[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
        b[2] = (unsigned char)(0x80 | (c & 0x3F)), k = 3;
    } else {
        b[0] = (unsigned char)(0xF0 | (c >> 18)), b[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
        b[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3F)), b[3] = (unsigned char)(0x80 | (c & 0x3F)), k = 4;
    }
    if (cap - *pos < k) return -1;
    memcpy(buf + *pos, b, k);
    *pos += k;
    return 0;
}

static int put_bytes(char *buf, size_t cap, size_t *pos, const char *s, size_t n) {
    if (cap - *pos < n) return -1;
    memcpy(buf + *pos, s, n);
    *pos += n;
    return 0;
}

/* Converts a str object to UTF-8 at buf[*pos]. A string we cannot read safely (not a str, not compact,
 * not ready, an implausible length) becomes ML_PLACEHOLDER. Returns -1 only when buf is too small. */
static int str_utf8(uintptr_t obj, char *buf, size_t cap, size_t *pos, size_t *off, size_t *len) {
    const ml_pylayout *L = &S.L;
    size_t start = *pos;
    *off = start;
    *len = 0;
    int readable = is_type(obj, S.unicode_type);
    uint32_t state = 0;
    int64_t n = 0;
    if (readable) {
        state = rd_u32(obj, L->str_state);
        n = rd_i64(obj, L->str_length);
        readable = (state & ML_STR_COMPACT_BIT(L->str_kind_shift)) != 0 && (!L->str_has_ready || (state & ML_STR_READY_BIT) != 0) &&
                   n >= 0 && n <= (int64_t)ML_STR_MAX_CHARS;
    }
    unsigned kind = (state >> L->str_kind_shift) & ML_STR_KIND_MASK;
    if (readable && (kind == 1 || kind == 2 || kind == 4)) {
        int ascii = (state & ML_STR_ASCII_BIT(L->str_kind_shift)) != 0;
        uintptr_t data = obj + (ascii ? L->str_ascii_size : L->str_compact_size);
        size_t count = (size_t)n;
        if (kind == 1 && ascii) {
            if (put_bytes(buf, cap, pos, (const char *)data, count) != 0) return -1;
        } else {
            for (size_t i = 0; i < count; i++) {
                uint32_t c;
                if (kind == 1) {
                    c = ((const uint8_t *)data)[i];
                } else if (kind == 2) {
                    uint16_t u;
                    memcpy(&u, (const void *)(data + 2 * i), 2);
                    c = u;
                } else {
                    memcpy(&c, (const void *)(data + 4 * i), 4);
                }
                if (put_utf8(buf, cap, pos, c) != 0) return -1;
            }
        }
    } else {
        if (put_bytes(buf, cap, pos, ML_PLACEHOLDER, sizeof ML_PLACEHOLDER - 1) != 0) return -1;
    }
    *len = *pos - start;
    return 0;
}

int ml_pyframes_code_text(const void *code, char *buf, size_t cap, ml_code_text *out) {
    if (!__atomic_load_n(&S.ready, __ATOMIC_ACQUIRE)) return -1;
    const ml_pylayout *L = &S.L;
    uintptr_t c = (uintptr_t)code;
    if (!is_type(c, S.code_type) || buf == NULL) return -1;
    size_t pos = 0;
    if (str_utf8(rd_ptr(c, L->co_name), buf, cap, &pos, &out->name_off, &out->name_len) != 0) return -1;
    if (L->co_qualname == ML_NO_FIELD) {
        out->qualname_off = out->name_off, out->qualname_len = out->name_len;
    } else if (str_utf8(rd_ptr(c, L->co_qualname), buf, cap, &pos, &out->qualname_off, &out->qualname_len) != 0) {
        return -1;
    }
    if (str_utf8(rd_ptr(c, L->co_filename), buf, cap, &pos, &out->filename_off, &out->filename_len) != 0) return -1;
    int32_t first = rd_i32(c, L->co_firstlineno);
    out->firstlineno = first < 0 ? 0u : (uint32_t)first;
    out->linetable_kind = L->linetable_kind;
    out->linetable = NULL;
    out->linetable_len = 0;
    uintptr_t lt = rd_ptr(c, L->co_linetable);
    if (is_type(lt, S.bytes_type)) {
        int64_t n = rd_i64(lt, L->bytes_size);
        if (n > 0 && n <= (int64_t)ML_LINETABLE_MAX) {
            out->linetable = (const uint8_t *)(lt + L->bytes_sval);
            out->linetable_len = (size_t)n;
        }
    }
    return 0;
}
