/*
 * The monotonic clock: for spans, deadlines and windows, which no step of
 * the wall clock (an NTP step, an administrator's date, a VM resumed) may
 * end early or stretch.  APR has none; CLOCK_MONOTONIC is POSIX and
 * system-wide, so a reading one process of httpd writes to shared memory
 * means the same to every other on the host.  It counts from an unspecified
 * point of this boot: never shown to people, never kept past a reboot.
 * Where there is CLOCK_BOOTTIME (Linux) it is that one, which also counts
 * the time the host was suspended: a heartbeat published before a sleep
 * must not still look fresh after it, with whatever changed meanwhile
 * unheard of.
 *
 * Nothing here knows httpd or APR.
 */
#ifndef BBT_MONO_H
#define BBT_MONO_H

#include <stdint.h>

/* Microseconds on the monotonic clock. */
int64_t bbt_mono_now(void);

#endif
