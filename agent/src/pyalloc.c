/* PEP 445 wrappers. Each calls the allocator it replaced with the guard held, so the malloc or mmap that
 * pymalloc (or mimalloc) makes underneath is not recorded a second time, then records the Python-level
 * event.
 *
 * Order: a free is recorded before the memory is released. A realloc in the MEM and OBJ domains runs with
 * the GIL held, so no other thread can be handed the old block between the real call and our records: we
 * record after the call and know whether it moved. RAW is called without the GIL (and nothing is in a
 * free-threaded build), so there the free half is recorded first; if the real call then fails, the old
 * block is recorded again, without a size we could know. */
#include "pyalloc.h"

#include <string.h>

#include "common.h"
#include "owntime.h"
#include "pyapi.h"
#include "pyframes.h"
#include "record.h"
#include "state.h"
#include "util.h"

static ml_pymem_allocator g_orig[3];
static ml_pymem_allocator g_ours[3];
static int g_installed[3];
static int g_free_first[3];

/* Each hook takes the guard once, around the real call and the recording both: the guard was clear
 * (ml_should_record), so the recording need not save and restore it again. malloc and free, the commonest, record
 * in their own frame (record.h's inline path); calloc and realloc call ml_record_*_guarded. */
static void *py_malloc(void *ctx, size_t size) {
    ml_pymem_allocator *orig = ctx;
    if (!ml_should_record()) return orig->malloc(orig->ctx, size);
    int guard = ml_guard_enter();
    void *p = orig->malloc(orig->ctx, size);
    if (p != NULL && (!ml_sampling || ml_sample_in((uintptr_t)p, size))) {
        uint64_t own = ml_own_begin(); /* the recording's time, not the allocator's (owntime.h) */
        ml_record_alloc_in((uintptr_t)p, size, ML_A_PYMALLOC_MALLOC);
        ml_own_end(own);
    }
    ml_guard_leave(guard);
    return p;
}

static void *py_calloc(void *ctx, size_t n, size_t size) {
    ml_pymem_allocator *orig = ctx;
    if (!ml_should_record()) return orig->calloc(orig->ctx, n, size);
    int guard = ml_guard_enter();
    void *p = orig->calloc(orig->ctx, n, size);
    if (p != NULL && (!ml_sampling || ml_sample_in((uintptr_t)p, (uint64_t)n * size)))
        ml_record_alloc_guarded((uintptr_t)p, (uint64_t)n * size, ML_A_PYMALLOC_CALLOC);
    ml_guard_leave(guard);
    return p;
}

static void *py_realloc(void *ctx, void *ptr, size_t size) {
    ml_pymem_allocator *orig = ctx;
    if (!ml_should_record()) return orig->realloc(orig->ctx, ptr, size);
    int domain = (int)(orig - g_orig);
    int free_first = g_free_first[domain];
    int guard = ml_guard_enter();
    /* Sampling: the old block's free is recorded only if it was in the sample. With the GIL held (MEM,
     * OBJ) no other thread can be handed the old block before we look, so the lookup waits for the call. */
    int freed = 0;
    if (ptr != NULL && free_first && (!ml_sampling || ml_sampled_remove((uintptr_t)ptr))) {
        ml_record_free_guarded((uintptr_t)ptr, ML_D_PYMALLOC_FREE);
        freed = 1;
    }
    void *q = orig->realloc(orig->ctx, ptr, size);
    if (q != NULL) {
        if (ptr != NULL && !free_first && (!ml_sampling || ml_sampled_remove((uintptr_t)ptr)))
            ml_record_free_guarded((uintptr_t)ptr, ML_D_PYMALLOC_FREE);
        if (!ml_sampling || ml_sample_in((uintptr_t)q, size)) ml_record_alloc_guarded((uintptr_t)q, size, ML_A_PYMALLOC_REALLOC);
    } else if (freed && (!ml_sampling || ml_sampled_add((uintptr_t)ptr))) {
        /* The old block was in the sample and is still there: it is again. */
        ml_record_alloc_guarded((uintptr_t)ptr, 0, ML_A_PYMALLOC_REALLOC);
    }
    ml_guard_leave(guard);
    return q;
}

