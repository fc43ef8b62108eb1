/*
 * The COMMIT of the access-tokens API's writes (bbt_rest_commit.h).
 */
#include "httpd.h"
#include "http_log.h"
#include "apr_strings.h"

#include <stdint.h>
#include <string.h>

#include <libpq-fe.h>

#include "bbt_config.h"
#include "bbt_db.h"
#include "bbt_rest_commit.h"
#include "bbt_rest_db.h"
#include "bbt_rest_json.h"
#include "bbt_sqlstate.h"

APLOG_USE_MODULE(bbtoken);

/* What each write was doing, as BBT200 says it elsewhere. */
static const char *bbt_rest_commit_what(const bbt_rest_commit_t *c)
{
    switch (c->write) {
    case BBT_REST_WRITE_CREATE:
        return "creating a token";
    case BBT_REST_WRITE_ROTATE:
        return "rotating a token";
    case BBT_REST_WRITE_UPDATE:
        return "updating a token";
    default:
        return "revoking a token";
    }
}

/* The 503's message where the outcome is not known: which token, and how
 * to learn it.  A create's or a rotation's secret was never shown, and is
 * wiped with the request: a token made without it is one nobody can use,
 * to revoke (or rotate, for a secret shown this time). */
static const char *bbt_rest_commit_unknown(apr_pool_t *p,
                                           const bbt_rest_commit_t *c)
{
    static const char lost[] = "The connection to the token database was "
                               "lost before it confirmed the change, so ";

    switch (c->write) {
    case BBT_REST_WRITE_CREATE:
        return apr_psprintf(p,
                            "%swhether token %s was created is not known. "
                            "If it is listed, it was, but its secret cannot "
                            "be shown again: revoke it (or rotate it for a "
                            "new secret).",
                            lost, c->id);
    case BBT_REST_WRITE_ROTATE:
        return apr_psprintf(p,
                            "%swhether token %s was rotated into token %s is "
                            "not known. If token %s is still listed, it was "
                            "not rotated and is still valid; if token %s is "
                            "listed instead, its secret cannot be shown "
                            "again: revoke it (or rotate it for a new "
                            "secret).",
                            lost, c->old, c->id, c->old, c->id);
    case BBT_REST_WRITE_UPDATE:
        return apr_psprintf(p,
                            "%swhether token %s was changed is not known: "
                            "look at it before trying again.",
                            lost, c->id);
    default:
        return apr_psprintf(p,
                            "%swhether token %s was revoked is not known: if "
                            "it is still listed, revoke it again.",
                            lost, c->id);
    }
}

void bbt_rest_commit_xid(bbt_rest_t *x, bbt_rest_commit_t *c,
                         const PGresult *res)
{
    int n = PQnfields(res);

    if (n >= 2 && PQntuples(res) == 1 && !PQgetisnull(res, 0, n - 2) &&
        !PQgetisnull(res, 0, n - 1)) {
        c->xid = apr_pstrdup(x->r->pool, PQgetvalue(res, 0, n - 2));
        c->server = apr_pstrdup(x->r->pool, PQgetvalue(res, 0, n - 1));
    }
}

/* The question about c's transaction ($1, on server $2), with the rows'
 * evidence of this write (bbt_xact.h), token $3 (a rotation's old one
 * $4; what an update asked $4 to $7). */
static const char *bbt_rest_commit_ask(const bbt_rest_commit_t *c)
{
    switch (c->write) {
    case BBT_REST_WRITE_CREATE:
        return BBT_XACT_ASK(BBT_XACT_MADE("$3"));
    case BBT_REST_WRITE_ROTATE:
        return BBT_XACT_ASK(BBT_XACT_ROTATED("$3", "$4"));
    case BBT_REST_WRITE_UPDATE:
        return BBT_XACT_ASK(BBT_XACT_CHANGED("$3", "$4", "$5", "$6", "$7"));
    default:
        return BBT_XACT_ASK(BBT_XACT_REVOKED("$3"));
    }
}

/* Why a transaction said committed is not taken as c's: what the rows
 * lack, and what may have happened. */
static const char *bbt_rest_commit_unshown(apr_pool_t *p,
                                           const bbt_rest_commit_t *c)
{
    static const char reused[] = "its id may have been given again to "
                                 "another transaction after a crash lost "
                                 "this one";

    switch (c->write) {
    case BBT_REST_WRITE_CREATE:
        return apr_psprintf(p,
                            "transaction %s committed, but token %s is not "
                            "in the database: %s",
                            c->xid, c->id, reused);
    case BBT_REST_WRITE_ROTATE:
        return apr_psprintf(p,
                            "transaction %s committed, but token %s is not "
                            "in the database, or token %s is not revoked: %s",
                            c->xid, c->id, c->old, reused);
    case BBT_REST_WRITE_UPDATE:
        return apr_psprintf(p,
                            "transaction %s committed, but token %s is "
                            "revoked or does not hold what the update "
                            "asked: the token was changed since, or %s",
                            c->xid, c->id, reused);
    default:
        return apr_psprintf(p,
                            "transaction %s committed, but token %s is not "
                            "revoked: %s",
                            c->xid, c->id, reused);
    }
}

