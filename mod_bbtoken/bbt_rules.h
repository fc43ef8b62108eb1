/*
 * The route language: an ordered list of routes, each mapping a method and
 * a URL path to the one permission it needs on one project or repository,
 * or to SITE_READ, a read on none (its target's key and slug empty).
 *
 *   BBTokenRoute METHODS PATTERN PERMISSION [OPTION]...
 *
 * METHODS     comma-separated method names in upper case (methods are
 *             case-sensitive), or "*".
 * PATTERN     a PCRE2 regular expression that must match the whole decoded,
 *             normalized URL path (it is anchored at both ends whatever it
 *             says; "." matches any byte, newline included).
 *             (?<project>...) captures the project key,
 *             (?<repo>...) the repository slug.
 * PERMISSION  PROJECT_READ ... REPO_ADMIN, SITE_READ (GET and HEAD
 *             alone, no capture, no option but query=), or deny.
 * OPTION      project=KEY      a fixed project, for layouts without a key
 *             query=REGEX      the raw query string ("" when absent) must
 *                              match REGEX, whole
 *             token=PERMISSION the token itself must also hold this
 *             destination      the route applies to the Destination URL of
 *                              COPY and MOVE instead of the request URL
 *             json=NAME:VALUE  the request body is a JSON object whose
 *                              member NAME is the string VALUE (bbt_body.h)
 *             body-project=PATH:PERMISSION
 *                              the request puts a repository into the
 *                              project whose key the body holds at PATH
 *                              (nested member names joined by ".": a
 *                              fork's or a move's project.key), which
 *                              also needs PERMISSION (a PROJECT_ one):
 *                              a second target, as a COPY's Destination
 *                              is.  No such member: no second target.
 *                              Anything else there (not an object on the
 *                              way, not a string, not a key, a twin) is a
 *                              body refused (bbt_bodyproj.h)
 *             body-project-absent=personal
 *                              no such member: the second target is the
 *                              personal project of whoever asks, which a
 *                              project's or a repository's token has not
 *             body-project-same=skip
 *                              the route's own project is no second
 *                              target (moving within it creates nothing)
 *             query-repo=NAME[,NAME]...
 *                              each query parameter NAME names a second
 *                              repository (KEY/slug, or an id), which a
 *                              project's or a repository's token must
 *                              have inside its scope (bbt_namedrepo.h)
 *             body-repo=PATH[,PATH]...
 *                              so does the body's repository object at
 *                              each PATH ({"slug", "project": {"key"}});
 *                              read after the token is known, and only
 *                              for such a token
 *
 * The first route whose methods, pattern, query and body match decides; no
 * match is no route, which the module refuses.  This file knows nothing of
 * httpd: it is unit-tested alone.
 */
#ifndef BBT_RULES_H
#define BBT_RULES_H

#include <stddef.h>

#include "bbt_body.h"
#include "bbt_namedrepo.h"
#include "bbt_perm.h"
#include "bbt_target.h"

/* Longest path and query looked at; longer is no route. */
#define BBT_RULES_MAX_PATH 8192
#define BBT_RULES_MAX_ARGS 8192
/* Longest message bbt_rules_* writes into err. */
#define BBT_RULES_ERR_MAX 512

typedef enum {
    BBT_ROUTE_NONE = 0,
    BBT_ROUTE_MATCH = 1,
    /* A json= or body-project= route matched all but the body, which was
     * not given: read it
     * and match again.  The key's place in the path is set, as for a
     * match (the route's captures are valid). */
    BBT_ROUTE_NEED_BODY = 2,
    /* The body names a json= route's member ambiguously: refuse it. */
    BBT_ROUTE_BAD_BODY = 3,
    /* The body of a body-project= route names its project in a way it
     * cannot be decided by: refuse it. */
    BBT_ROUTE_BAD_PROJECT = 4
} bbt_route_result_t;

