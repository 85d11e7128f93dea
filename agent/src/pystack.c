/* Python stacks as node ids, and the global code registry.
 *
 * On an event the thread's frames are walked (pyframes.c: no C API, no GIL needed for our own thread),
 * compared from the root with the last walked stack, and only the part that differs is looked up in the
 * thread's node table; new nodes become FRAME records. The cost is per allocation, not per Python call. */
#include "pystack.h"

#include <pthread.h>
#include <string.h>

#include "common.h"
#include "mem.h"
#include "state.h"
#include "util.h"

/* ── code registry ─────────────────────────────────────────────────────────────────────────────── */

typedef struct code_rec {
    ml_code_key key;
    uint32_t id;
} code_rec;

typedef struct code_slot {
    _Atomic(const void *) code;
    _Atomic(code_rec *) rec;
} code_slot;

typedef struct code_table {
    size_t cap;
    struct code_table *older; /* kept until reset: a reader may still be probing it */
    code_slot slots[];
} code_table;

static _Atomic(code_table *) g_codes;
static pthread_mutex_t g_code_lock = PTHREAD_MUTEX_INITIALIZER;
static ml_arena g_code_arena;
static uint32_t g_next_code;
static size_t g_code_count;

static size_t table_bytes(size_t cap) {
    return sizeof(code_table) + cap * sizeof(code_slot);
}

static inline size_t ptr_hash(const void *p) {
    uint64_t x = (uint64_t)(uintptr_t)p >> 4;
    x *= 0x9e3779b97f4a7c15ull;
    return (size_t)(x >> 20);
}

static int key_equal(const ml_code_key *a, const ml_code_key *b) {
    return a->name == b->name && a->filename == b->filename && a->firstlineno == b->firstlineno;
}

static code_slot *probe(code_table *t, const void *code) {
    size_t mask = t->cap - 1;
    for (size_t i = ptr_hash(code) & mask, n = 0; n < t->cap; i = (i + 1) & mask, n++) {
        const void *c = atomic_load_explicit(&t->slots[i].code, memory_order_acquire);
        if (c == code || c == NULL) return &t->slots[i];
    }
    return NULL;
}

/* Caller holds g_code_lock. */
static code_table *grow(code_table *old) {
    size_t cap = old != NULL ? old->cap * 2 : 4096;
    code_table *t = ml_mem_alloc(table_bytes(cap));
    if (t == NULL) return NULL;
    t->cap = cap;
    t->older = old;
    if (old != NULL) {
        for (size_t i = 0; i < old->cap; i++) {
            const void *c = atomic_load(&old->slots[i].code);
            if (c == NULL) continue;
            code_slot *s = probe(t, c);
            atomic_store(&s->rec, atomic_load(&old->slots[i].rec));
            atomic_store(&s->code, c);
        }
    }
    atomic_store_explicit(&g_codes, t, memory_order_release);
    return t;
}

void ml_code_registry_reset(void) {
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    g_code_lock = fresh;
    code_table *t = atomic_load(&g_codes);
    while (t != NULL) {
        code_table *older = t->older;
        ml_mem_free(t, table_bytes(t->cap));
        t = older;
    }
    atomic_store(&g_codes, NULL);
    ml_arena_release(&g_code_arena);
    g_next_code = 0;
    g_code_count = 0;
}

static int grow_scratch(ml_pystack *ps, size_t want) {
    if (ps->scratch_cap >= want) return 0;
    size_t cap = ps->scratch_cap ? ps->scratch_cap : 64 * 1024;
    while (cap < want) cap *= 2;
    uint8_t *p = ml_mem_alloc(cap);
    if (p == NULL) return -1;
    ml_mem_free(ps->scratch, ps->scratch_cap);
    ps->scratch = p;
    ps->scratch_cap = cap;
    return 0;
}

/* ── location tables without columns ───────────────────────────────────────────────────────────────
 * A 3.11+ location table (CPython's Objects/locations.md) gives each run of 1 to 8 code units a line,
 * an end line and two columns. memlens reads only the line (src/model/linetable.ts), and on a program that
 * allocates from many modules' top-level code (numpy's import) the tables were half of a compressed
 * capture (docs/benchmarks.md). The CODE record gets the same kind of table, the same line for every
 * instruction, without the rest: each entry becomes "no columns" (code 13, the line delta alone) or "no
 * location" (15), and an entry that repeats the line of the one before joins it (up to 8 units). A table
 * that does not parse as one is written as it is. */

static int lt_varint(const uint8_t *t, size_t n, size_t *pos, uint64_t *out) {
    uint64_t v = 0;
    unsigned shift = 0;
    for (;;) {
        if (*pos >= n || shift > 54) return -1;
        uint8_t b = t[(*pos)++];
        if ((b & 0x80) != 0) return -1;
        v |= (uint64_t)(b & 63) << shift;
        shift += 6;
        if ((b & 64) == 0) break;
    }
    *out = v;
    return 0;
}

/* One entry, written at `o` unless NULL; returns its length. */
static size_t lt_entry(uint8_t *o, int none, unsigned units, uint64_t zigzag) {
    if (o != NULL) o[0] = (uint8_t)(0x80u | ((none ? 15u : 13u) << 3) | (units - 1));
    if (none) return 1;
    size_t k = 1;
    while (zigzag >= 64) {
        if (o != NULL) o[k] = (uint8_t)((zigzag & 63) | 64);
        k++;
        zigzag >>= 6;
    }
    if (o != NULL) o[k] = (uint8_t)zigzag;
    return k + 1;
}

