/* Test program for the streams' lock (lock.h, lock.c): THREADS threads take it ROUNDS times each and add to
 * a counter that only the lock protects; every 64th round the holder stays a while (a few thousand reads of
 * a clock), so that waiters get past their spinning and sleep on the futex, and the lost wake-up of lock.h
 * (a holder's release store over a waiter's 2) can happen. Checks: the counter is exact, no two threads were
 * ever inside at once, errno comes back from a contended take as it went in. Prints "ok COUNTER SLEPT" (SLEPT:
 * rounds that found the lock held), or what failed. Run as is and under ThreadSanitizer. */
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
static atomic_int g_inside, g_overlap, g_errno_lost;
static atomic_ulong g_held;

static void *worker(void *arg) {
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        errno = 4242;
        uint32_t seen = atomic_load_explicit(&g_lock.word, memory_order_relaxed);
        ml_lock_acquire(&g_lock);
        if (errno != 4242) atomic_store(&g_errno_lost, 1);
        if (seen != 0) atomic_fetch_add(&g_held, 1);
        if (atomic_fetch_add(&g_inside, 1) != 0) atomic_store(&g_overlap, 1);
        g_counter++;
        if (i % 64 == 0) {
            struct timespec ts;
            for (int k = 0; k < 2000; k++) clock_gettime(CLOCK_MONOTONIC, &ts);
        }
        atomic_fetch_sub(&g_inside, 1);
        ml_lock_release(&g_lock);
    }
    return NULL;
}

int main(void) {
    ml_lock_init(&g_lock);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        if (pthread_create(&t[i], NULL, worker, NULL) != 0) return 2;
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    if (g_counter != (unsigned long)THREADS * ROUNDS) {
        printf("counter %lu, expected %lu\n", g_counter, (unsigned long)THREADS * ROUNDS);
        return 1;
    }
    if (atomic_load(&g_overlap)) {
        printf("two holders at once\n");
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
    printf("ok %lu %lu\n", g_counter, atomic_load(&g_held));
    return 0;
}
