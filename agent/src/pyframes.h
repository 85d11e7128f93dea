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
    const void *code; /* the PyCodeObject * executing in this frame */
    /* Byte offset of the current instruction in the code's bytecode, the unit of every version's line
     * table (src/model/linetable.ts): f_lasti on 3.9, f_lasti * 2 on 3.10, prev_instr - bytecode on
     * 3.11/3.12 (which may be an inline CACHE unit of the instruction being executed: same line and
     * columns), instr_ptr - bytecode on 3.13+. 0 for a frame that has not begun its first instruction. */
    uint32_t instr;
} ml_pyframe;

/* Chooses the layout for this interpreter. `hexversion` is sys.hexversion as the bootstrap read it.
 * On 3.13+ the offsets are read from the runtime's _Py_DebugOffsets. Returns 0 on success; otherwise -1
 * with a one-line reason in err (the agent then records allocations without Python stacks and says so).
 * Free-threaded builds (3.13+) are read from their own table. Refused: versions other than 3.9 to 3.15,
 * Py_TRACE_REFS builds, a table or object sizes that do not match what this agent knows (a pre-release
 * whose table has another shape), a process where dlsym(RTLD_DEFAULT) does not see
 * _PyRuntime, PyGILState_GetThisThreadState, PyCode_Type, PyUnicode_Type and PyBytes_Type.
 * Call it before the hooks may walk, not concurrently with walks (a failed init disables walks). */
int ml_pyframes_init(unsigned long hexversion, char *err, size_t errlen);

/* Walks the calling thread's Python frames, leaf first, writing at most `cap` into out. Returns the total
 * depth (which may exceed cap: the caller sees that only the `cap` leaf-most frames were written).
 * Returns 0 for a thread with no Python thread state or no frames, and before a successful init.
 * Shim frames (C-stack entry frames of 3.12+) and incomplete frames (still in their prologue, 3.11+) are
 * not frames here, as in tracebacks. Once Py_Finalize has begun, returns 0 on every thread but the
 * finalizing one (the others' thread states are being freed). The whole chain is read every time (so
 * that the depth is known): 2 to 4 ns per frame measured (bench/pyframes-walk.ts). */
size_t ml_pyframes_walk(ml_pyframe *out, size_t cap);

/* One frame of the chain as the last walk read it (every frame of the chain: shims and incomplete frames
 * too), and what the walk made of it. */
typedef struct ml_rawframe {
    uintptr_t addr;  /* the frame */
    uintptr_t back;  /* its f_back / previous, as read */
    uintptr_t code;  /* the f_code / f_executable word, as read */
    uintptr_t instr; /* instr_ptr / prev_instr (3.11+), f_lasti (3.9/3.10), as read */
    int32_t first;   /* the code object's _co_firsttraceable (3.11+; 0 before, or when not live) */
    uint32_t depth;  /* frames of the stack from the root to this entry, inclusive (cache entries only) */
    uint32_t ncodes; /* the cache's distinct code objects of the entries from the root to this one (cache entries only) */
    uint32_t nfull;  /* the entries from the root to this one whose code word and owner the check must read (cache entries only) */
    uint32_t owner;  /* the frame's owner byte (3.11+), widened: the check compares it in one instruction */
    uint8_t coded;   /* the walk checked the code object the code word names (is_live_code, first) */
    uint8_t live;    /* is_live_code was true */
    uint8_t shown;   /* a frame of the stack */
    /* A shim, or a frame whose live code object the walk checked and whose instruction is past the prologue (or
     * has none): what the walk derives from it does not depend on the owner byte beyond its being a shim. */
    uint8_t settled;
} ml_rawframe;

/* Per thread: the chain of the last walk, root first, and an index from frame address to position.
 * The caller owns the memory (the agent's, never a hooked allocator's): `raw`, `pairs` and `fresh` hold `cap`
 * entries, `slots` `slot_cap` (a power of two, at least 2 * cap). len 0: nothing cached. */
