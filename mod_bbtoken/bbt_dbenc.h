/*
 * The text every database connection of the module carries is UTF-8: the
 * module validates names as UTF-8, and jansson writes and reads nothing
 * else.  A connection's client_encoding is otherwise whatever the server,
 * the database, the role or httpd's environment (PGCLIENTENCODING) makes
 * it, and PostgreSQL then converts or mislabels every non-ASCII byte.
 */
#ifndef BBT_DBENC_H
#define BBT_DBENC_H

#include "httpd.h"

#include <libpq-fe.h>

/* Make the pooled connection pg, which the module is about to use for r,
 * speak UTF-8: nothing to do (no round trip) once it does, which it then
 * does until PostgreSQL drops it; one SET after mod_dbd or the pgsql
 * driver connected it.  Warns once per process of a database in
 * SQL_ASCII, looked at where new_backend says pg's backend is one the
 * module has not looked at yet.  0, or -1 (logged) when the SET failed. */
int bbt_dbenc_utf8(request_rec *r, PGconn *pg, int new_backend);

#endif
