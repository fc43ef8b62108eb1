/*
 * The access-tokens REST API's database work (bbt_rest_db.h).
 */
#include "httpd.h"
#include "http_core.h"
#include "http_log.h"
#include "apr_strings.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "bbt_input.h"
#include "bbt_pgjson.h"
#include "bbt_rest_db.h"
#include "bbt_rest_json.h"
#include "bbt_sessionsql.h"
#include "bbt_sqlstate.h"
#include "bbt_tokshape.h"
#include "bbt_where.h"

APLOG_USE_MODULE(bbtoken);

/* 503 for what failed, and why (BBT200): the one line for every way the
 * API loses the database. */
static int bbt_rest_failed(bbt_rest_t *x, const char *what, const char *why)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, x->r,
                  "BBT200: access-tokens API: %s failed: %s", what, why);
    return bbt_rest_error(x->r, HTTP_SERVICE_UNAVAILABLE, BBT_REST_EX_DB,
                          BBT_REST_MSG_DB);
}

/* 500 for a privilege the database refused the API's role (BBT250):
 * the role's grants are wrong, whichever statement met it; never "not
 * permitted", which would blame the caller. */
static int bbt_rest_no_privilege(bbt_rest_t *x, const char *primary)
{
    char line[512];

    ap_log_rerror(
        APLOG_MARK, APLOG_ERR, 0, x->r,
        "BBT250: access-tokens API: the database refused the "
        "API's role a privilege (sql/grants-api.sql not run for "
        "it?): %s",
        bbt_sql_line(line, sizeof(line), primary, "permission denied"));
    return bbt_rest_error(x->r, HTTP_INTERNAL_SERVER_ERROR, BBT_REST_EX_SERVER,
                          "The token database refused this server: it is "
                          "misconfigured.");
}

int bbt_rest_unavailable(bbt_rest_t *x, const char *what)
{
    const char *msg = x->pg ? PQerrorMessage(x->pg) : NULL;
    char line[512];

    if (x->refused) {
        return bbt_rest_no_privilege(x, x->refused);
    }
    /* The failed statement's own words: libpq's last are the ROLLBACK's
     * after it, empty where it succeeded, "no connection to the server"
     * where the connection died with the statement. */
    if (x->failed) {
        return bbt_rest_failed(x, what, x->failed);
    }
    return bbt_rest_failed(
        x, what, bbt_sql_line(line, sizeof(line), msg, "no connection"));
}

/* A failed statement outside a transaction on a connection PostgreSQL
 * had dropped (every pooled one, after a restart) is asked again once the
 * driver has connected it again, as the token lookup does (bbt_db.c): 1.
 * In a transaction it is not: its earlier statements died with the
 * connection (0, as for any other failure).  -1: it was not connected
 * again (bbt_db_unreached says why, unless what failed has logged it). */
static int bbt_rest_again(bbt_rest_t *x, const PGresult *res, int idle)
{
    ExecStatusType st = PQresultStatus(res);
    char line[512];

    if (!idle || st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ||
        PQstatus(x->pg) == CONNECTION_OK) {
        return 0;
    }
    ap_log_rerror(
        APLOG_MARK, APLOG_WARNING, 0, x->r,
        "BBT280: access-tokens API: the database connection was "
        "lost (will reconnect and retry once): %s",
        bbt_sql_line(line, sizeof(line), PQerrorMessage(x->pg), "no message"));
    return bbt_db_reconnected(x->db) ? 1 : -1;
}

