/* Parsing the configuration: key=value lines, values escaped by the bootstrap (docs/agent.md
 * "Configuration and API"). Header fields pass through to header.c; an unknown key is an error. */
#include "config.h"

#include <string.h>

#include "common.h"
#include "format.h"
#include "mem.h"
#include "util.h"

#define VALUES_CAP ((size_t)(1u << 20))
#define SCRATCH_CAP ((size_t)(1u << 20))
#define MAX_FIELDS ((size_t)(1u << 16))

ml_config *ml_config_new(void) {
    ml_config *c = ml_mem_alloc(sizeof *c);
    uint8_t *values = ml_mem_alloc(VALUES_CAP);
    ml_config_field *fields = ml_mem_alloc(MAX_FIELDS * sizeof *fields);
    char *scratch = ml_mem_alloc(SCRATCH_CAP);
    if (c == NULL || values == NULL || fields == NULL || scratch == NULL) {
        ml_mem_free(c, sizeof *c);
        ml_mem_free(values, VALUES_CAP);
        ml_mem_free(fields, MAX_FIELDS * sizeof *fields);
        ml_mem_free(scratch, SCRATCH_CAP);
        return NULL;
    }
    ml_buf_init(&c->values, values, VALUES_CAP);
    c->fields = fields;
    c->fields_cap = MAX_FIELDS;
    c->scratch = scratch;
    c->scratch_cap = SCRATCH_CAP;
    return c;
}

void ml_config_free(ml_config *c) {
    if (c == NULL) return;
    ml_mem_free(c->values.p, VALUES_CAP);
    ml_mem_free(c->fields, MAX_FIELDS * sizeof *c->fields);
    ml_mem_free(c->scratch, SCRATCH_CAP);
    ml_mem_free(c, sizeof *c);
}

static int hex_digit(char h) {
    if (h >= '0' && h <= '9') return h - '0';
    if (h >= 'a' && h <= 'f') return h - 'a' + 10;
    if (h >= 'A' && h <= 'F') return h - 'A' + 10;
    return 0;
}

/* Undoes the bootstrap's escaping: \\ \n \r \t and \xHH. Returns the decoded length. */
static size_t unescape(const char *s, size_t n, char *out) {
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\' || i + 1 >= n) {
            out[w++] = s[i];
            continue;
        }
        char c = s[++i];
        if (c == 'n') out[w++] = '\n';
        else if (c == 'r') out[w++] = '\r';
        else if (c == 't') out[w++] = '\t';
        else if (c == 'x' && i + 2 < n) {
            int v = 0;
            for (int k = 1; k <= 2; k++) v = v * 16 + hex_digit(s[i + (size_t)k]);
            out[w++] = (char)v;
            i += 2;
        } else out[w++] = c;
    }
    out[w] = 0;
    return w;
}

/* Lists may hold empty strings (an empty argument); other fields are left out at their default value
 * (docs/capture-format.md, "Writer rules"). */
static int is_list_tag(unsigned tag) {
    return tag == ML_H_ARGV || tag == ML_H_STDLIB_DIR || tag == ML_H_SITE_PACKAGES || tag == ML_H_SYS_PATH;
}

static void header_field(ml_config *c, unsigned tag, const void *value, size_t len) {
    if (len == 0 && !is_list_tag(tag)) return;
    if (c->nfields == c->fields_cap) {
        c->values.overflow = 1;
        return;
    }
    c->fields[c->nfields++] = (ml_config_field){tag, (uint32_t)c->values.len, (uint32_t)len};
    ml_buf_bytes(&c->values, value, len);
}

void ml_config_header_int(ml_config *c, unsigned tag, uint64_t v) {
    if (v == 0) return;
    uint8_t tmp[10];
    header_field(c, tag, tmp, ml_put_varint(tmp, v));
}

void ml_config_header_str(ml_config *c, unsigned tag, const char *s) {
    header_field(c, tag, s, strlen(s));
}

static const struct {
    const char *key;
    unsigned tag;
    int integer;
} passthrough[] = {
    {"argv", ML_H_ARGV, 0},
    {"python_version", ML_H_PYTHON_VERSION, 0},
    {"python_hexversion", ML_H_PYTHON_HEXVERSION, 1},
    {"python_implementation", ML_H_PYTHON_IMPLEMENTATION, 0},
    {"python_allocator", ML_H_PYTHON_ALLOCATOR, 1},
    {"executable", ML_H_EXECUTABLE, 0},
    {"cwd", ML_H_CWD, 0},
    {"stdlib_dir", ML_H_STDLIB_DIR, 0},
    {"site_packages", ML_H_SITE_PACKAGES, 0},
    {"sys_path", ML_H_SYS_PATH, 0},
    {"script", ML_H_SCRIPT, 0},
};

static int flag_value(const char *v) {
    return strcmp(v, "1") == 0 || strcmp(v, "true") == 0 || strcmp(v, "yes") == 0;
}

