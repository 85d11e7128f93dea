/* memlens's own time on the program's threads (owntime.h). */
#include "owntime.h"

#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util.h"

_Atomic uint64_t ml_own_ns;
uint64_t ml_own_overhead_ns;

void ml_own_next(ml_own_tls *t) {
    uint32_t x = t->rng;
    if (x == 0) x = (uint32_t)(uintptr_t)t ^ 0x9e3779b9u; /* the TLS block's address differs by thread */
    if (x == 0) x = 1;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    t->rng = x;
    t->gap = ML_OWN_GAP / 2 + x % ML_OWN_GAP;
    t->left = t->gap;
}

/* ── the wall time it cost: the machine's stretch ─────────────────────────────────────────────────── */

/* Threads whose schedstat is read at most, per snapshot (the first in /proc/self/task's order, which is
 * stable): the stretch of a few dozen threads is the machine's, and reading more would cost the service
 * thread more than it measures. */
#define SCHED_THREADS 64
/* The threads' schedstat is read again only after SWEEP_BUDGET times what the last reading took: it costs
 * an open, a read and a close a thread (about 8 us each on the lead's machine: 0.5 ms for 64 threads, 5 % of
 * a core at one snapshot in 10 ms), so a program with many threads gets its stretch less often (every 55 ms
 * at 64 threads), one with a few at every snapshot; and a busy machine, which makes the reading slow, is not
 * made busier by it. Between two readings the last stretch stands. */
#define SWEEP_BUDGET 100u
/* The stretch is at most this: a thread that waited 31 times its CPU time for a core is as good as stopped. */
#define STRETCH_MAX 32.0

typedef struct sched_seen {
    int tid;
    uint64_t run, wait;
} sched_seen;

static sched_seen g_seen[2][SCHED_THREADS];
static int g_nseen[2];
static int g_cur;
static int g_task_fd = -1;
static int g_service_tid;
static uint64_t g_own_cpu_last; /* ml_own_ns at the last snapshot */
static double g_own_wall;       /* the running estimate of memlens's own wall time */
static double g_stretch = 1.0;  /* the last interval's, for one without a measure */
static uint64_t g_next_sweep;   /* CLOCK_MONOTONIC ns before which schedstat is not read again */

struct ml_dirent64 {
    uint64_t ino;
    int64_t off;
    unsigned short reclen;
    unsigned char type;
    char name[];
};

/* One thread's schedstat ("run_ns wait_ns slices"), by its /proc/self/task entry name. 0 if read. */
static int read_schedstat(const char *tid, uint64_t *run, uint64_t *wait) {
    char path[48];
    size_t n = strlen(tid);
    if (n + sizeof "/schedstat" > sizeof path) return -1;
    memcpy(path, tid, n);
    memcpy(path + n, "/schedstat", sizeof "/schedstat");
    int fd = openat(g_task_fd, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char buf[96];
    long len = ml_pread_all(fd, buf, sizeof buf);
    close(fd);
    if (len <= 0) return -1;
    const char *p = buf;
    *run = ml_parse_u64(&p);
    while (*p == ' ') p++;
    *wait = ml_parse_u64(&p);
    return 0;
}

/* Since the last call: the program's threads' CPU time and their time waiting for a core, summed over the
 * threads read both times (a thread that came or went counts from its second reading). */
static void sched_interval(uint64_t *run, uint64_t *wait) {
    *run = *wait = 0;
    if (g_task_fd < 0 || lseek(g_task_fd, 0, SEEK_SET) < 0) return;
    int next = 1 - g_cur;
    int count = 0;
    char dirbuf[2048];
    for (;;) {
        long got = syscall(SYS_getdents64, g_task_fd, dirbuf, sizeof dirbuf);
        if (got <= 0) break;
        for (long at = 0; at < got && count < SCHED_THREADS;) {
            struct ml_dirent64 *d = (struct ml_dirent64 *)(void *)(dirbuf + at);
            at += d->reclen;
            if (d->name[0] < '0' || d->name[0] > '9') continue;
            const char *q = d->name;
            int tid = (int)ml_parse_u64(&q);
            if (tid == g_service_tid) continue; /* the agent's own thread: not the program's */
            uint64_t r, w;
            if (read_schedstat(d->name, &r, &w) != 0) continue;
            g_seen[next][count++] = (sched_seen){tid, r, w};
            for (int i = 0; i < g_nseen[g_cur]; i++) {
                const sched_seen *s = &g_seen[g_cur][i];
                if (s->tid != tid) continue;
                if (r >= s->run && w >= s->wait) {
                    *run += r - s->run;
                    *wait += w - s->wait;
                }
                break;
            }
        }
        if (count >= SCHED_THREADS) break;
    }
    g_nseen[next] = count;
    g_cur = next;
}

void ml_own_begin_session(int service_tid) {
    ml_own_calibrate();
    if (g_task_fd >= 0) close(g_task_fd);
    g_task_fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    g_service_tid = service_tid;
    g_nseen[0] = g_nseen[1] = 0;
    g_own_cpu_last = atomic_load_explicit(&ml_own_ns, memory_order_relaxed);
    g_own_wall = 0;
    g_stretch = 1.0;
    g_next_sweep = 0;
    uint64_t r, w;
    sched_interval(&r, &w); /* the first readings */
}

void ml_own_set_service_tid(int tid) {
    g_service_tid = tid;
}

uint64_t ml_own_wall_ns(int sweep) {
    uint64_t cpu = atomic_load_explicit(&ml_own_ns, memory_order_relaxed);
    uint64_t own = cpu > g_own_cpu_last ? cpu - g_own_cpu_last : 0;
    g_own_cpu_last = cpu > g_own_cpu_last ? cpu : g_own_cpu_last;
    uint64_t run = 0, wait = 0;
    uint64_t before = ml_now_ns();
    if (sweep && before >= g_next_sweep) {
        sched_interval(&run, &wait);
        uint64_t after = ml_now_ns();
        g_next_sweep = after + (after - before) * SWEEP_BUDGET;
    }
    /* Preemption falls on the recording as on the rest of the threads' work: a share own/run of the time
     * they waited for a core was memlens's too. */
    if (run > 0) {
        double s = (double)(run + wait) / (double)run;
        g_stretch = s < STRETCH_MAX ? s : STRETCH_MAX;
    }
    g_own_wall += (double)own * g_stretch;
    return (uint64_t)g_own_wall;
}

void ml_own_end_session(void) {
    if (g_task_fd >= 0) close(g_task_fd);
    g_task_fd = -1;
}

void ml_own_calibrate(void) {
    /* The least of a few tries: one of them may be interrupted, none is faster than the clock. */
    uint64_t least = UINT64_MAX;
    for (int i = 0; i < 16; i++) {
        uint64_t a = ml_now_ns();
        uint64_t b = ml_now_ns();
        if (b >= a && b - a < least) least = b - a;
    }
    ml_own_overhead_ns = least == UINT64_MAX ? 0 : least;
}
