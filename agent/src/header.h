/* The capture's file header. */
#ifndef MEMLENS_HEADER_H
#define MEMLENS_HEADER_H

#include <stddef.h>
#include <stdint.h>

#include "cgroup.h"
#include "config.h"

/* Adds the agent's own fields to c, builds the header in `out` (cap bytes: the fixed part and a body of up
 * to ML_MAX_HEADER_BODY_LEN) and writes it to the sink. `wall_ns` and `mono_ns`: when the session started
 * (CLOCK_REALTIME, CLOCK_MONOTONIC). Returns 0, or -1 with err. */
int ml_header_write(ml_config *c, ml_cgroup *cg, uint64_t wall_ns, uint64_t mono_ns, uint8_t *out, size_t cap, char *err, size_t errlen);

#endif
