/* The session's lifecycle (lifecycle.c): what memlens_start and memlens_stop do. */
#ifndef MEMLENS_LIFECYCLE_H
#define MEMLENS_LIFECYCLE_H

#include <stddef.h>

/* Starts a session from the configuration text (docs/agent.md "Configuration and API"). Returns 0, or -1
 * with a one-line reason in err. */
int ml_start(const char *config_text, char *err, size_t errlen);
/* Stops the session for `reason` (ML_T_*): used by memlens_stop and by the _exit hook. Restores every hook
 * (but on _exit), flushes every stream, writes AGENT_STATS, the last MARKER and the TRAILER. */
void ml_stop(int reason);

#endif
