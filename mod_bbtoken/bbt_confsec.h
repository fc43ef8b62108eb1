/*
 * The sections of the configuration tree as the startup checks read them
 * (bbt_confcheck.c), shared with the model of how httpd merges their
 * Require lines (bbt_confreq.c, BBT354), the check of the module's
 * settings a section merged later replaces (bbt_confmerge.c, BBT362) and
 * that of .htaccess files where the routes are the server's
 * (bbt_confhtac.c, BBT364).
 */
#ifndef BBT_CONFSEC_H
#define BBT_CONFSEC_H

#include "httpd.h"
#include "http_config.h"
#include "apr_hash.h"

#include "bbt_confpat.h"

typedef enum { BBT_SEC_LOCATION, BBT_SEC_DIRECTORY, BBT_SEC_OTHER } bbt_kind_t;

/* Sections httpd merges after others wherever they are written. */
typedef enum {
    BBT_LATE_NO,
    BBT_LATE_FILES, /* <Files>, <FilesMatch>: after every <Directory> */
    BBT_LATE_IF     /* <If>, <ElseIf>, <Else>: after every <Location> */
} bbt_late_t;

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

/* What BBT362 says a section merged later replaces, as bits. */
typedef enum { BBT_SAID_ROUTES = 1, BBT_SAID_PROVIDER = 2 } bbt_said_t;

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
    int merge_said;  /* what BBT362 said is replaced (bbt_said_t) */
    /* For BBT362 (bbt_confmerge.c): */
    const char *spath; /* path with each run of slashes made one */
    const char *base;  /* spath without its trailing slash ("/" stays) */
    const char *under; /* base and a slash */
    int self;          /* base is one of its own paths: a <Directory>'s
                          (httpd adds the slash), or a <Location>'s whose
                          path does not end in one */
    bbt_pat_t *pat;    /* a <Location> or <Directory> matched by a regular
                          expression, or a <Location> by a wildcard */
    bbt_late_t late;
    const apr_array_header_t *urls; /* a directory's URLs (bbt_url_t) */
    int urls_pass;                  /* the pass they were worked out in */
} bbt_sec_t;

/* How URLs map to files in one pass's server (bbt_confmap.c). */
typedef struct bbt_map bbt_map_t;

/* One URL a directory is served at. */
typedef struct {
    const char *url;           /* without its trailing slash, but "/" */
    const char *under;         /* url and a slash */
    const ap_directive_t *via; /* the line that maps it there; NULL for a
                                  DocumentRoot no line sets */
    int own;                   /* through a mapping of the virtual host's own */
} bbt_url_t;

/* One server's pass: the main server's sections, then a virtual host's. */
typedef struct {
    apr_pool_t *p;
    apr_pool_t *pp; /* this pass's, cleared when the next one begins: its
                       mapping of URLs and its directories' URLs */
    server_rec *s;
    apr_array_header_t *secs; /* bbt_sec_t *, every section seen */
    const bbt_sec_t *vh;      /* the virtual host of this pass, or NULL */
    int nmain;                /* the first nmain of secs are the main
                                 server's */
    int pass;                 /* 1 for the main server's, then one more for
                                 each virtual host's */
    bbt_map_t *map;           /* this pass's mapping of URLs to files */
    const char *docroot;      /* the DocumentRoot of this pass's server, as
                                 the core serves it, or NULL if not known
                                 (its lines then say) */
    const char *main_docroot; /* the main server's */
    bbt_patctx_t *pc;
    int auth_vhosts;     /* a virtual host has AuthType BBToken somewhere */
    apr_uint64_t *pairs; /* pairs of sections BBT362 compared (BBT363) */
    apr_hash_t *mapped;  /* the virtual hosts' own mappings seen so far */
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

/* What BBT362 needs of sec, when the sections are collected: its path's
 * slashes merged and its base, its pattern compiled, whether it is merged
 * late.  Comparing two sections then allocates nothing. */
void bbt_merge_note(bbt_walk_t *w, bbt_sec_t *sec);

/* Start a pass: this server's mapping of URLs to files (bbt_confmap.c). */
void bbt_merge_begin(bbt_walk_t *w);

/* Does the virtual host of this pass map URLs of its own: an Alias or
 * ScriptAlias line, or a DocumentRoot that is not the main server's? */
int bbt_map_own(const bbt_walk_t *w);

/* Is the virtual host's own mapping of this pass one that no pass before
 * had (1), or the same as another virtual host's (0)?  Only its own
 * mapping decides which URLs the main server's directories get. */
int bbt_map_first(const bbt_walk_t *w);

/* What maps URL u there, in words: "Alias at FILE:LINE", or httpd's
 * built-in DocumentRoot where no line sets one. */
const char *bbt_url_via(const bbt_walk_t *w, const bbt_url_t *u);

/* The URLs (bbt_url_t) directory dir is served at in this pass, kept in
 * holder (the <Directory>, or the <Files> at the top of a server) for the
 * pass. */
const apr_array_header_t *bbt_urls(const bbt_walk_t *w, const bbt_sec_t *holder,
                                   const char *dir);

/* path with each run of slashes made one, in pool p. */
char *bbt_squeeze(apr_pool_t *p, const char *path);

/* path without its trailing slash ("/" stays) in *base, and that with one
 * in *under. */
void bbt_base(apr_pool_t *p, const char *path, const char **base,
              const char **under);

/* BBT362 about sec, at index at of this pass's sections: its routes or
 * providers replaced by a section merged after it.  1 if its routes were
 * said to be, so that BBT352 does not say it for another reason. */
int bbt_check_merge(const bbt_walk_t *w, bbt_sec_t *sec, int at);

/* BBT362 in a virtual host's pass about the main server's sections: with
 * the virtual host's sections, and with the URLs its own Alias,
 * ScriptAlias lines or DocumentRoot give the main server's directories. */
void bbt_check_merge_main(const bbt_walk_t *w);

/* Is sec merged after other sections wherever it is written (an <If> or a
 * <Files>), and may it be merged over one of AuthType BBToken?  Then its
 * routes do something even if it is not AuthType BBToken itself. */
int bbt_merge_late_applies(const bbt_walk_t *w, const bbt_sec_t *sec);

/* The virtual host of this pass in words, to name it in a warning about a
 * main server's section: "in <VirtualHost ADDR> (ServerName NAME, at
 * FILE:LINE) ". */
const char *bbt_vhost_words(const bbt_walk_t *w);

/* BBT364 (bbt_confhtac.c): a <Directory> that lets AuthConfig into
 * .htaccess files where a section of AuthType BBToken takes its routes
 * from the server, so that a file can take it away from the module with
 * nothing refusing it.  srv is the server of this pass (the main server,
 * or a virtual host over it); main_judged says the main server's pass
 * judged the main server's sections under routes of its own, which a
 * virtual host's pass then leaves to it. */
void bbt_check_htaccess(const bbt_walk_t *w, const bbt_sec_t *srv,
                        int main_judged);

#endif
