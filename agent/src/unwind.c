/* A fast native unwinder for x86-64 with a per-thread cache (--native).
 *
 * glibc's backtrace() goes through libgcc's unwinder, which finds and interprets the DWARF call frame
 * information (.eh_frame) of every frame of every event: about 5 µs for a 25-frame CPython stack. Most
 * frames of a program's stacks are the same few hundred functions, and for a given instruction address the
 * rule that finds the caller is always the same: "the caller's stack pointer (the CFA) is rsp (or rbp) plus
 * N, the return address is just below it, rbp was saved at CFA + M (or not at all)". We compute that rule
 * once per address, from .eh_frame, with a small CFA-program interpreter, and cache it.
 *
 * Safety: every stack read is checked against the thread's stack bounds, the CFA must grow from frame to
 * frame, and anything this interpreter does not know (register rules other than "saved at an offset", CFA
 * expressions such as signal frames and PLT stubs) makes the caller fall back to backtrace() for that event.
 * Other architectures always fall back. */
#include "unwind.h"

#include <dlfcn.h>
#include <link.h>
#include <string.h>

#include "common.h"

#if defined(__x86_64__)

enum { REG_RBP = 6, REG_RSP = 7, REG_RA = 16 };

/* DW_EH_PE pointer encodings */
#define PE_OMIT 0xff
#define PE_ABSPTR 0x00
#define PE_ULEB128 0x01
#define PE_UDATA2 0x02
#define PE_UDATA4 0x03
#define PE_UDATA8 0x04
#define PE_SLEB128 0x09
#define PE_SDATA2 0x0a
#define PE_SDATA4 0x0b
#define PE_SDATA8 0x0c
#define PE_PCREL 0x10
#define PE_DATAREL 0x30
#define PE_INDIRECT 0x80

typedef struct reader {
    const uint8_t *p, *end;
    int bad;
} reader;

static uint64_t uleb(reader *r) {
    uint64_t v = 0;
    for (int shift = 0; r->p < r->end && shift < 64; shift += 7) {
        uint8_t b = *r->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return v;
    }
    r->bad = 1;
    return 0;
}

static int64_t sleb(reader *r) {
    int64_t v = 0;
    int shift = 0;
    for (; r->p < r->end && shift < 64;) {
        uint8_t b = *r->p++;
        v |= (int64_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80)) {
            if (shift < 64 && (b & 0x40)) v |= -((int64_t)1 << shift);
            return v;
        }
    }
    r->bad = 1;
    return 0;
}

static uint64_t fixed(reader *r, size_t n) {
    if ((size_t)(r->end - r->p) < n) {
        r->bad = 1;
        return 0;
    }
    uint64_t v = 0;
    memcpy(&v, r->p, n);
    r->p += n;
    return v;
}

/* Reads a pointer in encoding `enc`; `data` is the base of DW_EH_PE_datarel (the .eh_frame_hdr). */
static uintptr_t encoded(reader *r, uint8_t enc, uintptr_t data) {
    if (enc == PE_OMIT) return 0;
    uintptr_t at = (uintptr_t)r->p;
    uint64_t v;
    switch (enc & 0x0f) {
    case PE_ABSPTR: v = fixed(r, 8); break;
    case PE_ULEB128: v = uleb(r); break;
    case PE_UDATA2: v = fixed(r, 2); break;
    case PE_UDATA4: v = fixed(r, 4); break;
    case PE_UDATA8: v = fixed(r, 8); break;
    case PE_SLEB128: v = (uint64_t)sleb(r); break;
    case PE_SDATA2: v = (uint64_t)(int64_t)(int16_t)fixed(r, 2); break;
    case PE_SDATA4: v = (uint64_t)(int64_t)(int32_t)fixed(r, 4); break;
    case PE_SDATA8: v = fixed(r, 8); break;
    default: r->bad = 1; return 0;
    }
    switch (enc & 0x70) {
    case 0: break;
    case PE_PCREL: v += at; break;
    case PE_DATAREL: v += data; break;
    default: r->bad = 1; return 0;
    }
    if (enc & PE_INDIRECT) r->bad = 1; /* not used for pc_begin in practice */
    return (uintptr_t)v;
}

