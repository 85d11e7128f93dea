/* Aggregated mode.
 *
 * Live allocations: a hash table keyed by (domain, address), split into stripes with a mutex each (two
 * threads contend only when their addresses hash to the same stripe). Each entry points to its location,
 * so a free from any thread finds the counters to decrement.
 *
 * Locations: (stream, stack, native stack, allocator), created by their own thread (the thread's map needs
 * no lock), counters guarded by striped mutexes (a free from another thread may change them). The share
 * of the peak is computed lazily: a location remembers the seq of its last change; when it changes and
 * that seq is not after the global peak's seq, its live counters are the ones it had at the peak and are
 * copied to saved-peak first. A reader takes `live` if updated_seq <= peak_seq, otherwise `saved_peak`.
 *
 * Mappings (mmap, mremap) are kept apart, as sorted disjoint pieces (mappings.h): munmap may
 * remove any part of one or several of them.
 *
 * Changed locations are pushed (once) on a lock-free list that the service thread takes whole for each
 * CHECKPOINT. */
#include "aggregate.h"

#include <pthread.h>
#include <string.h>

#include "common.h"
#include "encode.h"
#include "mappings.h"
#include "mem.h"
#include "service_stream.h"
#include "state.h"

typedef struct ml_loc {
    uint32_t stream, stack, native, allocator;
    uint64_t total_count, total_bytes;
    uint64_t live_count, live_bytes;
    uint64_t saved_count, saved_bytes;
    uint64_t updated_seq;
    int dirty; /* on the dirty list (loc stripe lock) */
    struct ml_loc *next_dirty;
} ml_loc;

typedef struct live_entry {
    uint64_t key; /* address | domain << 60; 0: empty */
    uint64_t size;
    ml_loc *loc;
} live_entry;

#define ADDR_STRIPES 256
#define LOC_STRIPES 1024

static struct addr_stripe {
    pthread_mutex_t lock;
    live_entry *tab;
    size_t cap, used;
    char pad[64];
} g_addr[ADDR_STRIPES];

static pthread_mutex_t g_loc_locks[LOC_STRIPES];
static pthread_mutex_t g_arena_lock = PTHREAD_MUTEX_INITIALIZER;
static ml_arena g_loc_arena;
static _Atomic(ml_loc *) g_dirty;
static atomic_uint_fast64_t g_heap;
static atomic_uint_fast64_t g_peak;
static atomic_uint_fast64_t g_peak_seq;
static atomic_flag g_peak_lock = ATOMIC_FLAG_INIT;
static int g_ready;
/* What the last CHECKPOINT said of the heap (service thread only): a periodic one with no change since
 * is left out. */
static uint64_t g_cp_heap, g_cp_peak;
static int g_cp_written;

/* mmap and mremap allocations, as pieces (mappings.h): munmap may remove any part of them. One mutex: the
 * kernel serializes a process's mmap and munmap calls on its own lock anyway. */
static pthread_mutex_t g_maps_lock = PTHREAD_MUTEX_INITIALIZER;
static ml_mappings g_maps;

static inline uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

static inline pthread_mutex_t *loc_lock(const ml_loc *l) {
    return &g_loc_locks[mix((uint64_t)(uintptr_t)l) % LOC_STRIPES];
}

static int domain_of_allocator(unsigned a) {
    if (a >= ML_A_PYMALLOC_MALLOC && a <= ML_A_PYMALLOC_REALLOC) return 1;
    if (a == ML_A_TRACEMALLOC_TRACK) return 2;
    return 0;
}

static int domain_of_deallocator(unsigned d) {
    if (d == ML_D_PYMALLOC_FREE) return 1;
    if (d == ML_D_TRACEMALLOC_UNTRACK) return 2;
    return 0;
}

int ml_aggregate_begin(void) {
    for (size_t i = 0; i < ADDR_STRIPES; i++) {
        pthread_mutex_init(&g_addr[i].lock, NULL);
        g_addr[i].tab = NULL;
        g_addr[i].cap = g_addr[i].used = 0;
    }
    for (size_t i = 0; i < LOC_STRIPES; i++) pthread_mutex_init(&g_loc_locks[i], NULL);
    atomic_store(&g_dirty, NULL);
    atomic_store(&g_heap, 0);
    atomic_store(&g_peak, 0);
    atomic_store(&g_peak_seq, 0);
    memset(&g_maps, 0, sizeof g_maps);
    g_cp_written = 0;
    g_ready = 1;
    return 0;
}

