/*
 * The listener's statements (bbt_listen.c): what its heartbeat reads of
 * the catalog, in the same transaction as the heartbeat's NOTIFY.
 */
#ifndef BBT_LISTENSQL_H
#define BBT_LISTENSQL_H

#include "bbt_lookupsql.h"

/* The schema's notifying triggers (sql/migrations/0004, 0008, 0012, 0038,
 * 0039, 0046), each on its table: two on the tokens, two on the users, one
 * on each grants table, from version 38 three on bbtoken_lookup (whose
 * rows may be written again with nothing else notifying), from version 39
 * a row trigger on each grants table (a logical replica's apply fires no
 * statement trigger), and from version 46 a third on the tokens (their
 * TRUNCATE, which bbtoken_tokens_notify, now a row trigger, no longer
 * hears).  Only these count as
 * firing: any role that may make a trigger may make one that calls
 * bbtoken_notify() too, on a table of its own, and such a trigger fires
 * for none of the changes the cache must hear of, so it must not stand in
 * for one of these that is disabled.  How many the schema has is read
 * with them, so that an upgrade made while the listener is up counts the
 * new ones from its next heartbeat; a version table without a row wants
 * all twelve (an emptied table must not excuse the newer six).
 * bbtoken_lookup is found by to_regclass: version 26 makes it, and a
 * cast of its name would fail the whole subscription on an older schema,
 * so that the listener could not say the schema is too old (BBT310) and
 * would look unable to reach PostgreSQL instead (BBT308); without the
 * table its three count none (and from version 38 that is BBT710).  The
 * other tables are there from version 1: one of them gone fails the
 * heartbeat, as it must (a restore under way). */
#define BBT_LISTEN_NAMED_SQL                                                   \
    "(tgrelid, tgname::text) IN ("                                             \
    "('bbtoken_tokens'::regclass::oid, 'bbtoken_tokens_notify'), "             \
    "('bbtoken_tokens'::regclass::oid, 'bbtoken_tokens_notify_upd'), "         \
    "('bbtoken_tokens'::regclass::oid, 'bbtoken_tokens_notify_truncate'), "    \
    "('bbtoken_users'::regclass::oid, 'bbtoken_users_notify'), "               \
    "('bbtoken_users'::regclass::oid, 'bbtoken_users_notify_upd'), "           \
    "('bbtoken_project_grants'::regclass::oid, "                               \
    "'bbtoken_project_grants_notify'), "                                       \
    "('bbtoken_repo_grants'::regclass::oid, 'bbtoken_repo_grants_notify'), "   \
    "(to_regclass('bbtoken_lookup')::oid, 'bbtoken_lookup_notify_row'), "      \
    "(to_regclass('bbtoken_lookup')::oid, 'bbtoken_lookup_notify_upd'), "      \
    "(to_regclass('bbtoken_lookup')::oid, 'bbtoken_lookup_notify_truncate'), " \
    "('bbtoken_project_grants'::regclass::oid, "                               \
    "'bbtoken_project_grants_notify_row'), "                                   \
    "('bbtoken_repo_grants'::regclass::oid, "                                  \
    "'bbtoken_repo_grants_notify_row'))"
#define BBT_LISTEN_NAMED_WANTED_SQL                                            \
    "(SELECT CASE WHEN max(version) IS NULL OR max(version) >= 46 THEN 12 "    \
    "WHEN max(version) >= 39 THEN 11 "                                         \
    "WHEN max(version) >= 38 THEN 9 ELSE 6 END FROM bbtoken_schema)"
/* The tables that decide access and the triggers that notify (with how
 * each fires), as the catalog knows them now, and how many of the named
 * ones above fire always, of how many the schema has ("10/11").  A table
 * dropped and made again, or its triggers disabled, changes what decides access
 * without a word: a restore (pg_restore --clean) loads a table's rows before it
 * makes the table's triggers; a data-only one (--disable-triggers) disables
 * them while it loads, and its ENABLE TRIGGER ALL leaves them firing for
 * ordinary sessions only.  A trigger that fires for ordinary sessions only does
 * not count: a change made by a replica session (a logical
 * subscription's apply, session_replication_role = replica) would go
 * unheard.  A trigger turned off and on again (or made again in place,
 * CREATE OR REPLACE TRIGGER) within one transaction, which no heartbeat
 * sees off, leaves its row of pg_trigger written again, and so does a
 * change of bbtoken_notify() its row of pg_proc: their xmin is part of
 * the identity.  The triggers' part as a SHA-256, so that the identity
 * has one length however many triggers call the function (any role may
 * make one on a table of its own).  Read with every heartbeat, in its
 * transaction, with how many of bbtoken_lookup's triggers fire always
 * and how many the schema makes (not part of the identity: see
 * bbt_listen_lookup_ok).  Last, how full PostgreSQL's NOTIFY queue is, in
 * billionths (bbt_nqueue.h): read before the heartbeat's own NOTIFY is
 * queued (at the COMMIT), so even a heartbeat that a full queue fails
 * brings it back.  Then the schema's version, and what
 * BBT_LISTEN_SKIPS_SQL reads, or NULL before version 59. */
