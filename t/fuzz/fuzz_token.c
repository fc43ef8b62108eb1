/*
 * libFuzzer target: the token codec and strict base64 on raw bytes.  A
 * parsed token must have a 12-digit id, and anything strict base64 accepts
 * must re-encode to the same text.  Whatever parses as a token, its
 * checksum right or wrong, is shaped like one, and so it stays with a
 * space before it and a quote after it (what a paste brings along).  The
 * checked parse is the unchecked one and the checksum, nothing else: a
 * token either gives is the input's own bytes (they encode back to its 44
 * characters), and a refused one leaves nothing behind.  Masked (the
 * input as text, in a buffer of BBT_TOKSHAPE_MASK_SIZE), nothing of it is
 * shaped like a token any more, nothing was cut, and text that was not
 * shaped is left as it was.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "bbt_token.h"
#include "bbt_tokshape.h"

/* What parse and parse_unchecked made of data: the same bytes, the same
 * status but for the checksum, and the token data's own. */
static void fz_codec(const uint8_t *data, size_t size, bbt_token_status_t st,
                     const bbt_token_t *tok)
{
    static const bbt_token_t zero;
    unsigned char b64[BBT_TOKEN_B64_LEN + 1];
    bbt_token_t un;
    bbt_token_status_t ust =
        bbt_token_parse_unchecked((const char *)data, size, &un);
    size_t skip = size == BBT_TOKEN_MAX_LEN ? BBT_TOKEN_PREFIX_LEN : 0;
    int sum;

    if (ust != BBT_TOKEN_OK) {
        if (st != ust || memcmp(tok, &zero, sizeof(zero)) != 0 ||
            memcmp(&un, &zero, sizeof(zero)) != 0) {
            abort();
        }
        return;
    }
    sum = bbt_token_checksum_ok(&un);
    if (st != (sum == 1   ? BBT_TOKEN_OK
               : sum == 0 ? BBT_TOKEN_BAD_CHECKSUM
                          : BBT_TOKEN_CHECK_FAILED) ||
        (st == BBT_TOKEN_OK ? memcmp(tok, &un, sizeof(un)) != 0
                            : memcmp(tok, &zero, sizeof(zero)) != 0)) {
        abort();
    }
    EVP_EncodeBlock(b64, un.raw, BBT_TOKEN_RAW_LEN);
    if (memcmp(b64, data + skip, BBT_TOKEN_B64_LEN) != 0 ||
        memcmp(un.id, un.raw, BBT_TOKEN_ID_LEN) != 0 ||
        un.id[BBT_TOKEN_ID_LEN] != '\0' || un.raw[BBT_TOKEN_ID_LEN] != ':') {
        abort();
    }
    bbt_token_wipe(&un);
}

static void fz_mask(const uint8_t *data, size_t size)
{
    size_t len = strnlen((const char *)data, size);
    size_t cap = BBT_TOKSHAPE_MASK_SIZE(len);
    char *buf = malloc(cap);
    int hidden;

    if (!buf) {
        return;
    }
    memcpy(buf, data, len);
    buf[len] = '\0';
    hidden = bbt_token_mask(buf, cap);
    if (bbt_token_shaped(buf, strlen(buf)) || strlen(buf) + 1 >= cap ||
        (!hidden && (strlen(buf) != len || memcmp(buf, data, len) != 0)) ||
        (hidden && !strstr(buf, BBT_TOKSHAPE_HIDDEN))) {
        abort();
    }
    free(buf);
}

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
    fz_codec(data, size, st, &tok);
    fz_mask(data, size);
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
