/*
 * Whether a backend reads a routed path as the routes do (bbt_backread.h).
 * httpd has decoded the path once, but under AllowEncodedSlashes NoDecode
 * r->uri keeps a %2F as it came, and a %25XX comes out as %XX: the
 * filesystem reads them as names, and a ProxyPass hands the path on
 * encoded again, while a backend that decodes them and then resolves dot
 * segments reads repo/x%2F..%2F..%2FOTHER%2Fsecret, or
 * repo/x/%2e%2e/%2e%2e/OTHER/secret, as OTHER's.  (ProxyPass nocanon
 * hands on the request's own URL instead, which no reading of r->uri
 * covers: README's Known limits.)  One that takes a
 * backslash (a %5C, which httpd decodes) for a slash reads
 * repo/x\..\..\OTHER so; and a servlet container drops each segment's
 * ;parameters before it resolves dot segments, so repo/..;/..;/OTHER is
 * OTHER's to it, while httpd and the routes see segments named "..;".
 * So the path read every way at once (each escape decoded, again while one
 * is left, then a backslash as a slash, then each ;parameter dropped up to
 * the next slash of that reading, slashes merged) must match the very
 * route on the very target too, or the request is not routed: a name a
 * backend takes as bytes (mod_dav_svn's "\lead.txt", read so as
 * "trunk//lead.txt") is still its repository's.  Its dot segments are
 * refused, never resolved (they match no route): a backend may apply only
 * some of the readings (keep a backslash, decode a %2F, drop a ;parameter
 * before it decodes), and its ".." would then pop another segment than a
 * resolved one pops.  A ".." any of those partial readings makes is one in
 * this reading too, whose slashes are the most any reading has and whose
 * ;parameters end at the first of them: x;%2F..%2FOTHER is x;/../OTHER,
 * whose ".." stays.  But a ;parameter dropped before a decoding ends at a
 * slash already there, and takes the slashes the decoding would make with
 * it: so at each decoding the path is read with its ;parameters dropped
 * first too, then every way again.  A decoded NUL is refused.
 */
#include "bbt_backread.h"

#include <stdlib.h>
#include <string.h>

static int bbt_hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Whether s holds a %XX escape. */
static int bbt_has_escape(const char *s)
{
    for (s = strchr(s, '%'); s; s = strchr(s + 1, '%')) {
        if (bbt_hexval(s[1]) >= 0 && bbt_hexval(s[2]) >= 0) {
            return 1;
        }
    }
    return 0;
}

/* s's escapes decoded once, in place, as httpd's ap_unescape_all decodes
 * them: a '%' with no two hex digits after it is a name's own and stays.
 * The caller has refused a %00 first. */
static void bbt_unescape(char *s)
{
    char *w = s;

    for (; *s; s++) {
        if (*s == '%' && bbt_hexval(s[1]) >= 0 && bbt_hexval(s[2]) >= 0) {
            *w++ = (char)(bbt_hexval(s[1]) * 16 + bbt_hexval(s[2]));
            s += 2;
        } else {
            *w++ = *s;
        }
    }
    *w = '\0';
}

/* Runs of slashes in s merged into one, in place (httpd's ap_no2slash). */
static void bbt_no2slash(char *s)
{
    const char *p;
    char *w = s;

    for (p = s; *p; p++) {
        if (*p != '/' || w == s || w[-1] != '/') {
            *w++ = *p;
        }
    }
    *w = '\0';
}

/* A copy of s, or NULL.  Zeroed some way past its end: PCRE2's JIT reads
 * a few bytes past a subject's end, which memcheck reports as bytes never
 * written. */
static char *bbt_copy(const char *s)
{
    size_t len = strlen(s) + 1;
    char *c = calloc(1, len + 32);

    return c ? memcpy(c, s, len) : NULL;
}

/* Each ;parameter of s dropped up to the next slash, in place. */
static void bbt_drop_params(char *s)
{
    const char *p;
    char *w = s;

    for (p = s; *p;) {
        if (*p == ';') {
            p += strcspn(p, "/");
        } else {
            *w++ = *p++;
        }
    }
    *w = '\0';
}

/* Whether alt (changed here), which a backend may decode at most decodes
 * times more, reads every way as mp's route on mp's target. */
static int bbt_reads_as(const bbt_rules_t *rules, const char *method, char *alt,
                        const char *args, int destination,
                        const bbt_match_t *mp, int decodes)
{
    char *w, *p, *cut;
    bbt_match_t m;
    int n, same;

    for (n = 0;; n++) {
        /* A backend that drops ;parameters before it decodes (a servlet
         * container behind a ProxyPass) ends one at a slash already there,
         * not at one its decoding makes: repo/;%5Cx and repo/;%2Fx are
         * repo/ to it, the repository itself, while the reading below has
         * repo/x.  That reading is read every way too, with the decodings
         * left. */
        if (strchr(alt, ';')) {
            if (!(cut = bbt_copy(alt))) {
                return 0;
            }
            bbt_drop_params(cut);
            same = bbt_reads_as(rules, method, cut, args, destination, mp,
                                decodes - n);
            free(cut);
            if (!same) {
                return 0;
            }
        }
        if (!bbt_has_escape(alt)) {
            break;
        }
        /* A %00 would be decoded to a NUL, which ends the string here but
         * not to a backend: refused before the pass. */
        if (n == decodes || strstr(alt, "%00")) {
            return 0;
        }
        bbt_unescape(alt);
    }
    for (p = alt, w = alt; *p;) {
        if (*p == '\\') {
            *w++ = '/';
            p++;
        } else if (*p == ';') {
            p += strcspn(p, "/\\");
        } else {
            *w++ = *p++;
        }
    }
    *w = '\0';
    bbt_no2slash(alt);
    return bbt_rules_match(rules, method, alt, args, destination, &m) ==
               BBT_ROUTE_MATCH &&
           m.rule == mp->rule && strcmp(m.target.key, mp->target.key) == 0 &&
           strcmp(m.target.slug, mp->target.slug) == 0;
}

int bbt_backread_agrees(const bbt_rules_t *rules, const char *method,
                        const char *path, const char *args, int destination,
                        const bbt_match_t *mp)
{
    char *alt;
    int same;

    if (!path[strcspn(path, "%\\;")]) {
        return 1;
    }
    if (!(alt = bbt_copy(path))) {
        return 0;
    }
    same = bbt_reads_as(rules, method, alt, args, destination, mp,
                        BBT_BACKREAD_DECODES);
    free(alt);
    return same;
}
