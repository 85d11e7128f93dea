// Loaded by the report commands alone (src/util/malloc-tuning.ts, with process.dlopen), never by `memlens
// run`, `attach` or the agent: fixes glibc's mmap threshold at 1 MiB for the reporting process, so that
// every large ArrayBuffer is a mapping of its own, given back when it is freed (docs/mmap-threshold.md).
// glibc's own threshold starts at 128 KiB and rises to the size of each mapped chunk freed (up to 32 MiB),
// after which the model's arrays come from the brk heap, zeroed by memset and left as holes when freed.
//
// The same moment (node has started, the report is about to read its capture) unmaps the pages of node's
// executable and libraries that node's start touched (drop_start_pages below): what the report runs faults
// back in from the page cache, the rest (the dynamic symbol tables, OpenSSL's and ICU's set-up, the
// bootstrap) no longer counts in the process's resident set (docs/mmap-threshold.md, "node's file pages").
//
// An N-API module only in the sense node's dlopen needs (it calls napi_register_module_v1 and uses what it
// returns as the exports): plain pointers stand for napi_env and napi_value, so no node headers are needed.
// mallopt's effect stays in this process: an exec'd child starts with glibc's defaults, and nothing is put
// in any environment.
#include <elf.h>
#include <link.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

__attribute__((visibility("default"))) void *napi_register_module_v1(void *env, void *exports);

// A mapping that may be dropped: private, not writable, of a file, with no page of its own (Anonymous: 0 kB
// in smaps: no page copied on write by a relocation, a debugger's breakpoint or a uprobe). Every page of it
// is then the file's, and MADV_DONTNEED only unmaps it: the next access maps the same page of the page
// cache again (a minor fault), as at the first access.
struct span {
    uintptr_t lo, hi;
};
#define MAX_SPANS 512
static struct span spans[MAX_SPANS];
static int nspans;
static uintptr_t page_mask;

static void read_candidates(void) {
    FILE *f = fopen("/proc/self/smaps", "re");
    if (f == NULL) return;
    char *line = NULL;
    size_t cap = 0;
    int cand = 0;
    struct span cur = {0, 0};
    while (getline(&line, &cap, f) != -1) {
        unsigned long lo, hi, off, inode;
        char perm[5], dev[16];
        int used = 0;
        // A mapping's header: "lo-hi perms offset dev inode [path]". Its fields ("Name: N kB") never start
        // with a hexadecimal number and a '-'.
        if (sscanf(line, "%lx-%lx %4s %lx %15s %lu%n", &lo, &hi, perm, &off, dev, &inode, &used) == 6 && used > 0) {
            cand = inode != 0 && perm[0] == 'r' && perm[1] == '-' && perm[3] == 'p' && hi > lo;
            cur.lo = lo;
            cur.hi = hi;
            continue;
        }
        unsigned long kb;
        if (cand && strncmp(line, "Anonymous:", 10) == 0 && sscanf(line + 10, "%lu", &kb) == 1) {
            if (kb == 0 && nspans < MAX_SPANS) spans[nspans++] = cur;
            cand = 0;
        }
    }
    free(line);
    fclose(f);
}

// Called for each loaded object, with the loader's lock held (no dlopen or dlclose meanwhile): drops the
// candidate mappings that lie inside this object's read-only segments, unless the object has text
// relocations (its code written at load: such pages are copies, which smaps showed, but say it twice).
// Only mappings of loaded objects: they stay mapped while the process runs, so the range read from smaps is
// still theirs (a mapping unmapped in between and its range reused by memory of another kind cannot be hit).
static int drop_object(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    (void)data;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_DYNAMIC) continue;
        for (const ElfW(Dyn) *d = (const ElfW(Dyn) *)(info->dlpi_addr + ph->p_vaddr); d->d_tag != DT_NULL; d++) {
            if (d->d_tag == DT_TEXTREL || (d->d_tag == DT_FLAGS && (d->d_un.d_val & DF_TEXTREL) != 0)) return 0;
        }
    }
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || (ph->p_flags & PF_W) != 0) continue;
        // The segment's pages (the loader maps it from the page its first byte is in): a page it shares
        // with a writable segment is mapped writable, so in no candidate.
        uintptr_t lo = (info->dlpi_addr + ph->p_vaddr) & ~page_mask;
        uintptr_t hi = (info->dlpi_addr + ph->p_vaddr + ph->p_memsz + page_mask) & ~page_mask;
        for (int s = 0; s < nspans; s++) {
            uintptr_t a = spans[s].lo > lo ? spans[s].lo : lo;
            uintptr_t b = spans[s].hi < hi ? spans[s].hi : hi;
            if (a < b) madvise((void *)a, b - a, MADV_DONTNEED);
        }
    }
    return 0;
}

static void drop_start_pages(void) {
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0 || (page & (page - 1)) != 0) return;
    page_mask = (uintptr_t)page - 1;
    read_candidates();
    if (nspans > 0) dl_iterate_phdr(drop_object, NULL);
    nspans = 0;
}

void *napi_register_module_v1(void *env, void *exports) {
    (void)env;
    // Setting either threshold turns glibc's raising of both off. The trim threshold is set too: here glibc
    // may have raised it already (to twice the largest mapped chunk freed while node started, its bundle and
    // code cache). 1 MiB rather than glibc's default 128 KiB: with 128 KiB the heap's top was given back and
    // taken again a thousand times a report (brk), each time faulted in anew, for memory freed and asked for
    // again at once: the optimizing compiler's zones (made and freed for every function it compiles) and
    // brotli's ring (made and freed for every pack the reader decompresses). call_sites verdict 163-184 k
    // page faults -> 156-167 k, churn verdict 42 k -> 18 k, peaks +0 to +1.5 MiB (docs/benchmarks.md,
    // "Page faults of a report, round thirty-three"). 2 MiB took a few thousand faults more off, but once
    // took churn's peak 3 MiB higher.
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 20);
    drop_start_pages();
    return exports;
}
