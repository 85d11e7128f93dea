/* Encoding the capture format (docs/capture-format.md): varints, records, block framing, CRC-32. */
#ifndef MEMLENS_ENCODE_H
#define MEMLENS_ENCODE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "format.h"
#include "lock.h"

/* A block holds at most 32 KiB of records before compression (docs/capture-format.md, "Writer rules"). */
#define ML_BLOCK_PAYLOAD_MAX (32u * 1024u)
/* Room before an ALLOC or FREE: a type byte, five varints of values below 2^56 (8 bytes each) and the
 * one-byte slot field in front of a whole address. */
#define ML_HOT_RECORD_MAX 42
/* The buffer: header, payload, and slack so that even a record of 10-byte varints stays inside it. */
#define ML_BLOCK_BYTES (ML_BLOCK_HEADER_LEN + ML_BLOCK_PAYLOAD_MAX + 64u)

/* CRC-32 (IEEE 802.3, zlib's): crc = ml_crc32(0, p, n) for a whole buffer; chainable. */
uint32_t ml_crc32(uint32_t crc, const void *p, size_t n);

/* One and two bytes without the loop: most fields of an ALLOC or FREE (the seq delta, the address against
 * its slot, a small size) take one or two, and the loop's exit was a mispredicted branch per field. */
static inline size_t ml_put_varint(uint8_t *p, uint64_t v) {
    if (v < 0x80) {
        p[0] = (uint8_t)v;
        return 1;
    }
    if (v < 0x4000) {
        p[0] = (uint8_t)(v | 0x80);
        p[1] = (uint8_t)(v >> 7);
        return 2;
    }
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

/* An entry of a stream's reference table (ml_stream.refs), or of its first events' list (ml_stream.early, where
 * `h` is the entry of the table the event would have taken; unused in the table). */
typedef struct ml_ref_entry {
    uint64_t addr;
    uint32_t tag;
    uint32_t h;
} ml_ref_entry;

/* The events of a block a stream codes before it maps its reference table (64 KiB): a thread that never makes more
 * than this many ALLOCs and FREEs between two flushes (every 10 ms) never maps one. */
#define ML_REFS_EARLY 128

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
    uint64_t prev_seq; /* ML_SEQ_NO_EVENT: none yet */
    uint64_t prev_addr;
    uint64_t slot_addr[ML_ADDR_SLOTS]; /* the last address of each slot */
    uint8_t slot_lru[ML_ADDR_SETS];    /* the way of each set used less recently (0 at a block start) */
    /* References (version 7): the last event on each of ML_ADDR_REF_ENTRIES addresses, direct-mapped by a
     * hash of the address: an entry's addr the address, its tag the block generation in bits 16-31 (1 or more; 0:
     * no event), 1 in bit 15 for a FREE, and in bits 0-14 the event's index among the block's ALLOCs or
     * FREEs (a block of 32 KiB holds at most 16,384 FREEs). An entry of an older block is no match, so the
     * table is not cleared at a block start, only when the generation wraps (every 65,535 blocks). Address
     * and tag side by side: one cache line per event rather than two. */
    ml_ref_entry *refs;
    /* Until the table is mapped (refs NULL), the open block's events in order, at most ML_REFS_EARLY: the entry
     * an event's address would find in the table is the last of them on the same entry (the table's entries of
     * older blocks match nothing), so the references, and every byte, are those of a stream that had the table
     * from the start. The event after them maps the table and fills it from the list (ml_refs_early). */
    ml_ref_entry early[ML_REFS_EARLY];
    uint32_t early_n;      /* events in `early` */
    int refs_failed;       /* mapping the table failed: past the list, a block's addresses are coded without references */
    uint32_t ref_gen;      /* the open block's generation << 16 */
    uint32_t block_allocs; /* ALLOCs in the open block */
    uint32_t block_frees;  /* FREEs in the open block */
    uint64_t prev_stack;
    uint64_t prev_native;
    uint64_t last_seq; /* seq of the last event written to this stream, the next block's base */
    uint64_t dropped;  /* events lost (the sink failed) */
} ml_stream;

/* Without the table (s->refs NULL): the entry the table would hold for an address at entry `h` (addr 0, tag 0: none),
 * as the event tagged `tag` takes it over. Maps the table when the list is full (keeping errno). */
ml_ref_entry ml_refs_early(ml_stream *s, uint64_t addr, unsigned h, uint32_t tag);

/* Allocates the buffer (the reference table waits for a busy block); -1 on failure. `native`: the session records
 * native stacks (ML_OPTION_NATIVE). */
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

/* Room for n more bytes of records in the open block (a full block is written first): where they go. */
static inline uint8_t *ml_stream_reserve(ml_stream *s, size_t n) {
    if (ML_UNLIKELY(s->len + n > ML_BLOCK_PAYLOAD_MAX)) ml_stream_flush(s);
    return s->buf + ML_BLOCK_HEADER_LEN + s->len;
}

