/* ELF GOT patching without LD_PRELOAD (docs/agent.md "Hooking without LD_PRELOAD").
 *
 * For each loaded object (but the dynamic loader, the vDSO and the agent itself) we read PT_DYNAMIC (elf.c):
 * the symbol and string tables and the relocation tables DT_JMPREL (PLT slots), DT_RELA and DT_REL (GOT
 * entries of -fno-plt code, function pointers stored in data). A relocation whose symbol is a hooked name
 * gets its slot rewritten with the hook's address; the old value is kept for restore. Every slot write
 * happens inside a dl_iterate_phdr callback, while the loader's lock keeps the object from being
 * unloaded under us. Each scan also writes IMAGE/IMAGE_UNLOAD records (images.c). */
#include "got.h"

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common.h"
#include "elf.h"
#include "images.h"
#include "mem.h"
#include "service_stream.h"
#include "state.h"
#include "util.h"

#if defined(__x86_64__)
#define ML_R_JUMP_SLOT R_X86_64_JUMP_SLOT
#define ML_R_GLOB_DAT R_X86_64_GLOB_DAT
#define ML_R_ABS64 R_X86_64_64
#elif defined(__aarch64__)
#define ML_R_JUMP_SLOT R_AARCH64_JUMP_SLOT
#define ML_R_GLOB_DAT R_AARCH64_GLOB_DAT
#define ML_R_ABS64 R_AARCH64_ABS64
#else
#error "memlens's agent supports x86-64 and aarch64 Linux"
#endif

#define ELF_R_SYM(i) ELF64_R_SYM(i)
#define ELF_R_TYPE(i) ELF64_R_TYPE(i)

typedef struct ml_patch {
    void **slot;
    void *orig;
    void *hook;
} ml_patch;

typedef struct ml_obj {
    uintptr_t bias;
    const void *phdr; /* with bias, identifies one load of one object */
    struct ml_obj *next;
    ml_patch *patches;
    size_t npatches;
    int seen;
    uint64_t young_until_ns; /* see ml_got_recheck */
} ml_obj;

static pthread_mutex_t g_got_lock = PTHREAD_MUTEX_INITIALIZER;
static ml_obj *g_objs;
static ml_arena g_arena;
static int g_installed;
static unsigned long long g_adds = ~0ull, g_subs = ~0ull;
static size_t g_page;
static const ml_hook_def *g_hooks; /* the table ml_got_install was given (hooks.c's) */
static size_t g_nhooks;
/* Until then some object is young: patched so recently that the loader may still have been relocating it. */
static _Atomic uint64_t g_young_until_ns;
#define YOUNG_NS (2000000000ull)

/* ── which objects ─────────────────────────────────────────────────────────────────────────────── */

/* The dynamic loader, the vDSO and the agent are never patched. */
static int must_skip(const struct dl_phdr_info *info) {
    uintptr_t vdso = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
    if (vdso != 0 && ml_elf_contains(info, vdso)) return 1;
    uintptr_t base = (uintptr_t)getauxval(AT_BASE);
    if (base != 0 && ml_elf_contains(info, base)) return 1;
    if (ml_elf_contains(info, (uintptr_t)&ml_got_install)) return 1;
    return 0;
}

static ml_obj *find_obj(uintptr_t bias, const void *phdr) {
    for (ml_obj *o = g_objs; o != NULL; o = o->next) {
        if (o->bias == bias && o->phdr == phdr) return o;
    }
    return NULL;
}

/* ── patching ──────────────────────────────────────────────────────────────────────────────────── */

/* Our own memory through /proc/self/mem: the kernel writes there like a debugger does, through page
 * protections, without changing them. That matters: dl_iterate_phdr shows an object while dlopen (in
 * another thread) may still be relocating it, with its RELRO pages still writable; making such a page
 * read-only again after our write, as the mprotect way does, had the loader's next relocation fault
 * (seen: numpy's import crashing under --native). Reopened in a forked child: an inherited descriptor
 * would write into the parent. */
static int g_mem_fd = -1;
static pid_t g_mem_pid;

static int write_via_proc(void **slot, void *v) {
    pid_t pid = getpid();
    if (g_mem_fd < 0 || g_mem_pid != pid) {
        if (g_mem_fd >= 0) close(g_mem_fd);
        g_mem_fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
        g_mem_pid = pid;
        if (g_mem_fd < 0) return -1;
    }
    return pwrite(g_mem_fd, &v, sizeof v, (off_t)(uintptr_t)slot) == (ssize_t)sizeof v ? 0 : -1;
}

