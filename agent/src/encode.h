/* Encoding the capture format (docs/capture-format.md): varints, records, block framing, CRC-32. */
#ifndef MEMLENS_ENCODE_H
#define MEMLENS_ENCODE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "format.h"
#include "lock.h"

/* A block holds at most 32 KiB of records before compression (docs/capture-format.md, "Writer rules"). */
#define ML_BLOCK_PAYLOAD_MAX (32u * 1024u)
/* Room before an ALLOC or FREE: a type byte and five varints of values below 2^56 (8 bytes each). */
#define ML_HOT_RECORD_MAX 41
/* The buffer: header, payload, and slack so that even a record of 10-byte varints stays inside it. */
#define ML_BLOCK_BYTES (ML_BLOCK_HEADER_LEN + ML_BLOCK_PAYLOAD_MAX + 64u)

/* CRC-32 (IEEE 802.3, zlib's): crc = ml_crc32(0, p, n) for a whole buffer; chainable. */
uint32_t ml_crc32(uint32_t crc, const void *p, size_t n);

static inline size_t ml_put_varint(uint8_t *p, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

static inline size_t ml_put_svarint(uint8_t *p, int64_t v) {
    return ml_put_varint(p, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static inline size_t ml_varint_len(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Builds the payload of a length-prefixed record (or a header body) in caller memory. A builder that ran
 * out of room sets `overflow` and stops writing; the caller drops or truncates the record. */
typedef struct ml_buf {
    uint8_t *p;
    size_t len, cap;
    int overflow;
} ml_buf;

static inline void ml_buf_init(ml_buf *b, void *mem, size_t cap) {
    b->p = mem;
    b->len = 0;
    b->cap = cap;
    b->overflow = 0;
}

void ml_buf_varint(ml_buf *b, uint64_t v);
void ml_buf_bytes(ml_buf *b, const void *p, size_t n);
/* varint length, then the bytes */
void ml_buf_str(ml_buf *b, const void *p, size_t n);
void ml_buf_cstr(ml_buf *b, const char *s);

/* One stream of the capture: a thread's, or the service stream (0). Every field is protected by `lock`.
 * The buffer's first ML_BLOCK_HEADER_LEN bytes are room for the block header, so a block is one write. */
typedef struct ml_stream {
    ml_lock lock;
    uint32_t id;
    int native;   /* ALLOC records carry a native stack (--native), fixed at init */
    int closed;   /* the session ended: writers drop what they would write */
    uint8_t *buf; /* ML_BLOCK_BYTES */
    size_t len;   /* payload bytes used */
    /* delta state of the open block (docs/capture-format.md "Streams and sequence numbers") */
    uint64_t base_seq;
    uint64_t prev_seq;
    uint64_t prev_addr;
    uint64_t prev_stack;
    uint64_t prev_native;
    int block_has_event;
    uint64_t last_seq; /* seq of the last event written to this stream, the next block's base */
    uint64_t dropped;  /* events lost (the sink failed) */
} ml_stream;

/* Allocates the buffer; -1 on failure. `native`: the session records native stacks (ML_OPTION_NATIVE). */
int ml_stream_init(ml_stream *s, uint32_t id, int native);
void ml_stream_release(ml_stream *s);

/* Frames the open block and writes it to the sink (caller holds the lock). Empty blocks are not written. */
void ml_stream_flush(ml_stream *s);

/* Appends a length-prefixed record of type t (caller holds the lock). A record too big for a block is
 * written as a block of its own. */
void ml_stream_record(ml_stream *s, int type, const void *payload, size_t len);
/* A block of the one record (at most 200 payload bytes) on the service stream, written with
 * ml_sink_write_last(): the capture's last words after the sink failed. 0, or -1. */
int ml_write_last_record(int type, const void *payload, size_t len, uint64_t seq);

/* The hot records (caller holds the lock and took seq from ml_seq). */
void ml_stream_alloc(ml_stream *s, uint64_t seq, uint64_t addr, uint64_t size, unsigned allocator, uint64_t stack, uint64_t native);
/* `size` 0: the whole allocation (no size field). */
void ml_stream_free(ml_stream *s, uint64_t seq, uint64_t addr, unsigned deallocator, uint64_t size);

/* Blocks written by all streams (AGENT_STATS). */
uint64_t ml_blocks_written(void);

#endif
