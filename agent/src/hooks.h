/* The hook functions that GOT slots are rewritten to (hooks.c); the recording path they share is record.h. */
#ifndef MEMLENS_HOOKS_H
#define MEMLENS_HOOKS_H

#include <stddef.h>
#include <stdint.h>

#include "got.h"

/* Every hooked symbol and its hook: the table the lifecycle hands to ml_got_install. */
extern const ml_hook_def ml_hook_defs[];
extern const size_t ml_hook_count;

#endif
