/*
 * libFuzzer target: a routed path as a backend may read it (bbt_backread.h)
 * against models of backends, over the built-in git and dav sets.  The
 * input's first byte picks the method, its second a repository's prefix,
 * and each of the next ten bytes a piece of path: slashes, dot
 * segments, escapes (once and twice encoded), backslashes, ;parameters,
 * names.  A path httpd could hand over (no dot segment, no empty one)
 * that matches a route and that bbt_backread_agrees lets through must be
 * read by every backend modelled (a sequence of steps: decode the escapes
 * once, take a backslash for a slash, drop each ;parameter up to the next
 * slash, or backslash, merge slashes; then dot segments resolved, slashes
 * merged) in the same project and repository, at its root when the path
 * is and inside it when the path is (a write there is another
 * permission's), and for git in the same place in the repository.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bbt_backread.h"
#include "bbt_rules.h"

#define MAXLEN 1024
#define SEGS 5

static const char *const methods[] = {"GET",       "DELETE",   "PUT",
                                      "PROPPATCH", "MOVE",     "MKCOL",
                                      "LOCK",      "PROPFIND", "POST"};
static const char *const prefixes[] = {"/dav/PROJ/repo",
                                       "/dav/PROJ/repo/",
                                       "/dav/PROJ/",
                                       "/scm/PROJ/repo.git/",
                                       "/scm/PROJ/repo.git/refs/heads/",
                                       "/dav/~alice/repo/"};
static const char *const pieces[] = {
    "/",    "/",    "..",     ".",       "%2F",     "%2f",    "%5C",
    "\\",   ";",    ";x=1",   "%3B",     "%253B",   "%25",    "%252e",
    "%2e",  "%2E",  "%252F",  "%255C",   "%25252e", "%2525",  "OTHER",
    "PROJ", "repo", "secret", "x",       "%",       "%zz",    "%2500",
    "%3F",  "?",    "#",      " ",       "..;",     "%2e%2e", ".DAV",
    ".git", "refs", "heads",  "objects", "info",    "HEAD",   "config",
    "~",    "%7e"};
/* Each backend's steps: D decode once, B a backslash as a slash, P drop
 * ;parameters up to a slash, Q up to a slash or a backslash, M merge
 * slashes. */
static const char *const backends[] = {
    "D",   "DD",  "DDD",  "B",   "P",   "DP",  "PD", "DB", "BD",  "DBP",
    "DPB", "PDB", "BPD",  "DDP", "PDD", "DPD", "M",  "DM", "DBM", "PM",
    "DPM", "BDP", "DBDP", "DDB", "DBD", "Q",   "DQ", "QD", "DDQ", "DQB"};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const bbt_rules_t *rules;

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decoded once, leniently; 0 when that makes a NUL (a backend refuses). */
static int decode(char *s)
{
    char *w = s;

    for (; *s; s++) {
        if (*s == '%' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
            if ((*w++ = (char)(hexval(s[1]) * 16 + hexval(s[2]))) == '\0')
                return 0;
            s += 2;
        } else {
            *w++ = *s;
        }
    }
    *w = '\0';
    return 1;
}

static void merge(char *s)
{
    const char *p;
    char *w = s;

    for (p = s; *p; p++)
        if (*p != '/' || w == s || w[-1] != '/')
            *w++ = *p;
    *w = '\0';
}

static void params(char *s, const char *stop)
{
    const char *p;
    char *w = s;

    for (p = s; *p;) {
        if (*p == ';')
            p += strcspn(p, stop);
        else
            *w++ = *p++;
    }
    *w = '\0';
}

/* RFC 3986's remove_dot_segments, in place. */
static void dots(char *s)
{
    char out[MAXLEN];
    const char *p = s;
    size_t o = 0;

    while (*p) {
        if (strncmp(p, "../", 3) == 0) {
            p += 3;
        } else if (strncmp(p, "./", 2) == 0 || strncmp(p, "/./", 3) == 0) {
            p += 2;
        } else if (strcmp(p, "/.") == 0) {
            p = "/";
        } else if (strncmp(p, "/../", 4) == 0 || strcmp(p, "/..") == 0) {
            p = p[3] ? p + 3 : "/";
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--;
        } else if (strcmp(p, ".") == 0 || strcmp(p, "..") == 0) {
            p += strlen(p);
        } else {
            if (*p == '/')
                out[o++] = *p++;
            while (*p && *p != '/')
                out[o++] = *p++;
        }
    }
    out[o] = '\0';
    memcpy(s, out, o + 1);
}

