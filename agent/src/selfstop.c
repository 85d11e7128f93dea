/* A session whose capture cannot be written any more (the reader went away or fell too far behind, the
 * disk is full: sink.c) ends itself, so that the process is not left tracking into nothing: hooks in
 * place, every allocation still paying for its recording, and a second `memlens attach` refused because
 * "memlens is already tracking". The service thread notices (service.c) and asks the main thread, through
 * a pending call, to stop the session at its next safe point, with the GIL held: the same way the census
 * runs (census.c). memlens_agent's session stops it, so what it holds for the session is let go as well (a
 * socket, a timer, the threading wrapper); without that module the lifecycle's own stop does it. */
#include "selfstop.h"

#include <stdatomic.h>
#include <stdint.h>

#include "pyapi.h"
#include "state.h"

static atomic_int g_requested; /* 1: asked; 2: the pending call is queued */
static atomic_uint g_session;  /* the session it is for: a later one must not be stopped by a stale call */
static void (*g_stopper)(void);

static int stop_pending(void *arg) {
    int saved = ml_guard_enter();
    int ours = (unsigned)(uintptr_t)arg == atomic_load(&g_session);
    if (ours && ml_session_active() && ml_py.PyRun_SimpleString != NULL) {
        /* Defines no name in __main__, and prints nothing: _stop_for_agent catches everything. */
        ml_py.PyRun_SimpleString("(lambda m: m and m._stop_for_agent())(__import__('sys').modules.get('memlens_agent'))");
    }
    if (ours && ml_session_active() && g_stopper != NULL) g_stopper();
    ml_guard_leave(saved);
    /* Never an error: a pending call that fails raises SystemError in whatever the program was running. */
    return 0;
}

void ml_selfstop_set_stopper(void (*stop)(void)) {
    g_stopper = stop;
}

void ml_selfstop_request(void) {
    if (ml_py.Py_AddPendingCall == NULL) return;
    int expected = 0;
    if (!atomic_compare_exchange_strong(&g_requested, &expected, 1)) {
        if (expected != 1) return; /* already queued */
    }
    void *arg = (void *)(uintptr_t)atomic_load(&g_session);
    if (ml_py.Py_AddPendingCall(stop_pending, arg) == 0) atomic_store(&g_requested, 2);
}

void ml_selfstop_reset(unsigned session) {
    atomic_store(&g_session, session);
    atomic_store(&g_requested, 0);
}
