/*
 * Route text (see bbt_rules_load in bbt_rules.h): a route file, or a
 * built-in set, split into lines and words the way httpd splits its
 * configuration, each route handed with the prefix to
 * bbt_rules_add_prefixed, which replaces @PREFIX@ as each word needs.
 */
#include "bbt_rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int bbt_err(char *err, size_t errlen, const char *origin,
                   const char *what, const char *detail)
{
    if (err && errlen)
        snprintf(err, errlen, "%s: %s%s%s%s", origin ? origin : "route", what,
                 detail ? " '" : "", detail ? detail : "", detail ? "'" : "");
    return -1;
}

/* One word of a configuration line, split as httpd's ap_getword_conf
 * splits it, except that a quoted word keeps "\\" as two characters
 * (httpd makes them one): the shipped route files' patterns are written
 * for this.
 * Writes it NUL-terminated into out (which holds at least strlen(*line)+1)
 * and advances *line.  Returns 0 at the end of the line. */
static int bbt_word(const char **line, char *out)
{
    const char *p = *line;
    char q;

    while (*p == ' ' || *p == '\t')
        p++;
    if (!*p) {
        *line = p;
        return 0;
    }
    if (*p == '"' || *p == '\'') {
        q = *p++;
        while (*p && *p != q) {
            if (*p == '\\' && p[1] == q)
                p++;
            *out++ = *p++;
        }
        if (*p)
            p++;
    } else {
        while (*p && *p != ' ' && *p != '\t')
            *out++ = *p++;
    }
    *out = '\0';
    *line = p;
    return 1;
}

#define BBT_PREFIX_RULE                                                        \
    "the URL prefix must start with '/' and hold only letters, digits and "    \
    "/._~-:"

/* Why prefix cannot be a URL prefix, or NULL.  BBTokenRoutes drops a
 * trailing slash before it comes here, so that is no rule a directive's
 * user breaks, and the message for it is not theirs. */
static const char *bbt_prefix_bad(const char *prefix)
{
    size_t len = strlen(prefix);
    const char *p;

    if (len && prefix[0] != '/')
        return BBT_PREFIX_RULE;
    for (p = prefix; *p; p++) {
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                    "0123456789/._~-",
                    *p))
            return BBT_PREFIX_RULE;
    }
    if (len && prefix[len - 1] == '/')
        return "the URL prefix comes here without its trailing '/':";
    return NULL;
}

/* The line [line, line + len) as a string (malloc). */
static char *bbt_line(const char *line, size_t len)
{
    char *out = malloc(len + 1);

    if (out) {
        memcpy(out, line, len);
        out[len] = '\0';
    }
    return out;
}

#define BBT_MAX_WORDS 16

int bbt_rules_load(bbt_rules_t *rs, const char *text, const char *prefix,
                   const char *name, char *err, size_t errlen)
{
    const char *line = text, *end, *why;
    unsigned lineno = 0;
    char origin[300];

    if (err && errlen)
        err[0] = '\0';
    if (!rs || !text)
        return bbt_err(err, errlen, name, "no route text", NULL);
    if (prefix && (why = bbt_prefix_bad(prefix)) != NULL)
        return bbt_err(err, errlen, name, why, prefix);
    end = text + strlen(text);
    while (line < end) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        size_t len = nl ? (size_t)(nl - line) : (size_t)(end - line);
        char *buf, *words, *w[BBT_MAX_WORDS];
        const char *cur;
        size_t nw = 0, off = 0;
        int rv;

        lineno++;
        snprintf(origin, sizeof(origin), "%s:%u", name ? name : "routes",
                 lineno);
        buf = bbt_line(line, len);
        line = nl ? nl + 1 : line + len;
        if (!buf)
            return bbt_err(err, errlen, origin, "out of memory", NULL);
        words = malloc(strlen(buf) * 2 + BBT_MAX_WORDS + 2);
        if (!words) {
            free(buf);
            return bbt_err(err, errlen, origin, "out of memory", NULL);
        }
        cur = buf;
        while (*cur == ' ' || *cur == '\t' || *cur == '\r')
            cur++;
        if (*cur == '#' || *cur == '\0') {
            free(words);
            free(buf);
            continue;
        }
        if (buf[0] && buf[strlen(buf) - 1] == '\r')
            buf[strlen(buf) - 1] = '\0';
        while (nw < BBT_MAX_WORDS && bbt_word(&cur, words + off)) {
            w[nw] = words + off;
            off += strlen(w[nw]) + 1;
            nw++;
        }
        if (nw == BBT_MAX_WORDS && bbt_word(&cur, words + off))
            rv = bbt_err(err, errlen, origin, "too many words", NULL);
        else if (strcasecmp(w[0], "BBTokenRoute") != 0)
            rv = bbt_err(err, errlen, origin,
                         "a route file holds only BBTokenRoute lines, not",
                         w[0]);
        else if (nw < 4)
            rv = bbt_err(err, errlen, origin,
                         "BBTokenRoute needs METHODS PATTERN PERMISSION", NULL);
        else
            rv = bbt_rules_add_prefixed(rs, w[1], w[2], w[3],
                                        (const char *const *)(w + 4), nw - 4,
                                        prefix, origin, err, errlen);
        free(words);
        free(buf);
        if (rv != 0)
            return -1;
    }
    return 0;
}
