/* The capture's destination, and the queue in front of it.
 *
 * No thread of the program ever writes to the destination. ml_sink_write copies a block into an in-memory
 * queue and returns; the agent's service thread writes the queue out (ml_sink_pump), and only the thread
 * that stops the session, or that is about to exec, waits for it (ml_sink_drain, bounded). So a reader that
 * stops reading (a pipe or socket that nobody drains: a live view that hangs) or a disk that stalls costs
 * memory, not the program's time, and the memory is bounded: past the queue's limit the capture stops
 * (ml_sink_stopped says why; the session then ends itself, selfstop.c) and nothing more is accepted but a
 * few small last blocks that say why (ml_sink_write_last). What was queued before the limit still goes
 * out, so the capture is a clean prefix of what the agent recorded, as if the process had been killed
 * there.
 *
 * A pipe or socket is made non-blocking while the session uses it (its flags are put back at close), and
 * the service thread waits for room with poll: never longer than it chooses. SIGPIPE is blocked around
 * every write, so a reader that went away cannot kill the process. A regular file is opened O_APPEND so a
 * block lands whole at the end even if memlens appends its own records later; a write that fails half way
 * (a full disk) is cut off again, so the file still ends on a whole block. */
#include "sink.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "mem.h"
#include "util.h"

/* One queued write: a block, or the file header. */
typedef struct qblock {
    struct qblock *next;
    size_t len;  /* bytes of data */
    size_t off;  /* bytes of it already written */
    size_t size; /* what was mapped, for ml_mem_free */
    uint8_t data[];
} qblock;

/* Blocks of the usual size are kept for reuse rather than mapped and unmapped each time. */
#define STANDARD_BLOCK (40u * 1024u)
#define POOL_MAX 16u
/* The last blocks after the capture stopped: a marker and a trailer are far smaller. */
#define LAST_WORDS_MAX 4096u
/* Queued bytes past which a thread that queues wakes the writer rather than leave it to its next round. */
#define KICK_BYTES (256u * 1024u)

static pthread_mutex_t g_q_lock = PTHREAD_MUTEX_INITIALIZER;      /* the queue, the pool and the state */
static pthread_mutex_t g_writer_lock = PTHREAD_MUTEX_INITIALIZER; /* one writer at a time */
static qblock *g_head, *g_tail;
static size_t g_queued;
static size_t g_limit = ML_SINK_DEFAULT_LIMIT;
static qblock *g_pool;
static unsigned g_pool_n;
static size_t g_last_words; /* bytes accepted by ml_sink_write_last */
static uint64_t g_dropped;  /* blocks refused or thrown away */
static atomic_int g_kicked;
static int g_wake_fd = -1;
static void (*g_on_failure)(int err); /* told once when a write fails (lifecycle.c: the CAPTURE_STOPPED marker) */

static int g_fd = -1;
static int g_is_stream;     /* a pipe or socket: non-blocking, SIGPIPE possible */
static int g_saved_flags;   /* its file status flags before we set O_NONBLOCK */
static atomic_int g_state;  /* ML_SINK_OK, _BEHIND, _FAILED */
static int g_errno;         /* the failed write's errno */
static off_t g_block_start; /* a regular file's size before the block being written */
/* What g_fd was when we got it. A program that closes every descriptor (daemons do) and opens a file that
 * gets the same number must not receive our blocks: each write checks first. */
static dev_t g_dev;
static ino_t g_ino;

static int remember(int fd) {
    struct stat st;
    if (fstat(fd, &st) != 0) return -1;
    g_dev = st.st_dev;
    g_ino = st.st_ino;
    return 0;
}

/* Also notes a file's size in g_block_start when `at_block_start`: blocks are appended (O_APPEND), so the
 * next one starts there, and a write that fails half way is cut back to it. */
static int still_ours(int at_block_start) {
    struct stat st;
    if (fstat(g_fd, &st) != 0 || st.st_dev != g_dev || st.st_ino != g_ino) return 0;
    if (at_block_start) g_block_start = st.st_size;
    return 1;
}

