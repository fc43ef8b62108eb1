/*
 * Tokens: create, list, update, revoke, for a user (personal tokens), a
 * project or a repository (their tokens, held by no person).  A new token
 * is printed once, on stdout, before its row is committed; the database
 * keeps a salted hash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bbt_pgjson.h"
#include "bbt_xact.h"
#include "db.h"
#include "lookup.h"
#include "mint.h"
#include "stream.h"
#include "tx.h"

/* Whose tokens a command is about. */
typedef struct {
    bbt_kind_t kind;
    bbtoken_user_t user;             /* a personal token's owner */
    bbtoken_target_t scope;          /* a project's key, a repository's too */
    char what[BBT_KIND_ID_MAX + 16]; /* "project PROJ", for messages */
} bbtoken_holder_t;

/* The holder the command line names (NAME, --project or --repo), after
 * connecting.  0, or an exit status after reporting. */
static int bbtoken_holder(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                          const bbtoken_args_t *a, bbtoken_holder_t *h)
{
    bbt_tokscope_t s;
    int rc;

    memset(h, 0, sizeof(*h));
    if ((rc = bbtoken_holder_args(cmd, a, &h->kind, &h->scope))) {
        return rc;
    }
    if (h->kind == BBT_KIND_PERSONAL) {
        return bbtoken_connect_user(ctx, a->operands[0], &h->user);
    }
    bbtoken_scope_of(h->kind, &h->scope, &s);
    bbt_kind_describe(&s, h->what, sizeof(h->what));
    return bbtoken_connect(ctx);
}

/* A holder that list or revoke found no token of: a user (known, or the
 * look-up failed), or a project or a repository the database knows, is
 * no failure; one it knows nothing of is (bbtoken_scope_known).  0, or
 * an exit status after reporting. */
static int bbtoken_holder_known(bbtoken_ctx_t *ctx, const bbtoken_holder_t *h)
{
    return h->kind == BBT_KIND_PERSONAL
               ? 0
               : bbtoken_scope_known(ctx, h->what, h->scope.key, h->scope.slug);
}

/* ---- create ----------------------------------------------------------- */

/* The allow-list given (--allow-from) as one parameter, the networks
 * space-separated, into buf (BBT_NETS_TEXT_MAX + 1 bytes).  Each must be
 * a network httpd can match (bbt_input_net_problem); the database's cidr
 * type judges the rest.  0, or an exit status after reporting. */
static int bbtoken_nets_param(const bbtoken_args_t *a, char *buf)
{
    size_t i, len, at = 0;
    const char *why;

    buf[0] = '\0';
    for (i = 0; i < a->nnets; i++) {
        len = strlen(a->nets[i]);
        if ((why = bbt_input_net_problem(a->nets[i], len)) != NULL) {
            return bbtoken_fail("--allow-from %s: %s",
                                bbtoken_repeatable(a->nets[i]), why);
        }
        if (at) {
            buf[at++] = ' ';
        }
        memcpy(buf + at, a->nets[i], len + 1);
        at += len;
    }
    return 0;
}

/* The new token's expiry, as create reports a default one. */
#define BBTOKEN_CREATED_RETURNING                                              \
    " RETURNING round(extract(epoch FROM expires_at - created_at)"             \
    " / 86400)::integer,"                                                      \
    " to_char(expires_at AT TIME ZONE 'UTC', " BBTOKEN_ISO ")"

/* What create stores, and what it says once the token is committed. */
typedef struct {
    const bbtoken_holder_t *h;
    const char *label, *days, *nets;
    bbt_level_t project, repo;
    char note[160];
    const char *held[4]; /* bbtoken_mint_t's */
} bbtoken_create_t;

/* A personal token's owner must still be active when the row goes in;
 * expiry is the server's clock, the one the module compares with.  The
 * database's policy trigger may refuse the row or give it the default
 * expiry. */
