/*
 * What an access-tokens REST request asks, read without httpd: the parts of
 * its path, its paging arguments, whether its body is declared JSON, and
 * whether a change may come from where it comes from (the cross-site
 * check).  The handler (bbt_rest.c) gathers the request's URI, decoded
 * query arguments and headers and asks these; every byte they read is the
 * client's.
 *
 * Nothing here knows httpd, APR, libpq or jansson.
 */
#ifndef BBT_REST_REQ_H
#define BBT_REST_REQ_H

#include "bbt_input.h"
#include "bbt_token.h"

#define BBT_REST_PREFIX "/rest/access-tokens/"
#define BBT_REST_DEFAULT_LIMIT 25
#define BBT_REST_MAX_LIMIT 1000

/* The kinds of resource under the prefix. */
typedef enum {
    BBT_REST_NONE = 0,     /* not one of ours: 404 */
    BBT_REST_USER,         /* .../users/{slug}: a user's tokens */
    BBT_REST_TOKEN,        /* .../users/{slug}/{id}: one token */
    BBT_REST_SCOPE,        /* .../projects/{key}[/repos/{slug}]: a project's
                              or a repository's tokens */
    BBT_REST_SCOPE_TOKEN,  /* .../projects/{key}[/repos/{slug}]/{id} */
    BBT_REST_LEAKED,       /* .../revoke-by-value: anyone, no login */
    BBT_REST_ALL,          /* .../inventory: every token, for global admins */
    BBT_REST_ROTATE,       /* .../users/{slug}/{id}/rotate */
    BBT_REST_SCOPE_ROTATE, /* .../projects/{key}[/repos/{slug}]/{id}/rotate */
    BBT_REST_PLACES        /* .../places: the projects and repositories
                              whose tokens the caller may manage */
} bbt_rest_shape_t;

typedef struct {
    bbt_rest_shape_t shape;
    int latest;                    /* "latest" rather than "1.0" */
    char user[BBT_USER_MAX + 1];   /* the user, as spelled in the path */
    char slug[BBT_USER_MAX + 1];   /* its slug: the user it names */
    char id[BBT_TOKEN_ID_LEN + 1]; /* the token id; empty for a user */
    char key[BBT_KEY_BUF];         /* SCOPE: the project's canonical key */
    char repo[BBT_SLUG_MAX + 1];   /* SCOPE: the repository; empty for a
                                      project */
} bbt_rest_path_t;

/* Split a decoded URI path: BBT_REST_PREFIX, "1.0" or "latest", then
 * "/revoke-by-value", "/inventory" or "/places" (each with one optional
 * trailing "/") alone, or "/users/" and a user slug or name
 * (bbt_input_user_name; either names the user whose slug,
 * bbt_input_user_slug, it has), or "/projects/"
 * and a project key (bbt_input_key, canonicalized) optionally followed by
 * "/repos/" and a slug (bbt_input_slug); then optionally "/" and a token
 * id (bbt_input_token_id), itself optionally followed by "/rotate"; one
 * trailing "/" is allowed.  Fills *out and returns its shape;
 * BBT_REST_NONE (and *out cleared) for anything else. */
bbt_rest_shape_t bbt_rest_path_parse(const char *uri, bbt_rest_path_t *out);

/* start and limit from the decoded values of the query's "start" and
 * "limit" arguments (NULL when absent; the handler's glue decodes the
 * query, bbt_rest_args.h): each 1 to 9 ASCII digits.  A missing start is
 * 0; a missing or 0 limit is BBT_REST_DEFAULT_LIMIT, one over
 * BBT_REST_MAX_LIMIT is that maximum.  0, or -1 if either is malformed. */
int bbt_rest_page_args(const char *start_arg, const char *limit_arg,
                       long *start, long *limit);

/* 1 if a Content-Type value (NULL for none) is application/json, with or
 * without parameters (white space before them), in any case. */
int bbt_rest_is_json(const char *content_type);

/* The cross-site check's answers: nonzero lets the request go on. */
#define BBT_REST_CSRF_REFUSED 0
#define BBT_REST_CSRF_OK 1
#define BBT_REST_CSRF_NOCHECK 2 /* only by X-Atlassian-Token: nocheck */

/* The cross-site check (README, "Cross-site requests"): BBT_REST_CSRF_OK
 * if a request may go on, BBT_REST_CSRF_REFUSED if it must be refused.
 * GET and HEAD change nothing and always may.  Any other method must not
 * name another site: an Origin, if sent, ours, a Sec-Fetch-Site, if sent,
 * "same-origin", and without an Origin a Referer, if sent, a page of ours
 * (its scheme://host[:port] ours).  Then DELETE may; any other method
 * needs X-Atlassian-Token: no-check or a JSON Content-Type, or else
 * X-Atlassian-Token: nocheck, the spelling Bitbucket deprecated and still
 * takes, and then the answer is BBT_REST_CSRF_NOCHECK (the handler warns
 * if the rest of the request passes too, and it has a login).
 * Either value in any case, and nothing else: no white space, no other
 * word.
 *
 * A scheme://host[:port] is ours when it equals self_url (this server's
 * own URL as httpd builds it), or when its host (in any case; an IPv6
 * literal in brackets) and port are those of host (the request's Host
 * header; without a port, the default one of the Origin's scheme, 80 for
 * http and 443 for https) and its scheme is https or scheme (the
 * request's own, "http" or "https").  "null", and a Host that is not a
 * host[:port] alone, never are.
 *
 * Any argument but method may be NULL (the header is absent; self_url,
 * host or scheme is unknown, and then nothing is ours by it). */
int bbt_rest_csrf_ok(const char *method, const char *origin,
                     const char *self_url, const char *host, const char *scheme,
                     const char *fetch_site, const char *atlassian_token,
                     const char *content_type, const char *referer);

#endif
