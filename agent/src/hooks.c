/* The hook functions. Each calls the real function through the agent's own, unpatched reference (the
 * agent's GOT is never rewritten, so `malloc` here is libc's, or whatever allocator was preloaded), and
 * records the event: frees before the real call, allocations after it, so a reused address is always
 * ordered correctly by seq. */
#include "hooks.h"

#include <alloca.h>
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "got.h"
#include "lifecycle.h"
#include "pyapi.h"
#include "record.h"
#include "service.h"
#include "sink.h"
#include "thread.h"

/* How long exec waits for a reader that takes nothing before the capture's last blocks are given up. */
#define EXEC_STALL_NS (1000u * 1000000u)

/* ── the malloc family ─────────────────────────────────────────────────────────────────────────── */

static void *hook_malloc(size_t size) {
    void *p = malloc(size);
    if (p != NULL && ml_wants_alloc(size)) ml_record_alloc((uintptr_t)p, size, ML_A_MALLOC);
    return p;
}

static void *hook_calloc(size_t n, size_t size) {
    void *p = calloc(n, size);
    if (p != NULL && ml_wants_alloc((uint64_t)n * size)) ml_record_alloc((uintptr_t)p, (uint64_t)n * size, ML_A_CALLOC);
    return p;
}

static void hook_free(void *p) {
    if (p != NULL && ml_wants_free((uintptr_t)p)) ml_record_free((uintptr_t)p, ML_D_FREE, 0, 0);
    free(p);
}

/* realloc(p, n) is FREE(p) then ALLOC(q). If the real call fails, p is still allocated: it is recorded
 * again with the size the allocator says it has (when sampling, only if it was in the sample). */
static void *hook_realloc(void *p, size_t size) {
    int record = ml_should_record();
    int freed = record && p != NULL && (!ml_sampling || ml_sampled_remove((uintptr_t)p));
    if (freed) ml_record_free((uintptr_t)p, ML_D_FREE, 0, 0);
    void *q = realloc(p, size);
    if (record) {
        if (q != NULL) {
            if (!ml_sampling || ml_sample_alloc(size)) ml_record_alloc((uintptr_t)q, size, ML_A_REALLOC);
        } else if (freed && size != 0) {
            ml_record_alloc((uintptr_t)p, malloc_usable_size(p), ML_A_REALLOC);
        }
    }
    return q;
}

static void *hook_reallocarray(void *p, size_t n, size_t size) {
    int record = ml_should_record();
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) return reallocarray(p, n, size); /* fails, p untouched */
    int freed = record && p != NULL && (!ml_sampling || ml_sampled_remove((uintptr_t)p));
    if (freed) ml_record_free((uintptr_t)p, ML_D_FREE, 0, 0);
    void *q = reallocarray(p, n, size);
    if (record) {
        if (q != NULL) {
            if (!ml_sampling || ml_sample_alloc(total)) ml_record_alloc((uintptr_t)q, total, ML_A_REALLOCARRAY);
        } else if (freed && total != 0) {
            ml_record_alloc((uintptr_t)p, malloc_usable_size(p), ML_A_REALLOCARRAY);
        }
    }
    return q;
}

static int hook_posix_memalign(void **out, size_t align, size_t size) {
    int r = posix_memalign(out, align, size);
    if (r == 0 && ml_wants_alloc(size)) ml_record_alloc((uintptr_t)*out, size, ML_A_POSIX_MEMALIGN);
    return r;
}

static void *hook_aligned_alloc(size_t align, size_t size) {
    void *p = aligned_alloc(align, size);
    if (p != NULL && ml_wants_alloc(size)) ml_record_alloc((uintptr_t)p, size, ML_A_ALIGNED_ALLOC);
    return p;
}

static void *hook_memalign(size_t align, size_t size) {
    void *p = memalign(align, size);
    if (p != NULL && ml_wants_alloc(size)) ml_record_alloc((uintptr_t)p, size, ML_A_MEMALIGN);
    return p;
}

static void *hook_valloc(size_t size) {
    void *p = valloc(size);
    if (p != NULL && ml_wants_alloc(size)) ml_record_alloc((uintptr_t)p, size, ML_A_VALLOC);
    return p;
}

static void *hook_pvalloc(size_t size) {
    void *p = pvalloc(size);
    if (p != NULL && ml_wants_alloc(size)) ml_record_alloc((uintptr_t)p, size, ML_A_PVALLOC);
    return p;
}

/* ── mappings ──────────────────────────────────────────────────────────────────────────────────── */

