/* Pressure stall information (PSI) for memory, as the kernel prints it in /proc/pressure/memory and in a
 * cgroup v2's memory.pressure:
 *
 *   some avg10=1.53 avg60=0.40 avg300=0.09 total=1171218
 *   full avg10=0.00 avg60=0.00 avg300=0.00 total=82806
 *
 * The raw numbers only: what counts as pressure is the reader's decision (src/analysis/memory-pressure.ts). */
#ifndef MEMLENS_PSI_H
#define MEMLENS_PSI_H

#include <stdint.h>

typedef struct ml_psi {
    /* "some": at least one task stalled on memory; "full": all non-idle tasks at once. The averages over 10,
     * 60 and 300 s in hundredths of a percent (12.34% → 1234); total stall time in µs. */
    uint64_t some_avg[3], some_total_us;
    uint64_t full_avg[3], full_total_us;
    int has_full; /* the kernel printed a "full" line */
} ml_psi;

/* Parses the text of a memory pressure file. Returns 0, or -1 if it has no "some" line. Pure. */
int ml_psi_parse(const char *text, ml_psi *out);

#endif
