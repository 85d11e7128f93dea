/* The lock of a stream (a thread's buffer and delta state, or the service stream): taken by its owner on
 * every event, by the service thread once a flush round (every 10 ms), by a census or GC record now and
 * then. It is almost never contended. A pthread mutex costs two calls and two locked instructions per
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
} ml_lock;

static inline void ml_lock_init(ml_lock *l) {
    atomic_store_explicit(&l->word, 0, memory_order_relaxed);
}

/* The slow paths (lock.c): wait for the lock, sleeping; wake one waiter. Both keep errno. */
void ml_lock_wait(ml_lock *l);
void ml_lock_wake(ml_lock *l);

static inline void ml_lock_acquire(ml_lock *l) {
    uint32_t free_word = 0;
    if (__builtin_expect(!atomic_compare_exchange_strong_explicit(&l->word, &free_word, 1, memory_order_acquire, memory_order_relaxed), 0))
        ml_lock_wait(l);
}

/* Takes the lock if it is free; never waits. 1 if taken. */
static inline int ml_lock_try(ml_lock *l) {
    uint32_t free_word = 0;
    return atomic_compare_exchange_strong_explicit(&l->word, &free_word, 1, memory_order_acquire, memory_order_relaxed);
}

static inline void ml_lock_release(ml_lock *l) {
    if (__builtin_expect(atomic_load_explicit(&l->word, memory_order_relaxed) == 1, 1)) {
        atomic_store_explicit(&l->word, 0, memory_order_release);
        return;
    }
    atomic_store_explicit(&l->word, 0, memory_order_release);
    ml_lock_wake(l);
}

#endif
