/* The session's shared state: data only. state.c defines these variables and nothing else; the lifecycle
 * (agent.c) sets them at start and stop, everyone else reads them. No file calls through this header, so
 * it is the bottom of the agent's layering (scripts/agent-graph.mjs). */
#ifndef MEMLENS_STATE_H
#define MEMLENS_STATE_H

#include <stdatomic.h>
#include <stdint.h>

#include "common.h"

struct ml_thread;

/* memlens's own time's countdown on this thread (owntime.h). */
typedef struct ml_own_tls {
    uint32_t left; /* calls before the next timed one (0: the next one is) */
    uint32_t gap;  /* the calls the next timed one stands for */
    uint32_t rng;  /* xorshift32; 0 until the thread's first timed call */
} ml_own_tls;

/* The thread-local words every event reads, in one block: an initial-exec TLS variable is found through its own
 * offset, loaded from the GOT, and an event read five of them (the guard, the thread's state and its session, the
 * own-time countdown twice); one block is one offset. initial-exec: touching them never allocates. Each keeps the
 * name it had as a variable (ml_guard here, ml_tls_thread and ml_tls_session in thread.h, ml_own_t in owntime.h). */
typedef struct ml_tls_block {
    /* Set while this thread is inside the agent: an allocation made meanwhile (by libc, by the unwinder, by a
     * Python allocator we wrap) passes straight through. */
    int guard;
    uint32_t session;         /* the session `thread` belongs to (0: none) */
    struct ml_thread *thread; /* this thread's state (thread.c writes both) */
    ml_own_tls own;
} ml_tls_block;
extern __thread ml_tls_block ml_tls;
#define ml_guard (ml_tls.guard)

/* Nonzero while a session records events (between memlens_start and memlens_stop, in this process). */
extern atomic_int ml_active;

/* A session was started and not yet stopped (ml_active may be off meanwhile: a fork child, the end of
 * memlens_start). */
extern int ml_in_session;

/* Options of the running session (ML_OPTION_* of format.h). */
extern int ml_options;

/* The global sequence counter: the last seq handed out (the first event gets 1). */
extern atomic_uint_fast64_t ml_seq;

/* CLOCK_MONOTONIC when the session started; record times are relative to it. */
extern uint64_t ml_start_mono_ns;

/* The process that owns the session: a vfork child shares our memory but must not write. */
extern int ml_pid;

/* Nodes a thread's Python (and native) stack table may hold before it starts over (STACK_RESET) or, in
 * aggregated mode, stops growing: the agent's memory per thread is bounded. */
extern uint32_t ml_max_stack_nodes;
#define ML_DEFAULT_MAX_STACK_NODES (1u << 18)

/* The service thread's stack, [lo, hi), while it runs (service.c maps it; 0 otherwise). A thread is known
 * as the service thread by its stack from its very first instruction (thread.c). */
extern uintptr_t ml_service_stack_lo, ml_service_stack_hi;

/* Enters the agent on this thread: returns the guard as it was, for ml_guard_leave. Saving and restoring
 * (rather than setting and clearing) keeps nesting right: an agent function called from another, or from
 * Python code the bootstrap runs quiet (memlens_quiet), leaves the guard as it found it. */
static inline int ml_guard_enter(void) {
    int saved = ml_guard;
    ml_guard = 1;
    return saved;
}

static inline void ml_guard_leave(int saved) {
    ml_guard = saved;
}

/* Whether a session is running in this process (memlens_active). */
static inline int ml_session_active(void) {
    return atomic_load(&ml_active) && ml_in_session;
}

static inline uint64_t ml_rel_ns(void) {
    uint64_t now = ml_now_ns();
    return now > ml_start_mono_ns ? now - ml_start_mono_ns : 0;
}

/* The seq a record off the hot path carries: every event with a lower seq happened before it. */
static inline uint64_t ml_next_seq(void) {
    return atomic_load_explicit(&ml_seq, memory_order_acquire) + 1;
}

#endif
