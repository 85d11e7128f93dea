/* Per-thread state and the registry of threads.
 *
 * A thread's first event registers it (the registry mutex is taken only then, at thread exit and by the
 * service thread). From then on the thread writes into its own stream under its own lock, which only the
 * service thread contends for. */
#include "thread.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"
#include "mem.h"
#include "service.h"
#include "service_stream.h"
#include "state.h"
#include "util.h"

static pthread_mutex_t g_registry_lock = PTHREAD_MUTEX_INITIALIZER;
static ml_thread *g_threads; /* registered in this session (registry mutex) */
static ml_thread *g_free;    /* recycled states of threads that are gone */
static uint32_t g_next_stream;
uint32_t ml_thread_session;
static ml_thread_totals g_gone; /* counters of threads already reaped */

static pthread_key_t g_key;
static pthread_once_t g_key_once = PTHREAD_ONCE_INIT;

#define PENDING_NAMES 256
static struct {
    pid_t tid;
    char name[64];
} g_pending[PENDING_NAMES];
static size_t g_pending_next;

static void on_thread_exit(void *value);

static void key_init(void) {
    pthread_key_create(&g_key, on_thread_exit);
}

int ml_threads_begin(uint32_t session) {
    pthread_once(&g_key_once, key_init);
    pthread_mutex_lock(&g_registry_lock);
    g_threads = NULL;
    g_next_stream = 1;
    ml_thread_session = session;
    memset(&g_gone, 0, sizeof g_gone);
    memset(g_pending, 0, sizeof g_pending);
    g_pending_next = 0;
    pthread_mutex_unlock(&g_registry_lock);
    return 0;
}

static ml_thread *new_state(void) {
    ml_thread *t = g_free;
    if (t != NULL) {
        g_free = t->next;
    } else {
        t = ml_mem_alloc(sizeof *t);
        if (t == NULL) return NULL;
    }
    memset(t, 0, sizeof *t);
    return t;
}

static void release_tables(ml_thread *t) {
    ml_stream_release(&t->stream);
    ml_pystack_release(&t->py);
    ml_native_release(&t->native);
    ml_aggregate_thread_release(&t->agg);
}

/* Takes the pending name for tid (registry mutex held); 0 if none. */
static int take_pending_name(pid_t tid, char *out, size_t cap) {
    for (size_t i = 0; i < PENDING_NAMES; i++) {
        if (g_pending[i].tid == tid && g_pending[i].name[0] != 0) {
            ml_strlcpy(out, g_pending[i].name, cap);
            g_pending[i].tid = 0;
            g_pending[i].name[0] = 0;
            return 1;
        }
    }
    return 0;
}

/* Whether the calling thread is the service thread. True from its very first instruction (a preloaded
 * library's thread-start hook may allocate before our code runs): we know it by its stack, which is ours. */
static int on_service_thread(void) {
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);
    return here >= ml_service_stack_lo && here < ml_service_stack_hi;
}

ml_thread *ml_thread_register(void) {
    if (on_service_thread()) {
        /* An allocation before service_main set its guard (a preloaded library's thread-start hook): not
         * the program's. */
        return NULL;
    }
    pid_t tid = (pid_t)syscall(SYS_gettid);
    char name[64];
    pthread_mutex_lock(&g_registry_lock);
    ml_thread *t = new_state();
    if (t == NULL || ml_stream_init(&t->stream, g_next_stream, (ml_options & ML_OPTION_NATIVE) != 0) != 0) {
        if (t != NULL) {
            t->next = g_free;
            g_free = t;
        }
        pthread_mutex_unlock(&g_registry_lock);
        return NULL;
    }
    g_next_stream++;
    t->tid = tid;
    t->pthread_id = (uint64_t)pthread_self();
    t->session = ml_thread_session;
    /* Aggregated mode keeps node ids for the whole session: CHECKPOINT entries name them. */
    t->py.no_reset = t->native.no_reset = (ml_options & ML_OPTION_AGGREGATE) != 0;
    if (!take_pending_name(tid, name, sizeof name)) {
        /* The OS name (16 bytes): "python3" for the main thread until the bootstrap names it. */
        char comm[17] = {0};
        prctl(PR_GET_NAME, comm, 0, 0, 0);
        ml_strlcpy(name, comm, sizeof name);
    }
    t->next = g_threads;
    g_threads = t;
    pthread_mutex_unlock(&g_registry_lock);

    ml_tls_thread = t;
    ml_tls_session = t->session;
    pthread_setspecific(g_key, t);

    uint8_t mem[128];
    ml_buf b;
    ml_buf_init(&b, mem, sizeof mem);
    ml_buf_varint(&b, (uint64_t)tid);
    ml_buf_varint(&b, t->pthread_id);
    ml_buf_cstr(&b, name);
    ml_buf_varint(&b, ml_rel_ns());
    ml_lock_acquire(&t->stream.lock);
    ml_stream_record(&t->stream, ML_R_THREAD, b.p, b.len);
    ml_lock_release(&t->stream.lock);
    return t;
}

