/* Native stacks with glibc's backtrace() (libgcc's unwinder, which finds unwind tables without a global
 * lock on glibc >= 2.35). Frames inside the agent are dropped; the rest become (parent, ip) nodes of the
 * thread's stream, defined by NATIVE_FRAME records. Instruction pointers are return addresses: the reader
 * symbolizes them later with the IMAGE records, outside the target. */
#include "native.h"

#include <dlfcn.h>
#include <execinfo.h>
#include <link.h>
#include <pthread.h>
#include <string.h>

#include "common.h"
#include "mem.h"
#include "state.h"
#include "util.h"

static uintptr_t g_self_start, g_self_end;
static int g_fast;
static uintptr_t g_main_stack_lo, g_main_stack_hi; /* the [stack] mapping, read at start */

static uintptr_t hex_field(const char **pp, char end) {
    const char *p = *pp;
    uintptr_t v = 0;
    for (; *p && *p != end; p++) v = v * 16 + (uintptr_t)(*p <= '9' ? *p - '0' : (*p | 0x20) - 'a' + 10);
    if (*p == end) p++;
    *pp = p;
    return v;
}

/* The main thread's stack from /proc/self/maps (at start, never inside a hook): the mapping holding
 * __libc_stack_end (ld.so's record of where the main thread's stack began), else the one named [stack].
 * The name alone is not enough: under valgrind the program's stack is a mapping of valgrind's without it
 * (the real [stack] is valgrind's own), so every event of the main thread went to backtrace(), and
 * callgrind measured libgcc's unwinder instead of this one. */
static void read_main_stack(void) {
    uintptr_t top = 0;
    void *sym = dlsym(RTLD_DEFAULT, "__libc_stack_end");
    if (sym != NULL) top = (uintptr_t) * (void *const *)sym;
    size_t cap = 1u << 20;
    char *buf = ml_mem_alloc(cap);
    if (buf == NULL) return;
    if (ml_read_file("/proc/self/maps", buf, cap) > 0) {
        uintptr_t named_lo = 0, named_hi = 0;
        for (char *line = buf; line != NULL && *line;) {
            char *nl = strchr(line, '\n');
            if (nl != NULL) *nl = 0;
            const char *p = line;
            uintptr_t lo = hex_field(&p, '-');
            uintptr_t hi = hex_field(&p, ' ');
            if (top != 0 && top >= lo && top < hi) {
                g_main_stack_lo = lo;
                g_main_stack_hi = hi;
                break;
            }
            if (strstr(line, "[stack]") != NULL) {
                named_lo = lo;
                named_hi = hi;
            }
            line = nl != NULL ? nl + 1 : NULL;
        }
        if (g_main_stack_hi == 0) {
            g_main_stack_lo = named_lo;
            g_main_stack_hi = named_hi;
        }
    }
    ml_mem_free(buf, cap);
}

/* Where the calling thread's stack ends (its callers' frames are all below). Nothing here may allocate or
 * lock: we may be inside pthread_getattr_np's own realloc. glibc puts a thread's descriptor at the top of
 * its stack (pthread_self() is just above the frames); the main thread's stack is the [stack] mapping. */
static void stack_bounds(ml_nstack *ns) {
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);
    uintptr_t self = (uintptr_t)pthread_self();
    if (here >= g_main_stack_lo && here < g_main_stack_hi) {
        ns->stack_lo = g_main_stack_lo;
        ns->stack_hi = g_main_stack_hi;
    } else if (self > here && self - here < (1ull << 30)) {
        /* Reads only ever go up from the stack pointer of the moment, which is mapped, to the top. */
        ns->stack_lo = self - (1ull << 30);
        ns->stack_hi = self;
    } else {
        ns->stack_lo = ns->stack_hi = 0; /* unknown: backtrace() only */
    }
}

static int self_cb(struct dl_phdr_info *info, size_t size, void *arg) {
    (void)size;
    (void)arg;
    uintptr_t me = (uintptr_t)&ml_native_init;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) continue;
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        if (me >= start && me < start + ph->p_memsz) {
            g_self_start = start;
            g_self_end = start + ph->p_memsz;
            return 1;
        }
    }
    return 0;
}

void ml_native_init(int fast) {
    if (g_self_end == 0) dl_iterate_phdr(self_cb, NULL);
    g_fast = fast;
    ml_unwind_init();
    read_main_stack();
    /* The first backtrace() loads libgcc_s (dlopen, malloc): do it now, with the guard held. */
    void *frames[4];
    backtrace(frames, 4);
}

/* The parent is multiplied on its own: xored into the ip's high bits before one multiply, as it was, it reached
 * only the product's bits 40 and up, so the low 9 bits of a slot were the ip's alone, and the many nodes of one
 * return address (the interpreter's, under every caller) fell into a few runs of the table: about 3 probes a
 * look-up at half full on json_roundtrip with both flags. Only where a node sits changes, not its id. */
static inline size_t ip_hash(uint32_t parent, uint64_t ip) {
    uint64_t x = ip * 0x9e3779b97f4a7c15ull ^ (uint64_t)parent * 0xc2b2ae3d27d4eb4full;
    return (size_t)(x ^ (x >> 29));
}

