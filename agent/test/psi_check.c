/* Test program for psi.c: parses the pressure file text on standard input and prints
 * "rc some_avg10 some_avg60 some_avg300 some_total has_full full_avg10 full_avg60 full_avg300 full_total". */
#include <stdio.h>

#include "../src/psi.h"

int main(void) {
    char text[4096];
    size_t n = fread(text, 1, sizeof text - 1, stdin);
    text[n] = 0;
    ml_psi p;
    int rc = ml_psi_parse(text, &p);
    printf("%d %llu %llu %llu %llu %d %llu %llu %llu %llu\n", rc, (unsigned long long)p.some_avg[0], (unsigned long long)p.some_avg[1],
           (unsigned long long)p.some_avg[2], (unsigned long long)p.some_total_us, p.has_full, (unsigned long long)p.full_avg[0],
           (unsigned long long)p.full_avg[1], (unsigned long long)p.full_avg[2], (unsigned long long)p.full_total_us);
    return 0;
}