#define BBT_LISTEN_TABLES_HEAD_SQL                                             \
    "SELECT 'bbtoken_tokens'::regclass::oid, 'bbtoken_users'::regclass::oid, " \
    "'bbtoken_project_grants'::regclass::oid, "                                \
    "'bbtoken_repo_grants'::regclass::oid, "                                   \
    "(SELECT count(*) FILTER (WHERE tgenabled = 'A' AND " BBT_LISTEN_NAMED_SQL \
    ") || '/' || " BBT_LISTEN_NAMED_WANTED_SQL                                 \
    " || ' ' || encode(sha256(convert_to(COALESCE(string_agg(oid::text || "    \
    "tgenabled::text || xmin::text, ',' ORDER BY oid), '') || ' ' || "         \
    "COALESCE((SELECT xmin::text FROM pg_proc WHERE oid = "                    \
    "to_regproc('bbtoken_notify')), ''), 'UTF8')), 'hex') FROM pg_trigger "    \
    "WHERE tgfoid = to_regproc('bbtoken_notify') AND tgenabled IN ('A', "      \
    "'O')), " BBT_LOOKUP_FIRING_SQL ", " BBT_LOOKUP_WANTED_SQL ", "            \
    "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint, "              \
    "round(pg_catalog.pg_notification_queue_usage() * 1000000000)::bigint, "   \
    "(SELECT max(version) FROM bbtoken_schema), "
#define BBT_LISTEN_TABLES_SQL BBT_LISTEN_TABLES_HEAD_SQL "NULL::text"
/* From version 59 a change made while PostgreSQL's NOTIFY queue is at
 * bbtoken_notify_skips.at_usage or more sends no notification and counts
 * one more skipped (sql/migrations/0059): the count is part of the
 * identity, so a change whose notification was skipped forgets every
 * entry at the first heartbeat that sees it committed.  Read from the
 * table in bbtoken_tokens's schema, where the trigger counts (its
 * TG_TABLE_SCHEMA), not one that the search_path finds first; that table
 * elsewhere, or its row gone, makes an identity that changes with every
 * heartbeat: nothing is kept past one. */
#define BBT_LISTEN_SKIPS_SCHEMA 59
#define BBT_LISTEN_SKIPS_SQL                                                   \
    BBT_LISTEN_TABLES_HEAD_SQL                                                 \
    "(SELECT COALESCE(max(s.n)::text, 'none ' || clock_timestamp()::text) "    \
    "FROM bbtoken_notify_skips s WHERE s.tableoid = (SELECT c.oid FROM "       \
    "pg_class c WHERE c.relname = 'bbtoken_notify_skips' AND c.relnamespace "  \
    "= (SELECT relnamespace FROM pg_class WHERE oid = "                        \
    "'bbtoken_tokens'::regclass)))"
#define BBT_LISTEN_TABLES_N 11
/* How a session resolves the names the statements above use: the
 * schema's version table, the tables that decide access, bbtoken_lookup,
 * and the functions its triggers and the notifying ones are found by; the
 * OID of each, or "-".  The listener's connection must resolve them as the
 * main server's pooled sessions do (bbt_lsession.h). */
#define BBT_LISTEN_NAMES_SQL                                                   \
    "concat_ws(' ', "                                                          \
    "COALESCE(to_regclass('bbtoken_schema')::oid::text, '-'), "                \
    "COALESCE(to_regclass('bbtoken_tokens')::oid::text, '-'), "                \
    "COALESCE(to_regclass('bbtoken_users')::oid::text, '-'), "                 \
    "COALESCE(to_regclass('bbtoken_project_grants')::oid::text, '-'), "        \
    "COALESCE(to_regclass('bbtoken_repo_grants')::oid::text, '-'), "           \
    "COALESCE(to_regclass('bbtoken_lookup')::oid::text, '-'), "                \
    "COALESCE(to_regproc('bbtoken_notify')::oid::text, '-'), "                 \
    "COALESCE(to_regproc('bbtoken_lookup_tokens')::oid::text, '-'))"
/* The fewest the schema has (BBT_LISTEN_NAMED_SQL, before version 38).
 * With fewer firing always than it has, a change could go unheard: the
 * cache is not believed. */
#define BBT_LISTEN_TRIGGERS_MIN 6

#endif