/* ── finding the FDE ───────────────────────────────────────────────────────────────────────────── */

struct ml_dl_find_object {
    unsigned long long dlfo_flags;
    void *dlfo_map_start;
    void *dlfo_map_end;
    struct link_map *dlfo_link_map;
    void *dlfo_eh_frame;
    unsigned long long dlfo_reserved[7];
};

static int (*g_find_object)(void *pc, struct ml_dl_find_object *result);

typedef struct hdr_search {
    uintptr_t pc;
    const uint8_t *hdr;
} hdr_search;

static int hdr_cb(struct dl_phdr_info *info, size_t size, void *arg) {
    (void)size;
    hdr_search *s = arg;
    const ElfW(Phdr) *eh = NULL;
    int inside = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && s->pc >= start && s->pc < start + ph->p_memsz) inside = 1;
        if (ph->p_type == PT_GNU_EH_FRAME) eh = ph;
    }
    if (!inside) return 0;
    s->hdr = eh != NULL ? (const uint8_t *)(info->dlpi_addr + eh->p_vaddr) : NULL;
    return 1;
}

/* The .eh_frame_hdr of the object holding pc, or NULL. */
static const uint8_t *eh_frame_hdr_of(uintptr_t pc) {
    if (g_find_object != NULL) {
        struct ml_dl_find_object r;
        if (g_find_object((void *)pc, &r) != 0) return NULL;
        return r.dlfo_eh_frame;
    }
    hdr_search s = {pc, NULL};
    dl_iterate_phdr(hdr_cb, &s);
    return s.hdr;
}

/* The FDE covering pc, by binary search in .eh_frame_hdr's table. */
static const uint8_t *find_fde(uintptr_t pc) {
    const uint8_t *hdr = eh_frame_hdr_of(pc);
    if (hdr == NULL || hdr[0] != 1) return NULL;
    uint8_t ptr_enc = hdr[1], count_enc = hdr[2], table_enc = hdr[3];
    /* The table is always DW_EH_PE_datarel|sdata4 in what binutils and lld write. */
    if (table_enc != (PE_DATAREL | PE_SDATA4)) return NULL;
    reader r = {hdr + 4, hdr + 4 + 16, 0};
    encoded(&r, ptr_enc, (uintptr_t)hdr);
    uint64_t count = encoded(&r, count_enc, (uintptr_t)hdr);
    if (r.bad || count == 0) return NULL;
    const int32_t *table = (const int32_t *)r.p;
    size_t lo = 0, hi = (size_t)count;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if ((uintptr_t)hdr + (intptr_t)table[2 * mid] <= pc) lo = mid;
        else hi = mid;
    }
    if ((uintptr_t)hdr + (intptr_t)table[2 * lo] > pc) return NULL;
    return (const uint8_t *)((uintptr_t)hdr + (intptr_t)table[2 * lo + 1]);
}

/* ── the CFA program ───────────────────────────────────────────────────────────────────────────── */

typedef struct cfa_state {
    int cfa_reg;
    int64_t cfa_off;
    int rbp_saved;
    int64_t rbp_off;
    int ra_undefined;
    int64_t ra_off;
} cfa_state;

#define STATE_STACK 8

