/*
 * The sections of the configuration tree as the startup checks read them
 * (bbt_confcheck.c), shared with the model of how httpd merges their
 * Require lines (bbt_confreq.c, BBT354) and the check of the module's
 * settings a later <Location> replaces (bbt_confmerge.c, BBT362).
 */
#ifndef BBT_CONFSEC_H
#define BBT_CONFSEC_H

#include "httpd.h"
#include "http_config.h"

typedef enum { BBT_SEC_LOCATION, BBT_SEC_DIRECTORY, BBT_SEC_OTHER } bbt_kind_t;

/* What bbt_has looks for. */
typedef enum {
    BBT_HAS_AUTH,
    BBT_HAS_ROUTES,
    BBT_HAS_SVNAUTHZ,
    BBT_HAS_PROVIDER,
    BBT_HAS_FAKEBASIC,
    BBT_HAS_AUTHNAME,
    BBT_HAS_SVNANON
} bbt_want_t;

/* What one section (or server) sets itself. */
typedef struct bbt_sec {
    const ap_directive_t *node;  /* NULL for the main server */
    const struct bbt_sec *outer; /* the section or server around it */
    bbt_kind_t kind;
    const char *path;   /* a plain path (no regex), or NULL */
    const char *auth;   /* AuthType, or NULL */
    int authname;       /* sets AuthName */
    int routes;         /* sets BBTokenRoute(s) */
    int svnauthz;       /* sets an access file of mod_authz_svn */
    int svnany;         /* sets any directive of mod_authz_svn */
    int svnnoauth;      /* AuthzSVNNoAuthWhenAnonymousAllowed: 1 On, -1 Off */
    int provider;       /* AuthBBTokenProvider: 1 takes passwords, -1 none */
    int fakebasic;      /* SSLOptions: 1 FakeBasicAuth on, -1 off, 0 unset */
    int require_all;    /* a Require outside any <Limit> */
    int merging;        /* AuthMerging: 1 And or Or, -1 Off, 0 unset */
    const char *limits; /* the <Limit>s holding Require lines, in words */
    const ap_directive_t *last_limit; /* the last one added to limits */
    const ap_directive_t *rip_header; /* a server's RemoteIPHeader */
    int rip_proxies; /* a server names mod_remoteip's proxies */
    int limit_said;  /* BBT354 was said of it in the main server's pass */
    int merge_said;  /* BBT362 was said of it */
} bbt_sec_t;

/* One server's pass: the main server's sections, then a virtual host's. */
typedef struct {
    apr_pool_t *p;
    server_rec *s;
    apr_array_header_t *secs; /* bbt_sec_t *, every section seen */
    const bbt_sec_t *vh;      /* the virtual host of this pass, or NULL */
    int nmain;                /* the first nmain of secs are the main
                                 server's */
} bbt_walk_t;

/* The arguments of a container, without its closing '>'. */
char *bbt_args(apr_pool_t *p, const ap_directive_t *d);

/* 1 if section path q covers p: the same, or a leading part of it that
 * ends at a slash. */
int bbt_covers(const char *q, const char *p);

/* Does sec set what want names itself (1), its contrary (-1), or nothing
 * of the kind (0)? */
int bbt_sets(const bbt_sec_t *sec, bbt_want_t want);

/* Does sec, or anything it inherits from, have what want names? */
int bbt_has(const bbt_walk_t *w, const bbt_sec_t *sec, bbt_want_t want);

/* Log warning id about sec: its file, line and section, then what. */
void bbt_warn(const bbt_walk_t *w, const bbt_sec_t *sec, const char *id,
              const char *what);

/* BBT354 about sec, one of the sections of the server of this pass (a
 * virtual host's in its pass). */
void bbt_check_limit(const bbt_walk_t *w, bbt_sec_t *sec);

/* BBT354 in a virtual host's pass about the main server's sections, where
 * the virtual host's leave them open and the main server's did not. */
void bbt_check_limit_main(const bbt_walk_t *w);

/* BBT362 about sec, at index at of this pass's sections: its routes or
 * providers replaced by a <Location> merged after it.  1 if its routes
 * were said to be, so that BBT352 does not say it for another reason. */
int bbt_check_merge(const bbt_walk_t *w, bbt_sec_t *sec, int at);

/* BBT362 in a virtual host's pass about the main server's sections, with
 * the virtual host's <Location>s and aliases. */
void bbt_check_merge_main(const bbt_walk_t *w);

#endif
