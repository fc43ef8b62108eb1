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

/* The longest lock granted, in seconds, where the section does not say
 * (BBTokenDAVLockMaxTimeout). */
#define BBT_LOCKTIME_DEFAULT 3600L

/* The most a section may say: a week.  Beyond that a lock left by a
 * client that went away is as good as for ever to the writers and the
 * admin it keeps out. */
#define BBT_LOCKTIME_CAP_MAX 604800L

/* The seconds to grant for a Timeout header (NULL: none was sent), read as
 * mod_dav reads it (the first word that is Infinite or Second-N, words
 * separated by white space): N when it is a plain decimal from 0 to max,
 * otherwise (Infinite, no header, larger, malformed) max. */
long bbt_locktime(const char *timeout, long max);

/* BBTokenDAVLockMaxTimeout's argument: a plain decimal (digits only, no
 * sign, space or unit) from 1 to BBT_LOCKTIME_CAP_MAX, as a number; -1
 * for anything else.  0 is refused: every lock would end as it is
 * granted. */
long bbt_locktime_cap(const char *arg);

#endif
