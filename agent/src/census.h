/* Censuses of live Python objects taken at a safe point (census.c). */
#ifndef MEMLENS_CENSUS_H
#define MEMLENS_CENSUS_H

#include "common.h"

/* Asks the main thread to take a census at its next safe point, labelled (near-oom, growth). Returns 0, or -1
 * if one is already queued or the interpreter refused the pending call. Safe from any thread. */
int ml_census_request(const char *label);

/* The bootstrap hands a census back (JSON, memlens_record_census): written as a CENSUS record in the
 * calling thread's stream. */
void ml_census_record(const char *label, const char *json);

/* The bytes left before the memory cgroup's limit (its usage read now, its limit as at the census's start),
 * or -1 without a limit: the near-OOM search stops before it would itself end the process. Called by the
 * thread taking a census (memlens_census_room). */
int64_t ml_census_room(void);

#endif
