/* Sampling: the per-thread Poisson counter and the table of recorded live blocks (sample.h). */
#include "sample.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mem.h"
#include "service_stream.h"

__thread ml_sample_tls ml_sample_t;
int ml_sampling;
uint64_t ml_sample_exact = UINT64_MAX;
uint32_t ml_sample_epoch;

static double g_rate;
static uint64_t g_seed;
static atomic_uint g_thread_ordinal; /* threads other than the main one seeded so far this session (seeded mode) */

static inline uint64_t mix64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

/* xorshift64*: fast, and good enough to draw gaps (its low bits are not used). */
static inline uint64_t next_random(ml_sample_tls *t) {
    uint64_t x = t->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    t->rng = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* A gap of the Poisson process: exponential with mean R, rounded up to whole bytes (an allocation of S
 * bytes holds a point iff the continuous gap is at most S, iff its ceiling is). */
static int64_t draw_gap(ml_sample_tls *t) {
    double u = (double)(next_random(t) >> 11) * 0x1.0p-53; /* [0, 1) */
    double gap = -g_rate * log1p(-u);                      /* -R ln(1 - u): exponential, mean R */
    if (gap > 9.0e18) gap = 9.0e18;
    int64_t g = (int64_t)ceil(gap);
    return g > 0 ? g : 1;
}

static void seed_thread(ml_sample_tls *t) {
    uint64_t s;
    if (g_seed != 0) {
        /* Seeded: the main thread (its id is the process's) always gets the first stream, and the nth
         * other thread to allocate the nth stream after it. So a seed reproduces the main thread's samples
         * even when a worker happens to allocate first, which the scheduler decides (free-threaded builds
         * under load). */
        unsigned stream = syscall(SYS_gettid) == getpid() ? 0 : 1 + atomic_fetch_add(&g_thread_ordinal, 1);
        s = mix64(g_seed + 0x9e3779b97f4a7c15ull * (1 + (uint64_t)stream));
    } else if (syscall(SYS_getrandom, &s, sizeof s, 1 /* GRND_NONBLOCK */) != (long)sizeof s) {
        s = mix64(ml_now_ns() ^ ((uint64_t)syscall(SYS_gettid) << 32) ^ (uint64_t)(uintptr_t)t);
    }
    t->rng = s != 0 ? s : 0x853c49e6748fea9bull;
}

int ml_sample_slow(uint64_t size) {
    ml_sample_tls *t = &ml_sample_t;
    int64_t s = (int64_t)(size != 0 ? size : 1);
    if (t->epoch != ml_sample_epoch) {
        /* The thread's first allocation in this session. */
        seed_thread(t);
        t->epoch = ml_sample_epoch;
        t->left = draw_gap(t);
        int64_t left = t->left - s;
        if (left > 0) {
            t->left = left;
            return 0;
        }
    }
    /* A point fell inside this allocation: the next gap starts at its end (the process is memoryless). */
    t->left = draw_gap(t);
    return 1;
}

/* ── the table of recorded live blocks ───────────────────────────────────────────────────────────
 * Linear probing over addresses (0 = empty) at a load of at most one half, deletion by shifting the rest
 * of the probe run back (no tombstones, so a day of churn does not fill it). Readers run without a lock:
 * `g_version` is odd while a writer (holding g_lock) changes the table, and a reader that sees it change
 * looks again. A table outgrown is never unmapped, since a reader may still be probing it; it stays for
 * the next session to reuse (the tables kept add up to less than the current one). */

typedef struct addr_table {
    uint64_t mask;
    _Atomic uint64_t slots[];
} addr_table;

#define MIN_SLOTS ((uint64_t)1 << 12)
#define MAX_SLOTS ((uint64_t)1 << 20) /* 8 MiB: half a million recorded live blocks */
#define KEPT_TABLES 16

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(addr_table *) g_table;
static atomic_uint g_version;
static uint64_t g_live;
static atomic_uint_fast64_t g_dropped;
static int g_full_noted;
static addr_table *g_kept[KEPT_TABLES];
static size_t g_nkept;

_Atomic uint64_t ml_sample_filter[((size_t)1 << ML_SAMPLE_FILTER_BITS) / 64];
/* Recorded live blocks per filter bit (writers only, under g_lock): the bit is cleared when its count is. */
static uint32_t g_filter_count[(size_t)1 << ML_SAMPLE_FILTER_BITS];

static void filter_add(uint64_t addr) {
    uint32_t b = ml_sample_filter_bit(addr);
    if (g_filter_count[b]++ == 0) atomic_fetch_or_explicit(&ml_sample_filter[b >> 6], (uint64_t)1 << (b & 63), memory_order_relaxed);
}

static void filter_remove(uint64_t addr) {
    uint32_t b = ml_sample_filter_bit(addr);
    if (g_filter_count[b] > 0 && --g_filter_count[b] == 0)
        atomic_fetch_and_explicit(&ml_sample_filter[b >> 6], ~((uint64_t)1 << (b & 63)), memory_order_relaxed);
}

static inline uint64_t slot_of(uint64_t addr, uint64_t mask) {
    return mix64(addr) & mask;
}

static addr_table *table_new(uint64_t slots) {
    addr_table *t = ml_mem_alloc(sizeof *t + slots * sizeof t->slots[0]);
    if (t != NULL) t->mask = slots - 1;
    return t;
}

static void table_put(addr_table *t, uint64_t addr) {
    uint64_t j = slot_of(addr, t->mask);
    while (atomic_load_explicit(&t->slots[j], memory_order_relaxed) != 0) j = (j + 1) & t->mask;
    atomic_store_explicit(&t->slots[j], addr, memory_order_relaxed);
}

/* Writers: inside begin/end, with g_lock held. */
static void write_begin(void) {
    atomic_fetch_add_explicit(&g_version, 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
}

static void write_end(void) {
    atomic_fetch_add_explicit(&g_version, 1, memory_order_release);
}

int ml_sample_begin(uint64_t rate, uint64_t exact, uint64_t seed) {
    pthread_mutex_lock(&g_lock);
    addr_table *t = atomic_load(&g_table);
    if (t == NULL) {
        t = table_new(MIN_SLOTS);
        if (t == NULL) {
            pthread_mutex_unlock(&g_lock);
            return -1;
        }
        atomic_store(&g_table, t);
    }
    write_begin();
    for (uint64_t j = 0; j <= t->mask; j++) atomic_store_explicit(&t->slots[j], 0, memory_order_relaxed);
    for (size_t i = 0; i < sizeof ml_sample_filter / sizeof ml_sample_filter[0]; i++)
        atomic_store_explicit(&ml_sample_filter[i], 0, memory_order_relaxed);
    memset(g_filter_count, 0, sizeof g_filter_count);
    write_end();
    g_live = 0;
    atomic_store(&g_dropped, 0);
    g_full_noted = 0;
    pthread_mutex_unlock(&g_lock);
    g_rate = (double)(rate != 0 ? rate : 1);
    g_seed = seed;
    atomic_store(&g_thread_ordinal, 0);
    ml_sample_exact = exact != 0 ? exact : UINT64_MAX;
    if (++ml_sample_epoch == 0) ml_sample_epoch = 1;
    ml_sampling = 1;
    return 0;
}

void ml_sample_end(void) {
    ml_sampling = 0;
    pthread_mutex_lock(&g_lock);
    g_live = 0;
    pthread_mutex_unlock(&g_lock);
}

void ml_sample_forget(void) {
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    g_lock = fresh;
    ml_sampling = 0;
}

int ml_sampled_add(uint64_t addr) {
    if (addr == 0) return 0;
    pthread_mutex_lock(&g_lock);
    addr_table *t = atomic_load_explicit(&g_table, memory_order_relaxed);
    if ((g_live + 1) * 2 > t->mask + 1) {
        uint64_t slots = (t->mask + 1) * 2;
        addr_table *grown = slots <= MAX_SLOTS && g_nkept < KEPT_TABLES ? table_new(slots) : NULL;
        if (grown == NULL) {
            atomic_fetch_add(&g_dropped, 1);
            int note = !g_full_noted;
            g_full_noted = 1;
            pthread_mutex_unlock(&g_lock);
            if (note)
                ml_note(ML_N_WARNING,
                        "the table of sampled live blocks is full: further samples are not recorded, so estimates are low from here");
            return 0;
        }
        for (uint64_t j = 0; j <= t->mask; j++) {
            uint64_t a = atomic_load_explicit(&t->slots[j], memory_order_relaxed);
            if (a != 0) table_put(grown, a);
        }
        write_begin();
        atomic_store_explicit(&g_table, grown, memory_order_release);
        write_end();
        g_kept[g_nkept++] = t;
        t = grown;
    }
    write_begin();
    table_put(t, addr);
    filter_add(addr);
    write_end();
    g_live++;
    pthread_mutex_unlock(&g_lock);
    return 1;
}

/* Probes for addr; the slot or -1. Readers and writers alike. */
static int64_t find(addr_table *t, uint64_t addr) {
    for (uint64_t j = slot_of(addr, t->mask);; j = (j + 1) & t->mask) {
        uint64_t a = atomic_load_explicit(&t->slots[j], memory_order_relaxed);
        if (a == addr) return (int64_t)j;
        if (a == 0) return -1;
    }
}

int ml_sampled_remove_slow(uint64_t addr) {
    /* Without the lock first: the filter's bit may be another block's. */
    for (;;) {
        unsigned v = atomic_load_explicit(&g_version, memory_order_acquire);
        if (v & 1) break; /* a writer is at work: ask under the lock */
        addr_table *t = atomic_load_explicit(&g_table, memory_order_acquire);
        int64_t j = find(t, addr);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&g_version, memory_order_relaxed) != v) continue;
        if (j < 0) return 0;
        break;
    }
    pthread_mutex_lock(&g_lock);
    addr_table *t = atomic_load_explicit(&g_table, memory_order_relaxed);
    int64_t found = find(t, addr);
    if (found < 0) {
        pthread_mutex_unlock(&g_lock);
        return 0;
    }
    write_begin();
    /* Knuth's deletion for linear probing: move back every later entry of the run that may not stay. */
    uint64_t hole = (uint64_t)found, mask = t->mask;
    for (uint64_t j = (hole + 1) & mask;; j = (j + 1) & mask) {
        uint64_t a = atomic_load_explicit(&t->slots[j], memory_order_relaxed);
        if (a == 0) break;
        uint64_t home = slot_of(a, mask);
        /* a may move to the hole if its home is not in (hole, j] (cyclically). */
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            atomic_store_explicit(&t->slots[hole], a, memory_order_relaxed);
            hole = j;
        }
    }
    atomic_store_explicit(&t->slots[hole], 0, memory_order_relaxed);
    filter_remove(addr);
    write_end();
    if (g_live > 0) g_live--;
    pthread_mutex_unlock(&g_lock);
    return 1;
}

void ml_sample_stats(uint64_t *live, uint64_t *capacity, uint64_t *dropped) {
    pthread_mutex_lock(&g_lock);
    addr_table *t = atomic_load(&g_table);
    *live = g_live;
    *capacity = t != NULL ? t->mask + 1 : 0;
    pthread_mutex_unlock(&g_lock);
    *dropped = atomic_load(&g_dropped);
}
