/* Test program for elf.c: reads its own loaded objects through dl_iterate_phdr and prints one line per
 * fact, "name<TAB>value...", for test/agent/elf.test.ts to compare with what the loader and the kernel say
 * (dlsym, /proc/self/maps). Built with -rdynamic (so elf_check_marker is in the dynamic symbol table). */
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../src/elf.h"

void elf_check_marker(void);
void elf_check_marker(void) {}

/* The protection of the mapping holding addr, from /proc/self/maps (PROT_* bits); -1 if none. */
static int maps_prot(uintptr_t addr) {
    FILE *f = fopen("/proc/self/maps", "r");
    if (f == NULL) return -1;
    char line[4096];
    int prot = -1;
    while (fgets(line, sizeof line, f) != NULL) {
        unsigned long lo, hi;
        char perms[8];
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3) continue;
        if (addr < lo || addr >= hi) continue;
        prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) | (perms[2] == 'x' ? PROT_EXEC : 0);
        break;
    }
    fclose(f);
    return prot;
}

static void check_slot(const struct dl_phdr_info *info, const ml_dyninfo *d, uintptr_t offset, uint64_t rinfo, size_t page) {
    const char *n = ml_elf_sym_name(d, ELF64_R_SYM(rinfo));
    if (n == NULL || strcmp(n, "malloc") != 0) return;
    uintptr_t slot = d->bias + offset;
    printf("main.malloc_slot_prot\t%d\t%d\n", ml_elf_page_prot(info, slot, page), maps_prot(slot));
}

static int main_done, libc_done;

static int visit(struct dl_phdr_info *info, size_t size, void *arg) {
    (void)size;
    (void)arg;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    void *real_malloc = dlsym(RTLD_DEFAULT, "malloc");
    int is_main = !main_done && ml_elf_contains(info, (uintptr_t)&elf_check_marker);
    int is_libc = !is_main && !libc_done && ml_elf_contains(info, (uintptr_t)real_malloc);
    if (!is_main && !is_libc) return 0;
    const char *who = is_main ? "main" : "libc";
    if (is_main) main_done = 1;
    else libc_done = 1;
    ml_dyninfo d;
    printf("%s.dynamic\t%d\n", who, ml_elf_read_dynamic(info, &d));
    const ElfW(Sym) *m = ml_elf_find_defined(&d, "malloc");
    printf("%s.malloc_defined\t%d\n", who, m != NULL);
    printf("%s.malloc_is_dlsym\t%d\n", who, m != NULL && (void *)(d.bias + m->st_value) == real_malloc);
    printf("%s.no_such_symbol\t%d\n", who, ml_elf_find_defined(&d, "memlens_no_such_symbol") != NULL);
    const uint8_t *id = NULL;
    printf("%s.build_id_len\t%zu\n", who, ml_elf_build_id(info, &id));
    if (!is_main) return 0;
    const ElfW(Sym) *s = ml_elf_find_defined(&d, "elf_check_marker");
    printf("main.marker_is_address\t%d\n", s != NULL && (void *)(d.bias + s->st_value) == (void *)&elf_check_marker);
    printf("main.text_prot\t%d\t%d\n", ml_elf_page_prot(info, (uintptr_t)&elf_check_marker, page), maps_prot((uintptr_t)&elf_check_marker));
    if (d.jmprel != NULL && d.pltrel == DT_RELA) {
        const ElfW(Rela) *r = d.jmprel;
        for (size_t i = 0; i < d.pltrelsz / sizeof *r; i++) check_slot(info, &d, r[i].r_offset, r[i].r_info, page);
    }
    if (d.rela != NULL && d.relaent != 0) {
        for (size_t off = 0; off + d.relaent <= d.relasz; off += d.relaent) {
            const ElfW(Rela) *r = (const ElfW(Rela) *)((const char *)d.rela + off);
            check_slot(info, &d, r->r_offset, r->r_info, page);
        }
    }
    return 0;
}

int main(void) {
    void *(*volatile mp)(size_t) = malloc; /* a relocation naming malloc in this program */
    free(mp(16));
    dl_iterate_phdr(visit, NULL);
    return 0;
}
