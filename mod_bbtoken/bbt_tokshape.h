/*
 * Whether text holds a token, right or wrong: what is never logged (a Basic
 * user name), never handed to a password provider (a user name or a
 * password), never left in a foreign error page's Authorization, never
 * taken as a name and never repeated from a message.
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

/* How many of them a name may not end with (bbt_token_in_name): the base64
 * of a token's id, its twelve digits, which a message's next words could
 * go on as the token's secret. */
#define BBT_TOKSHAPE_OPEN_LEN 16

/* 1 if len bytes at s hold a token, right or wrong: somewhere in them,
 * their white space (Unicode's White_Space in UTF-8: spaces, tabs,
 * line breaks, U+00A0, U+3000, ...) read past, what a token's
 * first BBT_TOKSHAPE_LEN characters are, read with at most one character
 * mistyped (any byte in its place), left out or added, whatever surrounds
 * them: a whole token, its checksum right or wrong, one cut short to 29
 * characters or more, one with a typo in its id, one with white space
 * typed into it, with or without its prefix (in any case).  The prefix
 * alone is no token ("BBDC-deploy" is none).  Bytes, not a C string: a
 * NUL is a byte.  This is what bbt_token_mask hides. */
int bbt_token_in_text(const char *s, size_t len);

/* 1 if len bytes at s may not be a name (a token's, a user's, a display
 * name): they hold a token (bbt_token_in_text), or they end with what a
 * token's first BBT_TOKSHAPE_OPEN_LEN or more characters are (read as
 * bbt_token_in_text reads them), which the words after a name in a
 * message (" already has ...") would make a token of.  A name that is not
 * is never hidden by bbt_token_mask in a message that quotes it, and any
 * word bbt_token_mask would hide makes a name that is. */
int bbt_token_in_name(const char *s, size_t len);

/* 1 if len bytes at s, given where a token or a password goes (a Bearer
 * value, a Basic password, a CLI operand), look like a token: they start
 * with the prefix (after any spaces), however mistyped or cut short what
 * follows, or they hold a token (bbt_token_in_text). */
int bbt_token_shaped(const char *s, size_t len);

/* What stands where text shaped like a token was (bbt_token_mask), and
 * where the CLI would repeat a value shaped so. */
#define BBT_TOKSHAPE_HIDDEN "(not repeated: it looks like a token)"

/* A buffer's size in which bbt_token_mask never cuts text of len bytes:
 * what it hides is at least 29 bytes long (a token's characters), and so
 * is never much shorter than what stands for it. */
#define BBT_TOKSHAPE_MASK_SIZE(len) ((len)*8 + sizeof(BBT_TOKSHAPE_HIDDEN))

/* Hide, in the NUL-terminated text in buf (size bytes), every token in it
 * (bbt_token_in_text): text a program wrote from values it was given,
 * which may be one (a database's error message quotes a user's name, a
 * token's name).  The words that hold a token's characters, to its full
 * BBT_TOKEN_B64_LEN after the prefix (what follows its first
 * BBT_TOKSHAPE_LEN in base64 characters, white space read past), one word or
 * several where white space was typed into it, become BBT_TOKSHAPE_HIDDEN,
 * quotes and punctuation around them and the other words kept; where what
 * is kept would still read as a token, all of it does.  What no longer
 * fits in size bytes is cut.  1 if anything was hidden, else 0 and buf
 * unchanged. */
int bbt_token_mask(char *buf, size_t size);

#endif
