/* The session's lifecycle: start, stop, and a fork child's clean break.
 *
 * agent.c's API calls in with the GIL held (ctypes.PyDLL), so Python's allocator and GC hooks can be
 * installed and removed safely; the _exit hook calls ml_stop too. Everything runs with the guard set, so
 * the agent's own allocations (libc may allocate inside pthread_create or dlopen) are never recorded. */
#include "lifecycle.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aggregate.h"
#include "cgroup.h"
#include "codewatch.h"
#include "config.h"
#include "encode.h"
#include "format.h"
#include "got.h"
#include "header.h"
#include "hooks.h"
#include "mem.h"
#include "native.h"
#include "pyalloc.h"
#include "pyapi.h"
#include "pygc.h"
#include "pystack.h"
#include "sample.h"
#include "selfstop.h"
#include "service.h"
#include "service_stream.h"
#include "sink.h"
#include "state.h"
#include "thread.h"
#include "util.h"

static pthread_mutex_t g_lifecycle = PTHREAD_MUTEX_INITIALIZER;
static uint32_t g_session;
static ml_cgroup g_cgroup;
static int g_atfork_registered;
static int g_forked; /* this process is a fork child of a tracked process */

/* ── a capture that cannot be written ──────────────────────────────────────────────────────────── */

/* Why a write failed, for the CAPTURE_STOPPED marker: the errno's name first (the reader words it), from a
 * table rather than strerror(), which may allocate. */
static const char *write_error_text(int err) {
    switch (err) {
    case ENOSPC: return "ENOSPC: no space left on the device";
    case EDQUOT: return "EDQUOT: the disk quota is used up";
    case EFBIG: return "EFBIG: the file grew past the largest size allowed";
    case EIO: return "EIO: input/output error";
    case EPIPE: return "EPIPE: the reader went away";
    default: return "";
    }
}

/* The sink failed (ml_sink_on_failure): the capture's last words, a CAPTURE_STOPPED marker in a block of
 * its own written straight to the file, where the failed write was cut off. Nothing after it can be in
 * the capture, so the reader knows it stops here because writing failed, not because the process died. */
static void capture_stopped(int err) {
    const char *why = write_error_text(err);
    char text[64];
    if (why[0] == 0) {
        ml_strlcpy(text, "errno ", sizeof text);
        ml_u64_to_dec(text + 6, (uint64_t)err);
        why = text;
    }
    ml_marker_last(ML_M_CAPTURE_STOPPED, why);
}

/* ── fork ──────────────────────────────────────────────────────────────────────────────────────── */

/* In the child, right after fork (glibc runs this before fork() returns there): the capture file belongs
 * to the parent, the other threads are gone and the locks they held stay held. Tracking stops at once;
 * with --follow-fork the bootstrap starts a new session into the child's own file. The GOT slots stay
 * patched (our hooks pass through while no session is active). */
static void atfork_child(void) {
    if (!ml_in_session) return;
    atomic_store(&ml_active, 0);
    ml_in_session = 0;
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    g_lifecycle = fresh;
    ml_sink_forget();
    ml_service_forget();
    ml_service_stream_forget();
    ml_threads_forget();
    ml_got_forget_locks();
    ml_code_registry_reset();
    ml_aggregate_forget();
    ml_sample_forget();
    ml_cgroup_close(&g_cgroup);
    ml_pid = (int)getpid();
    g_forked = 1;
}

/* ── start and stop ────────────────────────────────────────────────────────────────────────────── */

/* How long stopping waits for the reader while it takes nothing: the last blocks of a capture whose reader
 * stopped reading are given up rather than hold the thread that stops (the program's) any longer. */
#define STOP_STALL_NS (1000u * 1000000u)

/* The session ends itself (selfstop.c) when memlens_agent is not there to end it. */
static void stop_itself(void) {
    ml_stop(ML_T_CAPTURE_STOPPED);
}

#define HEADER_CAP ((size_t)(1u << 20))

