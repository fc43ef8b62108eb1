/*
 * list: one user's tokens (cmd_tokens.c), or with --all the inventory of
 * every live token, narrowed by filters (bbt_inventory.h, the same
 * statement the REST API's GET .../inventory runs), as a table or JSON,
 * and with --revoke the bulk revocation of what the filters select
 * (--dry-run: only what would be revoked).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bbt_inventory.h"
#include "bbt_inventory_json.h"
#include "db.h"
#include "lookup.h"
#include "stream.h"
#include "tx.h"

/* The options that only --all takes (--project without it names a
 * project's own tokens: cmd_tokens.c). */
static int bbtoken_inv_any_filter(const bbtoken_args_t *a)
{
    return a->owner || a->kind || a->expired || a->never_used ||
           a->unused_for || a->min_perm || a->revoke || a->dry_run;
}

/* The filter of the command line: 0, or an exit status after saying
 * why. */
static int bbtoken_inv_filter(const bbtoken_args_t *a, bbt_inventory_t *f)
{
    bbtoken_target_t t;
    long long secs;
    int rc;

    memset(f, 0, sizeof(*f));
    if (a->owner && (rc = bbtoken_check_user(a->owner))) {
        return rc;
    }
    f->owner = a->owner;
    if (a->project) {
        /* One starting with '/' is no repository (values.c's key
         * refusal says what it more likely is). */
        if (strchr(a->project, '/') && a->project[0] != '/') {
            return bbtoken_fail("--project takes a project key, not a "
                                "repository: %s",
                                bbtoken_repeatable(a->project));
        }
        if ((rc = bbtoken_parse_target(a->project, &t))) {
            return rc;
        }
        f->project = a->project;
    }
    if (a->kind && bbt_inventory_kind(a->kind, &f->kind) != 0) {
        return bbtoken_fail("invalid --kind: %s (" BBT_INV_KIND_NAMES ")",
                            bbtoken_repeatable(a->kind));
    }
    f->expired = a->expired;
    f->never_used = a->never_used;
    if (a->unused_for) {
        secs = bbtoken_duration(a->unused_for);
        if (secs <= 0 || secs > BBT_INVENTORY_UNUSED_MAX) {
            return bbtoken_fail("invalid --unused-for: %s (a DURATION: N "
                                "days, or Nd, Nh or Nw, up to %d days)",
                                bbtoken_repeatable(a->unused_for),
                                BBT_EXPIRY_DAYS_MAX);
        }
        f->unused = secs;
    }
    if (a->min_perm && (rc = bbtoken_perm_parse(a->min_perm, &f->min))) {
        return rc;
    }
    return 0;
}

static json_t *bbtoken_inv_element(const PGresult *res, int i, const void *arg)
{
    (void)arg;
    return bbt_inventory_json(res, i);
}

static const bbtoken_column_t bbtoken_inv_cols[] = {
    {"ID", 12, BBTOKEN_COL_VALUE, BBT_INV_ID, 0, NULL},
    {"OWNER", 0, BBTOKEN_COL_VALUE, BBT_INV_OWNER, 0, NULL},
    {"NAME", 0, BBTOKEN_COL_VALUE, BBT_INV_NAME, 0, NULL},
    {"PERMISSIONS", 24, BBTOKEN_COL_PERMS, BBT_INV_PROJECT, BBT_INV_REPO, NULL},
    {"CREATED", 20, BBTOKEN_COL_VALUE, BBT_INV_CREATED, 0, NULL},
    {"EXPIRES", 0, BBTOKEN_COL_EXPIRES, BBT_INV_EXPIRES, BBT_INV_EXPIRED, NULL},
    {"ALLOWED", 0, BBTOKEN_COL_VALUE, BBT_INV_NETS, 0, "any"},
    {"GROUPS", 0, BBTOKEN_COL_VALUE, BBT_INV_GROUPS, 0, NULL},
    {"LAST USED", 20, BBTOKEN_COL_VALUE, BBT_INV_LAST, 0, "never"},
    {"FROM", 0, BBTOKEN_COL_VALUE, BBT_INV_ADDRS, 0, NULL}};

