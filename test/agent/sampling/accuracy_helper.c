/* Known allocations for the sampling accuracy test (test/agent/sampling-accuracy.test.ts): called through
 * ctypes, so every block is charged to the Python line that called in, and a few hundred thousand of them
 * cost milliseconds, not seconds. The allocations go through this library's GOT, which the agent patches. */
#include <stdlib.h>
#include <sys/mman.h>

/* Allocates n blocks with sizes cycling through sizes[0..nsizes), frees every other one (odd i), and
 * returns the array of the kept ones for release(). The array is a mapping: mappings are recorded exactly
 * when sampling too, so it adds the same to every run. */
void **alloc_blocks(size_t n, const size_t *sizes, size_t nsizes) {
    void **keep = mmap(NULL, n * sizeof *keep, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (keep == MAP_FAILED) return NULL;
    for (size_t i = 0; i < n; i++) keep[i] = malloc(sizes[i % nsizes]);
    for (size_t i = 1; i < n; i += 2) {
        free(keep[i]);
        keep[i] = NULL;
    }
    return keep;
}

void release(void **keep, size_t n) {
    if (keep == NULL) return;
    for (size_t i = 0; i < n; i++) free(keep[i]);
    munmap(keep, n * sizeof *keep);
}
