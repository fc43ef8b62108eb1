/* The CLI's check of what --db names (cli/dbarg.c), on connection strings
 * as libpq's own parser reads them, without a server: the host and
 * hostaddr lists read together, place by place, as libpq pairs them; a
 * keyword given no value told from a value that only looks like a
 * setting; a URI's empty path (no database) told from none; and no
 * byte of a value, a password above all, in a refusal.
 * t/22-cli-db-empty.t connects with the accepted forms. */
#include "cli_capture.h"
#include "cli.h"
#include "dbarg.h"
#include "tap.h"

#include <string.h>

/* Every password below holds this: a refusal never does. */
#define SECRET "S3CRETpw"

static int check(const char *db)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(db, &err);
    int rc;

    if (!opts) {
        diag("libpq does not parse %s: %s", db, err ? err : "?");
        PQfreemem(err);
        return -1;
    }
    capture_start();
    rc = bbtoken_db_unnamed(db, opts);
    capture_end();
    PQconninfoFree(opts);
    return rc;
}

static void accepted(const char *db)
{
    int rc = check(db);

    ok(rc == 0 && capture_err[0] == '\0', "accepted: %s", db);
    if (rc != 0) {
        diag("%s", capture_err);
    }
}

static void refused(const char *db, const char *why)
{
    int rc = check(db);

    is_int(rc, BBTOKEN_EXIT_FAIL, "refused: %s", db);
    is_str(capture_err, why, "  says why");
    ok(!strstr(capture_err, SECRET), "  no byte of the password");
}

static void test_hosts(void)
{
    /* An empty place of one list is the other's: libpq connects there. */
    accepted("host=localhost,127.0.0.1 hostaddr=127.0.0.1, dbname=bbtoken");
    accepted("host=,localhost hostaddr=127.0.0.1, dbname=bbtoken");
    accepted("host=a,,c hostaddr=,192.0.2.2,192.0.2.3 dbname=bbtoken");
    accepted("host=a,b hostaddr=192.0.2.1,192.0.2.2 dbname=bbtoken");
    accepted("hostaddr=127.0.0.1,127.0.0.2 dbname=bbtoken");
    accepted("host=localhost hostaddr='' dbname=bbtoken");
    accepted("host='' hostaddr=127.0.0.1 dbname=bbtoken");
    accepted("postgresql:///bbtoken?host=a,b&hostaddr=192.0.2.1,");
    accepted("postgresql://a,b/bbtoken?hostaddr=,192.0.2.2");
    /* Lists of different lengths: libpq refuses them itself ("could not
     * match 3 host names to 2 hostaddr values"). */
    accepted("host=a,b,c hostaddr=192.0.2.1, dbname=bbtoken");

#define NONE_THERE(n, list, other)                                             \
    "bbtoken: --db: item " #n " of " list " is empty and " other               \
    " gives none there, so libpq would choose the host there (a variable "     \
    "left unset?)\n"
    refused("host=127.0.0.1, dbname=bbtoken password=" SECRET,
            NONE_THERE(2, "host", "hostaddr"));
    refused("password=" SECRET " host=,127.0.0.1 dbname=bbtoken",
            NONE_THERE(1, "host", "hostaddr"));
    refused("host=a,,c dbname=bbtoken", NONE_THERE(2, "host", "hostaddr"));
    refused("hostaddr=127.0.0.1, dbname=bbtoken password=" SECRET,
            NONE_THERE(2, "hostaddr", "host"));
    refused("host=a,,c hostaddr=192.0.2.1,,192.0.2.3 dbname=bbtoken",
            NONE_THERE(2, "hostaddr", "host"));
    refused("host=a,b, hostaddr=192.0.2.1,, dbname=bbtoken",
            NONE_THERE(3, "hostaddr", "host"));
    refused("host=a, hostaddr='' dbname=bbtoken",
            NONE_THERE(2, "host", "hostaddr"));
    refused("host='' hostaddr=192.0.2.1, dbname=bbtoken",
            NONE_THERE(2, "hostaddr", "host"));
    refused("postgresql://" SECRET "@127.0.0.1,/bbtoken",
            NONE_THERE(2, "host", "hostaddr"));
    refused("postgresql://u:" SECRET "@,127.0.0.1/bbtoken",
            NONE_THERE(1, "host", "hostaddr"));
    refused("postgresql:///bbtoken?hostaddr=192.0.2.1,&password=" SECRET,
            NONE_THERE(2, "hostaddr", "host"));
#undef NONE_THERE

#define EMPTY(k)                                                               \
    "bbtoken: --db: " k " is empty, so libpq would use its default instead "   \
    "(a variable left unset?): give it a value or leave it out\n"
    refused("host='' dbname=bbtoken password=" SECRET, EMPTY("host"));
    refused("dbname=bbtoken password=" SECRET " host=", EMPTY("host"));
    refused("host='' hostaddr='' dbname=bbtoken", EMPTY("host"));
    refused("hostaddr='' dbname=bbtoken password=" SECRET, EMPTY("hostaddr"));
    refused("postgresql://127.0.0.1/bbtoken?host=", EMPTY("host"));
    refused("dbname='' host=127.0.0.1 password=" SECRET, EMPTY("dbname"));
    refused("password='' host=127.0.0.1 dbname=bbtoken", EMPTY("password"));
#undef EMPTY
}

