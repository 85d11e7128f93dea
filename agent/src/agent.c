/* The API the bootstrap calls through ctypes.PyDLL (agent.h), so the GIL is held during every call. Each
 * export is a thin door into the part of the agent that owns what it does. */
#include "agent.h"

#include <sys/types.h>

#include "aggregate.h"
#include "census.h"
#include "lifecycle.h"
#include "pygc.h"
#include "pystack.h"
#include "service_stream.h"
#include "state.h"
#include "thread.h"

ML_EXPORT int memlens_start(const char *config, char *err, size_t errlen) {
    return ml_start(config, err, errlen);
}

ML_EXPORT int memlens_stop(int reason) {
    if (!ml_in_session) return -1;
    /* _exit is the hook's alone (ml_stop leaves the hooks in place for it); a value this agent does not
     * know is recorded as "not recorded", never as something it is not. */
    switch (reason) {
    case ML_T_DETACH:
    case ML_T_DURATION:
    case ML_T_EXIT:
    case ML_T_INTERRUPTED:
    case ML_T_PROGRAM: break;
    default: reason = ML_T_STOPPED;
    }
    ml_stop(reason);
    return 0;
}

ML_EXPORT int memlens_active(void) {
    return ml_session_active();
}

ML_EXPORT void memlens_thread_name(unsigned long tid, const char *name) {
    if (!ml_in_session || name == NULL) return;
    int saved_guard = ml_guard_enter();
    ml_threads_name((pid_t)tid, name);
    ml_guard_leave(saved_guard);
}

ML_EXPORT void memlens_thread_renamed(unsigned long tid, const char *name) {
    if (!ml_in_session || name == NULL) return;
    ml_thread_renamed((pid_t)tid, 0, name, 0);
}

/* While on, the calling thread's allocations are not recorded: memlens's own Python code that runs after
 * tracking started in an attached process (naming threads, reporting its status). The one plain write to
 * the guard: a switch the bootstrap holds across many calls, not a region of agent code; every region
 * inside (ml_guard_enter/leave) restores it as it found it. */
ML_EXPORT void memlens_quiet(int on) {
    ml_guard = on ? 1 : 0;
}

ML_EXPORT void memlens_hide_code(const void *code) {
    ml_pystack_hide_code(code);
}

ML_EXPORT void memlens_gc_state_changed(void) {
    if (!ml_in_session) return;
    int saved_guard = ml_guard_enter();
    ml_pygc_check_state();
    ml_guard_leave(saved_guard);
}

ML_EXPORT void memlens_thread_done(void) {
    ml_thread_done();
}

ML_EXPORT void memlens_thread_ended(unsigned long tid) {
    ml_thread_ended((pid_t)tid);
}

ML_EXPORT void memlens_record_census(const char *label, const char *json) {
    ml_census_record(label, json);
}

ML_EXPORT long long memlens_census_room(void) {
    return (long long)ml_census_room();
}

ML_EXPORT void memlens_program_end(const char *label) {
    if (!ml_session_active()) return;
    int saved_guard = ml_guard_enter();
    /* Aggregated: the state at the end, right before the marker (the periodic one may be a second old). */
    if (ml_options & ML_OPTION_AGGREGATE) ml_aggregate_checkpoint();
    ml_marker(ML_M_PROGRAM_END, label != NULL ? label : "");
    ml_guard_leave(saved_guard);
}
