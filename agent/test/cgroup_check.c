/* Test program for cgroup.c: discovers the memory cgroup from the given /proc/self/cgroup and mountinfo
 * stand-ins and prints "version<TAB>path<TAB>dir<TAB>usage<TAB>limit". */
#include <stdio.h>

#include "../src/cgroup.h"

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: cgroup_check CGROUP_FILE MOUNTINFO_FILE\n");
        return 2;
    }
    ml_cgroup cg;
    ml_cgroup_discover_from(&cg, argv[1], argv[2]);
    printf("%d\t%s\t%s\t%llu\t%llu\n", cg.version, cg.path, cg.dir, (unsigned long long)ml_cgroup_usage(&cg),
           (unsigned long long)ml_cgroup_limit(&cg));
    ml_cgroup_close(&cg);
    return 0;
}
