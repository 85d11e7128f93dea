/* Recording an event: what a hook does once it knows the real call's result (record.c). */
#ifndef MEMLENS_RECORD_H
#define MEMLENS_RECORD_H

#include <stdint.h>
#include <sys/types.h>

#include "sample.h"
#include "state.h"

/* Is this thread allowed to record right now (a session is active and we are not inside the agent)? */
static inline int ml_should_record(void) {
    return atomic_load_explicit(&ml_active, memory_order_relaxed) && !ml_guard;
}

/* Set the guard, take seq under the thread's own lock, walk the stacks, encode. A free is recorded before
 * the memory is released, an allocation after it is obtained. */
/* An allocation of `size` bytes is to be recorded: a session records, and, when sampling, it is in the
 * sample (sample.h). */
static inline int ml_wants_alloc(uint64_t size) {
    return ml_should_record() && (!ml_sampling || ml_sample_alloc(size));
}

/* The free of the block at `addr` is to be recorded: when sampling, only if the block was recorded (it
 * is then forgotten). */
static inline int ml_wants_free(uint64_t addr) {
    return ml_should_record() && (!ml_sampling || ml_sampled_remove(addr));
}

/* When sampling (ml_sampling): is an allocation of `size` bytes at `addr` in the sample? If so its block is
 * remembered, so that its free is recorded too. Call with the guard held. */
static inline int ml_sample_in(uint64_t addr, uint64_t size) {
    return ml_sample_alloc(size) && ml_sampled_add(addr);
}

void ml_record_alloc(uint64_t addr, uint64_t size, unsigned allocator);
void ml_record_free(uint64_t addr, unsigned deallocator, int has_size, uint64_t size);
/* The same for a hook that already holds the guard (it set it after ml_should_record, around its call of
 * the real allocator too): the guard is neither set nor given back here. When sampling, the hook made the
 * decision: an allocation is recorded only if ml_sample_in() said so (which also remembers its block), a free
 * only if ml_sampled_remove() found the block. errno is kept. */
void ml_record_alloc_guarded(uint64_t addr, uint64_t size, unsigned allocator);
void ml_record_free_guarded(uint64_t addr, unsigned deallocator);
/* FORK in the calling thread's stream (the fork hook, in the parent). */
void ml_record_fork(pid_t child);

#endif
