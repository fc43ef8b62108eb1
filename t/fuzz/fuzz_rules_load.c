/*
 * libFuzzer target: the route language's loader (bbt_rules_load) on
 * hostile route text and prefixes, as a mistyped BBTokenRoutes file could
 * hold, then the loaded routes matching a request.  The input is a
 * selector byte, then NUL-separated: the prefix, the text, a method, a
 * path.  Held to its contract:
 *
 * - text is loaded, or refused with a message that names the text and
 *   fits its buffer; the same text loads the same every time;
 * - whatever routes were loaded, a match names a canonical key, a real
 *   permission, a valid slug for a REPO_ one and none for a PROJECT_ one,
 *   and a captured key is a span of the path that canonicalizes to it; a
 *   SITE_READ match names no key or slug, for a GET or HEAD that is no
 *   Destination, with nothing else to decide.
 *
 * Any broken rule aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bbt_rules.h"

static char *fz_field(char **p, char *end)
{
    char *f = *p;

    if (f >= end) {
        return end;
    }
    *p = f + strlen(f) + 1;
    return f;
}

static void fz_match(const bbt_rules_t *rs, const char *method,
                     const char *path, int destination)
{
    char canon[BBT_KEY_BUF];
    bbt_match_t m;
    bbt_route_result_t rv;

    memset(&m, 0, sizeof(m));
    rv = bbt_rules_match(rs, method, path, NULL, destination, &m);
    if (rv != BBT_ROUTE_MATCH && rv != BBT_ROUTE_NEED_BODY &&
        rv != BBT_ROUTE_NONE) {
        abort();
    }
    if (rv == BBT_ROUTE_NEED_BODY && m.key_len &&
        (m.key_off + m.key_len > strlen(path) ||
         bbt_input_key(path + m.key_off, m.key_len, canon) != 0 ||
         strcmp(canon, m.target.key) != 0)) {
        abort();
    }
    if (rv != BBT_ROUTE_MATCH) {
        return;
    }
    /* SITE_READ names no project or repository, and reads nothing else. */
    if (bbt_perm_site(m.target.need)) {
        if (m.target.key[0] || m.target.slug[0] || m.key_len || !m.key_exact ||
            m.target.need.level != BBT_LEVEL_READ ||
            m.token_need.level != BBT_LEVEL_NONE || m.into != BBT_INTO_NONE ||
            destination ||
            (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)) {
            abort();
        }
        return;
    }
    if (bbt_input_key(m.target.key, strlen(m.target.key), canon) != 0 ||
        strcmp(canon, m.target.key) != 0 ||
        !bbt_perm_name(m.target.need.scope, m.target.need.level) ||
        (m.target.need.scope == BBT_SCOPE_REPO &&
         !bbt_input_slug(m.target.slug, strlen(m.target.slug))) ||
        (m.target.need.scope == BBT_SCOPE_PROJECT && m.target.slug[0])) {
        abort();
    }
    if (m.key_len && (m.key_off + m.key_len > strlen(path) ||
                      bbt_input_key(path + m.key_off, m.key_len, canon) != 0 ||
                      strcmp(canon, m.target.key) != 0 ||
                      m.key_exact != (memcmp(path + m.key_off, m.target.key,
                                             m.key_len) == 0))) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[BBT_RULES_ERR_MAX], err2[BBT_RULES_ERR_MAX];
    char *in, *p, *end, *prefix, *text, *method, *path;
    bbt_rules_t *rs, *again;
    int rc, rc2;
    unsigned sel;

    if (size < 1) {
        return 0;
    }
    sel = data[0];
    if (!(in = malloc(size + 4))) {
        return 0;
    }
    memcpy(in, data + 1, size - 1);
    memset(in + size - 1, 0, 5);
    end = in + size;
    p = in;
    prefix = fz_field(&p, end);
    text = fz_field(&p, end);
    method = fz_field(&p, end);
    path = fz_field(&p, end);
    rs = bbt_rules_new();
    again = bbt_rules_new();
    if (!rs || !again) {
        abort();
    }
    memset(err, 0x55, sizeof(err));
    rc = bbt_rules_load(rs, text, (sel & 1) ? prefix : NULL, "fuzz", err,
                        sizeof(err));
    rc2 = bbt_rules_load(again, text, (sel & 1) ? prefix : NULL, "fuzz", err2,
                         sizeof(err2));
    if (rc != rc2 ||
        (rc == 0 && bbt_rules_count(rs) != bbt_rules_count(again))) {
        abort();
    }
    if (rc != 0) {
        if (rc != -1 || !memchr(err, '\0', sizeof(err)) ||
            strncmp(err, "fuzz", 4) != 0 || strcmp(err, err2) != 0) {
            abort();
        }
    } else {
        fz_match(rs, *method ? method : "GET", path, (sel >> 1) & 1);
    }
    bbt_rules_free(rs);
    bbt_rules_free(again);
    free(in);
    return 0;
}
