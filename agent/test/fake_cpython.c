/* pyframes.c against a fake CPython 3.13, 3.14 and 3.15, GIL and free-threaded (test only; built by
 * test/pyframes/fake.test.ts with -rdynamic, so that dlsym(RTLD_DEFAULT, ...) in pyframes.c finds the
 * symbols defined here).
 *
 * Some of what the walk must survive cannot be provoked from Python (cycles, wild pointers, tagged
 * executables, every kind of shim frame, a thread running its own copy of the bytecode), and not every
 * build is installed on the test machine (3.14t, 3.15t). This program builds the runtime's
 * _Py_DebugOffsets, type objects, thread state, frames, code, str and bytes objects by hand, in the layout
 * the debug offsets describe, and checks what pyframes.c makes of them.
 * Prints one line per failed check and exits 1, or "ok <n> checks" and exits 0. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../src/format.h"
#include "../src/pyframes.h"
#include "../src/pylayout.h"

/* ---- what pyframes.c looks up with dlsym ---- */
void *PyGILState_GetThisThreadState(void);
unsigned char _PyRuntime[1024] __attribute__((aligned(16)));
uint64_t PyCode_Type[64], PyUnicode_Type[64], PyBytes_Type[64];

static void *current_tstate;
void *PyGILState_GetThisThreadState(void) {
    return current_tstate;
}

/* ---- the fake layout (LP64) ---- */
enum {
    RT_SIZE = 1024,
    RT_FINALIZING = 1000, /* past the debug offsets, as in CPython */
    TS_SIZE = 256,
    TS_CURRENT_FRAME = 72,
    IF_SIZE = 88,
    IF_PREVIOUS = 8,
    IF_EXECUTABLE = 0,
    IF_INSTR = 56,
    IF_OWNER = 74,
    IF_TLBC = 80,
    CO_SIZE = 232,
    CO_NAME = 120,
    CO_QUALNAME = 128,
    CO_FILENAME = 112,
    CO_FIRSTLINENO = 68,
    CO_LINETABLE = 136,
    CO_CODE = 224,
    CO_BYTECODE = 64,
};

/* What differs between a GIL and a free-threaded build: the object header, and from 3.14 on the thread-
 * local bytecode and the str state bits. */
static struct {
    int ft, tlbc;
    unsigned hdr;       /* sizeof(PyObject) */
    unsigned str_shift; /* where the kind bits start in the str state */
} K;

static void set_kind(int ft, unsigned minor) {
    K.ft = ft;
    K.tlbc = ft && minor >= 14;
    K.hdr = ft ? 32 : 16;
    K.str_shift = K.tlbc ? ML_STR_KIND_SHIFT_FT314 : ML_STR_KIND_SHIFT;
}
#define STR_ASCII (K.hdr + 24)
#define STR_COMPACT (K.hdr + 40)
#define STR_SIZE (K.hdr + 48)
#define OB_TYPE (K.hdr - 8)
#define TP_BASICSIZE_WORD ((K.hdr + 16) / 8)
#define FIRSTTRACEABLE (CO_CODE - (K.tlbc ? 24 : 16))
#define CO_TLBC (CO_CODE - 8)

static int failures, checks;
static const char *scenario = "";

static void check(int ok, const char *what, long have, long want) {
    checks++;
    if (!ok) {
        printf("failed: %s: %s (have %ld, want %ld)\n", scenario, what, have, want);
        failures++;
    }
}
#define EQ(have, want, what) check((long)(have) == (long)(want), what, (long)(have), (long)(want))

/* Objects live in an aligned arena, reset per scenario. */
static uint64_t arena[1 << 15];
static size_t arena_used;

static uintptr_t alloc(size_t size) {
    size_t words = (size + 15) / 8 & ~(size_t)1; /* 16-byte granules, like pymalloc */
    uintptr_t p = (uintptr_t)&arena[arena_used];
    memset(&arena[arena_used], 0, words * 8);
    arena_used += words;
    return p;
}

static void put64(uintptr_t base, unsigned off, uint64_t v) {
    memcpy((void *)(base + off), &v, 8);
}
static void put32(uintptr_t base, unsigned off, uint32_t v) {
    memcpy((void *)(base + off), &v, 4);
}

/* Sets the reference count: ob_refcnt, or the owning thread's ob_ref_local and the shared count. */
static void refcount(uintptr_t o, uint32_t local, int64_t shared) {
    if (K.ft) {
        put32(o, 12, local);
        put64(o, 16, (uint64_t)(shared << 2));
    } else {
        put64(o, 0, local);
    }
}

