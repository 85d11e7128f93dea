/* Parsing pressure stall information (psi.h). */
#include "psi.h"

#include <string.h>

#include "util.h"

/* "12.34" at p → 1234 (two decimals, as the kernel prints them); p advances past the number. */
static uint64_t hundredths(const char **p) {
    uint64_t whole = ml_parse_u64(p), frac = 0;
    int digits = 0;
    if (**p == '.') {
        (*p)++;
        while (**p >= '0' && **p <= '9') {
            if (digits < 2) {
                frac = frac * 10 + (uint64_t)(**p - '0');
                digits++;
            }
            (*p)++;
        }
    }
    while (digits++ < 2) frac *= 10;
    return whole * 100 + frac;
}

/* One line, "some ..." or "full ...": its three averages and total. Returns 0 if the line has them all. */
static int parse_line(const char *line, uint64_t avg[3], uint64_t *total) {
    static const char *const keys[3] = {"avg10=", "avg60=", "avg300="};
    const char *end = strchr(line, '\n');
    size_t len = end != NULL ? (size_t)(end - line) : strlen(line);
    for (int i = 0; i < 3; i++) {
        const char *k = strstr(line, keys[i]);
        if (k == NULL || (size_t)(k - line) >= len) return -1;
        const char *p = k + strlen(keys[i]);
        avg[i] = hundredths(&p);
    }
    const char *t = strstr(line, "total=");
    if (t == NULL || (size_t)(t - line) >= len) return -1;
    const char *p = t + 6;
    *total = ml_parse_u64(&p);
    return 0;
}

/* The line that starts with `name` followed by a space, or NULL. */
static const char *find_line(const char *text, const char *name) {
    size_t n = strlen(name);
    const char *line = text;
    while (*line) {
        if (strncmp(line, name, n) == 0 && line[n] == ' ') return line;
        const char *nl = strchr(line, '\n');
        if (nl == NULL) break;
        line = nl + 1;
    }
    return NULL;
}

int ml_psi_parse(const char *text, ml_psi *out) {
    memset(out, 0, sizeof *out);
    const char *some = find_line(text, "some");
    if (some == NULL || parse_line(some, out->some_avg, &out->some_total_us) != 0) return -1;
    const char *full = find_line(text, "full");
    if (full != NULL && parse_line(full, out->full_avg, &out->full_total_us) == 0) {
        out->has_full = 1;
    } else {
        memset(out->full_avg, 0, sizeof out->full_avg);
        out->full_total_us = 0;
    }
    return 0;
}
