/* Sampling (docs/sampling.md): which allocations are recorded, and which frees.
 *
 * Allocations: each thread walks along the bytes it allocates, in every allocator and domain; sample points
 * fall on that line with exponential gaps of mean R (a Poisson process), and an allocation is recorded when
 * a point falls inside it, or always when it is at least T bytes. The thread's state is a few words of
 * initial-exec TLS: the fast path is a subtraction and two compares, no lock, no shared write.
 *
 * Frees: only those of recorded blocks are recorded. Nearly every free is of a block that was not: a free
 * first asks a filter of 2^15 bits (4 KiB, so it stays in the cache), one bit per hash bucket of addresses,
 * set while some recorded live block hashes there: a clear bit answers with one load. The recorded blocks
 * that are live are kept in one open-addressing table of addresses; a free whose bit is set looks its
 * address up there without a lock (a sequence count tells it that a writer changed the table meanwhile,
 * and it looks again), and only a hit takes the table's mutex to remove it. The mutex is taken once per
 * recorded event, never per allocation. */
#ifndef MEMLENS_SAMPLE_H
#define MEMLENS_SAMPLE_H

#include <stdatomic.h>
#include <stdint.h>

#include "common.h"

typedef struct ml_sample_tls {
    int64_t left;   /* bytes before the next sample point (valid when epoch is the session's) */
    uint32_t epoch; /* the session this state belongs to; another one means: start afresh */
    uint64_t rng;   /* the thread's generator (xorshift64*) */
} ml_sample_tls;

extern __thread ml_sample_tls ml_sample_t;
/* Nonzero in a sampled session. */
extern int ml_sampling;
/* Allocations of at least this many bytes are always recorded (T). */
extern uint64_t ml_sample_exact;
/* Changes with every sampled session, so a thread's state from an earlier one is not reused. */
extern uint32_t ml_sample_epoch;

/* Starts sampling for a session: rate R and threshold T in bytes, seed 0 for a random one. -1: out of
 * memory. */
int ml_sample_begin(uint64_t rate, uint64_t exact, uint64_t seed);
/* The session ended: the table is emptied (and kept: a hook may still be looking it up). */
void ml_sample_end(void);
/* In a fork child: the table's mutex may be held by a thread that is gone. */
void ml_sample_forget(void);

int ml_sample_slow(uint64_t size);

/* Is an allocation of `size` bytes by this thread recorded? Call only when ml_sampling. */
static inline int ml_sample_alloc(uint64_t size) {
    if (size >= ml_sample_exact) return 1;
    ml_sample_tls *t = &ml_sample_t;
    int64_t left = t->left - (int64_t)(size != 0 ? size : 1); /* a zero-byte allocation counts as one byte */
    if (ML_LIKELY(left > 0 && t->epoch == ml_sample_epoch)) {
        t->left = left;
        return 0;
    }
    return ml_sample_slow(size);
}

/* A recorded allocation is live at `addr`: its free will be recorded. 0 if the table is full (the caller
 * then does not record the allocation at all; the drop is counted). */
int ml_sampled_add(uint64_t addr);

/* The filter in front of the table: bit b is set while a recorded live block's address hashes to b. Only
 * the table's writers (under its mutex) change it. A free sees the bit of a block recorded by any thread:
 * the block's address reached the freeing thread after the allocating thread set the bit. */
#define ML_SAMPLE_FILTER_BITS 15
extern _Atomic uint64_t ml_sample_filter[((size_t)1 << ML_SAMPLE_FILTER_BITS) / 64];

static inline uint32_t ml_sample_filter_bit(uint64_t addr) {
    /* Blocks are 16-byte aligned: the low bits say nothing. One multiply (Fibonacci hashing). */
    return (uint32_t)(((addr >> 4) * 0x9e3779b97f4a7c15ull) >> (64 - ML_SAMPLE_FILTER_BITS));
}

int ml_sampled_remove_slow(uint64_t addr);

/* Was the block at `addr` recorded? If so it is forgotten and the caller records its free. */
static inline int ml_sampled_remove(uint64_t addr) {
    uint32_t b = ml_sample_filter_bit(addr);
    if (ML_LIKELY((atomic_load_explicit(&ml_sample_filter[b >> 6], memory_order_relaxed) & ((uint64_t)1 << (b & 63))) == 0)) return 0;
    return ml_sampled_remove_slow(addr);
}

/* Recorded blocks live now, the table's capacity, and allocations dropped because it was full. */
void ml_sample_stats(uint64_t *live, uint64_t *capacity, uint64_t *dropped);

#endif
