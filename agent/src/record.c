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
 * keeping errno, which the recording path does not save around its fast part. */
ml_thread *ml_record_thread_first(void) {
    int saved_errno = errno;
    ml_thread *t = ml_thread_register();
    errno = saved_errno;
    return t;
}

/* An allocation's record where the session has more to do than a Python stack and an ALLOC: native stacks,
 * a full node table, aggregated mode (stream lock held; `stack` and `native` are the first attempt's). */
void ml_record_alloc_general(ml_thread *t, uint64_t seq, uint64_t addr, uint64_t size, unsigned allocator, uint32_t stack,
                             uint32_t native) {
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

void ml_record_alloc(uint64_t addr, uint64_t size, unsigned allocator) {
    int saved_errno = errno;
    uint64_t own = ml_own_begin(); /* memlens's own time, for the reader's program clock (owntime.h) */
    int guard = ml_guard_enter();
    /* Sampling: the block's free will be recorded too (mappings are recorded exactly, free or not). */
    if (!ml_sampling || allocator == ML_A_MMAP || allocator == ML_A_MREMAP || ml_sampled_add(addr))
        ml_record_alloc_in(addr, size, allocator);
    ml_guard_leave(guard);
    ml_own_end(own);
    errno = saved_errno;
}

void ml_record_alloc_guarded(uint64_t addr, uint64_t size, unsigned allocator) {
    uint64_t own = ml_own_begin();
    ml_record_alloc_in(addr, size, allocator);
    ml_own_end(own);
}

void ml_record_free_aggregated(uint64_t seq, uint64_t addr, unsigned deallocator, uint64_t size) {
    int saved_errno = errno;
    ml_aggregate_free(seq, addr, deallocator, size);
    errno = saved_errno;
}

void ml_record_free(uint64_t addr, unsigned deallocator, int has_size, uint64_t size) {
    uint64_t own = ml_own_begin();
    int guard = ml_guard_enter();
    ml_record_free_in(addr, deallocator, has_size ? size : 0);
    ml_guard_leave(guard);
    ml_own_end(own);
}

void ml_record_free_guarded(uint64_t addr, unsigned deallocator) {
    uint64_t own = ml_own_begin();
    ml_record_free_in(addr, deallocator, 0);
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
