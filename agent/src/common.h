/* What every agent source file shares: macros, the clock and small helpers (the session's state is in
 * state.h).
 *
 * The rules of docs/agent.md apply to every line under agent/src: no malloc, no stdio, no re-entry,
 * no global lock per allocation, errors as values. */
#ifndef MEMLENS_COMMON_H
#define MEMLENS_COMMON_H

#include <errno.h>
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

static inline uint64_t ml_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
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