static uintptr_t object(const void *type, size_t size) {
    uintptr_t o = alloc(size);
    refcount(o, 1, 0);
    put64(o, OB_TYPE, (uintptr_t)type);
    return o;
}

/* A compact str of `n` code points of `kind` bytes each; ASCII when all are < 128 and kind is 1. */
static uintptr_t str(unsigned kind, const void *data, size_t n, int compact) {
    int ascii = kind == 1;
    for (size_t i = 0; ascii && i < n; i++) ascii = ((const uint8_t *)data)[i] < 128;
    size_t header = ascii ? STR_ASCII : STR_COMPACT;
    uintptr_t o = object(PyUnicode_Type, header + (n + 1) * kind);
    put64(o, K.hdr, n);
    put32(o, K.hdr + 16,
          (kind << K.str_shift) | (compact ? ML_STR_COMPACT_BIT(K.str_shift) : 0) | (ascii ? ML_STR_ASCII_BIT(K.str_shift) : 0));
    memcpy((void *)(o + header), data, n * kind);
    return o;
}
static uintptr_t ascii(const char *s) {
    return str(1, s, strlen(s), 1);
}

static uintptr_t bytes(const void *data, size_t n) {
    uintptr_t o = object(PyBytes_Type, K.hdr + 17 + n);
    put64(o, K.hdr, n);
    memcpy((void *)(o + K.hdr + 16), data, n);
    return o;
}

static uintptr_t code(uintptr_t name, uintptr_t qualname, uintptr_t filename, int firstlineno, int firsttraceable) {
    static const uint8_t table[] = {0x80 | (13 << 3), 2, 0xF8};
    uintptr_t c = object(PyCode_Type, CO_CODE + CO_BYTECODE);
    put64(c, CO_NAME, name);
    put64(c, CO_QUALNAME, qualname);
    put64(c, CO_FILENAME, filename);
    put32(c, CO_FIRSTLINENO, (uint32_t)firstlineno);
    put64(c, CO_LINETABLE, bytes(table, sizeof table));
    put32(c, FIRSTTRACEABLE, (uint32_t)firsttraceable);
    return c;
}

static uintptr_t frame(uint64_t executable, uintptr_t code_for_instr, unsigned instr, uint8_t owner) {
    uintptr_t f = alloc(IF_SIZE);
    put64(f, IF_EXECUTABLE, executable);
    put64(f, IF_INSTR, code_for_instr == 0 ? 0 : code_for_instr + CO_CODE + instr);
    *(uint8_t *)(f + IF_OWNER) = owner;
    return f;
}

/* Free-threaded 3.14+: gives `code` a _PyCodeArray of `copies` bytecode copies (entries[0] is the main one)
 * and makes frame `f` run copy `index` at `instr`. Returns the copy. */
static uintptr_t thread_copy(uintptr_t f, uintptr_t code, int copies, int index, unsigned instr) {
    uintptr_t array = alloc(8 + 8 * (size_t)copies);
    put64(array, 0, (uint64_t)copies);
    put64(array, 8, code + CO_CODE);
    for (int i = 1; i < copies; i++) put64(array, 8 + 8 * (unsigned)i, alloc(CO_BYTECODE));
    put64(code, CO_TLBC, array);
    uintptr_t copy;
    memcpy(&copy, (const void *)(array + 8 + 8 * (unsigned)(index < copies && index >= 0 ? index : 0)), 8);
    put32(f, IF_TLBC, (uint32_t)index);
    put64(f, IF_INSTR, copy + instr);
    return copy;
}
static void link_frames(uintptr_t f, uintptr_t previous) {
    put64(f, IF_PREVIOUS, previous);
}

static uintptr_t thread_state(uintptr_t current) {
    uintptr_t ts = alloc(TS_SIZE);
    put64(ts, TS_CURRENT_FRAME, current);
    return ts;
}

/* ---- the runtime's debug offsets ---- */
static void fill_types(void) {
    memset(PyCode_Type, 0, sizeof PyCode_Type);
    memset(PyUnicode_Type, 0, sizeof PyUnicode_Type);
    memset(PyBytes_Type, 0, sizeof PyBytes_Type);
    PyCode_Type[TP_BASICSIZE_WORD] = CO_CODE;
    PyUnicode_Type[TP_BASICSIZE_WORD] = STR_SIZE;
    PyBytes_Type[TP_BASICSIZE_WORD] = K.hdr + 17;
}

