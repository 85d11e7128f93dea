/* Native stacks with glibc's backtrace() (libgcc's unwinder, which finds unwind tables without a global
 * lock on glibc >= 2.35). Frames inside the agent are dropped; the rest become (parent, ip) nodes of the
 * thread's stream, defined by NATIVE_FRAME records. Instruction pointers are return addresses: the reader
 * symbolizes them later with the IMAGE records, outside the target. */
#include "native.h"

#include <execinfo.h>
#include <link.h>
#include <string.h>

#include "common.h"
#include "mem.h"

static uintptr_t g_self_start, g_self_end;

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

void ml_native_init(void) {
    if (g_self_end == 0) dl_iterate_phdr(self_cb, NULL);
    /* The first backtrace() loads libgcc_s (dlopen, malloc): do it now, with the guard held. */
    void *frames[4];
    backtrace(frames, 4);
}

static inline size_t ip_hash(uint32_t parent, uint64_t ip) {
    uint64_t x = (ip ^ ((uint64_t)parent << 40)) * 0x9e3779b97f4a7c15ull;
    return (size_t)(x ^ (x >> 31));
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

static uint32_t node_for(ml_nstack *ns, ml_stream *s, uint32_t parent, uint64_t ip) {
    if ((ns->table_used + 1) * 2 > ns->table_cap) {
        if (ns->table_used >= ML_NATIVE_MAX_NODES || grow(ns) != 0) return UINT32_MAX;
    }
    size_t mask = ns->table_cap - 1;
    size_t j = ip_hash(parent, ip) & mask;
    for (;;) {
        ml_nslot *e = &ns->table[j];
        if (e->node == 0) break;
        if (e->parent == parent && e->ip == ip) return e->node;
        j = (j + 1) & mask;
    }
    if (ns->next_node == 0) ns->next_node = 1;
    uint32_t id = ns->next_node++;
    ns->table[j] = (ml_nslot){ip, parent, id};
    ns->table_used++;
    uint8_t mem[24];
    ml_buf b;
    ml_buf_init(&b, mem, sizeof mem);
    ml_buf_varint(&b, parent);
    ml_buf_varint(&b, ip);
    ml_stream_record(s, ML_R_NATIVE_FRAME, b.p, b.len);
    return id;
}

uint32_t ml_native_capture(ml_nstack *ns, ml_stream *s) {
    void *raw[ML_NATIVE_MAX_DEPTH + 8];
    int got = backtrace(raw, (int)ML_ARRAY_LEN(raw));
    /* leaf first; drop the agent's own frames at the leaf end */
    int first = 0;
    while (first < got && (uintptr_t)raw[first] >= g_self_start && (uintptr_t)raw[first] < g_self_end) first++;
    size_t n = (size_t)(got - first);
    if (n > ML_NATIVE_MAX_DEPTH) n = ML_NATIVE_MAX_DEPTH; /* keep the leaf-most */
    if (n == 0) return 0;
    size_t k = 0;
    size_t lim = n < ns->last_depth ? n : ns->last_depth;
    while (k < lim && ns->last_ip[k] == (uint64_t)(uintptr_t)raw[first + (int)(n - 1 - k)]) k++;
    uint32_t node = k > 0 ? ns->last_node[k - 1] : 0;
    for (size_t i = k; i < n; i++) {
        uint64_t ip = (uint64_t)(uintptr_t)raw[first + (int)(n - 1 - i)];
        uint32_t next = node_for(ns, s, node, ip);
        if (next == UINT32_MAX) {
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
    ml_mem_free(ns->table, ns->table_cap * sizeof *ns->table);
    memset(ns, 0, sizeof *ns);
}
