/* The agent's lifecycle: configuration, the file header, start, stop, fork.
 *
 * The bootstrap calls these through ctypes.PyDLL, so the GIL is held: Python's allocator and GC hooks can
 * be installed and removed safely. Everything runs with the guard set, so the agent's own allocations (libc
 * may allocate inside pthread_create or dlopen) are never recorded. */
#include "agent.h"

#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "aggregate.h"
#include "cgroup.h"
#include "encode.h"
#include "format.h"
#include "got.h"
#include "mem.h"
#include "native.h"
#include "pyalloc.h"
#include "pyapi.h"
#include "pygc.h"
#include "pystack.h"
#include "sample.h"
#include "service.h"
#include "sink.h"
#include "thread.h"

__thread int ml_guard;
atomic_int ml_active;
int ml_options;
atomic_uint_fast64_t ml_seq;
uint64_t ml_start_mono_ns;
int ml_pid;
uint32_t ml_max_stack_nodes = ML_DEFAULT_MAX_STACK_NODES;

static pthread_mutex_t g_lifecycle = PTHREAD_MUTEX_INITIALIZER;
static uint32_t g_session;
static ml_cgroup g_cgroup;
static int g_follow_fork;
static int g_atfork_registered;
static int g_in_session; /* a session was started and not yet stopped (the flag ml_active may be off) */
static int g_forked;     /* this process is a fork child of a tracked process */

/* ── configuration ─────────────────────────────────────────────────────────────────────────────── */

typedef struct config {
    char output[4096];
    int fd;
    int overwrite;
    unsigned interval_ms;
    unsigned near_oom_permille;
    int census_near_oom;
    int census_growth;
    int options;
    int mode;
    unsigned long hexversion;
    int gil_disabled;
    uint32_t max_stack_nodes;
    int backtrace_only; /* native_unwinder=backtrace: glibc's backtrace() for every event */
    uint64_t sample_rate, sample_exact, sample_seed; /* sampling (docs/sampling.md); rate 0: every event */
    /* Header fields, in the order they were given: values in `values`, written sorted by tag (stable, so
     * repeated fields keep their order) when the header is written. */
    struct hfield {
        uint32_t tag, off, len;
    } *fields;
    size_t nfields, fields_cap;
    ml_buf values;
} config;

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
            for (int k = 1; k <= 2; k++) {
                char h = s[i + (size_t)k];
                v = v * 16 + (h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : 0);
            }
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

static void header_field(config *c, unsigned tag, const void *value, size_t len) {
    if (len == 0 && !is_list_tag(tag)) return;
    if (c->nfields == c->fields_cap) {
        c->values.overflow = 1;
        return;
    }
    c->fields[c->nfields++] = (struct hfield){tag, (uint32_t)c->values.len, (uint32_t)len};
    ml_buf_bytes(&c->values, value, len);
}

static void header_int(config *c, unsigned tag, uint64_t v) {
    if (v == 0) return;
    uint8_t tmp[10];
    header_field(c, tag, tmp, ml_put_varint(tmp, v));
}

