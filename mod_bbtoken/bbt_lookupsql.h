/*
 * The triggers that keep bbtoken_lookup (sql/migrations/0026, 0043),
 * as httpd (bbt_schema.c, bbt_listen.c) and `bbtoken db check` find them
 * in the catalog.  No httpd, APR or libpq here: the CLI includes it too.
 */
#ifndef BBT_LOOKUPSQL_H
#define BBT_LOOKUPSQL_H

/* They are the triggers that call one of these five functions: on the
 * tokens, an insert's, an update's, a delete's and a truncate's; on the
 * users, an update's and, from version 43, a delete's; on each grants
 * table the tokens' four. */
#define BBT_LOOKUP_TRIGGER_WHERE                                               \
    "tgfoid IN (to_regproc('bbtoken_lookup_tokens'), "                         \
    "to_regproc('bbtoken_lookup_users_upd'), "                                 \
    "to_regproc('bbtoken_lookup_users_del'), "                                 \
    "to_regproc('bbtoken_lookup_grants'), "                                    \
    "to_regproc('bbtoken_lookup_rebuild'))"

/* How many the schema makes, by its version: read with the count below,
 * so that what is wanted is the database's, whichever release reads it
 * (an upgrade made while httpd runs counts the new one from then on).  A
 * version table without a row wants them all: an emptied table must not
 * excuse triggers the schema has. */
#define BBT_LOOKUP_WANTED_SQL                                                  \
    "(SELECT CASE WHEN max(version) IS NULL OR max(version) >= 43 THEN 14 "    \
    "ELSE 13 END FROM bbtoken_schema)"

/* One value: how many of them fire always (ENABLE ALWAYS, tgenabled 'A',
 * as the schema makes them), or -1 on a schema without the table (before
 * version 26), where there is nothing to keep.  A trigger disabled, or
 * enabled for ordinary sessions only (what a data-only restore's ENABLE
 * TRIGGER ALL leaves), is not counted. */
#define BBT_LOOKUP_FIRING_SQL                                                  \
    "(SELECT CASE WHEN to_regproc('bbtoken_lookup_tokens') IS NULL "           \
    "THEN -1 ELSE count(*) END FROM pg_trigger WHERE tgenabled = 'A' "         \
    "AND " BBT_LOOKUP_TRIGGER_WHERE ")"

#endif
