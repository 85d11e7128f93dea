/* The service stream (stream 0): the records that belong to no thread — snapshots, barriers, notes,
 * markers, images, checkpoints, agent statistics, the trailer. A leaf like encode.c: it encodes and
 * writes, and calls nothing above it. */
#ifndef MEMLENS_SERVICE_STREAM_H
#define MEMLENS_SERVICE_STREAM_H

#include <stddef.h>
#include <stdint.h>

/* Prepares the service stream for a new session; -1 if out of memory. */
int ml_service_stream_begin(void);
/* Appends a record to the service stream (any thread; its own lock). */
void ml_service_stream_record(int type, const void *payload, size_t len);
/* The end of a flush round: BARRIER(seq) if `barrier`, then the open block goes out if `flush`. Returns 0
 * if the stream is closed (nothing was written), 1 otherwise. */
int ml_service_stream_barrier(uint64_t seq, int barrier, int flush);
/* Records the service stream lost (the sink failed). */
uint64_t ml_service_stream_dropped(void);
/* Flushes and closes the service stream: late writers drop their records. */
void ml_service_stream_close(void);
/* In a fork child: its lock may be held; drop the stream without taking it. */
void ml_service_stream_forget(void);

/* NOTE in the service stream (kind: ML_N_*). */
void ml_note(int kind, const char *text);
/* MARKER in the service stream (kind: ML_M_*). */
void ml_marker(int kind, const char *label);
/* MARKER as one of the capture's last blocks (ml_write_last_record), after the sink stopped taking blocks:
 * why the capture stops there (ML_M_CAPTURE_STOPPED). */
void ml_marker_last(int kind, const char *label);

#endif