/* Each question on the connection made again, what made it fail kept
 * (x->failed). */
static PGresult *bbt_rest_commit_exec(void *arg, const char *sql, int n,
                                      const char *const *params)
{
    bbt_rest_t *x = arg;

    x->failed = x->refused = NULL;
    return bbt_rest_exec(x, sql, n, params);
}

/* On the connection made again, what PostgreSQL says became of c's
 * transaction (bbt_xact_ask, asking again for BBTokenDBWait's seconds
 * while it is in progress): 1 committed, with the rows showing it; 0
 * aborted; or -1 and *why if it cannot say. */
static int bbt_rest_commit_status(bbt_rest_t *x, const bbt_rest_commit_t *c,
                                  const char **why)
{
    const char *params[7] = {c->xid, c->server, c->id, c->old};
    int wait = bbt_config_db_wait(x->r->server), n = c->old ? 4 : 3;

    if (!c->xid) {
        *why = "its transaction's id was not read";
        return -1;
    }
    if (c->write == BBT_REST_WRITE_UPDATE) {
        memcpy(params + 3, c->asked, 4 * sizeof(*params));
        n = 7;
    }
    switch (bbt_xact_ask(bbt_rest_commit_exec, x, bbt_rest_commit_ask(c), n,
                         params, (int64_t)wait * 1000000)) {
    case BBT_XACT_DONE:
        return 1;
    case BBT_XACT_NOT_DONE:
        return 0;
    case BBT_XACT_UNSHOWN:
        *why = bbt_rest_commit_unshown(x->r->pool, c);
        break;
    case BBT_XACT_PENDING:
        *why = apr_psprintf(x->r->pool,
                            "transaction %s was still in progress after "
                            "%d s (BBTokenDBWait)",
                            c->xid, wait);
        break;
    case BBT_XACT_ELSEWHERE:
        *why = apr_psprintf(x->r->pool,
                            "the server connected to is not the one that "
                            "ran transaction %s (started at another "
                            "time: another server, or restarted)",
                            c->xid);
        break;
    case BBT_XACT_FORGOTTEN:
        *why = apr_psprintf(x->r->pool,
                            "transaction %s is too old for the server to "
                            "say",
                            c->xid);
        break;
    default:
        *why = x->failed ? x->failed : "its status could not be read";
        break;
    }
    return -1;
}

int bbt_rest_commit(bbt_rest_t *x, const bbt_rest_commit_t *c, int *rc)
{
    const char *what = bbt_rest_commit_what(c), *lost, *which;
    const char *why = NULL;
    char line[512];
    int found;

    if (bbt_rest_cmd(x, "COMMIT") == 0) {
        return 0;
    }
    /* The server answered: it did not commit. */
    if (PQstatus(x->pg) == CONNECTION_OK) {
        bbt_rest_cmd(x, "ROLLBACK");
        *rc = bbt_rest_unavailable(x, what);
        return -1;
    }
    lost = x->failed
               ? x->failed
               : apr_pstrdup(x->r->pool,
                             bbt_sql_line(line, sizeof(line),
                                          PQerrorMessage(x->pg), "no answer"));
    which = c->old
                ? apr_pstrcat(x->r->pool, c->old, " into token ", c->id, NULL)
                : c->id;
    found = bbt_db_reconnected(x->db) ? bbt_rest_commit_status(x, c, &why) : -1;
    if (found > 0) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, x->r,
                      "BBT281: access-tokens API: %s: the connection was "
                      "lost at its COMMIT (%s); connected again, the "
                      "database says its transaction %s committed (token "
                      "%s), the rows show it, and it is answered as done",
                      what, lost, c->xid, which);
        return 0;
    }
    if (found == 0) {
        x->failed = apr_psprintf(x->r->pool,
                                 "the connection was lost at its COMMIT "
                                 "(%s); connected again, the database "
                                 "says its transaction %s did not commit: "
                                 "not done (token %s)",
                                 lost, c->xid, which);
        x->refused = NULL;
        *rc = bbt_rest_unavailable(x, what);
        return -1;
    }
    /* Not connected again: libpq's reason, which a failed question that
     * lost the connection once more may have met too. */
    if (bbt_db_unreached(x->db)) {
        why = apr_pstrcat(
            x->r->pool, "not connected again: ", bbt_db_unreached(x->db), NULL);
    } else if (!why) {
        why = "not connected again";
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, x->r,
                  "BBT282: access-tokens API: %s: the connection was lost at "
                  "its COMMIT (%s), and whether it took effect is not known "
                  "(token %s): the database could not say: %s",
                  what, lost, which, why);
    *rc = bbt_rest_error(x->r, HTTP_SERVICE_UNAVAILABLE, BBT_REST_EX_DB,
                         bbt_rest_commit_unknown(x->r->pool, c));
    return -1;
}
