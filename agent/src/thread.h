/* Per-thread state: the thread's stream, its stack tables, its counters, and the registry of threads. */
#ifndef MEMLENS_THREAD_H
#define MEMLENS_THREAD_H

#include <stdint.h>
#include <sys/types.h>

#include "aggregate.h"
#include "common.h"
#include "encode.h"
#include "native.h"
#include "pystack.h"
#include "state.h"

typedef struct ml_thread {
    ml_stream stream; /* its lock protects everything below that changes after registration */
    pid_t tid;
    uint64_t pthread_id;
    uint32_t session;
    int exiting; /* the pthread key destructor ran */
    uint64_t exit_ns;
    struct ml_thread *next; /* registry list (registry mutex) */
    uint64_t allocations, frees, bytes_allocated;
    /* The allocation step (record.h, census.c): once bytes_allocated reaches this, the allocating thread
     * takes a snapshot if the last is stale (snapshot.c) and, under a memory limit, reads the cgroup's usage
     * for the near-OOM census. Only the thread itself touches it. */
    uint64_t census_check_at;
    ml_pystack py;
    ml_nstack native;
    ml_aggthread agg; /* --aggregate: this thread's locations */
} ml_thread;

/* The calling thread's state and the session it belongs to (0: none), and the session of the registry:
 * read on every event, hence here (initial-exec TLS: reading them never allocates). thread.c writes them. */
#define ml_tls_thread (ml_tls.thread)
#define ml_tls_session (ml_tls.session)
extern uint32_t ml_thread_session;
/* Registers the calling thread in the current session (ml_thread_current's slow path). */
ml_thread *ml_thread_register(void);

/* The calling thread's state in the current session, registering it on first use (the caller holds the
 * guard). NULL if the agent is out of memory. */
static inline ml_thread *ml_thread_current(void) {
    ml_thread *t = ml_tls_thread;
    if (ML_LIKELY(t != NULL && ml_tls_session == ml_thread_session)) return t;
    return ml_thread_register();
}
/* The calling thread's Python run() returned (memlens_thread_done): THREAD_EXIT is due at the next reap or
 * stop. */
void ml_thread_done(void);
/* The same for another thread, by OS id (memlens_thread_ended). */
void ml_thread_ended(pid_t tid);

/* Session start and end. ml_threads_begin resets the registry for a new session. */
int ml_threads_begin(uint32_t session);
/* Flushes and closes every stream: late writers drop their events. Frees buffers and tables. */
void ml_threads_close_all(void);

/* The service thread's flush round: every thread's open block goes to the sink. */
void ml_threads_flush_all(void);
/* Writes THREAD_EXIT for threads that are gone and recycles their state. */
void ml_threads_reap(void);

/* Sums for AGENT_STATS and TRAILER. */
typedef struct ml_thread_totals {
    uint64_t streams, allocations, frees, bytes_allocated, dropped;
} ml_thread_totals;
void ml_threads_totals(ml_thread_totals *out);

/* A name for the thread with OS id tid: THREAD_NAME now if it has a stream, else kept for its THREAD
 * record. */
void ml_threads_name(pid_t tid, const char *name);
/* The thread with OS id tid (or, with tid 0, the pthread pthread_id) renamed itself or was renamed after it
 * was named (prctl, pthread_setname_np, Thread.name = ...): THREAD_NAME with the seq and time of the
 * change, so readers give the new name to what it allocates from then on. `os_name`: the name is the
 * kernel's (at most 15 bytes: the cut of a longer name reads as that name). Sets the guard; keeps errno.
 * Renames are rare: the registry mutex is taken. */
void ml_thread_renamed(pid_t tid, uint64_t pthread_id, const char *name, int os_name);

/* In a fork child: the other threads are gone and their locks may be held forever. Drops all state
 * without taking a lock. */
void ml_threads_forget(void);

#endif
