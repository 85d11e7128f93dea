/* Test program for mappings.c: reads commands from stdin, one per line, and prints one line per command.
 *   a ADDR SIZE OWNER   adds a mapping (after unmapping its range, as a MAP_FIXED mmap would): "ok" or "fail"
 *   u ADDR SIZE         unmaps: "u" then one " OWNER:BYTES:ENDED" per piece removed, in address order
 *   c ADDR              "1" if ADDR is inside a live piece, else "0"
 * Owners are small integers, stored as the pointer value. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>

#include "../src/mappings.h"

static void print_piece(void *owner, uint64_t bytes, int ended, void *ctx) {
    (void)ctx;
    printf(" %" PRIuPTR ":%" PRIu64 ":%d", (uintptr_t)owner, bytes, ended);
}

int main(void) {
    ml_mappings m = {0};
    char op;
    uint64_t addr, size, owner;
    while (scanf(" %c", &op) == 1) {
        if (op == 'a' && scanf("%" SCNu64 " %" SCNu64 " %" SCNu64, &addr, &size, &owner) == 3) {
            printf("u");
            ml_mappings_unmap(&m, addr, size, print_piece, NULL);
            printf("\n%s\n", ml_mappings_add(&m, addr, size, (void *)(uintptr_t)owner) == 0 ? "ok" : "fail");
        } else if (op == 'u' && scanf("%" SCNu64 " %" SCNu64, &addr, &size) == 2) {
            printf("u");
            ml_mappings_unmap(&m, addr, size, print_piece, NULL);
            printf("\n");
        } else if (op == 'c' && scanf("%" SCNu64, &addr) == 1) {
            printf("%d\n", ml_mappings_contain(&m, addr));
        } else {
            fprintf(stderr, "mappings_check: bad command '%c'\n", op);
            return 2;
        }
    }
    ml_mappings_release(&m);
    return 0;
}
