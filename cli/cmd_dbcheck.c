/*
 * db check [--repair]: whether bbtoken_lookup, what httpd's token lookup
 * reads, holds what the live tables say (bbtoken_lookup_rows, the one home
 * of a row, sql/migrations/0026_lookup.sql), and whether the triggers that
 * keep it fire always.  A change made with them disabled leaves the table
 * stale, and httpd believes it: a token revoked that way is still
 * accepted.  Tokens are named by id only; a row's salt and hash are
 * compared, never printed.
 */
#include <stdio.h>
#include <stdlib.h>

#include "bbt_lookupsql.h"
#include "db.h"

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

#define BBTOKEN_LOOKUP_COUNT_SQL                                               \
    "SELECT (SELECT count(*) FROM pg_trigger WHERE " BBT_LOOKUP_TRIGGER_WHERE  \
    "), (SELECT count(*) FROM bbtoken_tokens)"

static const char *bbtoken_tgenabled(const char *e)
{
    switch (e[0]) {
    case 'D':
        return "disabled";
    case 'O':
        return "fires for ordinary sessions only, not always";
    case 'R':
        return "fires for replica sessions only";
    default:
        return "does not fire always";
    }
}

/* Print the triggers that do not fire always; *bad gets how many, those
 * missing counted in. */
static int bbtoken_check_triggers(bbtoken_ctx_t *ctx, long *bad, long *tokens)
{
    PGresult *res;
    long exist;
    int i;

    if (!(res = bbtoken_exec(ctx, "reading the lookup's triggers",
                             BBTOKEN_LOOKUP_COUNT_SQL, 0, NULL))) {
        return BBTOKEN_EXIT_FAIL;
    }
    exist = atol(PQgetvalue(res, 0, 0));
    *tokens = atol(PQgetvalue(res, 0, 1));
    PQclear(res);
    *bad = 0;
    if (exist < BBT_LOOKUP_TRIGGERS) {
        printf("lookup triggers: %ld of the %d the schema makes exist\n", exist,
               BBT_LOOKUP_TRIGGERS);
        *bad += BBT_LOOKUP_TRIGGERS - exist;
    }
    if (!(res = bbtoken_exec(ctx, "reading the lookup's triggers",
                             BBTOKEN_LOOKUP_TRIGGERS_SQL, 0, NULL))) {
        return BBTOKEN_EXIT_FAIL;
    }
    for (i = 0; i < PQntuples(res); i++) {
        printf("trigger %s on %s: %s\n", PQgetvalue(res, i, 0),
               PQgetvalue(res, i, 1), bbtoken_tgenabled(PQgetvalue(res, i, 2)));
    }
    *bad += PQntuples(res);
    PQclear(res);
    return 0;
}

/* Print the rows that differ; *n gets how many. */
static int bbtoken_check_rows(bbtoken_ctx_t *ctx, long *n)
{
    PGresult *res;
    int i;

    if (!(res = bbtoken_exec(ctx, "comparing bbtoken_lookup",
                             BBTOKEN_LOOKUP_DIFF_SQL " ORDER BY 1", 0, NULL))) {
        return BBTOKEN_EXIT_FAIL;
    }
    for (i = 0; i < PQntuples(res); i++) {
        if (PQgetisnull(res, i, 2)) {
            printf("token %s: %s\n", PQgetvalue(res, i, 0),
                   PQgetvalue(res, i, 1));
        } else {
            printf("token %s: %s (%s)\n", PQgetvalue(res, i, 0),
                   PQgetvalue(res, i, 1), PQgetvalue(res, i, 2));
        }
    }
    *n = PQntuples(res);
    PQclear(res);
    return 0;
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

int bbtoken_cmd_db_check(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                         const bbtoken_args_t *a)
{
    PGresult *res;
    long rows, triggers, tokens, left = 0;
    int rc;

    (void)cmd;
    if ((rc = bbtoken_connect(ctx))) {
        return rc;
    }
    /* One snapshot for the comparison.  A repair holds the tables the rows
     * derive from still, as the triggers' writers would wait for it, so
     * that what it writes is what it compared. */
    if (!(res = bbtoken_exec(ctx, "checking bbtoken_lookup",
                             a->repair ? "BEGIN"
                                       : "BEGIN ISOLATION LEVEL REPEATABLE "
                                         "READ READ ONLY",
                             0, NULL))) {
        return BBTOKEN_EXIT_FAIL;
    }
    PQclear(res);
    if (a->repair) {
        if (!(res = bbtoken_exec(
                  ctx, "repairing bbtoken_lookup",
                  "LOCK TABLE bbtoken_users, bbtoken_project_grants,"
                  " bbtoken_repo_grants, bbtoken_tokens,"
                  " bbtoken_lookup IN SHARE ROW EXCLUSIVE MODE",
                  0, NULL))) {
            bbtoken_exec_quiet(ctx, "ROLLBACK");
            return BBTOKEN_EXIT_FAIL;
        }
        PQclear(res);
    }
    if ((rc = bbtoken_check_triggers(ctx, &triggers, &tokens)) ||
        (rc = bbtoken_check_rows(ctx, &rows)) ||
        (a->repair && rows && (rc = bbtoken_repair_rows(ctx))) ||
        (a->repair && rows && (rc = bbtoken_check_rows(ctx, &left)))) {
        bbtoken_exec_quiet(ctx, "ROLLBACK");
        return rc;
    }
    if (left) {
        bbtoken_exec_quiet(ctx, "ROLLBACK");
        return bbtoken_fail("the repair left %ld row%s of bbtoken_lookup "
                            "wrong: nothing was changed",
                            left, left == 1 ? "" : "s");
    }
    if (!(res = bbtoken_exec(ctx, "checking bbtoken_lookup", "COMMIT", 0,
                             NULL))) {
        return BBTOKEN_EXIT_FAIL;
    }
    PQclear(res);
    if (a->repair) {
        printf("repaired %ld row%s\n", rows, rows == 1 ? "" : "s");
        rows = 0;
    }
    printf("bbtoken_lookup: %ld token%s, %ld row%s wrong; %d lookup "
           "triggers, %ld not firing always\n",
           tokens, tokens == 1 ? "" : "s", rows, rows == 1 ? "" : "s",
           BBT_LOOKUP_TRIGGERS, triggers);
    if (triggers) {
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
