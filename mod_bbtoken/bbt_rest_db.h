/*
 * The access-tokens REST API's database work (internal to the bbt_rest_*
 * files): one request's connection, its statements and transactions, the
 * users it names, its tokens as Bitbucket's JSON, and what a refused
 * statement or an outage answers.
 *
 * Reads are plain SELECTs; changes go through the SECURITY DEFINER
 * functions of sql/migrations/0003_rest.sql, inside a transaction that
 * tells the audit trail who asked (bbt_rest_begin).
 */
#ifndef BBT_REST_DB_H
#define BBT_REST_DB_H

#include "httpd.h"
#include "apr_hash.h"

#include <jansson.h>
#include <libpq-fe.h>

#include "bbt_db.h"
#include "bbt_rest_req.h"

/* One request to the API. */
typedef struct {
    request_rec *r;
    bbt_db_conn_t *db;
    PGconn *pg;
    bbt_rest_path_t path; /* the user (or the project or repository) and
                             token id it names */
    json_t *body;         /* a PUT's or POST's JSON object, read before any
                             database work; the handler frees it */
    apr_hash_t *args;     /* the query's arguments, decoded
                             (bbt_rest_args.h) */
    const char *failed;   /* the last failed statement's error, one log
                             line: the ROLLBACK after it clears libpq's */
    const char *refused;  /* where that failure was a privilege the
                             database refused the API's role (SQLSTATE
                             42501), PostgreSQL's primary message */
} bbt_rest_t;

/* The caller or the user of the path, from bbtoken_users. */
typedef struct {
    const char *id;
    const char *name;
    const char *slug;
    const char *email;        /* NULL when unset */
    const char *display_name; /* the name when unset */
    const char *self_url;     /* links.self: Bitbucket's /users/{slug} */
    int active;
    int admin;
} bbt_rest_user_t;

/* The columns of a token, in the order bbt_rest_token_json reads them,
 * of t (BBT_REST_COLS: of bbtoken_tokens t). */
#define BBT_REST_SELECT                                                        \
    "SELECT t.id, t.name,"                                                     \
    " (extract(epoch FROM t.created_at) * 1000)::bigint,"                      \
    " (extract(epoch FROM t.last_authenticated) * 1000)::bigint,"              \
    " round(extract(epoch FROM t.expires_at - t.created_at) / "                \
    "86400)::integer,"                                                         \
    " (extract(epoch FROM t.expires_at) * 1000)::bigint,"                      \
    " t.project_perm, t.repo_perm, array_to_string(t.allowed_nets, ' '),"      \
    " (SELECT count(*) FROM bbtoken_token_nets n WHERE n.token_id = t.id),"    \
    " host(t.last_addresses[1])"
#define BBT_REST_COLS BBT_REST_SELECT " FROM bbtoken_tokens t"

/* Token $1, found by its id alone, as t: in a subquery that OFFSET 0 keeps
 * whole, so no other condition reaches that scan and the primary key
 * serves it whatever the statistics say.  With the holder's conditions
 * beside it, statistics that call the table empty (which the API's role
 * cannot mend) made PostgreSQL walk a partial index of the live tokens,
 * all of a site's project and repository tokens for one of them. */
#define BBT_REST_COLS_BY_ID                                                    \
    BBT_REST_SELECT " FROM (SELECT k.* FROM bbtoken_tokens k"                  \
                    " WHERE k.id = $1 OFFSET 0) t"

/* The live tokens of the path's project ($2, its key) or repository ($3,
 * its slug; NULL for a project's own tokens), none with an owner. */
#define BBT_REST_HELD_23                                                       \
    "t.user_id IS NULL AND t.project_key = $2 AND"                             \
    " t.repo_slug IS NOT DISTINCT FROM $3 AND t.revoked_at IS NULL"

/* Log what failed (what: "listing tokens"...) and answer 503 with
 * Retry-After (BBT200); or, where the failed statement was refused a
 * privilege (x->refused), whichever statement it was, 500 (BBT250): a
 * GRANT missing is the server's configuration, not an outage.  The
 * handler's return value. */
int bbt_rest_unavailable(bbt_rest_t *x, const char *what);

/* A statement with text parameters. */
PGresult *bbt_rest_exec(bbt_rest_t *x, const char *sql, int n,
                        const char *const *params);

/* A statement whose result does not matter beyond success: 0 or -1. */
int bbt_rest_cmd(bbt_rest_t *x, const char *sql);

