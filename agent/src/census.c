/* Censuses of live Python objects, asked for by the service thread (near OOM, or as the process grows with
 * --census-at-peak) and taken at a safe point: a pending call runs memlens_agent.census_in_capture in the
 * main thread with the GIL held. The census itself (agent/python/memlens_census.py) is bounded in time; its
 * result comes back through memlens_record_census as a CENSUS record. Nothing of it is recorded as the
 * program's allocations (the guard is held while it runs). */
#include "census.h"

#include <errno.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "common.h"
#include "format.h"
#include "mem.h"
#include "pyapi.h"
#include "sink.h"
#include "snapshot.h"
#include "state.h"
#include "thread.h"
#include "util.h"

static atomic_int g_pending; /* a census is queued and has not run yet */
static char g_label[32];

/* The memory cgroup as the census sees it (memlens_census_room): found at the first census, on the thread
 * that takes it; its limit is read again at every census. Only that thread touches these. */
static ml_cgroup g_census_cg;
static int g_census_cg_found;
static uint64_t g_census_limit;

/* How long a near-OOM census may wait for the reader to take its record, without progress, before the
 * program goes on (the same bound as a stop's or an exec's drain). */
#define CENSUS_STALL_NS (1000u * 1000000u)

static int census_pending(void *arg) {
    (void)arg;
    int saved = ml_guard_enter();
    if (!g_census_cg_found) {
        ml_cgroup_discover(&g_census_cg);
        g_census_cg_found = 1;
    }
    g_census_limit = g_census_cg.version != 0 ? ml_cgroup_limit(&g_census_cg) : 0;
    if (ml_session_active() && ml_py.PyRun_SimpleString != NULL) {
        char stmt[256];
        ml_strlcpy(stmt, "(lambda m: m and m.census_in_capture('", sizeof stmt);
        ml_strlcat(stmt, g_label, sizeof stmt);
        ml_strlcat(stmt, "'))(__import__('sys').modules.get('memlens_agent'))", sizeof stmt);
        /* A failure prints nothing to the program's stderr: census_in_capture catches everything, and
         * without the module (an agent loaded by hand) the statement does nothing. It defines no name. */
        ml_py.PyRun_SimpleString(stmt);
    }
    atomic_store(&g_pending, 0);
    ml_guard_leave(saved);
    return 0;
}

/* ── The near-OOM trigger (census.h) ──────────────────────────────────────────────────────────────── */

/* The census's share of the limit in bytes (0: no near-OOM census), and 5 points below it, where a census
 * taken is re-armed. Written by the service thread, read by every allocating thread. */
static _Atomic uint64_t g_near_at, g_near_rearm;
static atomic_int g_usage_fd = -1;
/* How many bytes a thread allocates between two readings of the usage: a 512th of the limit, at least 1 MiB
 * (a pread per MiB allocated costs under 0.1 % of the allocating itself, and leaves the census's start within
 * a MiB a thread of the share). */
#define STEP_MIN (1u << 20)
static _Atomic uint64_t g_step = STEP_MIN;
/* ARMED: below the share, or not yet noticed. WANTED: an allocating thread noticed the crossing and waits
 * for the service thread to queue the census. TAKEN: queued; ARMED again 5 points below the share. */
enum { NEAR_ARMED = 0, NEAR_WANTED = 1, NEAR_TAKEN = 2 };
static atomic_int g_near_state;
/* How long an allocating thread waits for the service thread at most: a safety bound for a service thread
 * that cannot run at all (it waits for a lock the allocating thread holds: the loader's, in a dlopen), not a
 * measure of a busy machine (the wait ends as soon as the census is queued). */
#define WAIT_BOUND_NS (1000u * 1000000u)

void ml_census_near_oom_arm(int usage_fd, uint64_t limit, unsigned census_permille) {
    uint64_t at = usage_fd >= 0 && limit != 0 ? limit / 1000 * census_permille : 0;
    uint64_t step = limit / 512;
    atomic_store(&g_step, step > STEP_MIN ? step : STEP_MIN);
    atomic_store(&g_near_rearm, limit / 1000 * (census_permille > 50 ? census_permille - 50 : 0));
    atomic_store(&g_usage_fd, usage_fd);
    atomic_store(&g_near_at, at);
}

static void wake_waiters(void) {
    syscall(SYS_futex, &g_near_state, FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL, NULL, 0);
}

void ml_census_near_oom_disarm(void) {
    atomic_store(&g_near_at, 0);
    atomic_store(&g_usage_fd, -1);
    atomic_store(&g_near_state, NEAR_ARMED);
    wake_waiters();
}

/* Service thread. The census is queued here only: a WANTED state becomes TAKEN (or ARMED again if the
 * interpreter refused, or another census is still queued: the next check asks again), and its waiter goes on. */
static void near_oom_request(void) {
    atomic_store(&g_near_state, ml_census_request("near-oom") == 0 ? NEAR_TAKEN : NEAR_ARMED);
    wake_waiters();
}

