/*
 * libFuzzer target: the Authorization parser, then the token codec on
 * whatever secret it yields, exactly as the module chains them.  Any crash,
 * overread (ASan) or broken invariant aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bbt_cred.h"
#include "bbt_token.h"
#include "bbt_tokshape.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char buf[BBT_CRED_MAX_HEADER + 1];
    char *hdr = malloc(size + 1);
    bbt_cred_t cred;
    bbt_token_t tok;
    int held;

    if (!hdr) {
        return 0;
    }
    memcpy(hdr, data, size);
    hdr[size] = '\0';
    switch (bbt_cred_parse(hdr, buf, sizeof(buf), &cred)) {
    case BBT_CRED_BASIC:
        if (!cred.user || cred.user_len == 0 ||
            strlen(cred.user) != cred.user_len) {
            abort();
        }
        /* fall through */
    case BBT_CRED_BEARER:
        if (!cred.secret || cred.secret_len == 0 ||
            strlen(cred.secret) != cred.secret_len) {
            abort();
        }
        if (bbt_token_parse(cred.secret, cred.secret_len, &tok) ==
            BBT_TOKEN_OK) {
            bbt_token_wipe(&tok);
        }
        break;
    case BBT_CRED_MALFORMED:
        if (!cred.why) {
            abort();
        }
        break;
    default:
        break;
    }
    /* A credential is a token, a password for the providers, or neither;
     * never both.  Bearer is always a token; Basic is one when its password
     * parses as one. */
    if (bbt_cred_carries_token(&cred) && bbt_cred_is_password(&cred)) {
        abort();
    }
    if (cred.kind == BBT_CRED_BEARER && !bbt_cred_carries_token(&cred)) {
        abort();
    }
    if (cred.kind != BBT_CRED_BASIC && bbt_cred_is_password(&cred)) {
        abort();
    }
    if (cred.kind == BBT_CRED_BASIC) {
        bbt_token_status_t st = bbt_cred_token(&cred, &tok);

        if (bbt_cred_carries_token(&cred) !=
            (st == BBT_TOKEN_OK || st == BBT_TOKEN_CHECK_FAILED)) {
            abort();
        }
    }
    bbt_token_wipe(&tok);
    /* What an error page is not handed (bbt_cred_holds_token) covers every
     * Basic credential kept from the providers as shaped like a token, and
     * every Bearer token. */
    held = bbt_cred_holds_token(hdr);
    if (cred.kind == BBT_CRED_BASIC && !bbt_cred_is_password(&cred) && !held) {
        abort();
    }
    if (cred.kind == BBT_CRED_BEARER &&
        bbt_token_shaped(cred.secret, cred.secret_len) && !held) {
        abort();
    }
    free(hdr);
    return 0;
}
