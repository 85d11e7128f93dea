/* The SNAPSHOT record (RSS and its split, swap, cgroup usage and limit, the aggregated heap, memlens's own
 * time): taken by the service thread every memory interval, and by the program's own allocating threads when
 * that thread is late (snapshot.c). */
#ifndef MEMLENS_SNAPSHOT_H
#define MEMLENS_SNAPSHOT_H

#include <stdint.h>

#include "cgroup.h"
#include "encode.h"

/* What a snapshot read, for the service thread's decisions (the near-OOM marker and census, growth censuses). */
typedef struct ml_snapshot_reading {
    uint64_t rss, usage;
} ml_snapshot_reading;

/* A session starts (before its first snapshot): opens /proc/self/statm; `cg` is the session's memory cgroup (or
 * NULL), `stale_ns` how old the last snapshot must be before an allocating thread takes one. */
void ml_snapshot_begin(ml_cgroup *cg, uint64_t stale_ns);
/* Swap and shared memory as /proc/self/status last said (the service thread reads it once a second); a
 * negative value: the file did not say (the last one stays). */
void ml_snapshot_set_status(int64_t swap, int64_t shmem);
/* The cgroup's limit as last read (0: none). */
void ml_snapshot_set_limit(uint64_t limit);
/* The service thread's snapshot (and the first and last, by the thread that starts or stops the session):
 * into the service stream, waiting for one an allocating thread is writing. Returns 0 and fills `out`, or -1
 * if nothing could be read. Caller holds the guard. */
int ml_snapshot_take(ml_snapshot_reading *out);
/* An allocating thread's step (census.c, every so many bytes it allocated; its stream `s`, whose lock it does
 * not hold, guard held): if the last snapshot, whoever took it, is older than the staleness and nobody is
 * taking one, takes one into `s`. Never waits for another thread; keeps errno. */
void ml_snapshot_if_stale(ml_stream *s);
/* The session ends: allocating threads take no more, one under way is waited for, statm is closed. */
void ml_snapshot_end(void);
/* In a fork child: the lock may be held by a thread that is gone; drops everything without taking it. */
void ml_snapshot_forget(void);

#endif
