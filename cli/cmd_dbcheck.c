/*
 * db check [--repair] [--json]: whether bbtoken_lookup, what httpd's token
 * lookup reads, holds what the live tables say (bbtoken_lookup_rows, the one
 * home of a row, sql/migrations/0026_lookup.sql), and whether the triggers that
 * keep it fire always.  A change made with them disabled leaves the table
 * stale, and httpd believes it: a token revoked that way is still
 * accepted.  Tokens are named by id only; a row's salt and hash are
 * compared, never printed.  A trigger that does not exist is named with
 * the statements that make it again (dbtrig.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bbt_lookupsql.h"
#include "db.h"
#include "dbtrig.h"
#include "tx.h"

/* Each token whose row is missing, extra (no such token) or differs, by
 * id, with the columns that differ (their names: never their values). */
#define BBTOKEN_LOOKUP_DIFF_SQL                                                \
    "SELECT COALESCE(w.id, l.id),"                                             \
    " CASE WHEN l.id IS NULL THEN 'missing'"                                   \
    " WHEN w.id IS NULL THEN 'extra' ELSE 'differs' END,"                      \
    " (SELECT string_agg(e.key, ', ' ORDER BY e.key)"                          \
    " FROM jsonb_each(to_jsonb(w)) e"                                          \
    " WHERE l.id IS NOT NULL AND w.id IS NOT NULL"                             \
    " AND e.value IS DISTINCT FROM to_jsonb(l) -> e.key)"                      \
    " FROM bbtoken_lookup_rows(ARRAY(SELECT id FROM bbtoken_tokens)) w"        \
    " FULL JOIN bbtoken_lookup l ON l.id = w.id"                               \
    " WHERE w.id IS NULL OR l.id IS NULL OR w IS DISTINCT FROM l"

/* The lookup's triggers that do not fire always, and how each fires. */
#define BBTOKEN_LOOKUP_TRIGGERS_SQL                                            \
    "SELECT g.tgname, c.relname, g.tgenabled::text FROM pg_trigger g"          \
    " JOIN pg_class c ON c.oid = g.tgrelid WHERE g.tgenabled <> 'A'"           \
    " AND " BBT_LOOKUP_TRIGGER_WHERE " ORDER BY c.relname, g.tgname"

/* Which of the lookup's triggers the migrations make ($1 names, $2
 * tables, $3 functions, $4 versions: dbtrig.h), those of the database's
 * schema version, do not exist: their places in the arrays, from 1.  A
 * version table without a row wants them all, as BBT_LOOKUP_WANTED_SQL
 * does.  The tables are named as every statement of the CLI names them,
 * in the session's search path. */
#define BBTOKEN_LOOKUP_GONE_SQL                                                \
    "SELECT n.i FROM (SELECT u.*, pg_catalog.to_regproc(u.fn)::oid AS tgfoid"  \
    " FROM unnest($1::text[], $2::text[], $3::text[], $4::integer[])"          \
    " WITH ORDINALITY u(name, tbl, fn, since, i)) n"                           \
    " WHERE " BBT_LOOKUP_TRIGGER_WHERE                                         \
    " AND (SELECT max(version) IS NULL OR n.since <= max(version)"             \
    " FROM bbtoken_schema)"                                                    \
    " AND NOT EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgname = n.name"      \
    " AND g.tgrelid = pg_catalog.to_regclass(pg_catalog.quote_ident(n.tbl)))"  \
    " ORDER BY n.tbl, n.name"

#define BBTOKEN_LOOKUP_COUNT_SQL                                               \
    "SELECT (SELECT count(*) FROM pg_trigger WHERE " BBT_LOOKUP_TRIGGER_WHERE  \
    "), (SELECT count(*) FROM bbtoken_tokens), " BBT_LOOKUP_WANTED_SQL

