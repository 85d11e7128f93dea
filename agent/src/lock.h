/* The lock of a thread's stream (its buffer and delta state): taken by its owner on every event, by the
 * service thread once a flush round (every 10 ms), by a census or GC record now and then. It is almost
 * never contended, so taking it is one atomic exchange and giving it back one release store; a pthread
 * mutex's unlock is a second locked instruction and two calls, together 13-17 % of an agent's samples
 * under --trace-python-allocators (docs/pyalloc-cost.md). Contended, the waiter spins a little, then yields
 * its core: the holder may have been preempted on a busy machine, and holds the lock for at most a block's
 * framing and copy. Not reentrant, as the mutex it replaces (PTHREAD_MUTEX_NORMAL) was not. */
#ifndef MEMLENS_LOCK_H
#define MEMLENS_LOCK_H

#include <sched.h>
#include <stdatomic.h>

typedef struct ml_lock {
    atomic_int held;
} ml_lock;

static inline void ml_lock_init(ml_lock *l) {
    atomic_store_explicit(&l->held, 0, memory_order_relaxed);
}

static inline void ml_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static void ml_lock_wait(ml_lock *l) {
    for (unsigned spins = 0;; spins++) {
        /* Read before trying again: spinning on the exchange would pull the line from the holder's core. */
        if (atomic_load_explicit(&l->held, memory_order_relaxed) == 0 && atomic_exchange_explicit(&l->held, 1, memory_order_acquire) == 0)
            return;
        if (spins < 128) {
            ml_cpu_relax();
        } else {
            sched_yield();
        }
    }
}

static inline void ml_lock_acquire(ml_lock *l) {
    if (__builtin_expect(atomic_exchange_explicit(&l->held, 1, memory_order_acquire) != 0, 0)) ml_lock_wait(l);
}

static inline void ml_lock_release(ml_lock *l) {
    atomic_store_explicit(&l->held, 0, memory_order_release);
}

#endif