static void header_str(config *c, unsigned tag, const char *s) {
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

static int parse_config(const char *text, config *c, char *value, size_t value_cap, char *err, size_t errlen) {
    c->fd = -1;
    c->interval_ms = 10;
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
                    header_int(c, passthrough[i].tag, v);
                    if (passthrough[i].tag == ML_H_PYTHON_HEXVERSION) c->hexversion = (unsigned long)v;
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
            } else if (strcmp(key, "gil_disabled") == 0) {
                c->gil_disabled = flag_value(value);
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

/* ── the file header ───────────────────────────────────────────────────────────────────────────── */

static int write_file_header(config *c, uint8_t *out, size_t cap, uint64_t wall_ns, char *err, size_t errlen) {
    header_str(c, ML_H_WRITER_NAME, ML_WRITER_NAME);
    header_str(c, ML_H_WRITER_VERSION, ML_WRITER_VERSION);
    header_int(c, ML_H_PID, (uint64_t)getpid());
    header_int(c, ML_H_PPID, (uint64_t)getppid());
    struct utsname un;
    if (uname(&un) == 0) header_str(c, ML_H_HOSTNAME, un.nodename);
    header_int(c, ML_H_START_WALL_NS, wall_ns);
    header_int(c, ML_H_START_MONO_NS, ml_start_mono_ns);
    header_int(c, ML_H_OPTIONS, (uint64_t)c->options);
    header_int(c, ML_H_SAMPLE_RATE_BYTES, c->sample_rate);
    header_int(c, ML_H_SAMPLE_EXACT_BYTES, c->sample_exact);
#if defined(__x86_64__)
    header_str(c, ML_H_PLATFORM, "linux-x86_64");
#elif defined(__aarch64__)
    header_str(c, ML_H_PLATFORM, "linux-aarch64");
#endif
    header_int(c, ML_H_PAGE_SIZE, (uint64_t)sysconf(_SC_PAGESIZE));
    header_int(c, ML_H_CGROUP_LIMIT_BYTES, ml_cgroup_limit(&g_cgroup));
    header_int(c, ML_H_MEMORY_INTERVAL_MS, c->interval_ms);
    header_int(c, ML_H_MAIN_TID, (uint64_t)syscall(SYS_gettid));
    header_int(c, ML_H_MODE, (uint64_t)c->mode);
    if (g_cgroup.version != 0) header_str(c, ML_H_CGROUP_PATH, g_cgroup.path);
    /* The body in tag order; the 20 fixed bytes go just before it in the same buffer: one write. */
    ml_buf body;
    ml_buf_init(&body, out + ML_FILE_HEADER_FIXED_LEN, cap - ML_FILE_HEADER_FIXED_LEN);
    for (unsigned tag = 1; tag <= ML_H_SAMPLE_EXACT_BYTES; tag++) {
        for (size_t i = 0; i < c->nfields; i++) {
            if (c->fields[i].tag != tag) continue;
            ml_buf_varint(&body, tag);
            ml_buf_str(&body, c->values.p + c->fields[i].off, c->fields[i].len);
        }
    }
    if (c->values.overflow || body.overflow || body.len > ML_MAX_HEADER_BODY_LEN) {
        ml_set_err(err, errlen, "the header is larger than 1 MiB (argv or sys.path too long)", 0);
        return -1;
    }
    memcpy(out, ML_FILE_MAGIC, 8);
    /* A sampled capture needs a reader that weighs its allocations: older ones must refuse it. */
    unsigned version = c->sample_rate != 0 ? ML_SAMPLED_FORMAT_VERSION : ML_FORMAT_VERSION;
    unsigned min_reader = c->sample_rate != 0 ? ML_SAMPLED_FORMAT_VERSION : ML_MIN_READER_VERSION;
    out[8] = version & 0xff;
    out[9] = version >> 8;
    out[10] = min_reader & 0xff;
    out[11] = min_reader >> 8;
    uint32_t len = (uint32_t)body.len, crc = ml_crc32(0, body.p, body.len);
    for (int i = 0; i < 4; i++) {
        out[12 + i] = (uint8_t)(len >> (8 * i));
        out[16 + i] = (uint8_t)(crc >> (8 * i));
    }
    if (ml_sink_write(out, ML_FILE_HEADER_FIXED_LEN + body.len) != 0) {
        ml_set_err(err, errlen, "cannot write the capture header", errno);
        return -1;
    }
    return 0;
}

/* ── records of the lifecycle ──────────────────────────────────────────────────────────────────── */

void ml_note(int kind, const char *text) {
    uint8_t mem[1024];
    ml_buf b;
    ml_buf_init(&b, mem, sizeof mem);
    ml_buf_varint(&b, (uint64_t)kind);
    ml_buf_str(&b, text, ml_utf8_prefix(text, sizeof mem - 16));
    ml_service_record(ML_R_NOTE, b.p, b.len);
}

void ml_marker(int kind, const char *label) {
    uint8_t mem[512];
    ml_buf b;
    ml_buf_init(&b, mem, sizeof mem);
    ml_buf_varint(&b, ml_next_seq());
    ml_buf_varint(&b, ml_rel_ns());
    ml_buf_varint(&b, (uint64_t)kind);
    ml_buf_str(&b, label, ml_utf8_prefix(label, 400));
    ml_service_record(ML_R_MARKER, b.p, b.len);
}

void ml_record_fork(pid_t child) {
    int saved_errno = errno;
    ml_guard = 1;
    ml_thread *t = ml_thread_current();
    if (t != NULL) {
        uint8_t mem[48];
        ml_buf b;
        ml_buf_init(&b, mem, sizeof mem);
        ml_buf_varint(&b, ml_next_seq());
        ml_buf_varint(&b, ml_rel_ns());
        ml_buf_varint(&b, (uint64_t)child);
        pthread_mutex_lock(&t->stream.lock);
        if (!t->stream.closed) ml_stream_record(&t->stream, ML_R_FORK, b.p, b.len);
        pthread_mutex_unlock(&t->stream.lock);
    }
    ml_guard = 0;
    errno = saved_errno;
}

/* ── fork ──────────────────────────────────────────────────────────────────────────────────────── */

/* In the child, right after fork (glibc runs this before fork() returns there): the capture file belongs
 * to the parent, the other threads are gone and the locks they held stay held. Tracking stops at once;
 * with --follow-fork the bootstrap starts a new session into the child's own file. The GOT slots stay
 * patched (our hooks pass through while no session is active). */
static void atfork_child(void) {
    if (!g_in_session) return;
    atomic_store(&ml_active, 0);
    g_in_session = 0;
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    g_lifecycle = fresh;
    ml_sink_forget();
    ml_service_forget();
    ml_threads_forget();
    ml_got_forget_locks();
    ml_code_registry_reset();
    ml_aggregate_forget();
    ml_sample_forget();
    ml_cgroup_close(&g_cgroup);
    ml_pid = (int)getpid();
    g_forked = 1;
}

/* ── start and stop ────────────────────────────────────────────────────────────────────────────── */

#define HEADER_CAP ((size_t)(1u << 20))
#define VALUE_CAP ((size_t)(1u << 20))
#define MAX_FIELDS ((size_t)(1u << 16))

ML_EXPORT int memlens_start(const char *config_text, char *err, size_t errlen) {
    int saved_guard = ml_guard;
    ml_guard = 1;
    int rc = -1;
    pthread_mutex_lock(&g_lifecycle);
    if (atomic_load(&ml_active) || g_in_session) {
        ml_set_err(err, errlen, "memlens is already tracking this process", 0);
        goto out;
    }
    config *c = ml_mem_alloc(sizeof *c);
    uint8_t *hmem = ml_mem_alloc(HEADER_CAP + ML_FILE_HEADER_FIXED_LEN);
    uint8_t *vmem = ml_mem_alloc(HEADER_CAP);
    struct hfield *fields = ml_mem_alloc(MAX_FIELDS * sizeof *fields);
    char *value = ml_mem_alloc(VALUE_CAP);
    if (c == NULL || hmem == NULL || vmem == NULL || fields == NULL || value == NULL) {
        ml_set_err(err, errlen, "out of memory", 0);
        goto free_out;
    }
    ml_buf_init(&c->values, vmem, HEADER_CAP);
    c->fields = fields;
    c->fields_cap = MAX_FIELDS;
    if (parse_config(config_text != NULL ? config_text : "", c, value, VALUE_CAP, err, errlen) != 0) goto free_out;

    ml_pid = (int)getpid();
    ml_options = c->options;
    ml_max_stack_nodes = c->max_stack_nodes != 0 ? c->max_stack_nodes : ML_DEFAULT_MAX_STACK_NODES;
    g_follow_fork = (c->options & ML_OPTION_FOLLOW_FORK) != 0;
    if (c->fd >= 0) {
        if (ml_sink_use_fd(c->fd, err, errlen) != 0) goto free_out;
    } else if (ml_sink_open_path(c->output, c->overwrite, err, errlen) != 0) {
        goto free_out;
    }
    ml_cgroup_discover(&g_cgroup);
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    ml_start_mono_ns = ml_now_ns();
    atomic_store(&ml_seq, 0);
    g_session++;
    if (g_session == 0) g_session = 1;
    if (write_file_header(c, hmem, HEADER_CAP + ML_FILE_HEADER_FIXED_LEN, (uint64_t)wall.tv_sec * 1000000000u + (uint64_t)wall.tv_nsec, err, errlen) != 0) goto close_out;
    if (ml_service_begin() != 0 || ml_threads_begin(g_session) != 0 || ((c->options & ML_OPTION_AGGREGATE) && ml_aggregate_begin() != 0) ||
        (c->sample_rate != 0 && ml_sample_begin(c->sample_rate, c->sample_exact, c->sample_seed) != 0)) {
        ml_set_err(err, errlen, "out of memory", 0);
        goto close_out;
    }

    char why[256] = "";
    if (ml_pyapi_init(why, sizeof why) != 0) {
        char text[300];
        ml_strlcpy(text, "the Python C API is not reachable; no GC records, no Python allocator hooks: ", sizeof text);
        ml_strlcat(text, why, sizeof text);
        ml_note(ML_N_WARNING, text);
    }
    why[0] = 0;
    if (ml_pystack_init(c->hexversion, why, sizeof why) != 0) {
        char text[300];
        ml_strlcpy(text, "allocations are recorded without Python stacks: ", sizeof text);
        ml_strlcat(text, why, sizeof text);
        ml_note(ML_N_NOT_TRACKED, text);
    }
    if (c->options & ML_OPTION_NATIVE) ml_native_init(!c->backtrace_only);
    if (!g_atfork_registered) {
        pthread_atfork(NULL, NULL, atfork_child);
        g_atfork_registered = 1;
    }
    if (g_forked) {
        ml_note(ML_N_INFO, "this capture starts in a forked child: memory it inherited from its parent is not in it");
    }
    ml_got_install(err, errlen);
    g_in_session = 1;
    atomic_store(&ml_active, 1);
    if (c->options & ML_OPTION_PYTHON_ALLOCATORS) {
        why[0] = 0;
        if (ml_pyalloc_install(c->gil_disabled, why, sizeof why) != 0) {
            char text[300];
            ml_strlcpy(text, "Python allocators are not traced: ", sizeof text);
            ml_strlcat(text, why, sizeof text);
            ml_note(ML_N_WARNING, text);
        }
    }
    ml_pygc_install();
    ml_marker(ML_M_TRACKING_STARTED, "");
    ml_service_set_near_oom(c->near_oom_permille);
    ml_service_set_census(c->census_near_oom, c->census_growth);
    if (ml_service_start(c->interval_ms, &g_cgroup, err, errlen) != 0) {
        ml_guard = 1;
        atomic_store(&ml_active, 0);
        g_in_session = 0;
        ml_pyalloc_uninstall();
        ml_pygc_uninstall();
        ml_got_uninstall();
        ml_threads_close_all();
        ml_service_close();
        ml_sample_end();
        goto close_out;
    }
    rc = 0;
    goto free_out;
close_out:
    ml_sink_close();
free_out:
    ml_mem_free(c, sizeof *c);
    ml_mem_free(hmem, HEADER_CAP + ML_FILE_HEADER_FIXED_LEN);
    ml_mem_free(vmem, HEADER_CAP);
    ml_mem_free(fields, MAX_FIELDS * sizeof *fields);
    ml_mem_free(value, VALUE_CAP);
out:
    pthread_mutex_unlock(&g_lifecycle);
    ml_guard = saved_guard;
    return rc;
}

static void write_trailer(int reason) {
    ml_thread_totals tot;
    ml_threads_totals(&tot);
    if (ml_sampling) {
        uint64_t live, cap, dropped;
        ml_sample_stats(&live, &cap, &dropped);
        tot.dropped += dropped;
    }
    uint8_t mem[96];
    ml_buf b;
    ml_buf_init(&b, mem, sizeof mem);
    ml_buf_varint(&b, ml_next_seq());
    ml_buf_varint(&b, ml_rel_ns());
    ml_buf_varint(&b, (uint64_t)reason);
    ml_buf_varint(&b, tot.allocations);
    ml_buf_varint(&b, tot.frees);
    ml_buf_varint(&b, tot.bytes_allocated);
    ml_buf_varint(&b, tot.dropped);
    ml_buf_varint(&b, ml_mem_total());
    ml_service_record(ML_R_TRAILER, b.p, b.len);
}

void ml_stop(int reason) {
    int saved_guard = ml_guard;
    ml_guard = 1;
    pthread_mutex_lock(&g_lifecycle);
    if (g_in_session) {
        atomic_store(&ml_active, 0);
        g_in_session = 0;
        if (reason != ML_T__EXIT) {
            /* Leaving for good through _exit: nobody will call the hooks again, and the GIL may not be
             * held; otherwise put everything back. */
            ml_pyalloc_uninstall();
            ml_pygc_uninstall();
            ml_got_uninstall();
        }
        ml_service_stop();
        ml_threads_close_all();
        if (ml_options & ML_OPTION_AGGREGATE) {
            /* The last checkpoint: every event happened (the streams are closed). */
            ml_aggregate_checkpoint();
            ml_aggregate_end();
        }
        ml_service_agent_stats();
        ml_marker(ML_M_TRACKING_STOPPED, "");
        write_trailer(reason);
        ml_sample_end();
        ml_service_close();
        ml_sink_close();
        ml_code_registry_reset();
        ml_cgroup_close(&g_cgroup);
    }
    pthread_mutex_unlock(&g_lifecycle);
    ml_guard = saved_guard;
}

ML_EXPORT int memlens_stop(void) {
    if (!g_in_session) return -1;
    ml_stop(ML_T_EXIT);
    return 0;
}

ML_EXPORT int memlens_active(void) {
    return atomic_load(&ml_active) && g_in_session;
}

ML_EXPORT void memlens_thread_name(unsigned long tid, const char *name) {
    if (!g_in_session || name == NULL) return;
    int saved_guard = ml_guard;
    ml_guard = 1;
    ml_threads_name((pid_t)tid, name);
    ml_guard = saved_guard;
}

/* While on, the calling thread's allocations are not recorded: memlens's own Python code that runs after
 * tracking started in an attached process (naming threads, reporting its status). */
ML_EXPORT void memlens_quiet(int on) {
    ml_guard = on ? 1 : 0;
}

ML_EXPORT void memlens_hide_code(const void *code) {
    ml_pystack_hide_code(code);
}

ML_EXPORT void memlens_gc_state_changed(void) {
    if (!g_in_session) return;
    int saved_guard = ml_guard;
    ml_guard = 1;
    ml_pygc_check_state();
    ml_guard = saved_guard;
}
