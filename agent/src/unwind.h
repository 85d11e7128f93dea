/* A fast native unwinder with a per-thread cache of unwind rules (x86-64; elsewhere it always declines and
 * the caller uses backtrace()). See unwind.c. */
#ifndef MEMLENS_UNWIND_H
#define MEMLENS_UNWIND_H

#include <stdint.h>

typedef struct ml_unwind_entry {
    uintptr_t pc;    /* the address this rule is for (0: empty) */
    int32_t cfa_off; /* CFA = (cfa_rbp ? rbp : rsp) + cfa_off; the return address is at CFA - 8 */
    int16_t rbp_off; /* the caller's rbp is at CFA + rbp_off, if rbp_saved */
    uint8_t kind;    /* ML_UNWIND_RULE, _LAST (the outermost frame: no caller), _FALLBACK (use backtrace()) */
    uint8_t cfa_rbp : 1, rbp_saved : 1;
} ml_unwind_entry;

enum { ML_UNWIND_RULE = 0, ML_UNWIND_LAST = 1, ML_UNWIND_FALLBACK = 2 };

#define ML_UNWIND_CACHE 2048 /* entries per thread (a power of two): 1024 sets of two ways */

#define ML_UNWIND_MEMO 160 /* frames of the last walk kept */

/* A walk's steps, what each found and read (unwind.c, "the last walk"). */
typedef struct ml_unwind_walk {
    int n;                            /* steps (frames); 0: none kept */
    uintptr_t cfa[ML_UNWIND_MEMO];    /* the CFA, which is the next step's rsp; the return address was at CFA - 8 */
    uintptr_t ra[ML_UNWIND_MEMO];     /* the return address read there */
    uintptr_t rbp_at[ML_UNWIND_MEMO]; /* where the caller's rbp was read (0: not read), | 1 if the CFA came from rbp */
    uintptr_t rbp[ML_UNWIND_MEMO];    /* rbp after the step */
} ml_unwind_walk;

/* A thread's unwinder (zeroed memory is an empty one): rules by address and its last walk. */
typedef struct ml_unwind_state {
    ml_unwind_entry cache[ML_UNWIND_CACHE];
    int cur; /* walk[cur] is the last one */
    ml_unwind_walk walk[2];
} ml_unwind_state;

void ml_unwind_init(void);

/* Return addresses of the calling thread's frames, leaf first (the first is inside the caller of
 * ml_unwind), at most max. -1: this unwinder cannot do it (use backtrace()). *same: how many of the outermost
 * frames are the last walk's outermost, frame for frame (0 when this walk or the last was cut at max). */
int ml_unwind(uintptr_t *out, int max, ml_unwind_state *us, uintptr_t stack_lo, uintptr_t stack_hi, int *same);

#endif
