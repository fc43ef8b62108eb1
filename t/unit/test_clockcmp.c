/* This host's clock against the database's: what one reading proves. */
#include <stdint.h>

#include "bbt_clockcmp.h"
#include "tap.h"

static const int64_t S = 1700000000000000LL; /* this host's send */

static int cmp(int64_t got, const char *db, bbt_clockcmp_t *c)
{
    return bbt_clockcmp(S, got, db, c);
}

int main(void)
{
    bbt_clockcmp_t c;

    is_int(cmp(S + 2000, "1700000000001000", &c), 0, "in time: read");
    ok(c.behind == 0 && c.ahead == 0, "  neither behind nor ahead");

    /* The database read 3 h later than this host, 2 ms between the
     * readings: behind by at least 3 h less 2 ms, never more. */
    is_int(cmp(S + 2000, "1700010800001000", &c), 0, "3 h behind: read");
    is_int(c.behind, 10800000000LL - 1000, "  behind by at least D - G");
    is_int(c.ahead, 0, "  not ahead");
    /* Read late (an answer that waited 100 ms): less is proven. */
    cmp(S + 100000, "1700010800001000", &c);
    is_int(c.behind, 10800000000LL - 99000, "  read late: less, never more");

    is_int(cmp(S + 2000, "1699989200000000", &c), 0, "3 h ahead: read");
    is_int(c.ahead, 10800000000LL, "  ahead by at least S - D");
    is_int(c.behind, 0, "  not behind");

    is_int(cmp(S + 2000, "-5", &c), 0, "before 1970: read");
    is_int(c.ahead, S + 5, "  far ahead");
    is_int(cmp(S, "1700000000000000", &c), 0, "the same instant");
    ok(c.behind == 0 && c.ahead == 0, "  neither");

    /* Not a reading: refused, and nothing proven. */
    c.behind = c.ahead = 7;
    is_int(cmp(S + 1, "", &c), -1, "empty: refused");
    ok(c.behind == 0 && c.ahead == 0, "  nothing proven");
    is_int(cmp(S + 1, NULL, &c), -1, "NULL (SQL NULL): refused");
    is_int(cmp(S + 1, " 1700000000000000", &c), -1, "a space: refused");
    is_int(cmp(S + 1, "+1700000000000000", &c), -1, "a plus: refused");
    is_int(cmp(S + 1, "1700000000000000.5", &c), -1, "a fraction: refused");
    is_int(cmp(S + 1, "1.7e15", &c), -1, "an exponent: refused");
    is_int(cmp(S + 1, "-", &c), -1, "a sign alone: refused");
    is_int(cmp(S + 1, "--1", &c), -1, "two signs: refused");
    is_int(cmp(S + 1, "infinity", &c), -1, "infinity: refused");
    is_int(cmp(S + 1, "9223372036854775807", &c), -1,
           "the largest 64-bit number: refused (no clock)");
    is_int(cmp(S + 1, "-9223372036854775808", &c), -1, "the smallest: refused");
    is_int(cmp(S + 1, "99999999999999999999", &c), -1, "overflow: refused");
    is_int(bbt_clockcmp(S, S - 1, "1700000000000000", &c), -1,
           "this host's clock went back between its readings: refused");
    is_int(bbt_clockcmp(INT64_MIN, S, "1700000000000000", &c), -1,
           "a reading of this host's no clock gives: refused");
    return done_testing();
}