/* The table without columns, written at `out` unless NULL; returns its length, 0 if `t` does not parse. */
static size_t lt_strip_columns(const uint8_t *t, size_t n, uint8_t *out) {
    size_t pos = 0, len = 0;
    int have = 0, pend_none = 0;
    unsigned pend_units = 0;
    uint64_t pend_zz = 0;
    while (pos < n) {
        uint8_t first = t[pos++];
        if ((first & 0x80) == 0) return 0;
        unsigned code = (first >> 3) & 15u, units = (first & 7u) + 1;
        int none = code == 15;
        uint64_t zz = 0, skip; /* the line delta as the table's svarint: magnitude << 1 | sign */
        if (code == 14) {
            if (lt_varint(t, n, &pos, &zz) != 0 || lt_varint(t, n, &pos, &skip) != 0 || lt_varint(t, n, &pos, &skip) != 0 ||
                lt_varint(t, n, &pos, &skip) != 0)
                return 0;
        } else if (code == 13) {
            if (lt_varint(t, n, &pos, &zz) != 0) return 0;
        } else if (code >= 10 && code <= 12) {
            zz = (uint64_t)(code - 10) << 1;
            if (pos + 2 > n || (t[pos] & 0x80) != 0 || (t[pos + 1] & 0x80) != 0) return 0;
            pos += 2;
        } else if (code <= 9) {
            if (pos + 1 > n || (t[pos] & 0x80) != 0) return 0;
            pos += 1;
        }
        if (have && pend_none == none && (none || zz == 0) && pend_units + units <= 8) {
            pend_units += units;
            continue;
        }
        if (have) len += lt_entry(out != NULL ? out + len : NULL, pend_none, pend_units, pend_zz);
        have = 1;
        pend_none = none;
        pend_units = units;
        pend_zz = zz;
    }
    if (have) len += lt_entry(out != NULL ? out + len : NULL, pend_none, pend_units, pend_zz);
    return len;
}

/* Builds the CODE payload (without code id) for `code` into ps->scratch; returns its length or 0. The
 * line table points into the live code object, so this runs while the frame is on our stack. */
static size_t code_payload(ml_pystack *ps, const void *code, uint32_t id) {
    for (int attempt = 0; attempt < 6; attempt++) {
        if (grow_scratch(ps, 64 * 1024) != 0) return 0;
        size_t half = ps->scratch_cap / 2;
        ml_code_text txt;
        if (ml_pyframes_code_text(code, (char *)ps->scratch, half, &txt) != 0) {
            if (ps->scratch_cap >= (16u << 20) || grow_scratch(ps, ps->scratch_cap * 2) != 0) return 0;
            continue;
        }
        size_t need = txt.name_len + txt.qualname_len + txt.filename_len + txt.linetable_len + 80;
        if (need > half) {
            if (ps->scratch_cap >= (32u << 20) || grow_scratch(ps, need * 2) != 0) return 0;
            continue;
        }
        ml_buf b;
        ml_buf_init(&b, ps->scratch + half, half);
        ml_buf_varint(&b, id);
        ml_buf_str(&b, ps->scratch + txt.name_off, txt.name_len);
        ml_buf_str(&b, ps->scratch + txt.qualname_off, txt.qualname_len);
        ml_buf_str(&b, ps->scratch + txt.filename_off, txt.filename_len);
        ml_buf_varint(&b, txt.firstlineno);
        ml_buf_varint(&b, (uint64_t)txt.linetable_kind);
        size_t stripped = txt.linetable_kind == ML_LINETABLE_LOCATIONS ? lt_strip_columns(txt.linetable, txt.linetable_len, NULL) : 0;
        if (stripped > 0 && stripped <= txt.linetable_len) {
            ml_buf_varint(&b, stripped);
            if (!b.overflow && b.len + stripped <= b.cap) {
                lt_strip_columns(txt.linetable, txt.linetable_len, b.p + b.len);
                b.len += stripped;
            } else {
                b.overflow = 1;
            }
        } else {
            ml_buf_str(&b, txt.linetable, txt.linetable_len);
        }
        return b.overflow ? 0 : b.len;
    }
    return 0;
}

