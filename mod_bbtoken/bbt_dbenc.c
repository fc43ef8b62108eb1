/*
 * UTF-8 on the pooled connections (bbt_dbenc.h).
 *
 * mod_dbd makes its connections itself, from DBDParams, so the module
 * cannot ask for client_encoding when they are made.  libpq keeps the
 * value the server last reported (ParameterStatus), so asking costs no
 * round trip: only a connection that does not speak UTF-8 yet, new or
 * reset after PostgreSQL dropped it, is sent a SET.  The SET is the
 * session's and outlives the module's hold of the connection, which is
 * what a pool shared with another module (mod_authn_dbd) then gets too.
 */
#include "httpd.h"
#include "http_log.h"
#include "apr_atomic.h"
#include "apr_strings.h"

#include <string.h>

#include "bbt_dbenc.h"
#include "bbt_sqlstate.h"

APLOG_USE_MODULE(bbtoken);

/* The value as the server reports it: PostgreSQL says UTF8 whatever
 * spelling (utf-8, unicode) was asked for. */
static int bbt_dbenc_is(PGconn *pg, const char *param, const char *want)
{
    const char *v = PQparameterStatus(pg, param);

    return v && strcmp(v, want) == 0;
}

/* SQL_ASCII stores bytes as they come and checks none: what the module
 * and the CLI write is UTF-8, but any other client may write anything,
 * and length rules count bytes.  Said once per process: it is the
 * database's state, not a request's. */
static void bbt_dbenc_sql_ascii(request_rec *r, PGconn *pg)
{
    static volatile apr_uint32_t told;

    if (!told && bbt_dbenc_is(pg, "server_encoding", "SQL_ASCII") &&
        apr_atomic_cas32(&told, 1, 0) == 0) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      "BBT751: the token database's encoding is SQL_ASCII: "
                      "PostgreSQL checks no text there, so a name another "
                      "client wrote may not be UTF-8, and a name's length "
                      "is counted in bytes; move it to a database created "
                      "with ENCODING UTF8 (README, Install)");
    }
}

/* Whether pg speaks UTF-8.  libpq keeps the client_encoding the server
 * last reported as a number too, which costs no walk of its list of
 * reported values; a connection libpq does not call open has no number,
 * and is asked as before. */
static int bbt_dbenc_client_utf8(PGconn *pg)
{
    int enc = PQclientEncoding(pg);

    if (enc < 0) {
        return bbt_dbenc_is(pg, "client_encoding", "UTF8");
    }
    return strcmp(pg_encoding_to_char(enc), "UTF8") == 0;
}

int bbt_dbenc_utf8(request_rec *r, PGconn *pg, int new_backend)
{
    const char *was;
    char line[512];

    /* The database's encoding is the backend's for its life. */
    if (new_backend) {
        bbt_dbenc_sql_ascii(r, pg);
    }
    if (bbt_dbenc_client_utf8(pg)) {
        return 0;
    }
    was = PQparameterStatus(pg, "client_encoding");
    /* Copied: the SET replaces the value libpq holds. */
    was = apr_pstrdup(r->pool, was ? was : "unknown");
    if (PQsetClientEncoding(pg, "UTF8") != 0 || !bbt_dbenc_client_utf8(pg)) {
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            "BBT750: the database connection's client_encoding "
            "is %s and could not be set to UTF8: %s",
            was,
            bbt_sql_line(line, sizeof(line), PQerrorMessage(pg), "no message"));
        return -1;
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  "BBT752: the database connection's client_encoding was "
                  "%s, now UTF8",
                  was);
    return 0;
}
