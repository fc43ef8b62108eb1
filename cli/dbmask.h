/*
 * libpq's messages with what --db gave masked (dbmask.c).
 */
#ifndef BBTOKEN_DBMASK_H
#define BBTOKEN_DBMASK_H

/* Whether libpq takes --db's value s as a connection string (a conninfo
 * or a URI) rather than a database name.  dbmask.c. */
int bbtoken_is_conninfo(const char *s);

/* libpq's message msg with every value of --db (db) masked, in memory the
 * caller frees; NULL: nothing of msg may be shown.  dbmask.c. */
char *bbtoken_masked(const char *db, const char *msg);

#endif
