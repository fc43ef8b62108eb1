/*
 * How long a WebDAV lock taken through the module may last.  mod_dav
 * grants what the LOCK's Timeout header asks, Infinite (or no header at
 * all) included, and only the lock's own user may remove it (UNLOCK): a
 * writer's lock on a collection would then keep every other writer, and the
 * repository's admin (whose DELETE or MOVE of the repository it fails), out
 * for ever.  RFC 4918 lets a server grant less than was asked; a client
 * refreshes a lock it still needs.
 *
 * Nothing here knows httpd or APR.
 */
#ifndef BBT_LOCKTIME_H
#define BBT_LOCKTIME_H

/* The longest lock granted, in seconds. */
#define BBT_LOCKTIME_MAX 3600L

/* The seconds to grant for a Timeout header (NULL: none was sent), read as
 * mod_dav reads it (the first word that is Infinite or Second-N, words
 * separated by white space): N when it is a plain decimal from 0 to max,
 * otherwise (Infinite, no header, larger, malformed) max. */
long bbt_locktime(const char *timeout, long max);

#endif
