/*
 * Revoking leaked tokens by their value (bbt_rest_leaked.h).
 *
 * Whoever holds a token could use it, so holding it is proof enough to
 * revoke it: no login is asked for.  What a client may learn is only what
 * it could learn offline: a body it got wrong (not an array of strings,
 * too many) is 400; every other answer, valid tokens or not, is the same
 * 202 with the same body, after the same work: each well-formed token's
 * row is read in one query and its secret hashed against the row's salt,
 * or a dummy salt when there is no live row, and compared in constant
 * time, as a login is checked (bbt_verify.c); then one transaction hands
 * the ones that verified to the database, which compares the hash again
 * and revokes them as leaked.  Only the revocation itself costs more.
 * Where OpenSSL fails to hash a token (out of memory), nothing is revoked
 * and the answer is 503: the uniform 202 would tell the reporter that a
 * token left live is revoked.
 *
 * Calls are counted per client address in the database
 * (bbtoken_api_leak_throttle): over BBT_LEAK_CALLS in BBT_LEAK_WINDOW_SECS
 * is 429 with Retry-After.  A token is never logged, only a revoked one's
 * id.
 */
#include "httpd.h"
#include "http_log.h"
#include "http_protocol.h"
#include "apr_strings.h"

#include <arpa/inet.h>
#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "bbt_agroup.h"
#include "bbt_cache.h"
#include "bbt_input.h"
#include "bbt_rest_db.h"
#include "bbt_rest_json.h"
#include "bbt_rest_leaked.h"
#include "bbt_token.h"
#include "bbt_where.h"

APLOG_USE_MODULE(bbtoken);

/* What a step returns when the request goes on: no handler's answer (OK,
 * an HTTP status) is negative. */
#define BBT_LEAK_GO_ON (-1)

/* A salt and hash of the right shape that no token matches, so that a
 * token without a live row costs the same hashing as one with a row. */
static const char bbt_leak_dummy_salt[] = "00000000000000000000000000000000";
static const char bbt_leak_dummy_hash[] =
    "0000000000000000000000000000000000000000000000000000000000000000";

/* The body's tokens that parse (right shape and checksum) into toks, their
 * count into *ntok; NULL, or the reason the body is refused.  *failed is
 * set where a token's checksum could not be computed. */
static const char *bbt_leak_tokens(bbt_rest_t *x, bbt_token_t *toks, int *ntok,
                                   int *failed)
{
    size_t i, n = json_array_size(x->body);
    bbt_token_status_t st;
    json_t *v;

    *ntok = 0;
    *failed = 0;
    if (n == 0 || n > BBT_LEAK_TOKENS_MAX) {
        return apr_psprintf(x->r->pool,
                            "send 1 to %d tokens, as a JSON array of strings",
                            BBT_LEAK_TOKENS_MAX);
    }
    json_array_foreach(x->body, i, v)
    {
        if (!json_is_string(v)) {
            return "each element must be a string: a token";
        }
    }
    json_array_foreach(x->body, i, v)
    {
        if (strlen(json_string_value(v)) != json_string_length(v)) {
            continue;
        }
        st = bbt_token_parse(json_string_value(v), json_string_length(v),
                             &toks[*ntok]);
        if (st == BBT_TOKEN_OK) {
            (*ntok)++;
        } else if (st == BBT_TOKEN_CHECK_FAILED) {
            *failed = 1;
        }
    }
    return NULL;
}

/* One call of an API function (sql, three parameters) in a transaction of
 * its own, READ COMMITTED (bbt_rest_begin: under a default of REPEATABLE
 * READ two reports from one address at once failed each other's count,
 * 40001), run again while the database aborts it to let a concurrent one
 * go on: its result, committed, or NULL and the handler's answer in *rc. */
static PGresult *bbt_leak_call(bbt_rest_t *x, const char *sql,
                               const char *const *params, const char *what,
                               int *rc)
{
    PGresult *res;
    int attempt;

    for (attempt = 0;; attempt++) {
        /* The revocation's function names its source, actor and address
         * itself; the other settings the triggers read, and
         * session_replication_role, are the transaction's to set. */
        if (bbt_rest_begin(x, "leak report") != 0) {
            *rc = bbt_rest_unavailable(x, "starting a transaction");
            return NULL;
        }
        res = bbt_rest_exec(x, sql, 3, params);
        if (PQresultStatus(res) == PGRES_TUPLES_OK ||
            !bbt_rest_conflict(x, res, attempt, what)) {
            break;
        }
        PQclear(res);
        bbt_rest_cmd(x, "ROLLBACK");
    }
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        *rc = bbt_rest_refusal(x, res, NULL);
        bbt_rest_cmd(x, "ROLLBACK");
        if (*rc < 0) {
            *rc = bbt_rest_unavailable(x, what);
        }
        return NULL;
    }
    if (bbt_rest_cmd(x, "COMMIT") != 0) {
        PQclear(res);
        bbt_rest_cmd(x, "ROLLBACK");
        *rc = bbt_rest_unavailable(x, what);
        return NULL;
    }
    return res;
}

