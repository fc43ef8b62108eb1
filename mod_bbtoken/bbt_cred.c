/*
 * Authorization header parser.  The grammar accepted is deliberately
 * narrower than RFC 9110's: one scheme, one or more spaces, one token68
 * credential, nothing else.  A comma can only mean that httpd joined two
 * Authorization headers, and we refuse to guess which one was meant.
 *
 * The reasons given in `why` are fixed strings: they end up in logs and
 * error bodies, so they never quote the header.
 */
#include "bbt_cred.h"
#include "bbt_input.h"
#include "bbt_token.h"
#include "bbt_tokshape.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

/* RFC 9110 token68, less its trailing '='. */
static int bbt_is_token68(unsigned char c)
{
    return bbt_is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
           c == '+' || c == '/';
}

/* What each byte is, looked up: every request's header is walked byte by
 * byte, and a chain of compares per byte costs more than the rest of the
 * parse.  Made from the predicates above when the code is loaded. */
#define BBT_C_CONTROL 0x01
#define BBT_C_NONASCII 0x02
#define BBT_C_TOKEN68 0x04
#define BBT_C_NOT_TOKEN68 0x08
static unsigned char bbt_cred_class[256];

__attribute__((constructor)) static void bbt_cred_classes(void)
{
    unsigned c;

    for (c = 0; c < 256; c++) {
        bbt_cred_class[c] =
            (unsigned char)((c < 0x20 || c == 0x7f ? BBT_C_CONTROL : 0) |
                            (c >= 0x80 ? BBT_C_NONASCII : 0) |
                            (bbt_is_token68((unsigned char)c)
                                 ? BBT_C_TOKEN68
                                 : BBT_C_NOT_TOKEN68));
    }
}

/* ASCII-only case-insensitive match of s[0..len) against a lower-case
 * literal, independent of the locale. */
static int bbt_scheme_is(const char *s, size_t len, const char *lit)
{
    size_t i;

    if (len != strlen(lit))
        return 0;
    for (i = 0; i < len; i++) {
        if (bbt_to_lower((unsigned char)s[i]) != (unsigned char)lit[i])
            return 0;
    }
    return 1;
}

static bbt_cred_kind_t bbt_cred_fail(bbt_cred_t *out, const char *why)
{
    out->kind = BBT_CRED_MALFORMED;
    out->user = NULL;
    out->user_len = 0;
    out->secret = NULL;
    out->secret_len = 0;
    out->why = why;
    return out->kind;
}

/* A Basic credential's dlen decoded bytes, in buf. */
static bbt_cred_kind_t bbt_cred_basic_decoded(char *buf, size_t dlen,
                                              bbt_cred_t *out)
{
    unsigned char *u = (unsigned char *)buf;
    const char *why = NULL;
    const unsigned char *c;
    size_t colon = 0;

    if (bbt_bytes_or(bbt_cred_class, u, dlen) & BBT_C_CONTROL) {
        why = "Basic credential contains a control character";
        goto fail;
    }
    if (!(c = memchr(u, ':', dlen))) {
        why = "Basic credential has no colon";
        goto fail;
    }
    colon = (size_t)(c - u);
    /* No password is no credential: 401 and the challenge, as without the
     * header.  Given a clone URL with a user name in it, libcurl sends the
     * name with no password before git has asked for one, and git asks
     * only after a 401. */
    if (colon + 1 == dlen) {
        OPENSSL_cleanse(buf, dlen);
        memset(out, 0, sizeof(*out));
        out->kind = BBT_CRED_NONE;
        return out->kind;
    }
    if (colon == 0) {
        why = "Basic credential has an empty user name";
        goto fail;
    }
    if (colon > BBT_CRED_MAX_USER) {
        why = "Basic user name is too long";
        goto fail;
    }
    /* UTF-8 is what clients send (browsers and svn always, whatever the
     * challenge says), and a password provider's user may be named in
     * it, as mod_auth_basic lets through; no token's owner
     * is (the schema's names are ASCII), so with a token such a name is
     * simply not the owner's.  Bytes that are not UTF-8, or a C1 control,
     * are no name at all. */
    buf[colon] = '\0';
    if ((bbt_bytes_or(bbt_cred_class, u, colon) & BBT_C_NONASCII) &&
        !bbt_input_utf8(buf)) {
        why = "Basic user name is not UTF-8";
        goto fail;
    }
    buf[colon] = '\0';
    buf[dlen] = '\0';
    out->kind = BBT_CRED_BASIC;
    out->user = buf;
    out->user_len = colon;
    out->secret = buf + colon + 1;
    out->secret_len = dlen - colon - 1;
    out->why = NULL;
    return out->kind;

fail:
    OPENSSL_cleanse(buf, dlen);
    return bbt_cred_fail(out, why);
}