/* Where a body-project= route's request puts a repository. */
typedef enum {
    BBT_INTO_NONE = 0,    /* nowhere but the route's target */
    BBT_INTO_KEY = 1,     /* into_key, the project the body names */
    BBT_INTO_PERSONAL = 2 /* the personal project of whoever asks */
} bbt_into_t;

typedef struct bbt_rule bbt_rule_t;
typedef struct bbt_rules bbt_rules_t;

typedef struct {
    /* key (canonical), slug (empty for project scope), need; why when no
     * route matched or a deny route did. */
    bbt_target_t target;
    /* The token's own minimum (token=), level NONE when the route has none. */
    bbt_perm_t token_need;
    /* Where the project key was captured in the path: key_len 0 for a fixed
     * project.  key_exact: the captured text is already canonical. */
    size_t key_off, key_len;
    int key_exact;
    /* A body-project= route matched with its body: the second target
     * (into_key canonical, for BBT_INTO_KEY) and what it needs there. */
    bbt_into_t into;
    char into_key[BBT_KEY_BUF];
    bbt_perm_t into_need;
    /* The object holding that key, as its PATH names it ("project"), when
     * it holds an "id" member too, or NULL: the backend may take the
     * project by the id, so a project's or a repository's token is refused
     * it (bbt_namedrepo_inside). */
    const char *into_id;
    /* The route that decided (a match or a deny), or NULL. */
    const bbt_rule_t *rule;
    /* No answer at all: a pattern could not be run to its end (its match
     * limit, the JIT's stack, memory).  Whatever else is the same every
     * time for the same request and rules. */
    int errored;
} bbt_match_t;

/* An empty list; NULL when out of memory. */
bbt_rules_t *bbt_rules_new(void);

void bbt_rules_free(bbt_rules_t *rules);

size_t bbt_rules_count(const bbt_rules_t *rules);

/* A number no other list of this process has had: a list freed and another
 * made at the same address are still told apart. */
unsigned long bbt_rules_serial(const bbt_rules_t *rules);

/* Compile one route and append it.  opts has nopts words.  origin ("file:line"
 * or a set's name and line) is copied and names the route in messages.
 * Returns 0, or -1 with a message in err (which names origin). */
int bbt_rules_add(bbt_rules_t *rules, const char *methods, const char *pattern,
                  const char *perm, const char *const *opts, size_t nopts,
                  const char *origin, char *err, size_t errlen);

/* The same for a route of route text loaded with prefix (as
 * bbt_rules_load takes it; NULL: none, which is bbt_rules_add).  "@PREFIX@"
 * is replaced by prefix with regex metacharacters escaped in PATTERN and in
 * query='s REGEX, and by prefix as it is in json='s VALUE (compared as
 * text); in any other word, or without a prefix, it is an error. */
int bbt_rules_add_prefixed(bbt_rules_t *rules, const char *methods,
                           const char *pattern, const char *perm,
                           const char *const *opts, size_t nopts,
                           const char *prefix, const char *origin, char *err,
                           size_t errlen);

/* Compile a route file's text: comments (#), blank lines, and lines
 * "BBTokenRoute METHODS PATTERN PERMISSION [OPTION]...", words split like
 * httpd's configuration (double or single quotes, backslash before the
 * quote character), each route added by bbt_rules_add_prefixed (which
 * says what becomes of "@PREFIX@").  prefix is NULL, "", or a path of
 * letters, digits and /._~- that starts with '/' and has no trailing '/'
 * (the caller drops it).
 * name names the text in messages ("name:line").  Returns 0 or -1 (err). */
int bbt_rules_load(bbt_rules_t *rules, const char *text, const char *prefix,
                   const char *name, char *err, size_t errlen);

