/*
 * A request body as the route language reads it (the json= option): a
 * JSON object whose top-level string members a route can require.  Git
 * LFS's batch API names its operation, "download" or "upload", only
 * there.
 *
 * The body is hostile and a backend reads it after us, perhaps with a
 * laxer decoder: what could be read two ways is refused, never guessed.
 * So the whole body must be one JSON object (bbt_jshape_load: no trailing
 * bytes, no duplicate member names at any depth, valid UTF-8, no NUL), and
 * a member asked for must not have a twin that another decoder could take
 * for it (Go's encoding/json matches member names regardless of case, and
 * the last one wins).  Its shape is bounded before it is parsed, to what
 * the largest git LFS batch needs (bbt_body.c).
 *
 * Nothing here knows httpd.
 */
#ifndef BBT_BODY_H
#define BBT_BODY_H

#include <stddef.h>

/* The largest body read for a route: 64 KiB.  A git-lfs batch of 100
 * objects (its batch size) is about 12 KiB. */
#define BBT_BODY_MAX (64 * 1024)

typedef struct bbt_body bbt_body_t;

/* Parse len bytes as a JSON object into *out (bbt_body_free it).  NULL, or
 * a static English reason the body is refused (*out NULL); err, when given
 * (errlen bytes), gets jansson's own words for a parse error. */
const char *bbt_body_parse(const char *buf, size_t len, bbt_body_t **out,
                           char *err, size_t errlen);

void bbt_body_free(bbt_body_t *b);

/* Why a body declared with these Content-Encoding and Content-Type values
 * (NULL: absent) is not to be read as the bytes of a UTF-8 JSON text, or
 * NULL: a static English reason.  bbt_body_parse reads the bytes as they
 * come, as UTF-8; a backend may decode them first, by the coding or the
 * charset the client names, and read another body (a brotli stream may
 * begin as JSON does and hold bytes its decoder skips; in UTF-7
 * "+ACIALAAi-" inside a string is '","', which starts a member of its
 * own).  So a Content-Encoding other than identity, and a Content-Type
 * that names a charset with anything but charset=utf-8 after the media
 * type, are refused. */
const char *bbt_body_undecidable(const char *content_encoding,
                                 const char *content_type);

/* Why a body with this Content-Type (NULL: absent) is not declared JSON,
 * or NULL: a static English reason.  A backend may choose its parser by the
 * media type: one that reads a form (CGI.pm takes a POST without a
 * Content-Type for one too, PHP, Rails, Express) finds operation=upload in
 * '{"operation":"download","x":"&operation=upload&"}'.  So a body a route
 * reads must say application/json or git LFS's application/vnd.git-lfs+json,
 * with no parameter but charset. */
const char *bbt_body_not_json(const char *content_type);

typedef enum {
    BBT_MEMBER_ABSENT = 0,     /* no such member, or not a string */
    BBT_MEMBER_STRING = 1,     /* *value, *len: the string (no NUL inside) */
    BBT_MEMBER_AMBIGUOUS = -1, /* another member could be taken for it */
    BBT_MEMBER_MISSHAPEN = -2  /* bbt_body_path: there, but not a string */
} bbt_member_t;

/* The top-level member called name (ASCII).  AMBIGUOUS when another
 * member's name matches name ignoring ASCII case, counting any non-ASCII
 * character as a match (Unicode case folding maps some to ASCII letters:
 * the Kelvin sign to k, the long s to s). */
bbt_member_t bbt_body_member(const bbt_body_t *b, const char *name,
                             const char **value, size_t *len);

/* The string at a path of n nested members (names[0] at the top,
 * names[1] in the object it holds, ...), each name ASCII.  ABSENT when
 * names[0] is absent; AMBIGUOUS when any name on the way has a twin (as
 * bbt_body_member says); MISSHAPEN when names[0] is there but the path
 * does not end in a string: a member on the way is not an object (null
 * included), or the last one is absent or not a string.  A backend may
 * read what is misshapen its own way (a default for null, a number for a
 * key), so it is never taken for absent. */
bbt_member_t bbt_body_path(const bbt_body_t *b, const char *const *names,
                           size_t n, const char **value, size_t *len);

/* 1 if the member at a path of n nested members (as bbt_body_path walks
 * it) is there, whatever its value (null included), or another member
 * could be taken for one on the way (a twin); 0 if it is absent. */
int bbt_body_has(const bbt_body_t *b, const char *const *names, size_t n);

#endif
