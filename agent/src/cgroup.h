/* The memory cgroup of the process (v1 or v2): usage and limit for SNAPSHOT and the header. */
#ifndef MEMLENS_CGROUP_H
#define MEMLENS_CGROUP_H

#include <stdint.h>

typedef struct ml_cgroup {
    int version;      /* 0: none found, 1, 2 */
    char path[1024];  /* as /proc/self/cgroup names it */
    char dir[2048];   /* where its files are in this mount namespace */
    char mount[1024]; /* the hierarchy's mount point (limits are looked up to here) */
    int usage_fd;
} ml_cgroup;

/* Finds the memory cgroup; version 0 if there is none this process can read. */
void ml_cgroup_discover(ml_cgroup *cg);
/* The same from given files instead of /proc/self/cgroup and /proc/self/mountinfo (tests). */
void ml_cgroup_discover_from(ml_cgroup *cg, const char *cgroup_file, const char *mountinfo_file);
/* Current usage in bytes (cheap: one pread), or 0. */
uint64_t ml_cgroup_usage(ml_cgroup *cg);
/* The same, read through a usage file opened beforehand (cg->usage_fd): preads, nothing allocated. 0 if unknown. */
uint64_t ml_cgroup_usage_at(int usage_fd);
/* The effective limit (the smallest of the cgroup's and its ancestors'), or 0 for none. */
uint64_t ml_cgroup_limit(ml_cgroup *cg);
void ml_cgroup_close(ml_cgroup *cg);

#endif
