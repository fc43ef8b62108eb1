/*
 * Each thread's salts (see bbt_saltmemo.h).
 *
 * Thread-local, so no lock: the slots are reused in turn, which is as
 * good as least-recently-used for a working set smaller than the slots.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "bbt_saltmemo.h"

typedef struct {
    char id[BBT_TOKEN_ID_LEN + 1]; /* "": empty */
    char salt[BBT_SALT_HEX_LEN + 1];
} bbt_saltmemo_slot_t;

static __thread struct {
    bbt_saltmemo_slot_t slot[BBT_SALTMEMO_SLOTS];
    unsigned int next; /* the slot to take next */
} bbt_saltmemo;

static int bbt_saltmemo_shaped(const char *id, const char *salt)
{
    return id && strlen(id) == BBT_TOKEN_ID_LEN && salt &&
           strlen(salt) == BBT_SALT_HEX_LEN;
}

static bbt_saltmemo_slot_t *bbt_saltmemo_find(const char *id)
{
    int i;

    for (i = 0; i < BBT_SALTMEMO_SLOTS; i++) {
        /* Ids are not secret (they are logged): a plain compare. */
        if (bbt_saltmemo.slot[i].id[0] &&
            strcmp(bbt_saltmemo.slot[i].id, id) == 0) {
            return &bbt_saltmemo.slot[i];
        }
    }
    return NULL;
}

int bbt_saltmemo_get(const char *id, char salt[BBT_SALT_HEX_LEN + 1])
{
    const bbt_saltmemo_slot_t *s;

    if (!id || !*id || !(s = bbt_saltmemo_find(id))) {
        return 0;
    }
    memcpy(salt, s->salt, BBT_SALT_HEX_LEN + 1);
    return 1;
}

void bbt_saltmemo_put(const char *id, const char *salt, int add)
{
    bbt_saltmemo_slot_t *s;

    if (!bbt_saltmemo_shaped(id, salt)) {
        return;
    }
    s = bbt_saltmemo_find(id);
    if (!s) {
        if (!add) {
            return;
        }
        s = &bbt_saltmemo.slot[bbt_saltmemo.next];
        bbt_saltmemo.next = (bbt_saltmemo.next + 1) % BBT_SALTMEMO_SLOTS;
        OPENSSL_cleanse(s, sizeof(*s));
        memcpy(s->id, id, BBT_TOKEN_ID_LEN + 1);
    }
    memcpy(s->salt, salt, BBT_SALT_HEX_LEN + 1);
}

void bbt_saltmemo_clear(void)
{
    OPENSSL_cleanse(&bbt_saltmemo, sizeof(bbt_saltmemo));
}
