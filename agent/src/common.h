/* What every agent source file shares: the guard, the session, the clock and small helpers.
 *
 * The rules of docs/agent.md apply to every line under agent/src: no malloc, no stdio, no re-entry,
 * no global lock per allocation, errors as values. */
#ifndef MEMLENS_COMMON_H
#define MEMLENS_COMMON_H

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "format.h"

#define ML_EXPORT __attribute__((visibility("default")))
#define ML_LIKELY(x) __builtin_expect(!!(x), 1)
#define ML_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define ML_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define ML_WRITER_NAME "memlens-agent"
#define ML_WRITER_VERSION "0.1.0"

/* Set while this thread is inside the agent: an allocation made meanwhile (by libc, by the unwinder, by a
 * Python allocator we wrap) passes straight through. initial-exec TLS: touching it never allocates. */
extern __thread int ml_guard;

/* Nonzero while a session records events (between memlens_start and memlens_stop, in this process). */
extern atomic_int ml_active;

/* Options of the running session (ML_OPTION_* of format.h). */
extern int ml_options;

/* The global sequence counter: the last seq handed out (the first event gets 1). */
extern atomic_uint_fast64_t ml_seq;

/* CLOCK_MONOTONIC when the session started; record times are relative to it. */
extern uint64_t ml_start_mono_ns;

/* The process that owns the session: a vfork child shares our memory but must not write. */
extern int ml_pid;

static inline uint64_t ml_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t ml_rel_ns(void) {
    uint64_t now = ml_now_ns();
    return now > ml_start_mono_ns ? now - ml_start_mono_ns : 0;
}

/* The seq a record off the hot path carries: every event with a lower seq happened before it. */
static inline uint64_t ml_next_seq(void) {
    return atomic_load_explicit(&ml_seq, memory_order_acquire) + 1;
}

/* Copies at most cap-1 bytes and terminates; returns the length of src. */
size_t ml_strlcpy(char *dst, const char *src, size_t cap);
/* Appends src to the NUL-terminated dst of capacity cap. */
void ml_strlcat(char *dst, const char *src, size_t cap);
/* The length of the longest prefix of s of at most max bytes that does not cut a UTF-8 sequence. */
size_t ml_utf8_prefix(const char *s, size_t max);
/* Formats v in decimal into buf (capacity >= 21); returns the length. */
size_t ml_u64_to_dec(char *buf, uint64_t v);
/* Parses a decimal unsigned integer at *p, advancing it; returns 0 if there are no digits. */
uint64_t ml_parse_u64(const char **p);

/* Reads a whole small file (a /proc or cgroup file) into buf, NUL-terminated; -1 on error. */
long ml_read_file(const char *path, char *buf, size_t cap);
/* pread at offset 0 of an already open file, NUL-terminated; -1 on error. */
long ml_pread_all(int fd, char *buf, size_t cap);

/* Error strings for the bootstrap: "what failed: strerror-like detail". */
void ml_set_err(char *err, size_t errlen, const char *what, int errnum);

#endif