/* A batch's tokens and their successors: each id of the batch (the
 * parameter, space-separated) and every token a rotation made of it, of
 * one made of it, and so on (migration 34), those live locked lowest id
 * first (sql/migrations/0024_lock_order.sql) and the successors among
 * them revoked.  One row: how many it saw live but did not lock (revoked
 * or deleted by a transaction that held them meanwhile: a rotation that
 * held one made a successor that this statement cannot see), then, by
 * row, each successor revoked and the batch's id it comes from.  Each
 * step a look-up by index (OFFSET 0 keeps it one): the planner, guessing
 * the chains ten times the batch, would read the whole table twice. */
static const char bbtoken_inv_chain_sql[] =
    "WITH RECURSIVE c(root, id) AS (SELECT x, x"
    " FROM unnest(string_to_array($1, ' ')) AS x"
    " UNION SELECT c.root, s.id FROM c, LATERAL (SELECT t.id"
    " FROM bbtoken_tokens t WHERE t.rotated_from = c.id OFFSET 0) s),"
    " live AS (SELECT c.root, c.id FROM c, LATERAL (SELECT 1"
    " FROM bbtoken_tokens t WHERE t.id = c.id AND t.revoked_at IS NULL"
    " OFFSET 0) v),"
    " lk AS (SELECT t.id FROM bbtoken_tokens t"
    " WHERE t.id IN (SELECT id FROM live) AND t.revoked_at IS NULL"
    " ORDER BY t.id FOR UPDATE OF t),"
    " rev AS (UPDATE bbtoken_tokens t SET revoked_at = now() FROM live l"
    " WHERE t.id = l.id AND l.id <> l.root AND t.id IN (SELECT id FROM lk)"
    " RETURNING l.root, t.id)"
    " SELECT (SELECT count(*) FROM live) - (SELECT count(*) FROM lk),"
    " r.root, r.id FROM (SELECT 1) n LEFT JOIN rev r ON true ORDER BY r.id";

/* Passes of the successors' statement in one batch, at most: each after
 * the first follows a rotation that committed while the one before
 * waited for its token. */
#define BBTOKEN_INV_CHAIN_PASSES 100

/* The revocation of the listing (the stream's act's arg): its statement,
 * how many tokens the batches committed so far revoked and listed, and
 * the stream, whose last batch (drained) leaves no rest to revoke. */
typedef struct {
    bbt_inventory_query_t q;
    long revoked;
    const bbtoken_stream_t *s;
} bbtoken_inv_revoking_t;

/* A batch's revocation, one transaction (bbtoken_tx's body): the ids; the
 * revocation's statement, its ids its last parameter; its result; and the
 * successors revoked, "ROOT ID\n" each, in succ (len of cap bytes). */
typedef struct {
    bbt_inventory_query_t *q;
    const char *ids;
    PGresult *res;
    char *succ;
    size_t len, cap;
} bbtoken_inv_batch_t;

/* One pass of bbtoken_inv_chain_sql: *lost gets its count. */
static int bbtoken_inv_chain(bbtoken_ctx_t *ctx, bbtoken_inv_batch_t *b,
                             long *lost)
{
    PGresult *res = bbtoken_exec(ctx, "revoking the tokens' successors",
                                 bbtoken_inv_chain_sql, 1, &b->ids);
    size_t n;
    char *p;
    int i;

    if (!res) {
        return BBTOKEN_EXIT_FAIL;
    }
    *lost = atol(PQgetvalue(res, 0, 0));
    for (i = 0; i < PQntuples(res); i++) {
        if (PQgetisnull(res, i, 2)) {
            continue;
        }
        n = (size_t)PQgetlength(res, i, 1) + (size_t)PQgetlength(res, i, 2) + 2;
        if (b->len + n + 1 > b->cap) {
            if (!(p = realloc(b->succ, b->cap + n + 256))) {
                PQclear(res);
                return bbtoken_fail("out of memory");
            }
            b->succ = p;
            b->cap += n + 256;
        }
        b->len +=
            (size_t)snprintf(b->succ + b->len, b->cap - b->len, "%s %s\n",
                             PQgetvalue(res, i, 1), PQgetvalue(res, i, 2));
    }
    PQclear(res);
    return 0;
}