int ml_start(const char *config_text, char *err, size_t errlen) {
    int saved_guard = ml_guard_enter();
    int rc = -1;
    if (err != NULL && errlen > 0) err[0] = '\0';
    pthread_mutex_lock(&g_lifecycle);
    if (atomic_load(&ml_active) || ml_in_session) {
        ml_set_err(err, errlen, "memlens is already tracking this process", 0);
        goto out;
    }
    ml_config *c = ml_config_new();
    uint8_t *hmem = ml_mem_alloc(HEADER_CAP + ML_FILE_HEADER_FIXED_LEN);
    if (c == NULL || hmem == NULL) {
        ml_set_err(err, errlen, "out of memory", 0);
        goto free_out;
    }
    if (ml_config_parse(c, config_text != NULL ? config_text : "", err, errlen) != 0) goto free_out;

    /* Python's allocator domains to wrap: all three when asked; those mimalloc serves otherwise, whose memory
     * the native hooks cannot attribute (the capture then says Python allocators are traced). */
    unsigned py_domains =
        ml_pyalloc_domains(c->options & ML_OPTION_PYTHON_ALLOCATORS, c->python_allocator, c->free_threaded, c->hexversion);
    if (py_domains != 0) c->options |= ML_OPTION_PYTHON_ALLOCATORS;

    ml_pid = (int)getpid();
    ml_options = c->options;
    ml_max_stack_nodes = c->max_stack_nodes != 0 ? c->max_stack_nodes : ML_DEFAULT_MAX_STACK_NODES;
    ml_sink_set_limit(c->queue_limit_mib != 0 ? (size_t)c->queue_limit_mib << 20 : ML_SINK_DEFAULT_LIMIT);
    if (c->fd >= 0) {
        if (ml_sink_use_fd(c->fd, err, errlen) != 0) goto free_out;
    } else if (ml_sink_open_path(c->output, c->overwrite, err, errlen) != 0) {
        goto free_out;
    }
    ml_cgroup_discover(&g_cgroup);
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    ml_start_mono_ns = ml_now_ns();
    atomic_store(&ml_seq, 0);
    g_session++;
    if (g_session == 0) g_session = 1;
    ml_selfstop_reset(g_session);
    ml_selfstop_set_stopper(stop_itself);
    uint64_t wall_ns = (uint64_t)wall.tv_sec * 1000000000u + (uint64_t)wall.tv_nsec;
    if (ml_header_write(c, &g_cgroup, wall_ns, ml_start_mono_ns, hmem, HEADER_CAP + ML_FILE_HEADER_FIXED_LEN, err, errlen) != 0)
        goto close_out;
    /* From here a failed write leaves a capture with its header: it can say why it stops there. */
    ml_sink_on_failure(capture_stopped);
    if (ml_service_stream_begin() != 0 || ml_threads_begin(g_session) != 0 ||
        ((c->options & ML_OPTION_AGGREGATE) && ml_aggregate_begin() != 0) ||
        (c->sample_rate != 0 && ml_sample_begin(c->sample_rate, c->sample_exact, c->sample_seed) != 0)) {
        ml_set_err(err, errlen, "out of memory", 0);
        goto close_out;
    }

    char why[256] = "";
    if (ml_pyapi_init(why, sizeof why) != 0) {
        char text[300];
        ml_strlcpy(text, "the Python C API is not reachable; no GC records, no Python allocator hooks: ", sizeof text);
        ml_strlcat(text, why, sizeof text);
        ml_note(ML_N_WARNING, text);
    }
    why[0] = 0;
    if (ml_pystack_init(c->hexversion, why, sizeof why) != 0) {
        char text[300];
        ml_strlcpy(text, "allocations are recorded without Python stacks: ", sizeof text);
        ml_strlcat(text, why, sizeof text);
        ml_note(ML_N_NOT_TRACKED, text);
        /* Tracking goes on; the reason comes back as a warning for the bootstrap to show. */
        ml_set_err(err, errlen, why, 0);
    }
    if (c->options & ML_OPTION_NATIVE) ml_native_init(!c->backtrace_only);
    if (!g_atfork_registered) {
        pthread_atfork(NULL, NULL, atfork_child);
        g_atfork_registered = 1;
    }
    if (g_forked) {
        ml_note(ML_N_INFO, "this capture starts in a forked child: memory it inherited from its parent is not in it");
    }
    /* Before the first allocation recorded, and before the OBJ hook (which then need not count them). */
    (void)ml_codewatch_start(c->free_threaded);
    ml_got_install(ml_hook_defs, ml_hook_count, err, errlen);
    ml_in_session = 1;
    atomic_store(&ml_active, 1);
    if (py_domains != 0) {
        why[0] = 0;
        if (ml_pyalloc_install(py_domains, c->gil_disabled, c->python_allocator, why, sizeof why) != 0) {
            char text[300];
            ml_strlcpy(text, "Python allocators are not traced: ", sizeof text);
            ml_strlcat(text, why, sizeof text);
            ml_note(ML_N_WARNING, text);
        }
    }
    ml_pygc_install(c->free_threaded);
    ml_marker(ML_M_TRACKING_STARTED, "");
    ml_service_set_near_oom(c->near_oom_permille);
    ml_service_set_census(c->census_near_oom, c->census_growth);
    if (ml_service_start(c->interval_ms, c->snapshot_stale_ms, &g_cgroup, err, errlen) != 0) {
        atomic_store(&ml_active, 0);
        ml_in_session = 0;
        ml_pyalloc_uninstall();
        ml_codewatch_stop();
        ml_pygc_uninstall();
        ml_got_uninstall();
        ml_threads_close_all();
        ml_service_stream_close();
        ml_sample_end();
        goto close_out;
    }
    rc = 0;
    goto free_out;
close_out:
    ml_sink_close();
free_out:
    ml_config_free(c);
    ml_mem_free(hmem, HEADER_CAP + ML_FILE_HEADER_FIXED_LEN);
out:
    pthread_mutex_unlock(&g_lifecycle);
    /* A session that started leaves the calling thread quiet: what the bootstrap does next is memlens's work
     * (memlens_quiet(0) hands the thread back to the program). */
    ml_guard_leave(rc == 0 ? 1 : saved_guard);
    return rc;
}