#define FILL_COMMON(d)                                                                                          \
    do {                                                                                                        \
        memcpy((d).cookie, "xdebugpy", 8);                                                                      \
        (d).free_threaded = (uint64_t)K.ft;                                                                     \
        (d).runtime_state.size = RT_SIZE, (d).runtime_state.finalizing = RT_FINALIZING;                         \
        (d).thread_state.size = TS_SIZE, (d).thread_state.current_frame = TS_CURRENT_FRAME;                     \
        (d).interpreter_frame.size = IF_SIZE, (d).interpreter_frame.previous = IF_PREVIOUS;                     \
        (d).interpreter_frame.executable = IF_EXECUTABLE, (d).interpreter_frame.instr_ptr = IF_INSTR;           \
        (d).interpreter_frame.owner = IF_OWNER;                                                                 \
        (d).code_object.size = CO_SIZE, (d).code_object.name = CO_NAME, (d).code_object.qualname = CO_QUALNAME; \
        (d).code_object.filename = CO_FILENAME, (d).code_object.firstlineno = CO_FIRSTLINENO;                   \
        (d).code_object.linetable = CO_LINETABLE, (d).code_object.co_code_adaptive = CO_CODE;                   \
        (d).pyobject.size = K.hdr, (d).pyobject.ob_type = OB_TYPE;                                              \
        (d).type_object.tp_name = K.hdr + 8;                                                                    \
        (d).bytes_object.size = K.hdr + 24, (d).bytes_object.ob_size = K.hdr;                                   \
        (d).bytes_object.ob_sval = K.hdr + 16;                                                                  \
        (d).unicode_object.size = STR_SIZE, (d).unicode_object.state = K.hdr + 16;                              \
        (d).unicode_object.length = K.hdr, (d).unicode_object.asciiobject_size = STR_ASCII;                     \
    } while (0)

#define FILL_TLBC(d)                                                                               \
    do {                                                                                           \
        if (K.tlbc) (d).interpreter_frame.tlbc_index = IF_TLBC, (d).code_object.co_tlbc = CO_TLBC; \
    } while (0)

static void runtime_315(uint64_t version) {
    ml_dbg315 d;
    memset(&d, 0, sizeof d);
    FILL_COMMON(d);
    FILL_TLBC(d);
    d.type_object.tp_basicsize = K.hdr + 16;
    d.unicode_object.compactunicodeobject_size = STR_COMPACT;
    d.version = version;
    memset(_PyRuntime, 0, sizeof _PyRuntime);
    memcpy(_PyRuntime, &d, sizeof d);
}

static void runtime_314(uint64_t version) {
    ml_dbg314 d;
    memset(&d, 0, sizeof d);
    FILL_COMMON(d);
    FILL_TLBC(d);
    d.version = version;
    memset(_PyRuntime, 0, sizeof _PyRuntime);
    memcpy(_PyRuntime, &d, sizeof d);
}

static void runtime_313(uint64_t version) {
    ml_dbg313 d;
    memset(&d, 0, sizeof d);
    FILL_COMMON(d);
    d.version = version;
    memset(_PyRuntime, 0, sizeof _PyRuntime);
    memcpy(_PyRuntime, &d, sizeof d);
}

/* A fake runtime of `minor`, GIL or free-threaded, with its type objects. */
static void runtime(unsigned minor, int ft) {
    set_kind(ft, minor);
    fill_types();
    unsigned long v = 0x03000000ul | (minor << 16) | 0xF0u;
    if (minor == 13) runtime_313(v);
    else if (minor == 14) runtime_314(v);
    else runtime_315(v);
}

static int init(unsigned long hexversion, char *err) {
    return ml_pyframes_init(hexversion, err, 256);
}

/* ---- scenarios ---- */

