/*
 * Authorization header parser.  Every byte is hostile: the value is length
 * capped, must be printable ASCII, and may carry exactly one credential
 * (httpd joins repeated headers with ", ", so a comma means two).
 */
#ifndef BBT_CRED_H
#define BBT_CRED_H

#include <stddef.h>

#include "bbt_token.h"

/* Longest Authorization value looked at; longer is refused unread. */
#define BBT_CRED_MAX_HEADER 4096
#define BBT_CRED_MAX_USER 255

typedef enum {
    BBT_CRED_NONE = 0, /* no header, or a Basic user without a password */
    BBT_CRED_BASIC,    /* user and secret set */
    BBT_CRED_BEARER,   /* secret set, user NULL */
    BBT_CRED_OTHER,    /* a scheme we do not speak (Digest, Negotiate...) */
    BBT_CRED_MALFORMED /* why says what is wrong */
} bbt_cred_kind_t;

typedef struct {
    bbt_cred_kind_t kind;
    const char *user; /* NUL-terminated, inside buf */
    size_t user_len;
    const char *secret; /* NUL-terminated, inside buf or the header */
    size_t secret_len;
    const char *why; /* static English reason when MALFORMED */
} bbt_cred_t;

/* Parse a header value.  header may be NULL (no header).  buf is scratch for
 * the decoded Basic credentials; it must hold bufcap bytes, at least
 * BBT_CRED_MAX_HEADER.  Results point into buf or header: keep them alive
 * together, and wipe buf when done.  Returns out->kind. */
bbt_cred_kind_t bbt_cred_parse(const char *header, char *buf, size_t bufcap,
                               bbt_cred_t *out);

/* The token a parsed credential carries: a Bearer value, or a Basic
 * password.  BBT_TOKEN_OK and *tok filled (wipe it), or why it is not a
 * token (BBT_TOKEN_BAD_LENGTH for a credential with no secret). */
bbt_token_status_t bbt_cred_token(const bbt_cred_t *c, bbt_token_t *tok);
/* The same but for the checksum (see bbt_token_parse_unchecked). */
bbt_token_status_t bbt_cred_token_unchecked(const bbt_cred_t *c,
                                            bbt_token_t *tok);

/* 1 if the credential carries a token: Bearer, or a Basic password that
 * parses as a token (or would, but its checksum could not be computed).
 * What a token may not do (manage tokens) is refused on this. */
int bbt_cred_carries_token(const bbt_cred_t *c);

/* 1 if the credential is a Basic password for the password providers:
 * nothing shaped like a token, prefixed or not, which must never reach a
 * provider (and an LDAP server's logs): not a token, not a token with a
 * wrong checksum, nothing that starts with the BBDC- prefix; and its user
 * name could be a user's (bbt_token_in_name): one holding a token a
 * provider would log as a user it does not know. */
int bbt_cred_is_password(const bbt_cred_t *c);

/* 1 if anything in an Authorization value (NULL: none) is shaped like a
 * token (bbt_token_shaped), whatever the parser makes of it: a word of it,
 * or the user or the password a word of base64 decodes to, so a Basic
 * credential the parser refuses (two joined, text after it, no password)
 * is looked into too; base64 also as httpd's and a CGI's forgiving
 * decoders read it (no padding, the URL-safe alphabet, cut by spaces).
 * A password or another scheme's credential is not.  Every word is
 * decoded, however long (memory as long as the header; 1 without it). */
int bbt_cred_holds_token(const char *header);

#endif
