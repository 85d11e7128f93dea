/* The session's shared state (state.h): definitions only. */
#include "state.h"

__thread ml_tls_block ml_tls;
atomic_int ml_active;
int ml_in_session;
int ml_options;
atomic_uint_fast64_t ml_seq;
uint64_t ml_start_mono_ns;
int ml_pid;
uint32_t ml_max_stack_nodes = ML_DEFAULT_MAX_STACK_NODES;
uintptr_t ml_service_stack_lo, ml_service_stack_hi;
