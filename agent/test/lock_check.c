/* Test program for the streams' lock (lock.h, lock.c): THREADS threads take it ROUNDS times each and add to
 * a counter that only the lock protects, thread 0 as the stream's owner does on every event (ml_lock_owner_enter,
 * taking a seq on the way in), the others by ml_lock_acquire as the service thread does; every 64th round the holder stays a while (a few thousand reads of
 * a clock), so that waiters get past their spinning and sleep on the futex, and the lost wake-up of lock.h
 * (a holder's release store over a waiter's 2) can happen. Checks: the counter is exact, no two threads were
 * ever inside at once, errno comes back from a contended take as it went in, and the barrier's rule: a taker reads
 * the next seq S before it takes the lock (as the service thread does before a flush round), and once it holds the
 * lock the owner may never again be inside with a seq below S (its event would miss the flush that a BARRIER S
 * vouches for). Prints "ok COUNTER SLEPT" (SLEPT:
 * rounds that found the lock's word held), or what failed. Run as is and under ThreadSanitizer. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../src/lock.h"

#define THREADS 8
#define ROUNDS 20000

static ml_lock g_lock;
static unsigned long g_counter; /* only under g_lock */
static atomic_int g_inside, g_overlap, g_errno_lost, g_behind;
static atomic_ulong g_held;
static _Atomic uint_fast64_t g_seq;
static uint64_t g_barrier; /* only under g_lock: the highest S a taker read before it took the lock */

static atomic_int g_takers_done;
static unsigned long g_owner_rounds;

static void *worker(void *arg) {
    int owner = arg != NULL;
    /* The owner goes on until every taker is done: it runs through all of their holds. */
    for (int i = 0; owner ? i < ROUNDS || atomic_load(&g_takers_done) < THREADS - 1 : i < ROUNDS; i++) {
        errno = 4242;
        uint32_t seen = atomic_load_explicit(&g_lock.word, memory_order_relaxed);
        if (owner) {
            uint64_t s = ml_lock_owner_enter(&g_lock, &g_seq);
            if (s < g_barrier) atomic_store(&g_behind, 1);
        } else {
            uint64_t next = atomic_load(&g_seq) + 1;
            ml_lock_acquire(&g_lock);
            if (next > g_barrier) g_barrier = next;
        }
        if (errno != 4242) atomic_store(&g_errno_lost, 1);
        if (seen != 0) atomic_fetch_add(&g_held, 1);
        if (atomic_fetch_add(&g_inside, 1) != 0) atomic_store(&g_overlap, 1);
        g_counter++;
        if (i % 64 == 0) {
            struct timespec ts;
            for (int k = 0; k < 2000; k++) clock_gettime(CLOCK_MONOTONIC, &ts);
            /* A taker also sleeps inside now and then: the owner then runs while the lock is held (on a busy
             * machine two threads seldom run at once otherwise), and must find its way in shut. */
            if (!owner && i % 256 == 0) {
                struct timespec nap = {0, 20000};
                nanosleep(&nap, NULL);
            }
        }
        atomic_fetch_sub(&g_inside, 1);
        if (owner) ml_lock_owner_leave(&g_lock);
        else ml_lock_release(&g_lock);
        if (owner) g_owner_rounds++;
    }
    if (!owner) atomic_fetch_add(&g_takers_done, 1);
    return NULL;
}

int main(void) {
    ml_lock_init(&g_lock);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        if (pthread_create(&t[i], NULL, worker, i == 0 ? &g_lock : NULL) != 0) return 2;
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    unsigned long expected = (unsigned long)(THREADS - 1) * ROUNDS + g_owner_rounds;
    if (g_counter != expected) {
        printf("counter %lu, expected %lu\n", g_counter, expected);
        return 1;
    }
    if (atomic_load(&g_overlap)) {
        printf("two holders at once\n");
        return 1;
    }
    if (atomic_load(&g_behind)) {
        printf("the owner was inside with a seq below a taker's barrier\n");
        return 1;
    }
    if (atomic_load(&g_errno_lost)) {
        printf("errno changed by a contended take\n");
        return 1;
    }
    if (atomic_load(&g_lock.word) != 0) {
        printf("lock word %u after the last release\n", (unsigned)atomic_load(&g_lock.word));
        return 1;
    }
    printf("ok %lu %lu %lu\n", g_counter, atomic_load(&g_held), g_owner_rounds);
    return 0;
}
