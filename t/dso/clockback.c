/*
 * LD_PRELOAD for httpd: the wall clock, as gettimeofday (APR's
 * apr_time_now) and clock_gettime(CLOCK_REALTIME) give it, set back by
 * the number of seconds in the file BBT_CLOCK_BACK names (read at every
 * call, so a test moves the clock of a running httpd by writing it).  No
 * file, or no number in it: the real clock.  And CLOCK_MONOTONIC held back
 * by the seconds (a fraction too) in the file BBT_CLOCK_SLEPT names, as on
 * a host suspended that long: Linux's monotonic clock stands still while
 * the host sleeps, its CLOCK_BOOTTIME does not.  And CLOCK_BOOTTIME, by
 * which the module times its cache's heartbeat (bbt_mono.c), stopped at
 * the reading (in seconds, a fraction too, as any process of the host
 * reads that clock) in the file BBT_CLOCK_STOPPED names: no file, or no
 * number above 0 in it, the clock runs.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* The number in the file the environment variable var names, or 0. */
static double bbt_file_number(const char *var)
{
    const char *path = getenv(var);
    char buf[32];
    ssize_t n;
    int fd;

    if (!path || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        return 0;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return 0;
    }
    buf[n] = '\0';
    return strtod(buf, NULL);
}

static long long bbt_back_seconds(void)
{
    return (long long)bbt_file_number("BBT_CLOCK_BACK");
}

/* tp moved back by the seconds slept. */
static void bbt_sleep_back(struct timespec *tp)
{
    long long us = (long long)(bbt_file_number("BBT_CLOCK_SLEPT") * 1e6);
    long long t = (long long)tp->tv_sec * 1000000 + tp->tv_nsec / 1000 - us;

    tp->tv_sec = t / 1000000;
    tp->tv_nsec = (t % 1000000) * 1000;
}

/* tp at the reading the clock is stopped at, if it is. */
static void bbt_stop(struct timespec *tp)
{
    double at = bbt_file_number("BBT_CLOCK_STOPPED");

    if (at > 0) {
        tp->tv_sec = (time_t)at;
        tp->tv_nsec = (long)((at - (double)tp->tv_sec) * 1e9);
    }
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
    static int (*real)(struct timeval *restrict, void *restrict);
    int rc;

    if (!real) {
        *(void **)&real = dlsym(RTLD_NEXT, "gettimeofday");
    }
    rc = real(tv, tz);
    if (rc == 0) {
        tv->tv_sec -= bbt_back_seconds();
    }
    return rc;
}

int clock_gettime(clockid_t id, struct timespec *tp)
{
    static int (*real)(clockid_t, struct timespec *);
    int rc;

    if (!real) {
        *(void **)&real = dlsym(RTLD_NEXT, "clock_gettime");
    }
    rc = real(id, tp);
    if (rc == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE)) {
        tp->tv_sec -= bbt_back_seconds();
    } else if (rc == 0 && (id == CLOCK_MONOTONIC || id == CLOCK_MONOTONIC_RAW ||
                           id == CLOCK_MONOTONIC_COARSE)) {
        bbt_sleep_back(tp);
    } else if (rc == 0 && id == CLOCK_BOOTTIME) {
        bbt_stop(tp);
    }
    return rc;
}