uint64_t ml_aggregate_heap(void) {
    return atomic_load(&g_heap);
}

/* ── live allocations ──────────────────────────────────────────────────────────────────────────── */

static int stripe_grow(struct addr_stripe *s) {
    size_t cap = s->cap ? s->cap * 2 : 1024;
    live_entry *t = ml_mem_alloc(cap * sizeof *t);
    if (t == NULL) return -1;
    for (size_t i = 0; i < s->cap; i++) {
        live_entry *e = &s->tab[i];
        if (e->key == 0) continue;
        size_t j = (mix(e->key) >> 8) & (cap - 1);
        while (t[j].key != 0) j = (j + 1) & (cap - 1);
        t[j] = *e;
    }
    ml_mem_free(s->tab, s->cap * sizeof *s->tab);
    s->tab = t;
    s->cap = cap;
    return 0;
}

/* Removes the entry at i, moving later entries of its probe run back (no tombstones). */
static void stripe_remove_at(struct addr_stripe *s, size_t i) {
    size_t mask = s->cap - 1;
    size_t hole = i;
    for (size_t j = (i + 1) & mask; s->tab[j].key != 0; j = (j + 1) & mask) {
        size_t home = (mix(s->tab[j].key) >> 8) & mask;
        /* The entry at j may fill the hole if its home is not in (hole, j]. */
        int in_range = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!in_range) {
            s->tab[hole] = s->tab[j];
            hole = j;
        }
    }
    s->tab[hole].key = 0;
    s->tab[hole].loc = NULL;
    s->used--;
}

static struct addr_stripe *stripe_of(uint64_t key) {
    return &g_addr[mix(key) % ADDR_STRIPES];
}

/* ── locations ─────────────────────────────────────────────────────────────────────────────────── */

static void mark_dirty(ml_loc *l) {
    if (l->dirty) return;
    l->dirty = 1;
    ml_loc *head = atomic_load(&g_dirty);
    do {
        l->next_dirty = head;
    } while (!atomic_compare_exchange_weak(&g_dirty, &head, l));
}

/* Applies a change at `seq` (the location's stripe lock is taken here). A free ends `count` allocations:
 * 1, or 0 for a piece of a mapping whose other pieces are still live. */
static void loc_change(ml_loc *l, uint64_t seq, int alloc, uint64_t size, unsigned count) {
    pthread_mutex_t *m = loc_lock(l);
    pthread_mutex_lock(m);
    if (l->updated_seq <= atomic_load(&g_peak_seq)) {
        /* Unchanged since the peak: what is live now is what was live then. */
        l->saved_count = l->live_count;
        l->saved_bytes = l->live_bytes;
    }
    if (alloc) {
        l->total_count++;
        l->total_bytes += size;
        l->live_count++;
        l->live_bytes += size;
    } else {
        l->live_count = l->live_count > count ? l->live_count - count : 0;
        l->live_bytes = l->live_bytes > size ? l->live_bytes - size : 0;
    }
    if (seq > l->updated_seq) l->updated_seq = seq;
    mark_dirty(l);
    pthread_mutex_unlock(m);
}