static int grow(ml_nstack *ns) {
    size_t cap = ns->table_cap ? ns->table_cap * 2 : 1024;
    ml_nslot *t = ml_mem_alloc(cap * sizeof *t);
    if (t == NULL) return -1;
    for (size_t i = 0; i < ns->table_cap; i++) {
        ml_nslot *o = &ns->table[i];
        if (o->node == 0) continue;
        size_t j = ip_hash(o->parent, o->ip) & (cap - 1);
        while (t[j].node != 0) j = (j + 1) & (cap - 1);
        t[j] = *o;
    }
    ml_mem_free(ns->table, ns->table_cap * sizeof *ns->table);
    ns->table = t;
    ns->table_cap = cap;
    return 0;
}

/* The node for (parent, ip), defining it (NATIVE_FRAME) if new; UINT32_MAX once the table holds ml_max_stack_nodes
 * (then even for a node it has: the caller starts over, or cuts the stack). Whether the table must grow is asked
 * only for a new node: a test a look-up less. */
static uint32_t node_for(ml_nstack *ns, ml_stream *s, uint32_t parent, uint64_t ip) {
    if (ns->table_used >= ml_max_stack_nodes) return UINT32_MAX;
    size_t mask = ns->table_cap - 1;
    size_t j = ip_hash(parent, ip) & mask;
    if (ML_LIKELY(ns->table_cap != 0)) {
        for (;;) {
            ml_nslot *e = &ns->table[j];
            if (e->node == 0) break;
            if (e->parent == parent && e->ip == ip) return e->node;
            j = (j + 1) & mask;
        }
    }
    if ((ns->table_used + 1) * 2 > ns->table_cap) {
        if (grow(ns) != 0) return UINT32_MAX;
        mask = ns->table_cap - 1;
        j = ip_hash(parent, ip) & mask;
        while (ns->table[j].node != 0) j = (j + 1) & mask;
    }
    if (ns->next_node == 0) ns->next_node = 1;
    uint32_t id = ns->next_node++;
    ns->table[j] = (ml_nslot){ip, parent, id};
    ns->table_used++;
    uint8_t mem[24];
    ml_buf b;
    ml_buf_init(&b, mem, sizeof mem);
    /* The parent against the node's own id (ML_PARENT_DELTA_VERSION): 1 along a new branch, so a branch that
     * repeats one under another root is the same bytes again, which the follower's brotli finds. The ip stays
     * whole: against the parent's ip it was 6 % larger after brotli (an ip repeats only under the same caller). */
    ml_buf_varint(&b, id - parent);
    ml_buf_varint(&b, ip);
    ml_stream_record(s, ML_R_NATIVE_FRAME, b.p, b.len);
    return id;
}

uint32_t ml_native_capture(ml_nstack *ns, ml_stream *s, int truncate) {
    void *raw[ML_NATIVE_MAX_DEPTH + 8];
    int got = -1, same = 0;
    if (g_fast) {
        if (ns->cache == NULL) {
            ns->cache = ml_mem_alloc(sizeof *ns->cache);
            stack_bounds(ns);
        }
        got = ml_unwind((uintptr_t *)raw, (int)ML_ARRAY_LEN(raw), ns->cache, ns->stack_lo, ns->stack_hi, &same);
    }
    int whole = got >= 0;
    if (got < 0) got = backtrace(raw, (int)ML_ARRAY_LEN(raw));
    /* leaf first; drop the agent's own frames at the leaf end */
    int first = 0;
    while (first < got && (uintptr_t)raw[first] >= g_self_start && (uintptr_t)raw[first] < g_self_end) first++;
    size_t n = (size_t)(got - first);
    if (n > ML_NATIVE_MAX_DEPTH) {
        n = ML_NATIVE_MAX_DEPTH; /* keep the leaf-most */
        whole = 0;
    }
    /* The last walk's outermost frames that this one has again are the last stack's first ones, root first,
     * when that stack was that walk's, whole: no need to compare them. */
    size_t k = whole && ns->last_whole ? (size_t)same : 0;
    ns->last_whole = whole;
    if (n == 0) return 0;
    size_t lim = n < ns->last_depth ? n : ns->last_depth;
    if (k > lim) k = lim;
    while (k < lim && ns->last_ip[k] == (uint64_t)(uintptr_t)raw[first + (int)(n - 1 - k)]) k++;
    uint32_t node = k > 0 ? ns->last_node[k - 1] : 0;
    for (size_t i = k; i < n; i++) {
        uint64_t ip = (uint64_t)(uintptr_t)raw[first + (int)(n - 1 - i)];
        uint32_t next = node_for(ns, s, node, ip);
        if (next == UINT32_MAX) {
            if (ns->no_reset || truncate) {
                ns->last_depth = i;
                return node;
            }
            ns->last_depth = 0;
            return UINT32_MAX;
        }
        node = next;
        ns->last_ip[i] = ip;
        ns->last_node[i] = node;
    }
    ns->last_depth = n;
    return node;
}

void ml_native_reset(ml_nstack *ns) {
    if (ns->table != NULL) memset(ns->table, 0, ns->table_cap * sizeof *ns->table);
    ns->table_used = 0;
    ns->next_node = 1;
    ns->last_depth = 0;
}

void ml_native_release(ml_nstack *ns) {
    int no_reset = ns->no_reset;
    ml_mem_free(ns->table, ns->table_cap * sizeof *ns->table);
    ml_mem_free(ns->cache, sizeof *ns->cache);
    memset(ns, 0, sizeof *ns);
    ns->no_reset = no_reset;
}
