/*
 * The route options query-repo= and body-repo= (bbt_rules.h): a request
 * that names a second repository outside its path, as Bitbucket's compare
 * (.../compare/diff?fromRepo=KEY/slug) and a pull request's create or
 * update ({"fromRef": {"repository": {"slug": ..., "project": {"key":
 * ...}}}}) do.  The route decides the path's repository; that second one
 * is read by the backend.
 *
 * A personal token's owner, or a password user, is a person: the backend
 * applies that person's own rules to the second repository, and nothing
 * here is asked.  A project's or a repository's token is nobody
 * (REMOTE_USER project:KEY or repo:KEY/slug): the second repository must
 * lie inside its scope (bbt_kind_covers), and one that cannot be decided
 * (a numeric id the module cannot resolve, an id beside a slug or a key,
 * which the backend may take instead of them, an encoding that does not
 * decode, a body of another shape) is refused, never guessed.
 *
 * Nothing here knows httpd.
 */
#ifndef BBT_NAMEDREPO_H
#define BBT_NAMEDREPO_H

#include <stddef.h>

#include "bbt_body.h"
#include "bbt_kind.h"
#include "bbt_target.h"

/* The most body-repo= PATHs (and query-repo= NAMEs) on one route, names
 * on one PATH, and the longest name (a query-repo= NAME too). */
#define BBT_NAMEDREPO_PATHS 4
#define BBT_NAMEDREPO_DEPTH 6
#define BBT_NAMEDREPO_NAME_MAX 64

typedef struct bbt_namedrepo bbt_namedrepo_t;

typedef enum {
    BBT_NAMEDREPO_OPT_QUERY = 0, /* query-repo=NAME[,NAME]... */
    BBT_NAMEDREPO_OPT_BODY       /* body-repo=PATH[,PATH]... */
} bbt_namedrepo_opt_t;

/* Take option `opt` with its value v into *nr, made on its first option.
 * 0, or -1 with a message in err naming origin. */
int bbt_namedrepo_option(bbt_namedrepo_t **nr, bbt_namedrepo_opt_t opt,
                         const char *v, const char *origin, char *err,
                         size_t errlen);

/* Once a route's options are all read: NULL, or why the route cannot have
 * them (a deny route decides nothing; a Destination has no query or body
 * of its own). */
const char *bbt_namedrepo_check(const bbt_namedrepo_t *nr, int deny,
                                int destination);

/* 1 if deciding needs the request body (body-repo=). */
int bbt_namedrepo_wants_body(const bbt_namedrepo_t *nr);

/* 1 if deciding needs the query's parameters (query-repo=). */
int bbt_namedrepo_wants_query(const bbt_namedrepo_t *nr);

/* One query parameter, split and %-decoded by the caller
 * (bbt_query_params, with APR's decoder: "+" a space).  name or value NULL: it
 * could not be decoded (a broken %-escape, or a %00, which a C string cannot
 * hold); value "" for a parameter without "=". */
typedef struct {
    const char *name;
    const char *value;
} bbt_qparam_t;

/* What a request says where a route looks for a second repository. */
typedef struct {
    /* The query's parameters, in order (query-repo=). */
    const bbt_qparam_t *params;
    size_t nparams;
    /* The parsed body, or NULL when it is not to be had (body-repo=). */
    const bbt_body_t *body;
    /* A body-project= route's project object, as its PATH names it, when
     * it holds an "id" member (bbt_match_t.into_id), or NULL. */
    const char *project_id;
} bbt_named_req_t;

/* What bbt_namedrepo_inside found outside the scope. */
typedef struct {
    /* The repository named (canonical key, slug); key empty when what is
     * named could not be decided. */
    bbt_target_t repo;
    /* The query parameter's name or the body's PATH, as the route says. */
    const char *where;
    /* Why (static English). */
    const char *why;
} bbt_named_t;

/* 1 if every repository request q names where nr looks (nr NULL: nowhere)
 * lies inside scope s, and no project object q->project_id says holds an
 * id; 0 with *out saying which does not.  A personal scope holds
 * everything.  q->body NULL under body-repo= is 0. */
int bbt_namedrepo_inside(const bbt_namedrepo_t *nr, const bbt_tokscope_t *s,
                         const bbt_named_req_t *q, bbt_named_t *out);

void bbt_namedrepo_free(bbt_namedrepo_t *nr);

#endif
