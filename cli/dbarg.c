/*
 * What --db names (dbarg.h): a connection string that names what it means,
 * or none.  bbtoken_connect asks before it connects.
 */
#include <ctype.h>
#include <string.h>

#include "cli.h"
#include "dbarg.h"

/* The keyword of opts that is s's first n bytes, or NULL. */
static const char *bbtoken_db_keyword(const PQconninfoOption *opts,
                                      const char *s, size_t n)
{
    const PQconninfoOption *o;

    for (o = opts; o->keyword; o++) {
        if (strlen(o->keyword) == n && strncmp(o->keyword, s, n) == 0) {
            return o->keyword;
        }
    }
    return NULL;
}

/* The keyword of keyword/value string db that was given no value, or
 * NULL: one whose "=" a blank follows, then, unquoted, another keyword
 * and "=".  libpq reads "password= dbname=x" as the password "dbname=x",
 * and dbname is not given.  Read as libpq's conninfo_parse reads db, which
 * it has parsed: a quoted value (password='user=x') or one written
 * against its "=" (password=user=x) is what was meant, and so is one
 * whose "=" a backslash escapes (password= user\=x).  The value is looked
 * at, never kept or shown: it may be a password. */
static const char *bbtoken_db_swallowed(const char *db,
                                        const PQconninfoOption *opts)
{
    const unsigned char *p = (const unsigned char *)db;

    while (*p) {
        const unsigned char *name, *val;
        size_t n;
        int blank = 0;

        if (isspace(*p)) {
            p++;
            continue;
        }
        for (name = p; *p && *p != '=' && !isspace(*p); p++) {
        }
        n = (size_t)(p - name);
        while (isspace(*p)) {
            p++;
        }
        if (*p != '=') {
            return NULL; /* not as libpq parsed it */
        }
        for (p++; isspace(*p); p++) {
            blank = 1;
        }
        if (*p == '\'') {
            for (p++; *p && *p != '\''; p++) {
                if (*p == '\\' && p[1]) {
                    p++;
                }
            }
            if (!*p) {
                return NULL;
            }
            p++;
            continue;
        }
        for (val = p; *p && !isspace(*p) && *p != '=' && *p != '\\'; p++) {
        }
        if (blank && *p == '=' &&
            bbtoken_db_keyword(opts, (const char *)val, (size_t)(p - val))) {
            return bbtoken_db_keyword(opts, (const char *)name, n);
        }
        while (*p && !isspace(*p)) {
            p += *p == '\\' && p[1] ? 2 : 1;
        }
    }
    return NULL;
}

/* Item i of the comma-separated list s (host, hostaddr), as libpq splits
 * it: its length, or (size_t)-1 where s has no item i. */
static size_t bbtoken_db_item(const char *s, size_t i)
{
    for (; i > 0; i--) {
        if (!(s = strchr(s, ','))) {
            return (size_t)-1;
        }
        s++;
    }
    return strcspn(s, ",");
}

/* Where host and hostaddr, the values given or NULL, leave libpq to
 * choose a host.  libpq pairs their items by position (hostaddr's list,
 * where given, sets their number, and host's must have as many, else
 * libpq itself refuses) and takes one item's empty place from the other:
 * host=a,b hostaddr=192.0.2.1, is 192.0.2.1 (named a), then b.  Where
 * both are empty, or one is and the other not given, it takes the
 * environment's (PGHOST, PGHOSTADDR) or its default, the local socket:
 * that place is refused.  An empty value is a list not given, as libpq
 * has it. */
static int bbtoken_db_hosts(const char *host, const char *addr)
{
    const char *h = host && *host ? host : NULL;
    const char *a = addr && *addr ? addr : NULL;
    const char *list = a ? a : h;
    size_t i, n;

    if (!list) {
        if (host || addr) {
            return bbtoken_fail("--db: %s is empty, so libpq would use its "
                                "default instead (a variable left unset?): "
                                "give it a value or leave it out",
                                host ? "host" : "hostaddr");
        }
        return 0;
    }
    for (i = 0; (n = bbtoken_db_item(list, i)) != (size_t)-1; i++) {
        if (n == 0 && (!a || !h || bbtoken_db_item(h, i) == 0)) {
            return bbtoken_fail("--db: item %zu of %s is empty and %s "
                                "gives none there, so libpq would choose "
                                "the host there (a variable left unset?)",
                                i + 1, a ? "hostaddr" : "host",
                                a ? "host" : "hostaddr");
        }
    }
    return 0;
}

