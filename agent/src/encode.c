/* Varints, record builders, block framing and CRC-32 for the capture format. */
#include "encode.h"

#include <stdatomic.h>
#include <string.h>

#include "common.h"
#include "mem.h"
#include "sink.h"

/* ── CRC-32, slicing by 8 ───────────────────────────────────────────────────────────────────────── */

static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = crc_table[0][i];
        for (int t = 1; t < 8; t++) {
            c = crc_table[0][c & 0xff] ^ (c >> 8);
            crc_table[t][i] = c;
        }
    }
}

uint32_t ml_crc32(uint32_t crc, const void *data, size_t n) {
    pthread_once(&crc_once, crc_init);
    const uint8_t *p = data;
    crc = ~crc;
    while (n > 0 && ((uintptr_t)p & 7) != 0) {
        crc = crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
        n--;
    }
    while (n >= 8) {
        uint32_t lo, hi;
        memcpy(&lo, p, 4);
        memcpy(&hi, p + 4, 4);
        lo ^= crc; /* little-endian only: the agent supports x86-64 and aarch64 Linux */
        crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^ crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
              crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^ crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n-- > 0) crc = crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* ── record builders ───────────────────────────────────────────────────────────────────────────── */

void ml_buf_varint(ml_buf *b, uint64_t v) {
    if (b->overflow || b->cap - b->len < 10) {
        if (!b->overflow && b->cap - b->len >= ml_varint_len(v)) {
            b->len += ml_put_varint(b->p + b->len, v);
            return;
        }
        b->overflow = 1;
        return;
    }
    b->len += ml_put_varint(b->p + b->len, v);
}

void ml_buf_bytes(ml_buf *b, const void *p, size_t n) {
    if (b->overflow || b->cap - b->len < n) {
        b->overflow = 1;
        return;
    }
    if (n > 0) memcpy(b->p + b->len, p, n);
    b->len += n;
}

void ml_buf_str(ml_buf *b, const void *p, size_t n) {
    ml_buf_varint(b, n);
    ml_buf_bytes(b, p, n);
}

void ml_buf_cstr(ml_buf *b, const char *s) {
    ml_buf_str(b, s, strlen(s));
}

/* ── streams and blocks ────────────────────────────────────────────────────────────────────────── */

static atomic_uint_fast64_t g_blocks;

uint64_t ml_blocks_written(void) {
    return atomic_load(&g_blocks);
}

int ml_stream_init(ml_stream *s, uint32_t id, int native) {
    memset(s, 0, sizeof *s);
    ml_lock_init(&s->lock);
    s->id = id;
    s->native = native;
    s->buf = ml_mem_alloc(ML_BLOCK_BYTES);
    return s->buf != NULL ? 0 : -1;
}

void ml_stream_release(ml_stream *s) {
    ml_mem_free(s->buf, ML_BLOCK_BYTES);
    s->buf = NULL;
    s->len = 0;
}

static void put_u16(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void put_u64(uint8_t *p, uint64_t v) {
    put_u32(p, (uint32_t)v);
    put_u32(p + 4, (uint32_t)(v >> 32));
}

/* Fills the 32-byte header in front of `payload_len` payload bytes at hdr + 32. */
static void fill_block_header(uint8_t *hdr, size_t payload_len, uint32_t stream, uint64_t base_seq) {
    put_u32(hdr, ML_BLOCK_SYNC_U32);
    hdr[4] = 0; /* flags: not compressed (memlens recompresses after the run) */
    hdr[5] = ML_BLOCK_HEADER_LEN;
    put_u16(hdr + 6, ML_BLOCK_KIND_RECORDS);
    put_u32(hdr + 8, (uint32_t)payload_len);
    put_u32(hdr + 12, (uint32_t)payload_len);
    put_u32(hdr + 20, stream);
    put_u64(hdr + 24, base_seq);
    uint32_t crc = ml_crc32(0, hdr + 4, 12);
    crc = ml_crc32(crc, hdr + 20, ML_BLOCK_HEADER_LEN - 20);
    crc = ml_crc32(crc, hdr + ML_BLOCK_HEADER_LEN, payload_len);
    put_u32(hdr + 16, crc);
}

/* Fills the header in front of the payload and writes the block. */
static int write_block(uint8_t *hdr, size_t payload_len, uint32_t stream, uint64_t base_seq) {
    fill_block_header(hdr, payload_len, stream, base_seq);
    int r = ml_sink_write(hdr, ML_BLOCK_HEADER_LEN + payload_len);
    if (r == 0) atomic_fetch_add(&g_blocks, 1);
    return r;
}

int ml_write_last_record(int type, const void *payload, size_t len, uint64_t seq) {
    uint8_t block[ML_BLOCK_HEADER_LEN + 208];
    if (len > 200) return -1;
    uint8_t *p = block + ML_BLOCK_HEADER_LEN;
    *p++ = (uint8_t)type;
    p += ml_put_varint(p, len);
    memcpy(p, payload, len);
    p += len;
    size_t payload_len = (size_t)(p - (block + ML_BLOCK_HEADER_LEN));
    fill_block_header(block, payload_len, ML_STREAM_SERVICE, seq > 0 ? seq - 1 : 0);
    return ml_sink_write_last(block, ML_BLOCK_HEADER_LEN + payload_len);
}

static void block_reset(ml_stream *s) {
    s->len = 0;
    s->base_seq = s->last_seq;
    s->prev_seq = s->last_seq;
    s->prev_addr = 0;
    memset(s->slot_addr, 0, sizeof s->slot_addr);
    s->slot_mru = 0; /* neither way used: the less recently used is way 0 */
    s->prev_stack = 0;
    s->prev_native = 0;
    s->block_has_event = 0;
}

void ml_stream_flush(ml_stream *s) {
    if (s->buf == NULL) return;
    if (s->len > 0) {
        if (write_block(s->buf, s->len, s->id, s->base_seq) != 0) s->dropped++;
    }
    block_reset(s);
}

static inline uint8_t *reserve(ml_stream *s, size_t n) {
    if (ML_UNLIKELY(s->len + n > ML_BLOCK_PAYLOAD_MAX)) ml_stream_flush(s);
    return s->buf + ML_BLOCK_HEADER_LEN + s->len;
}

void ml_stream_record(ml_stream *s, int type, const void *payload, size_t len) {
    if (s->buf == NULL) return;
    size_t need = 1 + ml_varint_len(len) + len;
    if (need > ML_BLOCK_PAYLOAD_MAX) {
        /* A record larger than a block (a huge line table): a block of its own, from a temporary mapping. */
        ml_stream_flush(s);
        size_t total = ML_BLOCK_HEADER_LEN + need;
        uint8_t *tmp = ml_mem_alloc(total);
        if (tmp == NULL) {
            s->dropped++;
            return;
        }
        uint8_t *p = tmp + ML_BLOCK_HEADER_LEN;
        *p++ = (uint8_t)type;
        p += ml_put_varint(p, len);
        memcpy(p, payload, len);
        if (write_block(tmp, need, s->id, s->base_seq) != 0) s->dropped++;
        ml_mem_free(tmp, total);
        return;
    }
    uint8_t *p = reserve(s, need);
    *p++ = (uint8_t)type;
    p += ml_put_varint(p, len);
    if (len > 0) memcpy(p, payload, len);
    s->len += need;
}

/* The first event of a block sets base_seq to its seq - 1, so it takes the q bit (writer rules). */
static inline void first_event(ml_stream *s, uint64_t seq) {
    if (!s->block_has_event) {
        s->base_seq = seq - 1;
        s->prev_seq = seq - 1;
        s->block_has_event = 1;
    }
}

static inline uint8_t *encode_seq(uint8_t *p, uint8_t *type, uint8_t seq1_bit, uint64_t delta) {
    if (delta == 1) {
        *type |= seq1_bit;
        return p;
    }
    return p + ml_put_varint(p, delta);
}

static inline uint64_t zigzag(int64_t v) {
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

/* The address against the block's slots (docs/capture-format.md "Addresses"). The slots are 4 sets of 2,
 * the set chosen by the address's page (16 KiB) modulo 4: an address is coded against the slot of its set
 * whose last address is in the same page and 16 bytes apart from it by a multiple; otherwise (w) that slot,
 * or the less recently used of the set, takes it as a delta against the previous address, or whole when that
 * delta is no multiple of 8 (or 0). Two compares, no loop: a search of all 8 slots cost 8 ns more per event
 * on a program of many pools (mispredicted loop exits), for 1-4 % fewer bytes. */
static inline __attribute__((always_inline)) uint8_t *encode_addr(ml_stream *s, uint8_t *p, uint8_t *type, uint8_t miss_bit,
                                                                  uint64_t addr) {
    uint64_t page = addr >> ML_ADDR_PAGE_SHIFT;
    unsigned set = (unsigned)(page & (ML_ADDR_SETS - 1));
    unsigned slot = set * ML_ADDR_WAYS;
    if ((s->slot_addr[slot] >> ML_ADDR_PAGE_SHIFT) != page) {
        if ((s->slot_addr[slot + 1] >> ML_ADDR_PAGE_SHIFT) == page || (s->slot_mru & (1u << set))) slot++;
    }
    int64_t diff = (int64_t)(addr - s->slot_addr[slot]);
    if ((s->slot_addr[slot] >> ML_ADDR_PAGE_SHIFT) == page && (diff & (ML_ADDR_SLOT_UNIT - 1)) == 0) {
        p += ml_put_varint(p, (zigzag(diff / ML_ADDR_SLOT_UNIT) << ML_ADDR_SLOT_BITS) | slot);
    } else {
        *type |= miss_bit;
        diff = (int64_t)(addr - s->prev_addr);
        /* The coded value stays below 2^53 (what a reader accepts): the whole address otherwise. */
        if ((diff & 7) == 0 && diff != 0 && zigzag(diff / 8) < (1ull << (53 - ML_ADDR_SLOT_BITS))) {
            p += ml_put_varint(p, (zigzag(diff / 8) << ML_ADDR_SLOT_BITS) | slot);
        } else {
            *p++ = (uint8_t)slot;
            p += ml_put_varint(p, addr);
        }
    }
    s->slot_addr[slot] = addr;
    s->slot_mru = (uint8_t)((s->slot_mru & ~(1u << set)) | ((~slot & 1u) << set));
    s->prev_addr = addr;
    return p;
}

void ml_stream_alloc(ml_stream *s, uint64_t seq, uint64_t addr, uint64_t size, unsigned allocator, uint64_t stack, uint64_t native) {
    if (s->buf == NULL) return;
    uint8_t *start = reserve(s, ML_HOT_RECORD_MAX);
    first_event(s, seq);
    uint8_t type = (uint8_t)(ML_ALLOC_BIT | ((allocator & 15u) << 3));
    uint8_t *p = start + 1;
    p = encode_seq(p, &type, ML_ALLOC_SEQ1, seq - s->prev_seq);
    s->prev_seq = seq;
    p = encode_addr(s, p, &type, ML_ALLOC_ABS_ADDR, addr);
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

void ml_stream_free(ml_stream *s, uint64_t seq, uint64_t addr, unsigned deallocator, uint64_t size) {
    if (s->buf == NULL) return;
    uint8_t *start = reserve(s, ML_HOT_RECORD_MAX);
    first_event(s, seq);
    uint8_t type = (uint8_t)(ML_FREE_TAG | ((deallocator & 3u) << 3));
    uint8_t *p = start + 1;
    p = encode_seq(p, &type, ML_FREE_SEQ1, seq - s->prev_seq);
    s->prev_seq = seq;
    p = encode_addr(s, p, &type, ML_FREE_ABS_ADDR, addr);
    if (size != 0) {
        type |= ML_FREE_HAS_SIZE;
        p += ml_put_varint(p, size);
    }
    *start = type;
    s->len += (size_t)(p - start);
    s->last_seq = seq;
}
