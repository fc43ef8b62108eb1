/*
 * The COMMIT of the access-tokens API's writes (internal to the bbt_rest_*
 * files): create, rotate, update and revoke.
 *
 * PostgreSQL makes a COMMIT durable before it answers it, so a COMMIT
 * whose answer the connection loses (a failover, a network cut, a backend
 * ended while it waited for a synchronous standby) may have been done all
 * the same.  Answering it as any failure (503, try again) told the caller
 * that a change the database holds was not made, and for a create or a
 * rotation threw away the only copy of the new token's secret.  Instead,
 * the connection is made again and what the write leaves behind is looked
 * for there: found, the write is answered as done; not found, it failed
 * (503, BBT200); where the database cannot be asked, the answer says that
 * the outcome is not known and names the token (503, BBT282).
 */
#ifndef BBT_REST_COMMIT_H
#define BBT_REST_COMMIT_H

#include <jansson.h>

#include "bbt_rest_db.h"

/* Which write is committed: what is looked for after a lost answer. */
typedef enum {
    BBT_REST_WRITE_CREATE, /* token id exists */
    BBT_REST_WRITE_ROTATE, /* token id, the new one, exists: the transaction
                              that made it revoked the old one */
    BBT_REST_WRITE_UPDATE, /* token id is live, with *json's name,
                              permissions and allowed addresses */
    BBT_REST_WRITE_REVOKE  /* token id is revoked */
} bbt_rest_write_t;

typedef struct {
    bbt_rest_write_t write;
    const char *id;               /* the token made or changed */
    const char *old;              /* rotate: the token rotated */
    const bbt_rest_user_t *owner; /* update: whose token (NULL: the path's
                                     project or repository) */
    json_t **json;                /* update: the answer read in the
                                     transaction; replaced by the token as
                                     read again after a lost answer */
} bbt_rest_commit_t;

/* COMMIT x's transaction: 0 when it is done, answered or found done on the
 * connection made again (BBT281); or -1 and *rc answered: 503 and BBT200
 * where the database refused it or its change is not there, 503 saying
 * the outcome is not known (BBT282) where the database cannot be asked.
 * Nothing is left to roll back. */
int bbt_rest_commit(bbt_rest_t *x, const bbt_rest_commit_t *c, int *rc);

#endif