static void *hook_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
    void *p = mmap(addr, len, prot, flags, fd, off);
    if (p != MAP_FAILED && ml_should_record()) ml_record_alloc((uintptr_t)p, len, ML_A_MMAP);
    return p;
}

static void *hook_mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
    void *p = mmap(addr, len, prot, flags, fd, off); /* off_t is 64-bit on the platforms we support */
    if (p != MAP_FAILED && ml_should_record()) ml_record_alloc((uintptr_t)p, len, ML_A_MMAP);
    return p;
}

static int hook_munmap(void *addr, size_t len) {
    if (ml_should_record()) ml_record_free((uintptr_t)addr, ML_D_MUNMAP, 1, len);
    return munmap(addr, len);
}

/* mremap is FREE(munmap, old size) then ALLOC(mremap); a failed call leaves the old mapping. */
static void *hook_mremap(void *old, size_t old_size, size_t new_size, int flags, ...) {
    void *new_addr = NULL;
    if (flags & MREMAP_FIXED) {
        va_list ap;
        va_start(ap, flags);
        new_addr = va_arg(ap, void *);
        va_end(ap);
    }
    int record = ml_should_record();
    if (record) ml_record_free((uintptr_t)old, ML_D_MUNMAP, 1, old_size);
    void *p = mremap(old, old_size, new_size, flags, new_addr);
    if (record) {
        if (p != MAP_FAILED) {
            ml_record_alloc((uintptr_t)p, new_size, ML_A_MREMAP);
        } else {
            ml_record_alloc((uintptr_t)old, old_size, ML_A_MREMAP);
        }
    }
    return p;
}

/* ── Python's own tracking calls (numpy reports its data buffers through these) ───────────────── */

/* Not recorded when sampling: the malloc under numpy's buffer is sampled already, and a second, independent
 * decision about the same memory could not be weighed without bias (docs/sampling.md). */
static int hook_PyTraceMalloc_Track(unsigned int domain, uintptr_t ptr, size_t size) {
    int r = ml_py.PyTraceMalloc_Track != NULL ? ml_py.PyTraceMalloc_Track(domain, ptr, size) : -2;
    if (ptr != 0 && !ml_sampling && ml_should_record()) ml_record_alloc(ptr, size, ML_A_TRACEMALLOC_TRACK);
    return r;
}

static int hook_PyTraceMalloc_Untrack(unsigned int domain, uintptr_t ptr) {
    if (ptr != 0 && !ml_sampling && ml_should_record()) ml_record_free(ptr, ML_D_TRACEMALLOC_UNTRACK, 0, 0);
    return ml_py.PyTraceMalloc_Untrack != NULL ? ml_py.PyTraceMalloc_Untrack(domain, ptr) : -2;
}

/* ── loading, forking, leaving ─────────────────────────────────────────────────────────────────── */

static int hook_dlclose(void *handle) {
    int r = dlclose(handle);
    ml_got_refresh();
    return r;
}

static pid_t hook_fork(void) {
    pid_t pid = fork();
    if (pid > 0 && ml_should_record()) ml_record_fork(pid);
    return pid;
}

/* multiprocessing's children and os._exit leave through here: the trailer goes out first. A vfork child
 * shares our memory, so only the process that owns the session may write. */
__attribute__((noreturn)) static void hook__exit(int status) {
    /* Safe even in a signal handler: the agent takes every lock with the guard set, so here this thread holds none. */
    if (ml_should_record() && getpid() == ml_pid) ml_stop(ML_T__EXIT);
    _exit(status);
}

/* ── thread names ────────────────────────────────────────────────────────────────────────────────
 * A thread renamed after it started (prctl(PR_SET_NAME), pthread_setname_np: C code, ctypes through the
 * dlsym hook, Python 3.14's threading): THREAD_NAME with the seq of the change. The name recorded is the
 * kernel's (truncated to 15 bytes), read back. */

static void renamed(pid_t tid, pthread_t thread) {
    char name[16] = {0};
    if (tid != 0) {
        if (prctl(PR_GET_NAME, name, 0, 0, 0) != 0) return;
    } else if (pthread_getname_np(thread, name, sizeof name) != 0) {
        return;
    }
    name[sizeof name - 1] = 0;
    ml_thread_renamed(tid, (uint64_t)thread, name, 1);
}

/* prctl is variadic; glibc's own prctl reads four more arguments whatever the option, and so do we. */
static int hook_prctl(int option, ...) {
    va_list ap;
    va_start(ap, option);
    unsigned long a2 = va_arg(ap, unsigned long), a3 = va_arg(ap, unsigned long);
    unsigned long a4 = va_arg(ap, unsigned long), a5 = va_arg(ap, unsigned long);
    va_end(ap);
    int rc = prctl(option, a2, a3, a4, a5);
    if (rc == 0 && option == PR_SET_NAME && ml_should_record()) {
        int saved_errno = errno;
        renamed((pid_t)syscall(SYS_gettid), pthread_self());
        errno = saved_errno;
    }
    return rc;
}

