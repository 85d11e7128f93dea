/* The hook functions that GOT slots are rewritten to, and the recording path they share. */
#ifndef MEMLENS_HOOKS_H
#define MEMLENS_HOOKS_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

typedef struct ml_hook_def {
    const char *name;
    void *hook;
    void *real; /* the function the hook calls (NULL: resolved at run time, or never handed out by dlsym) */
} ml_hook_def;

/* Every hooked symbol and its hook, for got.c. */
extern const ml_hook_def ml_hook_defs[];
extern const size_t ml_hook_count;

#endif