/* Runs at thread exit (glibc calls key destructors). Later destructors may still allocate on this
 * thread; those events go into the same stream, which the service thread flushes when the OS thread is
 * gone. */
static void on_thread_exit(void *value) {
    ml_thread *t = value;
    int saved_guard = ml_guard_enter();
    if (t != NULL && ml_tls_session == ml_thread_session && t == ml_tls_thread) {
        ml_lock_acquire(&t->stream.lock);
        t->exiting = 1;
        t->exit_ns = ml_rel_ns();
        if (!t->stream.closed) ml_stream_flush(&t->stream);
        ml_lock_release(&t->stream.lock);
    }
    ml_guard_leave(saved_guard);
}

/* The thread has ended for the program, now unless an earlier mark said so (stream lock held). */
static void mark_ended(ml_thread *t) {
    if (t->exiting) return;
    t->exiting = 1;
    t->exit_ns = ml_rel_ns();
}

/* The bootstrap calls this when a Python thread's run() has returned: from the program's point of view the
 * thread has ended (join() returns right after), though the OS thread may take a while longer to go. */
void ml_thread_done(void) {
    ml_thread *t = ml_tls_thread;
    if (t == NULL) return;
    int saved_guard = ml_guard_enter();
    if (ml_tls_session == ml_thread_session) {
        ml_lock_acquire(&t->stream.lock);
        mark_ended(t);
        if (!t->stream.closed) ml_stream_flush(&t->stream);
        ml_lock_release(&t->stream.lock);
    }
    ml_guard_leave(saved_guard);
}

void ml_thread_ended(pid_t tid) {
    int saved_guard = ml_guard_enter();
    pthread_mutex_lock(&g_registry_lock);
    for (ml_thread *t = g_threads; t != NULL; t = t->next) {
        /* The registry keeps the newest first. Should the ended thread's OS id have been reused by a later
         * thread, that one is marked instead: the only effect is that its THREAD_EXIT carries the time
         * tracking stopped, when its stream is closed anyway. */
        if (t->tid != tid) continue;
        ml_lock_acquire(&t->stream.lock);
        mark_ended(t);
        ml_lock_release(&t->stream.lock);
        break;
    }
    pthread_mutex_unlock(&g_registry_lock);
    ml_guard_leave(saved_guard);
}

void ml_threads_flush_all(void) {
    pthread_mutex_lock(&g_registry_lock);
    for (ml_thread *t = g_threads; t != NULL; t = t->next) {
        ml_lock_acquire(&t->stream.lock);
        if (!t->stream.closed) ml_stream_flush(&t->stream);
        ml_lock_release(&t->stream.lock);
    }
    pthread_mutex_unlock(&g_registry_lock);
}

static int thread_alive(pid_t tid) {
    if (syscall(SYS_tgkill, ml_pid, tid, 0) == 0) return 1;
    return errno != ESRCH;
}

/* THREAD_EXIT, dated when the thread ended for the program if we know, else now (stream lock held). */
static void record_thread_exit(ml_thread *t) {
    uint8_t mem[16];
    ml_buf b;
    ml_buf_init(&b, mem, sizeof mem);
    ml_buf_varint(&b, t->exiting ? t->exit_ns : ml_rel_ns());
    ml_stream_record(&t->stream, ML_R_THREAD_EXIT, b.p, b.len);
}

static void add_totals(ml_thread_totals *sum, const ml_thread *t) {
    sum->allocations += t->allocations;
    sum->frees += t->frees;
    sum->bytes_allocated += t->bytes_allocated;
    sum->dropped += t->stream.dropped;
}

void ml_threads_reap(void) {
    pthread_mutex_lock(&g_registry_lock);
    ml_thread **link = &g_threads;
    while (*link != NULL) {
        ml_thread *t = *link;
        if (thread_alive(t->tid)) {
            link = &t->next;
            continue;
        }
        /* The OS thread is gone: nothing runs on it, nobody else holds its state but us. */
        ml_lock_acquire(&t->stream.lock);
        if (!t->stream.closed) {
            record_thread_exit(t);
            ml_stream_flush(&t->stream);
            t->stream.closed = 1;
        }
        ml_lock_release(&t->stream.lock);
        add_totals(&g_gone, t);
        g_gone.streams++;
        *link = t->next;
        release_tables(t);
        t->next = g_free;
        g_free = t;
    }
    pthread_mutex_unlock(&g_registry_lock);
}

