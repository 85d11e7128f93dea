/* Reading the calling thread's Python frames and code objects without the C API and without the GIL.
 *
 * Interface between the hooks (which call it on every allocation) and the per-version knowledge of
 * CPython's layouts (pyframes.c). Nothing here allocates memory, takes a lock, or calls into Python:
 * it is called from inside malloc hooks, possibly on threads that do not hold the GIL. */
#ifndef MEMLENS_PYFRAMES_H
#define MEMLENS_PYFRAMES_H

#include <stddef.h>
#include <stdint.h>

typedef struct ml_pyframe {
    const void *code;  /* the PyCodeObject * executing in this frame */
    uint32_t instr;    /* byte offset of the current instruction in the code's bytecode */
} ml_pyframe;

/* Chooses the layout for this interpreter. `hexversion` is sys.hexversion as the bootstrap read it.
 * On 3.13+ the offsets are read from the runtime's _Py_DebugOffsets. Returns 0 on success; otherwise -1
 * with a one-line reason in err (the agent then records allocations without Python stacks and says so). */
int ml_pyframes_init(unsigned long hexversion, char *err, size_t errlen);

/* Walks the calling thread's Python frames, leaf first, writing at most `cap` into out. Returns the total
 * depth (which may exceed cap: the caller sees that only the `cap` leaf-most frames were written).
 * Returns 0 for a thread with no Python thread state or no frames, and before a successful init. */
size_t ml_pyframes_walk(ml_pyframe *out, size_t cap);

/* What the code registry compares to tell a live code object from a new one at a reused address. */
typedef struct ml_code_key {
    const void *name;      /* co_name object */
    const void *filename;  /* co_filename object */
    uint32_t firstlineno;
} ml_code_key;

int ml_pyframes_code_key(const void *code, ml_code_key *out);

/* The text of a code object for a CODE record. Strings are converted to UTF-8 into `buf` (capacity `cap`);
 * the offsets and lengths below point into buf. The line table is not copied: it points into the live
 * bytes object and must be consumed before the caller releases control (it is, inside the hook).
 * Returns 0, or -1 if the object cannot be read or buf is too small. */
typedef struct ml_code_text {
    size_t name_off, name_len;
    size_t qualname_off, qualname_len;
    size_t filename_off, filename_len;
    uint32_t firstlineno;
    int linetable_kind;           /* ML_LINETABLE_* of format.h */
    const uint8_t *linetable;
    size_t linetable_len;
} ml_code_text;

int ml_pyframes_code_text(const void *code, char *buf, size_t cap, ml_code_text *out);

#endif