int ml_config_parse(ml_config *c, const char *text, char *err, size_t errlen) {
    char *value = c->scratch;
    size_t value_cap = c->scratch_cap;
    c->fd = -1;
    c->interval_ms = 10;
    c->snapshot_stale_ms = -1;
    c->near_oom_permille = 900;
    c->census_near_oom = 1;
    c->mode = ML_MODE_RUN;
    for (const char *line = text; line != NULL && *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl != NULL ? (size_t)(nl - line) : strlen(line);
        const char *eq = memchr(line, '=', len);
        if (len > 0 && eq == NULL) {
            ml_set_err(err, errlen, "bad configuration line (no '=')", 0);
            return -1;
        }
        if (eq != NULL) {
            char key[64];
            size_t kl = (size_t)(eq - line);
            if (kl >= sizeof key) kl = sizeof key - 1;
            memcpy(key, line, kl);
            key[kl] = 0;
            size_t vlen_raw = len - (size_t)(eq + 1 - line);
            if (vlen_raw >= value_cap) {
                ml_set_err(err, errlen, "configuration value too long", 0);
                return -1;
            }
            size_t vl = unescape(eq + 1, vlen_raw, value);
            const char *vp = value;
            int known = 0;
            for (size_t i = 0; i < ML_ARRAY_LEN(passthrough); i++) {
                if (strcmp(key, passthrough[i].key) != 0) continue;
                known = 1;
                if (passthrough[i].integer) {
                    uint64_t v = ml_parse_u64(&vp);
                    ml_config_header_int(c, passthrough[i].tag, v);
                    if (passthrough[i].tag == ML_H_PYTHON_HEXVERSION) c->hexversion = (unsigned long)v;
                    if (passthrough[i].tag == ML_H_PYTHON_ALLOCATOR) c->python_allocator = (int)v;
                } else {
                    header_field(c, passthrough[i].tag, value, vl);
                }
            }
            if (known) {
            } else if (strcmp(key, "output") == 0) {
                ml_strlcpy(c->output, value, sizeof c->output);
            } else if (strcmp(key, "fd") == 0) {
                c->fd = (int)ml_parse_u64(&vp);
            } else if (strcmp(key, "overwrite") == 0) {
                c->overwrite = flag_value(value);
            } else if (strcmp(key, "memory_interval_ms") == 0) {
                c->interval_ms = (unsigned)ml_parse_u64(&vp);
            } else if (strcmp(key, "snapshot_stale_ms") == 0) {
                /* Only a test's configuration has it (memlens run and attach do not): 0, an allocating
                 * thread takes a snapshot at every step of its (docs/agent.md, "Snapshots"). */
                uint64_t v = ml_parse_u64(&vp);
                c->snapshot_stale_ms = (long)(v > 3600000 ? 3600000 : v);
            } else if (strcmp(key, "near_oom_permille") == 0) {
                c->near_oom_permille = (unsigned)ml_parse_u64(&vp);
            } else if (strcmp(key, "census_near_oom") == 0) {
                c->census_near_oom = flag_value(value);
            } else if (strcmp(key, "census_growth") == 0) {
                c->census_growth = flag_value(value);
            } else if (strcmp(key, "native") == 0) {
                if (flag_value(value)) c->options |= ML_OPTION_NATIVE;
            } else if (strcmp(key, "trace_python_allocators") == 0) {
                if (flag_value(value)) c->options |= ML_OPTION_PYTHON_ALLOCATORS;
            } else if (strcmp(key, "follow_fork") == 0) {
                if (flag_value(value)) c->options |= ML_OPTION_FOLLOW_FORK;
            } else if (strcmp(key, "aggregate") == 0) {
                if (flag_value(value)) c->options |= ML_OPTION_AGGREGATE;
            } else if (strcmp(key, "mode") == 0) {
                c->mode = strcmp(value, "attach") == 0 ? ML_MODE_ATTACH : ML_MODE_RUN;
            } else if (strcmp(key, "native_unwinder") == 0) {
                if (strcmp(value, "backtrace") == 0) c->backtrace_only = 1;
                else if (strcmp(value, "fast") != 0) {
                    ml_set_err(err, errlen, "native_unwinder must be fast or backtrace", 0);
                    return -1;
                }
            } else if (strcmp(key, "max_stack_nodes") == 0) {
                uint64_t v = ml_parse_u64(&vp);
                c->max_stack_nodes = (uint32_t)(v < 16 ? 16 : v > (1u << 22) ? (1u << 22) : v);
            } else if (strcmp(key, "queue_limit_mib") == 0) {
                uint64_t v = ml_parse_u64(&vp);
                c->queue_limit_mib = (unsigned)(v < 1 ? 1 : v > 4096 ? 4096 : v);
            } else if (strcmp(key, "gil_disabled") == 0) {
                c->gil_disabled = flag_value(value);
            } else if (strcmp(key, "free_threaded") == 0) {
                c->free_threaded = flag_value(value);
            } else if (strcmp(key, "sample_rate") == 0) {
                c->sample_rate = ml_parse_u64(&vp);
                if (c->sample_rate == 0 || c->sample_rate > ((uint64_t)1 << 40)) {
                    ml_set_err(err, errlen, "sample_rate must be from 1 to 2^40 bytes", 0);
                    return -1;
                }
            } else if (strcmp(key, "sample_exact") == 0) {
                c->sample_exact = ml_parse_u64(&vp);
            } else if (strcmp(key, "sample_seed") == 0) {
                c->sample_seed = ml_parse_u64(&vp);
            } else {
                char what[128];
                ml_strlcpy(what, "unknown configuration key: ", sizeof what);
                ml_strlcat(what, key, sizeof what);
                ml_set_err(err, errlen, what, 0);
                return -1;
            }
        }
        line = nl != NULL ? nl + 1 : NULL;
    }
    if (c->output[0] == 0 && c->fd < 0) {
        ml_set_err(err, errlen, "the configuration names no output (output= or fd=)", 0);
        return -1;
    }
    if (c->sample_rate != 0) {
        if (c->options & ML_OPTION_AGGREGATE) {
            ml_set_err(err, errlen, "sampling cannot be combined with aggregate (the aggregates keep no sizes to weigh samples with)", 0);
            return -1;
        }
        c->options |= ML_OPTION_SAMPLED;
        if (c->sample_exact == 0) c->sample_exact = c->sample_rate * 4;
    }
    if (c->values.overflow) {
        ml_set_err(err, errlen, "the header is larger than 1 MiB (argv or sys.path too long)", 0);
        return -1;
    }
    return 0;
}