static void begin(int fd, int is_stream) {
    g_fd = fd;
    g_is_stream = is_stream;
    atomic_store(&g_state, ML_SINK_OK);
    g_errno = 0;
    g_queued = 0;
    g_last_words = 0;
    g_dropped = 0;
    g_head = g_tail = NULL;
    g_block_start = -1;
    atomic_store(&g_kicked, 0);
    remember(fd);
    if (g_wake_fd < 0) g_wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

static void path_error(char *err, size_t errlen, const char *path, const char *why, int errnum) {
    char what[512];
    ml_strlcpy(what, "cannot create the capture file ", sizeof what);
    ml_strlcat(what, path, sizeof what);
    ml_strlcat(what, why, sizeof what);
    ml_set_err(err, errlen, what, errnum);
}

/* The capture holds the program's command line, paths and names: only its owner may read it (0600,
 * whatever the umask). It is never opened through a symbolic link, and only a regular file is written: with
 * overwrite, an existing file must also belong to this user (a file another user put at the path would
 * otherwise receive the capture and let them read it). O_NONBLOCK keeps a FIFO at the path from blocking
 * the thread that starts tracking; it is cleared once the file is known to be regular. */
int ml_sink_open_path(const char *path, int overwrite, char *err, size_t errlen) {
    int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | (overwrite ? 0 : O_EXCL);
    int fd = open(path, flags, 0600);
    if (fd < 0) {
        path_error(err, errlen, path, errno == ELOOP ? " (it is a symbolic link)" : "", errno);
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        path_error(err, errlen, path, ": it is not a regular file", 0);
        return -1;
    }
    if (st.st_uid != geteuid()) {
        close(fd);
        path_error(err, errlen, path, ": it belongs to another user", 0);
        return -1;
    }
    if (overwrite && st.st_size > 0) {
        if (ftruncate(fd, 0) != 0) {
            int e = errno;
            close(fd);
            path_error(err, errlen, path, "", e);
            return -1;
        }
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl != -1) (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    begin(fd, 0);
    return 0;
}

int ml_sink_use_fd(int fd, char *err, size_t errlen) {
    struct stat st;
    if (fstat(fd, &st) != 0) {
        ml_set_err(err, errlen, "the capture descriptor is not open", errno);
        return -1;
    }
    int is_stream = !S_ISREG(st.st_mode);
    if (is_stream) {
        int fl = fcntl(fd, F_GETFL);
        if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1) {
            ml_set_err(err, errlen, "cannot make the capture descriptor non-blocking", errno);
            return -1;
        }
        g_saved_flags = fl;
    }
    begin(fd, is_stream);
    return 0;
}

void ml_sink_set_limit(size_t bytes) {
    g_limit = bytes < (1u << 20) ? (1u << 20) : bytes;
}

/* ── the queue ─────────────────────────────────────────────────────────────────────────────────── */

/* A queue entry for n bytes, from the pool if it has one that fits (queue lock held). */
static qblock *take_block(size_t n) {
    if (n + sizeof(qblock) <= STANDARD_BLOCK && g_pool != NULL) {
        qblock *b = g_pool;
        g_pool = b->next;
        g_pool_n--;
        return b;
    }
    size_t size = n + sizeof(qblock) <= STANDARD_BLOCK ? STANDARD_BLOCK : n + sizeof(qblock);
    qblock *b = ml_mem_alloc(size);
    if (b != NULL) b->size = size;
    return b;
}

/* Gives a written or dropped entry back (queue lock held). */
static void give_block(qblock *b) {
    if (b->size == STANDARD_BLOCK && g_pool_n < POOL_MAX) {
        b->next = g_pool;
        g_pool = b;
        g_pool_n++;
        return;
    }
    ml_mem_free(b, b->size);
}

/* Throws away everything queued (queue lock held). */
static void drop_queue(void) {
    while (g_head != NULL) {
        qblock *b = g_head;
        g_head = b->next;
        g_dropped++;
        give_block(b);
    }
    g_tail = NULL;
    g_queued = 0;
}

/* Throws away everything queued and unmaps the pool of free blocks (queue lock held, or no other thread). */
static void release_blocks(void) {
    drop_queue();
    while (g_pool != NULL) {
        qblock *b = g_pool;
        g_pool = b->next;
        ml_mem_free(b, b->size);
    }
    g_pool_n = 0;
}

static void kick(void) {
    if (g_wake_fd < 0) return;
    uint64_t one = 1;
    ssize_t r = write(g_wake_fd, &one, sizeof one);
    (void)r; /* a full counter (EAGAIN) still wakes the writer */
}

void ml_sink_kick(void) {
    atomic_store(&g_kicked, 1);
    kick();
}

int ml_sink_wake_fd(void) {
    return g_wake_fd;
}

void ml_sink_woken(void) {
    uint64_t n;
    if (g_wake_fd >= 0) {
        ssize_t r = read(g_wake_fd, &n, sizeof n);
        (void)r;
    }
    atomic_store(&g_kicked, 0);
}

/* Appends a copy of p (queue lock held): 0, or -1 if there is no memory for it. */
static int append(const void *p, size_t n) {
    qblock *b = take_block(n);
    if (b == NULL) return -1;
    memcpy(b->data, p, n);
    b->len = n;
    b->off = 0;
    b->next = NULL;
    if (g_tail != NULL) g_tail->next = b;
    else g_head = b;
    g_tail = b;
    g_queued += n;
    return 0;
}

int ml_sink_write(const void *p, size_t n) {
    int saved = errno;
    int r = -1;
    pthread_mutex_lock(&g_q_lock);
    if (g_fd >= 0 && atomic_load(&g_state) == ML_SINK_OK) {
        if (g_queued + n > g_limit) {
            /* The reader (or the disk) is this far behind: the capture stops here, whole, rather than grow
             * without bound or make the program wait. */
            atomic_store(&g_state, ML_SINK_BEHIND);
        } else {
            r = append(p, n);
        }
    }
    if (r != 0) g_dropped++;
    int wake = r == 0 ? g_queued >= KICK_BYTES : atomic_load(&g_state) != ML_SINK_OK;
    pthread_mutex_unlock(&g_q_lock);
    if (wake && !atomic_exchange(&g_kicked, 1)) kick();
    errno = saved;
    return r;
}

int ml_sink_write_last(const void *p, size_t n) {
    int r = -1;
    pthread_mutex_lock(&g_q_lock);
    int state = atomic_load(&g_state);
    /* After a failed write only a file may take more (a full disk may have room for a small block once the
     * partial one was cut off); a pipe whose reader went away takes nothing. */
    int open = state == ML_SINK_BEHIND || state == ML_SINK_LAST || (state == ML_SINK_FAILED && !g_is_stream);
    if (g_fd >= 0 && open && g_last_words + n <= LAST_WORDS_MAX) {
        if (state == ML_SINK_FAILED) {
            drop_queue();
            atomic_store(&g_state, ML_SINK_LAST);
            g_errno = 0;
        }
        r = append(p, n);
        if (r == 0) g_last_words += n;
    }
    pthread_mutex_unlock(&g_q_lock);
    return r;
}

int ml_sink_write_header(const void *p, size_t n) {
    if (g_fd < 0) return -1;
    if (g_is_stream) return ml_sink_write(p, n);
    /* A regular file gets its header at once, from the thread that starts tracking (before the program's
     * code runs again): whoever reads the file from then on finds a capture. */
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(g_fd, c, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            g_errno = errno;
            return -1;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

/* ── writing the queue out ─────────────────────────────────────────────────────────────────────── */

/* The write failed with `e` (queue lock not held). A file is cut back to its last whole block; a
 * descriptor that is no longer ours (`lost`) is left alone. */
static void fail(int e, int lost) {
    if (!lost && !g_is_stream && g_block_start >= 0) (void)ftruncate(g_fd, g_block_start);
    pthread_mutex_lock(&g_q_lock);
    if (lost) g_fd = -1;
    g_errno = e;
    atomic_store(&g_state, ML_SINK_FAILED);
    drop_queue();
    void (*on_failure)(int) = g_on_failure;
    pthread_mutex_unlock(&g_q_lock);
    /* The session's last words (ml_sink_write_last), queued where the failed block was cut off. */
    if (on_failure != NULL) on_failure(e);
}

void ml_sink_on_failure(void (*fn)(int err)) {
    pthread_mutex_lock(&g_q_lock);
    g_on_failure = fn;
    pthread_mutex_unlock(&g_q_lock);
}

/* Writes what it can of the head entry without waiting: 1 when the entry is done, 0 when the reader has
 * no room now (EAGAIN), -1 when the sink failed (writer lock held). */
static int write_head(qblock *b) {
    if (b->off == 0 && !still_ours(1)) {
        /* Closed or replaced behind our back: stop writing, and leave the descriptor to its new owner. */
        fail(EBADF, 1);
        return -1;
    }
    sigset_t pipe_set, old;
    if (g_is_stream) {
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    }
    int result = 1;
    while (b->off < b->len) {
        ssize_t w = write(g_fd, b->data + b->off, b->len - b->off);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                result = 0;
                break;
            }
            int e = errno;
            if (g_is_stream && e == EPIPE && !sigismember(&old, SIGPIPE)) {
                /* Consume the SIGPIPE our write raised, so unblocking does not deliver it. */
                struct timespec zero = {0, 0};
                while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR) {
                }
            }
            if (g_is_stream) pthread_sigmask(SIG_SETMASK, &old, NULL);
            fail(e, 0);
            return -1;
        }
        b->off += (size_t)w;
    }
    if (g_is_stream) pthread_sigmask(SIG_SETMASK, &old, NULL);
    return result;
}

