/*
 * libpq's messages with what --db gave masked (dbmask.h): a password, a
 * database or user name, a host, an option's value may be a secret, or
 * show where one is.
 */
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "dbmask.h"

/* libpq's own test for "this dbname is really a connection string". */
int bbtoken_is_conninfo(const char *s)
{
    return strncmp(s, "postgresql://", 13) == 0 ||
           strncmp(s, "postgres://", 11) == 0 || strchr(s, '=') != NULL;
}

/* What stands in libpq's message for a value --db gave. */
#define BBTOKEN_DB_VALUE "(a value from --db)"
/* The server cuts a user or database name at NAMEDATALEN - 1 bytes before
 * it quotes it in a FATAL. */
#define BBTOKEN_DB_NAMELEN 63
/* A value this short is masked only where it stands alone (not inside a
 * word): masked everywhere, a port "1" or a dbname "a" would leave none of
 * the message's own words readable. */
#define BBTOKEN_DB_SHORT 4
/* A part of a value (a word of it, what follows an "=" in it) is masked
 * only from this length, and then wherever it stands: a shorter one is
 * most often the setting's own word ("-c", "on", "1"), which masked would
 * hide the message's own words, and gives away three characters at
 * most. */
#define BBTOKEN_DB_PART BBTOKEN_DB_SHORT

typedef struct {
    const char *s;
    size_t len;
} bbtoken_piece_t;

/* The pieces, and in buf the words of the values as the server reads
 * them, without their escaping backslashes, which some pieces point into:
 * used of its size bytes (the values' lengths, which their words never
 * exceed). */
typedef struct {
    bbtoken_piece_t *p;
    size_t n, cap;
    char *buf;
    size_t used, size;
} bbtoken_pieces_t;

static int bbtoken_db_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
           c == '\v';
}

static void bbtoken_piece_add(bbtoken_pieces_t *ps, const char *s, size_t len,
                              size_t min)
{
    while (len && bbtoken_db_space(*s)) {
        s++;
        len--;
    }
    while (len && bbtoken_db_space(s[len - 1])) {
        len--;
    }
    if (len && len >= min && ps->n < ps->cap) {
        ps->p[ps->n].s = s;
        ps->p[ps->n++].len = len;
    }
}

/* What follows each "=" of s[0..len): the server quotes a setting's value
 * from options (-cwork_mem=64MBpassword=S3CRET is quoted from 64MB on). */
static void bbtoken_tails_add(bbtoken_pieces_t *ps, const char *s, size_t len)
{
    const char *eq;

    while (len && (eq = memchr(s, '=', len)) != NULL) {
        len -= (size_t)(eq + 1 - s);
        s = eq + 1;
        bbtoken_piece_add(ps, s, len, BBTOKEN_DB_PART);
    }
}

/* A word of options as the server reads a setting in it: it quotes what
 * follows a switch (-c, -S...) or -- apart ("-c S3CRETpw requires a
 * value", of -cS3CRETpw), and the setting's name, up to its first "="
 * ("unrecognized configuration parameter" of -cHunter2secret=on). */
static void bbtoken_setting_add(bbtoken_pieces_t *ps, const char *s, size_t len)
{
    const char *eq;

    if (len > 2 && s[0] == '-') {
        s += 2;
        len -= 2;
        bbtoken_piece_add(ps, s, len, BBTOKEN_DB_PART);
    }
    if ((eq = memchr(s, '=', len)) != NULL) {
        bbtoken_piece_add(ps, s, (size_t)(eq - s), BBTOKEN_DB_PART);
    }
}

/* The next word of *v as the server splits options into words
 * (pg_split_opts): up to a space that no backslash escapes, each backslash
 * taken for the character after it ("-c work_mem=S3CRET\ pw" is one word,
 * quoted as "S3CRET pw").  It is written into ps->buf, where it is left
 * for the pieces to point into; NULL at the end of *v. */
static const char *bbtoken_word_next(bbtoken_pieces_t *ps, const char **v,
                                     size_t *len)
{
    const char *s = *v;
    char *out = ps->buf + ps->used;
    size_t n = 0;
    int escaped = 0;

    for (; *s && bbtoken_db_space(*s); s++) {
    }
    if (!*s) {
        return NULL;
    }
    for (; *s && (escaped || !bbtoken_db_space(*s)); s++) {
        if (!escaped && *s == '\\') {
            escaped = 1;
            continue;
        }
        escaped = 0;
        if (ps->used + n < ps->size) {
            out[n++] = *s;
        }
    }
    ps->used += n;
    *v = s;
    *len = n;
    return out;
}

/* A value as libpq or the server may quote it: whole, each item of a list
 * (host=a,b names a and b one by one), each word as the server reads it,
 * what follows each "=" and the parts of a setting (options holds a
 * server's command line, each of its settings quoted apart), and the name
 * the server cut: at most 5 + 3 * strlen(v) pieces (one word of "="
 * alone), and at most strlen(v) bytes of ps->buf. */
