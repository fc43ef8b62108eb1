/*
 * A new token's transaction, for create and rotate (db.h): mint it, store
 * it, print it once on stdout, commit; a taken id is drawn again.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "db.h"

/* bbtoken_mint_once: the id drawn was taken; not an exit status. */
#define BBTOKEN_MINT_AGAIN (-1)

static int bbtoken_mint_once(bbtoken_ctx_t *ctx, const bbtoken_mint_t *mt)
{
    char line[BBT_TOKEN_MAX_LEN + 2]; /* the token and a newline */
    bbt_minted_t m;
    PGresult *res;
    size_t len;
    int rc = BBTOKEN_EXIT_FAIL, in_tx = 0;

    if (bbt_token_mint(&m) != 0) {
        rc = bbtoken_fail("the random number generator failed");
        goto done;
    }
    if (!(res = bbtoken_exec(ctx, mt->what, "BEGIN", 0, NULL))) {
        goto done;
    }
    PQclear(res);
    in_tx = 1;
    res = mt->store(ctx, &m, mt->arg);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        /* Only a taken id is worth another try: one a live token holds,
         * or one a purged token used (ids are never reused). */
        if (bbtoken_classify(res) == BBT_SQL_ID_TAKEN) {
            PQclear(res);
            rc = BBTOKEN_MINT_AGAIN;
        } else {
            rc = bbtoken_db_fail(ctx, res, mt->what);
        }
        goto done;
    }
    if ((rc = mt->stored(ctx, res, &m, mt->arg)) != 0) {
        goto done;
    }
    rc = BBTOKEN_EXIT_FAIL;
    /* Print before committing: a token nobody saw must not become valid. */
    len = strlen(m.token);
    memcpy(line, m.token, len);
    line[len] = '\n';
    if (bbtoken_write_all(line, len + 1) != 0) {
        rc = bbtoken_fail("cannot write the token to stdout (%s); %s",
                          strerror(errno), mt->unwritten);
        goto done;
    }
    in_tx = 0;
    if ((res = bbtoken_exec(ctx, mt->commit, "COMMIT", 0, NULL))) {
        PQclear(res);
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

int bbtoken_mint_commit(bbtoken_ctx_t *ctx, const bbtoken_mint_t *mt)
{
    int rc, tries;

    /* A closed stdout must come back as EPIPE, so that the token is rolled
     * back with a message rather than by a silent death. */
    signal(SIGPIPE, SIG_IGN);
    for (tries = 0; tries < BBT_MINT_TRIES; tries++) {
        rc = bbtoken_mint_once(ctx, mt);
        if (rc != BBTOKEN_MINT_AGAIN) {
            return rc;
        }
    }
    return bbtoken_fail("no free token id after %d tries", BBT_MINT_TRIES);
}