/* Whether URI db, which libpq has parsed, has a path after its authority
 * ("/" before any "?"), found as libpq's conninfo_uri_parse_options finds
 * it: user and password end at the first "@" before any "/" (a "?" may
 * be in a password), an address in brackets at its "]", each host and
 * port at "/", "?" or ",". */
static int bbtoken_db_uri_path(const char *db)
{
    const char *p = strstr(db, "://") + 3;
    const char *at = p + strcspn(p, "@/");

    if (*at == '@') {
        p = at + 1;
    }
    for (;;) {
        if (*p == '[' && (p = strchr(p, ']')) == NULL) {
            return 0;
        }
        p += strcspn(p, "/?,");
        if (*p != ',') {
            return *p == '/';
        }
        p++;
    }
}

/* Where --db's connection string leaves libpq to choose what it names, as
 * an empty --db would (args.c): a keyword given an empty value ("dbname=",
 * "?port=") or none ("password= dbname=x", where dbname is then not
 * given), a place in the host and hostaddr lists that neither names
 * ("host=a,", "host= hostaddr="), for which libpq uses its default (an
 * empty dbname is the login's name, an empty host the local socket), and
 * a URI naming no host and no database ("postgresql:///", what
 * postgresql://$H/$D gives with both unset), for which it takes PGHOST's
 * and PGDATABASE's, and a URI whose path is empty ("postgresql://h/",
 * that template with $D unset: the URI's "dbname="), for which libpq
 * leaves dbname unset and takes PGDATABASE's or the login's name, unless
 * a parameter (?dbname=, ?service=) names it.  Without the "/"
 * (postgresql://h), as with host=h alone, the database is not given
 * rather than given empty: what the environment names is meant.  Each
 * is most often a variable left unset, and the command would act on a
 * database no one named.  0, or BBTOKEN_EXIT_FAIL after saying why: a
 * keyword's name or the form, never a value. */
int bbtoken_db_unnamed(const char *db, const PQconninfoOption *opts)
{
    /* libpq's own test for "this is a URI". */
    int uri = strncmp(db, "postgresql://", 13) == 0 ||
              strncmp(db, "postgres://", 11) == 0;
    const PQconninfoOption *o;
    const char *host = NULL, *addr = NULL, *next;
    int named = 0, dbnamed = 0;

    if (!uri && (next = bbtoken_db_swallowed(db, opts)) != NULL) {
        return bbtoken_fail("--db: %s= is followed by a blank and another "
                            "keyword's setting, which libpq would take for "
                            "%s's value (a variable left unset?): quote the "
                            "value meant, or leave %s out",
                            next, next, next);
    }
    for (o = opts; o->keyword; o++) {
        int is_host = strcmp(o->keyword, "host") == 0;
        int is_addr = strcmp(o->keyword, "hostaddr") == 0;

        if (!o->val) {
            continue;
        }
        if (is_host) {
            host = o->val;
        } else if (is_addr) {
            addr = o->val;
        } else if (!*o->val) {
            return bbtoken_fail("--db: %s is empty, so libpq would use its "
                                "default instead (a variable left unset?): "
                                "give it a value or leave it out",
                                o->keyword);
        }
        if (*o->val && (strcmp(o->keyword, "dbname") == 0 ||
                        strcmp(o->keyword, "service") == 0)) {
            dbnamed = 1;
        }
        named |= *o->val && (is_host || is_addr);
    }
    named |= dbnamed;
    if (bbtoken_db_hosts(host, addr) != 0) {
        return BBTOKEN_EXIT_FAIL;
    }
    if (uri && !named) {
        return bbtoken_fail("--db: the URI names no host and no database, "
                            "so libpq would take PGHOST's and PGDATABASE's "
                            "or its defaults (a variable left unset?): name "
                            "either, in the URI or as its parameter");
    }
    /* A path libpq read is the database: only an empty one leaves it unset. */
    if (uri && !dbnamed && bbtoken_db_uri_path(db)) {
        return bbtoken_fail("--db: the URI's database is empty (a \"/\" "
                            "after the host, then nothing or \"?\"), so "
                            "libpq would take PGDATABASE's or the login's "
                            "name (a variable left unset?): name it after "
                            "the \"/\" or as its dbname parameter");
    }
    return 0;
}