typedef struct ml_walk_cache {
    ml_rawframe *raw; /* root first */
    /* raw's addr and instr words again, packed for the two-word check (pyframes.c), which reads nothing else of an
     * entry: 16 bytes an entry instead of raw's 56 (a 10,000-frame chain's pairs fit in a core's second-level cache).
     * The instruction word first, and the array at 8 bytes past a multiple of 16 (pystack.c's grow_cache): an entry's
     * address and the next entry's instruction word are then 16 bytes aligned, the two words the check compares a
     * frame's back pointer and instruction word with, which 3.11 keeps side by side (pyframes.c, "one compare"). */
    struct ml_walk_pair {
        uintptr_t instr, addr;
    } * pairs;
    ml_rawframe *fresh; /* scratch: the frames read this walk, leaf first */
    size_t len, cap;
    struct ml_walk_slot {
        uintptr_t addr;
        uint32_t index;
        uint32_t gen; /* a slot of another generation than slot_gen is empty */
    } * slots;
    size_t slot_cap, slot_used;
    uint32_t slot_gen;
    /* The code objects the cached entries' walk checked, root first, each with its facts and the first entry
     * naming it (`cap` of them): checked once each, not once per frame. */
    struct ml_walk_code {
        uintptr_t code; /* untagged */
        uint32_t entry;
        int32_t first;
        uint8_t live;
    } * codes;
    int slots_valid; /* the slots index raw[0, len) (kept only for chains long enough to gain from it) */
    /* ml_code_frees as the walk that left the cache read it before reading any code object, and the first of
     * its codes that is not live (SIZE_MAX: none): while the count is the same, the live ones need no check
     * (ml_pyframes_walk_cached). */
    uint64_t code_gen;
    size_t first_dead;
    int code_counted; /* that walk saw code frees counted (else code_gen means nothing) */
    /* len, where the walk that left the cache found what lets the next one take the whole chain with the two-word
     * check alone (ml_pyframes_walk_whole): the 3.11+ model, code frees counted, every entry settled (nfull 0) and
     * every code object live (first_dead SIZE_MAX); else 0. Any other len (the caller's len = 0) voids it. */
    size_t fast_len;
    /* What ml_pyframes_walk_whole read when it answered 0, for the ml_pyframes_walk_cached that follows it in the same
     * hook (the thread's frames cannot change in between), which reads it only when told to: ts 0, nothing. */
    struct ml_walk_hint {
        uintptr_t ts, f; /* the thread state, and the leaf frame it names */
        uint64_t gen;    /* ml_code_frees, read after f and before any code object */
        int counted;     /* code frees counted for this thread, read before gen */
        int checked;     /* the two-word check of the whole chain ran (the leaf is the cached leaf) */
        int moved_tried; /* leaf_moved ran (pyframes.c) and answered no: it would answer so again */
        size_t bad;      /* its answer */
    } hint;
    /* Where ml_pyframes_walk_whole answered 2 (the leaf's step, pyframes.c): the leaf's frame as the walk derives it
     * now; the rest of the stack is the cached one. */
    ml_pyframe step;
    /* Where ml_pyframes_walk_whole answered 3 (a frame pushed or popped, pyframes.c): what ml_pyframes_walk_cached would
     * have written (n frames, leaf first) and set *reused to; the cache is left as it would have left it. */
    struct ml_walk_moved {
        ml_pyframe out[2];
        size_t n, reused;
    } moved;
} ml_walk_cache;

/* Code objects freed so far, counted by a code watcher (codewatch.c) while ml_code_watch_interp is set, or by the
 * OBJ domain's free hook (pyalloc.c) while ml_code_free_type is set;
 * the walk cache skips its code objects' check while the count has not moved (the proof is in pyframes.c). */
extern uint64_t ml_code_frees;
/* &PyCode_Type while the OBJ domain's free hook or the wrapped dealloc counts every free of a code object, else
 * 0: the hook compares the freed block's type word (at ml_code_free_type_off) with it. */
extern uintptr_t ml_code_free_type;
extern unsigned ml_code_free_type_off;
/* The OBJ hook compares freed blocks' type words (the wrapped dealloc sets ml_code_free_type too, on any
 * allocator: the hook reads a block's second word only where its blocks are known to hold one). */
extern int ml_code_hook_counts;

/* The interpreter whose code objects' frees a code watcher counts (codewatch.c), else 0; ml_code_watch_cache is
 * the same on a GIL build (the walk cache skips its code objects' check for that interpreter's threads), else 0. */
extern uintptr_t ml_code_watch_interp;
extern uintptr_t ml_code_watch_cache;
/* The interpreter of a count that covers every interpreter's code objects (PyCode_Type's dealloc wrapped). */
#define ML_CODE_WATCH_ALL UINTPTR_MAX
/* &PyCode_Type.tp_dealloc, or NULL before the layout is known. */
void **ml_pyframes_code_dealloc_slot(void);

/* The calling thread's interpreter (PyThreadState.interp of the state the walk reads), or 0. */
uintptr_t ml_pyframes_thread_interp(void);
/* A code watcher of `interp` (ML_CODE_WATCH_ALL: of every interpreter) counts every free of its code objects
 * from now on (interp 0: it stops, called before the watcher is cleared). Returns whether frees are counted. */
int ml_pyframes_watch_code_frees(uintptr_t interp);
/* Whether every free of a code object the calling thread's frames may name is counted (the OBJ hook, or the
 * watcher of its interpreter). Read before ml_code_frees, as the walk reads the type before the count. */