/* Writes v into *slot (callers hold g_got_lock). */
static int write_slot(const struct dl_phdr_info *info, void **slot, void *v) {
    if (write_via_proc(slot, v) == 0) return 0;
    /* A kernel that refuses forced writes to /proc/self/mem (proc_mem.force_override=never): make the page
     * writable for the moment if the loader protected it. */
    int prot = ml_elf_page_prot(info, (uintptr_t)slot, g_page);
    if (!(prot & PROT_WRITE)) {
        void *page = (void *)((uintptr_t)slot & ~(g_page - 1));
        size_t len = ((uintptr_t)slot + sizeof(void *) - (uintptr_t)page + g_page - 1) & ~(g_page - 1);
        if (mprotect(page, len, prot | PROT_WRITE) != 0) return -1;
        __atomic_store_n(slot, v, __ATOMIC_RELEASE);
        mprotect(page, len, prot);
        return 0;
    }
    __atomic_store_n(slot, v, __ATOMIC_RELEASE);
    return 0;
}

static const ml_hook_def *hook_for(const char *name) {
    if (name == NULL || name[0] == 0) return NULL;
    for (size_t i = 0; i < g_nhooks; i++) {
        if (name[0] == g_hooks[i].name[0] && strcmp(name, g_hooks[i].name) == 0) return &g_hooks[i];
    }
    return NULL;
}

typedef struct patch_list {
    ml_patch *items;
    size_t n, cap;
} patch_list;

static int patch_push(patch_list *l, void **slot, void *orig, void *hook) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        ml_patch *items = ml_mem_alloc(cap * sizeof *items);
        if (items == NULL) return -1;
        if (l->n > 0) memcpy(items, l->items, l->n * sizeof *items);
        ml_mem_free(l->items, l->cap * sizeof *items);
        l->items = items;
        l->cap = cap;
    }
    l->items[l->n++] = (ml_patch){slot, orig, hook};
    return 0;
}

/* One relocation: patch its slot if its symbol is hooked and the slot holds what we expect. */
static void consider(const struct dl_phdr_info *info, const ml_dyninfo *d, uintptr_t offset, uint64_t rinfo, int64_t addend, int has_addend,
                     patch_list *out) {
    unsigned type = (unsigned)ELF_R_TYPE(rinfo);
    if (type != ML_R_JUMP_SLOT && type != ML_R_GLOB_DAT && type != ML_R_ABS64) return;
    size_t symidx = ELF_R_SYM(rinfo);
    if (symidx == 0) return;
    const ml_hook_def *h = hook_for(ml_elf_sym_name(d, symidx));
    if (h == NULL) return;
    void **slot = (void **)(d->bias + offset);
    void *cur = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (cur == h->hook) return; /* listed twice (DT_RELA overlapping DT_JMPREL), or already ours */
    if (type == ML_R_ABS64) {
        /* A function pointer stored in data: only a plain S + 0 that holds the real function. */
        if (has_addend && addend != 0) return;
        if (!has_addend && cur != dlsym(RTLD_DEFAULT, h->name)) return;
    }
    if (write_slot(info, slot, h->hook) != 0) return;
    if (patch_push(out, slot, cur, h->hook) != 0) {
        write_slot(info, slot, cur);
    }
}

static void patch_object(const struct dl_phdr_info *info, const ml_dyninfo *d, patch_list *out) {
    if (d->jmprel != NULL) {
        if (d->pltrel == DT_RELA) {
            const ElfW(Rela) *r = d->jmprel;
            for (size_t i = 0; i < d->pltrelsz / sizeof *r; i++) consider(info, d, r[i].r_offset, r[i].r_info, r[i].r_addend, 1, out);
        } else {
            const ElfW(Rel) *r = d->jmprel;
            for (size_t i = 0; i < d->pltrelsz / sizeof *r; i++) consider(info, d, r[i].r_offset, r[i].r_info, 0, 0, out);
        }
    }
    if (d->rela != NULL && d->relaent != 0) {
        for (size_t off = 0; off + d->relaent <= d->relasz; off += d->relaent) {
            const ElfW(Rela) *r = (const ElfW(Rela) *)((const char *)d->rela + off);
            consider(info, d, r->r_offset, r->r_info, r->r_addend, 1, out);
        }
    }
    if (d->rel != NULL && d->relent != 0) {
        for (size_t off = 0; off + d->relent <= d->relsz; off += d->relent) {
            const ElfW(Rel) *r = (const ElfW(Rel) *)((const char *)d->rel + off);
            consider(info, d, r->r_offset, r->r_info, 0, 0, out);
        }
    }
}