static int hook_pthread_setname_np(pthread_t thread, const char *name) {
    int rc = pthread_setname_np(thread, name);
    if (rc == 0 && ml_should_record()) {
        int saved_errno = errno;
        renamed(pthread_equal(thread, pthread_self()) ? (pid_t)syscall(SYS_gettid) : 0, thread);
        errno = saved_errno;
    }
    return rc;
}

/* dlsym hands out function pointers that no GOT slot will ever hold: ctypes.CDLL(None).malloc, cffi, and
 * libraries that look their allocator up at run time. For a hooked name that resolves to the real
 * function we hand out the hook instead.
 *
 * dlsym is also where new objects are patched: dlopen itself is not hooked, because the loader looks at
 * who called it (the caller's RPATH/RUNPATH for a bare name, the caller as the new object's loader, which
 * RTLD_NEXT and RPATH inheritance follow later), and a hook would become that caller. Code of a dlopen'ed
 * object is reached through dlsym first (Python's import looks up PyInit_*, ctypes every function), so
 * patching on the first dlsym after the loader's counters moved catches it before it runs; the service
 * thread catches the rest within 10 ms. The object's constructors, and threads they start, have run by then,
 * unhooked: numpy's OpenBLAS maps its per-thread buffers there (docs/agent.md says why that stays so).
 *
 * dlsym(RTLD_NEXT, ...) answers relative to the object that called it, which it finds from its return
 * address: that call must reach the real dlsym with no frame of ours in between. The entry point below
 * jumps (never calls) either to the real dlsym or to the C part. */
void *ml_real_dlsym_ptr = (void *)&dlsym;
void *ml_hook_dlsym_c(void *handle, const char *name);
void *ml_hook_dlsym(void *handle, const char *name);

__asm__(".text\n"
        ".globl ml_hook_dlsym\n"
        ".hidden ml_hook_dlsym\n"
        ".type ml_hook_dlsym, @function\n"
        "ml_hook_dlsym:\n"
#if defined(__x86_64__)
        "    endbr64\n" /* a landing pad where indirect branch tracking is on; a no-op elsewhere */
        "    cmpq $-1, %rdi\n"
        "    jne ml_hook_dlsym_c\n"
        "    jmp *ml_real_dlsym_ptr(%rip)\n"
#elif defined(__aarch64__)
        "    cmn x0, #1\n"
        "    b.ne ml_hook_dlsym_c\n"
        "    adrp x16, ml_real_dlsym_ptr\n"
        "    ldr x16, [x16, :lo12:ml_real_dlsym_ptr]\n"
        "    br x16\n"
#endif
        ".size ml_hook_dlsym, .-ml_hook_dlsym\n");

void *ml_hook_dlsym_c(void *handle, const char *name) {
    if (ml_got_installed() && ml_got_changed()) ml_got_refresh();
    ml_got_recheck();
    void *r = dlsym(handle, name);
    if (r == NULL || name == NULL || !ml_got_installed()) return r;
    for (size_t i = 0; i < ml_hook_count; i++) {
        const ml_hook_def *h = &ml_hook_defs[i];
        if (name[0] != h->name[0] || strcmp(name, h->name) != 0) continue;
        void *real = h->real;
        if (real == NULL && strcmp(name, "PyTraceMalloc_Track") == 0) real = (void *)ml_py.PyTraceMalloc_Track;
        if (real == NULL && strcmp(name, "PyTraceMalloc_Untrack") == 0) real = (void *)ml_py.PyTraceMalloc_Untrack;
        return real != NULL && r == real ? h->hook : r;
    }
    return r;
}

/* ── exec: the process image goes away without exit handlers ─────────────────────────────────────
 * Everything recorded so far goes to the file first (the descriptor is close-on-exec; the program that
 * follows is not tracked: the bootstrap's configuration left the environment at start). If exec fails,
 * tracking simply goes on. A vfork child shares our memory and must not touch it. */

static void before_exec(void) {
    if (!ml_should_record() || getpid() != ml_pid) return;
    int saved_errno = errno;
    int guard = ml_guard_enter();
    ml_service_flush_round();
    /* The queue goes with the process image: it is written out now, waiting only while the reader takes it. */
    (void)ml_sink_drain(EXEC_STALL_NS);
    ml_guard_leave(guard);
    errno = saved_errno;
}

