/* The agent's whole API: what the bootstrap (agent/python) calls through ctypes.PyDLL, so the GIL is held
 * during every call. These are the library's only exported symbols; everything else in agent/src is
 * internal (built with -fvisibility=hidden). agent.c defines them. */
#ifndef MEMLENS_AGENT_H
#define MEMLENS_AGENT_H

#include <stddef.h>

#include "common.h"

/* Starts a session. `config` is key=value lines (docs/agent.md "Configuration"). Returns 0, or -1 with a
 * one-line reason in err. On success err is empty, or says why allocations are recorded without Python
 * stacks (an interpreter this agent cannot read), for the bootstrap to tell the user; and the calling
 * thread is quiet (memlens_quiet) until the bootstrap hands it back to the program. */
ML_EXPORT int memlens_start(const char *config, char *err, size_t errlen);
/* Ends the session: restores every hook, flushes every stream, writes the TRAILER with `reason` (ML_T_DETACH,
 * ML_T_DURATION, ML_T_EXIT, ML_T_INTERRUPTED or ML_T_PROGRAM; any other value is written as ML_T_STOPPED).
 * Returns 0, or -1 if no session was running. */
ML_EXPORT int memlens_stop(int reason);
/* 1 while a session records in this process. */
ML_EXPORT int memlens_active(void);
/* Names the thread with OS thread id `tid` (THREAD_NAME, or its THREAD record if it has none yet). */
ML_EXPORT void memlens_thread_name(unsigned long tid, const char *name);
/* The thread with OS id `tid` was renamed (Thread.name = ...): THREAD_NAME with the seq of the change. */
ML_EXPORT void memlens_thread_renamed(unsigned long tid, const char *name);
/* A Python thread's run() returned: THREAD_EXIT is due at the next reap or stop. */
ML_EXPORT void memlens_thread_done(void);
/* The same for another thread, by OS id: one that ran before tracking started, whose run() was not
 * wrapped, and that has ended for the program (the bootstrap asks Thread.is_alive() just before stopping). */
ML_EXPORT void memlens_thread_ended(unsigned long tid);
/* The bootstrap's own frames sit at the root of the stack; stacks leave these code objects out. */
ML_EXPORT void memlens_hide_code(const void *code);
/* While on, the calling thread's allocations are not recorded (memlens's own code after an attach). */
ML_EXPORT void memlens_quiet(int on);
/* The program called gc.disable(), gc.set_threshold() or similar: write GC_STATE if it changed. */
ML_EXPORT void memlens_gc_state_changed(void);
/* A census the agent asked for (census.c) comes back as JSON: a CENSUS record in the calling thread's
 * stream. */
ML_EXPORT void memlens_record_census(const char *label, const char *json);
/* The bytes left before the memory cgroup's limit, or -1 without one (census.h: ml_census_room). */
ML_EXPORT long long memlens_census_room(void);
/* The program the bootstrap ran has finished (its code, its non-daemon threads, its exit handlers): a
 * PROGRAM_END marker with `label` (what the bootstrap releases next, docs/capture-format.md). Tracking goes
 * on: what follows is the bootstrap's release of the script's namespace, then memlens_stop. */
ML_EXPORT void memlens_program_end(const char *label);

#endif