static void bbtoken_value_add(bbtoken_pieces_t *ps, const char *v)
{
    size_t len = strlen(v), cut = BBTOKEN_DB_NAMELEN, w;
    const char *item = v, *comma, *word, *rest = v;

    bbtoken_piece_add(ps, v, len, 1);
    while ((comma = strchr(item, ',')) != NULL) {
        bbtoken_piece_add(ps, item, (size_t)(comma - item), 1);
        item = comma + 1;
    }
    if (item != v) {
        bbtoken_piece_add(ps, item, strlen(item), 1);
    }
    bbtoken_tails_add(ps, v, len);
    while ((word = bbtoken_word_next(ps, &rest, &w)) != NULL) {
        bbtoken_piece_add(ps, word, w, BBTOKEN_DB_PART);
        bbtoken_tails_add(ps, word, w);
        bbtoken_setting_add(ps, word, w);
    }
    if (len > cut) {
        bbtoken_piece_add(ps, v, cut, 1);
    }
}

static int bbtoken_piece_longer(const void *a, const void *b)
{
    size_t x = ((const bbtoken_piece_t *)a)->len;
    size_t y = ((const bbtoken_piece_t *)b)->len;

    return x < y ? 1 : x > y ? -1 : 0;
}

/* An ASCII letter or digit.  A byte outside ASCII is a boundary: a
 * translated message quotes with marks such as German's. */
static int bbtoken_wordy(const char *s, size_t i)
{
    unsigned char c = (unsigned char)s[i];

    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

/* Whether msg holds piece p at its start, in any case, and a "-" of p as
 * "-" or "_" (the server quotes a setting's name from options with its
 * hyphens as underscores). */
static int bbtoken_piece_same(const char *msg, const bbtoken_piece_t *p)
{
    size_t i;

    for (i = 0; i < p->len; i++) {
        unsigned char m = (unsigned char)msg[i], c = (unsigned char)p->s[i];

        /* ASCII letters in any case: a name may be folded. */
        m = m >= 'A' && m <= 'Z' ? m | 0x20 : m;
        c = c >= 'A' && c <= 'Z' ? c | 0x20 : c;
        if (m != c && !(c == '-' && m == '_')) {
            return 0;
        }
    }
    return 1;
}

/* Whether the piece stands at msg[i], and a short one only where it is
 * not part of a longer word. */
static int bbtoken_piece_at(const char *msg, size_t i, size_t mlen,
                            const bbtoken_piece_t *p)
{
    if (p->len > mlen - i || !bbtoken_piece_same(msg + i, p)) {
        return 0;
    }
    if (p->len >= BBTOKEN_DB_SHORT) {
        return 1;
    }
    if (i > 0 && bbtoken_wordy(p->s, 0) && bbtoken_wordy(msg, i - 1)) {
        return 0;
    }
    return !(i + p->len < mlen && bbtoken_wordy(p->s, p->len - 1) &&
             bbtoken_wordy(msg, i + p->len));
}

/* libpq's message with every value --db gave replaced by a marker: its
 * messages quote the values they could not use, and a password with an
 * unencoded "/" or "@" in a URI, or a missing space in a connection
 * string, is parsed into the port, the host or the database name.  Which
 * value holds a piece of the password cannot be known, so all are
 * masked, the longest first (a value holding another is masked whole),
 * in one pass (a marker is not searched again).  A --db that is no
 * connection string to libpq is the database name, whatever it looks
 * like (a URI mistyped: POSTGRESQL://, postgresql:/, a space before it),
 * and the server quotes it: it is masked as a value.  NULL if a
 * connection string does not parse or memory runs out: then nothing of
 * the message is shown. */
char *bbtoken_masked(const char *db, const char *msg)
{
    PQconninfoOption *opts = NULL, *o;
    bbtoken_pieces_t ps = {NULL, 0, 0, NULL, 0, 0};
    size_t n = 5 + 3 * strlen(db), mlen = strlen(msg), size = strlen(db);
    size_t mk = strlen(BBTOKEN_DB_VALUE), i, j;
    char *out = NULL, *w;

    if (bbtoken_is_conninfo(db) && !(opts = PQconninfoParse(db, NULL))) {
        return NULL;
    }
    for (o = opts; o && o->keyword; o++) {
        n += o->val ? 5 + 3 * strlen(o->val) : 0;
        size += o->val ? strlen(o->val) : 0;
    }
    ps.cap = n;
    ps.size = size;
    ps.p = calloc(n, sizeof(*ps.p));
    ps.buf = malloc(size + 1);
    if (!ps.p || !ps.buf || mlen > ((size_t)-1 - 1) / mk) {
        goto done;
    }
    if (opts) {
        bbtoken_piece_add(&ps, db, strlen(db), 1);
    } else {
        bbtoken_value_add(&ps, db);
    }
    for (o = opts; o && o->keyword; o++) {
        if (o->val) {
            bbtoken_value_add(&ps, o->val);
        }
    }
    qsort(ps.p, ps.n, sizeof(*ps.p), bbtoken_piece_longer);
    if (!(out = w = malloc(mlen * mk + 1))) {
        goto done;
    }
    for (i = 0; i < mlen;) {
        for (j = 0; j < ps.n && !bbtoken_piece_at(msg, i, mlen, &ps.p[j]);
             j++) {
        }
        if (j < ps.n) {
            memcpy(w, BBTOKEN_DB_VALUE, mk);
            w += mk;
            i += ps.p[j].len;
        } else {
            *w++ = msg[i++];
        }
    }
    *w = '\0';
done:
    free(ps.p);
    free(ps.buf);
    if (opts) {
        PQconninfoFree(opts);
    }
    return out;
}
