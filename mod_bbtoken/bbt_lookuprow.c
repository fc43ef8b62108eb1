/*
 * A token's packed lookup row (see bbt_lookuprow.h).  The bytes are the
 * database's, read on every request the cache does not answer: each field
 * is checked for exactly its shape, every length is bounded before it is
 * used, and a row that is not wholly right is refused whole.
 */
#include <string.h>

#include "bbt_centry.h"
#include "bbt_lookuprow.h"

/* The field cursor: p the next byte, end the column's end (a NUL). */
typedef struct {
    char *p;
    char *end;
} bbt_lr_cur_t;

/* After a field: the separator, cut to a NUL so that the field before it
 * is a string, or, after the last, the end. */
static int bbt_lr_sep(bbt_lr_cur_t *c, int last)
{
    if (last) {
        return c->p == c->end ? 0 : -1;
    }
    if (c->p == c->end || *c->p != ' ') {
        return -1;
    }
    *c->p++ = '\0';
    return 0;
}

/* NULL ("-"), which only the separator after it may follow: 1 if it is
 * one (and consumed), 0 if not. */
static int bbt_lr_null(bbt_lr_cur_t *c)
{
    if (c->p < c->end && *c->p == '-' &&
        (c->p + 1 == c->end || c->p[1] == ' ')) {
        c->p++;
        return 1;
    }
    return 0;
}

static int bbt_lr_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* 2n lower-case hex digits as n bytes into dst. */
static int bbt_lr_hex(bbt_lr_cur_t *c, unsigned char *dst, size_t n)
{
    if ((size_t)(c->end - c->p) < 2 * n || bbt_token_unhex(c->p, dst, n) != 0) {
        return -1;
    }
    c->p += 2 * n;
    return 0;
}

/* t or f into *v; with is_null, "-" too (*is_null 1). */
static int bbt_lr_flag(bbt_lr_cur_t *c, int *v, int *is_null)
{
    *v = 0;
    if (is_null && (*is_null = bbt_lr_null(c))) {
        return 0;
    }
    if (c->p == c->end || (*c->p != 't' && *c->p != 'f')) {
        return -1;
    }
    *v = *c->p++ == 't';
    return 0;
}

/* A decimal integer as PostgreSQL's bigint output spells it, into *v, or
 * NULL ("-": *is_null 1, *v 0). */
static int bbt_lr_int(bbt_lr_cur_t *c, int64_t *v, int *is_null)
{
    uint64_t mag = 0, lim = (uint64_t)INT64_MAX;
    int neg = 0, digits = 0;

    *v = 0;
    *is_null = 0;
    if (bbt_lr_null(c)) {
        *is_null = 1;
        return 0;
    }
    if (c->p < c->end && *c->p == '-') {
        neg = 1;
        lim = (uint64_t)INT64_MAX + 1;
        c->p++;
    }
    if (c->p == c->end || !bbt_lr_digit(*c->p) ||
        (*c->p == '0' &&
         (neg || (c->p + 1 < c->end && bbt_lr_digit(c->p[1]))))) {
        return -1; /* no digit, a leading zero, or "-0" */
    }
    for (; c->p < c->end && bbt_lr_digit(*c->p); c->p++, digits++) {
        unsigned d = (unsigned)(*c->p - '0');

        if (mag > (lim - d) / 10) {
            return -1;
        }
        mag = mag * 10 + d;
    }
    /* -2^63 has no positive twin: negate one less. */
    *v = neg ? -(int64_t)(mag - 1) - 1 : (int64_t)mag;
    return digits ? 0 : -1;
}

/* Text of at most max bytes, holding no NUL, into *v (a string once the
 * separator after it is cut); NULL ("-") when nullable. */
