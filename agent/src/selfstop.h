/* A session whose capture cannot be written any more ends itself (selfstop.c). */
#ifndef MEMLENS_SELFSTOP_H
#define MEMLENS_SELFSTOP_H

/* What ends the session when memlens_agent is not there to do it (the lifecycle's stop, set at start). */
void ml_selfstop_set_stopper(void (*stop)(void));
/* Asks the main thread to end the session at its next safe point (once per session; retried by the next
 * call if the interpreter's queue of pending calls is full). Safe from any thread. */
void ml_selfstop_request(void);
/* A new session (its number: a request of an earlier one, still queued, does nothing to it). */
void ml_selfstop_reset(unsigned session);

#endif