static ml_loc *loc_for(ml_aggthread *a, uint32_t stream, uint32_t stack, uint32_t native, unsigned allocator) {
    if ((a->used + 1) * 2 > a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 256;
        ml_aggslot *t = ml_mem_alloc(cap * sizeof *t);
        if (t == NULL) return NULL;
        for (size_t i = 0; i < a->cap; i++) {
            ml_aggslot *e = &a->slots[i];
            if (e->loc == NULL) continue;
            size_t j = mix(((uint64_t)e->stack << 32) ^ ((uint64_t)e->native << 4) ^ e->allocator) & (cap - 1);
            while (t[j].loc != NULL) j = (j + 1) & (cap - 1);
            t[j] = *e;
        }
        ml_mem_free(a->slots, a->cap * sizeof *a->slots);
        a->slots = t;
        a->cap = cap;
    }
    size_t mask = a->cap - 1;
    size_t j = mix(((uint64_t)stack << 32) ^ ((uint64_t)native << 4) ^ allocator) & mask;
    for (;; j = (j + 1) & mask) {
        ml_aggslot *e = &a->slots[j];
        if (e->loc == NULL) break;
        if (e->stack == stack && e->native == native && e->allocator == allocator) return e->loc;
    }
    pthread_mutex_lock(&g_arena_lock);
    ml_loc *l = ml_arena_alloc(&g_loc_arena, sizeof *l);
    pthread_mutex_unlock(&g_arena_lock);
    if (l == NULL) return NULL;
    memset(l, 0, sizeof *l);
    l->stream = stream;
    l->stack = stack;
    l->native = native;
    l->allocator = allocator;
    a->slots[j] = (ml_aggslot){stack, native, allocator, l};
    a->used++;
    return l;
}

static void raise_peak(uint64_t heap, uint64_t seq) {
    if (heap <= atomic_load_explicit(&g_peak, memory_order_relaxed)) return;
    /* A tiny lock, taken only while the heap is at a new high, keeps peak and peak_seq together. */
    while (atomic_flag_test_and_set_explicit(&g_peak_lock, memory_order_acquire)) {
    }
    if (heap > atomic_load(&g_peak)) {
        atomic_store(&g_peak, heap);
        atomic_store(&g_peak_seq, seq);
    }
    atomic_flag_clear_explicit(&g_peak_lock, memory_order_release);
}

/* ── mappings ──────────────────────────────────────────────────────────────────────────────────── */

struct unmap_ctx {
    uint64_t seq;
};

/* Part of a mapping went away: the heap and its location lose the bytes; the location loses an
 * allocation when it was the mapping's last piece, as the full capture's reader counts it. */
static void on_unmapped(void *owner, uint64_t bytes, int ended, void *ctx) {
    atomic_fetch_sub(&g_heap, bytes);
    loc_change(owner, ((struct unmap_ctx *)ctx)->seq, 0, bytes, ended ? 1 : 0);
}

/* Caller holds g_maps_lock. */
static void maps_unmap(uint64_t seq, uint64_t addr, uint64_t size) {
    struct unmap_ctx ctx = {seq};
    ml_mappings_unmap(&g_maps, addr, size, on_unmapped, &ctx);
}

static int maps_contain(uint64_t addr) {
    pthread_mutex_lock(&g_maps_lock);
    int in = ml_mappings_contain(&g_maps, addr);
    pthread_mutex_unlock(&g_maps_lock);
    return in;
}

/* Whether addr is live as a system-allocator (domain 0) allocation. */
static int live_native(uint64_t addr) {
    struct addr_stripe *s = stripe_of(addr);
    int found = 0;
    pthread_mutex_lock(&s->lock);
    if (s->cap != 0) {
        size_t mask = s->cap - 1;
        for (size_t j = (mix(addr) >> 8) & mask; s->tab[j].key != 0; j = (j + 1) & mask) {
            if (s->tab[j].key == addr) {
                found = 1;
                break;
            }
        }
    }
    pthread_mutex_unlock(&s->lock);
    return found || maps_contain(addr);
}

