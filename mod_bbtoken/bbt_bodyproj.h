/*
 * The route option body-project= (bbt_rules.h): a request that puts a
 * repository into a project it names only in its JSON body, as Bitbucket's
 * fork (POST .../repos/{slug}, {"project": {"key": "OTHER"}}) and move
 * (PUT .../repos/{slug}, the same member) do.  That project is the
 * request's second target, decided as the second end of a COPY or MOVE
 * is: the request URL alone says nothing of it.
 *
 * Nothing here knows httpd.
 */
#ifndef BBT_BODYPROJ_H
#define BBT_BODYPROJ_H

#include <stddef.h>

#include "bbt_body.h"
#include "bbt_rules.h"

/* The most names a body-project= PATH holds, and the longest name. */
#define BBT_BODYPROJ_DEPTH 8
#define BBT_BODYPROJ_NAME_MAX 64

typedef struct bbt_bodyproj bbt_bodyproj_t;

/* The options, as bbt_rules.c numbers them after its own. */
typedef enum {
    BBT_BODYPROJ_OPT_PATH = 0, /* body-project=PATH:PERMISSION */
    BBT_BODYPROJ_OPT_ABSENT,   /* body-project-absent=personal */
    BBT_BODYPROJ_OPT_SAME      /* body-project-same=skip */
} bbt_bodyproj_opt_t;

/* Take option `opt` with its value v into *bp, made on its first option.
 * 0, or -1 with a message in err naming origin. */
int bbt_bodyproj_option(bbt_bodyproj_t **bp, bbt_bodyproj_opt_t opt,
                        const char *v, const char *origin, char *err,
                        size_t errlen);

/* Once a route's options are all read: NULL, or why the route cannot have
 * these options (a modifier without body-project=; body-project= on a deny
 * or destination route, or one that COPY or MOVE may match, which has a
 * second end of its own). */
const char *bbt_bodyproj_check(const bbt_bodyproj_t *bp, int deny,
                               int destination, char *const *methods,
                               size_t nmethods);

/* The second project of a request the route matched, from its body, into
 * out->into, out->into_key and out->into_need (out->target.key is the
 * route's own project, canonical).  NULL, or why the body is refused. */
const char *bbt_bodyproj_eval(const bbt_bodyproj_t *bp, const bbt_body_t *body,
                              bbt_match_t *out);

void bbt_bodyproj_free(bbt_bodyproj_t *bp);

#endif