static const char bbtoken_sql_create[] =
    "INSERT INTO bbtoken_tokens (id, user_id, name, project_perm,"
    " repo_perm, salt, secret_hash, expires_at, allowed_nets)"
    " SELECT $1, u.id, $2, $3, $4, $5, $6,"
    " now() + make_interval(days => $7::integer),"
    " NULLIF(string_to_array($9, ' '), '{}')::cidr[]"
    " FROM bbtoken_users u WHERE u.id = $8 AND "
    "u.active" BBTOKEN_CREATED_RETURNING;
static const char bbtoken_sql_create_scope[] =
    "INSERT INTO bbtoken_tokens (id, name, project_perm, repo_perm,"
    " salt, secret_hash, expires_at, project_key, repo_slug,"
    " allowed_nets)"
    " VALUES ($1, $2, $3, $4, $5, $6,"
    " now() + make_interval(days => $7::integer), $8, $10,"
    " NULLIF(string_to_array($9, ' '), "
    "'{}')::cidr[])" BBTOKEN_CREATED_RETURNING;

static PGresult *bbtoken_create_store(bbtoken_ctx_t *ctx, const bbt_minted_t *m,
                                      void *arg)
{
    bbtoken_create_t *c = arg;
    int personal = c->h->kind == BBT_KIND_PERSONAL;
    const char *params[10] = {m->id,   c->label, NULL, NULL,    m->salt,
                              m->hash, c->days,  NULL, c->nets, NULL};

    /* NULL for a repository's token, which has no project permission. */
    params[2] = bbt_perm_name(BBT_SCOPE_PROJECT, c->project);
    params[3] = bbt_perm_name(BBT_SCOPE_REPO, c->repo);
    params[7] = personal ? c->h->user.id : c->h->scope.key;
    params[9] = personal ? NULL : c->h->scope.slug;
    return PQexecParams(
        ctx->conn, personal ? bbtoken_sql_create : bbtoken_sql_create_scope,
        personal ? 9 : 10, NULL, params, NULL, NULL, 0);
}