/* Match a request.  path is the decoded, normalized URL path; args the raw
 * query string or NULL; destination selects the routes marked destination
 * (for the Destination URL of COPY and MOVE) instead of the others.
 * Returns BBT_ROUTE_MATCH (a permission route matched and its captures are
 * valid) or BBT_ROUTE_NONE (no route, a deny route, an invalid key or slug,
 * a path too long or with an empty or dot segment: out->target.why says
 * which), or, on reaching a json= or body-project=
 * route, BBT_ROUTE_NEED_BODY. */
bbt_route_result_t bbt_rules_match(const bbt_rules_t *rules, const char *method,
                                   const char *path, const char *args,
                                   int destination, bbt_match_t *out);

/* The same with the request's body (NULL: not read, as bbt_rules_match),
 * for json= and body-project= routes: BBT_ROUTE_BAD_BODY when the body
 * names a member a json= route asks for ambiguously, BBT_ROUTE_BAD_PROJECT
 * when the matching body-project= route cannot take the project it names
 * (out->target.why says why). */
bbt_route_result_t bbt_rules_match_body(const bbt_rules_t *rules,
                                        const char *method, const char *path,
                                        const char *args, int destination,
                                        const bbt_body_t *body,
                                        bbt_match_t *out);

/* How many allocations matching has made in this process (match data and
 * PCRE2's own, for every thread): a thread allocates on its first match
 * and when a pattern needs more captures than any before, never per
 * request.  For the unit tests, which prove it. */
unsigned long bbt_rules_match_allocations(void);

/* "origin" of a route, for logs and the backend's environment. */
const char *bbt_rule_origin(const bbt_rule_t *rule);

/* A route's query-repo= and body-repo=, or NULL when it has neither. */
const bbt_namedrepo_t *bbt_rule_named(const bbt_rule_t *rule);

/* Whether any route of rules has the option new or git-object, and
 * whether this one has new (a Destination that must not exist yet: mod_dav's
 * look-up of it finds none) or git-object (what is moved or copied there is
 * the loose git object its name says, bbt_gitobj.h). */
int bbt_rules_has_dest_checks(const bbt_rules_t *rules);
int bbt_rule_new(const bbt_rule_t *rule);
int bbt_rule_git_object(const bbt_rule_t *rule);

/* Route i's origin, and its k-th method name (NULL past the last; a "*"
 * route has none): for checks that need more than this file knows, such as
 * whether httpd knows a method. */
const char *bbt_rules_origin_at(const bbt_rules_t *rules, size_t i);
const char *bbt_rules_method_at(const bbt_rules_t *rules, size_t i, size_t k);

/* The text of a built-in route set ("git", "dav", "bitbucket-rest"), the
 * same as routes/NAME.conf, and its default prefix; NULL if unknown. */
const char *bbt_rules_builtin(const char *name, const char **default_prefix);

/* The names of the built-in sets, for messages: "git, dav, bitbucket-rest". */
const char *bbt_rules_builtin_names(void);

/* The built-in set's own name, a string that lives as long as the
 * process, or NULL if name is none. */
const char *bbt_rules_builtin_name(const char *name);

/* Say that the routes from index from on were loaded from the built-in set
 * set (bbt_rules_builtin_name's string, which the caller looks up: the
 * route table itself knows no set): a refusal is answered the way that
 * set's clients read (bbt_rest_refuse.c).  0, or -1 when set is NULL. */
int bbt_rules_mark_builtin(bbt_rules_t *rules, size_t from, const char *set);

/* The built-in set a route came from (bbt_rules_builtin_name's string),
 * or NULL: a route file's, a BBTokenRoute line's, or no route. */
const char *bbt_rule_builtin(const bbt_rule_t *rule);

/* The one built-in set the list's routes came from, or NULL when they
 * came from none or from more than one (routes of files and BBTokenRoute
 * lines beside it do not count). */
const char *bbt_rules_builtin_only(const bbt_rules_t *rules);

/* Whether the list's routes came from more than one built-in set. */
int bbt_rules_builtin_mixed(const bbt_rules_t *rules);

#endif
