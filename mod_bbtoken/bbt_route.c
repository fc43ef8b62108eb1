/*
 * Git route matcher.  An allow list: a request is matched only if every
 * byte of its path, its method and its query string are exactly what git's
 * smart or dumb HTTP protocol sends.  Anything odd (encoded bytes, dot
 * segments, doubled or trailing slashes, extra query parameters) is refused
 * rather than normalized, so what is checked here is what git-http-backend
 * will serve.
 */
#include "bbt_route.h"

#include <string.h>

static int bbt_is_alpha(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int bbt_is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int bbt_is_alnum(unsigned char c)
{
    return bbt_is_alpha(c) || bbt_is_digit(c);
}

static int bbt_is_lower_hex(unsigned char c)
{
    return bbt_is_digit(c) || (c >= 'a' && c <= 'f');
}

static unsigned char bbt_upper(unsigned char c)
{
    return (c >= 'a' && c <= 'z') ? (unsigned char)(c - 'a' + 'A') : c;
}

static unsigned char bbt_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

/* Every byte any part of a git URL path may hold: the union of the key,
 * user, slug and git-path alphabets, and the separator. */
static int bbt_path_char(unsigned char c)
{
    return bbt_is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
           c == '@' || c == '/';
}

int bbt_route_canonical_key(const char *key, size_t len, char *out)
{
    const unsigned char *k = (const unsigned char *)key;
    size_t i;

    if (out)
        out[0] = '\0';
    if (!key || !out || len == 0)
        return -1;

    if (k[0] == '~') {
        /* Personal project: "~" and a user name, canonically lower case. */
        if (len < 2 || len - 1 > BBT_USER_MAX || !bbt_is_alnum(k[1]))
            return -1;
        for (i = 2; i < len; i++) {
            if (!bbt_is_alnum(k[i]) && k[i] != '.' && k[i] != '_' &&
                k[i] != '@' && k[i] != '-')
                return -1;
        }
        out[0] = '~';
        for (i = 1; i < len; i++)
            out[i] = (char)bbt_lower(k[i]);
        out[len] = '\0';
        return 0;
    }

    if (len > BBT_KEY_MAX || !bbt_is_alpha(k[0]))
        return -1;
    for (i = 1; i < len; i++) {
        if (!bbt_is_alnum(k[i]) && k[i] != '_')
            return -1;
    }
    for (i = 0; i < len; i++)
        out[i] = (char)bbt_upper(k[i]);
    out[len] = '\0';
    return 0;
}

int bbt_route_valid_slug(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i;

    if (!s || len == 0 || len > BBT_SLUG_MAX || !bbt_is_alnum(u[0]))
        return 0;
    for (i = 1; i < len; i++) {
        if (!bbt_is_alnum(u[i]) && u[i] != '_' && u[i] != '.' && u[i] != '-')
            return 0;
    }
    /* git-http-backend tries "x.git" when asked for "x": a slug ending in
     * ".git" could be confused with another repository's directory. */
    if (len >= 4 && memcmp(s + len - 4, ".git", 4) == 0)
        return 0;
    return 1;
}

/* n lower-case hex digits at s, then exactly the literal tail. */
static int bbt_hex_then(const char *s, size_t n, const char *tail)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (!bbt_is_lower_hex((unsigned char)s[i]))
            return 0;
    }
    return strcmp(s + i, tail) == 0;
}

/* A loose object: objects/XX/ and 38 (SHA-1) or 62 (SHA-256) hex digits. */
static int bbt_loose_object(const char *p)
{
    if (strncmp(p, "objects/", 8) != 0)
        return 0;
    p += 8;
    if (!bbt_is_lower_hex((unsigned char)p[0]) ||
        !bbt_is_lower_hex((unsigned char)p[1]) || p[2] != '/')
        return 0;
    p += 3;
    return bbt_hex_then(p, 38, "") || bbt_hex_then(p, 62, "");
}

/* objects/pack/pack-<40 or 64 hex>.pack or .idx */
static int bbt_pack_file(const char *p)
{
    if (strncmp(p, "objects/pack/pack-", 18) != 0)
        return 0;
    p += 18;
    return bbt_hex_then(p, 40, ".pack") || bbt_hex_then(p, 40, ".idx") ||
           bbt_hex_then(p, 64, ".pack") || bbt_hex_then(p, 64, ".idx");
}

static int bbt_empty(const char *s)
{
    return s == NULL || s[0] == '\0';
}