uint32_t ml_code_id(const void *code, ml_stream *s, ml_pystack *ps) {
    ml_code_key key;
    if (ml_pyframes_code_key(code, &key) != 0) return 0;
    code_table *t = atomic_load_explicit(&g_codes, memory_order_acquire);
    if (t != NULL) {
        code_slot *slot = probe(t, code);
        if (slot != NULL && atomic_load_explicit(&slot->code, memory_order_acquire) == code) {
            code_rec *rec = atomic_load_explicit(&slot->rec, memory_order_acquire);
            if (rec != NULL && key_equal(&rec->key, &key)) return rec->id;
        }
    }
    /* New, or a new code object at the address of one that died. */
    pthread_mutex_lock(&g_code_lock);
    t = atomic_load(&g_codes);
    if (t == NULL || (g_code_count + 1) * 2 > t->cap) {
        code_table *g = grow(t);
        if (g == NULL) {
            pthread_mutex_unlock(&g_code_lock);
            return 0;
        }
        t = g;
    }
    code_slot *slot = probe(t, code);
    code_rec *old = slot != NULL ? atomic_load(&slot->rec) : NULL;
    if (slot != NULL && atomic_load(&slot->code) == code && old != NULL && key_equal(&old->key, &key)) {
        uint32_t id = old->id; /* another thread got here first */
        pthread_mutex_unlock(&g_code_lock);
        return id;
    }
    code_rec *rec = ml_arena_alloc(&g_code_arena, sizeof *rec);
    if (slot == NULL || rec == NULL) {
        pthread_mutex_unlock(&g_code_lock);
        return 0;
    }
    rec->key = key;
    rec->id = ++g_next_code;
    size_t len = code_payload(ps, code, rec->id);
    if (len == 0) {
        g_next_code--;
        pthread_mutex_unlock(&g_code_lock);
        return 0;
    }
    atomic_store_explicit(&slot->rec, rec, memory_order_release);
    if (atomic_load(&slot->code) == NULL) {
        atomic_store_explicit(&slot->code, code, memory_order_release);
        g_code_count++;
    }
    pthread_mutex_unlock(&g_code_lock);
    ml_stream_record(s, ML_R_CODE, ps->scratch + ps->scratch_cap / 2, len);
    return rec->id;
}

/* The id of a code object on the thread's stack, through the thread's memo: with code frees counted
 * for the thread (`counted`, pyframes.h), a code object at the memo's address while the count has not moved
 * since is the object the memo was made for, not freed, so the registry would give the same id (it gives another
 * only to another object at that address). A recursion looks up one code over and over. The count is read before
 * the lookup, as the walk reads it before its code objects. A code watcher's count holds on free-threaded builds
 * too: the count is made before the free, and the memory reaches the thread that makes the next object there,
 * and that object this thread, through releases and acquires (mimalloc's, then the program's own). */
static uint32_t memo_code_id(ml_pystack *ps, const void *code, ml_stream *s, int counted) {
    uint64_t gen = __atomic_load_n(&ml_code_frees, __ATOMIC_ACQUIRE);
    if (counted && code == ps->memo_code[0] && gen == ps->memo_gen[0]) return ps->memo_id[0];
    /* Two entries, the last used first: a loop that allocates in a function and in its caller by turns (objects:
     * record() and work()) asked the registry on every event (about 100 instructions). */
    if (counted && code == ps->memo_code[1] && gen == ps->memo_gen[1]) {
        uint32_t id = ps->memo_id[1];
        ps->memo_code[1] = ps->memo_code[0], ps->memo_gen[1] = ps->memo_gen[0], ps->memo_id[1] = ps->memo_id[0];
        ps->memo_code[0] = code, ps->memo_gen[0] = gen, ps->memo_id[0] = id;
        return id;
    }
    uint32_t id = ml_code_id(code, s, ps);
    ps->memo_code[1] = ps->memo_code[0], ps->memo_gen[1] = ps->memo_gen[0], ps->memo_id[1] = ps->memo_id[0];
    ps->memo_code[0] = counted && id != 0 ? code : NULL;
    ps->memo_gen[0] = gen;
    ps->memo_id[0] = id;
    return id;
}

/* ── hidden root frames ────────────────────────────────────────────────────────────────────────── */

#define MAX_HIDDEN 32
static _Atomic(const void *) g_hidden[MAX_HIDDEN];
static atomic_size_t g_nhidden;
/* Changes after every change of the set (a thread's memo of its hidden root is of one generation); read by
 * ml_pystack_capture (pystack.h) on every event. */
atomic_uint ml_pystack_hidden_gen;

void ml_pystack_hide_code(const void *code) {
    size_t n = atomic_load(&g_nhidden);
    for (size_t i = 0; i < n; i++) {
        if (atomic_load(&g_hidden[i]) == code) return;
    }
    if (n >= MAX_HIDDEN) return;
    atomic_store(&g_hidden[n], code);
    atomic_store(&g_nhidden, n + 1);
    atomic_fetch_add(&ml_pystack_hidden_gen, 1);
}

void ml_pystack_clear_hidden(void) {
    atomic_store(&g_nhidden, 0);
    atomic_fetch_add(&ml_pystack_hidden_gen, 1);
}

static int hidden(const void *code) {
    size_t n = atomic_load_explicit(&g_nhidden, memory_order_relaxed);
    for (size_t i = 0; i < n; i++) {
        if (atomic_load_explicit(&g_hidden[i], memory_order_relaxed) == code) return 1;
    }
    return 0;
}

/* ── per-thread stacks ─────────────────────────────────────────────────────────────────────────── */

int ml_pystack_on;

int ml_pystack_init(unsigned long hexversion, char *err, size_t errlen) {
    ml_pystack_on = 0;
    if (hexversion == 0) {
        ml_set_err(err, errlen, "the bootstrap did not give the Python version", 0);
        return -1;
    }
    if (ml_pyframes_init(hexversion, err, errlen) != 0) return -1;
    ml_pystack_on = 1;
    return 0;
}

