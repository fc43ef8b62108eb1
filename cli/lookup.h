/*
 * What the commands look up before they act (lookup.c): a user, a token,
 * a project or repository.
 */
#ifndef BBTOKEN_LOOKUP_H
#define BBTOKEN_LOOKUP_H

#include "cli.h"

typedef struct {
    char id[24]; /* bigint as text, handed back to SQL as a parameter */
    char name[BBT_USER_MAX + 1];
    int active;
} bbtoken_user_t;

/* Check NAME, connect, and find the user (regardless of case). */
int bbtoken_connect_user(bbtoken_ctx_t *ctx, const char *name,
                         bbtoken_user_t *u);

/* The one boolean a statement answers (SELECT EXISTS ...): 1 or 0, or
 * -1 after reporting its failure (doing says what was being done). */
int bbtoken_exec_bool(bbtoken_ctx_t *ctx, const char *doing, const char *sql,
                      int nparams, const char *const *params);

/* A command that names a holder or a filter's target and finds nothing
 * of it fails when the database knows nothing of it either, as one of an
 * unknown token does (most likely a typing mistake): project key (slug
 * NULL) or repository key/slug, what in the message ("project KEY").  0
 * when it is known, or an exit status after reporting. */
int bbtoken_scope_known(bbtoken_ctx_t *ctx, const char *what, const char *key,
                        const char *slug);

/* The same for a user, by name (regardless of case). */
int bbtoken_user_known(bbtoken_ctx_t *ctx, const char *name);

/* An UPDATE by token id changed nothing: say whether the token is unknown
 * or revoked (revoked_msg). */
int bbtoken_token_missing(bbtoken_ctx_t *ctx, const char *id,
                          const char *revoked_msg);

#endif
