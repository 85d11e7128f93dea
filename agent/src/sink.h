/* Where blocks go: a file opened with O_APPEND, or an inherited file descriptor (a pipe or socket the
 * live view hands the agent), behind a bounded in-memory queue that only the agent's service thread
 * writes out, so that no thread of the program ever waits for the reader or the disk (sink.c). */
#ifndef MEMLENS_SINK_H
#define MEMLENS_SINK_H

#include <stddef.h>
#include <stdint.h>

/* How much may wait in the queue before the capture stops (docs/agent.md, "Writing the capture"). */
#define ML_SINK_DEFAULT_LIMIT ((size_t)64u << 20)

/* ml_sink_stopped(): the capture is being written; it stopped because the reader (or the disk) fell
 * ml_sink_limit() bytes behind; it stopped because a write failed (ml_sink_errno() says why). */
enum { ML_SINK_OK = 0, ML_SINK_BEHIND = 1, ML_SINK_FAILED = 2, ML_SINK_LAST = 3 /* internal */ };

/* Opens `path` for the session (O_EXCL unless overwrite). Returns 0, or -1 with err set. */
int ml_sink_open_path(const char *path, int overwrite, char *err, size_t errlen);
/* Uses an already open descriptor (a pipe or socket is made non-blocking until ml_sink_close). Returns 0,
 * or -1 with err set. */
int ml_sink_use_fd(int fd, char *err, size_t errlen);
/* The queue's limit in bytes (at least 1 MiB). */
void ml_sink_set_limit(size_t bytes);
size_t ml_sink_limit(void);

/* The file header: into a regular file at once (the session is starting), else queued. 0, or -1. */
int ml_sink_write_header(const void *p, size_t n);
/* Queues a copy of p (one block), from any thread, without waiting. 0, or -1 if it was dropped: the
 * capture stopped (nothing after that point goes out but the last words), or no memory. */
int ml_sink_write(const void *p, size_t n);
/* After the capture stopped: queues one of its last small blocks (why it stops, the trailer), behind what
 * is still queued; at most a few KiB in all. 0, or -1. */
int ml_sink_write_last(const void *p, size_t n);

/* The service thread: writes what is queued without waiting. 1: all of it; 0: the reader has no room
 * (poll ml_sink_fd() for POLLOUT); -1: the sink failed. */
int ml_sink_pump(void);
/* Writes everything queued, waiting for the reader while it makes progress, and giving up after
 * `stall_ns` without any. 0 when all went out, -1 otherwise. */
int ml_sink_drain(uint64_t stall_ns);
/* Wakes the writer now (an eventfd the service thread polls: ml_sink_wake_fd; ml_sink_woken clears it).
 * A thread that queues does it by itself when much is waiting. Async-signal-safe. */
void ml_sink_kick(void);
int ml_sink_wake_fd(void);
void ml_sink_woken(void);

int ml_sink_fd(void);
size_t ml_sink_queued(void);
/* ML_SINK_OK, ML_SINK_BEHIND or ML_SINK_FAILED. */
int ml_sink_stopped(void);
/* The errno of the write that failed, 0 if none did. */
int ml_sink_errno(void);
/* Blocks refused or thrown away since the session started. */
uint64_t ml_sink_dropped(void);

/* Called once when a write fails, after the sink gave up (its locks released; on the service thread, or the
 * thread that drains), with the write's errno: the session queues the capture's last words from there
 * (ml_sink_write_last). */
void ml_sink_on_failure(void (*fn)(int err));

/* Throws away what is still queued, puts a pipe's flags back and closes the descriptor. */
void ml_sink_close(void);
/* In a fork child: close our copy of the parent's descriptor, forget the parent's queue and reset the
 * locks (another thread may have held them at the fork). */
void ml_sink_forget(void);

#endif
