/* IMAGE and IMAGE_UNLOAD records for symbolization (images.c). */
#ifndef MEMLENS_IMAGES_H
#define MEMLENS_IMAGES_H

#include <link.h>
#include <stddef.h>
#include <stdint.h>

/* The object's path: its name, the executable's for the main program, "[vdso]" for the vDSO. */
void ml_image_path(const struct dl_phdr_info *info, char *out, size_t cap);
/* IMAGE for a loaded object (service stream). */
void ml_image_record(const struct dl_phdr_info *info);
/* IMAGE_UNLOAD for the object that was loaded at `bias`. */
void ml_image_unload_record(uintptr_t bias);

#endif