/* One byte of buf is kept back for the NUL after the secret. */
static int bbt_cred_decode(const char *cred, size_t len, char *buf,
                           size_t bufcap, size_t *dlen)
{
    return bbt_b64_decode_strict(cred, len, (unsigned char *)buf, bufcap - 1,
                                 dlen);
}

static bbt_cred_kind_t bbt_cred_basic(const char *cred, size_t len, char *buf,
                                      size_t bufcap, bbt_cred_t *out)
{
    size_t dlen = 0;

    if (bbt_cred_decode(cred, len, buf, bufcap, &dlen) != 0)
        return bbt_cred_fail(out, "Basic credential is not valid base64");
    return bbt_cred_basic_decoded(buf, dlen, out);
}

static bbt_cred_kind_t bbt_cred_bearer(const char *cred, size_t len,
                                       bbt_cred_t *out)
{
    const unsigned char *u = (const unsigned char *)cred;
    size_t i = 0;

    /* A token has no padding: all of it is token68, seen in one pass. */
    if (len && !(bbt_bytes_or(bbt_cred_class, u, len) & BBT_C_NOT_TOKEN68))
        i = len;
    while (i < len && (bbt_cred_class[u[i]] & BBT_C_TOKEN68))
        i++;
    if (i == 0)
        return bbt_cred_fail(out, "Bearer credential is not a token");
    while (i < len && cred[i] == '=')
        i++;
    if (i != len)
        return bbt_cred_fail(out, "Bearer credential is not a token");

    out->kind = BBT_CRED_BEARER;
    out->user = NULL;
    out->user_len = 0;
    out->secret = cred; /* the header's own NUL ends it */
    out->secret_len = len;
    out->why = NULL;
    return out->kind;
}

/* The common case, a well-formed Basic or Bearer credential, without the
 * passes over the whole header for bytes it cannot hold: 1 with *out as
 * the full parse below would set it, or 0 and the full parse judges the
 * header, with its reasons in its order.  What the quick parse accepts
 * holds no control, non-ASCII, comma or space byte the full parse would
 * have refused first: the scheme is tchars, then spaces, then a credential
 * of token68 (Bearer) or of strict base64 (Basic).  A Basic credential
 * that decodes is judged on its decoded bytes exactly as there. */
static int bbt_cred_quick(const char *header, size_t len, char *buf,
                          size_t bufcap, bbt_cred_t *out)
{
    const unsigned char *h = (const unsigned char *)header;
    size_t slen, i, dlen = 0;
    int basic;

    for (slen = 0; slen < len && h[slen] != ' '; slen++) {
        if (!bbt_is_tchar(h[slen]))
            return 0;
    }
    if (bbt_scheme_is(header, slen, "basic"))
        basic = 1;
    else if (bbt_scheme_is(header, slen, "bearer"))
        basic = 0;
    else
        return 0;
    for (i = slen; i < len && h[i] == ' '; i++)
        ;
    if (i == len)
        return 0;
    if (!basic)
        return bbt_cred_bearer(header + i, len - i, out) == BBT_CRED_BEARER;
    if (bbt_cred_decode(header + i, len - i, buf, bufcap, &dlen) != 0)
        return 0;
    bbt_cred_basic_decoded(buf, dlen, out);
    return 1;
}

