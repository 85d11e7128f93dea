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

/* The table's CRC without the complements before and after: the register as it goes (bytes in the order of the
 * data, the register reflected, as zlib's). */
static uint32_t crc_bytes(uint32_t crc, const uint8_t *p, size_t n) {
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
    return crc;
}

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

static int g_crc_clmul; /* the CPU has PCLMULQDQ (crc_init) */

/* Folding with carry-less multiplies (PCLMULQDQ), for the blocks' 32 KiB payloads: 3.5 instructions a byte with the
 * tables, about 0.2 here (the CRC was 3 % of the agent's instructions with Python's allocators traced). A 16-byte
 * register S followed by D bits of data stands for S(x) x^D; its low quadword holds the high-degree half (bit i of a
 * quadword is x^(63-i)), and a carry-less product of quadwords a, b is x a(x) b(x) in those terms. So S x^D is
 * congruent, modulo the CRC's polynomial P, to clmul(lo, x^(D+63) mod P) ^ clmul(hi, x^(D-1) mod P), 96 bits that
 * fit the register: the constants below are those residues, reflected into a quadword's high half (worked out from
 * P = 0x104C11DB7, and checked against the tables on every length up to 5000 and every alignment). Four registers
 * fold 64 bytes at a time (D = 512), then into one (D = 128); the register and the tail go through the tables,
 * whose CRC of S's 16 bytes is that of the data they stand for. The starting register is xored into the first 4
 * bytes, as the table does it. */
__attribute__((target("pclmul,sse2"))) static uint32_t crc_clmul(uint32_t crc, const uint8_t *p, size_t n) {
    const __m128i k512 = _mm_set_epi64x((long long)0xcad38e8f00000000ull, (long long)0x653d982200000000ull);
    const __m128i k128 = _mm_set_epi64x((long long)0x9ba54c6f00000000ull, (long long)0x65673b4600000000ull);
    __m128i x0 = _mm_loadu_si128((const __m128i *)p), x1 = _mm_loadu_si128((const __m128i *)(p + 16));
    __m128i x2 = _mm_loadu_si128((const __m128i *)(p + 32)), x3 = _mm_loadu_si128((const __m128i *)(p + 48));
    x0 = _mm_xor_si128(x0, _mm_cvtsi32_si128((int)crc));
    p += 64;
    n -= 64;
#define ML_FOLD(x, k, next) _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11)), next)
    while (n >= 64) {
        x0 = ML_FOLD(x0, k512, _mm_loadu_si128((const __m128i *)p));
        x1 = ML_FOLD(x1, k512, _mm_loadu_si128((const __m128i *)(p + 16)));
        x2 = ML_FOLD(x2, k512, _mm_loadu_si128((const __m128i *)(p + 32)));
        x3 = ML_FOLD(x3, k512, _mm_loadu_si128((const __m128i *)(p + 48)));
        p += 64;
        n -= 64;
    }
    x0 = ML_FOLD(x0, k128, x1);
    x0 = ML_FOLD(x0, k128, x2);
    x0 = ML_FOLD(x0, k128, x3);
    while (n >= 16) {
        x0 = ML_FOLD(x0, k128, _mm_loadu_si128((const __m128i *)p));
        p += 16;
        n -= 16;
    }
#undef ML_FOLD
    uint8_t folded[16];
    _mm_storeu_si128((__m128i *)folded, x0);
    return crc_bytes(crc_bytes(0, folded, 16), p, n);
}
#endif

static void crc_init_all(void) {
    crc_init();
#if defined(__x86_64__)
    unsigned a, b, c, d;
    g_crc_clmul = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_PCLMUL) != 0;
#endif
}

