/*
 * This host's clock against the database's, from one reading of the
 * database's clock taken between two of this host's: what it says for
 * certain.  If the database read its clock at D, after this host's
 * reading S and before its reading G, this host's clock is at least D - G
 * behind (when positive) or at least S - D ahead: never more than it is,
 * however late the answer was read.
 *
 * Nothing here knows httpd, APR or libpq.
 */
#ifndef BBT_CLOCKCMP_H
#define BBT_CLOCKCMP_H

#include <stdint.h>

typedef struct {
    int64_t behind; /* microseconds, at least; 0: not behind */
    int64_t ahead;  /* microseconds, at least; 0: not ahead */
} bbt_clockcmp_t;

/* From this host's readings sent_us and got_us (microseconds since the
 * epoch) and the database's, db_us (its text: decimal microseconds since
 * the epoch, as the database sent it): 0 and *out, or -1 (not a reading:
 * *out zero). */
int bbt_clockcmp(int64_t sent_us, int64_t got_us, const char *db_us,
                 bbt_clockcmp_t *out);

#endif