/* Whether httpd could hand the path over: no empty or dot segment. */
static int normal(const char *u)
{
    const char *p;

    for (p = strchr(u, '/'); p; p = strchr(p + 1, '/')) {
        const char *s = p + 1;

        if (*s == '/' ||
            (s[0] == '.' &&
             (s[1] == '/' || !s[1] || (s[1] == '.' && (s[2] == '/' || !s[2])))))
            return 0;
    }
    return 1;
}

/* The first SEGS segments of p, slashes merged: their count. */
static int segs(const char *p, char s[SEGS][MAXLEN])
{
    char buf[MAXLEN];
    char *q = buf;
    int n = 0;

    snprintf(buf, sizeof(buf), "%s", p);
    merge(buf);
    while (*q == '/')
        q++;
    while (*q && n < SEGS) {
        size_t l = strcspn(q, "/");

        memcpy(s[n], q, l);
        s[n++][l] = '\0';
        if (!q[l] || !q[l + 1])
            break;
        q += l + 1;
    }
    return n;
}

/* uri as the backend steps read it, into b: 0 when it refuses it. */
static int reads(const char *uri, const char *steps, char *b)
{
    char *c;

    memcpy(b, uri, strlen(uri) + 1);
    for (; *steps; steps++) {
        switch (*steps) {
        case 'D':
            if (!decode(b))
                return 0;
            break;
        case 'B':
            for (c = b; *c; c++)
                if (*c == '\\')
                    *c = '/';
            break;
        case 'P':
            params(b, "/");
            break;
        case 'Q':
            params(b, "/\\");
            break;
        case 'M':
            merge(b);
            break;
        }
    }
    dots(b);
    merge(b);
    return 1;
}

/* Whether the backend's reading b is where uri is, as far as method's
 * permission goes. */
static int same_place(const char *method, const char *uri, const char *b)
{
    static char sa[SEGS][MAXLEN], sb[SEGS][MAXLEN];
    int na = segs(uri, sa), nb = segs(b, sb);
    int reading = strcmp(method, "GET") == 0 || strcmp(method, "PROPFIND") == 0;

    if (na < 3 || nb < 3)
        return na == nb;
    return strcmp(sa[0], sb[0]) == 0 && strcmp(sa[1], sb[1]) == 0 &&
           strcmp(sa[2], sb[2]) == 0 && (reading || (na > 3) == (nb > 3)) &&
           (strcmp(sa[0], "scm") != 0 || na <= 3 || nb <= 3 ||
            strcmp(sa[3], sb[3]) == 0);
}

static const bbt_rules_t *load(void)
{
    char err[BBT_RULES_ERR_MAX];
    bbt_rules_t *rs = bbt_rules_new();

    if (!rs ||
        bbt_rules_load(rs, bbt_rules_builtin("dav", NULL), "/dav", "dav", err,
                       sizeof(err)) != 0 ||
        bbt_rules_load(rs, bbt_rules_builtin("git", NULL), "/scm", "git", err,
                       sizeof(err)) != 0)
        abort();
    return rs;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char uri[MAXLEN], b[MAXLEN];
    const char *method;
    bbt_match_t m;
    size_t i;

    if (!rules)
        rules = load();
    if (size < 2)
        return 0;
    if (size > 12)
        size = 12;
    method = methods[data[0] % N(methods)];
    snprintf(uri, sizeof(uri), "%s", prefixes[data[1] % N(prefixes)]);
    for (i = 2; i < size; i++)
        strcat(uri, pieces[data[i] % N(pieces)]);
    if (!normal(uri) ||
        bbt_rules_match(rules, method, uri, NULL, 0, &m) != BBT_ROUTE_MATCH ||
        !m.key_exact || !bbt_backread_agrees(rules, method, uri, NULL, 0, &m))
        return 0;
    for (i = 0; i < N(backends); i++) {
        if (reads(uri, backends[i], b) && !same_place(method, uri, b)) {
            fprintf(stderr, "%s %s: backend %s reads %s\n", method, uri,
                    backends[i], b);
            abort();
        }
    }
    return 0;
}
