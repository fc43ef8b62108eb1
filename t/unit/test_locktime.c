/* How long a WebDAV lock taken through the module may last. */
#include "bbt_locktime.h"
#include "tap.h"

#define M BBT_LOCKTIME_DEFAULT

int main(void)
{
    is_int(bbt_locktime(NULL, M), M,
           "no Timeout (mod_dav: infinite): the most");
    is_int(bbt_locktime("Infinite", M), M, "Infinite: the most");
    is_int(bbt_locktime("Infinite, Second-600", M), M,
           "Infinite first: the most (mod_dav takes the first)");
    is_int(bbt_locktime("Second-600", M), 600, "Second-600: as asked");
    is_int(bbt_locktime("  Second-600,  Infinite", M), 600,
           "Second-600 first: as asked");
    is_int(bbt_locktime("Second-0", M), 0, "Second-0: as asked");
    is_int(bbt_locktime("Second-3600", M), 3600, "the most: as asked");
    is_int(bbt_locktime("Second-3601", M), M, "one more: the most");
    is_int(bbt_locktime("Second-4100000000", M), M, "past 32 bits: the most");
    is_int(bbt_locktime("Second-99999999999999999999999", M), M,
           "past 64 bits: the most");
    is_int(bbt_locktime("Second--5", M), M, "a sign: the most");
    is_int(bbt_locktime("Second- 5", M), M, "a space: the most");
    is_int(bbt_locktime("Second-", M), M, "no number: the most");
    is_int(bbt_locktime("Minute-5 Second-60", M), 60,
           "an unknown word skipped, as mod_dav does");
    is_int(bbt_locktime("Minute-5", M), M, "nothing known: the most");
    is_int(bbt_locktime("", M), M, "empty: the most");
    is_int(bbt_locktime("Infinitely", M), M, "Infinite's start: the most");

    /* A section's own cap (BBTokenDAVLockMaxTimeout 120). */
    is_int(bbt_locktime("Second-3600", 120), 120, "cap 120: Second-3600 cut");
    is_int(bbt_locktime("Infinite", 120), 120, "cap 120: Infinite is the cap");
    is_int(bbt_locktime(NULL, 120), 120, "cap 120: no Timeout is the cap");
    is_int(bbt_locktime("Second-60", 120), 60, "cap 120: Second-60 as asked");
    is_int(bbt_locktime("Second-3600", 86400), 3600,
           "cap 86400: Second-3600 as asked");

    /* BBTokenDAVLockMaxTimeout's argument. */
    is_int(M, 3600, "the default cap is an hour, as before the directive");
    is_int(bbt_locktime_cap("120"), 120, "cap: 120");
    is_int(bbt_locktime_cap("1"), 1, "cap: 1, the least");
    is_int(bbt_locktime_cap("604800"), 604800, "cap: a week, the most");
    is_int(bbt_locktime_cap("0604800"), 604800, "cap: a leading zero");
    is_int(bbt_locktime_cap("604801"), -1, "cap: a week and a second refused");
    is_int(bbt_locktime_cap("0"), -1, "cap: 0 refused");
    is_int(bbt_locktime_cap("000"), -1, "cap: 000 refused");
    is_int(bbt_locktime_cap("-5"), -1, "cap: a sign refused");
    is_int(bbt_locktime_cap("+5"), -1, "cap: a plus refused");
    is_int(bbt_locktime_cap(" 5"), -1, "cap: a space refused");
    is_int(bbt_locktime_cap("5 "), -1, "cap: a trailing space refused");
    is_int(bbt_locktime_cap("5s"), -1, "cap: a unit refused");
    is_int(bbt_locktime_cap("1e3"), -1, "cap: an exponent refused");
    is_int(bbt_locktime_cap("0x10"), -1, "cap: hex refused");
    is_int(bbt_locktime_cap("Infinite"), -1, "cap: Infinite refused");
    is_int(bbt_locktime_cap(""), -1, "cap: empty refused");
    is_int(bbt_locktime_cap(NULL), -1, "cap: none refused");
    is_int(bbt_locktime_cap("18446744073709551737"), -1,
           "cap: past 64 bits (wraps to 121) refused");
    is_int(bbt_locktime_cap("99999999999999999999999999"), -1,
           "cap: many digits refused");
    return done_testing();
}
