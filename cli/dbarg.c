/*
 * What --db names (db.h): a connection string that names what it means,
 * or none.  bbtoken_connect asks before it connects.
 */
#include <string.h>

#include "db.h"

/* The keyword of opts that v, a value libpq parsed, begins with before an
 * "=", or NULL: libpq reads "password= dbname=x" as the password
 * "dbname=x", and the keyword given no value then takes the next one's.
 * A keyword's name, never more of the value. */
static const char *bbtoken_db_swallowed(const PQconninfoOption *opts,
                                        const char *v)
{
    size_t n = strcspn(v, "= \t\n\r\f\v");
    const PQconninfoOption *o;

    if (v[n + strspn(v + n, " \t\n\r\f\v")] != '=') {
        return NULL;
    }
    for (o = opts; o->keyword; o++) {
        if (strlen(o->keyword) == n && strncmp(o->keyword, v, n) == 0) {
            return o->keyword;
        }
    }
    return NULL;
}

/* Where --db's connection string leaves libpq to choose what it names, as
 * an empty --db would (args.c): a keyword given an empty value ("dbname=",
 * "?host=", or "password= dbname=x", where dbname is then not given) or a
 * host list an empty item ("host=a,"), for which libpq uses its default
 * (an empty dbname is the login's name, an empty host the local socket),
 * and a URI naming no host and no database ("postgresql:///", what
 * postgresql://$H/$D gives with both unset), for which it takes PGHOST's
 * and PGDATABASE's.  Each is most often a variable left unset, and the
 * command would act on a database no one named.  0, or BBTOKEN_EXIT_FAIL
 * after saying why: the keyword's name, never a value. */
int bbtoken_db_unnamed(const char *db, const PQconninfoOption *opts)
{
    /* libpq's own test for "this is a URI". */
    int uri = strncmp(db, "postgresql://", 13) == 0 ||
              strncmp(db, "postgres://", 11) == 0;
    const PQconninfoOption *o;
    const char *next;
    int named = 0;

    for (o = opts; o->keyword; o++) {
        int host = strcmp(o->keyword, "host") == 0 ||
                   strcmp(o->keyword, "hostaddr") == 0;
        size_t n;

        if (!o->val) {
            continue;
        }
        if ((next = bbtoken_db_swallowed(opts, o->val)) != NULL) {
            return bbtoken_fail("--db: %s is given no value: libpq reads "
                                "\"%s= %s=...\" as %s \"%s=...\", and no "
                                "%s (a variable left unset?)",
                                o->keyword, o->keyword, next, o->keyword, next,
                                next);
        }
        if (!*o->val) {
            return bbtoken_fail("--db: %s is empty, so libpq would use its "
                                "default instead (a variable left unset?): "
                                "give it a value or leave it out",
                                o->keyword);
        }
        n = strlen(o->val);
        if (host && (o->val[0] == ',' || o->val[n - 1] == ',' ||
                     strstr(o->val, ",,"))) {
            return bbtoken_fail("--db: an item of %s is empty, so libpq "
                                "would take its default host there (a "
                                "variable left unset?)",
                                o->keyword);
        }
        named |= host || strcmp(o->keyword, "dbname") == 0 ||
                 strcmp(o->keyword, "service") == 0;
    }
    if (uri && !named) {
        return bbtoken_fail("--db: the URI names no host and no database, "
                            "so libpq would take PGHOST's and PGDATABASE's "
                            "or its defaults (a variable left unset?): name "
                            "either, in the URI or as its parameter");
    }
    return 0;
}
