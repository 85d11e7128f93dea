// Loaded by the report commands alone (src/util/malloc-tuning.ts, with process.dlopen), never by `memlens
// run`, `attach` or the agent: fixes glibc's mmap threshold at 1 MiB for the reporting process, so that
// every large ArrayBuffer is a mapping of its own, given back when it is freed (docs/mmap-threshold.md).
// glibc's own threshold starts at 128 KiB and rises to the size of each mapped chunk freed (up to 32 MiB),
// after which the model's arrays come from the brk heap, zeroed by memset and left as holes when freed.
//
// An N-API module only in the sense node's dlopen needs (it calls napi_register_module_v1 and uses what it
// returns as the exports): plain pointers stand for napi_env and napi_value, so no node headers are needed.
// mallopt's effect stays in this process: an exec'd child starts with glibc's defaults, and nothing is put
// in any environment.
#include <malloc.h>

__attribute__((visibility("default"))) void *napi_register_module_v1(void *env, void *exports);

void *napi_register_module_v1(void *env, void *exports) {
    (void)env;
    // Setting either threshold turns glibc's raising of both off. The trim threshold goes back to glibc's
    // default (128 KiB), as with MALLOC_MMAP_THRESHOLD_ in node's environment: here glibc may have raised it
    // already (to twice the largest mapped chunk freed while node started, its bundle and code cache).
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    mallopt(M_TRIM_THRESHOLD, 128 << 10);
    return exports;
}
