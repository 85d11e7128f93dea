/* Recording an event: what a hook does once it knows the real call's result (record.c). */
#ifndef MEMLENS_RECORD_H
#define MEMLENS_RECORD_H

#include <stdint.h>
#include <sys/types.h>

#include "census.h"
#include "encode.h"
#include "native.h"
#include "pystack.h"
#include "sample.h"
#include "state.h"
#include "thread.h"

/* Is this thread allowed to record right now (a session is active and we are not inside the agent)? */
static inline int ml_should_record(void) {
    return atomic_load_explicit(&ml_active, memory_order_relaxed) && !ml_guard;
}

/* Set the guard, take seq under the thread's own lock, walk the stacks, encode. A free is recorded before
 * the memory is released, an allocation after it is obtained. */
/* An allocation of `size` bytes is to be recorded: a session records, and, when sampling, it is in the
 * sample (sample.h). */
static inline int ml_wants_alloc(uint64_t size) {
    return ml_should_record() && (!ml_sampling || ml_sample_alloc(size));
}

/* The free of the block at `addr` is to be recorded: when sampling, only if the block was recorded (it
 * is then forgotten). */
static inline int ml_wants_free(uint64_t addr) {
    return ml_should_record() && (!ml_sampling || ml_sampled_remove(addr));
}

/* When sampling (ml_sampling): is an allocation of `size` bytes at `addr` in the sample? If so its block is
 * remembered, so that its free is recorded too. Call with the guard held. */
static inline int ml_sample_in(uint64_t addr, uint64_t size) {
    return ml_sample_alloc(size) && ml_sampled_add(addr);
}

/* ── the recording path itself, inline ─────────────────────────────────────────────────────────────
 * In a header so that Python's allocator hooks (pyalloc.c), the commonest callers by far, record in their own
 * frame: a call between the hook and the recording moved its arguments and saved and restored six registers
 * twice (about 18 instructions an event of json_roundtrip's 1.3 M). The guard is held by the caller. errno: the
 * fast part sets it nowhere; each slow part that may (a thread's first event, a general stack capture, native
 * stacks and aggregated mode, a full block's flush, a contended lock, the reference table's mapping) keeps it
 * itself, so no event saves it around everything (test/agent/hook-errno.test.ts). */

/* The calling thread's state when it has none yet in this session (keeps errno). */
ml_thread *ml_record_thread_first(void);
/* An allocation's record where the session has more to do than a Python stack and an ALLOC: native stacks, a
 * full node table, aggregated mode (stream lock held; `stack` and `native` are the first attempt's). */
void ml_record_alloc_general(ml_thread *t, uint64_t seq, uint64_t addr, uint64_t size, unsigned allocator, uint32_t stack, uint32_t native);
/* A free in aggregated mode (keeps errno). */
void ml_record_free_aggregated(uint64_t seq, uint64_t addr, unsigned deallocator, uint64_t size);

static inline __attribute__((always_inline)) ml_thread *ml_record_thread(void) {
    ml_thread *t = ml_tls_thread;
    if (ML_LIKELY(t != NULL && ml_tls_session == ml_thread_session)) return t;
    return ml_record_thread_first();
}

/* The recording of an allocation once the guard is held: one call for the Python stack, the record encoded in
 * place; anything else the session asks for goes through ml_record_alloc_general. The native stack is taken
 * here, not there: a frame more between the hook and the unwinder is a frame more to unwind on every event (+5 %
 * of the instructions of json_roundtrip with --native). */
static inline __attribute__((always_inline)) void ml_record_alloc_in(uint64_t addr, uint64_t size, unsigned allocator) {
    ml_thread *t = ml_record_thread();
    if (ML_UNLIKELY(t == NULL)) return;
    uint64_t seq = ml_lock_owner_enter(&t->stream.lock, &ml_seq); /* a seq a closed stream leaves unused */
    if (ML_LIKELY(!t->stream.closed)) {
        uint32_t stack = ml_pystack_enabled() ? ml_pystack_capture(&t->py, &t->stream, 0) : 0;
        if (ML_LIKELY((ml_options & (ML_OPTION_NATIVE | ML_OPTION_AGGREGATE)) == 0 && stack != UINT32_MAX)) {
            ml_stream_alloc(&t->stream, seq, addr, size, allocator, stack, 0);
        } else {
            /* The unwinder (backtrace() where it falls back), aggregated mode's tables: errno kept here. */
            int saved_errno = errno;
            uint32_t native = (ml_options & ML_OPTION_NATIVE) ? ml_native_capture(&t->native, &t->stream, 0) : 0;
            ml_record_alloc_general(t, seq, addr, size, allocator, stack, native);
            errno = saved_errno;
        }
        t->allocations++;
        t->bytes_allocated += size;
    }
    ml_lock_owner_leave(&t->stream.lock);
    /* Every so many bytes this thread allocated (1 MiB, or a 512th of a memory limit), the step (census.c):
     * a late snapshot (snapshot.c) and the near-OOM census's check. A compare here, a clock read there, a
     * pread now and then. After the lock: the check may wait for the service thread, which takes it to flush. */
    if (ML_UNLIKELY(t->bytes_allocated >= t->census_check_at)) ml_census_alloc_check(t);
}

/* The recording of a free once the guard is held (`size` 0: none given). */
static inline __attribute__((always_inline)) void ml_record_free_in(uint64_t addr, unsigned deallocator, uint64_t size) {
    ml_thread *t = ml_record_thread();
    if (ML_UNLIKELY(t == NULL)) return;
    uint64_t seq = ml_lock_owner_enter(&t->stream.lock, &ml_seq);
    if (ML_LIKELY(!t->stream.closed)) {
        if (ML_LIKELY(!(ml_options & ML_OPTION_AGGREGATE))) {
            ml_stream_free(&t->stream, seq, addr, deallocator, size);
        } else {
            ml_record_free_aggregated(seq, addr, deallocator, size);
        }
        t->frees++;
    }
    ml_lock_owner_leave(&t->stream.lock);
}

void ml_record_alloc(uint64_t addr, uint64_t size, unsigned allocator);
void ml_record_free(uint64_t addr, unsigned deallocator, int has_size, uint64_t size);
/* The same for a hook that already holds the guard (it set it after ml_should_record, around its call of
 * the real allocator too): the guard is neither set nor given back here. When sampling, the hook made the
 * decision: an allocation is recorded only if ml_sample_in() said so (which also remembers its block), a free
 * only if ml_sampled_remove() found the block. errno is kept (by the slow parts, above). */
void ml_record_alloc_guarded(uint64_t addr, uint64_t size, unsigned allocator);
void ml_record_free_guarded(uint64_t addr, unsigned deallocator);
/* FORK in the calling thread's stream (the fork hook, in the parent). */
void ml_record_fork(pid_t child);

#endif
