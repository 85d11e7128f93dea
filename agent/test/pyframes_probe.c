/* Test-only shared library around pyframes.c (not shipped; built by test/pyframes/pyframes.test.ts with
 * -Wall -Wextra -Werror). Python loads it with ctypes.CDLL, which releases the GIL around each call: the
 * walks below run exactly as they do inside a malloc hook on a thread that does not hold the GIL. */
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "../src/pyframes.h"

#define PROBE_API __attribute__((visibility("default")))

PROBE_API int probe_init(unsigned long hexversion, char *err, size_t errlen);
PROBE_API size_t probe_walk(uint64_t *codes, uint32_t *instrs, size_t cap);
PROBE_API int probe_code_key(uint64_t code, uint64_t *name, uint64_t *filename, uint32_t *firstlineno);
PROBE_API long probe_code_text(uint64_t code, char *buf, size_t cap, uint64_t *fields);
PROBE_API long probe_walk_in_new_thread(void);
PROBE_API uint64_t probe_bench_walk(size_t iterations, size_t cap, size_t *depth);
PROBE_API uint64_t probe_bench_code_text(uint64_t code, size_t iterations);

int probe_init(unsigned long hexversion, char *err, size_t errlen) {
    return ml_pyframes_init(hexversion, err, errlen);
}

/* The walk, as raw (code object address, instruction byte offset) pairs, leaf first. */
size_t probe_walk(uint64_t *codes, uint32_t *instrs, size_t cap) {
    static ml_pyframe frames[65536];
    if (cap > sizeof frames / sizeof frames[0]) cap = sizeof frames / sizeof frames[0];
    size_t depth = ml_pyframes_walk(frames, cap);
    for (size_t i = 0; i < depth && i < cap; i++) {
        codes[i] = (uint64_t)(uintptr_t)frames[i].code;
        instrs[i] = frames[i].instr;
    }
    return depth;
}

int probe_code_key(uint64_t code, uint64_t *name, uint64_t *filename, uint32_t *firstlineno) {
    ml_code_key k;
    if (ml_pyframes_code_key((const void *)(uintptr_t)code, &k) != 0) return -1;
    *name = (uint64_t)(uintptr_t)k.name;
    *filename = (uint64_t)(uintptr_t)k.filename;
    *firstlineno = k.firstlineno;
    return 0;
}

/* The code text: strings in buf; fields = name off/len, qualname off/len, filename off/len, firstlineno,
 * linetable kind, linetable length. The line table is copied after the strings. Returns the bytes used
 * in buf, or -1. */
long probe_code_text(uint64_t code, char *buf, size_t cap, uint64_t *fields) {
    ml_code_text t;
    if (ml_pyframes_code_text((const void *)(uintptr_t)code, buf, cap, &t) != 0) return -1;
    size_t used = t.filename_off + t.filename_len;
    if (t.name_off + t.name_len > used) used = t.name_off + t.name_len;
    if (t.qualname_off + t.qualname_len > used) used = t.qualname_off + t.qualname_len;
    if (cap - used < t.linetable_len) return -1;
    if (t.linetable_len > 0) memcpy(buf + used, t.linetable, t.linetable_len);
    uint64_t f[9] = {t.name_off,     t.name_len,     t.qualname_off, t.qualname_len,
                     t.filename_off, t.filename_len, t.firstlineno,  (uint64_t)t.linetable_kind,
                     t.linetable_len};
    memcpy(fields, f, sizeof f);
    return (long)(used + t.linetable_len);
}

static void *walk_thread(void *arg) {
    static ml_pyframe frames[64];
    *(long *)arg = (long)ml_pyframes_walk(frames, 64);
    return NULL;
}

/* A thread CPython has never seen (no thread state): the walk must find nothing. */
long probe_walk_in_new_thread(void) {
    pthread_t t;
    long depth = -1;
    if (pthread_create(&t, NULL, walk_thread, &depth) != 0) return -2;
    pthread_join(t, NULL);
    return depth;
}

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* For bench/pyframes-walk.ts: nanoseconds taken by `iterations` walks of the calling thread's frames. */
uint64_t probe_bench_walk(size_t iterations, size_t cap, size_t *depth) {
    static ml_pyframe frames[1024];
    if (cap > 1024) cap = 1024;
    size_t d = 0;
    uint64_t t0 = now_ns();
    for (size_t i = 0; i < iterations; i++) {
        d += ml_pyframes_walk(frames, cap);
        __asm__ volatile("" : : "r"(frames) : "memory"); /* keep every walk */
    }
    uint64_t t1 = now_ns();
    *depth = iterations ? d / iterations : 0;
    return t1 - t0;
}

/* Nanoseconds taken by `iterations` conversions of a code object's text. */
uint64_t probe_bench_code_text(uint64_t code, size_t iterations) {
    static char buf[4096];
    ml_code_text t;
    uint64_t t0 = now_ns();
    for (size_t i = 0; i < iterations; i++) {
        if (ml_pyframes_code_text((const void *)(uintptr_t)code, buf, sizeof buf, &t) != 0) return 0;
        __asm__ volatile("" : : "r"(buf) : "memory");
    }
    return now_ns() - t0;
}