/* What a trigger's tgenabled says: for people, and as JSON's "fires". */
static const char *bbtoken_tgenabled(const char *e, int json)
{
    switch (e[0]) {
    case 'D':
        return "disabled";
    case 'O':
        return json ? "origin" : "fires for ordinary sessions only, not always";
    case 'R':
        return json ? "replica" : "fires for replica sessions only";
    default:
        return json ? e : "does not fire always";
    }
}

/* What one try of the check found, kept for the report after it
 * commits. */
typedef struct {
    const bbtoken_args_t *a;
    long tokens;
    long wanted;    /* lookup triggers the schema makes */
    long missing;   /* of those, how many do not exist */
    long triggers;  /* those missing and those not firing always */
    PGresult *tgs;  /* the triggers not firing always */
    PGresult *gone; /* the missing ones by name: places in defs */
    bbtoken_trigdefs_t defs;
    PGresult *rows; /* the rows that differ, as found */
    long left;      /* rows still wrong after a repair */
} bbtoken_dbcheck_t;

static void bbtoken_dbcheck_clear(bbtoken_dbcheck_t *c)
{
    PQclear(c->tgs);
    PQclear(c->rows);
    PQclear(c->gone);
    c->tgs = c->rows = c->gone = NULL;
}

/* The missing triggers the migrations name: c->gone gets their places
 * in c->defs.  0, or an exit status. */
static int bbtoken_check_gone(bbtoken_ctx_t *ctx, bbtoken_dbcheck_t *c)
{
    char *arrays[4];
    int rc = 0, k;

    if (!c->defs.v && bbtoken_trigdefs(&c->defs) != 0) {
        return bbtoken_fail("out of memory");
    }
    if (bbtoken_trigdefs_arrays(&c->defs, arrays) != 0) {
        return bbtoken_fail("out of memory");
    }
    if (!(c->gone = bbtoken_exec(ctx, "reading the lookup's triggers",
                                 BBTOKEN_LOOKUP_GONE_SQL, 4,
                                 (const char *const *)arrays))) {
        rc = BBTOKEN_EXIT_FAIL;
    }
    for (k = 0; k < 4; k++) {
        free(arrays[k]);
    }
    return rc;
}

/* A missing trigger the migrations name: row i of c->gone. */
static const bbtoken_trigdef_t *bbtoken_gone(const bbtoken_dbcheck_t *c, int i)
{
    long at = atol(PQgetvalue(c->gone, i, 0));

    return at >= 1 && (size_t)at <= c->defs.n ? &c->defs.v[at - 1] : NULL;
}

/* How many lookup triggers exist and which do not fire always. */
static int bbtoken_check_triggers(bbtoken_ctx_t *ctx, bbtoken_dbcheck_t *c)
{
    PGresult *res;
    long exist;

    if (!(res = bbtoken_exec(ctx, "reading the lookup's triggers",
                             BBTOKEN_LOOKUP_COUNT_SQL, 0, NULL))) {
        return BBTOKEN_EXIT_FAIL;
    }
    exist = atol(PQgetvalue(res, 0, 0));
    c->tokens = atol(PQgetvalue(res, 0, 1));
    c->wanted = atol(PQgetvalue(res, 0, 2));
    PQclear(res);
    c->missing = exist < c->wanted ? c->wanted - exist : 0;
    if (!(c->tgs = bbtoken_exec(ctx, "reading the lookup's triggers",
                                BBTOKEN_LOOKUP_TRIGGERS_SQL, 0, NULL))) {
        return BBTOKEN_EXIT_FAIL;
    }
    c->triggers = c->missing + PQntuples(c->tgs);
    return c->missing ? bbtoken_check_gone(ctx, c) : 0;
}

/* The rows that differ, ordered by id; *res gets them. */
static int bbtoken_check_rows(bbtoken_ctx_t *ctx, PGresult **res)
{
    *res = bbtoken_exec(ctx, "comparing bbtoken_lookup",
                        BBTOKEN_LOOKUP_DIFF_SQL " ORDER BY 1", 0, NULL);
    return *res ? 0 : BBTOKEN_EXIT_FAIL;
}

