/* The lock of a stream (a thread's buffer and delta state, or the service stream): taken by its owner on
 * every event (by its own way in since round thirteen: ml_lock_owner_enter, below), by the service thread once a
 * flush round (every 10 ms), by a census or GC record now and then. It is almost never contended. A pthread mutex costs two calls and two locked instructions per
 * event (13-17 % of an agent's samples under --trace-python-allocators, docs/pyalloc-cost.md); this one
 * takes with one compare-and-swap and gives back with a plain load and a release store.
 *
 * Contended, the waiter sleeps in the kernel (futex): the holder may hold the lock through a native unwind
 * (--native), and a waiter that spins or yields there burned more CPU than the mutex saved (an atomic flag
 * tried before this: 2.5 times the agent's CPU on 16 threads). The word: 0 free, 1 held, 2 held and a
 * waiter may sleep. A waiter sets 2 before it sleeps; a holder that gives back a 2 wakes one waiter.
 *
 * The one race, and why it is harmless: the holder reads 1, a waiter sets 2 and goes to sleep, the holder
 * stores 0 without waking it (a release store has no read of what it overwrites: that is what saves the
 * second locked instruction). The lock is free, nobody holds it twice: mutual exclusion stands. The waiter
 * only sleeps longer than it needs to, so every sleep is bounded (ML_LOCK_NAP_NS), after which it tries
 * again. The window is the few instructions between the holder's load and store, so this is rare, and it
 * costs a waiter at most one nap.
 *
 * Not reentrant (the mutex it replaces, PTHREAD_MUTEX_NORMAL, was not). No allocation, no signal-unsafe
 * call: futex is a raw system call. */
#ifndef MEMLENS_LOCK_H
#define MEMLENS_LOCK_H

#include <stdatomic.h>
#include <stdint.h>

typedef struct ml_lock {
    _Atomic uint32_t word;
    /* The owner's way in (ml_lock_owner_enter, below): 1 while the stream's own thread is inside by it. */
    _Atomic uint32_t owner_in;
    /* 1 while a taker of `word` holds the lock or waits for the owner to leave. */
    _Atomic uint32_t others;
} ml_lock;

static inline void ml_lock_init(ml_lock *l) {
    atomic_store_explicit(&l->word, 0, memory_order_relaxed);
    atomic_store_explicit(&l->owner_in, 0, memory_order_relaxed);
    atomic_store_explicit(&l->others, 0, memory_order_relaxed);
}

/* The slow paths (lock.c): wait for the lock, sleeping; wake one waiter; wait for the owner to leave. All keep
 * errno. */
void ml_lock_wait(ml_lock *l);
void ml_lock_wake(ml_lock *l);
void ml_lock_wait_owner(ml_lock *l);
/* The owner found another taker there (ml_lock_owner_enter): steps out, waits for the lock by the word, comes in
 * by its flag while it holds the word (a taker after it then sees the flag and waits), gives the word back, and
 * returns a new seq. Out of line: the commonest path keeps its registers. */
uint64_t ml_lock_owner_step_back(ml_lock *l, _Atomic uint_fast64_t *seq);

/* Every taker but the owner's hot path: the word, then the owner kept out (Dekker's handshake with
 * ml_lock_owner_enter: our store of `others`, a full fence, our load of `owner_in`; its store of `owner_in`, a full
 * fence, its load of `others`: at least one of the two loads sees the other's store; the one that sees the
 * other's steps back). */
static inline void ml_lock_acquire(ml_lock *l) {
    uint32_t free_word = 0;
    if (__builtin_expect(!atomic_compare_exchange_strong_explicit(&l->word, &free_word, 1, memory_order_acquire, memory_order_relaxed), 0))
        ml_lock_wait(l);
    /* The exchange is the full fence (x86-64: xchg is locked; aarch64: a store-release then a load-acquire keep
     * their order), and ThreadSanitizer, which has no fences, follows it. */
    (void)atomic_exchange_explicit(&l->others, 1, memory_order_seq_cst);
    if (__builtin_expect(atomic_load_explicit(&l->owner_in, memory_order_seq_cst) != 0, 0)) ml_lock_wait_owner(l);
}

/* Takes the lock if it is free; never waits. 1 if taken. */
static inline int ml_lock_try(ml_lock *l) {
    uint32_t free_word = 0;
    return atomic_compare_exchange_strong_explicit(&l->word, &free_word, 1, memory_order_acquire, memory_order_relaxed);
}

static inline void ml_lock_release(ml_lock *l) {
    atomic_store_explicit(&l->others, 0, memory_order_release);
    if (__builtin_expect(atomic_load_explicit(&l->word, memory_order_relaxed) == 1, 1)) {
        atomic_store_explicit(&l->word, 0, memory_order_release);
        return;
    }
    atomic_store_explicit(&l->word, 0, memory_order_release);
    ml_lock_wake(l);
}

/* ── The owner's way in: no locked instruction of its own ─────────────────────────────────────────────
 * The stream's own thread takes its lock on every event; everyone else (the service thread's flush every 10 ms,
 * a GC record, a census) now and then. The owner's compare-and-swap was a locked instruction an event beside the
 * one that takes seq (ml_seq), and each costs about as much (agent alone on json_roundtrip with Python's
 * allocators traced: 0.56 s of CPU, 0.53 without the compare-and-swap, 0.54 without the atomic add; unsafe builds,
 * measured only: docs/benchmarks.md, round thirteen). So the owner comes in by a flag and lets the atomic add of
 * seq be the full fence Dekker's handshake needs: it stores `owner_in`, takes seq with the locked add (x86-64: a
 * locked instruction orders every load and store around it; elsewhere a fence follows), and loads `others`. If
 * another taker is there, the owner steps back (ml_lock_owner_step_back) and takes seq again, leaving the first
 * unused: a BARRIER carrying S says that every event with seq below S is in a block before it, and the first seq
 * may be below an S whose flush did not wait for this event. A seq without an event is allowed (no reader looks
 * for one). Rare: only while another taker holds the lock or waits for it.
 *
 * Only the stream's own thread, never nested with ml_lock_acquire of the same lock. Returns the event's seq. */
static inline __attribute__((always_inline)) uint64_t ml_lock_owner_enter(ml_lock *l, _Atomic uint_fast64_t *seq) {
    atomic_store_explicit(&l->owner_in, 1, memory_order_relaxed);
    uint64_t s = atomic_fetch_add_explicit(seq, 1, memory_order_seq_cst) + 1;
#if !defined(__x86_64__)
    atomic_thread_fence(memory_order_seq_cst);
#else
    atomic_signal_fence(memory_order_seq_cst);
#endif
    if (__builtin_expect(atomic_load_explicit(&l->others, memory_order_acquire) == 0, 1)) return s;
    return ml_lock_owner_step_back(l, seq);
}

static inline __attribute__((always_inline)) void ml_lock_owner_leave(ml_lock *l) {
    atomic_store_explicit(&l->owner_in, 0, memory_order_release);
}

#endif
