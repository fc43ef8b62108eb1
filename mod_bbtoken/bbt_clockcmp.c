/*
 * This host's clock against the database's (see bbt_clockcmp.h).
 */
#include <errno.h>
#include <stdlib.h>

#include "bbt_clockcmp.h"

/* Far beyond any clock (2^62 us is some 146,000 years), near enough to
 * zero that no difference below overflows. */
#define BBT_CLOCKCMP_MAX ((int64_t)1 << 62)

static int bbt_clockcmp_sane(int64_t us)
{
    return us > -BBT_CLOCKCMP_MAX && us < BBT_CLOCKCMP_MAX;
}

int bbt_clockcmp(int64_t sent_us, int64_t got_us, const char *db_us,
                 bbt_clockcmp_t *out)
{
    const char *p = db_us && *db_us == '-' ? db_us + 1 : db_us;
    char *end;
    long long d;

    out->behind = out->ahead = 0;
    /* Digits only (strtoll alone takes spaces and a plus sign too). */
    if (!p || *p < '0' || *p > '9' || got_us < sent_us ||
        !bbt_clockcmp_sane(sent_us) || !bbt_clockcmp_sane(got_us)) {
        return -1;
    }
    errno = 0;
    d = strtoll(db_us, &end, 10);
    if (errno != 0 || *end != '\0' || !bbt_clockcmp_sane(d)) {
        return -1;
    }
    if (d > got_us) {
        out->behind = d - got_us;
    } else if (d < sent_us) {
        out->ahead = sent_us - d;
    }
    return 0;
}