static int grow_walk(ml_pystack *ps, size_t want) {
    if (want > ML_PY_MAX_DEPTH) want = ML_PY_MAX_DEPTH;
    if (ps->walk_cap >= want) return 0;
    size_t cap = ps->walk_cap ? ps->walk_cap : 256;
    while (cap < want) cap *= 2;
    ml_pyframe *w = ml_mem_alloc(cap * sizeof *w);
    if (w == NULL) return -1;
    ml_mem_free(ps->walk, ps->walk_cap * sizeof *ps->walk);
    ps->walk = w;
    ps->walk_cap = cap;
    return 0;
}

static int grow_last(ml_pystack *ps, size_t want) {
    if (ps->last_cap >= want) return 0;
    size_t cap = ps->last_cap ? ps->last_cap : 256;
    while (cap < want) cap *= 2;
    const void **code = ml_mem_alloc(cap * sizeof *code);
    uint32_t *instr = ml_mem_alloc(cap * sizeof *instr);
    uint32_t *node = ml_mem_alloc(cap * sizeof *node);
    if (code == NULL || instr == NULL || node == NULL) {
        ml_mem_free(code, cap * sizeof *code);
        ml_mem_free(instr, cap * sizeof *instr);
        ml_mem_free(node, cap * sizeof *node);
        return -1;
    }
    if (ps->last_depth > 0) {
        memcpy(code, ps->last_code, ps->last_depth * sizeof *code);
        memcpy(instr, ps->last_instr, ps->last_depth * sizeof *instr);
        memcpy(node, ps->last_node, ps->last_depth * sizeof *node);
    }
    ml_mem_free(ps->last_code, ps->last_cap * sizeof *ps->last_code);
    ml_mem_free(ps->last_instr, ps->last_cap * sizeof *ps->last_instr);
    ml_mem_free(ps->last_node, ps->last_cap * sizeof *ps->last_node);
    ps->last_code = code;
    ps->last_instr = instr;
    ps->last_node = node;
    ps->last_cap = cap;
    return 0;
}

static inline size_t node_hash(uint32_t parent, uint32_t code_id, uint32_t instr) {
    uint64_t x = ((uint64_t)parent << 32 | code_id) * 0x9e3779b97f4a7c15ull;
    x ^= (uint64_t)instr * 0xc2b2ae3d27d4eb4full;
    return (size_t)(x ^ (x >> 29));
}

static int grow_table(ml_pystack *ps) {
    size_t cap = ps->table_cap ? ps->table_cap * 2 : 1024;
    ml_node_slot *t = ml_mem_alloc(cap * sizeof *t);
    if (t == NULL) return -1;
    for (size_t i = 0; i < ps->table_cap; i++) {
        ml_node_slot *o = &ps->table[i];
        if (o->node == 0) continue;
        size_t j = node_hash(o->parent, o->code_id, o->instr) & (cap - 1);
        while (t[j].node != 0) j = (j + 1) & (cap - 1);
        t[j] = *o;
    }
    ml_mem_free(ps->table, ps->table_cap * sizeof *ps->table);
    ps->table = t;
    ps->table_cap = cap;
    return 0;
}

/* The node for (parent, code_id, instr), defining it (FRAME) if new. UINT32_MAX: it is new and the table
 * is full (a node the table has is found even then: aggregated mode keeps using the full table). */
static uint32_t node_for(ml_pystack *ps, ml_stream *s, uint32_t parent, uint32_t code_id, uint32_t instr) {
    size_t mask = ps->table_cap - 1;
    size_t j = node_hash(parent, code_id, instr) & mask;
    if (ps->table_cap != 0) {
        for (;;) {
            ml_node_slot *e = &ps->table[j];
            if (e->node == 0) break;
            if (e->parent == parent && e->code_id == code_id && e->instr == instr) return e->node;
            j = (j + 1) & mask;
        }
    }
    if (ps->table_used >= ml_max_stack_nodes) return UINT32_MAX;
    if ((ps->table_used + 1) * 2 > ps->table_cap) {
        if (grow_table(ps) != 0) return UINT32_MAX;
        mask = ps->table_cap - 1;
        j = node_hash(parent, code_id, instr) & mask;
        while (ps->table[j].node != 0) j = (j + 1) & mask;
    }
    if (ps->next_node == 0) ps->next_node = 1;
    uint32_t id = ps->next_node++;
    ps->table[j] = (ml_node_slot){parent, code_id, instr, id};
    ps->table_used++;
    uint8_t mem[32];
    ml_buf b;
    ml_buf_init(&b, mem, sizeof mem);
    ml_buf_varint(&b, id - parent); /* against the node's own id, as NATIVE_FRAME's (native.c) */
    ml_buf_varint(&b, code_id);
    ml_buf_varint(&b, instr);
    ml_stream_record(s, ML_R_FRAME, b.p, b.len);
    return id;
}

/* Room for a chain of `want` frames in the walk cache (which then starts empty). */
/* The pairs (pyframes.h) at 8 bytes past a page's start, so that an entry's address and the next entry's instruction
 * word are 16 bytes aligned: one entry more is mapped. */
static struct ml_walk_pair *pairs_alloc(size_t cap) {
    char *p = ml_mem_alloc((cap + 1) * sizeof(struct ml_walk_pair));
    return p != NULL ? (struct ml_walk_pair *)(void *)(p + 8) : NULL;
}