PGresult *bbt_rest_exec(bbt_rest_t *x, const char *sql, int n,
                        const char *const *params)
{
    int idle = PQtransactionStatus(x->pg) == PQTRANS_IDLE;
    PGresult *res = PQexecParams(x->pg, sql, n, NULL, params, NULL, NULL, 0);
    int again = bbt_rest_again(x, res, idle);
    const char *why;

    if (again > 0) {
        PQclear(res);
        res = PQexecParams(x->pg, sql, n, NULL, params, NULL, NULL, 0);
    } else if (again < 0 && (why = bbt_db_unreached(x->db)) != NULL) {
        /* The statement's words say only that the old connection was
         * lost: why no new one was made is the failure to tell. */
        x->failed = apr_pstrcat(x->r->pool,
                                "the connection PostgreSQL dropped could not "
                                "be connected again: ",
                                why, NULL);
        x->refused = NULL;
        return res;
    }
    /* In a transaction, its first failure is the one to tell: what follows
     * it (a ROLLBACK) fails because of it. */
    if ((PQresultStatus(res) == PGRES_FATAL_ERROR ||
         PQresultStatus(res) == PGRES_BAD_RESPONSE) &&
        (idle || !x->failed)) {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        char line[512];

        x->failed = apr_pstrdup(
            x->r->pool, bbt_sql_line(line, sizeof(line),
                                     PQresultErrorMessage(res), "no answer"));
        x->refused = bbt_sql_classify(state, NULL, NULL) == BBT_SQL_PRIVILEGE
                         ? apr_pstrdup(x->r->pool,
                                       primary ? primary : "permission denied")
                         : NULL;
    }
    return res;
}

int bbt_rest_cmd(bbt_rest_t *x, const char *sql)
{
    PGresult *res;

    /* A new transaction: an earlier one's failure is not its. */
    if (strncmp(sql, "BEGIN", 5) == 0) {
        x->failed = x->refused = NULL;
    }
    res = bbt_rest_exec(x, sql, 0, NULL);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK ||
             PQresultStatus(res) == PGRES_TUPLES_OK;

    PQclear(res);
    return ok ? 0 : -1;
}

/* Where the pooled session's session_replication_role (srr) is not
 * origin, set it for the transaction (bbt_sessionsql.h): 0, or -1 with
 * x->failed saying why (the caller rolls back). */
static int bbt_rest_origin(bbt_rest_t *x, const char *srr)
{
    PGresult *res;
    int ok;

    if (strcmp(srr, "origin") == 0) {
        return 0;
    }
    res = bbt_rest_exec(x, BBT_SESSION_ORIGIN_SQL("true"), 0, NULL);
    ok = PQresultStatus(res) == PGRES_TUPLES_OK;
    if (!ok && x->refused) {
        /* Not the grants' fault, as BBT250 would say: the setting's. */
        x->failed = apr_pstrcat(
            x->r->pool, "session_replication_role is ", srr,
            " (DBDParams' options, PGOPTIONS, ALTER "
            "ROLE or ALTER DATABASE ... SET), " BBT_SESSION_SRR_REFUSED,
            NULL);
        x->refused = NULL;
    }
    PQclear(res);
    return ok ? 0 : -1;
}

int bbt_rest_begin(bbt_rest_t *x, const char *caller)
{
    const char *params[2] = {caller, bbt_where_ip(x->r)};
    PGresult *res;
    int ok;

    if (bbt_rest_cmd(x, BBT_REST_BEGIN) != 0) {
        return -1;
    }
    /* Every setting the schema's triggers read is this transaction's own,
     * whatever the pooled session inherited (bbt_sessionsql.h). */
    res = bbt_rest_exec(
        x,
        "SELECT " BBT_SESSION_SETTINGS_SQL("'http'", "$1", "$2",
                                           "true") ", " BBT_SESSION_SRR_SQL,
        2, params);
    ok = PQresultStatus(res) == PGRES_TUPLES_OK &&
         bbt_rest_origin(x, PQgetvalue(res, 0, BBT_SESSION_SETTINGS_COLS)) == 0;
    PQclear(res);
    if (!ok) {
        bbt_rest_cmd(x, "ROLLBACK");
        return -1;
    }
    return 0;
}

/* The database's encoding as the server reported it when connecting: no
 * round trip. */
static const char *bbt_rest_encoding(const bbt_rest_t *x)
{
    const char *v = PQparameterStatus(x->pg, "server_encoding");

    return v ? v : "unknown";
}