/* Write the rows that differ again, lowest id first, through the function
 * the triggers use, and tell every httpd's cache: an entry made from a
 * stale row would otherwise be believed until the next change. */
static int bbtoken_repair_rows(bbtoken_ctx_t *ctx)
{
    PGresult *res;

    if (!(res = bbtoken_exec(ctx, "repairing bbtoken_lookup",
                             "SELECT bbtoken_lookup_write(ARRAY(SELECT d.id "
                             "FROM (" BBTOKEN_LOOKUP_DIFF_SQL
                             ") d(id, what, cols) ORDER BY d.id)),"
                             " pg_notify('bbtoken', 'bbtoken_lookup')",
                             0, NULL))) {
        return BBTOKEN_EXIT_FAIL;
    }
    PQclear(res);
    return 0;
}

/* The check's transaction: one snapshot for the comparison.  A repair
 * holds the tables the rows derive from still, as the triggers' writers
 * would wait for it, so that what it writes is what it compared. */
static int bbtoken_dbcheck_body(bbtoken_ctx_t *ctx, void *arg)
{
    bbtoken_dbcheck_t *c = arg;
    PGresult *res, *after;
    int rc;

    bbtoken_dbcheck_clear(c);
    if (c->a->repair) {
        if (!(res = bbtoken_exec(
                  ctx, "repairing bbtoken_lookup",
                  "LOCK TABLE bbtoken_users, bbtoken_project_grants,"
                  " bbtoken_repo_grants, bbtoken_tokens,"
                  " bbtoken_lookup IN SHARE ROW EXCLUSIVE MODE",
                  0, NULL))) {
            return BBTOKEN_EXIT_FAIL;
        }
        PQclear(res);
    }
    if ((rc = bbtoken_check_triggers(ctx, c)) ||
        (rc = bbtoken_check_rows(ctx, &c->rows))) {
        return rc;
    }
    c->left = 0;
    if (!c->a->repair || PQntuples(c->rows) == 0) {
        return 0;
    }
    if ((rc = bbtoken_repair_rows(ctx)) ||
        (rc = bbtoken_check_rows(ctx, &after))) {
        return rc;
    }
    c->left = PQntuples(after);
    PQclear(after);
    if (c->left) {
        return bbtoken_fail("the repair left %ld row%s of bbtoken_lookup "
                            "wrong: nothing was changed",
                            c->left, c->left == 1 ? "" : "s");
    }
    return 0;
}

