/* Reading a loaded ELF object from memory (elf.h). */
#include "elf.h"

#include <elf.h>
#include <string.h>
#include <sys/mman.h>

/* glibc relocates most d_ptr values in place when it loads an object (not in the vDSO, not on every
 * architecture); an unrelocated value is a small vaddr below the load bias. */
static uintptr_t dyn_ptr(uintptr_t bias, uintptr_t v) {
    return v < bias ? v + bias : v;
}

int ml_elf_read_dynamic(const struct dl_phdr_info *info, ml_dyninfo *d) {
    memset(d, 0, sizeof *d);
    d->bias = info->dlpi_addr;
    const ElfW(Dyn) *dyn = NULL;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        if (info->dlpi_phdr[i].p_type == PT_DYNAMIC) dyn = (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
    }
    if (dyn == NULL) return -1;
    uintptr_t runpath = 0, rpath = 0;
    int has_runpath = 0, has_rpath = 0;
    d->syment = sizeof(ElfW(Sym));
    d->relaent = sizeof(ElfW(Rela));
    d->relent = sizeof(ElfW(Rel));
    for (; dyn->d_tag != DT_NULL; dyn++) {
        uintptr_t v = dyn->d_un.d_val;
        switch (dyn->d_tag) {
        case DT_SYMTAB: d->symtab = (const ElfW(Sym) *)dyn_ptr(d->bias, v); break;
        case DT_STRTAB: d->strtab = (const char *)dyn_ptr(d->bias, v); break;
        case DT_STRSZ: d->strsz = v; break;
        case DT_SYMENT: d->syment = v; break;
        case DT_JMPREL: d->jmprel = (const void *)dyn_ptr(d->bias, v); break;
        case DT_PLTRELSZ: d->pltrelsz = v; break;
        case DT_PLTREL: d->pltrel = (int)v; break;
        case DT_RELA: d->rela = (const ElfW(Rela) *)dyn_ptr(d->bias, v); break;
        case DT_RELASZ: d->relasz = v; break;
        case DT_RELAENT: d->relaent = v; break;
        case DT_REL: d->rel = (const ElfW(Rel) *)dyn_ptr(d->bias, v); break;
        case DT_RELSZ: d->relsz = v; break;
        case DT_RELENT: d->relent = v; break;
        case DT_GNU_HASH: d->gnu_hash = (const uint32_t *)dyn_ptr(d->bias, v); break;
        case DT_HASH: d->sysv_hash = (const uint32_t *)dyn_ptr(d->bias, v); break;
        case DT_RUNPATH:
            runpath = v;
            has_runpath = 1;
            break;
        case DT_RPATH:
            rpath = v;
            has_rpath = 1;
            break;
        default: break;
        }
    }
    if (d->symtab == NULL || d->strtab == NULL || d->syment == 0) return -1;
    if (has_runpath && runpath < d->strsz) d->runpath = d->strtab + runpath;
    if (has_rpath && rpath < d->strsz) d->rpath = d->strtab + rpath;
    return 0;
}

const char *ml_elf_sym_name(const ml_dyninfo *d, size_t idx) {
    const ElfW(Sym) *sym = (const ElfW(Sym) *)((const char *)d->symtab + idx * d->syment);
    if (sym->st_name >= d->strsz && d->strsz != 0) return NULL;
    return d->strtab + sym->st_name;
}

static uint32_t gnu_hash_of(const char *s) {
    uint32_t h = 5381;
    for (; *s; s++) h = h * 33 + (uint8_t)*s;
    return h;
}

static uint32_t sysv_hash_of(const char *s) {
    uint32_t h = 0;
    for (; *s; s++) {
        h = (h << 4) + (uint8_t)*s;
        uint32_t g = h & 0xf0000000u;
        if (g != 0) h ^= g >> 24;
        h &= ~g;
    }
    return h;
}

