/*
 * LD_PRELOAD for httpd: while the file BBT_KEYCOPY_FAIL names exists,
 * calloc(1, n) called from mod_bbtoken.so, for n the size of a thread's
 * copy of a keymac's keys (bbt_keymac.h), fails as when memory is short;
 * every other calloc is as it is.  It is the block a thread's copy of
 * the throttle's keys would take (bbt_tls.c makes one on a thread's first
 * use): the fault a test turns on once httpd has started, to see that a
 * thread short of memory still counts every address.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bbt_keymac.h"

/* What dlsym's own callocs get before the real one is known. */
static char bbt_boot[4096];
static size_t bbt_boot_used;
static void *(*bbt_real)(size_t, size_t);
static int bbt_resolving;

static int bbt_failing(size_t n, size_t size, void *caller)
{
    const char *flag;
    Dl_info info;

    return n == 1 && size == sizeof(bbt_keymac_copy_t) &&
           (flag = getenv("BBT_KEYCOPY_FAIL")) && access(flag, F_OK) == 0 &&
           dladdr(caller, &info) && info.dli_fname &&
           strstr(info.dli_fname, "mod_bbtoken");
}

void *calloc(size_t n, size_t size)
{
    if (!bbt_real) {
        if (bbt_resolving) {
            void *p = bbt_boot + bbt_boot_used;

            bbt_boot_used += (n * size + 15) & ~(size_t)15;
            return bbt_boot_used <= sizeof(bbt_boot) ? p : NULL;
        }
        bbt_resolving = 1;
        *(void **)&bbt_real = dlsym(RTLD_NEXT, "calloc");
        bbt_resolving = 0;
        if (!bbt_real) {
            abort();
        }
    }
    if (bbt_failing(n, size, __builtin_return_address(0))) {
        errno = ENOMEM;
        return NULL;
    }
    return bbt_real(n, size);
}
