/* The service stream (stream 0), apart from the service thread that writes most of its records: every
 * part of the agent writes here (images from got.c, checkpoints from aggregate.c, GC state from pygc.c),
 * so it sits below all of them. */
#include "service_stream.h"

#include <pthread.h>

#include "common.h"
#include "encode.h"
#include "state.h"
#include "util.h"

static ml_stream g_service;
static int g_service_ready;

int ml_service_stream_begin(void) {
    if (g_service_ready) ml_stream_release(&g_service);
    if (ml_stream_init(&g_service, ML_STREAM_SERVICE, 0) != 0) return -1;
    g_service_ready = 1;
    return 0;
}

void ml_service_stream_record(int type, const void *payload, size_t len) {
    if (!g_service_ready) return;
    int saved_guard = ml_guard_enter();
    ml_lock_acquire(&g_service.lock);
    if (!g_service.closed) ml_stream_record(&g_service, type, payload, len);
    ml_lock_release(&g_service.lock);
    ml_guard_leave(saved_guard);
}

int ml_service_stream_barrier(uint64_t seq, int barrier, int flush) {
    uint8_t mem[16];
    ml_buf b;
    ml_buf_init(&b, mem, sizeof mem);
    ml_buf_varint(&b, seq);
    int open = 0;
    ml_lock_acquire(&g_service.lock);
    if (!g_service.closed) {
        open = 1;
        if (barrier) ml_stream_record(&g_service, ML_R_BARRIER, b.p, b.len);
        if (flush) ml_stream_flush(&g_service);
    }
    ml_lock_release(&g_service.lock);
    return open;
}

uint64_t ml_service_stream_dropped(void) {
    return g_service.dropped;
}

void ml_service_stream_close(void) {
    if (!g_service_ready) return;
    ml_lock_acquire(&g_service.lock);
    if (!g_service.closed) ml_stream_flush(&g_service);
    g_service.closed = 1;
    ml_lock_release(&g_service.lock);
}

void ml_service_stream_forget(void) {
    if (!g_service_ready) return;
    ml_lock_init(&g_service.lock);
    ml_stream_release(&g_service);
    g_service_ready = 0;
}

void ml_note(int kind, const char *text) {
    uint8_t mem[1024];
    ml_buf b;
    ml_buf_init(&b, mem, sizeof mem);
    ml_buf_varint(&b, (uint64_t)kind);
    ml_buf_str(&b, text, ml_utf8_prefix(text, sizeof mem - 16));
    ml_service_stream_record(ML_R_NOTE, b.p, b.len);
}

void ml_marker(int kind, const char *label) {
    uint8_t mem[512];
    ml_buf b;
    ml_buf_init(&b, mem, sizeof mem);
    ml_buf_varint(&b, ml_next_seq());
    ml_buf_varint(&b, ml_rel_ns());
    ml_buf_varint(&b, (uint64_t)kind);
    ml_buf_str(&b, label, ml_utf8_prefix(label, 400));
    ml_service_stream_record(ML_R_MARKER, b.p, b.len);
}

void ml_marker_last(int kind, const char *label) {
    uint8_t mem[224];
    ml_buf b;
    ml_buf_init(&b, mem, sizeof mem);
    uint64_t seq = ml_next_seq();
    ml_buf_varint(&b, seq);
    ml_buf_varint(&b, ml_rel_ns());
    ml_buf_varint(&b, (uint64_t)kind);
    ml_buf_cstr(&b, label);
    if (!b.overflow) (void)ml_write_last_record(ML_R_MARKER, b.p, b.len, seq);
}