/* Writes entries until the queue is empty (1), the reader has no room (0), or the sink fails (-1) (writer
 * lock held). */
static int pump_locked(void) {
    for (;;) {
        pthread_mutex_lock(&g_q_lock);
        qblock *b = g_fd >= 0 && atomic_load(&g_state) != ML_SINK_FAILED ? g_head : NULL;
        pthread_mutex_unlock(&g_q_lock);
        if (b == NULL) return atomic_load(&g_state) == ML_SINK_FAILED ? -1 : 1;
        /* Only the writer removes the head, so b stays ours while the lock is let go for the write. */
        int r = write_head(b);
        if (r <= 0) return r;
        pthread_mutex_lock(&g_q_lock);
        g_head = b->next;
        if (g_head == NULL) g_tail = NULL;
        g_queued -= b->len;
        give_block(b);
        pthread_mutex_unlock(&g_q_lock);
    }
}

int ml_sink_pump(void) {
    pthread_mutex_lock(&g_writer_lock);
    int r = pump_locked();
    pthread_mutex_unlock(&g_writer_lock);
    return r;
}

int ml_sink_drain(uint64_t stall_ns) {
    pthread_mutex_lock(&g_writer_lock);
    uint64_t last_progress = ml_now_ns();
    size_t last_queued = ml_sink_queued();
    int r;
    while ((r = pump_locked()) == 0) {
        size_t queued = ml_sink_queued();
        uint64_t now = ml_now_ns();
        if (queued != last_queued) {
            last_queued = queued;
            last_progress = now;
        }
        if (now - last_progress >= stall_ns) break;
        struct pollfd p = {g_fd, POLLOUT, 0};
        uint64_t left = stall_ns - (now - last_progress);
        int ms = (int)(left / 1000000u) + 1;
        if (poll(&p, 1, ms > 100 ? 100 : ms) < 0 && errno != EINTR) break;
    }
    pthread_mutex_unlock(&g_writer_lock);
    return r == 1 ? 0 : -1;
}

