/* Python's allocator domains (PEP 445): with --trace-python-allocators, and those mimalloc serves. */
#ifndef MEMLENS_PYALLOC_H
#define MEMLENS_PYALLOC_H

#include <stddef.h>

#define ML_PYALLOC_RAW (1u << 0)
#define ML_PYALLOC_MEM (1u << 1)
#define ML_PYALLOC_OBJ (1u << 2)

/* Which domains to wrap (ML_PYALLOC_* bits): all three with --trace-python-allocators (`asked`); without
 * it, those whose allocator is mimalloc (header allocator value 5 or 6): its memory comes from arenas
 * reserved in bulk, so the malloc and mmap hooks see none of Python's objects. Free-threaded builds use
 * mimalloc for MEM and OBJ, and from 3.15 on for RAW too. */
unsigned ml_pyalloc_domains(int asked, int python_allocator, int free_threaded, unsigned long hexversion);
/* Wraps the `domains` (GIL held). `gil_disabled`: no lock orders two threads' calls (a free-threaded build
 * running without the GIL); `python_allocator`: the bootstrap's number for it (whether the walk cache may count
 * code objects' frees instead of checking them: pyframes.c). 0, or -1 with err. */
int ml_pyalloc_install(unsigned domains, int gil_disabled, int python_allocator, char *err, size_t errlen);
/* Puts the original allocators back where ours is still the current one (GIL held). */
void ml_pyalloc_uninstall(void);

#endif
