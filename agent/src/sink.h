/* Where blocks go: a file opened with O_APPEND, or an inherited file descriptor (a pipe or socket the
 * live view hands the agent). One mutex: one write(2) per block, so blocks never interleave. */
#ifndef MEMLENS_SINK_H
#define MEMLENS_SINK_H

#include <stddef.h>

/* Opens `path` for the session (O_EXCL unless overwrite). Returns 0, or -1 with err set. */
int ml_sink_open_path(const char *path, int overwrite, char *err, size_t errlen);
/* Uses an already open descriptor. Returns 0, or -1 with err set. */
int ml_sink_use_fd(int fd, char *err, size_t errlen);
/* Writes all of p (one block or the file header) under the sink mutex. 0, or -1 if the sink failed
 * (a failed sink drops everything after: a partial block would be damage, not data). */
int ml_sink_write(const void *p, size_t n);
void ml_sink_close(void);
/* Called once, on the thread whose write failed and after the sink gave up (its lock released), with the
 * write's errno: the session writes the capture's last words from there (ml_sink_write_last). */
void ml_sink_on_failure(void (*fn)(int err));
/* One write after the sink failed: a block that says why the capture stops. 0, or -1 (nothing written). */
int ml_sink_write_last(const void *p, size_t n);
/* In a fork child: close our copy of the parent's descriptor and reset the mutex (another thread may have
 * held it at the fork). */
void ml_sink_forget(void);
int ml_sink_failed(void);
/* The errno of the write that failed (ml_sink_write restores the caller's errno), 0 if none did. */
int ml_sink_errno(void);

#endif
