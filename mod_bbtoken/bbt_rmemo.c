/*
 * Each thread's last routed requests (see bbt_rmemo.h).
 */
#include "bbt_rmemo.h"
#include "bbt_tls.h"

#include <stdlib.h>
#include <string.h>

/* A remembered request: method, path and query string one after the other
 * in text, each with its length (a query string absent and one empty are
 * different requests), and its answer. */
typedef struct {
    unsigned long serial; /* the rules' (bbt_rules_serial); 0: empty */
    int destination;
    int has_args;
    size_t mlen, plen, alen;
    char text[BBT_RMEMO_TEXT];
    bbt_route_result_t rv;
    bbt_match_t m;
} bbt_rmemo_slot_t;

typedef struct {
    bbt_rmemo_slot_t slot[BBT_RMEMO_SLOTS];
    unsigned int next; /* the slot to reuse next */
} bbt_rmemo_tls_t;

static bbt_tls_t bbt_rmemo_tls = BBT_TLS_INIT(sizeof(bbt_rmemo_tls_t), free);
/* Per thread: a count every thread bumped would bounce between cores. */
static __thread unsigned long bbt_rmemo_hit_count;

unsigned long bbt_rmemo_hits(void)
{
    return bbt_rmemo_hit_count;
}

bbt_route_result_t bbt_rmemo_match(const bbt_rules_t *rs, const char *method,
                                   const char *path, const char *args,
                                   int destination, bbt_match_t *out)
{
    unsigned long serial = bbt_rules_serial(rs);
    size_t mlen, plen, alen;
    bbt_rmemo_tls_t *t;
    bbt_rmemo_slot_t *s;
    bbt_route_result_t rv;
    int i;

    destination = destination != 0;
    if (!out || !serial || !method || !path ||
        (mlen = strlen(method)) >= BBT_RMEMO_TEXT ||
        (plen = strnlen(path, BBT_RMEMO_TEXT)) >= BBT_RMEMO_TEXT - mlen ||
        (alen = args ? strnlen(args, BBT_RMEMO_TEXT) : 0) >=
            BBT_RMEMO_TEXT - mlen - plen ||
        !(t = bbt_tls_get(&bbt_rmemo_tls))) {
        return bbt_rules_match(rs, method, path, args, destination, out);
    }
    for (i = 0; i < BBT_RMEMO_SLOTS; i++) {
        s = &t->slot[i];
        if (s->serial == serial && s->destination == destination &&
            s->mlen == mlen && s->plen == plen && s->alen == alen &&
            s->has_args == (args != NULL) &&
            memcmp(s->text, method, mlen) == 0 &&
            memcmp(s->text + mlen, path, plen) == 0 &&
            (!alen || memcmp(s->text + mlen + plen, args, alen) == 0)) {
            *out = s->m;
            bbt_rmemo_hit_count++;
            return s->rv;
        }
    }
    rv = bbt_rules_match(rs, method, path, args, destination, out);
    if (out->errored) {
        return rv;
    }
    /* In turn: the requests a thread repeats are few, a clone's many
     * objects each come once. */
    s = &t->slot[t->next];
    t->next = (t->next + 1) % BBT_RMEMO_SLOTS;
    s->serial = serial;
    s->destination = destination;
    s->has_args = args != NULL;
    s->mlen = mlen;
    s->plen = plen;
    s->alen = alen;
    memcpy(s->text, method, mlen);
    memcpy(s->text + mlen, path, plen);
    if (alen) {
        memcpy(s->text + mlen + plen, args, alen);
    }
    s->rv = rv;
    s->m = *out;
    return rv;
}
