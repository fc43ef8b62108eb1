/*
 * libFuzzer target: the token codec and strict base64 on raw bytes.  A
 * parsed token must have a 12-digit id, and anything strict base64 accepts
 * must re-encode to the same text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "bbt_token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bbt_token_t tok;
    unsigned char out[4096];
    unsigned char *again;
    size_t n, i;

    if (bbt_token_parse((const char *)data, size, &tok) == BBT_TOKEN_OK) {
        for (i = 0; i < BBT_TOKEN_ID_LEN; i++) {
            if (tok.id[i] < '0' || tok.id[i] > '9') {
                abort();
            }
        }
        bbt_token_wipe(&tok);
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