bbt_cred_kind_t bbt_cred_parse(const char *header, char *buf, size_t bufcap,
                               bbt_cred_t *out)
{
    const unsigned char *h = (const unsigned char *)header;
    size_t len, slen, i;
    int basic;

    if (!out)
        return BBT_CRED_MALFORMED;
    memset(out, 0, sizeof(*out));
    if (!header) {
        out->kind = BBT_CRED_NONE;
        return out->kind;
    }
    if (!buf || bufcap < BBT_CRED_MAX_HEADER)
        return bbt_cred_fail(out, "internal error: scratch buffer too small");

    /* Bounded strlen: a huge value is refused without being read. */
    len = strnlen(header, BBT_CRED_MAX_HEADER + 1);
    if (len > BBT_CRED_MAX_HEADER)
        return bbt_cred_fail(out, "Authorization header is too long");
    if (len == 0)
        return bbt_cred_fail(out, "Authorization header is empty");
    if (bbt_cred_quick(header, len, buf, bufcap, out))
        return out->kind;
    memset(out, 0, sizeof(*out));

    for (i = 0; i < len; i++) {
        unsigned char cl = bbt_cred_class[h[i]];

        if (cl & (BBT_C_CONTROL | BBT_C_NONASCII))
            return bbt_cred_fail(
                out, cl & BBT_C_CONTROL
                         ? "Authorization header contains a control character"
                         : "Authorization header contains a non-ASCII byte");
    }

    for (slen = 0; slen < len && h[slen] != ' '; slen++) {
        if (!bbt_is_tchar(h[slen]))
            return bbt_cred_fail(out, "Authorization scheme is malformed");
    }
    if (slen == 0)
        return bbt_cred_fail(out, "Authorization header has no scheme");

    if (bbt_scheme_is(header, slen, "basic"))
        basic = 1;
    else if (bbt_scheme_is(header, slen, "bearer"))
        basic = 0;
    else {
        /* Digest, Negotiate...: not ours, and not our business to judge. */
        out->kind = BBT_CRED_OTHER;
        return out->kind;
    }

    for (i = slen; i < len && h[i] == ' '; i++)
        ;
    if (i == len)
        return bbt_cred_fail(out, "empty credential");
    if (memchr(h + i, ',', len - i))
        return bbt_cred_fail(out, "more than one credential");
    if (memchr(h + i, ' ', len - i))
        return bbt_cred_fail(out, "unexpected text after the credential");

    if (basic)
        return bbt_cred_basic(header + i, len - i, buf, bufcap, out);
    return bbt_cred_bearer(header + i, len - i, out);
}

static int bbt_cred_has_secret(const bbt_cred_t *c, bbt_token_t *tok)
{
    if (!c || (c->kind != BBT_CRED_BASIC && c->kind != BBT_CRED_BEARER) ||
        !c->secret) {
        if (tok)
            memset(tok, 0, sizeof(*tok));
        return 0;
    }
    return 1;
}

bbt_token_status_t bbt_cred_token(const bbt_cred_t *c, bbt_token_t *tok)
{
    if (!bbt_cred_has_secret(c, tok))
        return BBT_TOKEN_BAD_LENGTH;
    return bbt_token_parse(c->secret, c->secret_len, tok);
}

bbt_token_status_t bbt_cred_token_unchecked(const bbt_cred_t *c,
                                            bbt_token_t *tok)
{
    if (!bbt_cred_has_secret(c, tok))
        return BBT_TOKEN_BAD_LENGTH;
    return bbt_token_parse_unchecked(c->secret, c->secret_len, tok);
}

int bbt_cred_carries_token(const bbt_cred_t *c)
{
    bbt_token_t tok;
    bbt_token_status_t st;
    int is_token;

    if (c && c->kind == BBT_CRED_BEARER)
        return 1;
    /* A token whose checksum could not be computed is still one: what a
     * token may not do stays refused while OpenSSL fails. */
    st = bbt_cred_token(c, &tok);
    is_token = st == BBT_TOKEN_OK || st == BBT_TOKEN_CHECK_FAILED;
    bbt_token_wipe(&tok);
    return is_token;
}

int bbt_cred_is_password(const bbt_cred_t *c)
{
    if (!c || c->kind != BBT_CRED_BASIC || !c->secret)
        return 0;
    /* A token typed into the user name field: a provider may log it
     * (mod_authnz_ldap's "user ... authentication failed").  A user name is
     * judged as names are (a user may be named BBDC-deploy); a token in the
     * password field, prefixed or not, with a right or a wrong checksum,
     * is a token, and so is anything there that starts with the prefix. */
    return !(c->user && bbt_token_in_name(c->user, c->user_len)) &&
           !bbt_token_shaped(c->secret, c->secret_len);
}