const ElfW(Sym) *ml_elf_find_defined(const ml_dyninfo *d, const char *name) {
    if (d->gnu_hash != NULL) {
        const uint32_t *h = d->gnu_hash;
        uint32_t nbuckets = h[0], symoffset = h[1], bloom_size = h[2];
        if (nbuckets == 0) return NULL;
        const ElfW(Addr) *bloom = (const ElfW(Addr) *)(h + 4);
        const uint32_t *buckets = (const uint32_t *)(bloom + bloom_size);
        const uint32_t *chain = buckets + nbuckets;
        uint32_t hash = gnu_hash_of(name);
        uint32_t idx = buckets[hash % nbuckets];
        if (idx < symoffset) return NULL;
        for (;; idx++) {
            uint32_t h2 = chain[idx - symoffset];
            if ((hash | 1) == (h2 | 1)) {
                const char *n = ml_elf_sym_name(d, idx);
                if (n != NULL && strcmp(n, name) == 0) {
                    const ElfW(Sym) *sym = (const ElfW(Sym) *)((const char *)d->symtab + idx * d->syment);
                    return sym->st_shndx != SHN_UNDEF ? sym : NULL;
                }
            }
            if (h2 & 1) break;
        }
        return NULL;
    }
    if (d->sysv_hash != NULL) {
        uint32_t nbucket = d->sysv_hash[0];
        if (nbucket == 0) return NULL;
        const uint32_t *bucket = d->sysv_hash + 2;
        const uint32_t *chain = bucket + nbucket;
        for (uint32_t idx = bucket[sysv_hash_of(name) % nbucket]; idx != 0; idx = chain[idx]) {
            const char *n = ml_elf_sym_name(d, idx);
            if (n != NULL && strcmp(n, name) == 0) {
                const ElfW(Sym) *sym = (const ElfW(Sym) *)((const char *)d->symtab + idx * d->syment);
                return sym->st_shndx != SHN_UNDEF ? sym : NULL;
            }
        }
    }
    return NULL;
}

int ml_elf_contains(const struct dl_phdr_info *info, uintptr_t addr) {
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) continue;
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        if (addr >= start && addr < start + ph->p_memsz) return 1;
    }
    return 0;
}

int ml_elf_segment_prot(const ElfW(Phdr) *ph) {
    return ((ph->p_flags & PF_R) ? PROT_READ : 0) | ((ph->p_flags & PF_W) ? PROT_WRITE : 0) | ((ph->p_flags & PF_X) ? PROT_EXEC : 0);
}

int ml_elf_page_prot(const struct dl_phdr_info *info, uintptr_t addr, size_t page) {
    int prot = PROT_READ | PROT_WRITE;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && addr >= start && addr < start + ph->p_memsz) {
            prot = ml_elf_segment_prot(ph);
        }
    }
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_GNU_RELRO) continue;
        uintptr_t start = (info->dlpi_addr + ph->p_vaddr) & ~(page - 1);
        uintptr_t end = (info->dlpi_addr + ph->p_vaddr + ph->p_memsz) & ~(page - 1);
        if (addr >= start && addr < end) prot = PROT_READ;
    }
    return prot;
}

size_t ml_elf_build_id(const struct dl_phdr_info *info, const uint8_t **out) {
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE) continue;
        size_t align = ph->p_align == 8 ? 8 : 4;
        const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
        const uint8_t *end = p + ph->p_memsz;
        while (p + 12 <= end) {
            uint32_t namesz, descsz, type;
            memcpy(&namesz, p, 4);
            memcpy(&descsz, p + 4, 4);
            memcpy(&type, p + 8, 4);
            const uint8_t *name = p + 12;
            const uint8_t *desc = name + ((namesz + align - 1) & ~(align - 1));
            if (desc + descsz > end) break;
            if (type == NT_GNU_BUILD_ID && namesz == 4 && memcmp(name, "GNU", 4) == 0) {
                *out = desc;
                return descsz;
            }
            p = desc + ((descsz + align - 1) & ~(align - 1));
        }
    }
    return 0;
}
