/*
 * The cache's entries: keys, bytes, validity (see bbt_centry.h).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "bbt_centry.h"
#include "bbt_tls.h"

/* What bbt_ckey_level MACs: domain, owner, key, slug, with lengths. */
#define BBT_CKEY_LEVEL_IN (1 + 8 + 2 + BBT_KEY_BUF + 1 + 2 + BBT_SLUG_MAX)

/* A thread's copy of an entry it read from the shared cache or wrote to
 * it (see bbt_centry.h: bbt_cnear_get). */
typedef struct {
    unsigned char key[BBT_CKEY_LEN];
    size_t len; /* 0: empty */
    size_t cap;
    unsigned char *bytes;
    /* The bytes as a token's entry (bbt_cnear_entry), decoded once for all
     * the requests that read them; made when first asked for. */
    bbt_centry_t *entry;
    int decoded; /* 1: entry holds the bytes, -1: they are none, 0: not yet */
} bbt_cnear_slot_t;

/* The thread also keeps the last level key it made (lout) with what it was
 * made of (owner, key, slug): a thread serves the same owner and
 * repository over and over (a CI job's fetches), and the key is the same
 * every time.  It names an owner and a target, nothing secret, and holds
 * for its maker only.  Compared part by part, before the MAC's input is
 * put together: most requests need only the comparison.  So, apart, the
 * last key of an owner's level on every repository of a project (aout):
 * a request looks for that one first, and for the repository's own where
 * it is not. */
struct bbt_cthread {
    bbt_keymac_copy_t copy; /* the thread's copy of the maker's keys */
    unsigned long lserial;  /* of the maker that made lout; 0: none */
    int64_t lowner;
    int lslugged; /* a slug was given (NULL is the project itself) */
    size_t lklen, lslen;
    char lkey[BBT_KEY_BUF];
    char lslug[BBT_SLUG_MAX];
    unsigned char lout[BBT_CKEY_LEN];
    unsigned long aserial; /* of the maker that made aout; 0: none */
    int64_t aowner;
    size_t aklen;
    char akey[BBT_KEY_BUF];
    unsigned char aout[BBT_CKEY_LEN];
    bbt_cnear_slot_t near[BBT_CNEAR_SLOTS]; /* keyed by copy's maker */
    unsigned int next;                      /* the slot to reuse next */
};

static void bbt_ckey_tls_free(void *v)
{
    bbt_cthread_t *t = v;
    int i;

    bbt_keymac_copy_free(&t->copy);
    for (i = 0; i < BBT_CNEAR_SLOTS; i++) {
        free(t->near[i].bytes);
        free(t->near[i].entry);
    }
    free(t);
}

static bbt_tls_t bbt_ckey_tls_kind =
    BBT_TLS_INIT(sizeof(bbt_cthread_t), bbt_ckey_tls_free);

bbt_cthread_t *bbt_cthread(const bbt_ckeyer_t *k)
{
    bbt_cthread_t *t = k ? bbt_tls_get(&bbt_ckey_tls_kind) : NULL;

    if (!t) {
        return NULL;
    }
    if (bbt_keymac_copy(k, &t->copy) != 0) {
        int i;

        /* Another maker's keys mean nothing to this one. */
        for (i = 0; i < BBT_CNEAR_SLOTS; i++) {
            t->near[i].len = 0;
        }
        t->lserial = 0;
        t->aserial = 0;
    }
    return t;
}

/* Domain bytes: a token's key and a level's key can never be equal. */
#define BBT_CKEY_TOKEN 'T'
#define BBT_CKEY_LEVEL 'L'

/* The first bytes of an encoded entry, and its version.  Levels are kept as
 * bbt_level_t's numbers, which changed when create came between write and
 * admin (version 5, level magic 'M'): an entry an earlier module wrote is
 * refused, never read as another level.  Version 6 kept a failed group's
 * address, which 7 no longer does; 8 keeps the writes tried apart from
 * those made. */
