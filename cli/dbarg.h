/*
 * What --db names (dbarg.c).
 */
#ifndef BBTOKEN_DBARG_H
#define BBTOKEN_DBARG_H

#include <libpq-fe.h>

/* Whether --db, db (parsed as opts), names what it means (dbarg.c): 0, or
 * BBTOKEN_EXIT_FAIL after saying what it leaves to libpq's environment
 * (an empty value, an empty item of a host list, a URI naming no host and
 * no database), naming a keyword, never a value. */
int bbtoken_db_unnamed(const char *db, const PQconninfoOption *opts);

#endif
