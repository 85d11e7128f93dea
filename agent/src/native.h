/* Native stacks (--native): backtrace() into a per-thread node table of (parent, ip), NATIVE_FRAME
 * records. */
#ifndef MEMLENS_NATIVE_H
#define MEMLENS_NATIVE_H

#include <stddef.h>
#include <stdint.h>

#include "encode.h"
#include "unwind.h"

typedef struct ml_nslot {
    uint64_t ip;
    uint32_t parent, node; /* node 0: empty */
} ml_nslot;

typedef struct ml_nstack {
    ml_nslot *table;
    size_t table_cap, table_used;
    uint32_t next_node;
    uint64_t last_ip[128];
    uint32_t last_node[128];
    size_t last_depth;
    int no_reset;                 /* as ml_pystack.no_reset */
    int last_whole;               /* last_ip came from the fast unwinder's last walk, whole (not cut) */
    ml_unwind_state *cache;       /* unwind rules by address and the last walk (the fast unwinder) */
    uintptr_t stack_lo, stack_hi; /* this thread's stack, for the unwinder's bounds checks */
} ml_nstack;

#define ML_NATIVE_MAX_DEPTH 128

/* Loads the unwinder (backtrace's first call allocates) while the guard is held. `fast`: use the caching
 * unwinder (unwind.c) where it can, backtrace() where it cannot; 0: backtrace() always. */
void ml_native_init(int fast);
/* The calling thread's native stack as a node of stream s; NATIVE_FRAME records go into s. 0: none.
 * Returns UINT32_MAX when the table is full (the caller writes STACK_RESET and retries). */
uint32_t ml_native_capture(ml_nstack *ns, ml_stream *s, int truncate);
void ml_native_reset(ml_nstack *ns);
void ml_native_release(ml_nstack *ns);

#endif