/* The TRAILER, into the service stream, or as one of the capture's last blocks when it stopped early. */
static void write_trailer(int reason, int last) {
    ml_thread_totals tot;
    ml_threads_totals(&tot);
    if (ml_sampling && !last) { /* counted once, by the first of two trailers */
        uint64_t live, cap, dropped;
        ml_sample_stats(&live, &cap, &dropped);
        tot.dropped += dropped;
    }
    uint8_t mem[96];
    ml_buf b;
    ml_buf_init(&b, mem, sizeof mem);
    uint64_t seq = ml_next_seq();
    ml_buf_varint(&b, seq);
    ml_buf_varint(&b, ml_rel_ns());
    ml_buf_varint(&b, (uint64_t)reason);
    ml_buf_varint(&b, tot.allocations);
    ml_buf_varint(&b, tot.frees);
    ml_buf_varint(&b, tot.bytes_allocated);
    ml_buf_varint(&b, tot.dropped + ml_sink_dropped());
    ml_buf_varint(&b, ml_mem_total());
    if (last) (void)ml_write_last_record(ML_R_TRAILER, b.p, b.len, seq);
    else ml_service_stream_record(ML_R_TRAILER, b.p, b.len);
}

void ml_stop(int reason) {
    int saved_guard = ml_guard_enter();
    pthread_mutex_lock(&g_lifecycle);
    if (ml_in_session) {
        atomic_store(&ml_active, 0);
        ml_in_session = 0;
        if (reason != ML_T__EXIT) {
            /* Leaving for good through _exit: nobody will call the hooks again, and the GIL may not be
             * held; otherwise put everything back. */
            ml_pyalloc_uninstall();
            ml_codewatch_stop();
            ml_pygc_uninstall();
            ml_got_uninstall();
        }
        ml_service_stop();
        if (reason != ML_T__EXIT && ml_sink_stopped() != ML_SINK_OK) reason = ML_T_CAPTURE_STOPPED;
        ml_threads_close_all();
        if (ml_options & ML_OPTION_AGGREGATE) {
            /* The last checkpoint: every event happened (the streams are closed). */
            ml_aggregate_checkpoint();
            ml_aggregate_end();
        }
        ml_service_agent_stats();
        ml_marker(ML_M_TRACKING_STOPPED, "");
        write_trailer(reason, 0);
        ml_service_stream_close();
        /* The service thread is gone: this thread sees the rest out, waiting only while the reader takes it. */
        (void)ml_sink_drain(STOP_STALL_NS);
        if (ml_sink_stopped() != ML_SINK_OK) {
            /* The capture stopped before its end, or as its end went out: it closes with why, and the
             * trailer, for a reader that still reads. */
            ml_service_note_capture_stopped();
            write_trailer(reason == ML_T__EXIT ? reason : ML_T_CAPTURE_STOPPED, 1);
            (void)ml_sink_drain(STOP_STALL_NS);
        }
        ml_sample_end();
        ml_sink_close();
        ml_code_registry_reset();
        ml_cgroup_close(&g_cgroup);
    }
    pthread_mutex_unlock(&g_lifecycle);
    ml_guard_leave(saved_guard);
}