/* Runs CFA instructions from r until the location passes pc. Returns 0, or -1 for what we do not handle. */
static int run_cfa(reader *r, uintptr_t *loc, uintptr_t pc, uint64_t code_align, int64_t data_align, cfa_state *st,
                   const cfa_state *initial) {
    cfa_state saved[STATE_STACK];
    int depth = 0;
    while (r->p < r->end && !r->bad) {
        uint8_t op = *r->p++;
        uint8_t hi = op & 0xc0, low = op & 0x3f;
        if (hi == 0x40) { /* DW_CFA_advance_loc */
            *loc += low * code_align;
            if (*loc > pc) return 0;
            continue;
        }
        if (hi == 0x80) { /* DW_CFA_offset */
            int64_t off = (int64_t)uleb(r) * data_align;
            if (low == REG_RBP) {
                st->rbp_saved = 1;
                st->rbp_off = off;
            } else if (low == REG_RA) {
                st->ra_off = off;
            }
            continue;
        }
        if (hi == 0xc0) { /* DW_CFA_restore */
            if (low == REG_RBP) {
                st->rbp_saved = initial->rbp_saved;
                st->rbp_off = initial->rbp_off;
            } else if (low == REG_RA) {
                st->ra_off = initial->ra_off;
            }
            continue;
        }
        switch (op) {
        case 0x00: break;     /* nop */
        case 0x01: return -1; /* set_loc */
        case 0x02:
            *loc += fixed(r, 1) * code_align;
            if (*loc > pc) return 0;
            break;
        case 0x03:
            *loc += fixed(r, 2) * code_align;
            if (*loc > pc) return 0;
            break;
        case 0x04:
            *loc += fixed(r, 4) * code_align;
            if (*loc > pc) return 0;
            break;
        case 0x05: { /* offset_extended */
            uint64_t reg = uleb(r);
            int64_t off = (int64_t)uleb(r) * data_align;
            if (reg == REG_RBP) {
                st->rbp_saved = 1;
                st->rbp_off = off;
            } else if (reg == REG_RA) {
                st->ra_off = off;
            }
            break;
        }
        case 0x06: { /* restore_extended */
            uint64_t reg = uleb(r);
            if (reg == REG_RBP) {
                st->rbp_saved = initial->rbp_saved;
                st->rbp_off = initial->rbp_off;
            }
            break;
        }
        case 0x07: { /* undefined */
            uint64_t reg = uleb(r);
            if (reg == REG_RA) st->ra_undefined = 1;
            if (reg == REG_RBP || reg == REG_RSP) return -1;
            break;
        }
        case 0x08: { /* same_value */
            uint64_t reg = uleb(r);
            if (reg == REG_RBP) st->rbp_saved = 0;
            if (reg == REG_RA) return -1;
            break;
        }
        case 0x09: { /* register */
            uint64_t reg = uleb(r);
            uleb(r);
            if (reg == REG_RBP || reg == REG_RA || reg == REG_RSP) return -1;
            break;
        }
        case 0x0a: /* remember_state */
            if (depth == STATE_STACK) return -1;
            saved[depth++] = *st;
            break;
        case 0x0b: /* restore_state */
            if (depth == 0) return -1;
            *st = saved[--depth];
            break;
        case 0x0c: /* def_cfa */
            st->cfa_reg = (int)uleb(r);
            st->cfa_off = (int64_t)uleb(r);
            break;
        case 0x0d: st->cfa_reg = (int)uleb(r); break;     /* def_cfa_register */
        case 0x0e: st->cfa_off = (int64_t)uleb(r); break; /* def_cfa_offset */
        case 0x0f: return -1;                             /* def_cfa_expression */
        case 0x10:                                        /* expression */
        case 0x16: {                                      /* val_expression */
            uint64_t reg = uleb(r);
            uint64_t len = uleb(r);
            if ((uint64_t)(r->end - r->p) < len) return -1;
            r->p += len;
            if (reg == REG_RBP || reg == REG_RA || reg == REG_RSP) return -1;
            break;
        }
        case 0x11: { /* offset_extended_sf */
            uint64_t reg = uleb(r);
            int64_t off = sleb(r) * data_align;
            if (reg == REG_RBP) {
                st->rbp_saved = 1;
                st->rbp_off = off;
            } else if (reg == REG_RA) {
                st->ra_off = off;
            }
            break;
        }
        case 0x12: /* def_cfa_sf */
            st->cfa_reg = (int)uleb(r);
            st->cfa_off = sleb(r) * data_align;
            break;
        case 0x13: st->cfa_off = sleb(r) * data_align; break; /* def_cfa_offset_sf */
        case 0x14: {                                          /* val_offset */
            uint64_t reg = uleb(r);
            uleb(r);
            if (reg == REG_RBP || reg == REG_RA) return -1;
            break;
        }
        case 0x15: { /* val_offset_sf */
            uint64_t reg = uleb(r);
            sleb(r);
            if (reg == REG_RBP || reg == REG_RA) return -1;
            break;
        }
        case 0x2e: uleb(r); break; /* GNU_args_size */
        case 0x2f: {               /* GNU_negative_offset_extended */
            uint64_t reg = uleb(r);
            int64_t off = -(int64_t)uleb(r) * data_align;
            if (reg == REG_RBP) {
                st->rbp_saved = 1;
                st->rbp_off = off;
            } else if (reg == REG_RA) {
                st->ra_off = off;
            }
            break;
        }
        default: return -1;
        }
    }
    return r->bad ? -1 : 0;
}

