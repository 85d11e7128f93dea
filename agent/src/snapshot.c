/* The SNAPSHOT record. The service thread takes one every memory interval (default 10 ms), but only when it
 * gets a CPU: on a busy machine it went unscheduled for 40-100 ms, and a climb as short as
 * examples/leaky_service.py's (8 threads keep 20 MB in ~56 ms) then had too few samples for the accumulation
 * finding (a CI failure). So the program's own allocating threads take one too, at their census step
 * (census.c: every so many bytes a thread allocates, with or without a memory limit), when the last snapshot,
 * whoever took it, is older than the staleness (twice the memory interval, at least 20 ms; shorter in a
 * session's first second, stale_for below): one clock read
 * (the vDSO) per step, and the snapshot's own cost (a pread of /proc/self/statm, one of the cgroup's usage) at
 * most once per staleness process-wide. docs/agent.md, "Snapshots".
 *
 * Who writes what. One lock serializes every snapshot, the service thread's included, so their seq and time
 * go up together; an allocating thread only tries it (someone else is writing one: that one will do) and
 * never waits. An allocating thread writes into its own stream, taking seq under that stream's lock, so the
 * record is in the stream's seq order (readers order every stream's records by seq: capture-format.md); the
 * service thread's go to the service stream as before. The near-OOM and growth decisions stay the service
 * thread's (service.c): an allocation's path only records. */
#include "snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <unistd.h>

#include "aggregate.h"
#include "common.h"
#include "format.h"
#include "lock.h"
#include "owntime.h"
#include "service_stream.h"
#include "state.h"
#include "util.h"

#define STALE_OFF UINT64_MAX

static ml_lock g_lock; /* held while a snapshot is read and written */
static _Atomic uint64_t g_stale_ns = STALE_OFF;
static _Atomic uint64_t g_last_ns;  /* CLOCK_MONOTONIC of the last snapshot's reading */
static _Atomic uint64_t g_begin_ns; /* the session's start */
static int g_statm_fd = -1;         /* under g_lock once the session runs */
static ml_cgroup *g_cg;
static long g_page_size;
static _Atomic uint64_t g_swap, g_shmem, g_limit;
static atomic_int g_have_swap;

/* In a session's first second the staleness is shorter: at most a fiftieth of the session's age, not under
 * 2 ms (it reaches the default 20 ms at 1 s). The accumulation verdict needs several samples during a climb, and a
 * short program's whole life is a few service-thread intervals (examples/leaky_service.py keeps its 20 MB in 30-40
 * ms: 2 on-time samples of 10 ms were 1 run in 15 without the finding). Bounded: about 50 snapshots in the first
 * 100 ms and 115 more up to 1 s, a few KB, and only while threads allocate (the step). */
#define YOUNG_SHARE 50u
#define YOUNG_MIN_NS (2u * 1000000u)
#define YOUNG_UNTIL_NS 1000000000ull

static inline uint64_t stale_for(uint64_t stale, uint64_t now) {
    uint64_t begin = atomic_load_explicit(&g_begin_ns, memory_order_relaxed);
    uint64_t age = now > begin ? now - begin : 0;
    if (age >= YOUNG_UNTIL_NS) return stale;
    uint64_t young = age / YOUNG_SHARE;
    if (young < YOUNG_MIN_NS) young = YOUNG_MIN_NS;
    return young < stale ? young : stale;
}

void ml_snapshot_begin(ml_cgroup *cg, uint64_t stale_ns) {
    /* Taken, not initialized again: it is free (ml_snapshot_end gave it back), but a thread of the last
     * session may still be trying it (it finds the staleness off, or this session's once set). */
    ml_lock_acquire(&g_lock);
    g_cg = cg;
    g_page_size = sysconf(_SC_PAGESIZE);
    atomic_store(&g_swap, 0);
    atomic_store(&g_shmem, 0);
    atomic_store(&g_have_swap, 0);
    atomic_store(&g_limit, 0);
    if (g_statm_fd >= 0) close(g_statm_fd);
    g_statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    atomic_store(&g_last_ns, ml_now_ns());
    atomic_store(&g_begin_ns, ml_now_ns());
    atomic_store(&g_stale_ns, stale_ns);
    ml_lock_release(&g_lock);
}

void ml_snapshot_set_status(int64_t swap, int64_t shmem) {
    if (swap >= 0) {
        atomic_store_explicit(&g_swap, (uint64_t)swap, memory_order_relaxed);
        atomic_store_explicit(&g_have_swap, 1, memory_order_relaxed);
    }
    if (shmem >= 0) atomic_store_explicit(&g_shmem, (uint64_t)shmem, memory_order_relaxed);
}

void ml_snapshot_set_limit(uint64_t limit) {
    atomic_store_explicit(&g_limit, limit, memory_order_relaxed);
}

/* What one snapshot read. */
typedef struct values {
    unsigned flags;
    uint64_t rss, anon, file, shmem, swap, heap, usage, limit, own;
} values;

/* Reads the process's memory (g_lock held). `sweep`: memlens's own time may read every thread's scheduling
 * figures (the service thread; an allocating thread uses the last ones: owntime.h). -1 if statm is unreadable. */