static inline __attribute__((always_inline)) void free_block(void *ctx, void *ptr) {
    ml_pymem_allocator *orig = ctx;
    if (ptr != NULL && ml_should_record()) {
        int guard = ml_guard_enter();
        if (!ml_sampling || ml_sampled_remove((uintptr_t)ptr)) {
            uint64_t own = ml_own_begin();
            ml_record_free_in((uintptr_t)ptr, ML_D_PYMALLOC_FREE, 0);
            ml_own_end(own);
        }
        orig->free(orig->ctx, ptr);
        ml_guard_leave(guard);
        return;
    }
    orig->free(orig->ctx, ptr);
}

static void py_free(void *ctx, void *ptr) {
    free_block(ctx, ptr);
}

/* The OBJ domain's free and realloc: first count a code object being freed (the walk cache's code objects
 * need no check while none was: pyframes.c), then as the others. The type word is that of the object the
 * block starts with (a code object has nothing before it); ml_code_free_type is 0 when frees are not counted. */
static inline void count_code_free(const void *ptr) {
    if (!__atomic_load_n(&ml_code_hook_counts, __ATOMIC_RELAXED) || ptr == NULL) return;
    uintptr_t code_type = __atomic_load_n(&ml_code_free_type, __ATOMIC_RELAXED);
    uintptr_t type;
    memcpy(&type, (const char *)ptr + ml_code_free_type_off, sizeof type);
    if (type == code_type) ml_pyframes_code_freed();
}

static void py_free_obj(void *ctx, void *ptr) {
    count_code_free(ptr);
    free_block(ctx, ptr);
}

static void *py_realloc_obj(void *ctx, void *ptr, size_t size) {
    count_code_free(ptr);
    return py_realloc(ctx, ptr, size);
}

unsigned ml_pyalloc_domains(int asked, int python_allocator, int free_threaded, unsigned long hexversion) {
    if (asked) return ML_PYALLOC_RAW | ML_PYALLOC_MEM | ML_PYALLOC_OBJ;
    if (python_allocator != 5 && python_allocator != 6) return 0;
    unsigned minor = (unsigned)(hexversion >> 16) & 0xffu;
    unsigned domains = ML_PYALLOC_MEM | ML_PYALLOC_OBJ;
    if (free_threaded && minor >= 15) domains |= ML_PYALLOC_RAW;
    return domains;
}

int ml_pyalloc_install(unsigned domains, int gil_disabled, int python_allocator, char *err, size_t errlen) {
    if (!ml_py.ready) {
        ml_set_err(err, errlen, "the Python C API is not reachable", 0);
        return -1;
    }
    static const int ids[3] = {ML_PYMEM_DOMAIN_RAW, ML_PYMEM_DOMAIN_MEM, ML_PYMEM_DOMAIN_OBJ};
    for (int i = 0; i < 3; i++) {
        int d = ids[i];
        if (g_installed[d] || (domains & (1u << d)) == 0) continue;
        ml_py.PyMem_GetAllocator(d, &g_orig[d]);
        int obj = d == ML_PYMEM_DOMAIN_OBJ;
        g_ours[d] = (ml_pymem_allocator){&g_orig[d], py_malloc, py_calloc, obj ? py_realloc_obj : py_realloc, obj ? py_free_obj : py_free};
        g_free_first[d] = d == ML_PYMEM_DOMAIN_RAW || gil_disabled;
        ml_py.PyMem_SetAllocator(d, &g_ours[d]);
        g_installed[d] = 1;
    }
    /* Once the hook is in the chain: from here every code object's free passes it. */
    if (g_installed[ML_PYMEM_DOMAIN_OBJ]) (void)ml_pyframes_count_code_frees(1, python_allocator);
    return 0;
}

void ml_pyalloc_uninstall(void) {
    if (!ml_py.ready) return;
    for (int d = 0; d < 3; d++) {
        if (!g_installed[d]) continue;
        ml_pymem_allocator cur;
        ml_py.PyMem_GetAllocator(d, &cur);
        /* If someone wrapped ours since (tracemalloc.start()), ours stays in their chain and passes
         * through; taking it out would break theirs. */
        if (cur.malloc == py_malloc && cur.ctx == &g_orig[d]) {
            if (d == ML_PYMEM_DOMAIN_OBJ) (void)ml_pyframes_count_code_frees(0, 0); /* before frees stop passing */
            ml_py.PyMem_SetAllocator(d, &g_orig[d]);
            g_installed[d] = 0;
        }
    }
}
