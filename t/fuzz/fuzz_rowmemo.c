/*
 * libFuzzer target: the thread's memory of the last lookup row it parsed
 * (bbt_rowmemo.h) against the parse itself.  The input is a run of rows
 * split at NUL bytes (a row from libpq never holds one), read in turn as
 * bbt_dblookup.c reads them: from memory when it holds the very text, else
 * parsed into a fresh buffer and kept.  Whatever memory answers must be
 * what a fresh parse of the same text makes: the same status, the same cut
 * text, every field equal and every pointer at the same place in the new
 * buffer (or at the same constant).  Each buffer is freed once its row is
 * checked, so a memory that read through a pointer into an older buffer is
 * a use after free.  A byte of 0x01 before a row asks for
 * bbt_rowmemo_redo first, which must leave the kept row as it was.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bbt_lookuprow.h"
#include "bbt_rowmemo.h"

/* A pointer of a row parsed into a (len + 1 bytes) and its twin of one
 * answered into b: at the same offset when inside, the same otherwise. */
static void same_place(const char *pa, const char *a, const char *pb,
                       const char *b, size_t len)
{
    int ina = pa && pa >= a && pa <= a + len;
    int inb = pb && pb >= b && pb <= b + len;

    if (ina != inb || (ina && pa - a != pb - b) || (!ina && pa != pb)) {
        abort();
    }
}

static void same_row(const bbt_lookuprow_t *x, const char *a,
                     const bbt_lookuprow_t *y, const char *b, size_t len)
{
    int i;

    if (memcmp(a, b, len + 1) != 0 ||
        memcmp(x->salt, y->salt, sizeof(x->salt)) != 0 ||
        memcmp(x->hash, y->hash, sizeof(x->hash)) != 0 ||
        x->user_id != y->user_id || x->user_active != y->user_active ||
        x->tok_project != y->tok_project || x->tok_repo != y->tok_repo ||
        x->revoked != y->revoked || x->expired != y->expired ||
        x->stale != y->stale || x->refusal_due != y->refusal_due ||
        x->expires_us != y->expires_us || x->last_use_us != y->last_use_us ||
        x->refused_us != y->refused_us || x->scope.kind != y->scope.kind ||
        strcmp(x->scope.key, y->scope.key) != 0 ||
        strcmp(x->scope.slug, y->scope.slug) != 0 || x->ngroups != y->ngroups) {
        abort();
    }
    for (i = 0; i < x->ngroups && i < BBT_AGROUPS_MAX; i++) {
        if (x->groups[i].family != y->groups[i].family ||
            memcmp(x->groups[i].net, y->groups[i].net,
                   sizeof(x->groups[i].net)) != 0) {
            abort();
        }
    }
    same_place(x->token_name, a, y->token_name, b, len);
    same_place(x->user_name, a, y->user_name, b, len);
    same_place(x->nets, a, y->nets, b, len);
    same_place(x->levels, a, y->levels, b, len);
}

/* One row as the lookup reads it, checked against a fresh parse. */
static void one_row(const char *text, size_t len)
{
    char *fresh = malloc(len + 1), *buf = malloc(len + 1);
    bbt_lookuprow_t want, got;
    bbt_lookuprow_status_t st;

    if (!fresh || !buf) {
        abort();
    }
    memcpy(fresh, text, len);
    fresh[len] = '\0';
    st = bbt_lookuprow_parse(fresh, len, &want);
    memset(&got, 0, sizeof(got));
    if (bbt_rowmemo_get(text, len, buf, &got)) {
        /* Only a row that parsed is ever kept. */
        if (st != BBT_LOOKUPROW_OK) {
            abort();
        }
        same_row(&want, fresh, &got, buf, len);
    } else {
        memcpy(buf, text, len);
        buf[len] = '\0';
        if (bbt_lookuprow_parse(buf, len, &got) != st) {
            abort();
        }
        if (st == BBT_LOOKUPROW_OK) {
            bbt_rowmemo_put(text, len, buf, &got);
        }
    }
    free(fresh);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;

    while (p < end) {
        const char *nul = memchr(p, '\0', (size_t)(end - p));
        size_t len = (size_t)((nul ? nul : end) - p);

        if (len > 0 && *p == '\x01') {
            bbt_rowmemo_redo();
            p++;
            len--;
        }
        one_row(p, len);
        /* Twice: the second is answered from memory when the first
         * parsed. */
        one_row(p, len);
        p += len + 1;
    }
    return 0;
}
