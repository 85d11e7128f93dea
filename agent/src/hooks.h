/* The hook functions that GOT slots are rewritten to, and the recording path they share. */
#ifndef MEMLENS_HOOKS_H
#define MEMLENS_HOOKS_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "sample.h"

typedef struct ml_hook_def {
    const char *name;
    void *hook;
    void *real; /* the function the hook calls (NULL: resolved at run time, or never handed out by dlsym) */
} ml_hook_def;

/* Every hooked symbol and its hook, for got.c. */
extern const ml_hook_def ml_hook_defs[];
extern const size_t ml_hook_count;

/* Recording an event: set the guard, take seq under the thread's own lock, walk the stacks, encode.
 * A free is recorded before the memory is released, an allocation after it is obtained. */
void ml_record_alloc(uint64_t addr, uint64_t size, unsigned allocator);
void ml_record_free(uint64_t addr, unsigned deallocator, int has_size, uint64_t size);

/* Is this thread allowed to record right now (a session is active and we are not inside the agent)? */
static inline int ml_should_record(void) {
    return atomic_load_explicit(&ml_active, memory_order_relaxed) && !ml_guard;
}

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

#endif
