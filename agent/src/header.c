/* The capture's file header (docs/capture-format.md "File header"): the fields the configuration passed
 * through, plus what the agent knows itself (writer, pid, host, clocks, options, platform, cgroup), sorted
 * by tag behind the fixed part, and written to the sink in one write. */
#include "header.h"

#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "common.h"
#include "encode.h"
#include "format.h"
#include "sink.h"

#define ML_WRITER_NAME "memlens-agent"
/* memlens's version, from package.json: scripts/build-agent.mjs passes it (test/agent/writer-version.test.ts). */
#ifndef ML_WRITER_VERSION
#error "ML_WRITER_VERSION is not defined: build the agent with scripts/build-agent.mjs, which takes it from package.json"
#endif
#include "util.h"

int ml_header_write(ml_config *c, ml_cgroup *cg, uint64_t wall_ns, uint64_t mono_ns, uint8_t *out, size_t cap, char *err, size_t errlen) {
    ml_config_header_str(c, ML_H_WRITER_NAME, ML_WRITER_NAME);
    ml_config_header_str(c, ML_H_WRITER_VERSION, ML_WRITER_VERSION);
    ml_config_header_int(c, ML_H_PID, (uint64_t)getpid());
    ml_config_header_int(c, ML_H_PPID, (uint64_t)getppid());
    struct utsname un;
    if (uname(&un) == 0) ml_config_header_str(c, ML_H_HOSTNAME, un.nodename);
    ml_config_header_int(c, ML_H_START_WALL_NS, wall_ns);
    ml_config_header_int(c, ML_H_START_MONO_NS, mono_ns);
    /* GC_START: the gc.callbacks callback writes one at a collection's start on every CPython, before the GC
     * record it writes at its stop, but for a young collection close to the last one on a GIL build (pygc.c,
     * ML_GC_START_GAP), and neither when it could not be installed. So a reader may keep only the frees inside
     * collections and the window after each GC record (ML_GC_THIN_WINDOW) from the first record on, not only
     * after a first GC_START (docs/capture-format.md). A header bit, not a session option: ml_options's bits
     * are the hooks' choices. */
    ml_config_header_int(c, ML_H_OPTIONS, (uint64_t)(c->options | ML_OPTION_GC_START));
#if defined(__x86_64__)
    ml_config_header_str(c, ML_H_PLATFORM, "linux-x86_64");
#elif defined(__aarch64__)
    ml_config_header_str(c, ML_H_PLATFORM, "linux-aarch64");
#endif
    ml_config_header_int(c, ML_H_PAGE_SIZE, (uint64_t)sysconf(_SC_PAGESIZE));
    ml_config_header_int(c, ML_H_CGROUP_LIMIT_BYTES, ml_cgroup_limit(cg));
    ml_config_header_int(c, ML_H_MEMORY_INTERVAL_MS, c->interval_ms);
    ml_config_header_int(c, ML_H_MAIN_TID, (uint64_t)syscall(SYS_gettid));
    ml_config_header_int(c, ML_H_MODE, (uint64_t)c->mode);
    if (cg->version != 0) ml_config_header_str(c, ML_H_CGROUP_PATH, cg->path);
    ml_config_header_int(c, ML_H_SAMPLE_RATE_BYTES, c->sample_rate);
    ml_config_header_int(c, ML_H_SAMPLE_EXACT_BYTES, c->sample_exact);
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
    /* Version 3 (addresses against slots) needs a version-3 reader, which also weighs a sampled capture's
     * allocations (options bit 8). */
    unsigned version = ML_FORMAT_VERSION;
    unsigned min_reader = ML_MIN_READER_VERSION;
    out[8] = version & 0xff;
    out[9] = version >> 8;
    out[10] = min_reader & 0xff;
    out[11] = min_reader >> 8;
    uint32_t len = (uint32_t)body.len, crc = ml_crc32(0, body.p, body.len);
    for (int i = 0; i < 4; i++) {
        out[12 + i] = (uint8_t)(len >> (8 * i));
        out[16 + i] = (uint8_t)(crc >> (8 * i));
    }
    if (ml_sink_write_header(out, ML_FILE_HEADER_FIXED_LEN + body.len) != 0) {
        ml_set_err(err, errlen, "cannot write the capture header", ml_sink_errno());
        return -1;
    }
    return 0;
}