/* The batch's tokens and their successors locked, the successors a
 * rotation made since the listing began revoked (their holder keeps no
 * live token by rotating one while the run goes), then the batch's
 * tokens the filters still select; the successors' statement again while
 * a rotation it waited for made one it could not see. */
static int bbtoken_inv_batch(bbtoken_ctx_t *ctx, void *arg)
{
    bbtoken_inv_batch_t *b = arg;
    long lost;
    int rc, pass = 1;

    /* A try before this one read rows that it did not commit, and named
     * successors that it did not revoke: the text goes with its length. */
    PQclear(b->res);
    b->res = NULL;
    b->len = 0;
    if (b->succ) {
        b->succ[0] = '\0';
    }
    if ((rc = bbtoken_inv_chain(ctx, b, &lost))) {
        return rc;
    }
    if (!(b->res = bbtoken_exec(ctx, "revoking the tokens", b->q->sql,
                                b->q->nparams, b->q->params))) {
        return BBTOKEN_EXIT_FAIL;
    }
    while (lost > 0) {
        if (++pass > BBTOKEN_INV_CHAIN_PASSES) {
            return bbtoken_fail("revoking the tokens: rotated again each "
                                "time, %d times: this batch is not revoked; "
                                "run the command again",
                                BBTOKEN_INV_CHAIN_PASSES);
        }
        if ((rc = bbtoken_inv_chain(ctx, b, &lost))) {
            return rc;
        }
    }
    return 0;
}

/* The batch's verdict: a row of res (the listing's) is printed when it was
 * revoked, or when a successor of it was (the ids are the first of each
 * line of succ).  NULL: out of memory. */
static PGresult *bbtoken_inv_kept(const PGresult *res, PGresult *kept,
                                  const char *succ)
{
    PGresult *out;
    const char *p, *id;
    size_t n;
    int i;

    if (!*succ) {
        return kept;
    }
    out = PQcopyResult(kept, PG_COPYRES_ATTRS | PG_COPYRES_TUPLES);
    PQclear(kept);
    for (i = 0; out && i < PQntuples(res); i++) {
        id = PQgetvalue(res, i, BBT_INV_ID);
        n = strlen(id);
        for (p = succ; *p; p = strchr(p, '\n') + 1) {
            if (strncmp(p, id, n) == 0 && p[n] == ' ' &&
                !PQsetvalue(out, i, 0, "t", 1)) {
                PQclear(out);
                return NULL;
            }
        }
    }
    return out;
}

/* The batch's tokens listed (*kept says which), counted with those of
 * the batches before it: what a failure of the next batch leaves done. */
static void bbtoken_inv_revoked(bbtoken_ctx_t *ctx, bbtoken_inv_revoking_t *r,
                                const PGresult *kept)
{
    int i;

    for (i = 0; i < PQntuples(kept); i++) {
        r->revoked += PQgetvalue(kept, i, 0)[0] == 't';
    }
    if (r->revoked > 0 && r->s->drained) {
        /* The last batch: a failure after it (a write) promises no rest,
         * which a run again would not find. */
        bbtoken_done(ctx,
                     r->revoked == 1
                         ? "the token listed above was revoked before "
                           "it, in the last batch"
                         : "the %ld tokens listed above were revoked "
                           "before it, the last batch's too",
                     r->revoked);
        bbtoken_done_unlisted(
            ctx,
            r->revoked == 1
                ? "1 token was revoked before it, in the last batch, its "
                  "line not all written"
                : "%ld tokens were revoked before it, the last batch's too, "
                  "not all of them listed",
            r->revoked);
    } else if (r->revoked > 0) {
        bbtoken_done_rest(ctx, BBTOKEN_REVOKES_REST,
                          r->revoked == 1
                              ? "the token listed above was revoked before it"
                              : "the %ld tokens listed above were revoked "
                                "before it",
                          r->revoked);
        /* The batch is printed after its COMMIT: a write of it that
         * fails leaves some of its lines unwritten. */
        bbtoken_done_unlisted(
            ctx,
            r->revoked == 1
                ? "1 token was revoked before it, its line not all written "
                  "(" BBTOKEN_REVOKES_REST ")"
                : "%ld tokens were revoked before it, not all of them listed "
                  "(" BBTOKEN_REVOKES_REST ")",
            r->revoked);
    }
}

