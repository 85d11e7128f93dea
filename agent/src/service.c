/* The service thread. It wakes every memory interval (default 10 ms) for a SNAPSHOT, runs a flush round
 * every 10 ms (so anything recorded more than ~20 ms before a SIGKILL is in the file, and a reader never holds
 * more than 10 ms of events to order them), and once a second
 * reads swap and shared memory from /proc/self/status, writes AGENT_STATS and reaps exited threads. */
#include "service.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "aggregate.h"
#include "census.h"
#include "common.h"
#include "encode.h"
#include "got.h"
#include "mem.h"
#include "owntime.h"
#include "psi.h"
#include "selfstop.h"
#include "service_stream.h"
#include "sink.h"
#include "snapshot.h"
#include "state.h"
#include "thread.h"
#include "util.h"

#define FLUSH_NS (10u * 1000000u)
/* Aggregated mode: a CHECKPOINT (of what changed) this often, written out at once, so that a process killed
 * at any moment leaves what it recorded up to 100 ms before in the file (issue 11: one a second left a
 * program killed in its first second without any attribution). */
#define CHECKPOINT_NS (50u * 1000000u)
#define SECOND_NS 1000000000ull
/* The least staleness after which an allocating thread takes a snapshot (snapshot.c): its cost, a pread or
 * two, at most this often process-wide. */
#define STALE_MIN_NS (20u * 1000000u)

static pthread_t g_thread;
static int g_thread_running;
static atomic_int g_stop;
static uint64_t g_interval_ns;
/* The service thread's stack, mapped by us (a guard page below it), so the thread is known by its stack
 * (state.h: ml_service_stack_lo, ml_service_stack_hi). */
#define SERVICE_STACK (512u * 1024u)
static uint8_t *g_stack_map;
static size_t g_stack_map_len;
static ml_cgroup *g_cg;

static uint64_t g_cgroup_limit;
/* The near-OOM census's trigger (census.c) follows the limit, read at the start and once a second. */
static void arm_census(void);
static int g_near_oom; /* above the near-OOM share of the cgroup limit; re-armed 5 points below */
static unsigned g_near_oom_permille = 900;
/* Censuses: at near-OOM (on by default), and as RSS grows (--census-at-peak): each time RSS passes 5/4 of
 * what it was at the last census and by at least 32 MiB, at most every 2 s and 8 times, so the last one is
 * close to the peak without pausing a growing program over and over. */
/* Memory pressure (PSI): how much of the time tasks stalled waiting for memory. Read once a second from the
 * cgroup (v2's memory.pressure) or the whole machine (/proc/pressure/memory); a PRESSURE record carries the
 * raw numbers whenever they changed. What counts as pressure, and how to say so, is the reader's decision
 * (src/analysis/memory-pressure.ts): nothing here acts on it. */
static ml_psi g_last_psi;
static int g_have_psi;

static int psi_equal(const ml_psi *a, const ml_psi *b) {
    for (int i = 0; i < 3; i++) {
        if (a->some_avg[i] != b->some_avg[i] || a->full_avg[i] != b->full_avg[i]) return 0;
    }
    return a->some_total_us == b->some_total_us && a->full_total_us == b->full_total_us && a->has_full == b->has_full;
}

static void check_pressure(void) {
    char path[2100];
    if (g_cg != NULL && g_cg->version == 2) {
        ml_strlcpy(path, g_cg->dir, sizeof path);
        ml_strlcat(path, "/memory.pressure", sizeof path);
    } else {
        ml_strlcpy(path, "/proc/pressure/memory", sizeof path);
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return; /* no PSI on this kernel, or not for this cgroup */
    char text[256];
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0) return;
    text[n] = 0;
    ml_psi p;
    if (ml_psi_parse(text, &p) != 0) return;
    if (g_have_psi && psi_equal(&p, &g_last_psi)) return;
    g_last_psi = p;
    g_have_psi = 1;
    uint8_t mem[2400];
    ml_buf b;
    ml_buf_init(&b, mem, sizeof mem);
    ml_buf_varint(&b, ml_next_seq());
    ml_buf_varint(&b, ml_rel_ns());
    ml_buf_cstr(&b, path);
    ml_buf_varint(&b, p.has_full ? ML_PRESSURE_HAS_FULL : 0);
    for (int i = 0; i < 3; i++) ml_buf_varint(&b, p.some_avg[i]);
    ml_buf_varint(&b, p.some_total_us);
    for (int i = 0; i < 3; i++) ml_buf_varint(&b, p.full_avg[i]);
    ml_buf_varint(&b, p.full_total_us);
    if (!b.overflow) ml_service_stream_record(ML_R_PRESSURE, b.p, b.len);
}

