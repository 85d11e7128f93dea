/* Test library for the dlopen hook: it dlopens a sibling library by its bare name, which only its own
 * RUNPATH ($ORIGIN/deps) can find. Under memlens the hook, not this library, calls the real dlopen; the
 * hook must search this library's RUNPATH as the loader would have. */
#include <dlfcn.h>
#include <stddef.h>

int memlens_test_load_dep(size_t size);

int memlens_test_load_dep(size_t size) {
    void *h = dlopen("libmemlens_test_dep.so", RTLD_NOW);
    if (h == NULL) return -1;
    int (*alloc)(size_t) = (int (*)(size_t))dlsym(h, "memlens_test_dep_alloc");
    if (alloc == NULL) return -2;
    return alloc(size);
}