static void test_swallowed(void)
{
    /* A value that only looks like a setting is what was meant. */
    accepted("host=127.0.0.1 password='user=x' dbname=bbtoken");
    accepted("host=127.0.0.1 password= 'user=x' dbname=bbtoken");
    accepted("host=127.0.0.1 password=user=x dbname=bbtoken");
    accepted("host=127.0.0.1 password= user\\=x dbname=bbtoken");
    accepted("host=127.0.0.1 password='dbname= x' dbname=bbtoken");
    accepted("host=127.0.0.1 password='a\\' dbname=x' dbname=bbtoken");
    accepted("host=127.0.0.1 password= nokeyword=x dbname=bbtoken");
    accepted("host=127.0.0.1 password = x dbname=bbtoken");
    accepted("postgresql://127.0.0.1/bbtoken?password=dbname%3Dx");

#define SWALLOWED(k)                                                           \
    "bbtoken: --db: " k "= is followed by a blank and another keyword's "      \
    "setting, which libpq would take for " k "'s value (a variable left "      \
    "unset?): quote the value meant, or leave " k " out\n"
    refused("host=127.0.0.1 password= dbname=bbtoken", SWALLOWED("password"));
    /* libpq's password "user=S3CRETpw": the message has none of it. */
    refused("host=127.0.0.1 dbname=bbtoken password= user=" SECRET,
            SWALLOWED("password"));
    refused("host=127.0.0.1 password=\t\f dbname=" SECRET,
            SWALLOWED("password"));
    refused("host=127.0.0.1 user =  dbname=bbtoken password=" SECRET,
            SWALLOWED("user"));
    refused("password=" SECRET " dbname= host=127.0.0.1", SWALLOWED("dbname"));
#undef SWALLOWED
}

static void test_uri_path(void)
{
    /* No "/": the database not given, as host=h alone; libpq takes
     * PGDATABASE's, which is meant. */
    accepted("postgresql://127.0.0.1");
    accepted("postgresql://127.0.0.1:5432?sslmode=require");
    accepted("postgresql://127.0.0.1/bbtoken");
    accepted("postgresql://127.0.0.1/?dbname=bbtoken");
    accepted("postgres://127.0.0.1/?service=bbtoken");
    accepted("postgresql:///bbtoken?host=127.0.0.1");
    /* A "?" in the password is not the URI's parameters, nor an
     * address in brackets the end of the host. */
    accepted("postgresql://u:a?b@127.0.0.1");
    accepted("postgresql://[::1]:5433?sslmode=require");
    accepted("postgresql://[::1],127.0.0.1/bbtoken");

#define EMPTY_PATH                                                             \
    "bbtoken: --db: the URI's database is empty (a \"/\" after the host, "     \
    "then nothing or \"?\"), so libpq would take PGDATABASE's or the "         \
    "login's name (a variable left unset?): name it after the \"/\" or as "    \
    "its dbname parameter\n"
    /* postgresql://$H/$D with $D unset. */
    refused("postgresql://127.0.0.1/", EMPTY_PATH);
    refused("postgres://127.0.0.1/", EMPTY_PATH);
    refused("postgresql://u:" SECRET "@h:5432/?sslmode=require", EMPTY_PATH);
    refused("postgresql://u:" SECRET "?x@h/", EMPTY_PATH);
    refused("postgresql://a:5432,[::1]:5433/?password=" SECRET, EMPTY_PATH);
    refused("postgresql://[::1]/", EMPTY_PATH);
    refused("postgresql:///?host=127.0.0.1", EMPTY_PATH);
#undef EMPTY_PATH

    /* Neither host nor database: said so first. */
    refused("postgresql://u:" SECRET "@/",
            "bbtoken: --db: the URI names no host and no database, so libpq "
            "would take PGHOST's and PGDATABASE's or its defaults (a variable "
            "left unset?): name either, in the URI or as its parameter\n");
}

int main(void)
{
    test_hosts();
    test_swallowed();
    test_uri_path();
    return done_testing();
}
