/*
 * The throttle's windows on the monotonic clock (bbt_twindow.c,
 * bbt_mono.c): a window's end, whether it is open, the Retry-After it
 * gives (never too soon), and the second the throttled-clients gauge
 * counts it until (never before it ends).
 */
#include <stdint.h>
#include <time.h>

#include "bbt_mono.h"
#include "bbt_twindow.h"
#include "tap.h"

#define US 1000000LL

int main(void)
{
    int64_t now = 1234 * US + 567, end, t, prev, first;
    int consistent = 1, rises = 1, i;

    end = bbt_twindow_end(now, 60);
    is_int(end - now, 60 * US, "a window of 60 s ends 60 s after it opens");
    ok(bbt_twindow_end(-60 * US, 60) != 0,
       "a window never ends at 0, which marks a free entry");
    ok(!bbt_twindow_open(0, now) && !bbt_twindow_open(0, -5 * US),
       "a free entry is no open window, whatever the time");
    ok(bbt_twindow_open(end, now), "open when it opens");
    ok(bbt_twindow_open(end, end - 1), "open until its last microsecond");
    ok(!bbt_twindow_open(end, end), "over at its end");
    ok(!bbt_twindow_open(end, end + 3600 * US), "over an hour later");

    is_int(bbt_twindow_left(end, now), 60, "60 s left when it opens");
    is_int(bbt_twindow_left(end, end - 1), 1, "a microsecond left: 1 s");
    is_int(bbt_twindow_left(end, end - US), 1, "exactly 1 s left: 1 s");
    is_int(bbt_twindow_left(end, end - US - 1), 2,
           "a microsecond over 1 s left: 2 s, never too soon");
    is_int(bbt_twindow_left(end, end), 0, "none left at its end");
    is_int(bbt_twindow_left(end, end + US), 0, "none left after it");

    is_int(bbt_twindow_second(1), 1, "ends in second 0: over by second 1");
    is_int(bbt_twindow_second(US), 1, "ends at second 1: over by it");
    is_int(bbt_twindow_second(US + 1), 2, "just after second 1: by 2");

    /* The gauge counts a window for as long as it is open, and forgets it
     * within a second of its end. */
    for (t = end - 61 * US; t < end + 3 * US; t += 250000 - 7) {
        int64_t sec = bbt_twindow_second(end);

        if (bbt_twindow_open(end, t) && !bbt_twindow_second_open(sec, t)) {
            consistent = 0;
        }
        if (t >= end + US && bbt_twindow_second_open(sec, t)) {
            consistent = 0;
        }
    }
    ok(consistent, "the gauge counts a window while open, not past a second");

    /* The clock: never back, and not the wall clock (which counts from
     * 1970, decades away from any boot's monotonic readings). */
    first = prev = bbt_mono_now();
    for (i = 0; i < 100000; i++) {
        t = bbt_mono_now();
        rises &= t >= prev;
        prev = t;
    }
    ok(first > 0, "the monotonic clock reads above 0 (%lld us)",
       (long long)first);
    ok(rises, "100000 readings never go back");
    t = (int64_t)time(NULL) * US - first;
    ok(t > 365 * 86400 * US || t < -365 * 86400 * US,
       "it is not the wall clock (%lld s apart)", (long long)(t / US));
    return done_testing();
}