static void pairs_free(struct ml_walk_pair *pairs, size_t cap) {
    if (pairs != NULL) ml_mem_free((char *)pairs - 8, (cap + 1) * sizeof *pairs);
}

static int grow_cache(ml_pystack *ps, size_t want) {
    if (want > 2 * (size_t)ML_PY_MAX_DEPTH) want = 2 * (size_t)ML_PY_MAX_DEPTH;
    ml_walk_cache *c = &ps->wc;
    if (c->cap >= want) return 0;
    size_t cap = c->cap ? c->cap : 256;
    while (cap < want) cap *= 2;
    ml_rawframe *raw = ml_mem_alloc(cap * sizeof *raw);
    ml_rawframe *fresh = ml_mem_alloc(cap * sizeof *fresh);
    struct ml_walk_pair *pairs = pairs_alloc(cap);
    struct ml_walk_slot *slots = ml_mem_alloc(2 * cap * sizeof *slots);
    struct ml_walk_code *codes = ml_mem_alloc(cap * sizeof *codes);
    if (raw == NULL || fresh == NULL || pairs == NULL || slots == NULL || codes == NULL) {
        ml_mem_free(raw, cap * sizeof *raw);
        ml_mem_free(fresh, cap * sizeof *fresh);
        pairs_free(pairs, cap);
        ml_mem_free(slots, 2 * cap * sizeof *slots);
        ml_mem_free(codes, cap * sizeof *codes);
        return -1;
    }
    ml_mem_free(c->raw, c->cap * sizeof *c->raw);
    ml_mem_free(c->fresh, c->cap * sizeof *c->fresh);
    pairs_free(c->pairs, c->cap);
    ml_mem_free(c->slots, c->slot_cap * sizeof *c->slots);
    ml_mem_free(c->codes, c->cap * sizeof *c->codes);
    c->raw = raw, c->fresh = fresh, c->pairs = pairs, c->slots = slots, c->codes = codes;
    c->cap = cap, c->slot_cap = 2 * cap;
    c->len = 0, c->slot_used = 0, c->slot_gen = 0, c->slots_valid = 0;
    return 0;
}

static void release_cache(ml_pystack *ps) {
    ml_walk_cache *c = &ps->wc;
    ml_mem_free(c->raw, c->cap * sizeof *c->raw);
    ml_mem_free(c->fresh, c->cap * sizeof *c->fresh);
    pairs_free(c->pairs, c->cap);
    ml_mem_free(c->slots, c->slot_cap * sizeof *c->slots);
    ml_mem_free(c->codes, c->cap * sizeof *c->codes);
    memset(c, 0, sizeof *c);
}

/* The whole stack, leaf first into ps->walk, without the cache (a chain it cannot hold, free-threaded
 * 3.14+); the cache is grown for the next walk. Returns the frames written. */
static inline __attribute__((always_inline)) size_t walk_uncached(ml_pystack *ps) {
    size_t depth = ml_pyframes_walk(ps->walk, ps->walk_cap);
    if (depth > ps->walk_cap && ps->walk_cap < ML_PY_MAX_DEPTH) {
        if (grow_walk(ps, depth) == 0) depth = ml_pyframes_walk(ps->walk, ps->walk_cap);
    }
    /* A deep stack will walk through the cache next time (a thread that never has one never pays for its
     * memory). The chain holds shim frames too: room for twice the stack (failure only costs the cache). */
    if (depth >= ml_walk_cache_min() && depth <= ML_PY_MAX_DEPTH && 2 * depth + 16 > ps->wc.cap) (void)grow_cache(ps, 2 * depth + 16);
    return depth < ps->walk_cap ? depth : ps->walk_cap;
}

/* The last stack is compared by code object address: where code frees are counted and a code object was freed
 * since that stack was made, another may sit at its address now (the same frame at the same offset, another
 * function), so its nodes are not kept. The count may be read at any moment of a capture: the stack's code
 * objects are alive throughout (its frames own them), so a free of one comes after it. Where frees are not
 * counted, nothing tells. */
static inline int codes_moved(const ml_pystack *ps, int counted) {
    return counted && __atomic_load_n(&ml_code_frees, __ATOMIC_ACQUIRE) != ps->code_gen_seen;
}

/* Sets whole_depth where the next capture may take ml_pyframes_walk_whole's 1 for "the cache reused the whole last
 * stack and found nothing above it" and return the leaf's node as the general capture would: the parts of that test that only
 * ps holds, read now (the general capture alone changes them, and sets whole_depth to 0 first; ml_pystack_reset too). The
 * cache's count is the capture's (code_gen_seen), so that the walk's finding the count unmoved says codes_moved is
 * false; the cache holds the whole stack (its leaf's depth is last_depth). */
static inline __attribute__((always_inline)) void whole_next(ml_pystack *ps) {
    const ml_walk_cache *c = &ps->wc;
    size_t n = ps->last_depth;
    if (c->len > 0 && c->fast_len == c->len && c->raw[c->len - 1].depth == n && ps->hid_next != NULL && n > ps->hid_n &&
        ps->hid_n == ps->last_hidden && ps->last_code[ps->hid_n] == ps->hid_next && c->code_counted && c->code_gen == ps->code_gen_seen)
        ps->whole_depth = n;
}

