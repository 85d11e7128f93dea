/* Counting code objects' frees in every mode (docs/code-frees.md): a code watcher from 3.12 on, PyCode_Type's
 * tp_dealloc wrapped on 3.9-3.11.
 *
 * The code watcher. Its callback runs inside code_dealloc, before the object's memory is released, on whichever
 * thread drops the last reference (with the GIL held on a GIL build), for every code object of the interpreter
 * it was added to, whatever allocator holds them (pymalloc, malloc, mimalloc) and whoever replaced Python's
 * allocators since: the count is made before the address can be given to another code object, which is all
 * the walk cache and the stack nodes need (pyframes.c, "skipping the code objects' check").
 *
 * The callback allocates nothing, takes no lock, calls nothing of Python's: one atomic increment. It returns
 * 0 for every event (CREATE as well): an error return would make CPython report an exception from inside
 * a dealloc.
 *
 * Lifetime. The agent's library is never unloaded (ctypes keeps what it loads, an LD_PRELOAD stays), so the
 * callback's address stays valid after a session. It is cleared at stop on a GIL build only: there the GIL
 * orders the clear against every notification. A free-threaded build reads the active bits and then the
 * slot without a lock (Objects/codeobject.c, notify_code_watchers), so a clear could hand another thread
 * a NULL callback: the watcher stays, counting into a number nobody reads, and the next session takes it
 * again instead of filling another of the interpreter's 8 slots. */
#include "codewatch.h"

#include <stdint.h>
#include <string.h>

#include "pyapi.h"
#include "pyframes.h"

#define ML_PY_CODE_EVENT_DESTROY 1 /* PyCodeEvent: CREATE, DESTROY (3.12 to 3.15) */

static int g_id = -1; /* our watcher's id in the main interpreter, while it is added */
static int g_free_threaded;

static int on_code_event(int event, void *code) {
    (void)code;
    if (event == ML_PY_CODE_EVENT_DESTROY) ml_pyframes_code_freed();
    return 0;
}

/* 3.9-3.11 (no watchers; GIL builds all): PyCode_Type's tp_dealloc wrapped, the slot written with the GIL held,
 * which every dealloc holds too; a static type shared by every interpreter, so the count covers them all. Ours
 * counts, then calls the dealloc it replaced. g_dealloc is set once and never cleared: a dealloc that began
 * through ours (a weakref callback inside it may stop the session) ends through it after the original is back.
 * At a stop the original goes back only where ours is still in the slot: where another tool wrapped ours since,
 * ours stays in its chain (counting, nobody reading) and is not wrapped again by a later session, which then does
 * without the count (one that replaced ours without calling it would leave us counting nothing: PyCode_Type's
 * dealloc is nobody's to replace). */
static void (*g_dealloc)(void *);
static void **g_slot;   /* &PyCode_Type.tp_dealloc while ours is in it (set by us) */
static int g_slot_left; /* ours stayed in another's chain at a stop: whether it still is cannot be told */

static void code_dealloc_counted(void *code) {
    ml_pyframes_code_freed();
    g_dealloc(code);
}

static int wrap_code_dealloc(void) {
    if (g_slot_left || !ml_py.PyGILState_Check()) return 0;
    void **slot = ml_pyframes_code_dealloc_slot();
    if (slot == NULL) return 0;
    void (*ours)(void *) = code_dealloc_counted;
    void *cur = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    void *mine;
    memcpy(&mine, &ours, sizeof mine);
    if (cur == NULL) return 0;
    if (cur != mine) {
        void (*orig)(void *);
        memcpy(&orig, &cur, sizeof orig);
        if (g_dealloc != NULL && g_dealloc != orig) return 0; /* another chain than the one ours was made for */
        g_dealloc = orig;
        __atomic_store_n(slot, mine, __ATOMIC_RELEASE);
    }
    g_slot = slot;
    return ml_pyframes_watch_code_frees(ML_CODE_WATCH_ALL);
}

static void unwrap_code_dealloc(void) {
    if (g_slot == NULL) return;
    (void)ml_pyframes_watch_code_frees(0);
    void (*ours)(void *) = code_dealloc_counted;
    void *mine, *orig;
    memcpy(&mine, &ours, sizeof mine);
    memcpy(&orig, &g_dealloc, sizeof orig);
    /* Put back only where ours is still the slot's: one wrapped on top of ours would lose its own. */
    if (ml_py.PyGILState_Check() && __atomic_load_n(g_slot, __ATOMIC_ACQUIRE) == mine) __atomic_store_n(g_slot, orig, __ATOMIC_RELEASE);
    else g_slot_left = 1;
    g_slot = NULL;
}

int ml_codewatch_start(int free_threaded) {
    if (ml_py.ready && ml_py.PyCode_AddWatcher == NULL && !free_threaded) return wrap_code_dealloc();
    if (!ml_py.ready || ml_py.PyCode_AddWatcher == NULL || ml_py.PyCode_ClearWatcher == NULL || ml_py.PyInterpreterState_Get == NULL ||
        ml_py.PyInterpreterState_Main == NULL || !ml_py.PyGILState_Check())
        return 0;
    uintptr_t interp = (uintptr_t)ml_py.PyInterpreterState_Get();
    /* The main interpreter only (a watcher is per interpreter; the main one outlives every session), and the
     * thread state the walk reads must name it (a check of pyframes.c's word for PyThreadState.interp). */
    if (interp == 0 || interp != (uintptr_t)ml_py.PyInterpreterState_Main() || interp != ml_pyframes_thread_interp()) return 0;
    if (g_id < 0) {
        void *type, *value, *tb;
        ml_py.PyErr_Fetch(&type, &value, &tb);
        int id = ml_py.PyCode_AddWatcher(on_code_event); /* -1 and RuntimeError when the 8 slots are taken */
        if (id < 0) ml_py.PyErr_Clear();
        ml_py.PyErr_Restore(type, value, tb);
        if (id < 0) return 0;
        g_id = id;
    }
    g_free_threaded = free_threaded;
    return ml_pyframes_watch_code_frees(interp);
}

void ml_codewatch_stop(void) {
    unwrap_code_dealloc();
    if (g_id < 0) return;
    (void)ml_pyframes_watch_code_frees(0); /* first: nothing trusts the count once it may stop */
    if (g_free_threaded || !ml_py.PyGILState_Check()) return;
    /* PyCode_ClearWatcher clears the slot of the calling thread's interpreter: only from ours (every stop but
     * the one at _exit, which does not come here, is made with the GIL held: the lifecycle, the self-stop). */
    if (ml_pyframes_thread_interp() != (uintptr_t)ml_py.PyInterpreterState_Main()) return;
    void *type, *value, *tb;
    ml_py.PyErr_Fetch(&type, &value, &tb);
    if (ml_py.PyCode_ClearWatcher(g_id) != 0) ml_py.PyErr_Clear();
    ml_py.PyErr_Restore(type, value, tb);
    g_id = -1;
}