int bbt_rest_conflict(bbt_rest_t *x, const PGresult *res, int attempt,
                      const char *what)
{
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

    if (bbt_sql_classify(state, NULL, NULL) != BBT_SQL_CONFLICT ||
        attempt + 1 >= BBT_REST_CONFLICT_TRIES) {
        return 0;
    }
    /* Nothing of it was done: the database undid the whole transaction. */
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, x->r,
                  "BBT295: access-tokens API: %s: the database aborted it to "
                  "let a concurrent change go on (SQLSTATE %s); running it "
                  "again",
                  what, state);
    return 1;
}

int bbt_rest_tries_spent(bbt_rest_t *x, const bbt_rest_tries_t *t,
                         const char *state)
{
    return bbt_rest_failed(
        x, t->what,
        t->aborted >= BBT_REST_CONFLICT_TRIES
            ? apr_psprintf(x->r->pool,
                           "the database aborted it each time, %d times, to "
                           "let a concurrent change go on (SQLSTATE %s)",
                           t->aborted, state ? state : "unknown")
            : apr_psprintf(x->r->pool,
                           "every fresh token id was taken, %d times",
                           t->taken));
}

/* The database's words as the caller is told them: the schema's messages
 * quote the holder's and the token's names, and a user made before names
 * were refused so may be named like a token, which no answer repeats. */
static const char *bbt_rest_shown(bbt_rest_t *x, const char *msg)
{
    size_t len = strlen(msg), size = BBT_TOKSHAPE_MASK_SIZE(len);
    char *buf = apr_palloc(x->r->pool, size);

    memcpy(buf, msg, len + 1);
    bbt_token_mask(buf, size);
    return buf;
}

int bbt_rest_refusal(bbt_rest_t *x, PGresult *res, bbt_rest_tries_t *tries)
{
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *constraint = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
    const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    bbt_sql_class_t cls = bbt_sql_classify(state, constraint, primary);
    const char *msg = bbt_sql_message(state, constraint, primary);
    int rc;

    msg = bbt_rest_shown(x, msg ? msg : "refused by the database");
    if (tries) {
        tries->again = 0;
    }
    switch (cls) {
    case BBT_SQL_CONFLICT:
        if (!tries) {
            rc = -1;
        } else if (bbt_rest_conflict(x, res, tries->aborted++, tries->what)) {
            tries->again = 1;
            rc = OK;
        } else {
            rc = bbt_rest_tries_spent(x, tries, state);
        }
        break;
    case BBT_SQL_ID_TAKEN:
        if (!tries) {
            rc = bbt_rest_error(x->r, HTTP_BAD_REQUEST, BBT_REST_EX_ARG, msg);
        } else if (++tries->taken < BBT_MINT_TRIES) {
            tries->again = 1;
            rc = OK;
        } else {
            rc = bbt_rest_tries_spent(x, tries, state);
        }
        break;
    case BBT_SQL_PRIVILEGE:
        rc = bbt_rest_no_privilege(x, primary);
        break;
    case BBT_SQL_NOT_PERMITTED:
        rc = bbt_rest_error(x->r, HTTP_UNAUTHORIZED, BBT_REST_EX_AUTH, msg);
        break;
    case BBT_SQL_NO_SUCH_USER:
        rc = bbt_rest_error(x->r, HTTP_NOT_FOUND, BBT_REST_EX_NO_USER, msg);
        break;
    case BBT_SQL_NO_SUCH_TOKEN:
        rc = bbt_rest_error(x->r, HTTP_NOT_FOUND, BBT_REST_EX_NO_TOKEN, msg);
        break;
    case BBT_SQL_UNSTORABLE:
        /* The API's only text that is not ASCII is a token's name. */
        rc = bbt_rest_error(
            x->r, HTTP_BAD_REQUEST, BBT_REST_EX_ARG,
            apr_psprintf(x->r->pool,
                         "The token name cannot be stored: it holds a "
                         "character that the token database's encoding (%s) "
                         "does not have.",
                         bbt_rest_encoding(x)));
        break;
    case BBT_SQL_NAME_TAKEN:
    case BBT_SQL_POLICY:
    case BBT_SQL_REFUSED:
        /* The table's CHECKs and the policy trigger, in words for the
         * person who asked. */
        rc = bbt_rest_error(x->r, HTTP_BAD_REQUEST, BBT_REST_EX_ARG, msg);
        break;
    default:
        rc = -1;
        break;
    }
    PQclear(res);
    return rc;
}