/* Computes the rule for pc into e. 0, or -1 (unknown: fall back), or 1 (no caller: the outermost frame). */
static int compute_rule(uintptr_t pc, ml_unwind_entry *e) {
    const uint8_t *fde = find_fde(pc);
    if (fde == NULL) return -1;
    reader r = {fde, fde + 4, 0};
    uint64_t len = fixed(&r, 4);
    if (len == 0 || len == 0xffffffffu) return -1;
    const uint8_t *fde_end = fde + 4 + len;
    r.end = fde_end;
    const uint8_t *cie_ptr_at = r.p;
    uint32_t cie_off = (uint32_t)fixed(&r, 4);
    if (cie_off == 0) return -1;
    const uint8_t *cie = cie_ptr_at - cie_off;
    /* the CIE */
    reader c = {cie, cie + 4, 0};
    uint64_t clen = fixed(&c, 4);
    if (clen == 0 || clen == 0xffffffffu) return -1;
    c.end = cie + 4 + clen;
    if (fixed(&c, 4) != 0) return -1;
    uint8_t version = (uint8_t)fixed(&c, 1);
    const char *aug = (const char *)c.p;
    size_t auglen = strnlen(aug, (size_t)(c.end - c.p));
    c.p += auglen + 1;
    uint64_t code_align = uleb(&c);
    int64_t data_align = sleb(&c);
    uint64_t ra_reg = version == 1 ? fixed(&c, 1) : uleb(&c);
    if (ra_reg != REG_RA) return -1;
    uint8_t fde_enc = PE_ABSPTR;
    int has_z = auglen > 0 && aug[0] == 'z';
    if (has_z) {
        uint64_t alen = uleb(&c);
        const uint8_t *aend = c.p + alen;
        for (size_t i = 1; i < auglen && !c.bad; i++) {
            if (aug[i] == 'R') fde_enc = (uint8_t)fixed(&c, 1);
            else if (aug[i] == 'P') {
                uint8_t penc = (uint8_t)fixed(&c, 1);
                reader tmp = c;
                encoded(&tmp, (uint8_t)(penc & 0x7f), 0);
                c.p = tmp.p;
            } else if (aug[i] == 'L') fixed(&c, 1);
            else if (aug[i] == 'S') return -1; /* a signal frame: its CFA is an expression */
            else break;
        }
        c.p = aend;
    } else if (auglen > 0) {
        return -1;
    }
    if (c.bad) return -1;
    /* the FDE */
    uintptr_t pc_begin = encoded(&r, fde_enc, 0);
    reader rr = r;
    uintptr_t pc_range = encoded(&rr, (uint8_t)(fde_enc & 0x0f), 0);
    r.p = rr.p;
    if (r.bad || pc < pc_begin || pc >= pc_begin + pc_range) return -1;
    if (has_z) {
        uint64_t alen = uleb(&r);
        r.p += alen;
    }
    cfa_state st = {REG_RSP, 8, 0, 0, 0, -8};
    uintptr_t loc = pc_begin;
    reader ci = {c.p, c.end, 0};
    if (run_cfa(&ci, &loc, UINTPTR_MAX, code_align, data_align, &st, &st) != 0) return -1;
    cfa_state initial = st;
    loc = pc_begin;
    if (run_cfa(&r, &loc, pc, code_align, data_align, &st, &initial) != 0) return -1;
    if (st.ra_undefined) return 1;
    if ((st.cfa_reg != REG_RSP && st.cfa_reg != REG_RBP) || st.ra_off != -8 || st.cfa_off < 8 || st.cfa_off > (1 << 30)) return -1;
    /* rbp is pushed in the prologue, below the return address and near it: an offset beyond int16 is left to
     * backtrace(), and so is one that would overlap the return address (the step then needs no top check). */
    if (st.rbp_saved && (st.rbp_off > -16 || st.rbp_off < INT16_MIN)) return -1;
    e->cfa_off = (int32_t)st.cfa_off;
    e->cfa_rbp = st.cfa_reg == REG_RBP;
    e->rbp_saved = (uint8_t)st.rbp_saved;
    e->rbp_off = (int16_t)st.rbp_off;
    return 0;
}

