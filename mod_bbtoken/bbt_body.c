/*
 * A request body as the route language reads it (bbt_body.h).
 */
#include "bbt_body.h"
#include "bbt_input.h"
#include "bbt_jshape.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

struct bbt_body {
    json_t *json;
};

/* The shape of the largest body a route can read: a git LFS batch of as
 * many objects as 64 KiB holds (each {"oid": 64 hex digits, "size": n},
 * some 780 of them, 2,400 values), or a body-project= path of
 * BBT_BODYPROJ_DEPTH names (8) with room to spare. */
static const bbt_jshape_t bbt_body_shape = {16, 1024, 4096, 0};

const char *bbt_body_parse(const char *buf, size_t len, bbt_body_t **out,
                           char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *j;

    *out = NULL;
    if (err && errlen) {
        err[0] = '\0';
    }
    if (!buf || len > BBT_BODY_MAX) {
        return "the request body is too large";
    }
    switch (bbt_jshape_load(buf, len, &bbt_body_shape, &j, &jerr)) {
    case BBT_JSHAPE_OK:
        break;
    case BBT_JSHAPE_MALFORMED:
        if (err && errlen) {
            /* Where jansson stopped, not the bytes it quotes there: the
             * body's, which go to the log. */
            snprintf(err, errlen, "%.*s at byte %d",
                     (int)bbt_jshape_reason_len(&jerr), jerr.text,
                     jerr.position);
        }
        return "the request body is not JSON";
    default:
        if (err && errlen) {
            snprintf(err, errlen, "%s (at byte %d)", jerr.text, jerr.position);
        }
        return "the request body holds more than any route reads";
    }
    if (!json_is_object(j)) {
        json_decref(j);
        return "the request body is not a JSON object";
    }
    if (!(*out = malloc(sizeof(**out)))) {
        json_decref(j);
        return "out of memory";
    }
    (*out)->json = j;
    return NULL;
}

void bbt_body_free(bbt_body_t *b)
{
    if (b) {
        json_decref(b->json);
        free(b);
    }
}

/* The member of object obj called name: 1 (*found its value), 0 absent
 * or -1 ambiguous (*found NULL). */
static int bbt_body_find(json_t *obj, const char *name, json_t **found)
{
    const char *key;
    json_t *v;

    *found = NULL;
    json_object_foreach(obj, key, v)
    {
        if (strcmp(key, name) == 0) {
            *found = v;
        } else if (bbt_jshape_twin(key, name)) {
            *found = NULL;
            return -1;
        }
    }
    return *found ? 1 : 0;
}

bbt_member_t bbt_body_member(const bbt_body_t *b, const char *name,
                             const char **value, size_t *len)
{
    json_t *found;
    int m;

    *value = NULL;
    *len = 0;
    if (!b || !name) {
        return BBT_MEMBER_ABSENT;
    }
    m = bbt_body_find(b->json, name, &found);
    if (m < 0) {
        return BBT_MEMBER_AMBIGUOUS;
    }
    if (m == 0 || !json_is_string(found)) {
        return BBT_MEMBER_ABSENT;
    }
    *value = json_string_value(found);
    *len = json_string_length(found);
    return BBT_MEMBER_STRING;
}

/* Walk names[0..n) from the top: BBT_MEMBER_STRING with *found the last
 * member's value, whatever it is, or why there is none (as bbt_body_path
 * says). */
static bbt_member_t bbt_body_walk(const bbt_body_t *b, const char *const *names,
                                  size_t n, json_t **found)
{
    json_t *at;
    size_t i;
    int m;

    *found = NULL;
    if (!b || !names || n == 0) {
        return BBT_MEMBER_ABSENT;
    }
    for (i = 0, at = b->json; i < n; i++, at = *found) {
        if (!json_is_object(at)) {
            return BBT_MEMBER_MISSHAPEN;
        }
        m = bbt_body_find(at, names[i], found);
        if (m < 0) {
            return BBT_MEMBER_AMBIGUOUS;
        }
        if (m == 0) {
            return i == 0 ? BBT_MEMBER_ABSENT : BBT_MEMBER_MISSHAPEN;
        }
    }
    return BBT_MEMBER_STRING;
}

