/*
 * A new token's transaction, for create and rotate (db.h): mint it, store
 * it, print it once on stdout, commit (bbtoken_tx); a taken id is drawn
 * again.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "db.h"

/* A try's body: the id drawn was taken; not an exit status. */
#define BBTOKEN_MINT_AGAIN (-1)

/* A token's transaction, across the tries bbtoken_tx makes of it. */
typedef struct {
    const bbtoken_mint_t *mt;
    bbtoken_tx_t tx;
    bbt_minted_t m;
    int shown; /* m is on stdout */
    char lost[512];
} bbtoken_minting_t;

/* Store the token, and print it before bbtoken_tx commits: a token nobody
 * saw must not become valid.  Once printed, a try the database aborted is
 * run again with the same token, not printed again: the abort undid the
 * row, so what the next try stores is what stdout shows. */
static int bbtoken_mint_body(bbtoken_ctx_t *ctx, void *arg)
{
    bbtoken_minting_t *g = arg;
    const bbtoken_mint_t *mt = g->mt;
    char line[BBT_TOKEN_MAX_LEN + 2]; /* the token and a newline */
    PGresult *res;
    size_t len;
    int rc;

    if (!g->shown && bbt_token_mint(&g->m) != 0) {
        return bbtoken_fail("the random number generator failed");
    }
    res = mt->store(ctx, &g->m, mt->arg);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        /* Only a taken id is worth another draw: one a live token holds,
         * or one a purged token used (ids are never reused). */
        if (bbtoken_classify(res) != BBT_SQL_ID_TAKEN) {
            /* On a try after the token was printed, the message must say
             * that what stdout shows is not valid, whatever the reason. */
            return bbtoken_db_fail(ctx, res, g->shown ? mt->commit : mt->what);
        }
        PQclear(res);
        if (g->shown) {
            return bbtoken_fail("%s: its id was taken meanwhile", mt->commit);
        }
        return BBTOKEN_MINT_AGAIN;
    }
    if ((rc = mt->stored(ctx, res, &g->m, mt->arg)) != 0) {
        /* stored said why in its own words; after the token was printed,
         * also that what stdout shows is not valid. */
        if (g->shown) {
            bbtoken_fail("%s", mt->commit);
        }
        return rc;
    }
    if (g->shown) {
        return 0;
    }
    len = strlen(g->m.token);
    memcpy(line, g->m.token, len);
    line[len] = '\n';
    rc = bbtoken_write_all(STDOUT_FILENO, line, len + 1);
    OPENSSL_cleanse(line, sizeof(line));
    if (rc != 0) {
        return bbtoken_fail("cannot write the token to stdout (%s); %s",
                            strerror(errno), mt->unwritten);
    }
    /* From here on, any failure leaves the token printed invalid; but a
     * COMMIT whose answer is lost may have made it valid. */
    g->shown = 1;
    g->tx.what = mt->commit;
    snprintf(g->lost, sizeof(g->lost), "%s; the token printed is token %s",
             mt->lost, g->m.id);
    g->tx.lost = g->lost;
    return 0;
}

int bbtoken_mint_commit(bbtoken_ctx_t *ctx, const bbtoken_mint_t *mt)
{
    bbtoken_minting_t g;
    int rc = BBTOKEN_MINT_AGAIN, tries;

    memset(&g, 0, sizeof(g));
    g.mt = mt;
    g.tx.commit = mt->commit;
    g.tx.begin = "BEGIN";
    g.tx.body = bbtoken_mint_body;
    g.tx.arg = &g;
    for (tries = 0; tries < BBT_MINT_TRIES && rc == BBTOKEN_MINT_AGAIN;
         tries++) {
        g.tx.what = mt->what;
        rc = bbtoken_tx(ctx, &g.tx);
    }
    bbt_minted_wipe(&g.m);
    if (rc == BBTOKEN_MINT_AGAIN) {
        return bbtoken_fail("no free token id after %d tries", BBT_MINT_TRIES);
    }
    return rc;
}
