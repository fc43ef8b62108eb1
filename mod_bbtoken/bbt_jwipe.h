/*
 * Wiping a secret out of jansson's copies (bbt_jwipe.c).
 *
 * A minted token's text goes into a JSON answer: jansson copies it into
 * the string it makes, and json_dumps copies it again into the answer's
 * text.  Neither is wiped when freed, so both are wiped before they are,
 * as the token's own struct is (bbt_minted_wipe).
 */
#ifndef BBT_JWIPE_H
#define BBT_JWIPE_H

#include <jansson.h>

/* Overwrite, in place, the string member key of object obj with zero
 * bytes (its length is kept); nothing when obj is no object or key no
 * string member.  1 when a string was wiped, else 0. */
int bbt_jwipe_member(json_t *obj, const char *key);

/* Overwrite text (json_dumps' output, NUL-terminated) with zero bytes, then
 * free it; nothing for NULL. */
void bbt_jwipe_free(char *text);

#endif
