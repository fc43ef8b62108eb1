/*
 * libFuzzer target: the built-in route sets (git, dav, bitbucket-rest)
 * matching hostile requests.  The first byte picks the set and whether a
 * Destination is matched; the rest splits at NUL bytes into method, path
 * and query.  A match must always name a canonical key, a valid slug for a
 * REPO_ permission (none for a PROJECT_ one), a real permission, and a key
 * span inside the path that canonicalizes to the same key; or, for
 * SITE_READ, no key, slug or span at all, for a GET or HEAD that is no
 * Destination, with nothing else to decide.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bbt_rules.h"

static bbt_rules_t *sets[3];

static void load(void)
{
    static const char *const names[] = {"git", "dav", "bitbucket-rest"};
    char err[BBT_RULES_ERR_MAX];
    size_t i;

    for (i = 0; i < 3; i++) {
        const char *prefix = NULL;
        const char *text = bbt_rules_builtin(names[i], &prefix);

        sets[i] = bbt_rules_new();
        if (!text || bbt_rules_load(sets[i], text, prefix, names[i], err,
                                    sizeof(err)) != 0)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in, *method, *path, *args, *end;
    char canon[BBT_KEY_BUF];
    bbt_match_t m;
    bbt_route_result_t rv;
    unsigned sel;

    if (!sets[0])
        load();
    if (size < 1)
        return 0;
    sel = data[0];
    in = malloc(size + 3);
    if (!in)
        return 0;
    memcpy(in, data + 1, size - 1);
    in[size - 1] = in[size] = in[size + 1] = '\0';
    method = in;
    path = method + strlen(method) + 1;
    end = in + size + 1;
    if (path > end)
        path = end;
    args = path + strlen(path) + 1;
    if (args > end)
        args = end;
    rv = bbt_rules_match(sets[sel % 3], method, path, *args ? args : NULL,
                         (sel / 3) & 1, &m);
    /* A route that needs the body knows where the key is all the same. */
    if (rv == BBT_ROUTE_NEED_BODY && m.key_len &&
        (m.key_off + m.key_len > strlen(path) ||
         bbt_input_key(path + m.key_off, m.key_len, canon) != 0 ||
         strcmp(canon, m.target.key) != 0))
        abort();
    /* SITE_READ names no project or repository, and reads nothing else. */
    if (rv == BBT_ROUTE_MATCH && bbt_perm_site(m.target.need)) {
        if (m.target.key[0] || m.target.slug[0] || m.key_len || !m.key_exact ||
            m.target.need.level != BBT_LEVEL_READ ||
            m.token_need.level != BBT_LEVEL_NONE || m.into != BBT_INTO_NONE ||
            (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) ||
            (sel / 3) & 1)
            abort();
    } else if (rv == BBT_ROUTE_MATCH) {
        if (bbt_input_key(m.target.key, strlen(m.target.key), canon) != 0 ||
            strcmp(canon, m.target.key) != 0 ||
            !bbt_perm_name(m.target.need.scope, m.target.need.level) ||
            (m.target.need.scope == BBT_SCOPE_REPO &&
             !bbt_input_slug(m.target.slug, strlen(m.target.slug))) ||
            (m.target.need.scope == BBT_SCOPE_PROJECT && m.target.slug[0]) ||
            m.key_len == 0 || m.key_off + m.key_len > strlen(path) ||
            bbt_input_key(path + m.key_off, m.key_len, canon) != 0 ||
            strcmp(canon, m.target.key) != 0 ||
            m.key_exact !=
                (memcmp(path + m.key_off, m.target.key, m.key_len) == 0))
            abort();
    }
    free(in);
    return 0;
}
