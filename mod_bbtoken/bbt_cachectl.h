/*
 * The Cache-Control value of a private response: what a response to a
 * token-authenticated request says instead of what the backend sent.
 * Nothing here knows httpd: bbt_private.c applies it.
 */
#ifndef BBT_CACHECTL_H
#define BBT_CACHECTL_H

#include <stddef.h>

/* Bytes bbt_cachectl_private needs for value (NULL: none was sent). */
size_t bbt_cachectl_private_size(const char *value);

/* Write into out (outlen at least bbt_cachectl_private_size(value)) the
 * value to send instead of `value`: "public" and "s-maxage" go, "private"
 * comes first, beside "no-store" too (which a cache may ignore); the other
 * directives stay, in order.  A directive whose quoted string is never
 * closed goes, with the rest of the value (it is all inside the quote).
 * Returns out, or NULL if outlen is too small. */
char *bbt_cachectl_private(const char *value, char *out, size_t outlen);

#endif