/* The user and the password (or the whole, without a colon) of dlen
 * decoded bytes at buf: shaped like a token?  The user as a name, as
 * bbt_cred_is_password judges it: BBDC-deploy's password is no token's. */
static int bbt_cred_decoded_holds_token(const char *buf, size_t dlen)
{
    const char *colon = memchr(buf, ':', dlen);
    size_t ulen = colon ? (size_t)(colon - buf) : dlen;

    return (colon ? bbt_token_in_name(buf, ulen)
                  : bbt_token_shaped(buf, ulen)) ||
           (colon && bbt_token_shaped(colon + 1, dlen - ulen - 1));
}

/* The value of a base64 character in either alphabet, or -1. */
static int bbt_cred_b64_any(unsigned char c)
{
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return bbt_b64_digit(c);
}

/* n bytes at s decoded as the forgiving decoders do (httpd's own
 * apr_base64_decode, a CGI's library): any other byte skipped, padding
 * missing or set bits in it ignored, the URL-safe alphabet taken; at
 * most bufcap bytes into buf.  A token spelled so is refused by the
 * strict decode but read by them. */
static size_t bbt_cred_b64_lenient(const char *s, size_t n, char *buf,
                                   size_t bufcap)
{
    unsigned acc = 0, bits = 0;
    size_t i, o = 0;
    int v;

    for (i = 0; i < n && o < bufcap; i++) {
        if ((v = bbt_cred_b64_any((unsigned char)s[i])) < 0)
            continue;
        acc = (acc << 6 | (unsigned)v) & 0xfff;
        if ((bits += 6) >= 8) {
            bits -= 8;
            buf[o++] = (char)(acc >> bits);
        }
    }
    return o;
}

/* Whether n bytes at s, decoded forgivingly, hold a user or a password
 * shaped like a token. */
static int bbt_cred_lenient_holds_token(const char *s, size_t n, char *buf,
                                        size_t bufcap)
{
    size_t dlen = bbt_cred_b64_lenient(s, n, buf, bufcap);
    int found = bbt_cred_decoded_holds_token(buf, dlen);

    OPENSSL_cleanse(buf, dlen);
    return found;
}

/* One word of a header: shaped itself (a Bearer value, a token pasted
 * bare), or base64 whose decoded user or password is (Basic), strict or
 * as a forgiving decoder reads it.  buf holds at least n bytes, more than
 * n bytes of base64 decode to. */
static int bbt_cred_word_holds_token(const char *w, size_t n, char *buf,
                                     size_t bufcap)
{
    size_t dlen = 0;
    int found;

    if (bbt_token_shaped(w, n))
        return 1;
    if (bbt_b64_decode_strict(w, n, (unsigned char *)buf, bufcap, &dlen) != 0)
        return bbt_cred_lenient_holds_token(w, n, buf, bufcap);
    found = bbt_cred_decoded_holds_token(buf, dlen);
    OPENSSL_cleanse(buf, dlen);
    return found;
}

int bbt_cred_holds_token(const char *header)
{
    char stack[BBT_CRED_MAX_HEADER], *buf = stack;
    size_t i, n, len, cap = sizeof(stack);
    int found = 0;

    if (!header)
        return 0;
    /* Room for all that any part of the header decodes to, however long
     * httpd let it be: a token after a long user, or a long password
     * after a token, is found as well, as a backend's decoder would read
     * it.  Without that room, the header is taken for one that holds a
     * token. */
    len = strlen(header);
    if (len > cap) {
        if (!(buf = malloc(len)))
            return 1;
        cap = len;
    }
    /* Words end at what no scheme puts inside a credential: spaces, the
     * comma httpd joins two headers with, an auth-param's quotes. */
    for (i = 0; header[i] && !found; i += n ? n : 1) {
        n = strcspn(header + i, " \t,\"");
        found = n && bbt_cred_word_holds_token(header + i, n, buf, cap);
    }
    /* And the credential after the scheme whole, spaces and all, as a
     * forgiving decoder reads base64 cut in pieces, or after a scheme
     * followed by some other blank (a vertical tab, a form feed). */
    for (n = 0; bbt_is_alpha((unsigned char)header[n]); n++)
        ;
    if (!found && header[n])
        found = bbt_cred_lenient_holds_token(header + n, len - n, buf, cap);
    if (buf != stack)
        free(buf);
    return found;
}
