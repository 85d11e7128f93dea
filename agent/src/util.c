/* Small helpers that replace what stdio and friends would do, without allocating. */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

size_t ml_strlcpy(char *dst, const char *src, size_t cap) {
    size_t n = strlen(src);
    if (cap > 0) {
        size_t c = n < cap - 1 ? n : cap - 1;
        memcpy(dst, src, c);
        dst[c] = 0;
    }
    return n;
}

void ml_strlcat(char *dst, const char *src, size_t cap) {
    size_t used = strnlen(dst, cap);
    if (used < cap) ml_strlcpy(dst + used, src, cap - used);
}

size_t ml_utf8_prefix(const char *s, size_t max) {
    size_t n = strnlen(s, max + 1);
    if (n <= max) return n;
    n = max;
    /* back off continuation bytes (10xxxxxx) and the lead byte of the cut sequence */
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80) n--;
    return n;
}

size_t ml_u64_to_dec(char *buf, uint64_t v) {
    char tmp[21];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
    buf[n] = 0;
    return n;
}

uint64_t ml_parse_u64(const char **p) {
    const char *s = *p;
    uint64_t v = 0;
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (uint64_t)(*s - '0');
        s++;
    }
    *p = s;
    return v;
}

long ml_pread_all(int fd, char *buf, size_t cap) {
    if (cap == 0) return -1;
    size_t used = 0;
    for (;;) {
        ssize_t r = pread(fd, buf + used, cap - 1 - used, (off_t)used);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (r == 0) break;
        used += (size_t)r;
        if (used == cap - 1) break;
    }
    buf[used] = 0;
    return (long)used;
}

long ml_read_file(const char *path, char *buf, size_t cap) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    long r = ml_pread_all(fd, buf, cap);
    close(fd);
    return r;
}

void ml_set_err(char *err, size_t errlen, const char *what, int errnum) {
    if (err == NULL || errlen == 0) return;
    ml_strlcpy(err, what, errlen);
    if (errnum != 0) {
        char tmp[128];
        /* GNU strerror_r: returns a pointer to a static string or to tmp. */
        const char *s = strerror_r(errnum, tmp, sizeof tmp);
        ml_strlcat(err, ": ", errlen);
        ml_strlcat(err, s, errlen);
    }
}