/* Count this call: BBT_LEAK_GO_ON if it may go on, else the handler's
 * answer (429, or what a failure answers). */
static int bbt_leak_throttle(bbt_rest_t *x)
{
    char v4[INET_ADDRSTRLEN];
    /* Counted as the failed-login throttle counts: an IPv4 client's
     * address inside an IPv6 one (NAT64, 6to4) is the IPv4 address, not
     * the /64 the database would take. */
    const char *params[3] = {
        bbt_agroup_v4_text(bbt_where_ip(x->r), v4, sizeof(v4)),
        apr_itoa(x->r->pool, BBT_LEAK_CALLS),
        apr_itoa(x->r->pool, BBT_LEAK_WINDOW_SECS)};
    PGresult *res;
    const char *wait;
    int rc;

    res = bbt_leak_call(x,
                        "SELECT bbtoken_api_leak_throttle($1, $2::integer,"
                        " $3::integer)",
                        params, "counting a leak report", &rc);
    if (!res) {
        return rc;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return bbt_rest_unavailable(x, "counting a leak report");
    }
    wait = apr_pstrdup(x->r->pool, PQgetvalue(res, 0, 0));
    PQclear(res);
    if (strcmp(wait, "0") == 0) {
        return BBT_LEAK_GO_ON;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, x->r,
                  "BBT231: access-tokens API: too many leak reports from %s "
                  "(429, retry after %s s)",
                  x->r->useragent_ip, wait);
    apr_table_setn(x->r->headers_out, "Retry-After", wait);
    return bbt_rest_error(x->r, HTTP_TOO_MANY_REQUESTS, BBT_REST_EX_RATE,
                          "Too many leak reports from this address; try "
                          "again later.");
}

/* The live rows of toks' ids: id, salt, secret_hash; NULL if the query
 * failed. */
static PGresult *bbt_leak_rows(bbt_rest_t *x, const bbt_token_t *toks, int ntok)
{
    const char *params[1];
    char *ids;
    int i;

    /* Ids are 12 digits: an array literal needs no quoting. */
    ids = apr_pcalloc(x->r->pool, (size_t)ntok * (BBT_TOKEN_ID_LEN + 1) + 3);
    strcpy(ids, "{");
    for (i = 0; i < ntok; i++) {
        if (i) {
            strcat(ids, ",");
        }
        strcat(ids, toks[i].id);
    }
    strcat(ids, "}");
    params[0] = ids;
    /* Each id looked up on its own, in a subquery OFFSET 0 keeps whole:
     * as "id = ANY($1) AND revoked_at IS NULL", statistics that call the
     * table empty (which this role cannot mend) made PostgreSQL read every
     * live token through the partial index of their names. */
    return bbt_rest_exec(x,
                         "SELECT k.id, k.salt, k.secret_hash"
                         " FROM (SELECT DISTINCT i.id FROM unnest($1::text[])"
                         " i (id)) i CROSS JOIN LATERAL (SELECT t.id, t.salt,"
                         " t.secret_hash, t.revoked_at, t.expires_at"
                         " FROM bbtoken_tokens t WHERE t.id = i.id OFFSET 0) k"
                         " WHERE k.revoked_at IS NULL"
                         " AND (k.expires_at IS NULL OR k.expires_at > now())",
                         1, params);
}

/* Check each token against its row (or the dummy), and build the array
 * literals of the ids and hashes that verified.  Each check keys its HMAC
 * afresh: a run of unknown ids, all under the dummy salt, would otherwise
 * cost less than ids that exist.  0, or -1 if an HMAC failed (OpenSSL):
 * then a token that may be valid is in neither list. */
static int bbt_leak_verify(bbt_rest_t *x, const PGresult *rows,
                           const bbt_token_t *toks, int ntok, const char **ids,
                           const char **hashes)
{
    const char *salt, *hash;
    char mine[BBT_HASH_HEX_LEN + 1];
    int i, j, nrows = PQntuples(rows), found, ok, failed = 0;

    *ids = "{";
    *hashes = "{";
    for (i = 0; i < ntok; i++) {
        salt = bbt_leak_dummy_salt;
        hash = bbt_leak_dummy_hash;
        found = 0;
        for (j = 0; j < nrows; j++) {
            if (strcmp(PQgetvalue(rows, j, 0), toks[i].id) == 0) {
                salt = PQgetvalue(rows, j, 1);
                hash = PQgetvalue(rows, j, 2);
                found = 1;
            }
        }
        /* The hash sent is the one computed from the presented secret, not
         * the row's: the database compares the two again, and that check
         * means something only if they come from different places. */
        ok = bbt_token_verify_fresh(salt, hash, &toks[i]);
        if (ok < 0 ||
            (ok && found && bbt_token_hash_hex(salt, &toks[i], mine) != 0)) {
            failed = 1;
            break;
        }
        if (ok && found) {
            *ids = apr_pstrcat(x->r->pool, *ids, (*ids)[1] ? "," : "",
                               toks[i].id, NULL);
            *hashes = apr_pstrcat(x->r->pool, *hashes, (*hashes)[1] ? "," : "",
                                  mine, NULL);
        }
    }
    *ids = apr_pstrcat(x->r->pool, *ids, "}", NULL);
    *hashes = apr_pstrcat(x->r->pool, *hashes, "}", NULL);
    return failed ? -1 : 0;
}

