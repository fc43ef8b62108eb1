/*
 * The route option body-project= (see bbt_bodyproj.h).
 */
#include "bbt_bodyproj.h"
#include "bbt_input.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bbt_bodyproj {
    char *names[BBT_BODYPROJ_DEPTH];
    size_t n; /* 0: body-project= not given (yet) */
    /* PATH without its last name, the object holding the key ("project");
     * "body" when that is the body itself. */
    char *object;
    bbt_perm_t need;
    /* body-project-absent=personal: a body without the member puts the
     * repository into the personal project of whoever asks (Bitbucket's
     * fork does); otherwise it names no second project. */
    int absent_personal;
    /* body-project-same=skip: the route's own project is no second
     * project (a move within its project moves nothing). */
    int same_skip;
};

static int bbt_bodyproj_err(char *err, size_t errlen, const char *origin,
                            const char *what, const char *v)
{
    if (err && errlen)
        snprintf(err, errlen, "%s: %s '%s'", origin ? origin : "route", what,
                 v ? v : "");
    return -1;
}

/* PATH:PERMISSION.  PATH is names joined by ".", each 1 to 64 letters,
 * digits, _ and -; PERMISSION a project one (a body names a project):
 * PROJECT_ or REPO_CREATE. */
static int bbt_bodyproj_path(bbt_bodyproj_t *bp, const char *v,
                             const char *origin, char *err, size_t errlen)
{
    const char *colon = strrchr(v, ':'), *p = v;

    if (!colon || colon == v)
        return bbt_bodyproj_err(err, errlen, origin,
                                "body-project= needs PATH:PERMISSION:", v);
    if (bbt_perm_parse_grant(colon + 1, &bp->need) != 0 ||
        bp->need.scope != BBT_SCOPE_PROJECT)
        return bbt_bodyproj_err(
            err, errlen, origin,
            "body-project= needs a PROJECT_ permission or REPO_CREATE:", v);
    while (p < colon) {
        const char *end = memchr(p, '.', (size_t)(colon - p));
        size_t len = (size_t)((end ? end : colon) - p), i;

        if (len == 0 || len > BBT_BODYPROJ_NAME_MAX ||
            bp->n == BBT_BODYPROJ_DEPTH)
            return bbt_bodyproj_err(
                err, errlen, origin,
                "body-project= PATH is 1 to 8 names of 1 to 64 characters, "
                "joined by '.':",
                v);
        for (i = 0; i < len; i++) {
            if (!bbt_is_alnum((unsigned char)p[i]) && p[i] != '_' &&
                p[i] != '-')
                return bbt_bodyproj_err(err, errlen, origin,
                                        "body-project= names may hold only "
                                        "letters, digits, _ and -:",
                                        v);
        }
        if (!(bp->names[bp->n] = strndup(p, len)))
            return bbt_bodyproj_err(err, errlen, origin, "out of memory", v);
        bp->n++;
        p = end ? end + 1 : colon;
        if (end && p == colon)
            return bbt_bodyproj_err(err, errlen, origin,
                                    "body-project= PATH ends in '.':", v);
    }
    for (p = colon; p > v && *p != '.'; p--)
        ;
    if (!(bp->object = p > v ? strndup(v, (size_t)(p - v)) : strdup("body")))
        return bbt_bodyproj_err(err, errlen, origin, "out of memory", v);
    return 0;
}

int bbt_bodyproj_option(bbt_bodyproj_t **bpp, bbt_bodyproj_opt_t opt,
                        const char *v, const char *origin, char *err,
                        size_t errlen)
{
    bbt_bodyproj_t *bp = *bpp;

    if (!bp && !(bp = *bpp = calloc(1, sizeof(*bp))))
        return bbt_bodyproj_err(err, errlen, origin, "out of memory", v);
    switch (opt) {
    case BBT_BODYPROJ_OPT_PATH:
        return bbt_bodyproj_path(bp, v, origin, err, errlen);
    case BBT_BODYPROJ_OPT_ABSENT:
        if (strcmp(v, "personal") != 0)
            return bbt_bodyproj_err(err, errlen, origin,
                                    "body-project-absent= takes personal:", v);
        bp->absent_personal = 1;
        return 0;
    default:
        if (strcmp(v, "skip") != 0)
            return bbt_bodyproj_err(err, errlen, origin,
                                    "body-project-same= takes skip:", v);
        bp->same_skip = 1;
        return 0;
    }
}

const char *bbt_bodyproj_check(const bbt_bodyproj_t *bp, int deny,
                               int destination, char *const *methods,
                               size_t nmethods)
{
    size_t i;

    if (!bp)
        return NULL;
    if (bp->n == 0)
        return "body-project-absent= and body-project-same= need "
               "body-project=:";
    if (deny)
        return "body-project= cannot be on a deny route:";
    if (destination)
        return "body-project= cannot decide a destination route:";
    /* COPY and MOVE have their Destination as a second end already. */
    if (nmethods == 0)
        return "body-project= needs its methods named, not \"*\":";
    for (i = 0; i < nmethods; i++) {
        if (strcmp(methods[i], "COPY") == 0 || strcmp(methods[i], "MOVE") == 0)
            return "body-project= cannot be on a COPY or MOVE route:";
    }
    return NULL;
}

/* 1 if the object holding the key holds an "id" member (or its twin). */
static int bbt_bodyproj_has_id(const bbt_bodyproj_t *bp, const bbt_body_t *body)
{
    const char *names[BBT_BODYPROJ_DEPTH];

    memcpy(names, bp->names, bp->n * sizeof(names[0]));
    names[bp->n - 1] = "id";
    return bbt_body_has(body, names, bp->n);
}

const char *bbt_bodyproj_eval(const bbt_bodyproj_t *bp, const bbt_body_t *body,
                              bbt_match_t *out)
{
    const char *v;
    size_t len;

    out->into = BBT_INTO_NONE;
    out->into_key[0] = '\0';
    out->into_id = NULL;
    out->into_need = bp->need;
    switch (
        bbt_body_path(body, (const char *const *)bp->names, bp->n, &v, &len)) {
    case BBT_MEMBER_ABSENT:
        if (bp->absent_personal)
            out->into = BBT_INTO_PERSONAL;
        return NULL;
    case BBT_MEMBER_STRING:
        if (bbt_input_key(v, len, out->into_key) != 0)
            return "the body's project key is not a project key";
        if (bbt_bodyproj_has_id(bp, body))
            out->into_id = bp->object;
        if (!(bp->same_skip && strcmp(out->into_key, out->target.key) == 0))
            out->into = BBT_INTO_KEY;
        return NULL;
    case BBT_MEMBER_AMBIGUOUS:
        return "the body names its project ambiguously (a member's twin "
               "in another case)";
    default:
        return "the body's project is not an object with a string key";
    }
}

void bbt_bodyproj_free(bbt_bodyproj_t *bp)
{
    size_t i;

    if (!bp)
        return;
    for (i = 0; i < bp->n; i++)
        free(bp->names[i]);
    free(bp->object);
    free(bp);
}
