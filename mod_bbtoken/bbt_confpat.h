/*
 * The path of a <LocationMatch>, <Location ~>, wildcard <Location>,
 * <DirectoryMatch> or <Directory ~> as the startup check of merged
 * sections (bbt_confmerge.c, BBT362) compares it with a plain path:
 * compiled once, when the sections are collected, and asked whether it may
 * match that path or one below it.
 */
#ifndef BBT_CONFPAT_H
#define BBT_CONFPAT_H

#include "httpd.h"

typedef struct bbt_pat bbt_pat_t;

/* What the comparisons share: PCRE2's match data and limits, made once. */
typedef struct bbt_patctx bbt_patctx_t;

bbt_patctx_t *bbt_pat_ctx(apr_pool_t *p);

/* pattern compiled as httpd compiles a section's regular expression
 * (regex 1) or kept as a wildcard (regex 0), in pool p; never NULL. */
bbt_pat_t *bbt_pat_make(apr_pool_t *p, const char *pattern, int regex);

/* May pat take the plain path base itself (if self) or a path that begins
 * with under (base and a slash), where every path pat may take does not
 * begin with under?  1 also where it cannot be told. */
int bbt_pat_wider(bbt_patctx_t *c, const bbt_pat_t *pat, const char *base,
                  const char *under, int self);

#endif
