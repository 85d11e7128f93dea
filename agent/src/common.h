/* What every agent source file shares: macros and the clock (the session's state is in state.h, small
 * helpers in util.h).
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

static inline uint64_t ml_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
