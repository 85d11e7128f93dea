/* A PyCFunction appended to gc.callbacks: CPython calls it with ("start", info) before a collection and
 * ("stop", info) after, info holding generation, collected and uncollectable. It runs with the GIL held,
 * on the thread that collects, and records into that thread's stream.
 *
 * What runs per collection must leave nothing behind in the program's heap. The collector's settings are
 * read by calling gc.isenabled, gc.get_freeze_count and gc.get_threshold, looked up once at install. A
 * lookup per collection (PyObject_GetAttrString) makes a new, non-interned name string each time, and
 * from CPython 3.10 on the type attribute cache keeps a strong reference to the last name it was asked
 * for in a slot chosen by the string's address: each collection could leave one such string alive,
 * wherever pymalloc was allocating at that moment. Hundreds of them, about one per 16 KiB pool, kept the
 * arenas of a freed workload resident (after a 65 MB JSON load, 183 MB RSS instead of 15 MB on 3.11;
 * test/agent/retained-memory.test.ts). CPython 3.9 picks the slot from the string's hash, so the same slot
 * is reused. */
#include "pygc.h"

#include <pthread.h>
#include <string.h>

#include "encode.h"
#include "pyapi.h"
#include "service_stream.h"
#include "state.h"
#include "thread.h"

static void *g_callback;  /* our PyCFunction object (a new reference we own) */
static void *g_callbacks; /* gc.callbacks (a new reference we own) */
static void *g_gc;        /* the gc module */
/* gc.isenabled, gc.get_freeze_count (NULL if missing), gc.get_threshold: new references we own. */
static void *g_isenabled, *g_get_freeze_count, *g_get_threshold;
static uint64_t g_start_ns;
static uint64_t g_start_seq; /* seq when the running collection started */
/* The seq of the last GC record written in this session (valid once one was), and whether the build is
 * free-threaded: which collections may go without a GC_START (see gc_callback). */
static uint64_t g_last_stop_seq;
static int g_last_stop_valid;
static int g_free_threaded;
static struct {
    int valid;
    long enabled, frozen, t0, t1, t2;
} g_state;

static long call_long(void *f, int as_bool, int *ok) {
    if (f == NULL) {
        *ok = 0;
        return 0;
    }
    void *r = ml_py.PyObject_CallObject(f, NULL);
    if (r == NULL) {
        *ok = 0;
        ml_py.PyErr_Clear();
        return 0;
    }
    long v = as_bool ? ml_py.PyObject_IsTrue(r) : ml_py.PyLong_AsLong(r);
    ml_py.Py_DecRef(r);
    if (ml_py.PyErr_Occurred() != NULL) {
        ml_py.PyErr_Clear();
        *ok = 0;
    }
    return v;
}

void ml_pygc_check_state(void) {
    if (g_gc == NULL) return;
    /* Our calls must not disturb an exception the program is handling. */
    void *et, *ev, *etb;
    ml_py.PyErr_Fetch(&et, &ev, &etb);
    int ok = 1, frozen_ok = 1;
    long enabled = call_long(g_isenabled, 1, &ok);
    long frozen = call_long(g_get_freeze_count, 0, &frozen_ok); /* 3.7+, but be tolerant */
    if (!frozen_ok) frozen = 0;
    long t[3] = {0, 0, 0};
    void *r = ml_py.PyObject_CallObject(g_get_threshold, NULL);
    if (r != NULL) {
        ssize_t n = ml_py.PyTuple_Size(r);
        for (ssize_t i = 0; i < n && i < 3; i++) t[i] = ml_py.PyLong_AsLong(ml_py.PyTuple_GetItem(r, i));
        ml_py.Py_DecRef(r);
    }
    if (ml_py.PyErr_Occurred() != NULL) ml_py.PyErr_Clear();
    ml_py.PyErr_Restore(et, ev, etb);
    if (!ok) return;
    if (g_state.valid && g_state.enabled == enabled && g_state.frozen == frozen && g_state.t0 == t[0] && g_state.t1 == t[1] &&
        g_state.t2 == t[2])
        return;
    g_state.valid = 1;
    g_state.enabled = enabled;
    g_state.frozen = frozen;
    g_state.t0 = t[0];
    g_state.t1 = t[1];
    g_state.t2 = t[2];
    uint8_t mem[80];
    ml_buf b;
    ml_buf_init(&b, mem, sizeof mem);
    ml_buf_varint(&b, ml_rel_ns());
    ml_buf_varint(&b, enabled != 0);
    ml_buf_varint(&b, (uint64_t)(frozen > 0 ? frozen : 0));
    for (int i = 0; i < 3; i++) ml_buf_varint(&b, (uint64_t)(t[i] > 0 ? t[i] : 0));
    ml_service_stream_record(ML_R_GC_STATE, b.p, b.len);
}

static long info_long(void *info, const char *key) {
    void *v = ml_py.PyDict_GetItemString(info, key); /* borrowed */
    if (v == NULL) return 0;
    long r = ml_py.PyLong_AsLong(v);
    if (r == -1 && ml_py.PyErr_Occurred() != NULL) {
        ml_py.PyErr_Clear();
        return 0;
    }
    return r;
}