void ml_aggregate_alloc(ml_aggthread *a, uint32_t stream, uint64_t seq, uint64_t addr, uint64_t size, unsigned allocator, uint32_t stack,
                        uint32_t native) {
    if (!g_ready) return;
    ml_loc *l = loc_for(a, stream, stack, native, allocator);
    if (l == NULL) return;
    int domain = domain_of_allocator(allocator);
    /* numpy reports with PyTraceMalloc_Track the buffers it got from malloc: counted once already. Keep the
     * entry (its untrack must find it) but attribute nothing to it. */
    if (domain == 2 && live_native(addr)) l = NULL;
    if (allocator == ML_A_MMAP || allocator == ML_A_MREMAP) {
        pthread_mutex_lock(&g_maps_lock);
        maps_unmap(seq, addr, size); /* MAP_FIXED replaced what it covers */
        int tracked = ml_mappings_add(&g_maps, addr, size, l) == 0;
        pthread_mutex_unlock(&g_maps_lock);
        if (tracked) {
            raise_peak(atomic_fetch_add(&g_heap, size) + size, seq);
            loc_change(l, seq, 1, size, 1);
        }
        return;
    }
    uint64_t key = addr | ((uint64_t)domain << 60);
    struct addr_stripe *s = stripe_of(key);
    pthread_mutex_lock(&s->lock);
    if ((s->used + 1) * 2 > s->cap && stripe_grow(s) != 0) {
        pthread_mutex_unlock(&s->lock);
        return;
    }
    size_t mask = s->cap - 1;
    size_t j = (mix(key) >> 8) & mask;
    ml_loc *replaced = NULL;
    uint64_t replaced_size = 0;
    for (;; j = (j + 1) & mask) {
        if (s->tab[j].key == 0) {
            s->used++;
            break;
        }
        if (s->tab[j].key == key) {
            /* Its free was not seen (allocated before tracking, or freed where we do not look). */
            replaced = s->tab[j].loc;
            replaced_size = s->tab[j].size;
            break;
        }
    }
    s->tab[j] = (live_entry){key, size, l};
    pthread_mutex_unlock(&s->lock);
    if (replaced != NULL) {
        loc_change(replaced, seq, 0, replaced_size, 1);
        if (domain != 2) atomic_fetch_sub(&g_heap, replaced_size);
    }
    if (domain != 2) raise_peak(atomic_fetch_add(&g_heap, size) + size, seq);
    if (l != NULL) loc_change(l, seq, 1, size, 1);
}

void ml_aggregate_free(uint64_t seq, uint64_t addr, unsigned deallocator, uint64_t size) {
    if (!g_ready) return;
    if (deallocator == ML_D_MUNMAP) {
        pthread_mutex_lock(&g_maps_lock);
        maps_unmap(seq, addr, size);
        pthread_mutex_unlock(&g_maps_lock);
        return;
    }
    int domain = domain_of_deallocator(deallocator);
    uint64_t key = addr | ((uint64_t)domain << 60);
    struct addr_stripe *s = stripe_of(key);
    pthread_mutex_lock(&s->lock);
    if (s->cap == 0) {
        pthread_mutex_unlock(&s->lock);
        return;
    }
    size_t mask = s->cap - 1;
    size_t j = (mix(key) >> 8) & mask;
    for (; s->tab[j].key != 0 && s->tab[j].key != key; j = (j + 1) & mask) {
    }
    if (s->tab[j].key == 0) {
        pthread_mutex_unlock(&s->lock);
        return; /* allocated before tracking */
    }
    ml_loc *l = s->tab[j].loc;
    uint64_t freed = s->tab[j].size;
    stripe_remove_at(s, j);
    pthread_mutex_unlock(&s->lock);
    if (domain != 2) atomic_fetch_sub(&g_heap, freed);
    if (l != NULL) loc_change(l, seq, 0, freed, 1);
}

/* ── checkpoints ───────────────────────────────────────────────────────────────────────────────── */

#define CHECKPOINT_RECORD_MAX (1u << 20)

static void write_checkpoint(const uint8_t *entries, size_t len, size_t n, uint64_t seq, uint64_t heap, uint64_t peak, uint64_t peak_seq,
                             uint8_t *out) {
    ml_buf b;
    ml_buf_init(&b, out, len + 80);
    ml_buf_varint(&b, seq);
    ml_buf_varint(&b, ml_rel_ns());
    ml_buf_varint(&b, heap);
    ml_buf_varint(&b, peak);
    ml_buf_varint(&b, peak_seq);
    ml_buf_varint(&b, n);
    ml_buf_bytes(&b, entries, len);
    if (!b.overflow) ml_service_stream_record(ML_R_CHECKPOINT, b.p, b.len);
}

/* Checkpoints come from the service thread (periodic, near OOM), the stop and the program's end
 * (memlens_program_end, the main thread): one at a time, so that their records follow in seq order. Never
 * taken on an allocation's path. */
