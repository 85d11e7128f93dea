/* Reading a loaded ELF object from memory, through what dl_iterate_phdr reports: its dynamic section
 * (symbols, strings, relocation tables, hash tables), its segments and its build id. Pure: reads memory,
 * writes nothing, keeps no state (agent/test/elf_check.c runs it on the objects of a test program). */
#ifndef MEMLENS_ELF_H
#define MEMLENS_ELF_H

#include <link.h>
#include <stddef.h>
#include <stdint.h>

/* What PT_DYNAMIC says, with addresses relocated. */
typedef struct ml_dyninfo {
    uintptr_t bias;
    const ElfW(Sym) *symtab;
    const char *strtab;
    size_t strsz;
    size_t syment;
    const void *jmprel;
    size_t pltrelsz;
    int pltrel; /* DT_RELA or DT_REL */
    const ElfW(Rela) *rela;
    size_t relasz, relaent;
    const ElfW(Rel) *rel;
    size_t relsz, relent;
    const uint32_t *gnu_hash;
    const uint32_t *sysv_hash;
    const char *runpath, *rpath; /* strtab offsets resolved */
} ml_dyninfo;

/* Reads the object's dynamic section. 0, or -1 if it has none or no symbol table. */
int ml_elf_read_dynamic(const struct dl_phdr_info *info, ml_dyninfo *d);
/* The name of symbol `idx`, or NULL if it points outside the string table. */
const char *ml_elf_sym_name(const ml_dyninfo *d, size_t idx);
/* The object's own definition of `name` (not an undefined reference) through DT_GNU_HASH or DT_HASH, or
 * NULL. */
const ElfW(Sym) *ml_elf_find_defined(const ml_dyninfo *d, const char *name);
/* Whether addr lies in one of the object's PT_LOAD segments. */
int ml_elf_contains(const struct dl_phdr_info *info, uintptr_t addr);
/* PROT_* of a segment from its p_flags. */
int ml_elf_segment_prot(const ElfW(Phdr) *ph);
/* The protection of the page holding addr as the loader left it: read-only inside PT_GNU_RELRO (whole
 * pages from its start, rounded down, to its end, rounded down), otherwise the flags of its PT_LOAD. */
int ml_elf_page_prot(const struct dl_phdr_info *info, uintptr_t addr, size_t page);
/* The GNU build id (NT_GNU_BUILD_ID note): its length, and *out pointing at it; 0 if none. */
size_t ml_elf_build_id(const struct dl_phdr_info *info, const uint8_t **out);

#endif