/* The stack's frames k to n - 1 (root first: frame i is the last stack's own for i < reused, else w[-i]) stored as the
 * last stack's, each with its node from *node on (frame k - 1's); frames below h are hidden and get none. Returns 1
 * with *node the leaf's; or 0 where the tree is full, with *node what the capture returns: the node reached (kept
 * as a truncated stack, where the stream does not reset or the caller truncates), or UINT32_MAX (nothing kept). */
static inline __attribute__((always_inline)) int extend_stack(ml_pystack *ps, ml_stream *s, const ml_pyframe *w, size_t reused, size_t h,
                                                              size_t k, size_t n, int counted, int truncate, uint32_t *node) {
    uint32_t at = *node;
    for (size_t i = k; i < n; i++) {
        const void *code = i < reused ? ps->last_code[i] : w[-(ptrdiff_t)i].code;
        uint32_t instr = i < reused ? ps->last_instr[i] : w[-(ptrdiff_t)i].instr;
        if (i >= h) {
            uint32_t code_id = memo_code_id(ps, code, s, counted);
            if (code_id != 0) {
                uint32_t next = node_for(ps, s, at, code_id, instr);
                if (next == UINT32_MAX) {
                    ps->wc.len = 0;
                    if (ps->no_reset || truncate) {
                        ps->last_depth = i;
                        *node = at;
                        return 0;
                    }
                    ps->last_depth = 0;
                    *node = UINT32_MAX;
                    return 0;
                }
                at = next;
            }
            /* An unreadable code object is left out; the entry still matches next time. */
        }
        ps->last_code[i] = code;
        ps->last_instr[i] = instr;
        ps->last_node[i] = at;
    }
    *node = at;
    return 1;
}

static inline __attribute__((always_inline)) uint32_t capture_body(ml_pystack *ps, ml_stream *s, int truncate, int hinted);

/* The general capture. errno: nothing on its way sets it but the agent's own mmap and munmap, which keep it (mem.c),
 * so the recording path (record.h) need not save it around the capture. */
uint32_t ml_pystack_capture_general(ml_pystack *ps, ml_stream *s, int truncate, int hinted) {
    return capture_body(ps, s, truncate, hinted);
}

/* After ml_pyframes_walk_whole's 3: what the general capture does with the walk's answer taken from ps->wc.moved (its
 * own copy, `ML_HINT_MOVED`, so that the general capture keeps no test of it). ps->walk is there: the cache the walk
 * used was made by a general capture, which gets it first.
 *
 * Where the hidden root's memo applies, that comes to less, done here (else the general capture's copy): whole_depth
 * was set (ml_pystack_capture tested it), so at the end of the last capture the memo was of the last stack (n =
 * whole_depth frames, hid_n = last_hidden < n, hid_next = last_code[hid_n]), and the cache's count was code_gen_seen,
 * which the walk found unmoved: codes_moved is false. With the walk's frames (`fresh`, leaf first) on the last stack's
 * first `reused`, and reused > hid_n, a generation of the hidden set unchanged since the memo (read again here), the
 * general capture takes: not the whole last stack again (fresh 0 and reused n: left to it), h = hid_n (the memo's
 * case, whose test holds: frame hid_n is the last stack's, hid_next), the hidden frames' copy empty (reused > h),
 * k from reused up the frames that read as the last stack's (h is last_hidden), the node of frame k - 1 (k > h), then
 * each frame from k on with its code's id and its node, and the last stack, count and whole_next as below. */
uint32_t ml_pystack_capture_moved(ml_pystack *ps, ml_stream *s, int truncate) {
    const struct ml_walk_moved *mv = &ps->wc.moved;
    size_t reused = mv->reused, fresh = mv->n, n = reused + fresh, h = ps->hid_n;
    unsigned gen = atomic_load_explicit(&ml_pystack_hidden_gen, memory_order_acquire);
    if ((fresh == 0 && reused == ps->last_depth) || reused > ps->last_depth || reused <= h || ps->hid_next == NULL || ps->hid_gen != gen ||
        h != ps->last_hidden || ps->last_depth <= h || ps->last_code[h] != ps->hid_next || n > ps->last_cap || ps->walk == NULL)
        return capture_body(ps, s, truncate, ML_HINT_MOVED);
    ps->whole_depth = 0;
    int counted = ml_code_frees_counted();
    if (codes_moved(ps, counted)) return capture_body(ps, s, truncate, ML_HINT_MOVED); /* the general capture reads it too */
    /* Frame i >= reused of the stack, root first, is mv->out[n - 1 - i]. */
    const ml_pyframe *w = mv->out + n - 1;
    size_t k = reused, lim = n < ps->last_depth ? n : ps->last_depth;
    while (k < lim && ps->last_code[k] == w[-(ptrdiff_t)k].code && ps->last_instr[k] == w[-(ptrdiff_t)k].instr) k++;
    uint32_t node = ps->last_node[k - 1];
    if (!extend_stack(ps, s, w, reused, h, k, n, counted, truncate, &node)) return node;
    ps->last_depth = n;
    ps->code_gen_seen = __atomic_load_n(&ml_code_frees, __ATOMIC_ACQUIRE);
    whole_next(ps);
    return node;
}

