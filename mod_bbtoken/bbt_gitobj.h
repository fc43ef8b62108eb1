/*
 * A loose git object as a repository's file holds it: zlib-deflated
 * "TYPE SIZE\0" (blob, tree, commit or tag, SIZE in decimal) and SIZE bytes,
 * named objects/XX/YYYY... by the SHA-1 of those bytes inflated (40 hex
 * digits), or their SHA-256 in a SHA-256 repository (64).
 *
 * A writer who may move an upload into objects/ could otherwise put any
 * bytes under a name nobody has yet: a later push of the real object skips
 * it as there, and every clone then reads garbage.  So what is moved there
 * must be the object its name says.
 *
 * Nothing here knows httpd or APR: zlib and OpenSSL.
 */
#ifndef BBT_GITOBJ_H
#define BBT_GITOBJ_H

#include <sys/stat.h>

/* The largest SIZE an object's header may say (2 GiB, that size itself
 * taken): what it is checked against is read whole, in the request's
 * time, and a deflated stream inflates about a thousandfold. */
#define BBT_GITOBJ_MAX (2ULL * 1024 * 1024 * 1024)

/* Why the file at path is not the loose object whose id is hexid (40 or 64
 * lower-case hex digits), or NULL when it is: a static English reason.
 * path is not followed if it is a symbolic link.  The file read is *read
 * (when not NULL): the one checked, whatever takes path's name after. */
const char *bbt_gitobj_check(const char *path, const char *hexid,
                             struct stat *read);

/* bbt_gitobj_check, which also gives the file read, when it is the object,
 * still open: *keep (-1 otherwise), for the caller to close.  While it is
 * open the file's inode cannot be freed, so no file made meanwhile is given
 * its number: the number stays the file's name. */
const char *bbt_gitobj_check_keep(const char *path, const char *hexid,
                                  struct stat *read, int *keep);

#endif
