/* Garbage collections (GC records) through a C function in gc.callbacks, and the collector's settings
 * (GC_STATE). Called with the GIL held. */
#ifndef MEMLENS_PYGC_H
#define MEMLENS_PYGC_H

/* free_threaded: a Py_GIL_DISABLED build (every collection then gets its GC_START). */
void ml_pygc_install(int free_threaded);
void ml_pygc_uninstall(void);
/* Writes GC_STATE if enabled/frozen/thresholds changed since the last one. */
void ml_pygc_check_state(void);

#endif