static inline __attribute__((always_inline)) uint32_t capture_body(ml_pystack *ps, ml_stream *s, int truncate, int hinted) {
    ps->whole_depth = 0; /* set again at the end, where this capture leaves what it needs */
    if (ps->walk == NULL && grow_walk(ps, 256) != 0) return 0;
    /* Whether code frees are counted for this thread's frames (pyframes.h), read before any count. */
    int counted = ml_code_frees_counted();
    /* The stack, root first, is: the first `reused` frames of the last stack (the walk cache found their
     * part of the chain unchanged), then ps->walk[fresh - 1] ... ps->walk[0]. */
    size_t reused = 0, fresh;
    if (hinted != ML_HINT_MOVED && ps->wc.len == 0 && ps->last_depth < ml_walk_cache_min()) {
        /* The last stack was short (or is not known): a short stack is walked at least as fast without the
         * cache, which then waits for a deep one. */
        fresh = walk_uncached(ps);
    } else {
        if (hinted == ML_HINT_MOVED) {
            /* ml_pyframes_walk_whole answered 3, having found a cache of len > 0 (so the general capture would have come
             * here), and gave what ml_pyframes_walk_cached would have: at most 2 frames (the walk has room for 256). */
            const struct ml_walk_moved *mv = &ps->wc.moved;
            for (size_t i = 0; i < mv->n; i++) ps->walk[i] = mv->out[i];
            fresh = mv->n;
            reused = mv->reused;
        } else {
            fresh = ml_pyframes_walk_cached(&ps->wc, ps->walk, ps->walk_cap, &reused, hinted);
        }
        if (fresh == SIZE_MAX) {
            ps->wc.len = 0;
            fresh = walk_uncached(ps);
            reused = 0;
        } else if (fresh == 0 && reused > 0 && reused == ps->last_depth && ps->hid_next != NULL && reused > ps->hid_n &&
                   ps->hid_n == ps->last_hidden && ps->last_code[ps->hid_n] == ps->hid_next &&
                   ps->hid_gen == atomic_load_explicit(&ml_pystack_hidden_gen, memory_order_acquire) && !codes_moved(ps, counted)) {
            /* The cache reused the whole last stack and found nothing above it: where the hidden root's memo is
             * of that stack (below), everything after this would keep the stack and give its leaf's node again. */
            whole_next(ps);
            return ps->last_node[reused - 1];
        }
    }
    if (reused > ps->last_depth) { /* cannot be: the cache's frames were stored as the last stack */
        ps->wc.len = 0;
        reused = 0;
    }
    size_t n = reused + fresh;
    if (n == 0) {
        ps->wc.len = 0;
        ps->last_depth = 0;
        return 0;
    }
    /* Frame i of the stack, root first: the last stack's for i < reused, else the walk's. */
    const ml_pyframe *w = ps->walk + n - 1; /* w[-i] for i >= reused */
#define FRAME_CODE(i) ((i) < reused ? ps->last_code[i] : w[-(ptrdiff_t)(i)].code)
#define FRAME_INSTR(i) ((i) < reused ? ps->last_instr[i] : w[-(ptrdiff_t)(i)].instr)
    /* The bootstrap's frames at the root are not the program's. Where the root is the last stack's (its
     * hidden codes, then the same first shown code), the set is not searched again: searching it for every
     * root frame was a tenth of the agent's instructions on a program of 15-frame stacks. A generation read
     * before the search is stored with its result, so a change meanwhile only makes the next event search. */
    unsigned gen = atomic_load_explicit(&ml_pystack_hidden_gen, memory_order_acquire);
    size_t h = 0;
    if (ps->hid_gen == gen && ps->hid_next != NULL && reused > ps->hid_n) {
        /* The memo is of the last stack's root, and the walk cache reused that root and the frame after it. */
        h = ps->hid_n;
    } else if (ps->hid_gen == gen) {
        size_t lim = n < ps->hid_n ? n : ps->hid_n;
        if (reused == 0) {
            /* Every frame is the walk's (a short stack, walked without the cache): no test of which a frame is. */
            while (h < lim && w[-(ptrdiff_t)h].code == ps->hid_code[h]) h++;
        } else {
            while (h < lim && FRAME_CODE(h) == ps->hid_code[h]) h++;
        }
    }
    if (!(ps->hid_gen == gen && h == ps->hid_n && h < n && FRAME_CODE(h) == ps->hid_next)) {
        while (h < n && hidden(FRAME_CODE(h))) h++;
        size_t m = h < ML_HID_MEMO ? h : ML_HID_MEMO;
        for (size_t i = 0; i < m; i++) ps->hid_code[i] = FRAME_CODE(i);
        ps->hid_n = m;
        ps->hid_next = m == h && h < n ? FRAME_CODE(h) : NULL;
        ps->hid_gen = gen;
    }
    if (h == n || grow_last(ps, n) != 0) {
        ps->wc.len = 0;
        ps->last_depth = 0;
        return 0;
    }
    /* The hidden frames are kept, without nodes, for the walk cache (its reused frames are read from
     * here); a walk without it reads none. */
    if (ps->wc.len > 0)
        for (size_t i = reused; i < h; i++) {
            ps->last_code[i] = w[-(ptrdiff_t)i].code;
            ps->last_instr[i] = w[-(ptrdiff_t)i].instr;
            ps->last_node[i] = 0;
        }
    /* The matching prefix keeps its nodes; the reused part matches by construction. Nodes hang from the
     * first frame that is not hidden: where that moved, they are made again. */
    size_t k;
    if (codes_moved(ps, counted)) {
        k = h < ps->last_depth ? h : ps->last_depth;
    } else if (h == ps->last_hidden) {
        k = reused > h ? reused : h;
        size_t lim = n < ps->last_depth ? n : ps->last_depth;
        while (k < lim && ps->last_code[k] == w[-(ptrdiff_t)k].code && ps->last_instr[k] == w[-(ptrdiff_t)k].instr) k++;
    } else {
        k = h < ps->last_hidden ? h : ps->last_hidden;
        if (k > ps->last_depth) k = ps->last_depth;
    }
    uint32_t node = k > h ? ps->last_node[k - 1] : 0;
    if (!extend_stack(ps, s, w, reused, h, k, n, counted, truncate, &node)) return node;
#undef FRAME_CODE
#undef FRAME_INSTR
    ps->last_depth = n;
    ps->last_hidden = h;
    ps->code_gen_seen = __atomic_load_n(&ml_code_frees, __ATOMIC_ACQUIRE);
    whole_next(ps);
    return node;
}