static int g_census_near_oom = 1;
static int g_census_growth;
static uint64_t g_census_rss;
static uint64_t g_census_ns;
static unsigned g_census_count;
#define CENSUS_GROWTH_MIN (32u << 20)
#define CENSUS_INTERVAL_NS (2000000000ull)
#define CENSUS_MAX 8

/* The last barrier's seq, and when the service stream was last written: a round with no event since the
 * last barrier needs none (it would promise what the last one did), and the service stream's own records
 * (snapshots) then wait up to SERVICE_FLUSH_NS to go out together: one block of several snapshots
 * compresses, a block per snapshot does not (a quiet program's capture was mostly such blocks). */
static uint64_t g_last_barrier_seq = ~0ull;
static uint64_t g_last_service_flush_ns;
#define SERVICE_FLUSH_NS (50u * 1000000u)

static void flush_round(int forced) {
    /* Every event with seq < S took its seq under its thread's lock before we read S, so the flushes below
     * wait for it to be encoded and write it. */
    uint64_t s = ml_next_seq();
    ml_threads_flush_all();
    uint64_t now = ml_now_ns();
    int barrier = forced || s != g_last_barrier_seq;
    int flush = barrier || now - g_last_service_flush_ns >= SERVICE_FLUSH_NS;
    if (ml_service_stream_barrier(s, barrier, flush)) {
        if (barrier) g_last_barrier_seq = s;
        if (flush) g_last_service_flush_ns = now;
    }
}

void ml_service_flush_round(void) {
    flush_round(1);
}

void ml_service_agent_stats(void) {
    ml_thread_totals tot;
    ml_threads_totals(&tot);
    uint8_t mem[64];
    ml_buf b;
    ml_buf_init(&b, mem, sizeof mem);
    ml_buf_varint(&b, ml_rel_ns());
    ml_buf_varint(&b, ml_mem_total());
    ml_buf_varint(&b, tot.streams);
    ml_buf_varint(&b, tot.dropped + ml_service_stream_dropped());
    ml_buf_varint(&b, ml_blocks_written());
    ml_service_stream_record(ML_R_AGENT_STATS, b.p, b.len);
}

/* "Name:   123 kB" in /proc/self/status, in bytes; -1 if absent. */
static int64_t status_kb(const char *buf, const char *name) {
    const char *p = strstr(buf, name);
    if (p == NULL) return -1;
    p += strlen(name);
    while (*p == ' ' || *p == '\t') p++;
    return (int64_t)ml_parse_u64(&p) * 1024;
}

static void read_status(void) {
    char buf[4096];
    if (ml_read_file("/proc/self/status", buf, sizeof buf) <= 0) return;
    int64_t swap = status_kb(buf, "\nVmSwap:");
    int64_t shmem = status_kb(buf, "\nRssShmem:");
    ml_snapshot_set_status(swap, shmem);
}

/* The sampler's snapshot (snapshot.c writes it), then what only this thread decides from it: growth
 * censuses, the near-OOM census and marker. */
static void snapshot(void) {
    ml_snapshot_reading reading;
    if (ml_snapshot_take(&reading) != 0) return;
    uint64_t usage = reading.usage;
    if (g_census_growth && g_census_count < CENSUS_MAX) {
        uint64_t now = ml_now_ns();
        uint64_t rss = reading.rss;
        if (rss >= g_census_rss / 4 * 5 && rss >= g_census_rss + CENSUS_GROWTH_MIN && now >= g_census_ns + CENSUS_INTERVAL_NS) {
            if (ml_census_request("growth") == 0) {
                g_census_rss = rss;
                g_census_ns = now;
                g_census_count++;
            }
        }
    }
    /* The near-OOM census (census.c): the allocation path notices the crossing too, without waiting for
     * this sampler; this reading covers what it does not count (pages touched later, other processes of
     * the cgroup). */
    ml_census_near_oom_seen(usage);
    if (g_cgroup_limit != 0 && usage != 0) {
        if (!g_near_oom && g_near_oom_permille != 0 && usage >= g_cgroup_limit / 1000 * g_near_oom_permille) {
            /* Near the OOM killer: say so, and put everything on disk now (with the aggregated state). */
            g_near_oom = 1;
            char label[96], num[24];
            ml_strlcpy(label, "cgroup memory usage ", sizeof label);
            ml_u64_to_dec(num, usage);
            ml_strlcat(label, num, sizeof label);
            ml_strlcat(label, " of limit ", sizeof label);
            ml_u64_to_dec(num, g_cgroup_limit);
            ml_strlcat(label, num, sizeof label);
            ml_marker(ML_M_NEAR_OOM, label);
            if (ml_options & ML_OPTION_AGGREGATE) ml_aggregate_checkpoint();
            ml_service_flush_round();
        } else if (g_near_oom && usage < g_cgroup_limit / 1000 * (g_near_oom_permille > 50 ? g_near_oom_permille - 50 : 0)) {
            g_near_oom = 0;
        }
    }
}

