/* IMAGE and IMAGE_UNLOAD records (docs/capture-format.md): where each loaded object sits, its path, build
 * id and segments, so that memlens can symbolize native frames later, outside the target. */
#include "images.h"

#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "common.h"
#include "elf.h"
#include "encode.h"
#include "format.h"
#include "service_stream.h"
#include "state.h"
#include "util.h"

void ml_image_path(const struct dl_phdr_info *info, char *out, size_t cap) {
    const char *name = info->dlpi_name;
    uintptr_t vdso = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
    if (vdso != 0 && ml_elf_contains(info, vdso)) {
        ml_strlcpy(out, "[vdso]", cap);
    } else if (name == NULL || name[0] == 0) {
        ssize_t n = readlink("/proc/self/exe", out, cap - 1);
        out[n > 0 ? (size_t)n : 0] = 0;
    } else {
        ml_strlcpy(out, name, cap);
    }
}

void ml_image_record(const struct dl_phdr_info *info) {
    uint8_t mem[8192];
    char path[4096];
    ml_buf b;
    ml_buf_init(&b, mem, sizeof mem);
    ml_image_path(info, path, sizeof path);
    ml_buf_varint(&b, ml_next_seq());
    ml_buf_varint(&b, info->dlpi_addr);
    ml_buf_cstr(&b, path);
    const uint8_t *id = NULL;
    size_t idlen = ml_elf_build_id(info, &id);
    ml_buf_str(&b, id, idlen);
    size_t nload = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) nload += info->dlpi_phdr[i].p_type == PT_LOAD;
    ml_buf_varint(&b, nload);
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) continue;
        unsigned prot = (unsigned)ml_elf_segment_prot(ph);
        ml_buf_varint(&b, ph->p_vaddr);
        ml_buf_varint(&b, ph->p_memsz);
        ml_buf_varint(&b, prot);
        ml_buf_varint(&b, ph->p_offset);
    }
    if (!b.overflow) ml_service_stream_record(ML_R_IMAGE, b.p, b.len);
}

void ml_image_unload_record(uintptr_t bias) {
    uint8_t mem[32];
    ml_buf b;
    ml_buf_init(&b, mem, sizeof mem);
    ml_buf_varint(&b, ml_next_seq());
    ml_buf_varint(&b, bias);
    ml_service_stream_record(ML_R_IMAGE_UNLOAD, b.p, b.len);
}