void ml_unwind_init(void) {
    void *f = dlsym(RTLD_DEFAULT, "_dl_find_object");
    memcpy(&g_find_object, &f, sizeof f);
}

/* Whether rbp after step j of walk w decides a later step: a CFA from rbp before rbp is read again. After
 * the last step it counts as used (the step that ended the walk is taken again after a fast-forward). */
static int rbp_used(const ml_unwind_walk *w, int j) {
    for (int k = j + 1; k < w->n; k++) {
        if (w->rbp_at[k] & 1) return 1;
        if (w->rbp_at[k] != 0) return 0;
    }
    return 1;
}

/* The last walk (a thread's stacks from one event to the next mostly share their outer frames). A walk is a
 * function of its state (the address whose rule applies, rsp, rbp) and of the words it reads from the stack:
 * when this walk, after step j of the last one, is in the state the last one was in then (the same CFA, the
 * same return address, rbp the same if a later step uses it), and every word the last walk read after step j
 * holds the same value now, the rest of this walk is the last one's, frame for frame. Checking that is one or
 * two loads and compares a frame instead of a step. Returns -1, or the first step whose check failed. The
 * addresses are the ones the last walk read after its bounds checks: this thread's stack (the state is per
 * thread, its bounds fixed), above the current stack pointer but for a saved rbp's slot. */
static int fast_forward(const ml_unwind_walk *w, int j, uintptr_t rbp) {
    if (w->rbp[j] != rbp && rbp_used(w, j)) return j + 1;
    for (int k = j + 1; k < w->n; k++) {
        if (*(const uintptr_t *)(w->cfa[k] - 8) != w->ra[k]) return k;
        uintptr_t at = w->rbp_at[k] & ~(uintptr_t)7;
        if (at != 0 && *(const uintptr_t *)at != w->rbp[k]) return k;
    }
    return -1;
}

/* One frame a step: the cached rule for the address, the CFA from it, the return address just below the CFA
 * and the caller's rbp if this frame saved it. The stack pointer only grows: the first is checked against the
 * thread's stack and to be 8-aligned, every CFA to be 8-aligned, above the stack pointer (so at least 8
 * above: the return address's slot is at or above it, inside the stack) and not above the stack's top; the
 * saved rbp's slot, below the CFA, against both ends. */
