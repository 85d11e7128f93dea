/* The agent's memory comes from mmap: malloc may be the very function we are hooking, and a preloaded
 * allocator must never see the agent's own bookkeeping. */
#include "mem.h"

#include <errno.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

static atomic_uint_fast64_t g_total;

static size_t page_round(size_t size) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return (size + page - 1) & ~(page - 1);
}

/* Both keep errno: they are called from the recording path (a table grown inside a hook), which saves errno only
 * around its slow parts (record.h), and a failed mmap or munmap is the one way those parts could set it. */
void *ml_mem_alloc(size_t size) {
    if (size == 0) return NULL;
    size = page_round(size);
    int saved_errno = errno;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    errno = saved_errno;
    if (p == MAP_FAILED) return NULL;
#if defined(__SANITIZE_ADDRESS__)
    /* Built with AddressSanitizer (test/agent/asan.test.ts): its shadow of this range may still say "a stack's
     * redzone". In a forked child, the parent's other threads are gone with their frames' redzones poisoned;
     * glibc unmaps their cached stacks and mmap hands the range out again, and GCC 12's runtime unpoisons
     * neither on munmap nor on mmap. A fresh mapping is ours whole. (Seen once in CI, 3.15, fork.py: a load
     * from a code table never touched before reported as a stack access, in a child.) */
    ASAN_UNPOISON_MEMORY_REGION(p, size);
#endif
    atomic_fetch_add(&g_total, size);
    return p;
}

void ml_mem_free(void *p, size_t size) {
    if (p == NULL || size == 0) return;
    size = page_round(size);
    int saved_errno = errno;
    munmap(p, size);
    errno = saved_errno;
    atomic_fetch_sub(&g_total, size);
}

uint64_t ml_mem_total(void) {
    return atomic_load(&g_total);
}

struct ml_arena_chunk {
    struct ml_arena_chunk *next;
    size_t size;
};

#define ARENA_CHUNK (256u * 1024u)

void *ml_arena_alloc(ml_arena *a, size_t size) {
    size = (size + 15) & ~(size_t)15;
    if (a->chunk == NULL || a->used + size > a->cap) {
        size_t want = size + sizeof(struct ml_arena_chunk) + 16 > ARENA_CHUNK ? size + sizeof(struct ml_arena_chunk) + 16 : ARENA_CHUNK;
        struct ml_arena_chunk *c = ml_mem_alloc(want);
        if (c == NULL) return NULL;
        c->next = a->chunks;
        c->size = want;
        a->chunks = c;
        a->chunk = (uint8_t *)c;
        a->used = (sizeof(struct ml_arena_chunk) + 15) & ~(size_t)15;
        a->cap = want;
    }
    void *p = a->chunk + a->used;
    a->used += size;
    return p;
}

void ml_arena_release(ml_arena *a) {
    struct ml_arena_chunk *c = a->chunks;
    while (c != NULL) {
        struct ml_arena_chunk *next = c->next;
        ml_mem_free(c, c->size);
        c = next;
    }
    a->chunk = NULL;
    a->chunks = NULL;
    a->used = a->cap = 0;
}
