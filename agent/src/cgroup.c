/* Finding the memory cgroup without libraries: /proc/self/cgroup names the cgroup, /proc/self/mountinfo
 * says where its hierarchy is mounted. In a container with a cgroup namespace the path is "/" and the mount
 * is the container's own view; without one, the path is relative to the hierarchy's root. */
#include "cgroup.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "mem.h"
#include "util.h"

#define NO_LIMIT_V1 (1ull << 62) /* v1 reports "no limit" as a huge page-rounded number */

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape_octal(char *s) {
    char *w = s;
    for (char *r = s; *r;) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)(((r[1] - '0') << 6) | ((r[2] - '0') << 3) | (r[3] - '0'));
            r += 4;
        } else {
            *w++ = *r++;
        }
    }
    *w = 0;
}

/* Splits the next space-separated field of *p (in place). */
static char *next_field(char **p) {
    char *s = *p;
    while (*s == ' ') s++;
    if (*s == 0) return NULL;
    char *e = s;
    while (*e != 0 && *e != ' ') e++;
    if (*e == ' ') *e++ = 0;
    *p = e;
    return s;
}

static int has_option(const char *opts, const char *name) {
    size_t n = strlen(name);
    for (const char *p = opts; p != NULL && *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0) return 1;
        p = comma != NULL ? comma + 1 : NULL;
    }
    return 0;
}

static int exists(const char *dir, const char *file) {
    char path[2300];
    ml_strlcpy(path, dir, sizeof path);
    ml_strlcat(path, "/", sizeof path);
    ml_strlcat(path, file, sizeof path);
    return access(path, R_OK) == 0;
}

void ml_cgroup_discover(ml_cgroup *cg) {
    ml_cgroup_discover_from(cg, "/proc/self/cgroup", "/proc/self/mountinfo");
}

void ml_cgroup_discover_from(ml_cgroup *cg, const char *cgroup_file, const char *mountinfo_file) {
    memset(cg, 0, sizeof *cg);
    cg->usage_fd = -1;
    size_t cap = 256 * 1024;
    char *buf = ml_mem_alloc(cap);
    if (buf == NULL) return;
    char v1_path[1024] = "", v2_path[1024] = "";
    int have_v1 = 0, have_v2 = 0;
    if (ml_read_file(cgroup_file, buf, cap) > 0) {
        for (char *line = buf; line != NULL && *line;) {
            char *nl = strchr(line, '\n');
            if (nl != NULL) *nl = 0;
            char *c1 = strchr(line, ':');
            char *c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
            if (c2 != NULL) {
                *c1 = 0;
                *c2 = 0;
                const char *controllers = c1 + 1;
                if (strcmp(line, "0") == 0 && controllers[0] == 0) {
                    ml_strlcpy(v2_path, c2 + 1, sizeof v2_path);
                    have_v2 = 1;
                } else if (has_option(controllers, "memory")) {
                    ml_strlcpy(v1_path, c2 + 1, sizeof v1_path);
                    have_v1 = 1;
                }
            }
            line = nl != NULL ? nl + 1 : NULL;
        }
    }
    if (!have_v1 && !have_v2) goto done;
    if (ml_read_file(mountinfo_file, buf, cap) <= 0) goto done;
    for (char *line = buf; line != NULL && *line;) {
        char *nl = strchr(line, '\n');
        if (nl != NULL) *nl = 0;
        /* id parent major:minor root mountpoint options [optional...] - fstype source superoptions */
        char *p = line;
        char *f[5];
        int ok = 1;
        for (int i = 0; i < 5 && ok; i++) ok = (f[i] = next_field(&p)) != NULL;
        char *dash = ok ? strstr(p, " - ") : NULL;
        if (dash != NULL) {
            char *q = dash + 3;
            char *fstype = next_field(&q);
            next_field(&q); /* source */
            char *super = next_field(&q);
            char *root = f[3], *mnt = f[4];
            unescape_octal(root);
            unescape_octal(mnt);
            int v = 0;
            const char *path = NULL;
            if (fstype != NULL && strcmp(fstype, "cgroup") == 0 && have_v1 && super != NULL && has_option(super, "memory")) {
                v = 1;
                path = v1_path;
            } else if (fstype != NULL && strcmp(fstype, "cgroup2") == 0 && have_v2 && cg->version != 1) {
                v = 2;
                path = v2_path;
            }
            if (v != 0) {
                /* The cgroup's directory: the mount point plus the path below the mount's root. */
                char dir[2048];
                size_t rl = strlen(root);
                const char *rel = path;
                if (strcmp(root, "/") != 0 && strncmp(path, root, rl) == 0 && (path[rl] == '/' || path[rl] == 0)) rel = path + rl;
                else if (strcmp(root, "/") != 0) rel = NULL; /* not below this mount's root */
                ml_strlcpy(dir, mnt, sizeof dir);
                if (rel != NULL && strcmp(rel, "/") != 0) ml_strlcat(dir, rel, sizeof dir);
                const char *usage = v == 1 ? "memory.usage_in_bytes" : "memory.current";
                if (rel == NULL || !exists(dir, usage)) {
                    /* A cgroup namespace or a container mount: the mount point is our cgroup. */
                    ml_strlcpy(dir, mnt, sizeof dir);
                }
                if (exists(dir, usage)) {
                    cg->version = v;
                    ml_strlcpy(cg->path, path, sizeof cg->path);
                    ml_strlcpy(cg->dir, dir, sizeof cg->dir);
                    ml_strlcpy(cg->mount, mnt, sizeof cg->mount);
                    char file[2300];
                    ml_strlcpy(file, dir, sizeof file);
                    ml_strlcat(file, "/", sizeof file);
                    ml_strlcat(file, usage, sizeof file);
                    if (cg->usage_fd >= 0) close(cg->usage_fd);
                    cg->usage_fd = open(file, O_RDONLY | O_CLOEXEC);
                    if (v == 1) break; /* v1 memory controller wins on hybrid systems */
                }
            }
        }
        line = nl != NULL ? nl + 1 : NULL;
    }
done:
    ml_mem_free(buf, cap);
}

