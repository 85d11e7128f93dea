/* Test library loaded by dlopen_caller.c through its RUNPATH: an allocation it makes after being loaded
 * must be recorded (the agent patches objects that dlopen brings in). */
#include <stdlib.h>

int memlens_test_dep_alloc(size_t size);

static void *kept;

int memlens_test_dep_alloc(size_t size) {
    kept = malloc(size);
    return kept != NULL ? 1 : 0;
}