static int hook_execve(const char *path, char *const argv[], char *const envp[]) {
    before_exec();
    return execve(path, argv, envp);
}

static int hook_execv(const char *path, char *const argv[]) {
    before_exec();
    return execv(path, argv);
}

static int hook_execvp(const char *file, char *const argv[]) {
    before_exec();
    return execvp(file, argv);
}

static int hook_execvpe(const char *file, char *const argv[], char *const envp[]) {
    before_exec();
    return execvpe(file, argv, envp);
}

static int hook_fexecve(int fd, char *const argv[], char *const envp[]) {
    before_exec();
    return fexecve(fd, argv, envp);
}

/* execl, execlp, execle: the arguments into an array on the stack, then the v variant. */
#define COLLECT_ARGS(first, ap, argv, n)                                  \
    do {                                                                  \
        va_list count_ap;                                                 \
        va_copy(count_ap, ap);                                            \
        n = 1;                                                            \
        while (va_arg(count_ap, char *) != NULL) n++;                     \
        va_end(count_ap);                                                 \
        argv = alloca((n + 1) * sizeof(char *));                          \
        argv[0] = (char *)(first);                                        \
        for (size_t i_ = 1; i_ <= n; i_++) argv[i_] = va_arg(ap, char *); \
    } while (0)

static int hook_execl(const char *path, const char *arg, ...) {
    va_list ap;
    va_start(ap, arg);
    size_t n;
    char **argv;
    COLLECT_ARGS(arg, ap, argv, n);
    va_end(ap);
    before_exec();
    return execv(path, argv);
}

static int hook_execlp(const char *file, const char *arg, ...) {
    va_list ap;
    va_start(ap, arg);
    size_t n;
    char **argv;
    COLLECT_ARGS(arg, ap, argv, n);
    va_end(ap);
    before_exec();
    return execvp(file, argv);
}

static int hook_execle(const char *path, const char *arg, ...) {
    va_list ap;
    va_start(ap, arg);
    size_t n;
    char **argv;
    COLLECT_ARGS(arg, ap, argv, n);
    char *const *envp = va_arg(ap, char *const *);
    va_end(ap);
    before_exec();
    return execve(path, argv, envp);
}

const ml_hook_def ml_hook_defs[] = {
    {"malloc", (void *)hook_malloc, (void *)&malloc},
    {"calloc", (void *)hook_calloc, (void *)&calloc},
    {"realloc", (void *)hook_realloc, (void *)&realloc},
    {"reallocarray", (void *)hook_reallocarray, (void *)&reallocarray},
    {"free", (void *)hook_free, (void *)&free},
    {"posix_memalign", (void *)hook_posix_memalign, (void *)&posix_memalign},
    {"aligned_alloc", (void *)hook_aligned_alloc, (void *)&aligned_alloc},
    {"memalign", (void *)hook_memalign, (void *)&memalign},
    {"valloc", (void *)hook_valloc, (void *)&valloc},
    {"pvalloc", (void *)hook_pvalloc, (void *)&pvalloc},
    {"mmap", (void *)hook_mmap, (void *)&mmap},
    {"mmap64", (void *)hook_mmap64, (void *)&mmap64},
    {"munmap", (void *)hook_munmap, (void *)&munmap},
    {"mremap", (void *)hook_mremap, (void *)&mremap},
    {"dlclose", (void *)hook_dlclose, (void *)&dlclose},
    {"fork", (void *)hook_fork, (void *)&fork},
    {"execve", (void *)hook_execve, (void *)&execve},
    {"execv", (void *)hook_execv, (void *)&execv},
    {"execvp", (void *)hook_execvp, (void *)&execvp},
    {"execvpe", (void *)hook_execvpe, (void *)&execvpe},
    {"fexecve", (void *)hook_fexecve, (void *)&fexecve},
    {"execl", (void *)hook_execl, (void *)&execl},
    {"execlp", (void *)hook_execlp, (void *)&execlp},
    {"execle", (void *)hook_execle, (void *)&execle},
    {"_exit", (void *)hook__exit, (void *)&_exit},
    {"prctl", (void *)hook_prctl, (void *)&prctl},
    {"pthread_setname_np", (void *)hook_pthread_setname_np, (void *)&pthread_setname_np},
    {"PyTraceMalloc_Track", (void *)hook_PyTraceMalloc_Track, NULL},
    {"PyTraceMalloc_Untrack", (void *)hook_PyTraceMalloc_Untrack, NULL},
    {"dlsym", (void *)ml_hook_dlsym, NULL},
};
const size_t ml_hook_count = ML_ARRAY_LEN(ml_hook_defs);