static int read_values(values *v, int sweep) {
    char text[256];
    if (g_statm_fd < 0 || ml_pread_all(g_statm_fd, text, sizeof text) <= 0) return -1;
    /* size resident shared text lib data dt, in pages; "shared" is file-backed plus shmem */
    const char *p = text;
    ml_parse_u64(&p);
    while (*p == ' ') p++;
    uint64_t resident = ml_parse_u64(&p) * (uint64_t)g_page_size;
    while (*p == ' ') p++;
    uint64_t shared = ml_parse_u64(&p) * (uint64_t)g_page_size;
    if (shared > resident) shared = resident;
    uint64_t status_shmem = atomic_load_explicit(&g_shmem, memory_order_relaxed);
    uint64_t shmem = status_shmem < shared ? status_shmem : shared;
    *v = (values){0};
    v->rss = resident;
    v->anon = resident - shared;
    v->file = shared - shmem;
    v->shmem = shmem;
    if (g_cg != NULL && g_cg->version != 0) {
        v->flags |= ML_SNAPSHOT_HAS_CGROUP;
        v->usage = ml_cgroup_usage(g_cg);
    }
    if (atomic_load_explicit(&g_have_swap, memory_order_relaxed)) v->flags |= ML_SNAPSHOT_HAS_SWAP;
    v->swap = atomic_load_explicit(&g_swap, memory_order_relaxed);
    if (ml_options & ML_OPTION_AGGREGATE) {
        v->flags |= ML_SNAPSHOT_HAS_HEAP;
        v->heap = ml_aggregate_heap(); /* without ALLOC/FREE records (aggregated), the reader cannot compute it */
    }
    v->limit = atomic_load_explicit(&g_limit, memory_order_relaxed);
    /* memlens's own time on the program's threads since the session started (owntime.h): the reader takes it
     * out of the program's clock. One caller at a time: g_lock. */
    v->flags |= ML_SNAPSHOT_HAS_OWN;
    v->own = ml_own_wall_ns(sweep);
    return 0;
}

/* The record, its seq and time taken now: every event with a lower seq happened before. */
static void encode(ml_buf *b, const values *v) {
    ml_buf_varint(b, ml_next_seq());
    ml_buf_varint(b, ml_rel_ns());
    ml_buf_varint(b, v->flags);
    ml_buf_varint(b, v->rss);
    ml_buf_varint(b, v->anon);
    ml_buf_varint(b, v->file);
    ml_buf_varint(b, v->shmem);
    ml_buf_varint(b, v->swap);
    ml_buf_varint(b, v->heap);
    ml_buf_varint(b, v->usage);
    ml_buf_varint(b, v->limit);
    ml_buf_varint(b, v->own);
}

int ml_snapshot_take(ml_snapshot_reading *out) {
    uint8_t mem[128];
    ml_buf b;
    ml_buf_init(&b, mem, sizeof mem);
    values v;
    ml_lock_acquire(&g_lock);
    atomic_store_explicit(&g_last_ns, ml_now_ns(), memory_order_relaxed);
    int r = read_values(&v, 1);
    if (r == 0) {
        encode(&b, &v);
        ml_service_stream_record(ML_R_SNAPSHOT, b.p, b.len);
        out->rss = v.rss;
        out->usage = v.usage;
    }
    ml_lock_release(&g_lock);
    return r;
}

void ml_snapshot_if_stale(ml_stream *s) {
    uint64_t stale = atomic_load_explicit(&g_stale_ns, memory_order_relaxed);
    uint64_t now = ml_now_ns();
    uint64_t last = atomic_load_explicit(&g_last_ns, memory_order_relaxed);
    if (ML_LIKELY(stale == STALE_OFF || now < last || now - last < stale_for(stale, now))) return;
    if (!ml_lock_try(&g_lock)) return; /* someone is taking one now: that one will do */
    int saved_errno = errno;
    /* Looked at again under the lock: another thread may have taken one since, or the session ended. */
    stale = atomic_load_explicit(&g_stale_ns, memory_order_relaxed);
    last = atomic_load_explicit(&g_last_ns, memory_order_relaxed);
    now = ml_now_ns();
    values v;
    if (stale != STALE_OFF && now >= last && now - last >= stale_for(stale, now) && read_values(&v, 0) == 0) {
        atomic_store_explicit(&g_last_ns, now, memory_order_relaxed);
        uint8_t mem[128];
        ml_buf b;
        ml_buf_init(&b, mem, sizeof mem);
        /* Seq and time under the stream's lock, as an event's: the service thread's flush round, which takes
         * this lock (never g_lock), then writes it before its barrier, and it is in this stream's seq order. */
        ml_lock_acquire(&s->lock);
        if (!s->closed) {
            encode(&b, &v);
            ml_stream_record(s, ML_R_SNAPSHOT, b.p, b.len);
        }
        ml_lock_release(&s->lock);
    }
    ml_lock_release(&g_lock);
    errno = saved_errno;
}

void ml_snapshot_end(void) {
    atomic_store(&g_stale_ns, STALE_OFF);
    ml_lock_acquire(&g_lock); /* a snapshot an allocating thread is taking ends first */
    if (g_statm_fd >= 0) close(g_statm_fd);
    g_statm_fd = -1;
    ml_lock_release(&g_lock);
}

void ml_snapshot_forget(void) {
    atomic_store(&g_stale_ns, STALE_OFF);
    ml_lock_init(&g_lock);
    if (g_statm_fd >= 0) close(g_statm_fd);
    g_statm_fd = -1;
}
