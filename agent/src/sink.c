/* The capture's destination. A regular file is opened O_APPEND so a block lands whole at the end even if
 * memlens appends its own records later; a pipe or socket gets SIGPIPE blocked around each write so a
 * reader that went away cannot kill the target.
 *
 * A write to a file can fail half way (the disk fills up: ENOSPC, a quota: EDQUOT): the part of the block
 * that got in is cut off again, so the capture ends on a whole block rather than on what reads as a writer
 * killed in the middle, and the session is told why (ml_sink_on_failure) so that the capture can say so
 * in one last small block, written in the room the cut made (ml_sink_write_last). */
#include "sink.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "util.h"

static pthread_mutex_t g_sink_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_fd = -1;
static int g_is_stream; /* a pipe or socket: SIGPIPE is possible */
static int g_failed;
static int g_last_written;
static int g_fail_errno;
static void (*g_on_failure)(int err);
/* The file's size before the write in progress: where a block that got in only in part is cut off. */
static off_t g_end = -1;
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

/* Also notes the file's size in g_end: blocks are appended (O_APPEND), so the next one starts there. */
static int still_ours(void) {
    struct stat st;
    if (fstat(g_fd, &st) != 0 || st.st_dev != g_dev || st.st_ino != g_ino) return 0;
    g_end = st.st_size;
    return 1;
}

/* A write to the file failed: cut off what of it got in (the file ends on a whole block again). */
static void cut_partial_write(void) {
    if (!g_is_stream && g_end >= 0) (void)ftruncate(g_fd, g_end);
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
    g_fd = fd;
    g_is_stream = 0;
    g_failed = 0;
    g_last_written = 0;
    g_fail_errno = 0;
    remember(fd);
    return 0;
}

int ml_sink_use_fd(int fd, char *err, size_t errlen) {
    struct stat st;
    if (fstat(fd, &st) != 0) {
        ml_set_err(err, errlen, "the capture descriptor is not open", errno);
        return -1;
    }
    g_fd = fd;
    g_is_stream = !S_ISREG(st.st_mode);
    g_failed = 0;
    g_last_written = 0;
    g_fail_errno = 0;
    remember(fd);
    return 0;
}

static int write_all(const void *p, size_t n) {
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(g_fd, c, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

int ml_sink_write(const void *p, size_t n) {
    int saved = errno;
    int failed_now = 0;
    pthread_mutex_lock(&g_sink_lock);
    int r = -1;
    if (g_fd >= 0 && !g_failed && !still_ours()) {
        /* Closed or replaced behind our back: stop writing, and leave the descriptor to its new owner. */
        g_failed = 1;
        g_fd = -1;
    }
    if (g_fd >= 0 && !g_failed) {
        if (g_is_stream) {
            sigset_t pipe_set, old;
            sigemptyset(&pipe_set);
            sigaddset(&pipe_set, SIGPIPE);
            pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
            r = write_all(p, n);
            if (r != 0 && errno == EPIPE && !sigismember(&old, SIGPIPE)) {
                /* Consume the SIGPIPE our write raised, so unblocking does not deliver it. */
                struct timespec zero = {0, 0};
                while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR) {
                }
            }
            pthread_sigmask(SIG_SETMASK, &old, NULL);
        } else {
            r = write_all(p, n);
        }
        if (r != 0) {
            failed_now = errno;
            g_fail_errno = errno;
            cut_partial_write();
            g_failed = 1;
        }
    }
    void (*on_failure)(int) = g_on_failure;
    pthread_mutex_unlock(&g_sink_lock);
    if (failed_now != 0 && on_failure != NULL) on_failure(failed_now);
    errno = saved;
    return r;
}

void ml_sink_on_failure(void (*fn)(int err)) {
    pthread_mutex_lock(&g_sink_lock);
    g_on_failure = fn;
    pthread_mutex_unlock(&g_sink_lock);
}

int ml_sink_write_last(const void *p, size_t n) {
    int saved = errno;
    pthread_mutex_lock(&g_sink_lock);
    int r = -1;
    if (g_fd >= 0 && g_failed && !g_last_written && !g_is_stream && still_ours()) {
        g_last_written = 1;
        r = write_all(p, n);
        if (r != 0) cut_partial_write();
    }
    pthread_mutex_unlock(&g_sink_lock);
    errno = saved;
    return r;
}

void ml_sink_close(void) {
    pthread_mutex_lock(&g_sink_lock);
    if (g_fd >= 0 && still_ours()) close(g_fd);
    g_fd = -1;
    g_on_failure = NULL;
    pthread_mutex_unlock(&g_sink_lock);
}

void ml_sink_forget(void) {
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    g_sink_lock = fresh;
    /* Our copy of the parent's descriptor: closing it leaves the parent's open, and a pipe's reader
     * still sees end-of-file when the parent closes its end. */
    if (g_fd >= 0 && still_ours()) close(g_fd);
    g_fd = -1;
    g_failed = 0;
    g_last_written = 0;
    g_fail_errno = 0;
    g_on_failure = NULL;
}

int ml_sink_failed(void) {
    return g_failed;
}

int ml_sink_errno(void) {
    return g_fail_errno;
}
