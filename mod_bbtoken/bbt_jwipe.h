/*
 * Wiping a secret out of jansson's copies (bbt_jwipe.c).
 *
 * A minted token's text goes into a JSON answer: jansson copies it into
 * the string it makes, and the answer's text holds it again.  jansson
 * wipes neither when it frees them, so the string is wiped before it is
 * freed, and the text is written where only the module holds it and
 * wiped too, as the token's own struct is (bbt_minted_wipe).
 */
#ifndef BBT_JWIPE_H
#define BBT_JWIPE_H

#include <jansson.h>

/* Overwrite, in place, the string member key of object obj with zero
 * bytes (its length is kept); nothing when obj is no object or key no
 * string member.  1 when a string was wiped, else 0. */
int bbt_jwipe_member(json_t *obj, const char *key);

/* json's text (json_dumps' flags), NUL-terminated, in a buffer of
 * malloc's that no one else has held: json_dumps builds its answer in
 * buffers of jansson's own, which it frees unwiped.  NULL on failure. */
char *bbt_jwipe_dump(const json_t *json, size_t flags);

/* Overwrite text (bbt_jwipe_dump's, NUL-terminated) with zero bytes, then
 * free it; nothing for NULL. */
void bbt_jwipe_free(char *text);

#endif
