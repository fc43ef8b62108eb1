/*
 * Wiping a secret out of jansson's copies (see bbt_jwipe.h).
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "bbt_jwipe.h"

int bbt_jwipe_member(json_t *obj, const char *key)
{
    json_t *s = json_is_object(obj) ? json_object_get(obj, key) : NULL;

    if (!json_is_string(s)) {
        return 0;
    }
    /* jansson keeps a string's value in a buffer of its own, allocated
     * when the string was made and freed with it: writable, though handed
     * out as const.  No jansson call overwrites it without a copy. */
    OPENSSL_cleanse((char *)json_string_value(s), json_string_length(s));
    return 1;
}

char *bbt_jwipe_dump(const json_t *json, size_t flags)
{
    /* Measured first, then written: json_dumpb writes into the caller's
     * buffer alone, where json_dumps grows buffers of its own. */
    size_t n = json ? json_dumpb(json, NULL, 0, flags) : 0;
    char *text = n ? malloc(n + 1) : NULL;

    if (!text) {
        return NULL;
    }
    if (json_dumpb(json, text, n, flags) != n) {
        /* Changed between the two (it cannot be: nothing else holds it),
         * and written up to n bytes, unterminated. */
        OPENSSL_cleanse(text, n + 1);
        free(text);
        return NULL;
    }
    text[n] = '\0';
    return text;
}

void bbt_jwipe_free(char *text)
{
    if (text) {
        OPENSSL_cleanse(text, strlen(text));
        free(text);
    }
}
