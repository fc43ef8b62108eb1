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

/* What stands where text shaped like a token was (bbt_token_mask), and
 * where the CLI would repeat a value shaped so. */
#define BBT_TOKSHAPE_HIDDEN "(not repeated: it looks like a token)"

/* A buffer's size in which bbt_token_mask never cuts text of len bytes:
 * what it hides is at least the prefix's 5 bytes long. */
#define BBT_TOKSHAPE_MASK_SIZE(len) ((len)*8 + sizeof(BBT_TOKSHAPE_HIDDEN))

/* Hide, in the NUL-terminated text in buf (size bytes), whatever is shaped
 * like a token: text a program wrote from values it was given, which may
 * be one (a database's error message quotes a user's name, a token's
 * name).  Each word (bytes between white space) that bbt_token_shaped
 * says holds a token becomes BBT_TOKSHAPE_HIDDEN, quotes and punctuation
 * around it kept; where the text is shaped still (a token with white space
 * typed into it), all of it does.  What no longer fits in size bytes is
 * cut.  1 if anything was hidden, else 0 and buf unchanged. */
int bbt_token_mask(char *buf, size_t size);

#endif
