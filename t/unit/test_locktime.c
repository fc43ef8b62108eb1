/* How long a WebDAV lock taken through the module may last. */
#include "bbt_locktime.h"
#include "tap.h"

#define M BBT_LOCKTIME_MAX

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
    return done_testing();
}