/* A column of row 0, copied, or NULL when it is SQL NULL. */
static const char *bbt_rest_col(bbt_rest_t *x, const PGresult *res, int col)
{
    return PQgetisnull(res, 0, col)
               ? NULL
               : apr_pstrdup(x->r->pool, PQgetvalue(res, 0, col));
}

int bbt_rest_user(bbt_rest_t *x, const char *key, int by_name,
                  bbt_rest_user_t *u, int *found)
{
    const char *params[1] = {key};
    PGresult *res;

    /* A name the users' CHECK refuses is nobody's, and may be text the
     * database's encoding cannot take (a password provider's user named in
     * Chinese, a LATIN1 database): not asked. */
    if (by_name && (!key || !bbt_input_user_name(key, strlen(key)))) {
        *found = 0;
        return 0;
    }
    res = bbt_rest_exec(
        x,
        by_name ? "SELECT id, name, active, is_admin, slug, email,"
                  " display_name FROM bbtoken_users WHERE name = $1"
                : "SELECT id, name, active, is_admin, slug, email,"
                  " display_name FROM bbtoken_users WHERE slug = $1",
        1, params);

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        PQclear(res);
        return -1;
    }
    *found = PQntuples(res) == 1;
    if (*found) {
        u->id = bbt_rest_col(x, res, 0);
        u->name = bbt_rest_col(x, res, 1);
        u->active = PQgetvalue(res, 0, 2)[0] == 't';
        u->admin = PQgetvalue(res, 0, 3)[0] == 't';
        u->slug = bbt_rest_col(x, res, 4);
        u->email = bbt_rest_col(x, res, 5);
        u->display_name = bbt_rest_col(x, res, 6);
        if (!u->display_name) {
            u->display_name = u->name;
        }
        /* Where Bitbucket shows a user, on this server's own scheme, host
         * and port: slugs need no escaping. */
        u->self_url = ap_construct_url(
            x->r->pool, apr_pstrcat(x->r->pool, "/users/", u->slug, NULL),
            x->r);
    }
    PQclear(res);
    return 0;
}

/* Bitbucket's user object: emailAddress only when there is one, as
 * Bitbucket leaves it out. */
static json_t *bbt_rest_user_json(const bbt_rest_user_t *u)
{
    return json_pack("{s:s, s:s*, s:b, s:s, s:I, s:s, s:s, s:{s:[{s:s}]}}",
                     "name", u->name, "emailAddress", u->email, "active",
                     u->active, "displayName", u->display_name, "id",
                     (json_int_t)strtoll(u->id, NULL, 10), "slug", u->slug,
                     "type", "NORMAL", "links", "self", "href", u->self_url);
}

/* A token's permissions: [project, repo], or [repo] alone for a
 * repository's token, which has no project level. */
static json_t *bbt_rest_perms_json(const PGresult *res, int row)
{
    return PQgetisnull(res, row, 6)
               ? json_pack("[s]", PQgetvalue(res, row, 7))
               : json_pack("[s,s]", PQgetvalue(res, row, 6),
                           PQgetvalue(res, row, 7));
}

