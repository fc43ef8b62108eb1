/*
 * The failed-login throttle's windows (see bbt_twindow.h).
 */
#include "bbt_twindow.h"

#define BBT_TWINDOW_US 1000000

int64_t bbt_twindow_end(int64_t now, int window_s)
{
    int64_t end = now + (int64_t)window_s * BBT_TWINDOW_US;

    /* The clock's zero is some point of the boot: a window cannot end
     * there, but 0 must still not read as a free entry. */
    return end != 0 ? end : 1;
}

int bbt_twindow_open(int64_t end, int64_t now)
{
    return end != 0 && now < end;
}

int64_t bbt_twindow_left(int64_t end, int64_t now)
{
    if (!bbt_twindow_open(end, now)) {
        return 0;
    }
    return (end - now + BBT_TWINDOW_US - 1) / BBT_TWINDOW_US;
}

int64_t bbt_twindow_second(int64_t end)
{
    /* Rounded up (end is positive: a reading of the monotonic clock). */
    return (end - 1) / BBT_TWINDOW_US + 1;
}

int bbt_twindow_second_open(int64_t sec, int64_t now)
{
    return sec > now / BBT_TWINDOW_US;
}
