/* The slow paths of the stream lock (lock.h): a waiter spins a little, then sleeps on the lock's word. */
#include "lock.h"

#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* The longest a waiter sleeps before it looks again (only a lost wake-up, lock.h, makes it that long). */
#define ML_LOCK_NAP_NS 200000L

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

void ml_lock_wait(ml_lock *l) {
    /* A few reads first: the holder of a stream's lock mostly holds it for well under a microsecond. */
    for (unsigned spins = 0; spins < 64; spins++) {
        cpu_relax();
        uint32_t free_word = 0;
        if (atomic_load_explicit(&l->word, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_strong_explicit(&l->word, &free_word, 1, memory_order_acquire, memory_order_relaxed))
            return;
    }
    /* Then sleep. Taken with 2, not 1: another waiter may still sleep, and our release must wake it. */
    int saved_errno = errno;
    while (atomic_exchange_explicit(&l->word, 2, memory_order_acquire) != 0) {
        struct timespec nap = {0, ML_LOCK_NAP_NS};
        syscall(SYS_futex, &l->word, FUTEX_WAIT_PRIVATE, 2, &nap, NULL, 0);
    }
    errno = saved_errno;
}

void ml_lock_wake(ml_lock *l) {
    int saved_errno = errno;
    syscall(SYS_futex, &l->word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    errno = saved_errno;
}

/* The owner is inside by its own way in (lock.h): it holds the lock for well under a microsecond, or for the write
 * of a full block. Spin a little, then nap; it stores 0 as it leaves (no wake-up, which would cost the owner a
 * locked instruction). The naps grow from 20 µs to ML_LOCK_NAP_NS: an owner taken off its core inside (a busy
 * machine) stays off for milliseconds, and short naps all that time would be CPU taken from the program. */
void ml_lock_wait_owner(ml_lock *l) {
    for (unsigned spins = 0; spins < 256; spins++) {
        cpu_relax();
        if (atomic_load_explicit(&l->owner_in, memory_order_acquire) == 0) return;
    }
    int saved_errno = errno;
    long nap_ns = 20000L;
    while (atomic_load_explicit(&l->owner_in, memory_order_acquire) != 0) {
        struct timespec nap = {0, nap_ns};
        nanosleep(&nap, NULL);
        if (nap_ns < ML_LOCK_NAP_NS) nap_ns *= 2;
    }
    errno = saved_errno;
}

uint64_t ml_lock_owner_step_back(ml_lock *l, _Atomic uint_fast64_t *seq) {
    atomic_store_explicit(&l->owner_in, 0, memory_order_release);
    ml_lock_acquire(l);
    /* Inside by the word: no other taker is, or comes before the release below, which orders this store before
     * its check of the flag. */
    atomic_store_explicit(&l->owner_in, 1, memory_order_relaxed);
    ml_lock_release(l);
    return atomic_fetch_add_explicit(seq, 1, memory_order_seq_cst) + 1;
}