/* An object with an exported malloc that is not the one everybody else uses allocates where we cannot
 * see it: say so. */
static void note_own_malloc(const struct dl_phdr_info *info, const ml_dyninfo *d) {
    const ElfW(Sym) *sym = ml_elf_find_defined(d, "malloc");
    if (sym == NULL) return;
    void *def = (void *)(d->bias + sym->st_value);
    if (def == dlsym(RTLD_DEFAULT, "malloc")) return;
    char path[4096], text[4300];
    ml_image_path(info, path, sizeof path);
    ml_strlcpy(text, path, sizeof text);
    ml_strlcat(text, " defines its own malloc: allocations it makes through it are not tracked", sizeof text);
    ml_note(ML_N_NOT_TRACKED, text);
}

/* ── scans ─────────────────────────────────────────────────────────────────────────────────────── */

typedef struct scan_ctx {
    int patch;          /* patch new objects */
    int images_for_all; /* IMAGE for known objects too (a new capture file after fork) */
    size_t patched;
} scan_ctx;

static int scan_cb(struct dl_phdr_info *info, size_t size, void *arg) {
    (void)size;
    scan_ctx *ctx = arg;
    ml_obj *o = find_obj(info->dlpi_addr, info->dlpi_phdr);
    if (o != NULL) {
        o->seen = 1;
        if (ctx->images_for_all) ml_image_record(info);
        return 0;
    }
    o = ml_arena_alloc(&g_arena, sizeof *o);
    if (o == NULL) return 0;
    memset(o, 0, sizeof *o);
    o->bias = info->dlpi_addr;
    o->phdr = info->dlpi_phdr;
    o->seen = 1;
    o->young_until_ns = ml_now_ns() + YOUNG_NS;
    if (o->young_until_ns > atomic_load(&g_young_until_ns)) atomic_store(&g_young_until_ns, o->young_until_ns);
    o->next = g_objs;
    g_objs = o;
    ml_image_record(info);
    if (!ctx->patch || must_skip(info)) return 0;
    ml_dyninfo d;
    if (ml_elf_read_dynamic(info, &d) != 0) return 0;
    patch_list l = {0};
    patch_object(info, &d, &l);
    o->patches = l.items;
    o->npatches = l.n;
    ctx->patched += l.n;
    note_own_malloc(info, &d);
    return 0;
}

static int counters_cb(struct dl_phdr_info *info, size_t size, void *arg) {
    (void)size;
    unsigned long long *c = arg;
    c[0] = info->dlpi_adds;
    c[1] = info->dlpi_subs;
    return 1;
}

/* Caller holds g_got_lock and the guard. */
static size_t scan(int images_for_all) {
    for (ml_obj *o = g_objs; o != NULL; o = o->next) o->seen = 0;
    scan_ctx ctx = {1, images_for_all, 0};
    dl_iterate_phdr(scan_cb, &ctx);
    ml_obj **link = &g_objs;
    while (*link != NULL) {
        ml_obj *o = *link;
        if (o->seen) {
            link = &o->next;
            continue;
        }
        /* Unloaded: its slots went with it. */
        ml_image_unload_record(o->bias);
        ml_mem_free(o->patches, o->npatches * sizeof *o->patches);
        *link = o->next;
    }
    unsigned long long c[2] = {0, 0};
    dl_iterate_phdr(counters_cb, c);
    g_adds = c[0];
    g_subs = c[1];
    return ctx.patched;
}

int ml_got_install(const ml_hook_def *hooks, size_t nhooks, char *err, size_t errlen) {
    (void)err;
    (void)errlen;
    g_page = (size_t)sysconf(_SC_PAGESIZE);
    pthread_mutex_lock(&g_got_lock);
    g_hooks = hooks;
    g_nhooks = nhooks;
    size_t n = scan(g_installed);
    g_installed = 1;
    pthread_mutex_unlock(&g_got_lock);
    return (int)n;
}