void ml_threads_close_all(void) {
    pthread_mutex_lock(&g_registry_lock);
    for (ml_thread *t = g_threads; t != NULL; t = t->next) {
        ml_lock_acquire(&t->stream.lock);
        if (!t->stream.closed) {
            /* A thread past its pthread key destructor, or gone, has ended as far as the program knows. */
            if (t->exiting || !thread_alive(t->tid)) record_thread_exit(t);
            ml_stream_flush(&t->stream);
            t->stream.closed = 1;
        }
        /* The state itself stays: a live thread still points at it (and finds it closed). */
        release_tables(t);
        ml_lock_release(&t->stream.lock);
    }
    pthread_mutex_unlock(&g_registry_lock);
}

void ml_threads_totals(ml_thread_totals *out) {
    pthread_mutex_lock(&g_registry_lock);
    *out = g_gone;
    for (ml_thread *t = g_threads; t != NULL; t = t->next) {
        ml_lock_acquire(&t->stream.lock);
        add_totals(out, t);
        ml_lock_release(&t->stream.lock);
        out->streams++;
    }
    pthread_mutex_unlock(&g_registry_lock);
}

/* The thread with OS id tid, or (tid 0) the live one with pthread id pthread_id; NULL if it has no stream.
 * Registry mutex held. */
static ml_thread *find_thread(pid_t tid, uint64_t pthread_id) {
    for (ml_thread *t = g_threads; t != NULL; t = t->next) {
        if (tid != 0 ? t->tid == tid : (t->pthread_id == pthread_id && !t->exiting)) return t;
    }
    return NULL;
}

/* THREAD_NAME: `stream`, `name`, and for a rename the seq and time it happened at and its flags (1 a
 * rename, 2 the OS's name: the kernel keeps 15 bytes of it). `rename`: 0 a naming, else those flags. */
static void record_thread_name(const ml_thread *t, const char *name, int rename) {
    uint8_t mem[192];
    ml_buf b;
    ml_buf_init(&b, mem, sizeof mem);
    ml_buf_varint(&b, t->stream.id);
    ml_buf_str(&b, name, ml_utf8_prefix(name, 128));
    if (rename) {
        ml_buf_varint(&b, ml_next_seq());
        ml_buf_varint(&b, ml_rel_ns());
        ml_buf_varint(&b, (uint64_t)rename);
    }
    ml_service_stream_record(ML_R_THREAD_NAME, b.p, b.len);
}

static void keep_pending_name(pid_t tid, const char *name) {
    size_t slot = PENDING_NAMES;
    for (size_t i = 0; i < PENDING_NAMES; i++) {
        if (g_pending[i].tid == tid) {
            slot = i;
            break;
        }
    }
    if (slot == PENDING_NAMES) slot = g_pending_next++ % PENDING_NAMES;
    g_pending[slot].tid = tid;
    size_t n = ml_utf8_prefix(name, sizeof g_pending[slot].name - 1);
    memcpy(g_pending[slot].name, name, n);
    g_pending[slot].name[n] = 0;
}

void ml_threads_name(pid_t tid, const char *name) {
    pthread_mutex_lock(&g_registry_lock);
    ml_thread *found = find_thread(tid, 0);
    if (found != NULL) {
        record_thread_name(found, name, 0);
    } else {
        keep_pending_name(tid, name);
    }
    pthread_mutex_unlock(&g_registry_lock);
}

void ml_thread_renamed(pid_t tid, uint64_t pthread_id, const char *name, int os_name) {
    int saved_errno = errno;
    int guard = ml_guard_enter();
    pthread_mutex_lock(&g_registry_lock);
    ml_thread *found = find_thread(tid, pthread_id);
    if (found != NULL) {
        record_thread_name(found, name, os_name ? 3 : 1);
    } else if (tid != 0) {
        /* No event yet: the name is for its THREAD record. An OS name replaces a pending (Python) name only
         * if it is not that name cut to the kernel's 15 bytes; without a pending name the THREAD record
         * reads the OS name itself. */
        size_t i = 0;
        while (i < PENDING_NAMES && g_pending[i].tid != tid) i++;
        int pending = i < PENDING_NAMES;
        if (!os_name || (pending && strncmp(g_pending[i].name, name, strlen(name)) != 0)) keep_pending_name(tid, name);
    }
    pthread_mutex_unlock(&g_registry_lock);
    ml_guard_leave(guard);
    errno = saved_errno;
}

void ml_threads_forget(void) {
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    g_registry_lock = fresh;
    /* Nobody else runs in the child, so the parent's states can be unmapped without their locks. Our
     * own pthread key value may still point at one: on_thread_exit compares, never dereferences it. */
    for (int list = 0; list < 2; list++) {
        ml_thread *t = list == 0 ? g_threads : g_free;
        while (t != NULL) {
            ml_thread *next = t->next;
            if (list == 0) release_tables(t);
            ml_mem_free(t, sizeof *t);
            t = next;
        }
    }
    g_threads = NULL;
    g_free = NULL;
    ml_thread_session = 0;
    ml_tls_thread = NULL;
    ml_tls_session = 0;
}