/* What the general capture does after ml_pyframes_walk_cached's answer "1 frame written, *reused the depth below the
 * last stack's leaf" where whole_depth is set (ml_pystack_capture tested it and the hidden set's generation): the
 * walk_whole's 2 says the cache's leaf moved to c->step, the rest of the chain as it was. With whole_next's facts
 * (the hidden root's memo is of the last stack, which has n = whole_depth frames, n > hid_n = last_hidden; the
 * cache's count is code_gen_seen and the walk found it unmoved, so codes_moved is false), the general capture comes
 * to: h = hid_n (reused, n - 1, is past the memo's root, or is its first shown frame, whose code is the leaf's:
 * the memo's condition holds either way, and the leaf's code is the last stack's), k = n - 1, or n where the leaf
 * reads as the last stack's leaf; then the leaf's node from its parent's, and the last stack's leaf stored. Frees
 * are counted for this thread (ml_pyframes_walk_whole answers 2 only then), as the general capture reads them. */
uint32_t ml_pystack_capture_step(ml_pystack *ps, ml_stream *s, int truncate) {
    size_t n = ps->whole_depth, h = ps->last_hidden;
    ps->whole_depth = 0; /* set again at the end, as the general capture does */
    const void *code = ps->wc.step.code;
    uint32_t instr = ps->wc.step.instr;
    uint32_t node;
    if (ps->last_code[n - 1] == code && ps->last_instr[n - 1] == instr) {
        node = ps->last_node[n - 1];
    } else {
        node = n - 1 > h ? ps->last_node[n - 2] : 0;
        uint32_t code_id = memo_code_id(ps, code, s, 1);
        if (code_id != 0) {
            uint32_t next = node_for(ps, s, node, code_id, instr);
            if (next == UINT32_MAX) {
                ps->wc.len = 0;
                if (ps->no_reset || truncate) {
                    ps->last_depth = n - 1;
                    return node;
                }
                ps->last_depth = 0;
                return UINT32_MAX;
            }
            node = next;
        }
        ps->last_instr[n - 1] = instr;
        ps->last_node[n - 1] = node;
    }
    /* whole_next's test, of which only the count can have moved (whole_next cost objects 28 instructions a capture):
     * whole_depth was n, so every other part of it held at the end of the last capture, and neither the step (the
     * last stack's leaf's instruction and node) nor ml_pyframes_walk_whole's 2 (the cache's leaf's instruction word,
     * c->step) changes what it reads (the cache's length, fast_len, its leaf's depth, code_counted and code_gen; the
     * hidden root's memo, last_hidden, the last stack's codes). */
    uint64_t seen = __atomic_load_n(&ml_code_frees, __ATOMIC_ACQUIRE);
    ps->code_gen_seen = seen;
    if (seen == ps->wc.code_gen) ps->whole_depth = n;
    return node;
}

void ml_pystack_reset(ml_pystack *ps) {
    if (ps->table != NULL) memset(ps->table, 0, ps->table_cap * sizeof *ps->table);
    ps->table_used = 0;
    ps->next_node = 1;
    ps->last_depth = 0;
    ps->whole_depth = 0;
    ps->wc.len = 0;
}

void ml_pystack_release(ml_pystack *ps) {
    int no_reset = ps->no_reset;
    ml_mem_free(ps->walk, ps->walk_cap * sizeof *ps->walk);
    ml_mem_free(ps->last_code, ps->last_cap * sizeof *ps->last_code);
    ml_mem_free(ps->last_instr, ps->last_cap * sizeof *ps->last_instr);
    ml_mem_free(ps->last_node, ps->last_cap * sizeof *ps->last_node);
    ml_mem_free(ps->table, ps->table_cap * sizeof *ps->table);
    ml_mem_free(ps->scratch, ps->scratch_cap);
    release_cache(ps);
    memset(ps, 0, sizeof *ps);
    ps->no_reset = no_reset;
}
