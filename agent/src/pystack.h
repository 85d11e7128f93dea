/* Python stacks as FRAME node ids: walk the thread's frames on an event, reuse the nodes of the part that
 * matches the last walked stack, define FRAME records for the rest (docs/agent.md "Python stacks"). */
#ifndef MEMLENS_PYSTACK_H
#define MEMLENS_PYSTACK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "encode.h"
#include "pyframes.h"

/* Hidden root frames a thread remembers (ml_pystack.hid_code): the bootstrap's are 5 to 8. */
#define ML_HID_MEMO 16

/* Node table of one stream: (parent, code id, instr) → node id. */
typedef struct ml_node_slot {
    uint32_t parent, code_id, instr, node; /* node 0: empty */
} ml_node_slot;

typedef struct ml_pystack {
    ml_pyframe *walk; /* leaf first, as walked: the frames the walk cache did not give */
    size_t walk_cap;
    ml_walk_cache wc; /* the chain of the last walk (pyframes.h); its frames are those of last_* below */
    /* The last stack, root first, with the bootstrap's hidden frames at its root (the first last_hidden,
     * node 0): the cache's reused frames are its first frames. */
    const void **last_code;
    uint32_t *last_instr;
    uint32_t *last_node;
    size_t last_depth, last_cap, last_hidden;
    ml_node_slot *table;
    size_t table_cap, table_used;
    uint32_t next_node;
    uint8_t *scratch; /* CODE record text */
    size_t scratch_cap;
    int no_reset; /* a full table keeps its nodes: new stacks end at their longest known prefix */
    /* The hidden root of the last stack, as the set of hidden codes was at generation hid_gen: its codes,
     * and the code of the first frame after them (not hidden; NULL: none, or more hidden frames than fit).
     * A frame at the same place with the same code is hidden, or not, as it was: the set is searched only
     * where the stack's root changed. All zero is a valid memo (it knows nothing). */
    const void *hid_code[ML_HID_MEMO];
    const void *hid_next;
    size_t hid_n;
    uint32_t hid_gen;
    /* The last two code objects given an id, the last first, and ml_code_frees when they were (code frees counted;
     * else memo_code is NULL): while the count stays, each is the same object with the same id (pystack.c,
     * memo_code_id). */
    const void *memo_code[2];
    uint64_t memo_gen[2];
    uint32_t memo_id[2];
    /* ml_code_frees when the last stack was made (code frees counted): where it moved, a code object of the last
     * stack may have been freed and another made at its address, so the nodes are made again. */
    uint64_t code_gen_seen;
    /* last_depth, where the last capture left what the next needs to give the last stack's leaf again when the walk
     * finds the whole chain unchanged (pystack.c, whole_next); else 0. */
    size_t whole_depth;
} ml_pystack;

/* The deepest stack recorded; deeper stacks keep their leaf-most frames. */
#define ML_PY_MAX_DEPTH (1u << 16)

/* Chooses the frame layout for this interpreter; 0 or -1 with err (the agent then records without
 * Python stacks and says so in a NOTE). */
int ml_pystack_init(unsigned long hexversion, char *err, size_t errlen);
/* Python stacks are walked (ml_pystack_init succeeded); read on every event. */
extern int ml_pystack_on;
static inline int ml_pystack_enabled(void) {
    return ml_pystack_on;
}

/* The calling thread's Python stack as a node of stream s, emitting FRAME and CODE records into s
 * (caller holds s's lock). 0: no Python frame. UINT32_MAX: the node table is full (the caller writes
 * STACK_RESET and tries again); with `truncate` (or no_reset) a full table gives the longest known prefix
 * instead. */
uint32_t ml_pystack_capture_general(ml_pystack *ps, ml_stream *s, int truncate, int hinted);
/* After ml_pyframes_walk_whole's 2 (the leaf's step): the last stack with its leaf made ps->wc.step. */
uint32_t ml_pystack_capture_step(ml_pystack *ps, ml_stream *s, int truncate);
/* After ml_pyframes_walk_whole's 3 (a frame pushed or popped): the general capture given ps->wc.moved as its walk. */
uint32_t ml_pystack_capture_moved(ml_pystack *ps, ml_stream *s, int truncate);
#define ML_HINT_MOVED 2 /* capture_body's `hinted` for ml_pystack_capture_moved */
/* Changes with the set of hidden codes (ml_pystack_hide_code). */
extern atomic_uint ml_pystack_hidden_gen;

/* The commonest event first (the whole last stack again: ml_pyframes_walk_whole), inline in the recording path (a
 * call of its own, with its frame, was 22 instructions an allocation), without what the rest of a capture sets up:
 * whole_depth says that the last capture left what the test of the general capture, "the cache reused the whole
 * last stack", needs of ps (the hidden root's memo of that stack, the cache's leaf at its depth, the count as the
 * cache saw it); the walk reads the rest (the chain, the count now, frees counted: then the code objects did not
 * move, for the count is the cache's, which is code_gen_seen). `hinted`: the walk was tried, and left in the cache
 * what it read. */
static inline __attribute__((always_inline)) uint32_t ml_pystack_capture(ml_pystack *ps, ml_stream *s, int truncate) {
    if (ps->whole_depth == 0 || ps->hid_gen != atomic_load_explicit(&ml_pystack_hidden_gen, memory_order_acquire))
        return ml_pystack_capture_general(ps, s, truncate, 0);
    int whole = ml_pyframes_walk_whole(&ps->wc);
    if (whole == 1) return ps->last_node[ps->whole_depth - 1];
    if (whole == 2) return ml_pystack_capture_step(ps, s, truncate);
    if (whole == 3) return ml_pystack_capture_moved(ps, s, truncate);
    return ml_pystack_capture_general(ps, s, truncate, 1);
}
/* Forget all nodes (after STACK_RESET, which the caller writes). */
void ml_pystack_reset(ml_pystack *ps);
void ml_pystack_release(ml_pystack *ps);

/* Frames run by the bootstrap sit at the root of the main thread's stack; they are left out. */
void ml_pystack_hide_code(const void *code);
void ml_pystack_clear_hidden(void);

/* Global code registry: address → code id, validated by (name, filename, firstlineno). Emits CODE into s
 * when the code object is new. 0 if the object cannot be read. */
uint32_t ml_code_id(const void *code, ml_stream *s, ml_pystack *ps);
void ml_code_registry_reset(void);

#endif