/* How every write of the API begins.  The schema's triggers order a token
 * written meanwhile and a change of its owner, its grants or the policy's
 * counts only in READ COMMITTED, where each statement reads what was
 * committed when it began: under a database's default of REPEATABLE READ
 * the create read the owner's grants and tokens as of its first statement,
 * before it waited for the owner's row, and kept a level a grant removed
 * meanwhile had given, or passed the token limit. */
#define BBT_REST_BEGIN "BEGIN ISOLATION LEVEL READ COMMITTED"

/* BEGIN, and the audit's session settings for caller: 0, or -1 (rolled
 * back). */
int bbt_rest_begin(bbt_rest_t *x, const char *caller);

/* How many times a statement or transaction the database aborted to let
 * a concurrent one go on (BBT_SQL_CONFLICT) is run in all. */
#define BBT_REST_CONFLICT_TRIES 4

/* Whether failed res is such an abort and attempt (0 for the first) may be
 * followed by another: then 1, logged (BBT295; what: "revoking a
 * token"...), and the caller rolls back and runs it again; else 0.  res is
 * left to the caller. */
int bbt_rest_conflict(bbt_rest_t *x, const PGresult *res, int attempt,
                      const char *what);

/* The tries of a call that mints a token id (create, rotate), each
 * bounded on its own: a fresh id that was taken mints another, up to
 * BBT_MINT_TRIES in all; a try the database aborted
 * (BBT_SQL_CONFLICT) is run again, up to BBT_REST_CONFLICT_TRIES in all. */
typedef struct {
    const char *what; /* "creating a token", "rotating a token" */
    int taken;        /* tries refused for a taken id */
    int aborted;      /* tries the database aborted */
    int again;        /* set by bbt_rest_refusal: mint again, run again */
} bbt_rest_tries_t;

/* The 503 when the tries are used up: BBT200 saying what was being done
 * and which ran out ("the database aborted it each time", "every fresh
 * token id was taken"). */
int bbt_rest_tries_spent(bbt_rest_t *x, const bbt_rest_tries_t *t,
                         const char *state);

/* Answer a failed call of an API function (res is cleared), as
 * bbt_sql_classify reads it, in bbt_sql_message's words: the caller's
 * refusals 400, 401 or 404; a privilege the database refused httpd's role
 * 500 (logged); -1 (nothing answered) for any other server fault, an
 * abort of the database's (BBT_SQL_CONFLICT) among them.  With tries
 * non-NULL, a taken token id or such an abort (logged, BBT295) is counted
 * there and, while its bound allows another try, sets tries->again and
 * answers nothing: the caller mints again and runs it again; once it does
 * not, the answer is bbt_rest_tries_spent's. */
int bbt_rest_refusal(bbt_rest_t *x, PGresult *res, bbt_rest_tries_t *tries);

/* A user by name exactly as given (by_name: the caller, whom a password
 * file may tell from another spelling), or by slug (the user of the path,
 * as Bitbucket names users).  0 and *found, or -1 if the query failed. */
int bbt_rest_user(bbt_rest_t *x, const char *key, int by_name,
                  bbt_rest_user_t *u, int *found);

/* A project (slug NULL) or a repository as Bitbucket shows it: project
 * {key, links.self}, or repository {slug, project {...}, links.self}.  NULL
 * if out of memory. */
json_t *bbt_rest_place_json(request_rec *r, const char *key, const char *slug);

/* One row of a listing's result as JSON, or NULL if out of memory. */
typedef json_t *bbt_rest_row_fn(const bbt_rest_t *x, const PGresult *res,
                                int row, const void *arg);

/* A listing's page (bbt_rest_page_json) of res's rows, each made by fn:
 * res was asked for limit + 1 rows, so that one more says the page is
 * not the last.  res is cleared.  NULL if out of memory. */
json_t *bbt_rest_page_of(const bbt_rest_t *x, PGresult *res, long start,
                         long limit, bbt_rest_row_fn *fn, const void *arg);

/* Bitbucket's token JSON for a row of BBT_REST_COLS: with its owner's
 * user object, or (owner NULL) the project or repository of x's path.
 * NULL if out of memory. */
json_t *bbt_rest_token_json(const bbt_rest_t *x, const PGresult *res, int row,
                            const bbt_rest_user_t *owner);

/* One live token of owner (NULL: of the path's project or repository) as
 * JSON: 0 and *json (NULL if there is none), or -1 if the query failed. */
int bbt_rest_load_one(bbt_rest_t *x, const bbt_rest_user_t *owner,
                      const char *id, json_t **json);

#endif