static int bbt_lr_text(bbt_lr_cur_t *c, size_t max, int nullable,
                       const char **v)
{
    size_t n = 0;

    *v = NULL;
    if (bbt_lr_null(c)) {
        return nullable ? 0 : -1;
    }
    if (c->p == c->end || !bbt_lr_digit(*c->p) ||
        (*c->p == '0' && c->p + 1 < c->end && c->p[1] != ':')) {
        return -1;
    }
    for (; c->p < c->end && bbt_lr_digit(*c->p); c->p++) {
        n = n * 10 + (size_t)(*c->p - '0');
        if (n > max) {
            return -1;
        }
    }
    if (c->p == c->end || *c->p != ':') {
        return -1;
    }
    c->p++;
    if ((size_t)(c->end - c->p) < n || memchr(c->p, '\0', n)) {
        return -1;
    }
    *v = c->p;
    c->p += n;
    return 0;
}

/* A permission of scope, or none when NULL and nullable. */
static int bbt_lr_perm(const char *name, bbt_scope_t scope, bbt_level_t *level)
{
    bbt_perm_t perm;

    *level = BBT_LEVEL_NONE;
    if (!name) {
        return 0;
    }
    if (bbt_perm_parse(name, &perm) != 0 || perm.scope != scope) {
        return -1;
    }
    *level = perm.level;
    return 0;
}

/* The longest permission name, "PROJECT_ADMIN". */
#define BBT_LR_PERM_MAX 13
/* The most text of seen_nets the database keeps: BBT_AGROUPS_MAX groups. */
#define BBT_LR_SEEN_MAX (BBT_AGROUPS_MAX * BBT_AGROUP_TEXT)

/* The first field: the format's version. */
static bbt_lookuprow_status_t bbt_lr_version(bbt_lr_cur_t *c)
{
    static const char v[] = BBT_LOOKUPROW_VERSION;
    char *start = c->p;

    while (c->p < c->end && bbt_lr_digit(*c->p)) {
        c->p++;
    }
    if (c->p == start) {
        return BBT_LOOKUPROW_MALFORMED;
    }
    if ((size_t)(c->p - start) != sizeof(v) - 1 ||
        memcmp(start, v, sizeof(v) - 1) != 0) {
        return BBT_LOOKUPROW_UNKNOWN;
    }
    return bbt_lr_sep(c, 0) == 0 ? BBT_LOOKUPROW_OK : BBT_LOOKUPROW_MALFORMED;
}

/* The fields of version 1, in order, into out; the raw texts whose
 * meaning takes more than their shape into f. */
typedef struct {
    int active_null, id_null, expires_null, last_null, refused_null;
    const char *project_perm, *repo_perm, *key, *slug, *nets, *seen;
} bbt_lr_fields_t;

static int bbt_lr_fields(bbt_lr_cur_t *c, bbt_lookuprow_t *out,
                         bbt_lr_fields_t *f)
{
    return (bbt_lr_hex(c, out->salt, BBT_SALT_LEN) || bbt_lr_sep(c, 0) ||
            bbt_lr_hex(c, out->hash, BBT_HASH_LEN) || bbt_lr_sep(c, 0) ||
            bbt_lr_flag(c, &out->revoked, NULL) || bbt_lr_sep(c, 0) ||
            bbt_lr_flag(c, &out->user_active, &f->active_null) ||
            bbt_lr_sep(c, 0) || bbt_lr_int(c, &out->user_id, &f->id_null) ||
            bbt_lr_sep(c, 0) ||
            bbt_lr_int(c, &out->expires_us, &f->expires_null) ||
            bbt_lr_sep(c, 0) ||
            bbt_lr_int(c, &out->last_use_us, &f->last_null) ||
            bbt_lr_sep(c, 0) ||
            bbt_lr_int(c, &out->refused_us, &f->refused_null) ||
            bbt_lr_sep(c, 0) ||
            bbt_lr_text(c, BBT_LR_PERM_MAX, 1, &f->project_perm) ||
            bbt_lr_sep(c, 0) ||
            bbt_lr_text(c, BBT_LR_PERM_MAX, 0, &f->repo_perm) ||
            bbt_lr_sep(c, 0) ||
            bbt_lr_text(c, BBT_CENTRY_NAME_MAX, 0, &out->token_name) ||
            bbt_lr_sep(c, 0) ||
            bbt_lr_text(c, BBT_USER_MAX, 1, &out->user_name) ||
            bbt_lr_sep(c, 0) || bbt_lr_text(c, BBT_KEY_BUF - 1, 1, &f->key) ||
            bbt_lr_sep(c, 0) || bbt_lr_text(c, BBT_SLUG_MAX, 1, &f->slug) ||
            bbt_lr_sep(c, 0) ||
            bbt_lr_text(c, BBT_NETS_TEXT_MAX, 1, &f->nets) ||
            bbt_lr_sep(c, 0) || bbt_lr_text(c, BBT_LR_SEEN_MAX, 0, &f->seen) ||
            bbt_lr_sep(c, 0) ||
            bbt_lr_text(c, BBT_LOOKUPROW_LEVELS_MAX, 1, &out->levels) ||
            bbt_lr_sep(c, 1))
               ? -1
               : 0;
}

