/*
 * libFuzzer target: the git route matcher.  The input is split at the first
 * two NUL bytes into method, path and query.  A match must always name a
 * canonical key, a valid slug and a REPO_ permission of read or write; and
 * under a repository's refs/, a write only to names git takes for refs and
 * none that would make a directory there a repository, a GET or HEAD never
 * of a path ending as a dumb service of git-http-backend's (checked here
 * without the routes' regular expressions).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bbt_route.h"

/* rest: what follows /scm/KEY/slug.git/refs, "" or "/..." ("/" ending a
 * collection). */
static int refs_ok(const char *rest)
{
    static const char *const repo_names[] = {
        "HEAD",  "config",      "objects",   "refs",  "info",
        "hooks", "packed-refs", "commondir", "gitdir"};
    const char *c;
    size_t n, i;

    for (; *rest == '/'; rest = c + n) {
        c = rest + 1;
        n = strcspn(c, "/");
        if (n == 0)
            continue;
        if (c[0] == '.' || c[n - 1] == '.')
            return 0;
        if ((n >= 4 && strncasecmp(c + n - 4, ".git", 4) == 0) ||
            (n >= 5 && strncasecmp(c + n - 5, ".lock", 5) == 0))
            return 0;
        for (i = 0; i < sizeof(repo_names) / sizeof(repo_names[0]); i++)
            if (n == strlen(repo_names[i]) &&
                strncasecmp(c, repo_names[i], n) == 0)
                return 0;
        for (i = 0; i < n; i++) {
            unsigned char ch = (unsigned char)c[i];

            if (ch <= 0x20 || ch == 0x7f || strchr("~^:?*[\\", ch) ||
                (ch == '.' && c[i + 1] == '.') ||
                (ch == '@' && c[i + 1] == '{'))
                return 0;
        }
    }
    return 1;
}

/* 1 if rest ends as git-http-backend's dumb services do (HEAD, info/refs,
 * objects/...): it takes what comes before for a repository. */
static int dumb_service(const char *rest)
{
    size_t n = strlen(rest);

    return (n >= 5 && strcmp(rest + n - 5, "/HEAD") == 0) ||
           (n >= 10 && strcmp(rest + n - 10, "/info/refs") == 0) ||
           strstr(rest, "/objects/") != NULL;
}

/* The part of path after its repository's refs, or NULL if it is not
 * under refs. */
static const char *under_refs(const char *path)
{
    const char *p = path + strlen("/scm/");
    int i;

    for (i = 0; i < 2; i++) {
        p = strchr(p, '/');
        if (!p)
            return NULL;
        p++;
    }
    if (strncmp(p, "refs", 4) != 0 || (p[4] != '/' && p[4] != '\0'))
        return NULL;
    return p + 4;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size + 3);
    char *method, *path, *args, *end;
    const char *rest;
    bbt_target_t t;
    char canon[BBT_KEY_BUF];

    if (!in) {
        return 0;
    }
    memcpy(in, data, size);
    in[size] = in[size + 1] = in[size + 2] = '\0';
    method = in;
    path = method + strlen(method) + 1;
    args = path + strlen(path) + 1;
    end = in + size + 2;
    if (path > end) {
        path = end;
    }
    if (args > end) {
        args = end;
    }
    if (bbt_route_git("/scm", method, path, *args ? args : NULL, &t) ==
        BBT_ROUTE_MATCH) {
        if (bbt_input_key(t.key, strlen(t.key), canon) != 0 ||
            strcmp(canon, t.key) != 0 ||
            !bbt_input_slug(t.slug, strlen(t.slug)) ||
            t.need.scope != BBT_SCOPE_REPO ||
            (t.need.level != BBT_LEVEL_READ &&
             t.need.level != BBT_LEVEL_WRITE)) {
            abort();
        }
        if ((rest = under_refs(path)) != NULL &&
            (t.need.level == BBT_LEVEL_WRITE ? !refs_ok(rest)
                                             : (strcmp(method, "GET") == 0 ||
                                                strcmp(method, "HEAD") == 0) &&
                                                   dumb_service(rest)))
            abort();
    }
    free(in);
    return 0;
}