/* The findings for people: a line each, then the summary. */
static void bbtoken_dbcheck_text(const bbtoken_dbcheck_t *c, long rows)
{
    const PGresult *r = c->rows;
    int i, n = PQntuples(r);

    if (c->missing) {
        printf("lookup triggers: %ld of the %ld the schema makes exist\n",
               c->wanted - c->missing, c->wanted);
    }
    for (i = 0; c->gone && i < PQntuples(c->gone); i++) {
        const bbtoken_trigdef_t *t = bbtoken_gone(c, i);

        if (t) {
            printf("trigger %s on %s: missing; made again by: %s\n", t->name,
                   t->table, t->sql);
        }
    }
    for (i = 0; i < PQntuples(c->tgs); i++) {
        printf("trigger %s on %s: %s\n", PQgetvalue(c->tgs, i, 0),
               PQgetvalue(c->tgs, i, 1),
               bbtoken_tgenabled(PQgetvalue(c->tgs, i, 2), 0));
    }
    for (i = 0; i < n; i++) {
        if (PQgetisnull(r, i, 2)) {
            printf("token %s: %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
        } else {
            printf("token %s: %s (%s)\n", PQgetvalue(r, i, 0),
                   PQgetvalue(r, i, 1), PQgetvalue(r, i, 2));
        }
    }
    if (c->a->repair) {
        printf("repaired %d row%s\n", n, n == 1 ? "" : "s");
    }
    printf("bbtoken_lookup: %ld token%s, %ld row%s wrong; %ld lookup "
           "triggers, ",
           c->tokens, c->tokens == 1 ? "" : "s", rows, rows == 1 ? "" : "s",
           c->wanted);
    if (c->missing) {
        printf("%ld missing, ", c->missing);
    }
    printf("%ld not firing always\n", c->triggers - c->missing);
}

/* The missing triggers the migrations name, each with the statements
 * that make it again: [{trigger, table, sql}], or NULL when out of
 * memory. */
static json_t *bbtoken_gone_json(const bbtoken_dbcheck_t *c)
{
    json_t *arr = json_array();
    const bbtoken_trigdef_t *t;
    int i;

    for (i = 0; arr && c->gone && i < PQntuples(c->gone); i++) {
        if ((t = bbtoken_gone(c, i)) &&
            json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "trigger",
                                                 t->name, "table", t->table,
                                                 "sql", t->sql)) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    return arr;
}

/* One finding, an element of the document's "findings", printed (first:
 * the array's first); v is freed.  0, or an exit status. */
static int bbtoken_dbcheck_finding(json_t *v, size_t flags, int *n)
{
    int rc = v ? bbtoken_json_element(v, flags, 2, (*n)++ == 0) : -1;

    json_decref(v);
    return rc ? bbtoken_fail("out of memory") : 0;
}

/* The findings as one JSON document (README, The CLI): the counts, then
 * each finding with its kind and whether this run repaired it.  The
 * findings, a row's each, are printed one at a time, as json_dumps would
 * lay them out in the whole document, so that a site whose every row is
 * wrong is not held as a JSON tree as well. */
static int bbtoken_dbcheck_json(const bbtoken_dbcheck_t *c, long rows)
{
    const PGresult *r = c->rows;
    size_t flags = bbtoken_json_flags();
    json_t *head;
    char *out;
    int i, n = 0, rc = 0;

    head = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:b}", "tokens",
                     (json_int_t)c->tokens, "rowsWrong", (json_int_t)rows,
                     "lookupTriggers", (json_int_t)c->wanted, "triggersMissing",
                     (json_int_t)c->missing, "triggersNotFiringAlways",
                     (json_int_t)(c->triggers - c->missing), "rowsRepaired",
                     (json_int_t)(c->a->repair ? PQntuples(r) : 0), "ok",
                     rows == 0 && c->triggers == 0);
    out = head ? json_dumps(head, flags) : NULL;
    json_decref(head);
    if (!out) {
        return bbtoken_fail("out of memory");
    }
    /* The object without its last member: all but its closing "\n}". */
    printf("%.*s,\n  \"findings\": ", (int)strlen(out) - 2, out);
    free(out);
    if (c->missing) {
        /* "o" steals its reference even when json_pack fails. */
        rc = bbtoken_dbcheck_finding(
            json_pack("{s:s, s:I, s:o, s:b}", "kind", "triggers-missing",
                      "count", (json_int_t)c->missing, "triggers",
                      bbtoken_gone_json(c), "repaired", 0),
            flags, &n);
    }
    for (i = 0; rc == 0 && i < PQntuples(c->tgs); i++) {
        rc = bbtoken_dbcheck_finding(
            json_pack("{s:s, s:s, s:s, s:s, s:b}", "kind", "trigger", "trigger",
                      PQgetvalue(c->tgs, i, 0), "table",
                      PQgetvalue(c->tgs, i, 1), "fires",
                      bbtoken_tgenabled(PQgetvalue(c->tgs, i, 2), 1),
                      "repaired", 0),
            flags, &n);
    }
    for (i = 0; rc == 0 && i < PQntuples(r); i++) {
        /* "o" steals its reference even when json_pack fails. */
        rc = bbtoken_dbcheck_finding(
            json_pack("{s:s, s:s, s:o, s:b}", "kind", PQgetvalue(r, i, 1),
                      "token", PQgetvalue(r, i, 0), "columns",
                      bbtoken_json_split(bbtoken_get(r, i, 2, ""), ", "),
                      "repaired", c->a->repair),
            flags, &n);
    }
    if (rc) {
        /* What was printed is no whole document: the exit status says
         * so. */
        fflush(stdout);
        return rc;
    }
    puts(n ? "\n  ]\n}" : "[]\n}");
    return 0;
}