uint64_t ml_cgroup_usage_at(int usage_fd) {
    if (usage_fd < 0) return 0;
    char buf[64];
    if (ml_pread_all(usage_fd, buf, sizeof buf) <= 0) return 0;
    const char *p = buf;
    return ml_parse_u64(&p);
}

uint64_t ml_cgroup_usage(ml_cgroup *cg) {
    return ml_cgroup_usage_at(cg->usage_fd);
}

static uint64_t read_limit_file(const char *dir, const char *name) {
    char path[2300], buf[64];
    ml_strlcpy(path, dir, sizeof path);
    ml_strlcat(path, "/", sizeof path);
    ml_strlcat(path, name, sizeof path);
    if (ml_read_file(path, buf, sizeof buf) <= 0) return 0;
    if (strncmp(buf, "max", 3) == 0) return 0;
    const char *p = buf;
    uint64_t v = ml_parse_u64(&p);
    if (p == buf || v >= NO_LIMIT_V1) return 0;
    return v;
}

uint64_t ml_cgroup_limit(ml_cgroup *cg) {
    if (cg->version == 0) return 0;
    uint64_t best = 0;
    if (cg->version == 1) {
        best = read_limit_file(cg->dir, "memory.limit_in_bytes");
        /* memory.stat's hierarchical_memory_limit accounts for the ancestors. */
        char buf[8192];
        char path[2300];
        ml_strlcpy(path, cg->dir, sizeof path);
        ml_strlcat(path, "/memory.stat", sizeof path);
        if (ml_read_file(path, buf, sizeof buf) > 0) {
            const char *h = strstr(buf, "hierarchical_memory_limit ");
            if (h != NULL) {
                h += strlen("hierarchical_memory_limit ");
                uint64_t v = ml_parse_u64(&h);
                if (v != 0 && v < NO_LIMIT_V1 && (best == 0 || v < best)) best = v;
            }
        }
        return best;
    }
    /* v2: the smallest memory.max from our cgroup up to the mount point. */
    char dir[2048];
    ml_strlcpy(dir, cg->dir, sizeof dir);
    size_t mlen = strlen(cg->mount);
    for (;;) {
        uint64_t v = read_limit_file(dir, "memory.max");
        if (v != 0 && (best == 0 || v < best)) best = v;
        if (strlen(dir) <= mlen) break;
        char *slash = strrchr(dir, '/');
        if (slash == NULL || (size_t)(slash - dir) < mlen) break;
        *slash = 0;
    }
    return best;
}

void ml_cgroup_close(ml_cgroup *cg) {
    if (cg->usage_fd >= 0) close(cg->usage_fd);
    cg->usage_fd = -1;
}
