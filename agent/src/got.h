/* ELF GOT patching: find the relocation slots of hooked symbols in every loaded object and point them at
 * the hooks; each scan also writes IMAGE/IMAGE_UNLOAD records (images.h). */
#ifndef MEMLENS_GOT_H
#define MEMLENS_GOT_H

#include <stddef.h>

/* A symbol to hook: every relocation slot of `name` is rewritten to `hook`. */
typedef struct ml_hook_def {
    const char *name;
    void *hook;
    void *real; /* the function the hook calls (NULL: resolved at run time, or never handed out by dlsym) */
} ml_hook_def;

/* First scan of the session: IMAGE for every loaded object, and the slots of the `nhooks` symbols of
 * `hooks` (a table that lives as long as the library) patched in each. Returns the number of slots
 * patched, or -1 with err. */
int ml_got_install(const ml_hook_def *hooks, size_t nhooks, char *err, size_t errlen);
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
