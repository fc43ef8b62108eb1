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
 * shaped is left as it was.  A token made of the input's first bytes (its
 * id's digits, its secret, a prefix or none), white space typed into it at
 * one or two places the input says, put between words of the rest of the
 * input: masked, no 16 characters of it in a row are left, unless the
 * words around it held them.  The input as a name: one bbt_token_in_name
 * takes is left whole in each of the schema's messages that quote a name,
 * and one the mask would change is refused.
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

/* bbt_token_mask on a copy of the NUL-terminated text, in a buffer of
 * BBT_TOKSHAPE_MASK_SIZE (never cut: abort otherwise); free it. */
static char *fz_masked(const char *text, int *hidden)
{
    size_t len = strlen(text), cap = BBT_TOKSHAPE_MASK_SIZE(len);
    char *buf = malloc(cap);

    if (!buf) {
        abort();
    }
    memcpy(buf, text, len + 1);
    *hidden = bbt_token_mask(buf, cap);
    if (strlen(buf) + 1 >= cap) {
        abort();
    }
    return buf;
}

/* The input as text (up to its first NUL) masked: whether anything was
 * hidden, or -1 if it could not be tried. */
static int fz_mask(const uint8_t *data, size_t size)
{
    size_t len = strnlen((const char *)data, size);
    char *text = malloc(len + 1), *buf;
    int hidden;

    if (!text) {
        return -1;
    }
    memcpy(text, data, len);
    text[len] = '\0';
    buf = fz_masked(text, &hidden);
    if (hidden != bbt_token_in_text(text, len) ||
        bbt_token_in_text(buf, strlen(buf)) ||
        (!hidden && strcmp(buf, text) != 0) ||
        (hidden && !strstr(buf, BBT_TOKSHAPE_HIDDEN))) {
        abort();
    }
    free(buf);
    free(text);
    return hidden;
}

/* Whether any 16 characters in a row of the n at body are in text. */
static int fz_holds_run(const char *text, const char *body, size_t n)
{
    char run[17];
    size_t k;

    for (k = 0; k + 16 <= n; k++) {
        memcpy(run, body + k, 16);
        run[16] = '\0';
        if (strstr(text, run)) {
            return 1;
        }
    }
    return 0;
}

/* The input's bytes past FZ_SPLIT_HEAD as words, a token with white space
 * typed into it put between them. */
#define FZ_SPLIT_HEAD (6 + BBT_TOKEN_ID_LEN + BBT_TOKEN_SECRET_LEN)

/* The token made of data's first bytes: its body, and at *prefix what
 * goes before it ("BB DC-": white space typed into the prefix). */
static void fz_split_token(const uint8_t *data, char *body, const char **prefix)
{
    static const char *const prefixes[] = {"", "BBDC-", "bbdc-", "BB DC-"};
    unsigned char raw[BBT_TOKEN_RAW_LEN];
    size_t i;

    for (i = 0; i < BBT_TOKEN_ID_LEN; i++) {
        raw[i] = (unsigned char)('0' + data[6 + i] % 10);
    }
    raw[BBT_TOKEN_ID_LEN] = ':';
    memcpy(raw + BBT_TOKEN_ID_LEN + 1, data + 6 + BBT_TOKEN_ID_LEN,
           BBT_TOKEN_SECRET_LEN);
    EVP_EncodeBlock((unsigned char *)body, raw, BBT_TOKEN_RAW_LEN);
    *prefix = prefixes[data[5] % 4];
}

static void fz_split(const uint8_t *data, size_t size)
{
    static const char spaces[] = " \t\n\r\v\f";
    char body[BBT_TOKEN_B64_LEN + 1], *text, *out;
    const char *words, *prefix;
    size_t i, n, at, k, cut[2];
    int hidden;

    if (size < FZ_SPLIT_HEAD) {
        return;
    }
    fz_split_token(data, body, &prefix);
    /* Typed in before body[cut[0]] and body[cut[1]] (1 to 43; the same
     * place twice is one run), 1 to 3 bytes each. */
    cut[0] = 1 + data[0] % (BBT_TOKEN_B64_LEN - 1);
    cut[1] = 1 + data[1] % (BBT_TOKEN_B64_LEN - 1);
    words = (const char *)data + FZ_SPLIT_HEAD;
    n = strnlen(words, size - FZ_SPLIT_HEAD);
    at = n ? data[4] % (n + 1) : 0;
    if (!(text = malloc(n + BBT_TOKEN_B64_LEN + 32))) {
        return;
    }
    /* Words that hold a run of its characters themselves are the input's
     * own: not the token's to hide. */
    memcpy(text, words, n);
    text[n] = '\0';
    if (fz_holds_run(text, body, BBT_TOKEN_B64_LEN)) {
        free(text);
        return;
    }
    i = at;
    text[i++] = ' ';
    memcpy(text + i, prefix, strlen(prefix));
    i += strlen(prefix);
    for (k = 0; k < BBT_TOKEN_B64_LEN; k++) {
        if (k == cut[0] || k == cut[1]) {
            size_t w, many = 1 + data[2 + (k == cut[1])] % 3u;

            for (w = 0; w < many; w++) {
                text[i++] = spaces[(data[3] + w) % 6];
            }
        }
        text[i++] = body[k];
    }
    text[i++] = ' ';
    memcpy(text + i, words + at, n - at);
    text[i + n - at] = '\0';
    out = fz_masked(text, &hidden);
    if (!hidden || fz_holds_run(out, body, BBT_TOKEN_B64_LEN)) {
        abort();
    }
    free(out);
    free(text);
}

/* The input as a name, in the schema's messages that quote one (and
 * PostgreSQL's DETAIL of a unique key): what comes before it and after.
 * hidden_alone: what fz_mask said of the same text masked alone. */
static void fz_name(const uint8_t *data, size_t size, int hidden_alone)
{
    static const char *const quoted[][2] = {
        {"user ", " already has 1 live tokens, the most the token policy "
                  "allows (revoke one first)"},
        {"user alice already has a token named '", "': token 000000000042"},
        {"user is disabled: ", ""},
        {"no such user: ", ""},
        {"not permitted: ", " is not an active user"},
        {"not permitted to manage the tokens of user ", ""},
        {"Key (user_id, name)=(5, ", ") already exists."},
    };
    size_t len = strnlen((const char *)data, size), i;
    char *name, *text, *out;
    int refused, hidden;

    if (len > 300 || !(name = malloc(len + 1))) {
        return;
    }
    memcpy(name, data, len);
    name[len] = '\0';
    refused = bbt_token_in_name(name, len);
    /* Masked alone (fz_mask, which holds it to bbt_token_in_text): a name
     * the mask would change is refused. */
    if (hidden_alone > 0 && !refused) {
        abort();
    }
    for (i = 0; i < sizeof(quoted) / sizeof(*quoted) && !refused; i++) {
        if (!(text = malloc(len + 200))) {
            break;
        }
        strcpy(text, quoted[i][0]);
        strcat(text, name);
        strcat(text, quoted[i][1]);
        out = fz_masked(text, &hidden);
        if (hidden || strcmp(out, text) != 0) {
            abort();
        }
        free(out);
        free(text);
    }
    free(name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bbt_token_t tok;
    bbt_token_status_t st;
    unsigned char out[4096];
    unsigned char *again;
    char *pasted;
    size_t n, i;
    int hidden, shaped = bbt_token_shaped((const char *)data, size);

    st = bbt_token_parse((const char *)data, size, &tok);
    fz_codec(data, size, st, &tok);
    hidden = fz_mask(data, size);
    fz_split(data, size);
    fz_name(data, size, hidden);
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