static bbt_route_result_t bbt_route_none(bbt_target_t *out, const char *why)
{
    out->key[0] = '\0';
    out->slug[0] = '\0';
    out->need.scope = BBT_SCOPE_REPO;
    out->need.level = BBT_LEVEL_NONE;
    out->why = why;
    return BBT_ROUTE_NONE;
}

bbt_route_result_t bbt_route_git(const char *prefix, const char *method,
                                 const char *path, const char *args,
                                 bbt_target_t *out)
{
    const char *p, *seg, *end, *git;
    size_t plen, klen, slen;
    int read_method;
    bbt_level_t level;

    if (!out)
        return BBT_ROUTE_NONE;
    bbt_route_none(out, NULL);
    if (!prefix || !method || !path)
        return bbt_route_none(out, "incomplete request");

    plen = strlen(prefix);
    if (strncmp(path, prefix, plen) != 0 || path[plen] != '/')
        return bbt_route_none(out, "path is not under the route prefix");
    p = path + plen + 1;
    if (*p == '\0')
        return bbt_route_none(out, "path names no repository");

    /* The whole rest of the path, before any structure: one pass over the
     * allowed bytes, then the spellings that would name something else. */
    for (seg = p; *seg; seg++) {
        if (!bbt_path_char((unsigned char)*seg))
            return bbt_route_none(out, "path contains a character not allowed");
    }
    for (seg = p;;) {
        end = strchr(seg, '/');
        if (!end)
            end = seg + strlen(seg);
        if (end == seg) {
            if (*end == '\0')
                return bbt_route_none(out, "path ends with a slash");
            return bbt_route_none(out, "path has an empty segment");
        }
        if ((end - seg == 1 && seg[0] == '.') ||
            (end - seg == 2 && seg[0] == '.' && seg[1] == '.'))
            return bbt_route_none(out, "path has a dot segment");
        if (*end == '\0')
            break;
        seg = end + 1;
    }

    /* {KEY} or ~{user} */
    end = strchr(p, '/');
    if (!end)
        return bbt_route_none(out, "path names no repository");
    klen = (size_t)(end - p);
    if (bbt_route_canonical_key(p, klen, out->key) != 0)
        return bbt_route_none(out, "invalid project key");

    /* {slug}.git */
    seg = end + 1;
    end = strchr(seg, '/');
    if (!end)
        end = seg + strlen(seg);
    slen = (size_t)(end - seg);
    if (slen < 4 || memcmp(end - 4, ".git", 4) != 0)
        return bbt_route_none(out, "repository does not end in .git");
    slen -= 4;
    if (!bbt_route_valid_slug(seg, slen))
        return bbt_route_none(out, "invalid repository slug");
    memcpy(out->slug, seg, slen);
    out->slug[slen] = '\0';

    if (*end != '/')
        return bbt_route_none(out, "path names no git resource");
    git = end + 1;

    read_method = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;

    if (strcmp(git, "info/refs") == 0) {
        if (!read_method)
            return bbt_route_none(out, "method not allowed here");
        if (bbt_empty(args))
            level = BBT_LEVEL_READ; /* dumb protocol */
        else if (strcmp(args, "service=git-upload-pack") == 0)
            level = BBT_LEVEL_READ;
        else if (strcmp(args, "service=git-receive-pack") == 0)
            level = BBT_LEVEL_WRITE;
        else
            return bbt_route_none(out, "query string not allowed here");
    } else if (strcmp(git, "git-upload-pack") == 0 ||
               strcmp(git, "git-receive-pack") == 0) {
        if (strcmp(method, "POST") != 0)
            return bbt_route_none(out, "method not allowed here");
        if (!bbt_empty(args))
            return bbt_route_none(out, "query string not allowed here");
        level = strcmp(git, "git-upload-pack") == 0 ? BBT_LEVEL_READ
                                                    : BBT_LEVEL_WRITE;
    } else if (strcmp(git, "HEAD") == 0 ||
               strcmp(git, "objects/info/packs") == 0 ||
               strcmp(git, "objects/info/alternates") == 0 ||
               strcmp(git, "objects/info/http-alternates") == 0 ||
               bbt_loose_object(git) || bbt_pack_file(git)) {
        if (!read_method)
            return bbt_route_none(out, "method not allowed here");
        if (!bbt_empty(args))
            return bbt_route_none(out, "query string not allowed here");
        level = BBT_LEVEL_READ;
    } else {
        return bbt_route_none(out, "not a git resource");
    }

    out->need.scope = BBT_SCOPE_REPO;
    out->need.level = level;
    out->why = NULL;
    return BBT_ROUTE_MATCH;
}