/* The line for lookup triggers that do not exist, and maybe others that
 * do not fire always.  A missing one cannot be enabled, and neither
 * --repair nor `db upgrade` makes it (its migration ran once): it is made
 * again by the statements its migration made it with, which the report
 * holds for each it could name (named of them). */
static int bbtoken_dbcheck_missing(const bbtoken_dbcheck_t *c, int named)
{
    long off = c->triggers - c->missing;
    char others[128] = "";
    const char *how = c->a->json
                          ? "the statements in the report's triggers-missing "
                            "finding (its sql)"
                          : "the statements printed above";

    if (named == 0) {
        how = "the statements that made them, in sql/migrations/ (CREATE "
              "TRIGGER, then ALTER TABLE ... ENABLE ALWAYS TRIGGER)";
    }
    if (off) {
        snprintf(others, sizeof(others),
                 ", and enable the %ld that do%s not fire always (ALTER "
                 "TABLE ... ENABLE ALWAYS TRIGGER)",
                 off, off == 1 ? "es" : "");
    }
    return bbtoken_fail("%ld of the lookup's triggers %s missing: "
                        "bbtoken_lookup is not kept true; make %s again with "
                        "%s, as the tables' owner in their schema%s, then run "
                        "bbtoken db check --repair",
                        c->missing, c->missing == 1 ? "is" : "are",
                        c->missing == 1 ? "it" : "them", how, others);
}

int bbtoken_cmd_db_check(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                         const bbtoken_args_t *a)
{
    bbtoken_dbcheck_t c = {.a = a};
    const bbtoken_tx_t tx = {"checking bbtoken_lookup",
                             a->repair ? "BEGIN"
                                       : "BEGIN ISOLATION LEVEL REPEATABLE "
                                         "READ READ ONLY",
                             NULL,
                             bbtoken_dbcheck_body,
                             &c,
                             NULL,
                             NULL,
                             0};
    long rows;
    int rc, named;

    (void)cmd;
    /* It reads every token's row and what it says (db.h). */
    if ((rc = bbtoken_connect(ctx)) ||
        (rc = bbtoken_analyze(ctx, BBTOKEN_ANALYZE_TOKENS)) ||
        (rc = bbtoken_tx(ctx, &tx))) {
        bbtoken_dbcheck_clear(&c);
        bbtoken_trigdefs_free(&c.defs);
        return rc;
    }
    /* What is wrong now: nothing of what a repair wrote again, which is
     * committed whatever showing it meets. */
    rows = a->repair ? 0 : PQntuples(c.rows);
    if (a->repair && PQntuples(c.rows) > 0) {
        bbtoken_done(ctx, "%d row%s of bbtoken_lookup %s repaired before it",
                     PQntuples(c.rows), PQntuples(c.rows) == 1 ? "" : "s",
                     PQntuples(c.rows) == 1 ? "was" : "were");
    }
    rc = a->json ? bbtoken_dbcheck_json(&c, rows)
                 : (bbtoken_dbcheck_text(&c, rows), 0);
    named = c.gone ? PQntuples(c.gone) : 0;
    bbtoken_dbcheck_clear(&c);
    bbtoken_trigdefs_free(&c.defs);
    if (rc) {
        return rc;
    }
    if (c.missing) {
        return bbtoken_dbcheck_missing(&c, named);
    }
    if (c.triggers) {
        return bbtoken_fail("the lookup's triggers do not all fire always: "
                            "bbtoken_lookup is not kept true; enable them "
                            "(ALTER TABLE ... ENABLE ALWAYS TRIGGER), then "
                            "run bbtoken db check --repair");
    }
    if (rows) {
        return bbtoken_fail("bbtoken_lookup is not true: run bbtoken db "
                            "check --repair");
    }
    return 0;
}