/* The capture stopped (sink.c: the reader fell behind, or a write failed): its last block says why, once,
 * and the session is asked to end (selfstop.c). */
static int g_stop_noted;

void ml_service_note_capture_stopped(void) {
    int why = ml_sink_stopped();
    if (why == ML_SINK_OK || g_stop_noted) return;
    g_stop_noted = 1;
    /* A failed write said why itself (the sink's failure callback: lifecycle.c); a reader too far behind
     * is said here. */
    if (why != ML_SINK_BEHIND) return;
    char text[160], num[24];
    ml_strlcpy(text, "BEHIND: ", sizeof text);
    ml_u64_to_dec(num, (uint64_t)(ml_sink_limit() >> 20));
    ml_strlcat(text, num, sizeof text);
    ml_strlcat(text, " MiB waited to be written: the reader (or the disk) did not keep up", sizeof text);
    ml_marker_last(ML_M_CAPTURE_STOPPED, text);
}

/* Writes what is queued (without waiting for the reader), and notices a capture that stopped. Returns the
 * pump's answer: 0 when the reader has no room now. */
static int write_out(void) {
    int r = ml_sink_pump();
    if (ml_sink_stopped() != ML_SINK_OK) {
        if (!g_stop_noted) {
            ml_service_note_capture_stopped();
            r = ml_sink_pump(); /* the last words (a failed write's were queued as it failed) */
        }
        ml_selfstop_request();
    }
    return r;
}

/* Sleeps until `wake` (CLOCK_MONOTONIC ns), or until someone kicks the writer (ml_sink_kick: much queued, a
 * drain, the stop), or until the reader has room again when it had none. */
static void wait_until(uint64_t wake, int reader_full) {
    struct pollfd fds[2];
    nfds_t n = 0;
    if (ml_sink_wake_fd() >= 0) fds[n++] = (struct pollfd){ml_sink_wake_fd(), POLLIN, 0};
    if (reader_full && ml_sink_fd() >= 0) fds[n++] = (struct pollfd){ml_sink_fd(), POLLOUT, 0};
    uint64_t now = ml_now_ns();
    if (now >= wake) return;
    struct timespec ts = {(time_t)((wake - now) / 1000000000u), (long)((wake - now) % 1000000000u)};
    if (ppoll(fds, n, &ts, NULL) > 0 && n > 0 && (fds[0].revents & POLLIN)) ml_sink_woken();
}

static void *service_main(void *arg) {
    (void)arg;
    (void)ml_guard_enter(); /* never left: the thread is the agent's for its whole life */
    ml_own_set_service_tid((int)syscall(SYS_gettid));
    uint64_t now = ml_now_ns();
    uint64_t next_snap = now, next_flush = now + FLUSH_NS, next_second = now + SECOND_NS, next_checkpoint = now + CHECKPOINT_NS;
    int reader_full = 0;
    while (!atomic_load(&g_stop)) {
        uint64_t wake = next_snap < next_flush ? next_snap : next_flush;
        wait_until(wake, reader_full);
        if (atomic_load(&g_stop)) break;
        /* First: an allocating thread may be waiting for this (census.c). */
        ml_census_near_oom_service();
        now = ml_now_ns();
        if (now >= next_second) {
            read_status();
            if (g_cg != NULL) {
                uint64_t limit = ml_cgroup_limit(g_cg);
                if (limit != g_cgroup_limit) {
                    g_cgroup_limit = limit;
                    ml_snapshot_set_limit(limit);
                    arm_census();
                }
            }
            check_pressure();
        }
        if (now >= next_snap) {
            snapshot();
            next_snap += g_interval_ns;
            if (next_snap <= now) next_snap = now + g_interval_ns;
        }
        if ((ml_options & ML_OPTION_AGGREGATE) && now >= next_checkpoint) {
            ml_aggregate_checkpoint_changed();
            next_checkpoint += CHECKPOINT_NS;
            if (next_checkpoint <= now) next_checkpoint = now + CHECKPOINT_NS;
            next_flush = now; /* flushed in this round, with the service stream (a barrier follows it) */
            g_last_service_flush_ns = 0;
        }
        if (now >= next_flush) {
            /* Objects loaded and not yet looked up with dlsym (a plugin that registers itself from its
             * constructor, glibc's own NSS or iconv modules). */
            if (ml_got_changed()) ml_got_refresh();
            ml_got_recheck();
            flush_round(0);
            next_flush += FLUSH_NS;
            if (next_flush <= now) next_flush = now + FLUSH_NS;
        }
        if (now >= next_second) {
            ml_threads_reap();
            ml_service_agent_stats();
            next_second += SECOND_NS;
            if (next_second <= now) next_second = now + SECOND_NS;
        }
        /* Every round ends with the queue written out, as far as the reader takes it. */
        reader_full = write_out() == 0;
    }
    return NULL;
}

