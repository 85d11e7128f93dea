/* The service thread (its stream is service_stream.h): memory snapshots, flush rounds with BARRIER, agent
 * statistics, reaping exited threads, noticing objects the loader brought in behind our back. */
#ifndef MEMLENS_SERVICE_H
#define MEMLENS_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "cgroup.h"

/* Starts the thread (all signals blocked in it, the guard set for its whole life). It takes a snapshot every
 * `interval_ms`; the program's allocating threads take one when the last is older than `stale_ms` (-1: twice
 * the interval, at least 20 ms; snapshot.c). */
int ml_service_start(unsigned interval_ms, long stale_ms, ml_cgroup *cg, char *err, size_t errlen);
/* The share of the cgroup limit (per mille, 0 = never) above which a NEAR_OOM marker is written. */
void ml_service_set_near_oom(unsigned permille);
/* Which censuses the service thread asks for (census.c): at near-OOM, and as the process grows. */
void ml_service_set_census(int near_oom, int growth);
/* Stops and joins the thread; nothing is flushed here. */
void ml_service_stop(void);
/* One flush round: every thread's block, then BARRIER in the service stream. */
void ml_service_flush_round(void);
/* The capture stopped before its end (sink.h): one of its last blocks says why (a CAPTURE_STOPPED marker),
 * once per session. The service thread does it when it notices; the stop, if it did not. */
void ml_service_note_capture_stopped(void);
/* AGENT_STATS now. */
void ml_service_agent_stats(void);
/* In a fork child: the thread does not exist there, its locks may be held. */
void ml_service_forget(void);

#endif