/* A report some of whose tokens could not be checked (what failed):
 * nothing of it revoked, 503 with Retry-After, as where the database
 * cannot answer. */
static int bbt_leak_unchecked(bbt_rest_t *x, const char *what)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, x->r,
                  "BBT232: access-tokens API: a leak report from %s could "
                  "not be checked, nothing of it revoked (503): %s failed: "
                  "%s",
                  x->r->useragent_ip, what, bbt_token_crypto_why());
    return bbt_rest_error(x->r, HTTP_SERVICE_UNAVAILABLE, BBT_REST_EX_DB,
                          "The tokens received could not be checked, and "
                          "none of them is revoked; send them again later.");
}

/* Revoke what verified, in one transaction: BBT_LEAK_GO_ON, or the
 * handler's answer to a failure. */
static int bbt_leak_revoke(bbt_rest_t *x, const char *ids, const char *hashes)
{
    const char *params[3] = {bbt_where_ip(x->r), ids, hashes};
    PGresult *res;
    int i, n, rc;

    res = bbt_leak_call(x,
                        "SELECT bbtoken_api_revoke_leaked($1, $2::text[],"
                        " $3::text[])",
                        params, "revoking leaked tokens", &rc);
    if (!res) {
        return rc;
    }
    /* This server sees it at once; the others when PostgreSQL tells them.
     * Only what was revoked: a report anyone may send must not empty the
     * cache.  (The reporter, who holds the tokens, can learn nothing from
     * this that using them would not tell.) */
    n = PQntuples(res);
    for (i = 0; i < n; i++) {
        bbt_cache_forget_token(PQgetvalue(res, i, 0));
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, x->r,
                      "BBT230: access-tokens API: token %s revoked as "
                      "leaked, reported from %s",
                      PQgetvalue(res, i, 0), x->r->useragent_ip);
    }
    PQclear(res);
    return BBT_LEAK_GO_ON;
}

int bbt_rest_leaked_revoke(bbt_rest_t *x, const bbt_rest_user_t *caller,
                           const bbt_rest_user_t *owner)
{
    bbt_token_t *toks;
    const char *why, *ids, *hashes;
    PGresult *rows;
    int i, ntok, rc, failed;

    (void)caller;
    (void)owner;
    /* Sized by the limit, not by the body: a body of 20,000 elements is
     * refused before anything is made of them. */
    toks = apr_pcalloc(x->r->pool, sizeof(*toks) * BBT_LEAK_TOKENS_MAX);
    if ((why = bbt_leak_tokens(x, toks, &ntok, &failed))) {
        rc = bbt_rest_error(x->r, HTTP_BAD_REQUEST, BBT_REST_EX_ARG, why);
        goto done;
    }
    if (failed) {
        rc = bbt_leak_unchecked(x, "a token's checksum (SHA-256)");
        goto done;
    }
    if ((rc = bbt_leak_throttle(x)) != BBT_LEAK_GO_ON) {
        goto done;
    }
    rows = bbt_leak_rows(x, toks, ntok);
    if (PQresultStatus(rows) != PGRES_TUPLES_OK) {
        rc = bbt_rest_refusal(x, rows, NULL);
        if (rc < 0) {
            rc = bbt_rest_unavailable(x, "reading reported tokens");
        }
        goto done;
    }
    failed = bbt_leak_verify(x, rows, toks, ntok, &ids, &hashes) != 0;
    PQclear(rows);
    if (failed) {
        rc = bbt_leak_unchecked(x, "a token's HMAC");
        goto done;
    }
    if ((rc = bbt_leak_revoke(x, ids, hashes)) != BBT_LEAK_GO_ON) {
        goto done;
    }
    rc =
        bbt_rest_send(x->r, HTTP_ACCEPTED,
                      json_pack("{s:I, s:s}", "received",
                                (json_int_t)json_array_size(x->body), "message",
                                "Each valid token among those received is "
                                "now revoked, and its owner will be told."));
done:
    for (i = 0; i < ntok; i++) {
        bbt_token_wipe(&toks[i]);
    }
    return rc;
}
