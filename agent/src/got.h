/* ELF GOT patching: find the relocation slots of hooked symbols in every loaded object and point them at
 * the hooks; IMAGE/IMAGE_UNLOAD records for symbolization. */
#ifndef MEMLENS_GOT_H
#define MEMLENS_GOT_H

#include <stddef.h>

/* First scan of the session: IMAGE for every loaded object; patches when `patch` (always, for now).
 * Returns the number of slots patched, or -1 with err. */
int ml_got_install(char *err, size_t errlen);
/* After dlclose, on dlsym, or when the loader's counters moved: patch new objects, IMAGE/IMAGE_UNLOAD. */
void ml_got_refresh(void);
/* Cheap check for the service thread: have objects been loaded or unloaded since the last scan? */
int ml_got_changed(void);
/* Re-patches slots of objects that appeared in the last seconds if the loader overwrote them (got.c). */
void ml_got_recheck(void);
/* Restores every slot that still holds our hook; forgets the objects. */
void ml_got_uninstall(void);
/* In a fork child: the patches stay (they are in our memory now too); reset the mutex. */
void ml_got_forget_locks(void);
/* Whether the slots are patched right now (they stay patched in a fork child). */
int ml_got_installed(void);

#endif