void ml_service_set_census(int near_oom, int growth) {
    g_census_near_oom = near_oom;
    g_census_growth = growth;
    g_census_rss = 0;
    g_census_ns = 0;
    g_census_count = 0;
}

static void arm_census(void) {
    /* The census needs room of its own (a list of the GC's objects, its tables): it is taken 10 points
     * before the near-OOM marker, so that taking it does not itself end the process. */
    unsigned census_at = g_near_oom_permille > 100 ? g_near_oom_permille - 100 : g_near_oom_permille;
    int on = g_census_near_oom && g_cg != NULL && g_cg->version != 0;
    ml_census_near_oom_arm(on ? g_cg->usage_fd : -1, on ? g_cgroup_limit : 0, census_at);
}

void ml_service_set_near_oom(unsigned permille) {
    g_near_oom_permille = permille > 1000 ? 1000 : permille;
}

int ml_service_start(unsigned interval_ms, long stale_ms, ml_cgroup *cg, char *err, size_t errlen) {
    /* memlens run and attach allow 1 to 1000 ms; a longer interval comes only from a configuration written
     * by hand (the tests': a sampler that never fires in time, so that the allocation path's census check is
     * all there is). */
    if (interval_ms < 1) interval_ms = 1;
    if (interval_ms > 3600000) interval_ms = 3600000;
    g_interval_ns = (uint64_t)interval_ms * 1000000u;
    g_cg = cg;
    g_near_oom = 0;
    g_last_barrier_seq = ~0ull;
    g_last_service_flush_ns = 0;
    g_have_psi = 0;
    g_cgroup_limit = cg != NULL ? ml_cgroup_limit(cg) : 0;
    /* The program's allocating threads take a snapshot when this thread's is late (snapshot.c): by twice
     * the interval, at least 20 ms, unless a configuration says (stale_ms: the tests'). */
    uint64_t stale_ns = stale_ms >= 0 ? (uint64_t)stale_ms * 1000000u : 2 * g_interval_ns;
    if (stale_ms < 0 && stale_ns < STALE_MIN_NS) stale_ns = STALE_MIN_NS;
    /* Before the program's threads may take one: the own-time estimate's start (they may record already). */
    ml_own_begin_session(0);
    ml_snapshot_begin(cg, stale_ns);
    ml_snapshot_set_limit(g_cgroup_limit);
    ml_census_near_oom_disarm(); /* a census taken in an earlier session is armed again */
    arm_census();
    read_status();
    snapshot();

    atomic_store(&g_stop, 0);
    g_stop_noted = 0;

    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    g_stack_map_len = SERVICE_STACK + page;
    g_stack_map = ml_mem_alloc(g_stack_map_len);
    if (g_stack_map == NULL) {
        ml_set_err(err, errlen, "cannot map a stack for the agent's service thread", errno);
        return -1;
    }
    mprotect(g_stack_map, page, PROT_NONE);
    ml_service_stack_lo = (uintptr_t)g_stack_map + page;
    ml_service_stack_hi = ml_service_stack_lo + SERVICE_STACK;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstack(&attr, (void *)ml_service_stack_lo, SERVICE_STACK);
    /* The thread inherits a full signal mask: the program's signals go to the program's threads. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int r = pthread_create(&g_thread, &attr, service_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (r != 0) {
        ml_mem_free(g_stack_map, g_stack_map_len);
        g_stack_map = NULL;
        ml_service_stack_lo = ml_service_stack_hi = 0;
        ml_set_err(err, errlen, "cannot start the agent's service thread", r);
        return -1;
    }
    g_thread_running = 1;
    return 0;
}

void ml_service_stop(void) {
    if (!g_thread_running) return;
    ml_census_near_oom_disarm(); /* no thread waits for a service thread that stops */
    atomic_store(&g_stop, 1);
    ml_sink_kick();
    pthread_join(g_thread, NULL);
    g_thread_running = 0;
    ml_mem_free(g_stack_map, g_stack_map_len);
    g_stack_map = NULL;
    ml_service_stack_lo = ml_service_stack_hi = 0;
    snapshot(); /* the last one, at the very end */
    ml_snapshot_end();
    ml_own_end_session();
}

void ml_service_forget(void) {
    g_thread_running = 0;
    ml_census_near_oom_disarm();
    /* The thread is not in the child; its stack is our memory there. */
    ml_mem_free(g_stack_map, g_stack_map_len);
    g_stack_map = NULL;
    ml_service_stack_lo = ml_service_stack_hi = 0;
    ml_snapshot_forget();
}
