/*
 * LD_PRELOAD for httpd: the first open of a path that starts with
 * BBT_OPEN_HOLD, while BBT_OPEN_GATE names a FIFO, is made, said on
 * stderr, which is httpd's error log ("bbt-openhold: pid N holds PATH"),
 * and held until something writes a byte to that FIFO; then the
 * descriptor is returned.  What the caller will do with the file it opened
 * waits, and a test changes what is under that name meanwhile.  The first
 * BBT_OPEN_HOLD_TIMES such opens of a process (1 unless set) are held, each
 * until the FIFO is opened again, and never one after them; without the
 * FIFO, every open is as it is.
 */
#define _GNU_SOURCE
/* Its own open, not glibc's inline checks of it. */
#undef _FORTIFY_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int bbt_held;

/* How many opens a process holds: BBT_OPEN_HOLD_TIMES, else 1. */
static int bbt_times(void)
{
    const char *n = getenv("BBT_OPEN_HOLD_TIMES");

    return n && *n ? atoi(n) : 1;
}

static void *bbt_real(const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);

    if (!f) {
        abort();
    }
    return f;
}

static void bbt_hold(const char *path)
{
    static int (*real)(const char *, int, ...);
    const char *prefix = getenv("BBT_OPEN_HOLD");
    const char *gate = getenv("BBT_OPEN_GATE");
    struct stat st;
    int fd;

    if (!path || !prefix || !*prefix || !gate ||
        strncmp(path, prefix, strlen(prefix)) != 0 || stat(gate, &st) != 0 ||
        !S_ISFIFO(st.st_mode) ||
        __atomic_load_n(&bbt_held, __ATOMIC_SEQ_CST) >= bbt_times() ||
        __atomic_add_fetch(&bbt_held, 1, __ATOMIC_SEQ_CST) > bbt_times()) {
        return;
    }
    if (!real) {
        *(void **)&real = bbt_real("open");
    }
    fprintf(stderr, "bbt-openhold: pid %d holds %s\n", (int)getpid(), path);
    fflush(stderr);
    /* Let go by a byte, not by a writer's open alone: a gate's writer of
     * the hold before may not have closed yet when the next hold opens the
     * FIFO, and that open would return at once. */
    for (;;) {
        char c;
        ssize_t n;

        if ((fd = real(gate, O_RDONLY | O_CLOEXEC)) < 0) {
            break;
        }
        n = read(fd, &c, 1);
        close(fd);
        if (n != 0) {
            break;
        }
    }
}

static mode_t bbt_mode(int flags, va_list ap)
{
    /* As glibc reads it: O_TMPFILE holds O_DIRECTORY's bit. */
    return ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE)
               ? (mode_t)va_arg(ap, int)
               : 0;
}

/* Every open, made as openat (on 64-bit Linux open64 and openat64 are the
 * same calls as open and openat), and held when it is the one. */
static int bbt_openat(int dir, const char *path, int flags, mode_t mode)
{
    static int (*real)(int, const char *, int, ...);
    int fd;

    if (!real) {
        *(void **)&real = bbt_real("openat");
    }
    if ((fd = real(dir, path, flags, mode)) >= 0) {
        bbt_hold(path);
    }
    return fd;
}

/* The mode, read from the arguments after flags where they carry one. */
#define BBT_MODE_OF(flags, mode)                                               \
    do {                                                                       \
        va_list ap;                                                            \
        va_start(ap, flags);                                                   \
        mode = bbt_mode(flags, ap);                                            \
        va_end(ap);                                                            \
    } while (0)

int open(const char *path, int flags, ...)
{
    mode_t mode;

    BBT_MODE_OF(flags, mode);
    return bbt_openat(AT_FDCWD, path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
    mode_t mode;

    BBT_MODE_OF(flags, mode);
    return bbt_openat(AT_FDCWD, path, flags, mode);
}

int openat(int dir, const char *path, int flags, ...)
{
    mode_t mode;

    BBT_MODE_OF(flags, mode);
    return bbt_openat(dir, path, flags, mode);
}

int openat64(int dir, const char *path, int flags, ...)
{
    mode_t mode;

    BBT_MODE_OF(flags, mode);
    return bbt_openat(dir, path, flags, mode);
}

/* What _FORTIFY_SOURCE builds call for an open without O_CREAT. */
int __open_2(const char *path, int flags)
{
    return open(path, flags);
}

int __open64_2(const char *path, int flags)
{
    return open64(path, flags);
}
