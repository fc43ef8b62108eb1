/*
 * The monotonic clock (see bbt_mono.h).
 */
#include <time.h>

#include "bbt_mono.h"

int64_t bbt_mono_now(void)
{
    struct timespec ts;

    /* Cannot fail on a system that has the clock; POSIX requires it. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