void ml_got_refresh(void) {
    if (!g_installed || !atomic_load(&ml_active)) return;
    int saved_guard = ml_guard_enter();
    int saved_errno = errno;
    pthread_mutex_lock(&g_got_lock);
    if (g_installed) scan(0);
    pthread_mutex_unlock(&g_got_lock);
    ml_guard_leave(saved_guard);
    errno = saved_errno;
}

/* dl_iterate_phdr lists an object as soon as it is mapped, while dlopen may still be applying its
 * relocations: a slot patched then is overwritten by the loader a moment later, and the object would run
 * unhooked (seen as numpy's buffers missing under load, when the service thread's scan came first). So for
 * a while after an object appears, its slots are checked again and re-patched if the loader wrote them. */
static int recheck_cb(struct dl_phdr_info *info, size_t size, void *arg) {
    (void)size;
    uint64_t now = *(uint64_t *)arg;
    ml_obj *o = find_obj(info->dlpi_addr, info->dlpi_phdr);
    if (o == NULL || o->young_until_ns < now) return 0;
    for (size_t i = 0; i < o->npatches; i++) {
        ml_patch *p = &o->patches[i];
        void *cur = __atomic_load_n(p->slot, __ATOMIC_ACQUIRE);
        if (cur == p->hook) continue;
        p->orig = cur; /* what the loader resolved: what a restore must put back */
        write_slot(info, p->slot, p->hook);
    }
    return 0;
}

void ml_got_recheck(void) {
    uint64_t now = ml_now_ns();
    if (!g_installed || now > atomic_load(&g_young_until_ns) || !atomic_load(&ml_active)) return;
    int saved_guard = ml_guard_enter();
    int saved_errno = errno;
    pthread_mutex_lock(&g_got_lock);
    if (g_installed) dl_iterate_phdr(recheck_cb, &now);
    pthread_mutex_unlock(&g_got_lock);
    ml_guard_leave(saved_guard);
    errno = saved_errno;
}

int ml_got_changed(void) {
    unsigned long long c[2] = {0, 0};
    dl_iterate_phdr(counters_cb, c);
    return c[0] != g_adds || c[1] != g_subs;
}

/* Whether `v`, read from a slot of the object, is a value the loader had not relocated yet: null, or an
 * address inside the object's own link-time range (a lazy PLT slot holds its stub's unrelocated address
 * until dlopen adds the load bias). A scan can read a slot of an object that dlopen is still relocating in
 * another thread, and the loader's relocation can land between that read and our write, so the saved
 * original is the unrelocated value (seen: libcrypto's malloc slot restored to 0xc78e6, the process
 * crashing in OPENSSL_cleanup at exit, about once in 200 runs of numpy_work). */
static int unrelocated(const struct dl_phdr_info *info, const void *v) {
    uintptr_t a = (uintptr_t)v;
    if (a == 0) return 1;
    if (info->dlpi_addr == 0) return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && a >= ph->p_vaddr && a < ph->p_vaddr + ph->p_memsz) return 1;
    }
    return 0;
}

static int restore_cb(struct dl_phdr_info *info, size_t size, void *arg) {
    (void)size;
    (void)arg;
    ml_obj *o = find_obj(info->dlpi_addr, info->dlpi_phdr);
    if (o == NULL) return 0;
    for (size_t i = 0; i < o->npatches; i++) {
        ml_patch *p = &o->patches[i];
        /* Only a slot that still holds our hook: the program may have stored something else since. An
         * original that was read before the loader relocated it is not put back: the hook stays, and it
         * only calls the real function once tracking stopped (the agent is never unloaded). */
        if (__atomic_load_n(p->slot, __ATOMIC_ACQUIRE) == p->hook && !unrelocated(info, p->orig)) write_slot(info, p->slot, p->orig);
    }
    return 0;
}

void ml_got_uninstall(void) {
    pthread_mutex_lock(&g_got_lock);
    if (g_installed) {
        dl_iterate_phdr(restore_cb, NULL);
        for (ml_obj *o = g_objs; o != NULL; o = o->next) ml_mem_free(o->patches, o->npatches * sizeof *o->patches);
        g_objs = NULL;
        ml_arena_release(&g_arena);
        g_installed = 0;
    }
    pthread_mutex_unlock(&g_got_lock);
}

void ml_got_forget_locks(void) {
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    g_got_lock = fresh;
}

int ml_got_installed(void) {
    return g_installed;
}