/* ── the hot records ─────────────────────────────────────────────────────────────────────────────
 * Inline, so that the recording path (record.c) encodes without a call of its own: a call with its
 * arguments moved, six registers saved and restored, was a sixth of a FREE's instructions. */

/* prev_seq of a block without an event yet: no seq is this (seq counts from 1 and never wraps), so no delta from it
 * is 1, and the test of a block's first event waits for the delta that is not (block_reset). */
#define ML_SEQ_NO_EVENT UINT64_MAX

/* The seq delta against the block's last event; the first event of a block sets base_seq to its seq - 1, so it
 * takes the q bit (writer rules). */
static inline uint8_t *ml_encode_seq(ml_stream *s, uint8_t *p, uint8_t *type, uint8_t seq1_bit, uint64_t seq) {
    uint64_t delta = seq - s->prev_seq;
    s->prev_seq = seq;
    if (ML_LIKELY(delta == 1)) {
        *type |= seq1_bit;
        return p;
    }
    if (delta == seq + 1) { /* prev_seq was ML_SEQ_NO_EVENT: the block's first event */
        s->base_seq = seq - 1;
        *type |= seq1_bit;
        return p;
    }
    return p + ml_put_varint(p, delta);
}

static inline uint64_t ml_zigzag(int64_t v) {
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

/* The address against the block's slots (docs/capture-format.md "Addresses"). The slots are 4 sets of 2,
 * the set chosen by the address's page (16 KiB) modulo 4: an address is coded against the slot of its set
 * whose last address is in the same page and 16 bytes apart from it by a multiple; otherwise (w) that slot,
 * or the less recently used of the set, takes it as a delta against the previous address, or whole when that
 * delta is no multiple of 8 (or 0). Two compares, no loop: a search of all 8 slots cost 8 ns more per event
 * on a program of many pools (mispredicted loop exits), for 1-4 % fewer bytes. The deltas are exact
 * multiples of 16 (or 8) where they are divided, so an arithmetic shift divides them (gcc's >> of a
 * negative value is arithmetic), without the rounding fix-up of a signed division.
 *
 * Before the slots, a reference (version 7): an ALLOC of the address a FREE of this block freed, or a FREE of
 * what an ALLOC of this block allocated, is coded as how many FREEs (ALLOCs) back that event is. pymalloc
 * hands out the block freed last in a pool, so a program that repeats itself repeats these distances, while
 * the addresses themselves differ from one repetition to the next by the state of the pools' free lists,
 * which depends on everything the process did before (hash seeds, environment, address-space layout):
 * pyperf_unpickle's captures were 2.2-4.6 MiB from run to run against slots alone, 0.9-1.3 with references
 * (docs/benchmarks.md, "Addresses as references, round nine"). */
static inline __attribute__((always_inline)) uint8_t *ml_encode_addr(ml_stream *s, uint8_t *p, uint8_t *type, uint8_t miss_bit,
                                                                     uint64_t addr, int is_free) {
    /* The entry of the address: the last ALLOC or FREE on it, if the table kept it. */
    unsigned h = ((uint32_t)(addr >> 4) * ML_ADDR_REF_HASH) >> (32 - ML_ADDR_REF_BITS);
    uint32_t mine = is_free ? s->block_frees : s->block_allocs;
    uint32_t theirs = is_free ? s->block_allocs : s->block_frees;
    uint32_t mytag = s->ref_gen | (is_free ? 0x8000u : 0u) | mine;
    uint32_t tag;
    int hit;
    ml_ref_entry *e = s->refs;
    if (ML_LIKELY(e != NULL)) {
        e += h;
        tag = e->tag;
        hit = e->addr == addr;
        e->addr = addr;
        e->tag = mytag;
    } else {
        ml_ref_entry old = ml_refs_early(s, addr, h, mytag);
        tag = old.tag;
        hit = old.addr == addr;
    }
    if (is_free) s->block_frees = mine + 1;
    else s->block_allocs = mine + 1;
    /* The other kind's event in this block: this generation, the other kind's bit. */
    if (hit && (tag & 0xffff8000u) == (s->ref_gen | (is_free ? 0u : 0x8000u))) {
        uint32_t back = theirs - 1 - (tag & 0x7fffu); /* 0: the last one */
        if (back < ML_ADDR_REF_MAX) {
            p += ml_put_varint(p, ((uint64_t)back << 1) | 1u);
            s->prev_addr = addr;
            return p;
        }
    }
    uint64_t page = addr >> ML_ADDR_PAGE_SHIFT;
    unsigned set = (unsigned)(page & (ML_ADDR_SETS - 1));
    unsigned slot = set * ML_ADDR_WAYS;
    if ((s->slot_addr[slot] >> ML_ADDR_PAGE_SHIFT) != page) {
        if ((s->slot_addr[slot + 1] >> ML_ADDR_PAGE_SHIFT) == page) slot++;
        else slot += s->slot_lru[set];
    }
    uint64_t last = s->slot_addr[slot];
    int64_t diff = (int64_t)(addr - last);
    if ((last >> ML_ADDR_PAGE_SHIFT) == page && (diff & (ML_ADDR_SLOT_UNIT - 1)) == 0) {
        p += ml_put_varint(p, ((ml_zigzag(diff >> 4) << ML_ADDR_SLOT_BITS) | slot) << 1);
    } else {
        *type |= miss_bit;
        diff = (int64_t)(addr - s->prev_addr);
        /* The coded value stays below 2^53 (what a reader accepts): the whole address otherwise. */
        if ((diff & 7) == 0 && diff != 0 && ml_zigzag(diff >> 3) < (1ull << (53 - ML_ADDR_SLOT_BITS))) {
            p += ml_put_varint(p, (ml_zigzag(diff >> 3) << ML_ADDR_SLOT_BITS) | slot);
        } else {
            *p++ = (uint8_t)slot;
            p += ml_put_varint(p, addr);
        }
    }
    s->slot_addr[slot] = addr;
    s->slot_lru[set] = (uint8_t)((slot & 1u) ^ 1u);
    s->prev_addr = addr;
    return p;
}
#if ML_ADDR_SLOT_UNIT != 16 || ML_ADDR_WAYS != 2
#error "ml_encode_addr divides by 16 with a shift and has two ways a set"
#endif
#if ML_ADDR_REF_MAX > 0x8000 || ML_BLOCK_PAYLOAD_MAX / 2 > 0x8000
#error "a reference table entry keeps an event's index in 15 bits: a block holds at most 16,384 FREEs"
#endif

/* What ALLOC and FREE begin with, after their type byte at `start`: the seq and the address. Returns where the
 * rest of the record goes. */
static inline __attribute__((always_inline)) uint8_t *ml_encode_event_head(ml_stream *s, uint8_t *start, uint8_t *type, uint64_t seq,
                                                                           uint8_t seq1_bit, uint8_t abs_bit, uint64_t addr, int is_free) {
    uint8_t *p = ml_encode_seq(s, start + 1, type, seq1_bit, seq);
    return ml_encode_addr(s, p, type, abs_bit, addr, is_free);
}

/* ALLOC and FREE (caller holds the lock of an open stream, which has its buffer: a stream is closed before its buffer
 * goes, and a thread's state is handed out only once its stream has one; and took seq from ml_seq). */
static inline __attribute__((always_inline)) void ml_stream_alloc(ml_stream *s, uint64_t seq, uint64_t addr, uint64_t size,
                                                                  unsigned allocator, uint64_t stack, uint64_t native) {
    uint8_t *start = ml_stream_reserve(s, ML_HOT_RECORD_MAX);
    uint8_t type = (uint8_t)(ML_ALLOC_BIT | ((allocator & 15u) << 3));
    uint8_t *p = ml_encode_event_head(s, start, &type, seq, ML_ALLOC_SEQ1, ML_ALLOC_ABS_ADDR, addr, 0);
    p += ml_put_varint(p, size);
    if (stack == s->prev_stack) {
        type |= ML_ALLOC_SAME_STACK;
    } else {
        p += ml_put_svarint(p, (int64_t)(stack - s->prev_stack));
        s->prev_stack = stack;
    }
    if (s->native) {
        p += ml_put_svarint(p, (int64_t)(native - s->prev_native));
        s->prev_native = native;
    }
    *start = type;
    s->len += (size_t)(p - start);
    s->last_seq = seq;
}

/* `size` 0: the whole allocation (no size field). */
static inline __attribute__((always_inline)) void ml_stream_free(ml_stream *s, uint64_t seq, uint64_t addr, unsigned deallocator,
                                                                 uint64_t size) {
    uint8_t *start = ml_stream_reserve(s, ML_HOT_RECORD_MAX);
    uint8_t type = (uint8_t)(ML_FREE_TAG | ((deallocator & 3u) << 3));
    uint8_t *p = ml_encode_event_head(s, start, &type, seq, ML_FREE_SEQ1, ML_FREE_ABS_ADDR, addr, 1);
    if (size != 0) {
        type |= ML_FREE_HAS_SIZE;
        p += ml_put_varint(p, size);
    }
    *start = type;
    s->len += (size_t)(p - start);
    s->last_seq = seq;
}

/* Blocks written by all streams (AGENT_STATS). */
uint64_t ml_blocks_written(void);

#endif