/* Revoke a batch of the listing (bbtoken_stream_act_fn), arg the
 * revocation (bbtoken_inv_revoking_t): its statement's ids,
 * space-separated, its last parameter.  A transaction of its own: a run
 * stopped midway keeps the batches it committed (each token's revocation
 * whole, its successors' with it), and running it again revokes the
 * rest. */
static int bbtoken_inv_revoke(bbtoken_ctx_t *ctx, const PGresult *res,
                              PGresult **kept, void *arg)
{
    bbtoken_inv_revoking_t *r = arg;
    bbtoken_inv_batch_t b = {&r->q, NULL, NULL, NULL, 0, 0};
    /* Audited: a revocation is recorded, each token's. */
    const bbtoken_tx_t tx = {"revoking the tokens",
                             "BEGIN ISOLATION LEVEL READ COMMITTED",
                             NULL,
                             bbtoken_inv_batch,
                             &b,
                             NULL,
                             NULL,
                             1};
    size_t len = 1, at = 0, n;
    const char *p;
    char *ids;
    int i, rc, committed;

    for (i = 0; i < PQntuples(res); i++) {
        len += (size_t)PQgetlength(res, i, BBT_INV_ID) + 1;
    }
    if (!(ids = malloc(len))) {
        return bbtoken_fail("out of memory");
    }
    for (i = 0; i < PQntuples(res); i++) {
        n = (size_t)PQgetlength(res, i, BBT_INV_ID);
        memcpy(ids + at, PQgetvalue(res, i, BBT_INV_ID), n);
        at += n;
        ids[at++] = ' ';
    }
    ids[at ? at - 1 : 0] = '\0';
    b.ids = ids;
    b.q->params[b.q->nparams - 1] = ids;
    /* Stopped after its COMMIT was done (xact.c): committed too. */
    committed = (rc = bbtoken_tx(ctx, &tx)) == 0 || ctx->stopped;
    b.q->params[b.q->nparams - 1] = NULL;
    free(ids);
    if (!committed) {
        PQclear(b.res);
    } else if (!(*kept = bbtoken_inv_kept(res, b.res, b.succ ? b.succ : ""))) {
        rc = bbtoken_fail("out of memory");
    } else {
        bbtoken_inv_revoked(ctx, r, *kept);
    }
    /* Committed: said once, whatever the tries before. */
    for (p = committed ? b.succ : NULL; p && *p; p = strchr(p, '\n') + 1) {
        n = strcspn(p, " ");
        fprintf(stderr,
                "bbtoken: token %.*s was rotated while the run went on: "
                "its successor %.*s is revoked too\n",
                (int)n, p, (int)strcspn(p + n + 1, "\n"), p + n + 1);
    }
    free(b.succ);
    return rc;
}

/* The owner and the project the filters name, which the database must
 * know (before the listing: a table's head is printed before its first
 * row is read), key the project's canonical key.  0, or an exit status
 * after reporting. */
static int bbtoken_inv_known(bbtoken_ctx_t *ctx, const bbt_inventory_t *f,
                             const char *key)
{
    char what[BBT_KIND_ID_MAX + 16];
    int rc;

    if (f->owner && (rc = bbtoken_user_known(ctx, f->owner))) {
        return rc;
    }
    if (f->project) {
        snprintf(what, sizeof(what), "project %s", key);
        return bbtoken_scope_known(ctx, what, key, NULL);
    }
    return 0;
}