static void walks(unsigned minor, int ft) {
    char err[256];
    static char name[32];
    snprintf(name, sizeof name, "CPython 3.%u%s", minor, ft ? "t" : "");
    scenario = name;
    runtime(minor, ft);
    unsigned long hexversion = 0x03000000ul | (minor << 16) | 0xF0u;
    EQ(init(hexversion, err), 0, "init with a well-formed table");
    if (err[0] != '\0') printf("  (init said: %s)\n", err);
    arena_used = 0;
    int tagged = minor >= 14;
    uint64_t tag = tagged ? 1 : 0; /* Py_TAG_REFCNT of a _PyStackRef (3.14+; the deferred tag in free-threaded builds) */
    uintptr_t file = ascii("/srv/app.py");
    uintptr_t a = code(ascii("handler"), ascii("App.handler"), file, 10, 1);
    uintptr_t b = code(ascii("gen"), ascii("gen"), file, 20, 2);
    uintptr_t c = code(ascii("prologue"), ascii("prologue"), file, 30, 3);
    uintptr_t none = object(PyUnicode_Type, STR_SIZE); /* not a code object: what a shim's executable may hold */
    uint8_t shim = 3, cstack = tagged ? 4 : 3;         /* 3.14: INTERPRETER 3, CSTACK 4; 3.13: CSTACK 3; 3.15: none past 3 */

    uintptr_t f0 = frame(a | tag, a, 10, 0);                         /* handler at byte 10 */
    uintptr_t f1 = frame(none | tag, 0, 0, shim);                    /* entry shim of _PyEval_EvalFrameDefault */
    uintptr_t f2 = frame(b | tag, b, 2, 1);                          /* generator before its first traceable instr: kept */
    uintptr_t f3 = frame(0, 0, 0, cstack);                           /* C-stack shim with nothing in it */
    uintptr_t f4 = frame(c | tag, c, 4, 0);                          /* incomplete: 4 < 2 * 3 */
    uintptr_t f5 = frame(tagged ? (0x1234u << 2) | 3u : 0, 0, 0, 0); /* tagged int or NULL: not code */
    uintptr_t f6 = frame(a | tag, a, 2, 2);                          /* owned by a frame object, at its first traceable */
    link_frames(f0, f1), link_frames(f1, f2), link_frames(f2, f3), link_frames(f3, f4), link_frames(f4, f5);
    link_frames(f5, f6), link_frames(f6, 0);
    current_tstate = (void *)thread_state(f0);

    ml_pyframe out[8];
    size_t n = ml_pyframes_walk(out, 8);
    EQ(n, 3, "depth skips shims, incomplete frames and non-code executables");
    if (n == 3) {
        EQ(out[0].code == (const void *)a, 1, "frame 0 is handler");
        EQ(out[0].instr, 10, "frame 0 instr");
        EQ(out[1].code == (const void *)b, 1, "frame 1 is the generator");
        EQ(out[1].instr, 2, "frame 1 instr");
        EQ(out[2].code == (const void *)a, 1, "frame 2 is handler again");
        EQ(out[2].instr, 2, "frame 2 instr");
    }
    EQ(ml_pyframes_walk(out, 1), 3, "a walk into a smaller buffer still counts the whole depth");
    EQ(out[0].instr, 10, "... and writes the leaf");

    /* A cycle ends the walk (and quickly). */
    link_frames(f6, f0);
    n = ml_pyframes_walk(out, 8);
    check(n >= 3 && n <= 16, "a cycle in the chain ends the walk", (long)n, 3);

    /* Implausible pointers end it. */
    link_frames(f6, 0);
    link_frames(f0, 0x1003);
    EQ(ml_pyframes_walk(out, 8), 1, "a misaligned previous pointer ends the walk");
    link_frames(f0, 8);
    EQ(ml_pyframes_walk(out, 8), 1, "a previous pointer in the first page ends the walk");
    link_frames(f0, (uintptr_t)1 << 60);
    EQ(ml_pyframes_walk(out, 8), 1, "a previous pointer beyond user space ends the walk");

    /* Finalization: only the finalizing thread's own frames are still read. */
    uintptr_t other = thread_state(f0);
    put64((uintptr_t)_PyRuntime, RT_FINALIZING, other);
    EQ(ml_pyframes_walk(out, 8), 0, "another thread is finalizing the interpreter: no walk");
    current_tstate = (void *)other;
    EQ(ml_pyframes_walk(out, 8), 1, "the finalizing thread still walks its frames");
    put64((uintptr_t)_PyRuntime, RT_FINALIZING, 0);

    /* A code object being deallocated (reference count 0) is not shown. */
    refcount(a, 0, 0);
    EQ(ml_pyframes_walk(out, 8), 0, "a frame whose code is being deallocated is skipped");
    if (ft) {
        refcount(a, 0, 3);
        EQ(ml_pyframes_walk(out, 8), 1, "free-threaded: references held by other threads keep it live");
        refcount(a, UINT32_MAX, 0);
        EQ(ml_pyframes_walk(out, 8), 1, "free-threaded: an immortal code object is live");
    }
    refcount(a, 1, 0);

    if (K.tlbc) {
        /* The thread runs its own copy of handler's bytecode: offsets are from that copy. */
        uintptr_t copy = thread_copy(f0, a, 3, 2, 12);
        n = ml_pyframes_walk(out, 8);
        EQ(n, 1, "a frame running a thread's copy of the bytecode");
        EQ(out[0].instr, 12, "... has its offset in that copy");
        put64(f0, IF_INSTR, copy); /* before the first traceable instruction (1) of the copy */
        EQ(ml_pyframes_walk(out, 8), 0, "... and is incomplete by that copy's prologue");
        thread_copy(f0, a, 3, 0, 6);
        EQ(ml_pyframes_walk(out, 1), 1, "copy 0 is the main bytecode");
        EQ(out[0].instr, 6, "... offset from co_code_adaptive");
        put32(f0, IF_TLBC, 7); /* past the array: the main copy is used, nothing is read out of bounds */
        put64(f0, IF_INSTR, a + CO_CODE + 8);
        EQ(ml_pyframes_walk(out, 1), 1, "an index past the array");
        EQ(out[0].instr, 8, "... falls back to the main copy");
        put64(a, CO_TLBC, 0x1003);
        put32(f0, IF_TLBC, 1);
        EQ(ml_pyframes_walk(out, 1), 1, "an implausible array");
        EQ(out[0].instr, 8, "... falls back to the main copy");
        put64(a, CO_TLBC, 0);
        put32(f0, IF_TLBC, 0);
    }

    current_tstate = (void *)thread_state(0);
    EQ(ml_pyframes_walk(out, 8), 0, "a thread state without frames");
    current_tstate = NULL;
    EQ(ml_pyframes_walk(out, 8), 0, "no thread state");

    /* Code text and key. */
    uint16_t ucs2[] = {0x6a21, 0x5757, '.', 'p', 'y'};
    uint32_t ucs4[] = {0x10400, 0x20000};
    uint8_t latin1[] = {'c', 'a', 'f', 0xe9};
    uintptr_t u = code(str(1, latin1, 4, 1), str(4, ucs4, 2, 1), str(2, ucs2, 5, 1), 77, 0);
    char buf[128];
    ml_code_text t;
    EQ(ml_pyframes_code_text((const void *)u, buf, sizeof buf, &t), 0, "code text");
    EQ(t.name_len == 5 && memcmp(buf + t.name_off, "caf\xc3\xa9", 5) == 0, 1, "latin-1 name as UTF-8");
    EQ(t.qualname_len == 8 && memcmp(buf + t.qualname_off, "\xf0\x90\x90\x80\xf0\xa0\x80\x80", 8) == 0, 1, "UCS4 qualname as UTF-8");
    EQ(t.filename_len == 9 && memcmp(buf + t.filename_off, "\xe6\xa8\xa1\xe5\x9d\x97.py", 9) == 0, 1, "UCS2 file name as UTF-8");
    EQ(t.firstlineno, 77, "first line");
    EQ(t.linetable_kind, ML_LINETABLE_LOCATIONS, "line table kind");
    EQ(t.linetable_len, 3, "line table length");
    EQ(t.linetable != NULL && t.linetable[0] == (0x80 | (13 << 3)), 1, "line table bytes");
    EQ(ml_pyframes_code_text((const void *)u, buf, 12, &t), -1, "a buffer too small");

    uint16_t surrogate[] = {'a', 0xdcff};
    uintptr_t odd = code(str(1, "x", 1, 0), ascii("q"), str(2, surrogate, 2, 1), 1, 0);
    put64(odd, CO_LINETABLE, ascii("not bytes"));
    EQ(ml_pyframes_code_text((const void *)odd, buf, sizeof buf, &t), 0, "code text with odd strings");
    EQ(t.name_len == 3 && memcmp(buf + t.name_off, "<?>", 3) == 0, 1, "a non-compact str is a placeholder");
    EQ(t.filename_len == 4 && memcmp(buf + t.filename_off, "a\xef\xbf\xbd", 4) == 0, 1, "a lone surrogate is U+FFFD");
    EQ(t.linetable == NULL && t.linetable_len == 0, 1, "a line table that is not bytes is left out");
    put64(odd, CO_NAME, 0);
    put64(odd, CO_FILENAME, (uintptr_t)b); /* a code object where a str belongs */
    EQ(ml_pyframes_code_text((const void *)odd, buf, sizeof buf, &t), 0, "code text with missing strings");
    EQ(t.name_len == 3 && t.filename_len == 3, 1, "NULL and non-str objects are placeholders");

    ml_code_key k;
    EQ(ml_pyframes_code_key((const void *)a, &k), 0, "code key");
    EQ(k.filename == (const void *)file && k.firstlineno == 10, 1, "code key fields");
    EQ(ml_pyframes_code_key((const void *)file, &k), -1, "a str is not a code object");
    EQ(ml_pyframes_code_key((const void *)0x1001, &k), -1, "a wild pointer is not a code object");
}

