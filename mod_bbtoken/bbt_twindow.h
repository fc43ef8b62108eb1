/*
 * The failed-login throttle's windows, as arithmetic on the monotonic
 * clock (bbt_mono.h, microseconds): a window opens with an address's first
 * failure and ends a fixed number of seconds later.  On the monotonic
 * clock no step of the wall clock ends a window early (an attacker's
 * lock-out over, its count afresh) or stretches it past what
 * BBTokenThrottleWindow says.
 *
 * Nothing here knows httpd or APR.
 */
#ifndef BBT_TWINDOW_H
#define BBT_TWINDOW_H

#include <stdint.h>

/* The end of a window of window_s seconds that opens at now; never 0,
 * which marks a free entry. */
int64_t bbt_twindow_end(int64_t now, int window_s);

/* Whether a window that ends at end (0: none) is open at now. */
int bbt_twindow_open(int64_t end, int64_t now);

/* Whole seconds from now until end, rounded up (a Retry-After that is
 * never too soon); 0 once the window has ended. */
int64_t bbt_twindow_left(int64_t end, int64_t now);

/* The first whole second (of the monotonic clock) at which a window that
 * ends at end has ended: whom the throttled-clients gauge counts is by
 * the second. */
int64_t bbt_twindow_second(int64_t end);

/* Whether a window that has ended by second sec (bbt_twindow_second) may
 * still be open at now: counted by the gauge until that second. */
int bbt_twindow_second_open(int64_t sec, int64_t now);

#endif