static pthread_mutex_t g_checkpoint_lock = PTHREAD_MUTEX_INITIALIZER;

static void checkpoint_locked(int always);

static void checkpoint(int always) {
    pthread_mutex_lock(&g_checkpoint_lock);
    checkpoint_locked(always);
    pthread_mutex_unlock(&g_checkpoint_lock);
}

static void checkpoint_locked(int always) {
    if (!g_ready) return;
    uint64_t heap = atomic_load(&g_heap);
    while (atomic_flag_test_and_set_explicit(&g_peak_lock, memory_order_acquire)) {
    }
    uint64_t peak = atomic_load(&g_peak), peak_seq = atomic_load(&g_peak_seq);
    atomic_flag_clear_explicit(&g_peak_lock, memory_order_release);
    if (!always && g_cp_written && atomic_load(&g_dirty) == NULL && heap == g_cp_heap && peak == g_cp_peak) return;
    g_cp_written = 1;
    g_cp_heap = heap;
    g_cp_peak = peak;
    uint64_t seq = ml_next_seq();
    ml_loc *list = atomic_exchange(&g_dirty, NULL);
    /* Entries are encoded into `entries`; a record is cut at about 1 MiB (a reader applies each). */
    uint8_t *entries = ml_mem_alloc(CHECKPOINT_RECORD_MAX + 256);
    uint8_t *out = ml_mem_alloc(CHECKPOINT_RECORD_MAX + 512);
    if (entries == NULL || out == NULL) {
        ml_mem_free(entries, CHECKPOINT_RECORD_MAX + 256);
        ml_mem_free(out, CHECKPOINT_RECORD_MAX + 512);
        return;
    }
    size_t len = 0, n = 0;
    int wrote = 0;
    while (list != NULL) {
        ml_loc *l = list;
        /* Read next before the flag is cleared: after that, a change may push l again. */
        pthread_mutex_t *m = loc_lock(l);
        pthread_mutex_lock(m);
        list = l->next_dirty;
        l->dirty = 0;
        l->next_dirty = NULL;
        uint64_t v[11] = {l->stream,     l->stack,      l->native,      l->allocator,   l->total_count, l->total_bytes,
                          l->live_count, l->live_bytes, l->saved_count, l->saved_bytes, l->updated_seq};
        pthread_mutex_unlock(m);
        for (int i = 0; i < 11; i++) len += ml_put_varint(entries + len, v[i]);
        n++;
        if (len >= CHECKPOINT_RECORD_MAX) {
            write_checkpoint(entries, len, n, seq, heap, peak, peak_seq, out);
            wrote = 1;
            len = n = 0;
        }
    }
    if (n > 0 || !wrote) write_checkpoint(entries, len, n, seq, heap, peak, peak_seq, out);
    ml_mem_free(entries, CHECKPOINT_RECORD_MAX + 256);
    ml_mem_free(out, CHECKPOINT_RECORD_MAX + 512);
}

void ml_aggregate_checkpoint(void) {
    checkpoint(1);
}

void ml_aggregate_checkpoint_changed(void) {
    checkpoint(0);
}

void ml_aggregate_thread_release(ml_aggthread *a) {
    ml_mem_free(a->slots, a->cap * sizeof *a->slots);
    memset(a, 0, sizeof *a);
}

void ml_aggregate_end(void) {
    if (!g_ready) return;
    g_ready = 0;
    for (size_t i = 0; i < ADDR_STRIPES; i++) {
        ml_mem_free(g_addr[i].tab, g_addr[i].cap * sizeof *g_addr[i].tab);
        g_addr[i].tab = NULL;
        g_addr[i].cap = g_addr[i].used = 0;
    }
    ml_mappings_release(&g_maps);
    ml_arena_release(&g_loc_arena);
    atomic_store(&g_dirty, NULL);
}

void ml_aggregate_forget(void) {
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    g_arena_lock = fresh;
    g_maps_lock = fresh;
    g_checkpoint_lock = fresh;
    atomic_flag_clear(&g_peak_lock);
    ml_aggregate_end();
}