static int bbtoken_create_stored(bbtoken_ctx_t *ctx, PGresult *res,
                                 const bbt_minted_t *m, void *arg)
{
    bbtoken_create_t *c = arg;
    int inserted = PQntuples(res) == 1;

    (void)ctx;
    (void)m;
    if (inserted && !c->days && !PQgetisnull(res, 0, 0)) {
        snprintf(c->note, sizeof(c->note),
                 "the token policy requires an expiry: this token expires in "
                 "%s days (%s), the maximum",
                 PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    if (!inserted) {
        return bbtoken_fail("user is disabled: %s",
                            bbtoken_repeatable(c->h->user.name));
    }
    return 0;
}

int bbtoken_cmd_create(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                       const bbtoken_args_t *a)
{
    bbtoken_holder_t h;
    bbt_kind_t kind;
    char nets[BBT_NETS_TEXT_MAX + 1];
    bbtoken_create_t c = {&h, a->label, a->days, NULL, 0, 0, "", {NULL}};
    const bbtoken_mint_t mt = {
        "creating the token",
        "committing the token (the token printed is not valid)",
        "no token was created",
        "the connection was lost at the token's COMMIT, so whether it was "
        "created is not known: if `bbtoken audit --token ID` shows it "
        "created, the token printed is valid",
        BBT_XACT_ASK(BBT_XACT_MADE("$3")),
        NULL,
        "creating the token (the token printed is valid)",
        bbtoken_create_store,
        bbtoken_create_stored,
        &c,
        c.held};
    int rc;

    if (!a->label) {
        return bbtoken_usage_error(cmd->usage, "create needs --name LABEL");
    }
    if ((rc = bbtoken_holder_args(cmd, a, &kind, &h.scope)) ||
        (rc = bbtoken_check_label(a->label)) ||
        (a->days && (rc = bbtoken_check_number("--expiry-days", a->days,
                                               BBT_EXPIRY_DAYS_MAX, 0))) ||
        (rc = bbtoken_kind_perm_pair(a, kind, &c.project, &c.repo)) ||
        (rc = bbtoken_nets_param(a, nets)) ||
        (rc = bbtoken_holder(ctx, cmd, a, &h))) {
        return rc;
    }
    if (h.kind == BBT_KIND_PERSONAL && !h.user.active) {
        return bbtoken_fail("user is disabled: %s",
                            bbtoken_repeatable(h.user.name));
    }
    c.nets = nets[0] ? nets : NULL;
    if (h.kind == BBT_KIND_PERSONAL) {
        c.held[1] = h.user.id;
    } else {
        c.held[2] = h.scope.key;
        c.held[3] = h.scope.slug;
    }
    if ((rc = bbtoken_mint_commit(ctx, &mt)) == 0 && c.note[0]) {
        fprintf(stderr, "bbtoken: %s\n", c.note);
    }
    return rc;
}

/* ---- list ------------------------------------------------------------- */

/* Columns of BBTOKEN_SQL_LIST, in order. */
enum {
    BBTOKEN_L_ID,
    BBTOKEN_L_NAME,
    BBTOKEN_L_PROJECT,
    BBTOKEN_L_REPO,
    BBTOKEN_L_CREATED,
    BBTOKEN_L_EXPIRES,
    BBTOKEN_L_LAST,
    BBTOKEN_L_CREATED_MS,
    BBTOKEN_L_EXPIRES_MS,
    BBTOKEN_L_LAST_MS,
    BBTOKEN_L_DAYS,
    BBTOKEN_L_EXPIRED,
    BBTOKEN_L_ADDRS,
    BBTOKEN_L_NETS,
    BBTOKEN_L_GROUPS
};

#define BBTOKEN_SQL_LIST                                                       \
    "SELECT id, name, project_perm, repo_perm,"                                \
    " to_char(created_at AT TIME ZONE 'UTC', " BBTOKEN_ISO "),"                \
    " to_char(expires_at AT TIME ZONE 'UTC', " BBTOKEN_ISO "),"                \
    " to_char(last_authenticated AT TIME ZONE 'UTC', " BBTOKEN_ISO "),"        \
    " (extract(epoch FROM created_at) * 1000)::bigint,"                        \
    " (extract(epoch FROM expires_at) * 1000)::bigint,"                        \
    " (extract(epoch FROM last_authenticated) * "                              \
    "1000)::bigint," BBTOKEN_SQL_DAYS ","                                      \
    " expires_at IS NOT NULL AND expires_at <= now(),"                         \
    " array_to_string(ARRAY(SELECT host(a) FROM unnest(last_addresses)"        \
    " WITH ORDINALITY AS x(a, n) ORDER BY n), ','),"                           \
    " array_to_string(allowed_nets, ','),"                                     \
    " (SELECT count(*) FROM bbtoken_token_nets n"                              \
    " WHERE n.token_id = bbtoken_tokens.id)"                                   \
    " FROM bbtoken_tokens"

/* expires_at - created_at is the days given, but a DST change in the
 * session's zone can skew the interval by an hour: round. */
#define BBTOKEN_SQL_DAYS                                                       \
    " round(extract(epoch FROM expires_at - created_at) / 86400)::integer"

static const char bbtoken_sql_list[] =
    BBTOKEN_SQL_LIST " WHERE user_id = $1 AND revoked_at IS NULL"
                     " ORDER BY created_at, id";
/* A project's (SLUG " IS NULL") or a repository's (" = $2") tokens.  Not
 * IS NOT DISTINCT FROM, which no index serves: each would read every
 * project and repository token of the site, where the partial unique
 * indexes on the holder's live names find the holder's. */
#define BBTOKEN_SQL_SCOPE(slug)                                                \
    "user_id IS NULL AND project_key = $1 AND repo_slug" slug
/* Revoke a batch of the live tokens of the holder WHO names (a
 * condition), lowest id first. */
#define BBTOKEN_SQL_REVOKE(who)                                                \
    "UPDATE bbtoken_tokens SET revoked_at = now()"                             \
    " WHERE id IN (SELECT id FROM bbtoken_tokens WHERE " who                   \
    " AND revoked_at IS NULL ORDER BY id LIMIT " BBTOKEN_WRITE_BATCH           \
    " FOR UPDATE)"
/* Whether the holder WHO names has a token not revoked. */
#define BBTOKEN_SQL_ANY_LIVE(who)                                              \
    "SELECT EXISTS (SELECT 1 FROM bbtoken_tokens WHERE " who                   \
    " AND revoked_at IS NULL)"
static const char *const bbtoken_sql_list_scope[2] = {
    BBTOKEN_SQL_LIST " WHERE " BBTOKEN_SQL_SCOPE(
        " IS NULL") " AND revoked_at IS NULL ORDER BY created_at, id",
    BBTOKEN_SQL_LIST " WHERE " BBTOKEN_SQL_SCOPE(
        " = $2") " AND revoked_at IS NULL ORDER BY created_at, id"};

static int bbtoken_list_json(const PGresult *res, const bbtoken_holder_t *h)
{
    json_t *arr = json_array();
    json_t *obj;
    int i;

    for (i = 0; arr && i < PQntuples(res); i++) {
        /* "o" steals its reference even when json_pack fails. */
        obj = json_pack(
            "{s:s, s:s, s:o, s:o*, s:o*, s:o*, s:o, s:b, s:o, s:o*, s:o}", "id",
            PQgetvalue(res, i, BBTOKEN_L_ID), "name",
            PQgetvalue(res, i, BBTOKEN_L_NAME), "createdDate",
            bbt_pgjson_int(res, i, BBTOKEN_L_CREATED_MS), "lastAuthenticated",
            bbt_pgjson_int(res, i, BBTOKEN_L_LAST_MS), "expiryDate",
            bbt_pgjson_int(res, i, BBTOKEN_L_EXPIRES_MS), "expiryDays",
            bbt_pgjson_int(res, i, BBTOKEN_L_DAYS), "permissions",
            bbtoken_perms_json(bbtoken_get(res, i, BBTOKEN_L_PROJECT, NULL),
                               PQgetvalue(res, i, BBTOKEN_L_REPO)),
            "expired", PQgetvalue(res, i, BBTOKEN_L_EXPIRED)[0] == 't',
            "lastAddresses",
            bbtoken_json_split(PQgetvalue(res, i, BBTOKEN_L_ADDRS), ","),
            "allowedAddresses",
            PQgetisnull(res, i, BBTOKEN_L_NETS)
                ? NULL
                : bbtoken_json_split(PQgetvalue(res, i, BBTOKEN_L_NETS), ","),
            "addressGroups", bbt_pgjson_int(res, i, BBTOKEN_L_GROUPS));
        if (!obj ||
            bbtoken_holder_json(
                obj, h->kind == BBT_KIND_PERSONAL ? h->user.name : NULL, -1,
                h->scope.key, h->scope.slug) != 0 ||
            json_array_append_new(arr, obj)) {
            json_decref(arr);
            return bbtoken_fail("cannot build JSON for token %s",
                                PQgetvalue(res, i, BBTOKEN_L_ID));
        }
    }
    return bbtoken_json_out(arr);
}

/* The fixed-width columns keep their width when no row fills it.
 * ALLOWED: the allow-list ("any"); GROUPS: how many address groups (IPv4
 * /24, IPv6 /64) the token was used from. */
static const bbtoken_column_t bbtoken_list_cols[] = {
    {"ID", 12, BBTOKEN_COL_VALUE, BBTOKEN_L_ID, 0, NULL},
    {"NAME", 0, BBTOKEN_COL_VALUE, BBTOKEN_L_NAME, 0, NULL},
    {"PERMISSIONS", 24, BBTOKEN_COL_PERMS, BBTOKEN_L_PROJECT, BBTOKEN_L_REPO,
     NULL},
    {"CREATED", 20, BBTOKEN_COL_VALUE, BBTOKEN_L_CREATED, 0, NULL},
    {"EXPIRES", 0, BBTOKEN_COL_EXPIRES, BBTOKEN_L_EXPIRES, BBTOKEN_L_EXPIRED,
     NULL},
    {"ALLOWED", 0, BBTOKEN_COL_VALUE, BBTOKEN_L_NETS, 0, "any"},
    {"GROUPS", 0, BBTOKEN_COL_VALUE, BBTOKEN_L_GROUPS, 0, NULL},
    {"LAST USED", 20, BBTOKEN_COL_VALUE, BBTOKEN_L_LAST, 0, "never"},
    {"FROM", 0, BBTOKEN_COL_VALUE, BBTOKEN_L_ADDRS, 0, NULL}};

int bbtoken_cmd_list(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                     const bbtoken_args_t *a)
{
    bbtoken_holder_t h;
    bbtoken_stream_t s;
    const char *params[2];
    PGresult *res;
    int rc;

    if ((rc = bbtoken_holder(ctx, cmd, a, &h))) {
        return rc;
    }
    if (h.kind == BBT_KIND_PERSONAL) {
        params[0] = h.user.id;
        res = bbtoken_exec(ctx, "listing tokens", bbtoken_sql_list, 1, params);
    } else {
        params[0] = h.scope.key;
        params[1] = h.scope.slug;
        res = bbtoken_exec(ctx, "listing tokens",
                           bbtoken_sql_list_scope[h.scope.slug != NULL],
                           h.scope.slug ? 2 : 1, params);
    }
    if (!res) {
        return BBTOKEN_EXIT_FAIL;
    }
    if (PQntuples(res) == 0 && (rc = bbtoken_holder_known(ctx, &h))) {
        PQclear(res);
        return rc;
    }
    if (a->json) {
        rc = bbtoken_list_json(res, &h);
        PQclear(res);
        return rc;
    }
    /* One holder's tokens, which a limit per holder bounds: one result. */
    bbtoken_stream_result(&s, res);
    rc = bbtoken_token_table(&s, bbtoken_list_cols,
                             BBTOKEN_NCOLS(bbtoken_list_cols), NULL);
    return bbtoken_stream_close(&s, rc);
}

/* ---- update, revoke --------------------------------------------------- */

int bbtoken_cmd_update(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                       const bbtoken_args_t *a)
{
    const char *params[5] = {a->operands[0], a->label, NULL, NULL, NULL};
    char nets[BBT_NETS_TEXT_MAX + 1];
    bbt_kind_t kind = BBT_KIND_PERSONAL;
    bbt_level_t project, repo;
    PGresult *res;
    long rows;
    int rc;

    if (a->days) {
        /* Refused here and, should anything else try, by the database. */
        return bbtoken_fail("the expiry of a token cannot be changed: create "
                            "a new token (and revoke this one)");
    }
    if (!a->label && a->nperms == 0 && a->nnets == 0 && !a->nets_any) {
        return bbtoken_usage_error(cmd->usage,
                                   "nothing to update: give --name, --perm, "
                                   "--allow-from or --allow-from-any");
    }
    if ((rc = bbtoken_check_id(params[0])) ||
        (a->label && (rc = bbtoken_check_label(a->label))) ||
        (rc = bbtoken_nets_param(a, nets)) || (rc = bbtoken_connect(ctx))) {
        return rc;
    }
    if (a->nperms) {
        /* A repository's token takes a repository permission alone. */
        res = bbtoken_exec(ctx, "reading the token",
                           "SELECT repo_slug IS NOT NULL AND user_id IS NULL"
                           " FROM bbtoken_tokens WHERE id = $1",
                           1, params);
        if (!res) {
            return BBTOKEN_EXIT_FAIL;
        }
        if (PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't') {
            kind = BBT_KIND_REPO;
        }
        PQclear(res);
        if ((rc = bbtoken_kind_perm_pair(a, kind, &project, &repo))) {
            return rc;
        }
        params[2] = bbt_perm_name(BBT_SCOPE_PROJECT, project);
        params[3] = bbt_perm_name(BBT_SCOPE_REPO, repo);
    }
    /* A NULL parameter leaves its column alone; an empty allow-list is
     * none (anywhere). */
    if (a->nnets || a->nets_any) {
        params[4] = nets;
    }
    /* The owner's row (a personal token's), before the token's: a rename's
     * policy trigger takes it, and a rotation takes it first
     * (sql/migrations/0063_rotate_owner_first.sql); taken after the token
     * it would wait in a circle with one.  The subquery runs as the scan
     * finds the token, before the UPDATE locks it; a token's owner never
     * changes. */
    rc = bbtoken_exec_audited(
        ctx, "updating the token",
        "WITH o AS (SELECT u.id FROM bbtoken_users u"
        " WHERE u.id = (SELECT user_id FROM bbtoken_tokens WHERE id = $1)"
        " FOR NO KEY UPDATE)"
        " UPDATE bbtoken_tokens"
        " SET name = COALESCE($2, name),"
        " project_perm = COALESCE($3, project_perm),"
        " repo_perm = COALESCE($4, repo_perm),"
        " allowed_nets = CASE WHEN $5::text IS NULL THEN allowed_nets"
        " ELSE NULLIF(string_to_array($5, ' '), '{}')::cidr[] END"
        " WHERE id = $1 AND revoked_at IS NULL"
        " AND user_id IS NOT DISTINCT FROM (SELECT id FROM o)",
        5, params, &rows);
    if (rc == 0 && rows == 0) {
        rc = bbtoken_token_missing(ctx, params[0], "token is revoked");
    }
    return rc;
}

/* Passes of bbtoken_revoke_all that find less than a batch, at most: one
 * more than the rotations it waited for, in practice two. */
#define BBTOKEN_REVOKE_PASSES 100

/* Revoke every live token of a user, a project (its own) or a
 * repository, a batch at a time, each its own transaction: a run stopped
 * midway keeps the batches it committed, and running it again revokes
 * the rest.  Lowest id first, as every revocation of more than one token
 * (sql/migrations/0024_lock_order.sql), so that it never waits in a circle
 * with a leak report or the deletion of a user; and again until none is
 * left: a rotation that held one of the tokens meanwhile made its new
 * token after this statement began, which that statement cannot see (it
 * revokes none when it waited for the only one), and no pass that waited
 * sees the new token: a check after a pass revoked none, of a snapshot of
 * its own, sees it, or the old token while the rotation is under way.  A
 * failure after a batch committed says how many were revoked: "nothing
 * was changed" would have the administrator believe every token still
 * live, as stdout, without the summary, does not tell. */
static int bbtoken_revoke_all(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                              const bbtoken_args_t *a)
{
    bbtoken_args_t b = *a;
    char *user[1];
    bbtoken_holder_t h;
    const char *params[2];
    const char *sql, *live, *whose;
    long rows, total = 0;
    int rc, pass = 0, n, left = 1;

    ctx->several = 1;
    /* --user NAME is the holder's NAME operand. */
    if (a->user) {
        user[0] = (char *)a->user;
        b.operands = user;
        b.noperands = 1;
    }
    if ((rc = bbtoken_holder(ctx, cmd, &b, &h))) {
        return rc;
    }
    whose =
        h.kind == BBT_KIND_PERSONAL ? bbtoken_repeatable(h.user.name) : h.what;
    if (h.kind == BBT_KIND_PERSONAL) {
        params[0] = h.user.id;
        n = 1;
        sql = BBTOKEN_SQL_REVOKE("user_id = $1");
        live = BBTOKEN_SQL_ANY_LIVE("user_id = $1");
    } else {
        params[0] = h.scope.key;
        params[1] = h.scope.slug;
        n = h.scope.slug ? 2 : 1;
        sql = h.scope.slug ? BBTOKEN_SQL_REVOKE(BBTOKEN_SQL_SCOPE(" = $2"))
                           : BBTOKEN_SQL_REVOKE(BBTOKEN_SQL_SCOPE(" IS NULL"));
        live = h.scope.slug
                   ? BBTOKEN_SQL_ANY_LIVE(BBTOKEN_SQL_SCOPE(" = $2"))
                   : BBTOKEN_SQL_ANY_LIVE(BBTOKEN_SQL_SCOPE(" IS NULL"));
    }
    while ((rc = bbtoken_exec_audited(ctx, "revoking the tokens", sql, n,
                                      params, &rows)) == 0) {
        if ((total += rows) > 0) {
            bbtoken_done_rest(ctx, BBTOKEN_REVOKES_REST,
                              "%ld token%s of %s %s revoked before it", total,
                              total == 1 ? "" : "s", whose,
                              total == 1 ? "was" : "were");
        }
        if (rows == 0 && (left = bbtoken_exec_bool(ctx, "revoking the tokens",
                                                   live, n, params)) <= 0) {
            rc = left < 0 ? BBTOKEN_EXIT_FAIL : 0;
            break;
        }
        if (rows < atol(BBTOKEN_WRITE_BATCH) &&
            ++pass == BBTOKEN_REVOKE_PASSES) {
            /* Fail closed: rotated again each time. */
            rc = bbtoken_fail("revoking the tokens: rotated again each "
                              "time, %d times: %ld revoked, some left; run "
                              "the command again",
                              pass, total);
            break;
        }
    }
    if (rc == 0 && total == 0) {
        rc = bbtoken_holder_known(ctx, &h);
    } else if (rc == 0) {
        /* None is left: its summary's write that fails promises no
         * rest. */
        if (total == 1) {
            bbtoken_done(
                ctx, "the one token of %s was revoked: none is left to revoke",
                whose);
        } else {
            bbtoken_done(
                ctx,
                "all %ld tokens of %s were revoked: none is left to revoke",
                total, whose);
        }
    }
    if (rc == 0) {
        printf("revoked %ld token%s of %s\n", total, total == 1 ? "" : "s",
               whose);
    }
    return rc;
}

int bbtoken_cmd_revoke(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                       const bbtoken_args_t *a)
{
    const char *params[1] = {a->noperands ? a->operands[0] : NULL};
    long rows;
    int rc;

    if (!!a->user + !!a->noperands + !!a->project + !!a->repo > 1) {
        return bbtoken_usage_error(cmd->usage,
                                   "give a token ID, --user NAME, --project "
                                   "KEY or --repo KEY/slug: one of them");
    }
    if (a->user || a->project || a->repo) {
        return bbtoken_revoke_all(ctx, cmd, a);
    }
    if (!a->noperands) {
        return bbtoken_usage_error(cmd->usage,
                                   "revoke takes a token ID, --user NAME, "
                                   "--project KEY or --repo KEY/slug");
    }
    if ((rc = bbtoken_check_id(params[0])) || (rc = bbtoken_connect(ctx))) {
        return rc;
    }
    rc = bbtoken_exec_audited(ctx, "revoking the token",
                              "UPDATE bbtoken_tokens SET revoked_at = now()"
                              " WHERE id = $1 AND revoked_at IS NULL",
                              1, params, &rows);
    if (rc == 0 && rows == 0) {
        rc = bbtoken_token_missing(ctx, params[0], "token already revoked");
    }
    return rc;
}
