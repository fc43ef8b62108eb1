/*
 * The monotonic clock (see bbt_mono.h).
 */
#include <time.h>

#include "bbt_mono.h"

/* Linux's CLOCK_MONOTONIC stands still while the host is suspended;
 * CLOCK_BOOTTIME, the same clock otherwise, counts that time too. */
#ifdef CLOCK_BOOTTIME
#define BBT_MONO_CLOCK CLOCK_BOOTTIME
#else
#define BBT_MONO_CLOCK CLOCK_MONOTONIC
#endif

int64_t bbt_mono_now(void)
{
    struct timespec ts;

    /* Cannot fail on a system that has the clock; POSIX requires
     * CLOCK_MONOTONIC, and Linux has had CLOCK_BOOTTIME since 2.6.39. */
    clock_gettime(BBT_MONO_CLOCK, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