static void refusals(void) {
    char err[256];
    unsigned long v = 0x030E00F0;
    scenario = "refusals";
    runtime(14, 0);
    ml_dbg314 *d = (ml_dbg314 *)(void *)_PyRuntime;
    d->free_threaded = 1;
    EQ(init(v, err), -1, "refuses a free-threaded flag on a table with GIL object headers");
    EQ(strstr(err, "unexpected shape") != NULL, 1, "... and says so");
    runtime(14, 1);
    d->code_object.co_tlbc = 0;
    EQ(init(v, err), -1, "refuses a free-threaded 3.14 table without thread-local bytecode");
    runtime(14, 0);
    d->code_object.co_tlbc = CO_TLBC;
    EQ(init(v, err), -1, "refuses a GIL table with thread-local bytecode");
    runtime(14, 0);
    d->free_threaded = 2;
    EQ(init(v, err), -1, "refuses a free_threaded value that is neither 0 nor 1");
    runtime(14, 0);
    memcpy(_PyRuntime, "xdebugpz", 8);
    EQ(init(v, err), -1, "refuses a runtime without the cookie");
    runtime(14, 0);
    d->version = 0x030F00A0;
    EQ(init(v, err), -1, "refuses debug offsets of another version");
    /* A 3.14 pre-release table without code_object_generation/tlbc_generation: everything after
     * interpreter_state sits 16 bytes earlier than our mirror expects. */
    runtime(14, 0);
    memmove(_PyRuntime + offsetof(ml_dbg314, thread_state) - 16, _PyRuntime + offsetof(ml_dbg314, thread_state),
            sizeof(ml_dbg314) - offsetof(ml_dbg314, thread_state));
    EQ(init(v, err), -1, "refuses a table of another shape");
    EQ(strstr(err, "unexpected shape") != NULL, 1, "... and says so");
    /* A 3.15 pre-release before 3.15.0b4, without thread_state.last_profiled_frame_seq. */
    runtime(15, 0);
    memmove(_PyRuntime + offsetof(ml_dbg315, thread_state.last_profiled_frame_seq),
            _PyRuntime + offsetof(ml_dbg315, thread_state.thread_id), sizeof(ml_dbg315) - offsetof(ml_dbg315, thread_state.thread_id));
    EQ(init(0x030F00B3, err), -1, "refuses a 3.15 table of a pre-release shape");
    runtime(15, 1);
    memmove(_PyRuntime + offsetof(ml_dbg315, thread_state.last_profiled_frame_seq),
            _PyRuntime + offsetof(ml_dbg315, thread_state.thread_id), sizeof(ml_dbg315) - offsetof(ml_dbg315, thread_state.thread_id));
    EQ(init(0x030F00B3, err), -1, "... free-threaded too");
    runtime(14, 0);
    PyCode_Type[TP_BASICSIZE_WORD] = CO_CODE + 16;
    EQ(init(v, err), -1, "refuses when PyCode_Type's size disagrees");
    runtime(14, 1);
    PyUnicode_Type[TP_BASICSIZE_WORD] = STR_SIZE - 16;
    EQ(init(v, err), -1, "refuses when PyUnicode_Type's size disagrees (free-threaded)");
    EQ(ml_pyframes_walk(NULL, 0), 0, "nothing is walked after a refusal");
    runtime(14, 0);
    EQ(init(v, err), 0, "accepts the table again");
    EQ(init(0x031000F0, err), -1, "refuses a version past the newest this agent knows");
    EQ(strstr(err, "3.16") != NULL, 1, "... and names it");
}

int main(void) {
    _Static_assert(sizeof(ml_dbg315) + 8 <= RT_FINALIZING && sizeof(ml_dbg314) + 8 <= RT_FINALIZING && RT_FINALIZING + 8 <= RT_SIZE,
                   "fake runtime layout");
    _Static_assert(sizeof _PyRuntime >= RT_SIZE, "fake runtime size");
    for (unsigned minor = 13; minor <= 15; minor++) {
        walks(minor, 0);
        walks(minor, 1);
    }
    refusals();
    if (failures != 0) return 1;
    printf("ok %d checks\n", checks);
    return 0;
}
