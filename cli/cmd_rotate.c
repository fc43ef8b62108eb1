/*
 * rotate ID: a new token in place of a live one, the old one revoked in
 * the same transaction.  What the new token keeps and how long it lives is
 * the database's rule (bbtoken_rotate, sql/migrations/0011_rotate.sql),
 * shared with the REST API; the secret is made here.  As with create, the
 * new token is printed once, on stdout, before the transaction commits.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "bbt_token.h"
#include "db.h"

/* One attempt; BBTOKEN_ROTATE_AGAIN if the new id was taken, else 0 or
 * an exit status after reporting. */
#define BBTOKEN_ROTATE_AGAIN (-1)

static int bbtoken_rotate_once(bbtoken_ctx_t *ctx, const char *id)
{
    char line[BBT_TOKEN_MAX_LEN + 2]; /* the token and a newline */
    bbt_minted_t m;
    const char *params[4] = {id, m.id, m.salt, m.hash};
    char expires[64];
    PGresult *res;
    size_t len;
    int rc = BBTOKEN_EXIT_FAIL, in_tx = 0;

    if (bbt_token_mint(&m) != 0) {
        rc = bbtoken_fail("the random number generator failed");
        goto done;
    }
    if (!(res = bbtoken_exec(ctx, "rotating the token", "BEGIN", 0, NULL))) {
        goto done;
    }
    PQclear(res);
    in_tx = 1;
    res = PQexecParams(ctx->conn,
                       "SELECT to_char(bbtoken_rotate($1, $2, $3, $4)"
                       " AT TIME ZONE 'UTC', " BBTOKEN_ISO ")",
                       4, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        if (bbtoken_classify(res) == BBT_SQL_ID_TAKEN) {
            PQclear(res);
            rc = BBTOKEN_ROTATE_AGAIN;
        } else {
            rc = bbtoken_db_fail(ctx, res, "rotating the token");
        }
        goto done;
    }
    snprintf(expires, sizeof(expires), "%s", bbtoken_get(res, 0, 0, "never"));
    PQclear(res);
    /* Print before committing: a token nobody saw must not replace one. */
    len = strlen(m.token);
    memcpy(line, m.token, len);
    line[len] = '\n';
    if (bbtoken_write_all(line, len + 1) != 0) {
        rc = bbtoken_fail("cannot write the token to stdout (%s); token %s "
                          "was not rotated",
                          strerror(errno), id);
        goto done;
    }
    in_tx = 0;
    if ((res = bbtoken_exec(ctx,
                            "committing the rotation (the token printed is "
                            "not valid; the old one still is)",
                            "COMMIT", 0, NULL))) {
        PQclear(res);
        fprintf(stderr,
                "bbtoken: token %s is revoked; its replacement is token %s, "
                "expires %s\n",
                id, m.id, expires);
        rc = 0;
    }

done:
    if (in_tx) {
        bbtoken_exec_quiet(ctx, "ROLLBACK");
    }
    bbt_minted_wipe(&m);
    OPENSSL_cleanse(line, sizeof(line));
    return rc;
}

int bbtoken_cmd_rotate(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                       const bbtoken_args_t *a)
{
    int rc, tries;

    (void)cmd;
    if ((rc = bbtoken_check_id(a->operands[0])) ||
        (rc = bbtoken_connect(ctx))) {
        return rc;
    }
    /* A closed stdout must come back as EPIPE: rolled back with a
     * message, not a silent death. */
    signal(SIGPIPE, SIG_IGN);
    for (tries = 0; tries < BBT_MINT_TRIES; tries++) {
        rc = bbtoken_rotate_once(ctx, a->operands[0]);
        if (rc != BBTOKEN_ROTATE_AGAIN) {
            return rc;
        }
    }
    return bbtoken_fail("no free token id after %d tries", BBT_MINT_TRIES);
}