int ml_pyframes_code_frees_counted(void);
/* The same, without a call where the OBJ hook or the wrapped dealloc counts (ml_code_free_type set). */
static inline int ml_code_frees_counted(void) {
    return __atomic_load_n(&ml_code_free_type, __ATOMIC_ACQUIRE) != 0 || ml_pyframes_code_frees_counted();
}

/* Counts code object frees from now on (on: the OBJ domain's hook is installed and this build qualifies, see
 * pyframes.c) or stops counting (off: before the hook is taken out). Returns whether frees are counted. */
int ml_pyframes_count_code_frees(int on, int python_allocator);

/* From how many frames a chain (pyframes.c) or a stack (pystack.c) is walked through the cache. Below it, a walk
 * without the cache costs less: 24 where the cache checks its code objects; 8 where it skips that check (code
 * frees counted), which gains on chains of 10-20 frames too (docs/benchmarks.md, "Agent CPU, round six"). */
extern size_t ml_walk_min;
static inline size_t ml_walk_cache_min(void) {
    return __atomic_load_n(&ml_walk_min, __ATOMIC_RELAXED);
}

/* A code object is being freed (the hook calls this before releasing it). */
static inline void ml_pyframes_code_freed(void) {
    __atomic_fetch_add(&ml_code_frees, 1, __ATOMIC_RELEASE);
}

/* ml_pyframes_walk with the thread's cache: the same frames, but the part of the chain that is still the
 * chain of the last walk (read again, frame by frame, and found unchanged: the proof is in pyframes.c) is
 * not derived again. Writes the frames that are not reused into out, leaf first (at most cap), and sets
 * *reused to the number of frames of the stack, at its root, that are the root-most frames of the last
 * walk's stack. Returns the number written (the depth is that plus *reused), or SIZE_MAX when the chain
 * does not fit in the cache or in out (the caller grows them or walks without the cache, and clears it). `hinted`:
 * ml_pyframes_walk_whole answered 0 just before, in the same hook (its c->hint is taken instead of reading again). */
size_t ml_pyframes_walk_cached(ml_walk_cache *c, ml_pyframe *out, size_t cap, size_t *reused, int hinted);

/* The commonest walk alone (a C function allocating again and again under the same Python frames): 1 when the
 * thread's chain is the cache's whole chain, read again now and found unchanged, which ml_pyframes_walk_cached
 * would then say with 0 frames written and *reused the cached leaf's depth; it leaves the cache as that would.
 * 2 when only the leaf's instruction moved (the leaf's step, pyframes.c): ml_pyframes_walk_cached would then say 1
 * frame written, c->step, and *reused the depth of the entry below the leaf; it leaves the cache as that would, and
 * the caller must make the last stack's leaf that frame (the cache's frames are the last stack's) or clear the
 * cache. 3 when the leaf is one frame pushed on the cached leaf or the cached leaf popped (pyframes.c, "a frame pushed
 * or popped"): ml_pyframes_walk_cached would then say what c->moved holds, and it leaves the cache as that would; the
 * caller takes c->moved as that walk's answer. 0 otherwise, with what it read in c->hint for the
 * ml_pyframes_walk_cached the caller makes next (`hinted`). */
int ml_pyframes_walk_whole(ml_walk_cache *c);

/* What the code registry compares to tell a live code object from a new one at a reused address. */
typedef struct ml_code_key {
    const void *name;     /* co_name object */
    const void *filename; /* co_filename object */
    uint32_t firstlineno;
} ml_code_key;

/* 0, or -1 if `code` is not (or no longer) a code object. */
int ml_pyframes_code_key(const void *code, ml_code_key *out);

/* The text of a code object for a CODE record. Strings are converted to UTF-8 into `buf` (capacity `cap`);
 * the offsets and lengths below point into buf. The line table is not copied: it points into the live
 * bytes object and must be consumed before the caller releases control (it is, inside the hook).
 * Returns 0, or -1 if the object cannot be read or buf is too small.
 * A string that cannot be read safely (not a compact str: a str subclass, a legacy string) is written as
 * "<?>"; lone surrogates become U+FFFD. Before 3.11 (no co_qualname) the qualname is the name (same
 * offset and length). linetable is NULL (length 0) when the code has no readable table. */
typedef struct ml_code_text {
    size_t name_off, name_len;
    size_t qualname_off, qualname_len;
    size_t filename_off, filename_len;
    uint32_t firstlineno;
    int linetable_kind; /* ML_LINETABLE_* of format.h */
    const uint8_t *linetable;
    size_t linetable_len;
} ml_code_text;

int ml_pyframes_code_text(const void *code, char *buf, size_t cap, ml_code_text *out);

#endif
