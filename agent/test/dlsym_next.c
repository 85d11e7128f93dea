/* Test library for the dlsym hook: dlsym(RTLD_NEXT, ...) answers relative to the library that calls it,
 * so the hook must reach the real dlsym with the caller's return address. Built twice: as "a" (which calls
 * RTLD_NEXT and needs "b": link it with --no-as-needed) and as "b" (the next definition). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>

int memlens_test_which(void);
int memlens_test_call_next(void);

int memlens_test_which(void) {
    return WHICH;
}

int memlens_test_call_next(void) {
    int (*f)(void) = (int (*)(void))dlsym(RTLD_NEXT, "memlens_test_which");
    return f != NULL ? f() : -1;
}
