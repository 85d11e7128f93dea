/* The agent's own memory: straight from mmap, never from a hooked allocator (docs/agent.md rule 1). */
#ifndef MEMLENS_MEM_H
#define MEMLENS_MEM_H

#include <stddef.h>
#include <stdint.h>

/* Zeroed memory rounded up to whole pages; NULL on failure. Both keep errno. */
void *ml_mem_alloc(size_t size);
void ml_mem_free(void *p, size_t size);
/* Bytes the agent holds right now (for AGENT_STATS and the TRAILER). */
uint64_t ml_mem_total(void);

/* A bump allocator over mmap'd chunks, for many small objects that live until the session ends
 * (code registry records). Not thread-safe: callers hold their own lock. */
typedef struct ml_arena {
    uint8_t *chunk;
    size_t used, cap;
    struct ml_arena_chunk *chunks;
} ml_arena;

void *ml_arena_alloc(ml_arena *a, size_t size);
void ml_arena_release(ml_arena *a);

#endif