void ml_census_near_oom_seen(uint64_t usage) {
    uint64_t at = atomic_load(&g_near_at);
    if (at == 0 || usage == 0) return;
    int state = atomic_load(&g_near_state);
    if (state == NEAR_WANTED || (state == NEAR_ARMED && usage >= at)) {
        near_oom_request();
    } else if (state == NEAR_TAKEN && usage < atomic_load(&g_near_rearm)) {
        int expected = NEAR_TAKEN;
        atomic_compare_exchange_strong(&g_near_state, &expected, NEAR_ARMED);
    }
}

void ml_census_near_oom_service(void) {
    if (atomic_load(&g_near_state) == NEAR_WANTED) near_oom_request();
}

void ml_census_alloc_check(struct ml_thread *t) {
    uint64_t at = atomic_load_explicit(&g_near_at, memory_order_relaxed);
    t->census_check_at = t->bytes_allocated + atomic_load_explicit(&g_step, memory_order_relaxed);
    /* The step exists with or without a memory limit: the service thread's snapshot, if it is late, is
     * taken here (snapshot.c: a clock read, and at most once per staleness process-wide a pread or two). */
    ml_snapshot_if_stale(&t->stream);
    if (at == 0 || atomic_load_explicit(&g_near_state, memory_order_relaxed) != NEAR_ARMED) return;
    int saved_errno = errno;
    int fd = atomic_load(&g_usage_fd);
    uint64_t usage = ml_cgroup_usage_at(fd);
    int expected = NEAR_ARMED;
    if (usage >= at && atomic_compare_exchange_strong(&g_near_state, &expected, NEAR_WANTED)) {
        /* Py_AddPendingCall is not called here: from 3.13 on, its PyMutex, when contended, parks this
         * thread and releases the GIL in the middle of the program's allocation (docs/census.md). The
         * service thread queues it (census.h), woken now; until it has, this thread does not run on. */
        ml_sink_kick();
        uint64_t start = ml_now_ns();
        while (atomic_load(&g_near_state) == NEAR_WANTED && atomic_load(&g_near_at) != 0) {
            uint64_t waited = ml_now_ns() - start;
            if (waited >= WAIT_BOUND_NS) break; /* the service thread queues it when it can */
            uint64_t left = WAIT_BOUND_NS - waited;
            struct timespec ts = {(time_t)(left / 1000000000u), (long)(left % 1000000000u)};
            syscall(SYS_futex, &g_near_state, FUTEX_WAIT_PRIVATE, NEAR_WANTED, &ts, NULL, 0);
        }
    }
    errno = saved_errno;
}

int ml_census_request(const char *label) {
    if (ml_py.Py_AddPendingCall == NULL) return -1;
    int expected = 0;
    if (!atomic_compare_exchange_strong(&g_pending, &expected, 1)) return -1;
    ml_strlcpy(g_label, label, sizeof g_label);
    if (ml_py.Py_AddPendingCall(census_pending, NULL) != 0) {
        atomic_store(&g_pending, 0);
        return -1;
    }
    return 0;
}

/* Caller holds the guard. */
static void record_census(const char *label, const char *json) {
    ml_thread *t = ml_thread_current();
    if (t == NULL) return;
    size_t ll = strlen(label), jl = strlen(json);
    if (jl > (1u << 20) - 1) return; /* the format's string limit: a census is far smaller */
    size_t cap = 40 + ll + jl;
    uint8_t *mem = ml_mem_alloc(cap);
    if (mem == NULL) return;
    ml_buf b;
    ml_buf_init(&b, mem, cap);
    ml_buf_varint(&b, ml_next_seq());
    ml_buf_varint(&b, ml_rel_ns());
    ml_buf_str(&b, label, ll);
    ml_buf_str(&b, json, jl);
    ml_lock_acquire(&t->stream.lock);
    if (!t->stream.closed) {
        ml_stream_record(&t->stream, ML_R_CENSUS, b.p, b.len);
        /* On disk now: a census near OOM may be the last thing this process does (the writer is woken). */
        ml_stream_flush(&t->stream);
        ml_sink_kick();
    }
    ml_lock_release(&t->stream.lock);
    ml_mem_free(mem, cap);
    /* Near OOM the program may be killed as soon as it runs again, and the service thread that writes the
     * queue out may not get a CPU before that on a busy machine: the census thread writes the record out
     * itself before the program goes on (bounded: the reader may stall it CENSUS_STALL_NS at most). */
    if (strcmp(label, "near-oom") == 0) (void)ml_sink_drain(CENSUS_STALL_NS);
}

int64_t ml_census_room(void) {
    if (!g_census_cg_found || g_census_limit == 0) return -1;
    uint64_t usage = ml_cgroup_usage(&g_census_cg);
    if (usage == 0) return -1;
    return usage >= g_census_limit ? 0 : (int64_t)(g_census_limit - usage);
}

void ml_census_record(const char *label, const char *json) {
    if (!ml_session_active() || label == NULL || json == NULL) return;
    /* Held already when the census runs from census_pending; taken here too, so that, like every other
     * path that locks a stream, this one holds the guard whoever calls it. */
    int guard = ml_guard_enter();
    record_census(label, json);
    ml_guard_leave(guard);
}
