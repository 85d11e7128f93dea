/* The agent's lifecycle and the API the bootstrap calls through ctypes.PyDLL (so the GIL is held during
 * every call). Everything else in agent/src is internal. */
#ifndef MEMLENS_AGENT_H
#define MEMLENS_AGENT_H

#include <stddef.h>
#include <sys/types.h>

#include "common.h"

/* ── exported (ctypes) ─────────────────────────────────────────────────────────────────────────── */

/* Starts a session. `config` is key=value lines (docs/agent.md "Configuration"). Returns 0, or -1 with a
 * one-line reason in err. On success err is empty, or says why allocations are recorded without Python
 * stacks (an interpreter this agent cannot read), for the bootstrap to tell the user; and the calling
 * thread is quiet (memlens_quiet) until the bootstrap hands it back to the program. */
ML_EXPORT int memlens_start(const char *config, char *err, size_t errlen);
/* Ends the session: restores every hook, flushes every stream, writes the TRAILER. Returns 0, or -1 if
 * no session was running. */
ML_EXPORT int memlens_stop(void);
/* 1 while a session records in this process. */
ML_EXPORT int memlens_active(void);
/* Names the thread with OS thread id `tid` (THREAD_NAME, or its THREAD record if it has none yet). */
ML_EXPORT void memlens_thread_name(unsigned long tid, const char *name);
/* The bootstrap's own frames sit at the root of the stack; stacks leave these code objects out. */
ML_EXPORT void memlens_hide_code(const void *code);
/* While on, the calling thread's allocations are not recorded (memlens's own code after an attach). */
ML_EXPORT void memlens_quiet(int on);
/* The program called gc.disable(), gc.set_threshold() or similar: write GC_STATE if it changed. */
ML_EXPORT void memlens_gc_state_changed(void);

/* ── internal ──────────────────────────────────────────────────────────────────────────────────── */

/* Appends a record to the service stream (stream 0). */
void ml_service_record(int type, const void *payload, size_t len);
void ml_note(int kind, const char *text);
/* MARKER in the service stream (kind: ML_M_*). */
void ml_marker(int kind, const char *label);
/* Stops the session for `reason` (ML_T_*): used by memlens_stop and by the _exit hook. */
void ml_stop(int reason);
/* FORK in the calling thread's stream (the fork hook, in the parent). */
void ml_record_fork(pid_t child);

#endif
