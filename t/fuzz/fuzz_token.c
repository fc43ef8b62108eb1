/*
 * libFuzzer target: the token codec and strict base64 on raw bytes.  A
 * parsed token must have a 12-digit id, and anything strict base64 accepts
 * must re-encode to the same text.  Whatever parses as a token, its
 * checksum right or wrong, is shaped like one, and so it stays with a
 * space before it and a quote after it (what a paste brings along).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "bbt_token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bbt_token_t tok;
    bbt_token_status_t st;
    unsigned char out[4096];
    unsigned char *again;
    char *pasted;
    size_t n, i;
    int shaped = bbt_token_shaped((const char *)data, size);

    st = bbt_token_parse((const char *)data, size, &tok);
    if (st == BBT_TOKEN_OK) {
        for (i = 0; i < BBT_TOKEN_ID_LEN; i++) {
            if (tok.id[i] < '0' || tok.id[i] > '9') {
                abort();
            }
        }
        bbt_token_wipe(&tok);
    }
    if (st == BBT_TOKEN_OK || st == BBT_TOKEN_BAD_CHECKSUM) {
        pasted = malloc(size + 2);
        if (!pasted) {
            return 0;
        }
        pasted[0] = ' ';
        memcpy(pasted + 1, data, size);
        pasted[size + 1] = '"';
        if (!shaped || !bbt_token_shaped(pasted, size + 2)) {
            abort();
        }
        free(pasted);
    }
    if (size <= sizeof(out) &&
        bbt_b64_decode_strict((const char *)data, size, out, sizeof(out), &n) ==
            0) {
        again = malloc(4 * ((n + 2) / 3) + 1);
        if (!again) {
            return 0;
        }
        EVP_EncodeBlock(again, out, (int)n);
        if (strlen((char *)again) != size || memcmp(again, data, size) != 0) {
            abort();
        }
        free(again);
    }
    return 0;
}
