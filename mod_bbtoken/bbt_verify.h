/*
 * Verifying a token for a request: from the cache when it holds a
 * believable answer, else from the database (then the answer is kept).
 * Either way the same verdict rule decides (bbt_verdict.h), last use and
 * an expired token's refusal are written at most once per interval, and an
 * unreachable database is 503, never a refusal.
 */
#ifndef BBT_VERIFY_H
#define BBT_VERIFY_H

#include "httpd.h"

#include "bbt_request.h"
#include "bbt_verdict.h"

typedef struct {
    bbt_verdict_t verdict;
    const char *user_name;  /* the owner (for a row) */
    apr_int64_t owner_id;   /* the owner's user id (a personal token's row):
                               what decides for the owner, never the name,
                               which another user may be given meanwhile */
    const char *token_name; /* the token's name (for a row) */
    bbt_level_t tok_project;
    bbt_level_t tok_repo;
    bbt_level_t owner;      /* the owner's live level on the routed target */
    bbt_level_t dest_owner; /* and on the request's second target, for a
                               personal token (rq->access.dest) */
    int cached;             /* the answer came from the cache */
    bbt_tokscope_t scope;   /* a project's or a repository's token: no owner,
                               no owner level */
} bbt_verified_t;

/* At each start: the threads' memory of verified tokens (bbt_vmemo.h) for
 * servers with the cache off, under a secret of this start's. */
void bbt_verify_post_config(apr_pool_t *pconf, server_rec *s);

/* Verify rq->token_id for r.  tok is the presented token, or NULL for an
 * internal request whose token an earlier request proved (rq->cache_key
 * then comes from that request).  basic_user is the Basic user name, or
 * NULL.  A personal token let in has its owner's levels on the target and
 * on the request's second target read, and is judged again once they have
 * come (a statement may wait): the second target's key is filled in where
 * it is the owner's personal project (bbt_request_dest_own).  tok's checksum
 * need not have been checked: it is checked here unless the cache, or this
 * thread's memory, knows the token.  OK and *out, HTTP_UNAUTHORIZED (the
 * checksum is wrong: nothing was asked of the database), or
 * HTTP_SERVICE_UNAVAILABLE (the database could not answer, or OpenSSL
 * failed to hash the token: BBT058, nothing kept in the cache). */
int bbt_verify_token(request_rec *r, bbt_req_t *rq, const bbt_token_t *tok,
                     const char *basic_user, bbt_verified_t *out);

#endif