int ml_sink_fd(void) {
    return g_fd;
}

size_t ml_sink_queued(void) {
    pthread_mutex_lock(&g_q_lock);
    size_t n = g_queued;
    pthread_mutex_unlock(&g_q_lock);
    return n;
}

int ml_sink_stopped(void) {
    int s = atomic_load(&g_state);
    return s == ML_SINK_LAST ? ML_SINK_FAILED : s;
}

int ml_sink_errno(void) {
    return g_errno;
}

size_t ml_sink_limit(void) {
    return g_limit;
}

uint64_t ml_sink_dropped(void) {
    pthread_mutex_lock(&g_q_lock);
    uint64_t n = g_dropped;
    pthread_mutex_unlock(&g_q_lock);
    return n;
}

void ml_sink_close(void) {
    pthread_mutex_lock(&g_writer_lock);
    pthread_mutex_lock(&g_q_lock);
    release_blocks();
    if (g_fd >= 0 && still_ours(0)) {
        if (g_is_stream) (void)fcntl(g_fd, F_SETFL, g_saved_flags);
        close(g_fd);
    }
    g_fd = -1;
    g_on_failure = NULL;
    pthread_mutex_unlock(&g_q_lock);
    pthread_mutex_unlock(&g_writer_lock);
}

void ml_sink_forget(void) {
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    g_q_lock = fresh;
    g_writer_lock = fresh;
    /* The queue is our copy of the parent's: its blocks are the parent's to write. */
    g_dropped = 0;
    release_blocks();
    /* Our copy of the parent's descriptor: closing it leaves the parent's open, and a pipe's reader
     * still sees end-of-file when the parent closes its end. Its flags belong to the parent's session. */
    if (g_fd >= 0 && still_ours(0)) close(g_fd);
    g_fd = -1;
    /* The wake-up counter is shared with the parent: the child makes its own if it tracks again. */
    if (g_wake_fd >= 0) close(g_wake_fd);
    g_wake_fd = -1;
    atomic_store(&g_state, ML_SINK_OK);
    g_errno = 0;
    g_on_failure = NULL;
}
