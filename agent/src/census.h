/* Censuses of live Python objects taken at a safe point (census.c). */
#ifndef MEMLENS_CENSUS_H
#define MEMLENS_CENSUS_H

#include "common.h"

/* Asks the main thread to take a census at its next safe point, labelled (near-oom, growth). Returns 0, or -1
 * if one is already queued or the interpreter refused the pending call. Called from the service's snapshots
 * (the service thread's, and the first one by the thread that starts it), never from an allocation hook:
 * Py_AddPendingCall may block there, and from 3.13 on release the GIL. */
int ml_census_request(const char *label);

/* ── When the near-OOM census starts ─────────────────────────────────────────────────────────────────
 * Two readers of the memory cgroup's usage notice that it passed the census's share of the limit: the
 * service thread's sampler (every memory interval) and the allocation path (each thread every
 * ml_census_step bytes it allocated). Either way the service thread queues the census; the allocation path
 * wakes it and waits (bounded) until it has, so the program cannot run on towards the limit meanwhile,
 * however late the service thread gets a CPU. docs/census.md. */

/* The service thread: the near-OOM census at `census_permille` of `limit` (0: none), the usage read from
 * `usage_fd` (the cgroup's, opened beforehand). At its start and whenever it reads the limit again. */
void ml_census_near_oom_arm(int usage_fd, uint64_t limit, unsigned census_permille);
/* The service thread stops (or is gone, in a fork child): no more checks, and no thread waits for it. */
void ml_census_near_oom_disarm(void);
/* The service thread's sampler read `usage`: queues the census when it passed the share, re-arms it 5
 * points below. */
void ml_census_near_oom_seen(uint64_t usage);
/* The service thread, each time it wakes: a crossing the allocation path noticed is queued now. */
void ml_census_near_oom_service(void);

struct ml_thread;
/* The allocation path's slow part (record.h: the thread allocated past its census_check_at): a late snapshot
 * (snapshot.h), then, under a limit, reads the usage, and on a crossing hands it to the service thread and
 * waits for it. The guard is held. Keeps errno. */
void ml_census_alloc_check(struct ml_thread *t);

/* The bootstrap hands a census back (JSON, memlens_record_census): written as a CENSUS record in the
 * calling thread's stream. */
void ml_census_record(const char *label, const char *json);

/* The bytes left before the memory cgroup's limit (its usage read now, its limit as at the census's start),
 * or -1 without a limit: the near-OOM search stops before it would itself end the process. Called by the
 * thread taking a census (memlens_census_room). */
int64_t ml_census_room(void);

#endif
