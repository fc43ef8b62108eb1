/*
 * Whether text holds a token, right or wrong: what is never logged (a Basic
 * user name), never handed to a password provider (a user name or a
 * password), and never left in a foreign error page's Authorization.
 * People paste a token into the wrong field, with a typo, cut short, with
 * what surrounded it; the text must not then reach a log from which the
 * token can be mended.  A real password must still reach its providers:
 * what is recognised is a token's own structure (its id is twelve digits
 * and a colon), which a password of random characters has by chance with a
 * likelihood of about 10^-16 for each of its characters.
 *
 * Nothing here knows httpd or APR.
 */
#ifndef BBT_TOKSHAPE_H
#define BBT_TOKSHAPE_H

#include <stddef.h>

/* How many of a token's first characters are recognised: its id (the
 * first 18, twelve digits and a colon) and more than half its secret, so
 * that what is not recognised leaves at least 64 of the secret's bits
 * unknown. */
#define BBT_TOKSHAPE_LEN 30

/* 1 if len bytes at s look like a token, right or wrong: they start with
 * the prefix (after any spaces), or somewhere hold what a token's first
 * BBT_TOKSHAPE_LEN characters are, read with at most one character
 * mistyped (any byte in its place), left out or added, whatever surrounds
 * them: a whole token, its checksum right or wrong, one cut short, one
 * with a typo in its id.  Bytes, not a C string: a NUL is a byte. */
int bbt_token_shaped(const char *s, size_t len);

#endif
