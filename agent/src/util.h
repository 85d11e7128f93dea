/* Small helpers that replace what stdio and friends would do, without allocating (util.c). */
#ifndef MEMLENS_UTIL_H
#define MEMLENS_UTIL_H

#include <stddef.h>
#include <stdint.h>

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