static int bbtoken_inventory(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                             const bbtoken_args_t *a)
{
    bbtoken_inv_revoking_t r;
    bbt_inventory_query_t q;
    bbt_inventory_t f;
    bbtoken_stream_t s;
    const char *what = "listing tokens";
    long n = 0;
    int rc, revoke = a->revoke && !a->dry_run;

    if (a->dry_run && !a->revoke) {
        return bbtoken_usage_error(cmd->usage, "--dry-run goes with --revoke");
    }
    r.revoked = 0;
    r.s = &s;
    ctx->several = revoke;
    if ((rc = bbtoken_inv_filter(a, &f))) {
        return rc;
    }
    if (a->revoke && !bbt_inventory_filtered(&f)) {
        return bbtoken_usage_error(cmd->usage,
                                   "--revoke needs a filter: it does not "
                                   "revoke every token");
    }
    if (bbt_inventory_sql(&f, 0, -1, 0, &q) != 0 ||
        (revoke && bbt_inventory_sql(&f, 1, -1, 0, &r.q) != 0)) {
        return bbtoken_fail("the filters cannot be combined into a query");
    }
    /* The listing reads every live token, and a revocation's triggers
     * each one's grants (db.h). */
    if ((rc = bbtoken_connect(ctx)) ||
        (rc = bbtoken_analyze(ctx,
                              BBTOKEN_ANALYZE_TOKENS ",bbtoken_token_nets")) ||
        (rc = bbtoken_inv_known(ctx, &f, q.key))) {
        return rc;
    }
    /* Revoking: what the filters selected when it began, a batch at a
     * time, each revoked before it is printed (a table's widths are
     * measured over the selection first). */
    rc = revoke ? bbtoken_stream_open_held(ctx, &s, what, q.sql, q.nparams,
                                           q.params, bbtoken_inv_revoke, &r)
                : bbtoken_stream_open(ctx, &s, what, q.sql, q.nparams, q.params,
                                      !a->json);
    if (rc) {
        return rc;
    }
    rc = a->json ? bbtoken_stream_json(&s, bbtoken_inv_element, NULL)
                 : bbtoken_token_table(&s, bbtoken_inv_cols,
                                       BBTOKEN_NCOLS(bbtoken_inv_cols), &n);
    if ((rc = bbtoken_stream_close(&s, rc)) == 0 && !a->json && a->revoke) {
        printf("%s %ld token%s\n", revoke ? "revoked" : "would revoke", n,
               n == 1 ? "" : "s");
    }
    /* The listing's end (JSON's closing bracket, the table's count) is
     * the listing's too: a write of it that fails says so, as one of its
     * batches does. */
    if (rc == 0 && bbtoken_flush_stdout(ctx, what) != 0) {
        rc = BBTOKEN_EXIT_FAIL;
    }
    return rc;
}

int bbtoken_cmd_list_any(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                         const bbtoken_args_t *a)
{
    if (a->all) {
        if (a->noperands) {
            return bbtoken_usage_error(cmd->usage,
                                       "give a user NAME or --all, not both");
        }
        if (a->repo) {
            return bbtoken_usage_error(cmd->usage,
                                       "--repo names a repository's tokens: "
                                       "not with --all");
        }
        return bbtoken_inventory(ctx, cmd, a);
    }
    if (bbtoken_inv_any_filter(a)) {
        return bbtoken_usage_error(cmd->usage,
                                   "filters and --revoke go with --all");
    }
    if (!a->noperands && !a->project && !a->repo) {
        return bbtoken_usage_error(cmd->usage,
                                   "list takes one NAME, --project KEY, "
                                   "--repo KEY/slug, or --all");
    }
    return bbtoken_cmd_list(ctx, cmd, a);
}
