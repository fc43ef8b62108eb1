/*
 * libFuzzer target: the Content-Type a body a route reads must declare
 * (bbt_body_not_json), and with it the charset it may name
 * (bbt_body_undecidable).  The input, up to its first NUL, is the
 * Content-Type.  Held to models written here, on the field split at every
 * ";" and compared in lower case:
 *
 * - declared JSON exactly when the part before the first ";", without
 *   the spaces and tabs around it, is application/json or
 *   application/vnd.git-lfs+json, and every part after it starts (spaces
 *   and tabs first) with "charset", spaces and tabs, and "=";
 * - read at all (neither refuses) exactly when there is at most one part
 *   after that, and it is, without the spaces and tabs around it,
 *   charset=utf-8, charset="utf-8" or charset=utf8: no other parameter, no
 *   second type, nowhere the word a form's media type has;
 * - a body read as JSON is one the REST API takes for JSON too
 *   (bbt_rest_is_json), where its type is application/json and no white
 *   space comes first.
 *
 * And no Content-Type at all is not JSON.  Any broken rule aborts.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bbt_body.h"
#include "bbt_rest_req.h"

/* s[0..n) without the spaces and tabs around it is want. */
static int trimmed_is(const char *s, size_t n, const char *want)
{
    while (n && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    return n == strlen(want) && memcmp(s, want, n) == 0;
}

static int json_type(const char *s, size_t n)
{
    return trimmed_is(s, n, "application/json") ||
           trimmed_is(s, n, "application/vnd.git-lfs+json");
}

/* The part s[0..n) names a charset: "charset", white space, "=". */
static int charset_param(const char *s, size_t n)
{
    size_t i = 0;

    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (n - i < 7 || memcmp(s + i, "charset", 7) != 0)
        return 0;
    for (i += 7; i < n && (s[i] == ' ' || s[i] == '\t'); i++)
        ;
    return i < n && s[i] == '=';
}

static int utf8_param(const char *s, size_t n)
{
    return trimmed_is(s, n, "charset=utf-8") ||
           trimmed_is(s, n, "charset=\"utf-8\"") ||
           trimmed_is(s, n, "charset=utf8");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *ct = malloc(size + 1), *low = malloc(size + 1);
    const char **part;
    size_t *len, parts = 1, i, n;
    int json, read;

    if (!ct || !low)
        abort();
    memcpy(ct, data, size);
    ct[size] = '\0';
    n = strlen(ct);
    for (i = 0; i <= n; i++) {
        low[i] = (char)tolower((unsigned char)ct[i]);
        parts += low[i] == ';';
    }
    part = malloc(parts * sizeof(*part));
    len = malloc(parts * sizeof(*len));
    if (!part || !len)
        abort();
    if (!bbt_body_not_json(NULL))
        abort();
    /* The parts between the ";"s. */
    for (i = 0, n = 0; n < parts; n++) {
        part[n] = low + i;
        len[n] = strcspn(low + i, ";");
        i += len[n] + 1;
    }
    json = json_type(part[0], len[0]);
    for (i = 1; json && i < parts; i++)
        json = charset_param(part[i], len[i]);
    if ((bbt_body_not_json(ct) == NULL) != json)
        abort();
    read = bbt_body_not_json(ct) == NULL && !bbt_body_undecidable(NULL, ct);
    if (read !=
        (json && (parts == 1 || (parts == 2 && utf8_param(part[1], len[1])))))
        abort();
    if (read && (strstr(low, "form") || strchr(low, ',')))
        abort();
    if (json && ct[0] != ' ' && ct[0] != '\t' &&
        trimmed_is(part[0], len[0], "application/json") &&
        !bbt_rest_is_json(ct))
        abort();
    free(part);
    free(len);
    free(ct);
    free(low);
    return 0;
}
