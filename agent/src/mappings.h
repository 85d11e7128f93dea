/* Live mappings as sorted, disjoint [start, end) pieces, for aggregated mode: munmap may remove the head, the
 * tail or a hole of a mapping, or several mappings at once, and a MAP_FIXED mapping replaces whatever it
 * covers, so a table keyed by address cannot answer. A mapping split in pieces stays one allocation: its
 * owner hears that it ended when its last piece goes, as the full capture's reader counts it
 * (src/model/mapped-regions.ts). Not thread-safe: the caller holds its own lock. */
#ifndef MEMLENS_MAPPINGS_H
#define MEMLENS_MAPPINGS_H

#include <stddef.h>
#include <stdint.h>

#include "mem.h"

struct ml_piece_chunk;

typedef struct ml_mappings {
    struct ml_piece_chunk **dir; /* chunks in address order */
    size_t n, cap;
    struct ml_piece_chunk *spare; /* emptied chunks, for reuse */
    ml_arena arena;
} ml_mappings;

/* Called for each piece (or part of one) that an unmap removes: `bytes` of `owner`'s mapping went away;
 * `ended` when it was the mapping's last piece. */
typedef void (*ml_unmapped_fn)(void *owner, uint64_t bytes, int ended, void *ctx);

/* Adds [addr, addr + size) for `owner`; the range must hold no piece (unmap it first: MAP_FIXED). -1 if the
 * agent has no memory for it (the mapping is then not tracked). */
int ml_mappings_add(ml_mappings *m, uint64_t addr, uint64_t size, void *owner);
/* Removes [addr, addr + size); size 0 removes the piece that starts at addr (a FREE of size 0 means that to
 * the reader). Without memory to split a piece in two, the hole stays counted. */
void ml_mappings_unmap(ml_mappings *m, uint64_t addr, uint64_t size, ml_unmapped_fn fn, void *ctx);
int ml_mappings_contain(const ml_mappings *m, uint64_t addr);
/* Frees everything (the session ended, or a fork child forgets the parent's table). */
void ml_mappings_release(ml_mappings *m);

#endif