#define BBT_CENTRY_MAGIC 'T'
#define BBT_CLEVEL_MAGIC 'M'
#define BBT_CENTRY_VERSION 8

bbt_ckeyer_t *bbt_ckeyer_new(const unsigned char *secret, size_t len)
{
    return bbt_keymac_new(secret, len, BBT_CKEY_LEN);
}

void bbt_ckeyer_free(bbt_ckeyer_t *k)
{
    bbt_keymac_free(k);
}

/* The MAC of in, on this thread's copy of the maker's keys. */
static int bbt_ckey_mac(const bbt_cthread_t *t, const unsigned char *in,
                        size_t len, unsigned char out[BBT_CKEY_LEN])
{
    return t ? bbt_keymac_mac(&t->copy, in, len, out, BBT_CKEY_LEN) : -1;
}

int bbt_ckey_token(bbt_cthread_t *t, const bbt_token_t *tok,
                   unsigned char out[BBT_CKEY_LEN])
{
    /* The domain and the token in one input: SipHash takes one. */
    unsigned char in[1 + sizeof(tok->raw)];
    int rv;

    in[0] = BBT_CKEY_TOKEN;
    memcpy(in + 1, tok->raw, sizeof(tok->raw));
    rv = bbt_ckey_mac(t, in, sizeof(in), out);
    OPENSSL_cleanse(in, sizeof(in));
    return rv;
}

const unsigned char *bbt_cnear_get(bbt_cthread_t *t,
                                   const unsigned char key[BBT_CKEY_LEN],
                                   size_t *len)
{
    int i;

    if (!t) {
        return NULL;
    }
    for (i = 0; i < BBT_CNEAR_SLOTS; i++) {
        bbt_cnear_slot_t *n = &t->near[i];

        /* A plain compare, as shmcb's own: the keys are MACs under a
         * key the client never learns, so how far one matches tells it
         * nothing. */
        if (n->len && memcmp(n->key, key, BBT_CKEY_LEN) == 0) {
            *len = n->len;
            return n->bytes;
        }
    }
    return NULL;
}

void bbt_cnear_put(bbt_cthread_t *t, const unsigned char key[BBT_CKEY_LEN],
                   const unsigned char *bytes, size_t len)
{
    bbt_cnear_slot_t *n = NULL;
    int i;

    if (!t) {
        return;
    }
    if (len == 0 || len > BBT_CENTRY_BUF) {
        /* Not kept: nor may an older copy under the key stay. */
        for (i = 0; i < BBT_CNEAR_SLOTS; i++) {
            if (t->near[i].len &&
                memcmp(t->near[i].key, key, BBT_CKEY_LEN) == 0) {
                t->near[i].len = 0;
            }
        }
        return;
    }
    for (i = 0; i < BBT_CNEAR_SLOTS && !n; i++) {
        if (t->near[i].len && memcmp(t->near[i].key, key, BBT_CKEY_LEN) == 0) {
            n = &t->near[i];
        }
    }
    if (!n) {
        /* In turn: a thread's working set is a token or two and their
         * levels, far fewer than the slots. */
        n = &t->near[t->next];
        t->next = (t->next + 1) % BBT_CNEAR_SLOTS;
    }
    if (n->cap < len) {
        /* Grown, never shrunk: at most the largest entry per slot. */
        unsigned char *b = realloc(n->bytes, BBT_CENTRY_BUF);

        if (!b) {
            n->len = 0;
            return;
        }
        n->bytes = b;
        n->cap = BBT_CENTRY_BUF;
    }
    memcpy(n->key, key, BBT_CKEY_LEN);
    memcpy(n->bytes, bytes, len);
    n->len = len;
    n->decoded = 0;
}

