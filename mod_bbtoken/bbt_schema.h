/*
 * The database's schema version against the module's (bbt_schema.c).
 *
 * The module works on any schema from BBT_SCHEMA_MIN on, but each later
 * migration adds a rule the database enforces (README, Upgrading): an
 * administrator who upgraded the package and not the database is told so,
 * once per start, and how to catch up.
 */
#ifndef BBT_SCHEMA_H
#define BBT_SCHEMA_H

#include "httpd.h"

/* The oldest schema the module's statements run on: the lookup reads
 * bbtoken_lookup.packed (sql/migrations/0027).  Before 0056 a personal
 * project of a name with "@" is stored under ~ and the name, which no key
 * the module canonicalizes (~ and the slug) matches: refused there until
 * the upgrade, never taken for another's. */
#define BBT_SCHEMA_MIN 27

struct pg_conn;

/* A connection was just taken from mod_dbd's pool for r.  The first time
 * in this child that one answers, read the schema's version, and when it
 * is not the one this release's migrations end at (BBT_SCHEMA_LATEST,
 * from apxs.mk), say so, once per start: BBT760 behind, BBT761 ahead.
 * Read with it how many of bbtoken_lookup's triggers fire always, and
 * when not all, say so once per start (bbt_schema_lookup_warn). */
void bbt_schema_note(request_rec *r, struct pg_conn *pg);

/* n of the wanted triggers that keep bbtoken_lookup fire always (both as
 * the database counts them: bbt_lookupsql.h): when fewer, say (BBT720, at
 * warning) that the lookup is not kept true and what to do.  The caller
 * says it once until n changes: at start through bbt_schema_lookup_start,
 * and by the cache's listener whenever it sees n change. */
void bbt_schema_lookup_warn(server_rec *s, int n, int wanted);

/* n as read at start (or by a listener taking over from an exited child):
 * said as bbt_schema_lookup_warn says it, once per start (and again after
 * each restart), by whichever reads it first: the first child to read the
 * schema, or the cache's listener, which both read it. */
void bbt_schema_lookup_start(server_rec *s, int n, int wanted);

/* post_config, once the counters' segment is found or made: the metrics'
 * bbtoken_schema_version_expected. */
void bbt_schema_post_config(void);

/* The token lookup could not be prepared on a live connection: when the
 * schema is older than BBT_SCHEMA_MIN, say so and what to do (BBT770),
 * which the database's word (a column that does not exist) leaves the
 * administrator to work out. */
void bbt_schema_too_old(request_rec *r, struct pg_conn *pg);

/* The database's version when older than the module's, else 0 (not read
 * yet, or not behind): a lookup row the module cannot read there may be
 * one the later migrations rewrite.  Where this child read it behind, it
 * is read again on pg (idle, or NULL) and kept. */
int bbt_schema_behind(struct pg_conn *pg);

#endif