__attribute__((noinline)) int ml_unwind(uintptr_t *out, int max, ml_unwind_state *us, uintptr_t stack_lo, uintptr_t stack_hi, int *same) {
    uintptr_t rip, rsp, rbp;
    __asm__ volatile("lea 0(%%rip), %0\n\tmov %%rsp, %1\n\tmov %%rbp, %2" : "=r"(rip), "=r"(rsp), "=r"(rbp));
    *same = 0;
    if (us == NULL || stack_hi <= stack_lo || rsp < stack_lo || rsp >= stack_hi || (rsp & 7) != 0) return -1;
    if (max > ML_UNWIND_MEMO) max = ML_UNWIND_MEMO;
    int ff_n = -1, ff_same = 0; /* after a fast-forward: the frames then, and how many are the last walk's */
    ml_unwind_entry *cache = us->cache;
    const ml_unwind_walk *last = &us->walk[us->cur];
    ml_unwind_walk *now = &us->walk[us->cur ^ 1];
    int last_n = last->n;
    int p = 0, retry = 0; /* p: the last walk's first step with a CFA not below ours; retry: the first worth a try */
    int n = 0;
    uintptr_t lookup = rip; /* the first frame is at an exact address; callers' are return addresses */
    while (n < max) {
        /* Two ways a set, the set by the address's bits 1-10, the one used last in way 0. Direct-mapped (bits 1-11),
         * two hot return addresses 4 KiB apart took each other's entry on every walk: which did depended on where
         * the agent's own code fell (its frames are on every walk), and a build of json_roundtrip with both flags
         * that moved it computed rules 10 times an event (+0.5 G instructions). A rule is a function of the
         * address alone: where it is kept changes no walk. */
        ml_unwind_entry *e = &cache[lookup & (ML_UNWIND_CACHE - 2)];
        if (ML_UNLIKELY(e->pc != lookup)) {
            ml_unwind_entry fresh;
            if (e[1].pc == lookup) {
                fresh = e[1];
            } else {
                memset(&fresh, 0, sizeof fresh);
                int r = compute_rule(lookup, &fresh);
                fresh.pc = lookup;
                fresh.kind = r < 0 ? ML_UNWIND_FALLBACK : r > 0 ? ML_UNWIND_LAST : ML_UNWIND_RULE;
            }
            e[1] = e[0];
            e[0] = fresh;
        }
        if (ML_UNLIKELY(e->kind != ML_UNWIND_RULE)) {
            if (e->kind == ML_UNWIND_FALLBACK) {
                now->n = 0;
                us->cur ^= 1;
                return -1;
            }
            break;
        }
        uintptr_t cfa = (e->cfa_rbp ? rbp : rsp) + (uintptr_t)(intptr_t)e->cfa_off;
        /* rsp < cfa <= stack_hi in one unsigned compare (cfa <= rsp wraps round) */
        if ((cfa & 7) != 0 || cfa - rsp - 1 >= stack_hi - rsp) break;
        uintptr_t ra = *(const uintptr_t *)(cfa - 8);
        uintptr_t rbp_at = e->cfa_rbp;
        if (e->rbp_saved) {
            uintptr_t at = cfa + (uintptr_t)(intptr_t)e->rbp_off;
            if (at < stack_lo || (at & 7) != 0) break; /* below the CFA: the top is not in reach */
            rbp = *(const uintptr_t *)at;
            rbp_at |= at;
        }
        rsp = cfa;
        if (ra < 4096) break;
        now->cfa[n] = cfa;
        now->ra[n] = ra;
        now->rbp_at[n] = rbp_at;
        now->rbp[n] = rbp;
        out[n++] = ra;
        lookup = ra - 1;
        while (p < last_n && last->cfa[p] < cfa) p++;
        if (p < last_n && last->cfa[p] == cfa && last->ra[p] == ra && p >= retry) {
            int bad = fast_forward(last, p, rbp);
            if (bad < 0) {
                int k = last_n - 1 - p;
                if (k > max - n) k = max - n;
                size_t bytes = (size_t)k * sizeof(uintptr_t);
                memcpy(&now->cfa[n], &last->cfa[p + 1], bytes);
                memcpy(&now->ra[n], &last->ra[p + 1], bytes);
                memcpy(&now->rbp_at[n], &last->rbp_at[p + 1], bytes);
                memcpy(&now->rbp[n], &last->rbp[p + 1], bytes);
                memcpy(&out[n], &last->ra[p + 1], bytes);
                n += k;
                ff_n = n;
                ff_same = k + 1; /* this step's frame and the ones copied */
                if (k > 0) {
                    rsp = now->cfa[n - 1];
                    rbp = now->rbp[n - 1];
                    lookup = now->ra[n - 1] - 1;
                }
                last_n = 0; /* the rest is the last walk's: the step that ended it runs again below */
            } else {
                retry = bad; /* a try from an earlier step reads the word that differed again */
            }
        }
    }
    now->n = n;
    us->cur ^= 1;
    /* The last walk's outermost frames are this one's if the step that ended it ended this one too (a last
     * walk cut at max goes on here, or this one is cut). */
    if (n == ff_n && n < max) *same = ff_same;
    return n;
}

#else

void ml_unwind_init(void) {}

int ml_unwind(uintptr_t *out, int max, ml_unwind_state *us, uintptr_t stack_lo, uintptr_t stack_hi, int *same) {
    *same = 0;
    (void)out;
    (void)max;
    (void)us;
    (void)stack_lo;
    (void)stack_hi;
    return -1;
}

#endif