static void *gc_callback(void *self, void *args) {
    (void)self;
    int saved_guard = ml_guard_enter();
    if (ml_session_active() && ml_py.PyTuple_Size(args) >= 2) {
        void *phase = ml_py.PyTuple_GetItem(args, 0);
        void *info = ml_py.PyTuple_GetItem(args, 1);
        if (ml_py.PyUnicode_CompareWithASCIIString(phase, "start") == 0) {
            g_start_ns = ml_now_ns();
            g_start_seq = ml_next_seq();
            /* GC_START: a reader keeps the frees from here to the GC record only (docs/capture-format.md).
             * Not for a young collection (generation 0) that starts fewer than ML_GC_START_GAP seqs after
             * the previous GC record, on a build with the GIL: a reader keeps every free for
             * ML_GC_THIN_WINDOW seqs after each GC record, which holds such a collection unless it frees
             * thousands of objects (then it is counted incomplete). Programs that allocate fast collect
             * every few dozen events: a GC_START each doubled the GC records' share of a small capture
             * (many_threads: 16.3 KiB without, 22.6 with, memray's 21.8). Free-threaded builds collect the
             * whole heap at every generation: always written there. */
            if (g_free_threaded || !g_last_stop_valid || g_start_seq - g_last_stop_seq >= ML_GC_START_GAP ||
                info_long(info, "generation") != 0) {
                uint8_t mem[16];
                ml_buf b;
                ml_buf_init(&b, mem, sizeof mem);
                ml_buf_varint(&b, g_start_seq);
                ml_thread *t = ml_thread_current();
                if (t != NULL) {
                    ml_lock_acquire(&t->stream.lock);
                    if (!t->stream.closed) ml_stream_record(&t->stream, ML_R_GC_START, b.p, b.len);
                    ml_lock_release(&t->stream.lock);
                }
            }
        } else if (ml_py.PyUnicode_CompareWithASCIIString(phase, "stop") == 0) {
            uint64_t end = ml_now_ns();
            uint64_t seq = ml_next_seq();
            uint8_t mem[80];
            ml_buf b;
            ml_buf_init(&b, mem, sizeof mem);
            ml_buf_varint(&b, seq);
            ml_buf_varint(&b, end > ml_start_mono_ns ? end - ml_start_mono_ns : 0);
            ml_buf_varint(&b, (uint64_t)info_long(info, "generation"));
            ml_buf_varint(&b, (uint64_t)info_long(info, "collected"));
            ml_buf_varint(&b, (uint64_t)info_long(info, "uncollectable"));
            ml_buf_varint(&b, g_start_ns != 0 && end > g_start_ns ? end - g_start_ns : 0);
            /* Events with seq in [start_seq, seq) happened during the collection: its frees are the GC's. */
            ml_buf_varint(&b, g_start_seq);
            g_start_ns = 0;
            g_last_stop_seq = seq;
            g_last_stop_valid = 1;
            ml_thread *t = ml_thread_current();
            if (t != NULL) {
                ml_lock_acquire(&t->stream.lock);
                if (!t->stream.closed) ml_stream_record(&t->stream, ML_R_GC, b.p, b.len);
                ml_lock_release(&t->stream.lock);
            }
            ml_pygc_check_state();
        }
    }
    if (ml_py.PyErr_Occurred() != NULL) ml_py.PyErr_Clear();
    ml_guard_leave(saved_guard);
    ml_py.Py_IncRef(ml_py.Py_None);
    return ml_py.Py_None;
}

static void release_refs(void) {
    void **refs[] = {&g_callback, &g_callbacks, &g_isenabled, &g_get_freeze_count, &g_get_threshold, &g_gc};
    for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) {
        if (*refs[i] != NULL) ml_py.Py_DecRef(*refs[i]);
        *refs[i] = NULL;
    }
}

static ml_pymethoddef g_def = {"memlens_gc_callback", (void *)gc_callback, ML_METH_VARARGS, NULL};

void ml_pygc_install(int free_threaded) {
    if (!ml_py.ready) return;
    g_state.valid = 0;
    /* A new session (a fork child's too): its first collection has a GC_START whatever came before. */
    g_last_stop_valid = 0;
    g_free_threaded = free_threaded;
    if (g_callback != NULL) {
        /* Still in gc.callbacks: a fork child starting its own session. Its capture needs the state too. */
        ml_pygc_check_state();
        return;
    }
    g_gc = ml_py.PyImport_ImportModule("gc");
    if (g_gc == NULL) goto fail;
    g_callbacks = ml_py.PyObject_GetAttrString(g_gc, "callbacks");
    if (g_callbacks == NULL) goto fail;
    g_isenabled = ml_py.PyObject_GetAttrString(g_gc, "isenabled");
    g_get_threshold = ml_py.PyObject_GetAttrString(g_gc, "get_threshold");
    if (g_isenabled == NULL || g_get_threshold == NULL) goto fail;
    g_get_freeze_count = ml_py.PyObject_GetAttrString(g_gc, "get_freeze_count");
    if (g_get_freeze_count == NULL) ml_py.PyErr_Clear();
    g_callback = ml_py.PyCFunction_NewEx(&g_def, NULL, NULL);
    if (g_callback == NULL) goto fail;
    if (ml_py.PyList_Append(g_callbacks, g_callback) != 0) goto fail;
    ml_pygc_check_state();
    return;
fail:
    ml_py.PyErr_Clear();
    release_refs();
    ml_note(ML_N_WARNING, "cannot add a callback to gc.callbacks: no GC records");
}

void ml_pygc_uninstall(void) {
    if (g_callback == NULL) return;
    ml_pygc_check_state();
    void *et, *ev, *etb;
    ml_py.PyErr_Fetch(&et, &ev, &etb);
    void *remove = ml_py.PyObject_GetAttrString(g_callbacks, "remove");
    if (remove != NULL) {
        void *r = ml_py.PyObject_CallFunctionObjArgs(remove, g_callback, NULL);
        if (r != NULL) ml_py.Py_DecRef(r);
        ml_py.Py_DecRef(remove);
    }
    ml_py.PyErr_Clear(); /* the program may have removed it already */
    ml_py.PyErr_Restore(et, ev, etb);
    release_refs();
}