/* What the fields mean together: a row the database could have made (0),
 * a personal token's whose owner is gone (1), or neither (-1). */
static int bbt_lr_meaning(bbt_lookuprow_t *out, const bbt_lr_fields_t *f)
{
    int owner = !f->id_null;

    /* An owner's token has all three of the owner's fields, another has
     * none, nor a level map. */
    if (f->active_null == owner || (out->user_name != NULL) != owner ||
        (!owner && out->levels) || (owner && out->user_id <= 0)) {
        return -1;
    }
    if (!out->token_name[0] || (out->user_name && !out->user_name[0])) {
        return -1;
    }
    if (bbt_lr_perm(f->project_perm, BBT_SCOPE_PROJECT, &out->tok_project) ||
        bbt_lr_perm(f->repo_perm, BBT_SCOPE_REPO, &out->tok_repo)) {
        return -1;
    }
    /* The kind: personal exactly when there is an owner.  A personal
     * token's row with none of the owner's fields is what the schema
     * writes when the owner's row is gone and the token is not: never a
     * token's answer, and not a row to mend (it is the tables' truth). */
    if (bbt_kind_from_row(f->key, f->slug, &out->scope) != 0) {
        return -1;
    }
    if ((out->scope.kind == BBT_KIND_PERSONAL) != owner) {
        return owner ? -1 : 1;
    }
    /* NULL is the list of any address; an empty one is no list the
     * database makes, and is not read as "any". */
    if (f->nets && !f->nets[0]) {
        return -1;
    }
    out->nets = f->nets ? f->nets : "";
    out->ngroups = bbt_agroup_list(f->seen, out->groups, BBT_AGROUPS_MAX);
    if (!f->expires_null && out->expires_us == 0) {
        out->expires_us = -1;
    }
    return 0;
}

bbt_lookuprow_status_t bbt_lookuprow_parse(char *buf, size_t len,
                                           bbt_lookuprow_t *out)
{
    bbt_lr_cur_t c;
    bbt_lr_fields_t f;
    bbt_lookuprow_status_t st;

    memset(out, 0, sizeof(*out));
    memset(&f, 0, sizeof(f));
    if (!buf || buf[len] != '\0') {
        return BBT_LOOKUPROW_MALFORMED;
    }
    c.p = buf;
    c.end = buf + len;
    st = bbt_lr_version(&c);
    if (st == BBT_LOOKUPROW_OK) {
        int m = bbt_lr_fields(&c, out, &f) != 0 ? -1 : bbt_lr_meaning(out, &f);

        st = m == 0   ? BBT_LOOKUPROW_OK
             : m == 1 ? BBT_LOOKUPROW_ORPHAN
                      : BBT_LOOKUPROW_MALFORMED;
    }
    if (st != BBT_LOOKUPROW_OK) {
        memset(out, 0, sizeof(*out));
    }
    return st;
}