const bbt_centry_t *bbt_cnear_entry(bbt_cthread_t *t,
                                    const unsigned char key[BBT_CKEY_LEN])
{
    bbt_cnear_slot_t *n = NULL;
    int i;

    if (!t) {
        return NULL;
    }
    for (i = 0; i < BBT_CNEAR_SLOTS && !n; i++) {
        if (t->near[i].len && memcmp(t->near[i].key, key, BBT_CKEY_LEN) == 0) {
            n = &t->near[i];
        }
    }
    if (!n) {
        return NULL;
    }
    if (n->decoded == 0) {
        if (!n->entry && !(n->entry = malloc(sizeof(*n->entry)))) {
            return NULL;
        }
        n->decoded =
            bbt_centry_decode(n->bytes, n->len, n->entry) == 0 ? 1 : -1;
    }
    return n->decoded > 0 ? n->entry : NULL;
}

static unsigned char *bbt_put64(unsigned char *p, uint64_t v)
{
    int i;

    for (i = 0; i < 8; i++) {
        *p++ = (unsigned char)(v >> (8 * i));
    }
    return p;
}

static uint64_t bbt_get64(const unsigned char *p)
{
    uint64_t v = 0;
    int i;

    for (i = 7; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

static unsigned char *bbt_put16(unsigned char *p, size_t v)
{
    p[0] = (unsigned char)(v & 0xff);
    p[1] = (unsigned char)(v >> 8);
    return p + 2;
}

static size_t bbt_get16(const unsigned char *p)
{
    return (size_t)p[0] | ((size_t)p[1] << 8);
}

/* The MAC of a level's target into out: domain, owner, the key with its
 * length, what the slug is (0: none, the project itself; 1: slug; 2:
 * every repository of the project, no slug), the slug with its length: no
 * two targets spell the same bytes. */
static int bbt_ckey_target(bbt_cthread_t *t, int64_t owner, const char *key,
                           size_t klen, int what, const char *slug, size_t slen,
                           unsigned char out[BBT_CKEY_LEN])
{
    unsigned char buf[BBT_CKEY_LEVEL_IN];
    unsigned char *p = buf;

    *p++ = BBT_CKEY_LEVEL;
    p = bbt_put64(p, (uint64_t)owner);
    p = bbt_put16(p, klen);
    memcpy(p, key, klen);
    p += klen;
    *p++ = (unsigned char)what;
    p = bbt_put16(p, slen);
    memcpy(p, slug ? slug : "", slen);
    p += slen;
    return bbt_ckey_mac(t, buf, (size_t)(p - buf), out);
}

int bbt_ckey_level(bbt_cthread_t *t, int64_t owner, const char *key,
                   const char *slug, unsigned char out[BBT_CKEY_LEN])
{
    size_t klen = strlen(key), slen = slug ? strlen(slug) : 0;

    if (!t || klen >= BBT_KEY_BUF || slen > BBT_SLUG_MAX) {
        return -1;
    }
    if (t->lserial == t->copy.serial && t->lowner == owner &&
        t->lslugged == (slug != NULL) && t->lklen == klen && t->lslen == slen &&
        memcmp(t->lkey, key, klen) == 0 &&
        (!slen || memcmp(t->lslug, slug, slen) == 0)) {
        memcpy(out, t->lout, BBT_CKEY_LEN);
        return 0;
    }
    if (bbt_ckey_target(t, owner, key, klen, slug ? 1 : 0, slug, slen, out) !=
        0) {
        return -1;
    }
    t->lowner = owner;
    t->lslugged = slug != NULL;
    t->lklen = klen;
    t->lslen = slen;
    memcpy(t->lkey, key, klen);
    memcpy(t->lslug, slug ? slug : "", slen);
    memcpy(t->lout, out, BBT_CKEY_LEN);
    t->lserial = t->copy.serial;
    return 0;
}

int bbt_ckey_level_any(bbt_cthread_t *t, int64_t owner, const char *key,
                       unsigned char out[BBT_CKEY_LEN])
{
    size_t klen = strlen(key);

    if (!t || klen >= BBT_KEY_BUF) {
        return -1;
    }
    if (t->aserial == t->copy.serial && t->aowner == owner &&
        t->aklen == klen && memcmp(t->akey, key, klen) == 0) {
        memcpy(out, t->aout, BBT_CKEY_LEN);
        return 0;
    }
    if (bbt_ckey_target(t, owner, key, klen, 2, NULL, 0, out) != 0) {
        return -1;
    }
    t->aowner = owner;
    t->aklen = klen;
    memcpy(t->akey, key, klen);
    memcpy(t->aout, out, BBT_CKEY_LEN);
    t->aserial = t->copy.serial;
    return 0;
}

static int bbt_level_ok(int l)
{
    return l >= BBT_LEVEL_NONE && l <= BBT_LEVEL_ADMIN;
}

size_t bbt_centry_encode(const bbt_centry_t *e, unsigned char *buf, size_t cap)
{
    unsigned char *p = buf;
    size_t ulen, nlen, klen, slen, alen, need = BBT_CENTRY_REFUSAL_LEN;
    int i;

    if (e->kind != BBT_CENTRY_UNKNOWN && e->kind != BBT_CENTRY_WRONG_SECRET &&
        e->kind != BBT_CENTRY_TOKEN) {
        return 0;
    }
    ulen = strnlen(e->user_name, sizeof(e->user_name));
    nlen = strnlen(e->token_name, sizeof(e->token_name));
    klen = strnlen(e->scope.key, sizeof(e->scope.key));
    slen = strnlen(e->scope.slug, sizeof(e->scope.slug));
    alen = strnlen(e->nets, sizeof(e->nets));
    if (e->kind == BBT_CENTRY_TOKEN) {
        if (ulen > BBT_USER_MAX || nlen > BBT_CENTRY_NAME_MAX ||
            alen > BBT_NETS_TEXT_MAX || !bbt_level_ok(e->tok_project) ||
            !bbt_level_ok(e->tok_repo) || !bbt_kind_valid(&e->scope) ||
            e->ngroups < 0 || e->ngroups > BBT_AGROUPS_MAX) {
            return 0;
        }
        for (i = 0; i < e->ngroups; i++) {
            if (e->groups[i].family != 4 && e->groups[i].family != 6) {
                return 0;
            }
        }
        need += 8 * 8 + 3 + 2 + ulen + 2 + nlen + 1 + 2 + klen + 2 + slen + 2 +
                alen + 1 + (size_t)e->ngroups * 9;
    }
    if (need > cap) {
        return 0;
    }
    *p++ = BBT_CENTRY_MAGIC;
    *p++ = BBT_CENTRY_VERSION;
    *p++ = (unsigned char)e->kind;
    p = bbt_put64(p, e->stamp);
    if (e->kind == BBT_CENTRY_TOKEN) {
        p = bbt_put64(p, (uint64_t)e->owner_id);
        p = bbt_put64(p, (uint64_t)e->expires_us);
        p = bbt_put64(p, (uint64_t)e->last_use_us);
        p = bbt_put64(p, (uint64_t)e->refused_us);
        p = bbt_put64(p, (uint64_t)e->use_tried_us);
        p = bbt_put64(p, (uint64_t)e->refused_tried_us);
        p = bbt_put64(p, (uint64_t)e->group_failed_us);
        p = bbt_put64(p, (uint64_t)e->group_tried_us);
        *p++ = (unsigned char)((e->revoked ? 1 : 0) | (e->user_active ? 2 : 0));
        *p++ = (unsigned char)e->tok_project;
        *p++ = (unsigned char)e->tok_repo;
        p = bbt_put16(p, ulen);
        memcpy(p, e->user_name, ulen);
        p += ulen;
        p = bbt_put16(p, nlen);
        memcpy(p, e->token_name, nlen);
        p += nlen;
        *p++ = (unsigned char)e->scope.kind;
        p = bbt_put16(p, klen);
        memcpy(p, e->scope.key, klen);
        p += klen;
        p = bbt_put16(p, slen);
        memcpy(p, e->scope.slug, slen);
        p += slen;
        p = bbt_put16(p, alen);
        memcpy(p, e->nets, alen);
        p += alen;
        *p++ = (unsigned char)e->ngroups;
        for (i = 0; i < e->ngroups; i++) {
            *p++ = e->groups[i].family;
            memcpy(p, e->groups[i].net, 8);
            p += 8;
        }
    }
    return (size_t)(p - buf);
}

/* Copy a length-prefixed string at *p (within end) into out (cap bytes
 * with its NUL); -1 if it does not fit or holds a NUL. */
static int bbt_get_str(const unsigned char **p, const unsigned char *end,
                       char *out, size_t cap)
{
    size_t n;

    if (end - *p < 2) {
        return -1;
    }
    n = bbt_get16(*p);
    *p += 2;
    if (n >= cap || (size_t)(end - *p) < n || memchr(*p, '\0', n)) {
        return -1;
    }
    memcpy(out, *p, n);
    out[n] = '\0';
    *p += n;
    return 0;
}

int bbt_centry_decode(const unsigned char *buf, size_t len, bbt_centry_t *e)
{
    const unsigned char *p = buf, *end = buf + len;
    int i;

    memset(e, 0, sizeof(*e));
    if (len < 3 + 8 || p[0] != BBT_CENTRY_MAGIC || p[1] != BBT_CENTRY_VERSION) {
        return -1;
    }
    e->kind = (bbt_centry_kind_t)p[2];
    e->stamp = bbt_get64(p + 3);
    p += 3 + 8;
    switch (e->kind) {
    case BBT_CENTRY_UNKNOWN:
    case BBT_CENTRY_WRONG_SECRET:
        return p == end ? 0 : -1;
    case BBT_CENTRY_TOKEN:
        break;
    default:
        return -1;
    }
    if (end - p < 8 * 8 + 3) {
        return -1;
    }
    e->owner_id = (int64_t)bbt_get64(p);
    e->expires_us = (int64_t)bbt_get64(p + 8);
    e->last_use_us = (int64_t)bbt_get64(p + 16);
    e->refused_us = (int64_t)bbt_get64(p + 24);
    e->use_tried_us = (int64_t)bbt_get64(p + 32);
    e->refused_tried_us = (int64_t)bbt_get64(p + 40);
    e->group_failed_us = (int64_t)bbt_get64(p + 48);
    e->group_tried_us = (int64_t)bbt_get64(p + 56);
    p += 64;
    if (p[0] > 3 || !bbt_level_ok(p[1]) || !bbt_level_ok(p[2])) {
        return -1;
    }
    e->revoked = p[0] & 1;
    e->user_active = (p[0] >> 1) & 1;
    e->tok_project = (bbt_level_t)p[1];
    e->tok_repo = (bbt_level_t)p[2];
    p += 3;
    if (bbt_get_str(&p, end, e->user_name, sizeof(e->user_name)) != 0 ||
        bbt_get_str(&p, end, e->token_name, sizeof(e->token_name)) != 0 ||
        p == end || *p > BBT_KIND_REPO) {
        return -1;
    }
    e->scope.kind = (bbt_kind_t)*p++;
    if (bbt_get_str(&p, end, e->scope.key, sizeof(e->scope.key)) != 0 ||
        bbt_get_str(&p, end, e->scope.slug, sizeof(e->scope.slug)) != 0 ||
        !bbt_kind_valid(&e->scope) ||
        bbt_get_str(&p, end, e->nets, sizeof(e->nets)) != 0 || p == end ||
        *p > BBT_AGROUPS_MAX) {
        return -1;
    }
    e->ngroups = *p++;
    if ((size_t)(end - p) != (size_t)e->ngroups * 9) {
        return -1;
    }
    for (i = 0; i < e->ngroups; i++) {
        if (p[0] != 4 && p[0] != 6) {
            return -1;
        }
        e->groups[i].family = p[0];
        memcpy(e->groups[i].net, p + 1, 8);
        p += 9;
    }
    return 0;
}

void bbt_clevel_encode(uint64_t stamp, bbt_level_t level,
                       unsigned char out[BBT_CLEVEL_LEN])
{
    out[0] = BBT_CLEVEL_MAGIC;
    bbt_put64(out + 1, stamp);
    out[9] = (unsigned char)level;
}

int bbt_clevel_decode(const unsigned char *buf, size_t len, uint64_t *stamp,
                      bbt_level_t *level)
{
    if (len != BBT_CLEVEL_LEN || buf[0] != BBT_CLEVEL_MAGIC ||
        !bbt_level_ok(buf[9])) {
        return -1;
    }
    *stamp = bbt_get64(buf + 1);
    *level = (bbt_level_t)buf[9];
    return 0;
}

int bbt_cache_usable(uint64_t stamp, uint64_t least, int64_t heartbeat,
                     int64_t now)
{
    /* A heartbeat ahead of now was published after now was read: it is
     * fresh, and what it covers happened before this request looked. */
    return stamp >= least && heartbeat > 0 &&
           now - heartbeat < BBT_CACHE_FRESH_US;
}

bbt_verdict_t bbt_centry_verdict(const bbt_centry_t *e, int64_t now_us,
                                 const char *basic_user, bbt_tokrow_t *row_out)
{
    bbt_tokrow_t row;

    switch (e->kind) {
    case BBT_CENTRY_UNKNOWN:
        return bbt_verdict(NULL, 0, basic_user);
    case BBT_CENTRY_WRONG_SECRET:
        memset(&row, 0, sizeof(row));
        return bbt_verdict(&row, 0, basic_user);
    case BBT_CENTRY_TOKEN:
        break;
    default:
        return BBT_VERDICT_BROKEN;
    }
    row.kind = e->scope.kind;
    row.user_name = e->user_name;
    row.key = e->scope.key;
    row.user_active = e->user_active;
    row.revoked = e->revoked;
    row.expired = bbt_centry_expired(e->expires_us, now_us);
    row.tok_project = e->tok_project;
    row.tok_repo = e->tok_repo;
    if (row_out) {
        *row_out = row;
    }
    return bbt_verdict(&row, 1, basic_user);
}

int bbt_centry_expired(int64_t expires_us, int64_t now_us)
{
    /* As the database's expires_at <= now(). */
    return expires_us != 0 && expires_us <= now_us;
}

int bbt_centry_due(int64_t last_us, int interval, int64_t now_us)
{
    int64_t span = (int64_t)interval * 1000000;

    /* A time an interval or more ahead was written by a clock ahead of
     * this one (the database's, or this host's before a step back): due,
     * or nothing would be written until this clock caught up, hours
     * maybe.  The database's functions judge again by its own clock.
     * Compared, not subtracted: the row's time is any 64-bit number. */
    return last_us == 0 || last_us <= now_us - span || last_us >= now_us + span;
}

int bbt_centry_owed(int64_t last_us, int64_t tried_us, int interval,
                    int64_t now_us)
{
    int retry = interval < BBT_CENTRY_RETRY ? interval : BBT_CENTRY_RETRY;

    /* A write not due by its last time is not made due by a try: a try
     * is only ever made of a write due, for the host that made it, and
     * a host of a longer interval has no write to make yet.  The try is
     * judged as a write made would be, a clock behind included. */
    return bbt_centry_due(last_us, interval, now_us) &&
           (tried_us == 0 || bbt_centry_due(tried_us, retry, now_us));
}