uint32_t ml_crc32(uint32_t crc, const void *data, size_t n) {
    pthread_once(&crc_once, crc_init_all);
    const uint8_t *p = data;
#if defined(__x86_64__)
    if (n >= 64 && g_crc_clmul) return ~crc_clmul(~crc, p, n);
#endif
    return ~crc_bytes(~crc, p, n);
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

/* No entry matches: every tag of generation 0, which no block has (blocks count from 1). A table is mapped zeroed
 * (ml_mem_alloc), so its pages are touched only as entries are used. */
static void refs_clear(ml_stream *s) {
    if (s->refs != NULL) memset(s->refs, 0, ML_ADDR_REF_ENTRIES * sizeof *s->refs);
    s->ref_gen = 0x10000u;
}

/* The table, mapped when a block's events outgrow the list (a quiet thread's stream never maps one: 64 KiB a
 * thread), and filled from it: each event in order takes its entry, as it would have in a table mapped at the
 * block's start; the entries of older blocks it lacks would match nothing. The table then stays for the stream's
 * life. mmap, not the hooked allocators (which keeps errno: the free's path does not save it). */
static __attribute__((noinline)) void refs_map(ml_stream *s) {
    ml_ref_entry *t = ml_mem_alloc(ML_ADDR_REF_ENTRIES * sizeof *t);
    if (t == NULL) {
        s->refs_failed = 1;
        return;
    }
    for (uint32_t i = 0; i < s->early_n; i++) {
        const ml_ref_entry *ev = &s->early[i];
        t[ev->h].addr = ev->addr;
        t[ev->h].tag = ev->tag;
    }
    s->refs = t;
}

ml_ref_entry ml_refs_early(ml_stream *s, uint64_t addr, unsigned h, uint32_t tag) {
    ml_ref_entry old = {0, 0, 0};
    uint32_t n = s->early_n;
    if (n == ML_REFS_EARLY && !s->refs_failed) refs_map(s);
    if (s->refs != NULL) {
        ml_ref_entry *e = &s->refs[h];
        old = *e;
        e->addr = addr;
        e->tag = tag;
        return old;
    }
    /* The last of the block's events on entry h, which the table would hold. */
    for (uint32_t i = n; i-- > 0;)
        if (s->early[i].h == h) {
            old = s->early[i];
            break;
        }
    /* A full list without a table (the mapping failed): the rest of the block's addresses match nothing, a writer's
     * choice the format allows (a reference is never required). */
    if (n < ML_REFS_EARLY) {
        s->early[n] = (ml_ref_entry){addr, tag, h};
        s->early_n = n + 1;
    } else {
        old.addr = 0, old.tag = 0;
    }
    return old;
}

int ml_stream_init(ml_stream *s, uint32_t id, int native) {
    memset(s, 0, sizeof *s);
    ml_lock_init(&s->lock);
    s->id = id;
    s->native = native;
    s->prev_seq = ML_SEQ_NO_EVENT;
    s->buf = ml_mem_alloc(ML_BLOCK_BYTES);
    if (s->buf == NULL) {
        ml_stream_release(s);
        return -1;
    }
    refs_clear(s);
    return 0;
}

void ml_stream_release(ml_stream *s) {
    if (s->buf != NULL) ml_mem_free(s->buf, ML_BLOCK_BYTES);
    if (s->refs != NULL) ml_mem_free(s->refs, ML_ADDR_REF_ENTRIES * sizeof *s->refs);
    s->refs = NULL;
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
    s->prev_seq = ML_SEQ_NO_EVENT;
    s->prev_addr = 0;
    memset(s->slot_addr, 0, sizeof s->slot_addr);
    memset(s->slot_lru, 0, sizeof s->slot_lru); /* neither way used: the less recently used is way 0 */
    /* A new generation: the table's entries are of older blocks now. After 65,536 blocks the generation
     * comes round again and would match entries that old: the table starts over instead. */
    s->ref_gen += 0x10000u;
    if (s->ref_gen == 0) refs_clear(s);
    s->early_n = 0;
    s->block_allocs = 0;
    s->block_frees = 0;
    s->prev_stack = 0;
    s->prev_native = 0;
}

void ml_stream_flush(ml_stream *s) {
    if (s->buf == NULL) return;
    /* Called from the recording path, which keeps the program's errno without saving it itself. */
    int saved_errno = errno;
    if (s->len > 0) {
        if (write_block(s->buf, s->len, s->id, s->base_seq) != 0) s->dropped++;
    }
    block_reset(s);
    errno = saved_errno;
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
    uint8_t *p = ml_stream_reserve(s, need);
    *p++ = (uint8_t)type;
    p += ml_put_varint(p, len);
    if (len > 0) memcpy(p, payload, len);
    s->len += need;
}
