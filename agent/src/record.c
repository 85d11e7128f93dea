/* The recording path every hook shares (hooks.c for the native allocators, pyalloc.c for Python's): set the
 * guard, take seq under the thread's own lock, walk the stacks, encode (or count, in aggregated mode). */
#include "record.h"

#include <pthread.h>

#include "aggregate.h"
#include "encode.h"
#include "native.h"
#include "owntime.h"
#include "pystack.h"
#include "sample.h"
#include "state.h"
#include "thread.h"

/* Writes STACK_RESET and forgets both node tables of the stream (caller holds its lock). */
static void stack_reset(ml_thread *t) {
    ml_stream_record(&t->stream, ML_R_STACK_RESET, NULL, 0);
    ml_pystack_reset(&t->py);
    ml_native_reset(&t->native);
}

/* The calling thread's state when it has none yet in this session (registration: system calls, a mapping),
 * keeping errno, which the free path does not save around its fast part. */
static __attribute__((noinline)) ml_thread *thread_first(void) {
    int saved_errno = errno;
    ml_thread *t = ml_thread_register();
    errno = saved_errno;
    return t;
}

static inline __attribute__((always_inline)) ml_thread *thread_current(void) {
    ml_thread *t = ml_tls_thread;
    if (ML_LIKELY(t != NULL && ml_tls_session == ml_thread_session)) return t;
    return thread_first();
}

/* An allocation's record where the session has more to do than a Python stack and an ALLOC: native stacks,
 * a full node table, aggregated mode (stream lock held; `stack` and `native` are the first attempt's). */
static __attribute__((noinline)) void alloc_general(ml_thread *t, uint64_t seq, uint64_t addr, uint64_t size, unsigned allocator,
                                                    uint32_t stack, uint32_t native) {
    if (stack == UINT32_MAX || native == UINT32_MAX) {
        /* A full node table starts over once; a stack that does not fit even then is cut. */
        stack_reset(t);
        stack = ml_pystack_enabled() ? ml_pystack_capture(&t->py, &t->stream, 1) : 0;
        native = (ml_options & ML_OPTION_NATIVE) ? ml_native_capture(&t->native, &t->stream, 1) : 0;
        if (stack == UINT32_MAX || native == UINT32_MAX) stack_reset(t);
    }
    if (ml_options & ML_OPTION_AGGREGATE) {
        ml_aggregate_alloc(&t->agg, t->stream.id, seq, addr, size, allocator, stack, native);
    } else {
        ml_stream_alloc(&t->stream, seq, addr, size, allocator, stack, native);
    }
}

/* The recording of an allocation once the guard is held: one call for the Python stack, the record encoded
 * in place; anything else the session asks for goes through alloc_general. The native stack is taken here,
 * not in alloc_general: a frame more between the hook and the unwinder is a frame more to unwind on every
 * event (+5 % of the instructions of json_roundtrip with --native). */
static inline __attribute__((always_inline)) void alloc_guarded(uint64_t addr, uint64_t size, unsigned allocator) {
    ml_thread *t = thread_current();
    if (ML_UNLIKELY(t == NULL)) return;
    ml_lock_acquire(&t->stream.lock);
    if (ML_LIKELY(!t->stream.closed)) {
        uint64_t seq = atomic_fetch_add(&ml_seq, 1) + 1;
        uint32_t stack = ml_pystack_enabled() ? ml_pystack_capture(&t->py, &t->stream, 0) : 0;
        if (ML_LIKELY((ml_options & (ML_OPTION_NATIVE | ML_OPTION_AGGREGATE)) == 0 && stack != UINT32_MAX)) {
            ml_stream_alloc(&t->stream, seq, addr, size, allocator, stack, 0);
        } else {
            uint32_t native = (ml_options & ML_OPTION_NATIVE) ? ml_native_capture(&t->native, &t->stream, 0) : 0;
            alloc_general(t, seq, addr, size, allocator, stack, native);
        }
        t->allocations++;
        t->bytes_allocated += size;
    }
    ml_lock_release(&t->stream.lock);
}

void ml_record_alloc(uint64_t addr, uint64_t size, unsigned allocator) {
    int saved_errno = errno;
    uint64_t own = ml_own_begin(); /* memlens's own time, for the reader's program clock (owntime.h) */
    int guard = ml_guard_enter();
    /* Sampling: the block's free will be recorded too (mappings are recorded exactly, free or not). */
    if (!ml_sampling || allocator == ML_A_MMAP || allocator == ML_A_MREMAP || ml_sampled_add(addr)) alloc_guarded(addr, size, allocator);
    ml_guard_leave(guard);
    ml_own_end(own);
    errno = saved_errno;
}

void ml_record_alloc_guarded(uint64_t addr, uint64_t size, unsigned allocator) {
    /* A stack walk may map memory for its tables (and set errno if that fails): errno is kept here. */
    int saved_errno = errno;
    uint64_t own = ml_own_begin();
    alloc_guarded(addr, size, allocator);
    ml_own_end(own);
    errno = saved_errno;
}

static __attribute__((noinline)) void free_aggregated(uint64_t seq, uint64_t addr, unsigned deallocator, uint64_t size) {
    int saved_errno = errno;
    ml_aggregate_free(seq, addr, deallocator, size);
    errno = saved_errno;
}

/* The recording of a free once the guard is held. Nothing on its way sets errno but the slow paths, which
 * keep it themselves (thread_first, a full block's flush, the contended lock, free_aggregated). */
static inline __attribute__((always_inline)) void free_guarded(uint64_t addr, unsigned deallocator, uint64_t size) {
    ml_thread *t = thread_current();
    if (ML_UNLIKELY(t == NULL)) return;
    ml_lock_acquire(&t->stream.lock);
    if (ML_LIKELY(!t->stream.closed)) {
        uint64_t seq = atomic_fetch_add(&ml_seq, 1) + 1;
        if (ML_LIKELY(!(ml_options & ML_OPTION_AGGREGATE))) {
            ml_stream_free(&t->stream, seq, addr, deallocator, size);
        } else {
            free_aggregated(seq, addr, deallocator, size);
        }
        t->frees++;
    }
    ml_lock_release(&t->stream.lock);
}

void ml_record_free(uint64_t addr, unsigned deallocator, int has_size, uint64_t size) {
    uint64_t own = ml_own_begin();
    int guard = ml_guard_enter();
    free_guarded(addr, deallocator, has_size ? size : 0);
    ml_guard_leave(guard);
    ml_own_end(own);
}

void ml_record_free_guarded(uint64_t addr, unsigned deallocator) {
    uint64_t own = ml_own_begin();
    free_guarded(addr, deallocator, 0);
    ml_own_end(own);
}

void ml_record_fork(pid_t child) {
    int saved_errno = errno;
    int guard = ml_guard_enter();
    ml_thread *t = ml_thread_current();
    if (t != NULL) {
        uint8_t mem[48];
        ml_buf b;
        ml_buf_init(&b, mem, sizeof mem);
        ml_buf_varint(&b, ml_next_seq());
        ml_buf_varint(&b, ml_rel_ns());
        ml_buf_varint(&b, (uint64_t)child);
        ml_lock_acquire(&t->stream.lock);
        if (!t->stream.closed) ml_stream_record(&t->stream, ML_R_FORK, b.p, b.len);
        ml_lock_release(&t->stream.lock);
    }
    ml_guard_leave(guard);
    errno = saved_errno;
}
