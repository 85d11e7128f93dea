/* Python's allocator domains (PEP 445) with --trace-python-allocators. */
#ifndef MEMLENS_PYALLOC_H
#define MEMLENS_PYALLOC_H

#include <stddef.h>

/* Wraps RAW, MEM and OBJ (GIL held). `gil_disabled`: a free-threaded build, where no lock orders two
 * threads' calls. 0, or -1 with err. */
int ml_pyalloc_install(int gil_disabled, char *err, size_t errlen);
/* Puts the original allocators back where ours is still the current one (GIL held). */
void ml_pyalloc_uninstall(void);

#endif
