/* Aggregated mode (--aggregate): instead of ALLOC/FREE records the agent keeps live allocations and
 * per-location counters in memory and writes CHECKPOINT records of what changed, at least once a second
 * and at the end, so a process killed at any moment leaves a checkpoint at most a second old
 * (docs/agent.md "Aggregated mode"). */
#ifndef MEMLENS_AGGREGATE_H
#define MEMLENS_AGGREGATE_H

#include <stddef.h>
#include <stdint.h>

struct ml_loc;

/* A thread's own locations by (stack, native stack, allocator): only the thread creates them. */
typedef struct ml_aggslot {
    uint32_t stack, native, allocator;
    struct ml_loc *loc; /* NULL: empty */
} ml_aggslot;

typedef struct ml_aggthread {
    ml_aggslot *slots;
    size_t cap, used;
} ml_aggthread;

int ml_aggregate_begin(void);
/* The event paths (the caller holds the thread's stream lock and took seq). */
void ml_aggregate_alloc(ml_aggthread *a, uint32_t stream, uint64_t seq, uint64_t addr, uint64_t size, unsigned allocator, uint32_t stack,
                        uint32_t native);
void ml_aggregate_free(uint64_t seq, uint64_t addr, unsigned deallocator, uint64_t size);
/* Live bytes of the tracked heap: the system allocator's and Python's domains. PyTraceMalloc_Track
 * reports memory that a malloc already holds, so it is kept per location but not added to the heap. */
uint64_t ml_aggregate_heap(void);
/* CHECKPOINT records of the locations changed since the last one (service stream). */
void ml_aggregate_checkpoint(void);
/* The same, unless nothing changed since the last one (the service thread's periodic checkpoint). */
void ml_aggregate_checkpoint_changed(void);
/* Frees a thread's map (its locations stay: live allocations point at them). */
void ml_aggregate_thread_release(ml_aggthread *a);
/* End of the session: frees everything (no event runs any more). */
void ml_aggregate_end(void);
/* In a fork child: forget the parent's tables (unmapped, no locks taken). */
void ml_aggregate_forget(void);

#endif