bbt_member_t bbt_body_path(const bbt_body_t *b, const char *const *names,
                           size_t n, const char **value, size_t *len)
{
    json_t *found;
    bbt_member_t m = bbt_body_walk(b, names, n, &found);

    *value = NULL;
    *len = 0;
    if (m != BBT_MEMBER_STRING) {
        return m;
    }
    if (!json_is_string(found)) {
        return BBT_MEMBER_MISSHAPEN;
    }
    *value = json_string_value(found);
    *len = json_string_length(found);
    return BBT_MEMBER_STRING;
}

int bbt_body_has(const bbt_body_t *b, const char *const *names, size_t n)
{
    json_t *found;
    bbt_member_t m = bbt_body_walk(b, names, n, &found);

    return m == BBT_MEMBER_STRING || m == BBT_MEMBER_AMBIGUOUS;
}

/* Whether s, without the spaces and tabs around it, is one of words, in
 * any case. */
static int bbt_body_one_of(const char *s, const char *const *words)
{
    size_t n;

    s += strspn(s, " \t");
    n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) {
        n--;
    }
    for (; *words; words++) {
        if (strlen(*words) == n && strncasecmp(s, *words, n) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Whether s holds "charset", in any case. */
static int bbt_body_names_charset(const char *s)
{
    for (; *s; s++) {
        if (strncasecmp(s, "charset", 7) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Whether content_type is application/json or git LFS's
 * application/vnd.git-lfs+json, in any case, with no parameter but
 * charset (whose value bbt_body_undecidable judges).  A list, not a
 * pattern: a backend may take application/x-www-form-urlencoded+json for
 * a form by its prefix (CGI.pm), or find a form's media type anywhere in
 * the field, a parameter's value included (HTTP::Body). */
static int bbt_body_is_json_type(const char *content_type)
{
    static const char *const types[] = {"application/json",
                                        "application/vnd.git-lfs+json", NULL};
    const char *s = content_type + strspn(content_type, " \t"), *p;
    size_t n = strcspn(s, ";"), i;

    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) {
        n--;
    }
    for (i = 0; types[i]; i++) {
        if (strlen(types[i]) == n && strncasecmp(s, types[i], n) == 0) {
            break;
        }
    }
    if (!types[i]) {
        return 0;
    }
    for (p = s + strcspn(s, ";"); *p == ';'; p += 1 + strcspn(p + 1, ";")) {
        const char *q = p + 1 + strspn(p + 1, " \t");

        if (strncasecmp(q, "charset", 7) != 0 ||
            q[7 + strspn(q + 7, " \t")] != '=') {
            return 0;
        }
    }
    return 1;
}

const char *bbt_body_not_json(const char *content_type)
{
    if (!content_type || !bbt_body_is_json_type(content_type)) {
        return "its Content-Type is not application/json or "
               "application/vnd.git-lfs+json with a charset at most, and a "
               "backend may read it as something else, a form";
    }
    return NULL;
}

const char *bbt_body_undecidable(const char *content_encoding,
                                 const char *content_type)
{
    static const char *const identity[] = {"identity", NULL};
    static const char *const utf8[] = {"charset=utf-8", "charset=\"utf-8\"",
                                       "charset=utf8", NULL};
    const char *params;

    if (content_encoding && !bbt_body_one_of(content_encoding, identity)) {
        return "it is declared in a content coding, which the module does "
               "not decode";
    }
    /* None, another, or more than one, may be read otherwise. */
    if (content_type && bbt_body_names_charset(content_type) &&
        (!(params = strchr(content_type, ';')) ||
         !bbt_body_one_of(params + 1, utf8))) {
        return "its Content-Type names a charset other than UTF-8, which the "
               "module reads it in";
    }
    return NULL;
}
