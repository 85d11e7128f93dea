/* The configuration memlens_start receives: key=value lines (docs/agent.md "Configuration and API"). The
 * header fields among them are kept, in the order given, for header.c. */
#ifndef MEMLENS_CONFIG_H
#define MEMLENS_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "encode.h"

/* One header field: its tag and where its value is in ml_config.values. */
typedef struct ml_config_field {
    uint32_t tag, off, len;
} ml_config_field;

typedef struct ml_config {
    char output[4096];
    int fd;
    int overwrite;
    unsigned interval_ms;
    long snapshot_stale_ms; /* -1: the service's default (service.h) */
    unsigned near_oom_permille;
    int census_near_oom;
    int census_growth;
    int options;
    int mode;
    unsigned long hexversion;
    int python_allocator; /* header value: 5 mimalloc, 6 mimalloc with debug hooks */
    int gil_disabled;
    int free_threaded; /* a Py_GIL_DISABLED build (whether or not the GIL was turned back on) */
    uint32_t max_stack_nodes;
    unsigned queue_limit_mib;                        /* what may wait to be written before the capture stops (sink.h); 0: default */
    int backtrace_only;                              /* native_unwinder=backtrace: glibc's backtrace() for every event */
    uint64_t sample_rate, sample_exact, sample_seed; /* sampling (docs/sampling.md); rate 0: every event */
    /* Header fields, in the order they were given: values in `values`, written sorted by tag (stable, so
     * repeated fields keep their order) when the header is written. */
    ml_config_field *fields;
    size_t nfields, fields_cap;
    ml_buf values;
    char *scratch; /* one value, unescaped */
    size_t scratch_cap;
} ml_config;

/* A configuration with room for a header of up to 1 MiB (from the agent's own memory); NULL if out of
 * memory. */
ml_config *ml_config_new(void);
void ml_config_free(ml_config *c);

/* Parses `text` into c. Returns 0, or -1 with a one-line reason in err (an unknown key, no output, a
 * header over 1 MiB). */
int ml_config_parse(ml_config *c, const char *text, char *err, size_t errlen);

/* Adds a header field (header.c adds what the agent knows itself). A non-list field at its default value
 * (0, "") is left out (docs/capture-format.md, "Writer rules"). */
void ml_config_header_int(ml_config *c, unsigned tag, uint64_t v);
void ml_config_header_str(ml_config *c, unsigned tag, const char *s);

#endif
