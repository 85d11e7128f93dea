/* memlens's own time on the program's threads: how long the recording path (record.c) held them, so that
 * the reader can take it out of the program's clock as it does the censuses' pauses
 * (src/analysis/own-time.ts, docs/own-time.md). With --trace-python-allocators the recording of 300 000
 * small objects was about 70% of examples/leaky_service.py's last phase, and that phase then looked too
 * long after the leak for the leak to be one.
 *
 * Two parts. The recording's running time: each thread counts its calls down from a random gap (mean
 * ML_OWN_GAP); the call that reaches zero reads CLOCK_MONOTONIC (the vDSO: no syscall) at its entry and
 * exit and adds the difference, less the clock's own cost, times the gap to a process-wide counter,
 * relaxed. No lock, no allocation, nothing shared but one relaxed add per ML_OWN_GAP calls. A timed call
 * counts for at most ML_OWN_CALL_MAX_NS: one that a busy machine took off its core would otherwise count
 * its wait (milliseconds) times the gap, and the estimate of a phase would hang on whether one of its few
 * preemptions fell on a timed call. The waits: on a busy machine the program's threads wait for a core
 * for a share of their running time, the recording's as the rest's; at each snapshot the service thread
 * reads the threads' CPU and run-queue times (/proc/self/task/TID/schedstat) and counts the recording's
 * time of the interval that many times longer (ml_own_wall_ns). Sleeping is not waiting for a core: a
 * program that sleeps keeps its sleep. */
#ifndef MEMLENS_OWNTIME_H
#define MEMLENS_OWNTIME_H

#include <stdatomic.h>
#include <stdint.h>

#include "common.h"
#include "state.h"

/* Mean calls between two timed ones: two clock reads (about 25 ns each) every 64 calls cost under 1 ns a
 * call, against 100–200 ns for recording one (every 16 calls cost 3–9% of the CPU with Python's allocators
 * traced, docs/benchmarks.md); a phase that makes thousands of events still has a hundred timed. */
#define ML_OWN_GAP 64u
/* The most a timed call counts for: recording one event takes microseconds at most (a deep new stack, a
 * block handed to the sink); a thread preempted meanwhile takes milliseconds. */
#define ML_OWN_CALL_MAX_NS 100000u

/* This thread's countdown (ml_own_tls, in state.h's block of thread-local words). */
#define ml_own_t (ml_tls.own)
/* The recording's running time, estimated, ns since the process loaded the agent (only differences mean
 * anything). */
extern _Atomic uint64_t ml_own_ns;
/* What two clock reads back to back measure (ml_own_calibrate): the timing's own cost, taken off each timed
 * call, since the calls that are not timed do not pay it (counted as they are, it added a clock read to
 * every call: 20–30 ns, 15% of the recording of a small object). */
extern uint64_t ml_own_overhead_ns;

/* Measures ml_own_overhead_ns (off the hot path). */
void ml_own_calibrate(void);
/* The next gap: uniform in [ML_OWN_GAP / 2, 3 * ML_OWN_GAP / 2), so that a loop with a fixed pattern of
 * calls (an allocation and a free) is not always timed at the same one of them. */
void ml_own_next(ml_own_tls *t);

/* A session starts (before its first snapshot): calibrates, opens /proc/self/task, takes the first
 * readings. The service thread's id (0 before it runs) is left out of the program's threads. */
void ml_own_begin_session(int service_tid);
void ml_own_set_service_tid(int tid);
/* memlens's own wall time on the program's threads since the session started: for each snapshot, the
 * recording's running time since the last one, stretched by the threads' waits for a core. Called by one
 * thread at a time (snapshot.c's lock). `sweep`: the waits may be read again (every thread's schedstat, within
 * a budget: the service thread's snapshots); 0, the last stretch is used (an allocating thread's, which
 * must cost a pread or two, not a file per thread). */
uint64_t ml_own_wall_ns(int sweep);
void ml_own_end_session(void);

/* At the recording path's entry: 0, or the time if this call is timed. */
static inline uint64_t ml_own_begin(void) {
    ml_own_tls *t = &ml_own_t;
    if (ML_LIKELY(t->left > 1)) {
        t->left--;
        return 0;
    }
    return ml_now_ns();
}

/* At its exit, with what ml_own_begin returned. */
static inline void ml_own_end(uint64_t start) {
    if (ML_LIKELY(start == 0)) return;
    uint64_t end = ml_now_ns();
    ml_own_tls *t = &ml_own_t;
    uint64_t weight = t->gap != 0 ? t->gap : 1; /* a thread's first call stands for itself */
    if (end > start + ml_own_overhead_ns) {
        uint64_t took = end - start - ml_own_overhead_ns;
        if (took > ML_OWN_CALL_MAX_NS) took = ML_OWN_CALL_MAX_NS;
        atomic_fetch_add_explicit(&ml_own_ns, took * weight, memory_order_relaxed);
    }
    ml_own_next(t);
}

#endif