json_t *bbt_rest_place_json(request_rec *r, const char *key, const char *slug)
{
    const char *project = apr_pstrcat(r->pool, "/projects/", key, NULL);
    json_t *p = json_pack("{s:s, s:{s:[{s:s}]}}", "key", key, "links", "self",
                          "href", ap_construct_url(r->pool, project, r));

    if (!slug) {
        return p;
    }
    return json_pack("{s:s, s:o, s:{s:[{s:s}]}}", "slug", slug, "project", p,
                     "links", "self", "href",
                     ap_construct_url(r->pool,
                                      apr_pstrcat(r->pool, project, "/repos/",
                                                  slug, "/browse", NULL),
                                      r));
}

/* Who holds a token without an owner: the project or repository of the
 * path. */
static json_t *bbt_rest_holder_json(const bbt_rest_t *x)
{
    return bbt_rest_place_json(x->r, x->path.key,
                               x->path.repo[0] ? x->path.repo : NULL);
}

/* A token's allow-list, space-separated: an array of networks, empty when
 * the token is taken from anywhere. */
static json_t *bbt_rest_nets_json(const char *nets)
{
    json_t *arr = json_array();
    const char *p = nets;

    while (arr && *p) {
        size_t n = strcspn(p, " ");

        if (n && json_array_append_new(arr, json_stringn(p, n)) != 0) {
            json_decref(arr);
            return NULL;
        }
        p += n + (p[n] == ' ');
    }
    return arr;
}

json_t *bbt_rest_token_json(const bbt_rest_t *x, const PGresult *res, int row,
                            const bbt_rest_user_t *owner)
{
    /* "o" steals its reference even when json_pack fails. */
    return json_pack(
        "{s:s, s:s, s:o, s:o*, s:o*, s:o*, s:o, s:o, s:o, s:o, s:s*}", "id",
        PQgetvalue(res, row, 0), "name", PQgetvalue(res, row, 1), "createdDate",
        bbt_pgjson_int(res, row, 2), "lastAuthenticated",
        bbt_pgjson_int(res, row, 3), "expiryDays", bbt_pgjson_int(res, row, 4),
        "expiryDate", bbt_pgjson_int(res, row, 5), "permissions",
        bbt_rest_perms_json(res, row),
        owner             ? "user"
        : x->path.repo[0] ? "repository"
                          : "project",
        owner ? bbt_rest_user_json(owner) : bbt_rest_holder_json(x),
        "allowedAddresses", bbt_rest_nets_json(PQgetvalue(res, row, 8)),
        "addressGroups", bbt_pgjson_int(res, row, 9), "lastAddress",
        PQgetisnull(res, row, 10) ? NULL : PQgetvalue(res, row, 10));
}

json_t *bbt_rest_page_of(const bbt_rest_t *x, PGresult *res, long start,
                         long limit, bbt_rest_row_fn *fn, const void *arg)
{
    int n = PQntuples(res), last = n <= limit, i;
    json_t *values = json_array(), *v;

    if (!last) {
        n = (int)limit;
    }
    for (i = 0; values && i < n; i++) {
        v = fn(x, res, i, arg);
        if (!v || json_array_append_new(values, v) != 0) {
            json_decref(values);
            values = NULL;
        }
    }
    PQclear(res);
    return values ? bbt_rest_page_json(values, start, limit, last) : NULL;
}

int bbt_rest_load_one(bbt_rest_t *x, const bbt_rest_user_t *owner,
                      const char *id, json_t **json)
{
    const char *params[3] = {id, owner ? owner->id : x->path.key,
                             x->path.repo[0] ? x->path.repo : NULL};
    PGresult *res =
        owner ? bbt_rest_exec(x,
                              BBT_REST_COLS_BY_ID " WHERE t.user_id = $2 AND"
                                                  " t.revoked_at IS NULL",
                              2, params)
              : bbt_rest_exec(x, BBT_REST_COLS_BY_ID " WHERE " BBT_REST_HELD_23,
                              3, params);

    *json = NULL;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        PQclear(res);
        return -1;
    }
    if (PQntuples(res) == 1) {
        *json = bbt_rest_token_json(x, res, 0, owner);
    }
    PQclear(res);
    return 0;
}
