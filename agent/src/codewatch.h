/* Code objects' frees counted in every mode, for the walk cache and the stack nodes, which compare code objects by
 * address (docs/code-frees.md): by a code watcher (CPython 3.12+, PyCode_AddWatcher), by PyCode_Type's dealloc
 * wrapped before. */
#ifndef MEMLENS_CODEWATCH_H
#define MEMLENS_CODEWATCH_H

/* Adds the watcher to the main interpreter (GIL held, or an attached thread state), or wraps the dealloc, and
 * counts from now on; a watcher kept from an earlier session is used again. Returns 1 when frees are counted, 0
 * when not (all 8 watcher slots taken, not called from the main interpreter, our dealloc left in another's chain
 * by an earlier session). Before the allocator hooks. */
int ml_codewatch_start(int free_threaded);
/* Stops counting, then clears the watcher (or puts the dealloc back) where that is safe (a GIL build, the GIL
 * held, in its interpreter, ours still in the slot); elsewhere it stays, and only counts. */
void ml_codewatch_stop(void);

#endif
