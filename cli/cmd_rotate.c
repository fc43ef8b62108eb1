/*
 * rotate ID: a new token in place of a live one, the old one revoked in
 * the same transaction.  What the new token keeps and how long it lives is
 * the database's rule (bbtoken_rotate, sql/migrations/0011_rotate.sql),
 * shared with the REST API; the secret is made here, and as with create the
 * new token is printed once, on stdout, before the transaction commits
 * (mint.c).
 */
#include <stdio.h>

#include "bbt_xact.h"
#include "db.h"
#include "mint.h"

/* The token rotated, and what the new one's row says. */
typedef struct {
    const char *id;
    char new_id[BBT_TOKEN_ID_LEN + 1];
    char expires[64];
} bbtoken_rotate_t;

static PGresult *bbtoken_rotate_store(bbtoken_ctx_t *ctx, const bbt_minted_t *m,
                                      void *arg)
{
    const bbtoken_rotate_t *r = arg;
    const char *params[4] = {r->id, m->id, m->salt, m->hash};

    return PQexecParams(ctx->conn,
                        "SELECT to_char(bbtoken_rotate($1, $2, $3, $4)"
                        " AT TIME ZONE 'UTC', " BBTOKEN_ISO ")",
                        4, NULL, params, NULL, NULL, 0);
}

static int bbtoken_rotate_stored(bbtoken_ctx_t *ctx, PGresult *res,
                                 const bbt_minted_t *m, void *arg)
{
    bbtoken_rotate_t *r = arg;

    if (PQntuples(res) != 1) {
        return bbtoken_db_fail(ctx, res, "rotating the token");
    }
    snprintf(r->new_id, sizeof(r->new_id), "%s", m->id);
    snprintf(r->expires, sizeof(r->expires), "%s",
             bbtoken_get(res, 0, 0, "never"));
    PQclear(res);
    return 0;
}

int bbtoken_cmd_rotate(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                       const bbtoken_args_t *a)
{
    bbtoken_rotate_t r = {a->operands[0], "", ""};
    const char *held[4] = {r.id, NULL, NULL, NULL};
    char unwritten[64], lost[256];
    const bbtoken_mint_t mt = {"rotating the token",
                               "committing the rotation (the token printed "
                               "is not valid; the old one still is)",
                               unwritten,
                               lost,
                               BBT_XACT_ASK(BBT_XACT_ROTATED("$3", "$4")),
                               r.id,
                               "rotating the token (the token printed is "
                               "valid; the old one is revoked)",
                               bbtoken_rotate_store,
                               bbtoken_rotate_stored,
                               &r,
                               held};
    int rc;

    (void)cmd;
    if ((rc = bbtoken_check_id(r.id)) || (rc = bbtoken_connect(ctx))) {
        return rc;
    }
    snprintf(unwritten, sizeof(unwritten), "token %s was not rotated", r.id);
    snprintf(lost, sizeof(lost),
             "the connection was lost at the rotation's COMMIT, so whether "
             "it took effect is not known: if `bbtoken audit --token %s` "
             "shows it rotated, the token printed replaced it and is valid; "
             "if not, it is not valid and token %s still is",
             r.id, r.id);
    if ((rc = bbtoken_mint_commit(ctx, &mt)) == 0) {
        fprintf(stderr,
                "bbtoken: token %s is revoked; its replacement is token %s, "
                "expires %s\n",
                r.id, r.new_id, r.expires);
    }
    return rc;
}
