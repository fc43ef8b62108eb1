/*
 * What the cache's listener (bbt_listen.c) makes of the triggers its
 * heartbeat counts: those that notify the cache of a change, and those
 * that keep bbtoken_lookup.  Either kind disabled, or enabled for ordinary
 * sessions only (a restore), is said in the error log, once until it
 * changes; a notifying trigger off also withholds the heartbeat, so that
 * the cache is not believed.  The state is the listener's thread's.
 */
#ifndef BBT_LTRIG_H
#define BBT_LTRIG_H

#include "httpd.h"

typedef struct {
    int told_notify; /* BBT710 said since the notifying triggers last fired */
    int lookup_told; /* the lookup's firing as last said (BBT720), the
                        wanted count when all fire; -1: none read yet */
    int lookup_told_wanted; /* the wanted count then */
} bbt_ltrig_t;

/* A listener starts: nothing said yet. */
void bbt_ltrig_init(bbt_ltrig_t *t);

/* Whether every notifying trigger fires always, as tables (the tables'
 * identity the heartbeat read, which starts "n/wanted") says; when not,
 * the listener is down for the cache until they do (and the identity then
 * changes: every entry is forgotten first). */
int bbt_ltrig_notify(bbt_ltrig_t *t, server_rec *s, const char *tables);

/* now of wanted triggers that keep bbtoken_lookup fire always (< 0: not
 * read): said when that changes.  The cache is believed either way. */
void bbt_ltrig_lookup(bbt_ltrig_t *t, server_rec *s, int now, int wanted);

#endif
