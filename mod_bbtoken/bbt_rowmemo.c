/*
 * The thread's last parsed row of the lookup (see bbt_rowmemo.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "bbt_rowmemo.h"
#include "bbt_tls.h"

typedef struct {
    size_t len;                      /* of text; used only if kept */
    int kept;                        /* text, cut and row hold a row */
    uintptr_t base;                  /* where row's pointers pointed */
    char text[BBT_ROWMEMO_MAX + 1];  /* as the database sent it */
    char cut[BBT_ROWMEMO_MAX + 1];   /* as the parse left it */
    char spare[BBT_ROWMEMO_MAX + 1]; /* for bbt_rowmemo_redo */
    bbt_lookuprow_t row;             /* pointers into base's len + 1 */
} bbt_rowmemo_tls_t;

static void bbt_rowmemo_tls_free(void *v)
{
    /* The row holds a salt and a hash: no secret, gone all the same. */
    OPENSSL_cleanse(v, sizeof(bbt_rowmemo_tls_t));
    free(v);
}

static bbt_tls_t bbt_rowmemo_tls_kind =
    BBT_TLS_INIT(sizeof(bbt_rowmemo_tls_t), bbt_rowmemo_tls_free);

/* p moved from the len + 1 bytes at base onto buf; a pointer elsewhere (a
 * constant "") as it is.  Compared as integers: p may point into another
 * object. */
static const char *bbt_rowmemo_move(const char *p, uintptr_t base, size_t len,
                                    char *buf)
{
    uintptr_t u = (uintptr_t)p;

    return p && u >= base && u - base <= len ? buf + (u - base) : p;
}

int bbt_rowmemo_get(const char *text, size_t len, char *buf,
                    bbt_lookuprow_t *out)
{
    bbt_rowmemo_tls_t *t = bbt_tls_get(&bbt_rowmemo_tls_kind);

    if (!t || !t->kept || !text || !buf || !out || t->len != len ||
        memcmp(t->text, text, len) != 0) {
        return 0;
    }
    memcpy(buf, t->cut, len + 1);
    *out = t->row;
    /* Every pointer of bbt_lookuprow_t. */
    out->token_name = bbt_rowmemo_move(out->token_name, t->base, len, buf);
    out->user_name = bbt_rowmemo_move(out->user_name, t->base, len, buf);
    out->nets = bbt_rowmemo_move(out->nets, t->base, len, buf);
    out->levels = bbt_rowmemo_move(out->levels, t->base, len, buf);
    return 1;
}

void bbt_rowmemo_redo(void)
{
    bbt_rowmemo_tls_t *t = bbt_tls_get(&bbt_rowmemo_tls_kind);
    bbt_lookuprow_t row;

    if (!t || !t->kept) {
        return;
    }
    memcpy(t->spare, t->text, t->len);
    t->spare[t->len] = '\0';
    (void)bbt_lookuprow_parse(t->spare, t->len, &row);
    OPENSSL_cleanse(&row, sizeof(row));
}

void bbt_rowmemo_put(const char *text, size_t len, const char *cut,
                     const bbt_lookuprow_t *row)
{
    bbt_rowmemo_tls_t *t = bbt_tls_get(&bbt_rowmemo_tls_kind);

    if (!t) {
        return;
    }
    t->kept = 0;
    if (!text || !cut || !row || len > BBT_ROWMEMO_MAX) {
        return;
    }
    memcpy(t->text, text, len);
    memcpy(t->cut, cut, len + 1);
    t->row = *row;
    t->base = (uintptr_t)cut;
    t->len = len;
    t->kept = 1;
}
