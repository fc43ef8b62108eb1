/*
 * bbtoken: the administrator's command line for mod_bbtoken.
 *
 *   bbtoken [--db CONNINFO] COMMAND [ARGS...]
 *
 * It manages users, their grants and their personal access tokens in the
 * PostgreSQL database the module reads.  Every statement is parameterized:
 * no text from the command line is ever spliced into SQL.  Input is checked
 * here first so that mistakes get a friendly message, but the schema's own
 * constraints remain the real guard, and their refusals are reported too.
 *
 * Exit status: 0 success; 1 failure with exactly one line on stderr;
 * 2 bad usage (a reason and the usage on stderr).  Only reports (list,
 * policy, audit, expiring, db status), create (the token alone) and the
 * counts of revoke --user and purge go to stdout; create's notes go to
 * stderr.
 *
 * The schema's migrations are compiled in (bbtoken_migrations.h, made by
 * cli/embed-sql.sh from sql/migrations/), so `db upgrade` needs no files.
 * Every other command first checks that the database is at the schema
 * version this program knows, and tells the database who is acting (the
 * session settings bbtoken.source and bbtoken.actor) for the audit trail
 * its triggers keep.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "bbt_input.h"
#include "bbt_perm.h"
#include "bbt_pgjson.h"
#include "bbt_route.h"
#include "bbt_token.h"

#define BBTOKEN_VERSION "0.2.0"

#define BBTOKEN_EXIT_OK 0
#define BBTOKEN_EXIT_FAIL 1
#define BBTOKEN_EXIT_USAGE 2
/* "Arguments parsed, go on": not an exit status. */
#define BBTOKEN_GO_ON (-1)

/* Long-only options get values outside the char range; a command accepts
 * the options whose BBTOKEN_BIT is in its mask. */
enum {
    BBTOKEN_OPT_DB = 256,
    BBTOKEN_OPT_VERSION,
    BBTOKEN_OPT_ADMIN,
    BBTOKEN_OPT_NAME,
    BBTOKEN_OPT_PERM,
    BBTOKEN_OPT_EXPIRY,
    BBTOKEN_OPT_JSON,
    BBTOKEN_OPT_INIT,
    BBTOKEN_OPT_USER,
    BBTOKEN_OPT_SINCE,
    BBTOKEN_OPT_TOKEN,
    BBTOKEN_OPT_WITHIN,
    BBTOKEN_OPT_BEFORE,
    BBTOKEN_OPT_REQUIRED,
    BBTOKEN_OPT_OPTIONAL,
    BBTOKEN_OPT_MAX_DAYS,
    BBTOKEN_OPT_MAX_TOKENS
};
#define BBTOKEN_BIT(opt) (1u << ((opt)-BBTOKEN_OPT_DB))

/* Two --perm make a full pair; more are refused by bbt_perm_from_list, but
 * must be stored to be refused. */
#define BBTOKEN_MAX_PERMS 8
/* A 12-digit random id collides about never; a few retries make that
 * never, without looping forever on a broken random generator. */
#define BBTOKEN_ID_TRIES 5
#define BBTOKEN_LABEL_MAX 255
#define BBTOKEN_EXPIRY_MAX 36500

#define BBTOKEN_PERM_NAMES                                                     \
    "PROJECT_READ, PROJECT_WRITE, PROJECT_ADMIN, REPO_READ, REPO_WRITE or "    \
    "REPO_ADMIN"

typedef struct {
    const char *db; /* --db, or NULL: libpq's environment alone */
    PGconn *conn;   /* opened once a command has checked its arguments */
    int any_schema; /* db commands: connect whatever the schema version */
} bbtoken_ctx_t;

typedef struct {
    int version;
    const char *name;
    const char *sql;
} bbtoken_migration_t;

#include "bbtoken_migrations.h"

#define BBTOKEN_NMIGRATIONS                                                    \
    ((int)(sizeof(bbtoken_migrations) / sizeof(bbtoken_migrations[0])))
#define BBTOKEN_SCHEMA_LATEST                                                  \
    (bbtoken_migrations[BBTOKEN_NMIGRATIONS - 1].version)

/* A command line after option parsing; values are checked by commands. */
typedef struct {
    char **operands;
    const char *label; /* --name */
    const char *days;  /* --expiry-days */
    const char *perms[BBTOKEN_MAX_PERMS];
    size_t nperms;
    int admin;
    int json;
    int init;               /* db upgrade --init */
    const char *user;       /* revoke --user */
    const char *since;      /* audit --since */
    const char *token;      /* audit --token */
    const char *within;     /* expiring --within */
    const char *before;     /* purge --expired-before */
    int required;           /* policy: 1 required, 0 optional, -1 as is */
    const char *max_days;   /* policy --max-expiry-days */
    const char *max_tokens; /* policy --max-tokens */
    int noperands;
} bbtoken_args_t;

typedef struct bbtoken_cmd bbtoken_cmd_t;
struct bbtoken_cmd {
    const char *name;
    int (*run)(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
               const bbtoken_args_t *a);
    const char *usage;
    unsigned int opts;    /* BBTOKEN_BIT()s of the options it takes */
    int noperands;        /* -1: none or one */
    const char *full;     /* "user add" */
    const char *operands; /* what it takes, for complaints */
};

typedef struct {
    char id[24]; /* bigint as text, handed back to SQL as a parameter */
    char name[BBT_USER_MAX + 1];
    int active;
} bbtoken_user_t;

typedef struct {
    char key[BBT_KEY_BUF]; /* canonical */
    const char *slug;      /* NULL for a project */
} bbtoken_target_t;

static const char bbtoken_usage_main[] =
    "Usage: bbtoken [--db CONNINFO] COMMAND [ARGS...]\n"
    "       bbtoken --help | --version\n"
    "\n"
    "Manage the users, grants and personal access tokens of mod_bbtoken.\n"
    "\n"
    "Commands:\n"
    "  user add NAME [--admin]       add a user (--admin: global admin)\n"
    "  user disable NAME             disable a user: their tokens stop "
    "working\n"
    "  user enable NAME              enable a disabled user again\n"
    "  grant NAME PERMISSION TARGET  give NAME a permission on TARGET\n"
    "  ungrant NAME TARGET           remove NAME's grant on TARGET\n"
    "  create NAME --name LABEL [--perm PERMISSION]... [--expiry-days N]\n"
    "                                create a token and print it\n"
    "  list NAME [--json]            list NAME's tokens (not revoked ones)\n"
    "  update ID [--name LABEL] [--perm PERMISSION]...\n"
    "                                rename a token or change its "
    "permissions\n"
    "  revoke ID | --user NAME       revoke a token, or all of NAME's, for "
    "good\n"
    "  expiring [--within DURATION] [--json]\n"
    "                                tokens that expire soon or have "
    "expired\n"
    "  purge --expired-before WHEN   delete dead tokens (audit kept)\n"
    "  audit [NAME] [--since WHEN] [--token ID] [--json]\n"
    "                                the audit trail\n"
    "  policy [--expiry-required | --expiry-optional]\n"
    "         [--max-expiry-days N|none] [--max-tokens N] [--json]\n"
    "                                show or change the token policy\n"
    "  db status | db upgrade [--init]\n"
    "                                schema version; apply migrations\n"
    "\n"
    "PERMISSION is one of PROJECT_READ, PROJECT_WRITE, PROJECT_ADMIN,\n"
    "REPO_READ, REPO_WRITE, REPO_ADMIN.\n"
    "TARGET is KEY, a project, or KEY/slug, a repository.  Keys are\n"
    "case-insensitive (proj means PROJ); ~user is user's personal project.\n"
    "Slugs are case-sensitive.\n"
    "\n"
    "Options:\n"
    "  --db CONNINFO  libpq connection string, URI or database name.\n"
    "                 libpq's environment (PGHOST, PGPORT, PGDATABASE,\n"
    "                 PGUSER, PGPASSWORD, PGSERVICE...) fills in the rest.\n"
    "  -h, --help     show this help; bbtoken COMMAND --help for a command\n"
    "  --version      show the version\n"
    "\n"
    "Exit status: 0 success; 1 failure, with a one-line reason on stderr;\n"
    "2 bad usage.  A well-formed command that cannot be carried out\n"
    "(unknown user, bad permission, wrong kind of TARGET...) is a failure.\n";

static const char bbtoken_usage_user[] =
    "Usage: bbtoken user add NAME [--admin]\n"
    "       bbtoken user disable NAME\n"
    "       bbtoken user enable NAME\n"
    "\n"
    "NAME: letters, digits and ._@- (starting with a letter or digit), at\n"
    "most 255 characters; unique regardless of case.\n"
    "  add      add a user; --admin makes them a global administrator, with\n"
    "           full access everywhere.  Everyone owns the personal project\n"
    "           ~NAME.  Fails if the name is taken (in any case).\n"
    "  disable  their tokens are refused at once and no token can be\n"
    "           created for them; tokens and grants are kept.\n"
    "  enable   undo disable.\n"
    "Disabling a disabled user, or enabling an enabled one, succeeds.\n";

static const char bbtoken_usage_grant[] =
    "Usage: bbtoken grant NAME PERMISSION TARGET\n"
    "\n"
    "Give user NAME a permission on TARGET, replacing any earlier grant of\n"
    "NAME on that same TARGET (so a grant can be lowered as well as raised).\n"
    "  PROJECT_READ, PROJECT_WRITE, PROJECT_ADMIN need a project TARGET, KEY;\n"
    "    every repository of the project inherits the grant.\n"
    "  REPO_READ, REPO_WRITE, REPO_ADMIN need a repository TARGET, KEY/slug.\n"
    "KEY is case-insensitive (proj means PROJ); ~user is a personal project.\n"
    "A permission of the wrong kind for TARGET is a failure (exit 1).\n";

static const char bbtoken_usage_ungrant[] =
    "Usage: bbtoken ungrant NAME TARGET\n"
    "\n"
    "Remove user NAME's grant on TARGET (KEY or KEY/slug).  Fails if there\n"
    "is none.  A repository's grant and its project's grant are separate.\n";

static const char bbtoken_usage_create[] =
    "Usage: bbtoken create NAME --name LABEL [--perm PERMISSION]...\n"
    "                      [--expiry-days N]\n"
    "\n"
    "Create a personal access token for user NAME and print it, followed by\n"
    "a newline, on stdout; nothing else is printed there.  It is shown only\n"
    "this once: the database keeps a salted hash.\n"
    "  --name LABEL       what the token is for (1-255 characters)\n"
    "  --perm PERMISSION  at most one PROJECT_ and one REPO_ permission.\n"
    "                     None: PROJECT_ADMIN and REPO_ADMIN, the owner's\n"
    "                     full level.  Only REPO_x: PROJECT_READ with it.\n"
    "                     Only PROJECT_x: REPO_x of the same level.  The\n"
    "                     REPO_ level may not be below the PROJECT_ level.\n"
    "  --expiry-days N    expire N days from now (1-36500).  Default:\n"
    "                     never, or the policy's maximum when the policy\n"
    "                     requires an expiry (a note on stderr says so).\n"
    "A token never does more than its owner's grants allow at the time.\n"
    "Fails for an unknown or disabled user, and when the token policy\n"
    "refuses it: an expiry beyond the maximum, the user's maximum number\n"
    "of live tokens reached, or a name the user already uses for a token\n"
    "that is not revoked (see bbtoken policy).\n";

static const char bbtoken_usage_list[] =
    "Usage: bbtoken list NAME [--json]\n"
    "\n"
    "List user NAME's tokens that are not revoked, oldest first: ID, NAME,\n"
    "PERMISSIONS, CREATED, EXPIRES, LAST USED, FROM, times in UTC (ISO\n"
    "8601); \"never\" when unset, \"(expired)\" after a past expiry.  FROM\n"
    "is the last few client addresses, most recent first.  Last use is\n"
    "written at most once per BBTokenLastUseInterval (default 60 s).\n"
    "  --json  a JSON array with Bitbucket's field names: id, name,\n"
    "          createdDate, expiryDate, expiryDays, lastAuthenticated (times\n"
    "          in epoch milliseconds; absent when not set), permissions,\n"
    "          expired, user {name}; and lastAddresses [...].\n";

static const char bbtoken_usage_update[] =
    "Usage: bbtoken update ID [--name LABEL] [--perm PERMISSION]...\n"
    "\n"
    "Rename token ID, or replace its permissions (both levels, with the\n"
    "same rules as create: --perm given once sets the other level by\n"
    "default).  At least one of --name and --perm is needed.  The change\n"
    "applies from the next request.  The expiry cannot be changed (nor by\n"
    "SQL: the database refuses): --expiry-days is refused; make a new\n"
    "token instead.  Fails for an unknown or revoked token, or a name the\n"
    "owner already uses.\n";

static const char bbtoken_usage_revoke[] =
    "Usage: bbtoken revoke ID\n"
    "       bbtoken revoke --user NAME\n"
    "\n"
    "Revoke token ID: it stops working at once and for good.  The row is\n"
    "kept for the record until purged.  Fails for an unknown or already\n"
    "revoked token.\n"
    "  --user NAME  revoke every token of user NAME that is not revoked\n"
    "               yet, and print how many on stdout (none is not a\n"
    "               failure).  To stop a user for the moment instead, use\n"
    "               bbtoken user disable.\n";

static const char bbtoken_usage_expiring[] =
    "Usage: bbtoken expiring [--within DURATION] [--json]\n"
    "\n"
    "List every user's tokens that expire within DURATION (default 7d),\n"
    "soonest first, and those already expired: an expired token stays\n"
    "listed until it is revoked or purged, so its owner can see what\n"
    "stopped working.  Columns: EXPIRES, STATUS, USER, ID, NAME, LAST USED.\n"
    "Prints nothing at all when there is none, so cron mails only news.\n"
    "  --within DURATION  N followed by d (days), h (hours) or w (weeks);\n"
    "                     a bare N is days\n"
    "  --json             a JSON array: id, name, expiryDate, expired,\n"
    "                     lastAuthenticated, permissions, user {name,\n"
    "                     active}\n";

static const char bbtoken_usage_purge[] =
    "Usage: bbtoken purge --expired-before WHEN\n"
    "\n"
    "Delete the rows of dead tokens: revoked before WHEN, or expired before\n"
    "WHEN (and so before now).  Live tokens are never touched.  Their audit\n"
    "records are kept, and a 'deleted' record is added for each.  Prints\n"
    "how many on stdout.\n"
    "  WHEN  YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][Z] in UTC, or a DURATION\n"
    "        ago: 90d, 12h, 4w\n";

static const char bbtoken_usage_audit[] =
    "Usage: bbtoken audit [NAME] [--since WHEN] [--token ID] [--json]\n"
    "\n"
    "Show the audit trail, oldest first: token created, renamed,\n"
    "permissions changed, revoked, deleted, refused because expired (at\n"
    "most once per token per BBTokenLastUseInterval); user added, disabled,\n"
    "enabled; grants; policy changes.  Columns: TIME (UTC), EVENT, TOKEN,\n"
    "USER (whom it concerns), BY (who did it: the OS user of the CLI, the\n"
    "token owner over HTTP, and the database role when different), FROM\n"
    "(cli, http, sql or upgrade, and the client address), DETAIL.\n"
    "Records never hold a token or its hash.\n"
    "  NAME        only records about user NAME\n"
    "  --since WHEN  YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][Z] in UTC, or a\n"
    "              DURATION ago: 7d, 12h, 2w\n"
    "  --token ID  only records about token ID\n"
    "  --json      a JSON array: id, time (epoch ms), event, tokenId, user,\n"
    "              actor, dbRole, source, clientAddress, detail (absent\n"
    "              when not set)\n";

static const char bbtoken_usage_policy[] =
    "Usage: bbtoken policy [--expiry-required | --expiry-optional]\n"
    "                      [--max-expiry-days N|none] [--max-tokens N]\n"
    "                      [--json]\n"
    "\n"
    "Show the token policy; with options, change it and show the result.\n"
    "The database applies it to every new token, whoever creates it.\n"
    "  --expiry-required      every token must expire; a token created\n"
    "                         without an expiry gets the maximum.  Needs a\n"
    "                         maximum (now or already set).\n"
    "  --expiry-optional      tokens may never expire (the default)\n"
    "  --max-expiry-days N    an expiry at most N days (1-36500) after\n"
    "                         creation; none: no maximum (default)\n"
    "  --max-tokens N         at most N live (neither revoked nor expired)\n"
    "                         tokens per user (1-1000000, default 100)\n"
    "  --json                 {expiryRequired, maxExpiryDays,\n"
    "                         maxTokensPerUser}\n"
    "A change applies to tokens created afterwards: existing expiries are\n"
    "fixed, and tokens over a lowered limit stay until revoked.\n";

static const char bbtoken_usage_db[] =
    "Usage: bbtoken db status\n"
    "       bbtoken db upgrade [--init]\n"
    "\n"
    "  status   show the database's schema version and the latest this\n"
    "           bbtoken knows, with the migrations still to apply\n"
    "  upgrade  apply the pending migrations in order, each in its own\n"
    "           transaction that also records the new version; running it\n"
    "           again does nothing.  Then run sql/grants.sql again for\n"
    "           httpd's role.\n"
    "  --init   on an empty database (no bbtoken_schema table), create the\n"
    "           whole schema; without it, upgrade refuses such a database\n"
    "The migrations are compiled into bbtoken.  Other commands refuse to run\n"
    "against a database at another schema version.\n";

/* ---- messages and options --------------------------------------------- */

/* Print "bbtoken: REASON" as exactly one line: control characters from
 * argv or server messages become spaces, so a script reading stderr line
 * by line sees one line per failure. */
static void bbtoken_vsay(const char *fmt, va_list ap)
{
    char buf[1024];
    char *r, *w;
    int pending = 0;

    vsnprintf(buf, sizeof(buf), fmt, ap);
    for (r = w = buf; *r; r++) {
        unsigned char c = (unsigned char)*r;

        /* A run of control characters (libpq's "\n\t") is one space;
         * the reader's own spaces are kept. */
        if (c < 0x20 || c == 0x7f) {
            pending = 1;
            continue;
        }
        if (pending && w != buf && w[-1] != ' ' && c != ' ') {
            *w++ = ' ';
        }
        pending = 0;
        *w++ = (char)c;
    }
    *w = '\0';
    fprintf(stderr, "bbtoken: %s\n", buf);
}

static int bbtoken_fail(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static int bbtoken_fail(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    bbtoken_vsay(fmt, ap);
    va_end(ap);
    return BBTOKEN_EXIT_FAIL;
}

static int bbtoken_usage_error(const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int bbtoken_usage_error(const char *usage, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    bbtoken_vsay(fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n%s", usage);
    return BBTOKEN_EXIT_USAGE;
}

/* getopt_long said ':' or '?' (or gave an option this command does not
 * take): name the offending word. */
static int bbtoken_opt_error(const char *usage, int c, char **argv)
{
    if (c == ':') {
        return bbtoken_usage_error(usage, "option needs a value: %s",
                                   argv[optind - 1]);
    }
    if (c == '?' && optopt > 0 && optopt < 256) {
        return bbtoken_usage_error(usage, "unknown option: -%c", optopt);
    }
    /* An unknown long option, a value given to a flag, or another
     * command's option. */
    return bbtoken_usage_error(usage, "bad option: %s", argv[optind - 1]);
}

/* Every command option; each command takes the ones in its mask. */
static const struct option bbtoken_cmd_opts[] = {
    {"admin", no_argument, NULL, BBTOKEN_OPT_ADMIN},
    {"name", required_argument, NULL, BBTOKEN_OPT_NAME},
    {"perm", required_argument, NULL, BBTOKEN_OPT_PERM},
    {"expiry-days", required_argument, NULL, BBTOKEN_OPT_EXPIRY},
    {"json", no_argument, NULL, BBTOKEN_OPT_JSON},
    {"init", no_argument, NULL, BBTOKEN_OPT_INIT},
    {"user", required_argument, NULL, BBTOKEN_OPT_USER},
    {"since", required_argument, NULL, BBTOKEN_OPT_SINCE},
    {"token", required_argument, NULL, BBTOKEN_OPT_TOKEN},
    {"within", required_argument, NULL, BBTOKEN_OPT_WITHIN},
    {"expired-before", required_argument, NULL, BBTOKEN_OPT_BEFORE},
    {"expiry-required", no_argument, NULL, BBTOKEN_OPT_REQUIRED},
    {"expiry-optional", no_argument, NULL, BBTOKEN_OPT_OPTIONAL},
    {"max-expiry-days", required_argument, NULL, BBTOKEN_OPT_MAX_DAYS},
    {"max-tokens", required_argument, NULL, BBTOKEN_OPT_MAX_TOKENS},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};

/* Parse a command's options and count its operands.  argv[0] is the
 * command's last word.  Options may come before, between or after the
 * operands; "--" ends them.  Returns BBTOKEN_GO_ON, or an exit status
 * (0 after --help). */
static int bbtoken_parse_args(const bbtoken_cmd_t *cmd, int argc, char **argv,
                              bbtoken_args_t *a)
{
    int c;

    memset(a, 0, sizeof(*a));
    a->required = -1;
    optind = 0; /* glibc: start afresh on a new argv */
    while ((c = getopt_long(argc, argv, ":h", bbtoken_cmd_opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(cmd->usage, stdout);
            return BBTOKEN_EXIT_OK;
        }
        if (c < BBTOKEN_OPT_DB) {
            return bbtoken_opt_error(cmd->usage, c, argv);
        }
        if (!(cmd->opts & BBTOKEN_BIT(c))) {
            /* Another command's option; its value may be argv[optind-1]. */
            const struct option *o = bbtoken_cmd_opts;

            while (o->val != c) {
                o++;
            }
            return bbtoken_usage_error(cmd->usage, "%s does not take --%s",
                                       cmd->full, o->name);
        }
        switch (c) {
        case BBTOKEN_OPT_ADMIN:
            a->admin = 1;
            break;
        case BBTOKEN_OPT_JSON:
            a->json = 1;
            break;
        case BBTOKEN_OPT_NAME:
            a->label = optarg;
            break;
        case BBTOKEN_OPT_EXPIRY:
            a->days = optarg;
            break;
        case BBTOKEN_OPT_PERM:
            if (a->nperms == BBTOKEN_MAX_PERMS) {
                return bbtoken_usage_error(cmd->usage, "too many --perm");
            }
            a->perms[a->nperms++] = optarg;
            break;
        case BBTOKEN_OPT_INIT:
            a->init = 1;
            break;
        case BBTOKEN_OPT_USER:
            a->user = optarg;
            break;
        case BBTOKEN_OPT_SINCE:
            a->since = optarg;
            break;
        case BBTOKEN_OPT_TOKEN:
            a->token = optarg;
            break;
        case BBTOKEN_OPT_WITHIN:
            a->within = optarg;
            break;
        case BBTOKEN_OPT_BEFORE:
            a->before = optarg;
            break;
        case BBTOKEN_OPT_REQUIRED:
        case BBTOKEN_OPT_OPTIONAL:
            if (a->required != -1) {
                return bbtoken_usage_error(cmd->usage,
                                           "give one of --expiry-required "
                                           "and --expiry-optional");
            }
            a->required = c == BBTOKEN_OPT_REQUIRED;
            break;
        case BBTOKEN_OPT_MAX_DAYS:
            a->max_days = optarg;
            break;
        case BBTOKEN_OPT_MAX_TOKENS:
            a->max_tokens = optarg;
            break;
        }
    }
    if (cmd->noperands < 0 && argc - optind <= 1) {
        a->operands = argv + optind;
        a->noperands = argc - optind;
        return BBTOKEN_GO_ON;
    }
    if (argc - optind != cmd->noperands) {
        return bbtoken_usage_error(cmd->usage, "%s takes %s", cmd->full,
                                   cmd->operands);
    }
    a->operands = argv + optind;
    a->noperands = argc - optind;
    return BBTOKEN_GO_ON;
}

/* ---- argument checks -------------------------------------------------- */

/* The schema's user name rule, checked here for a clearer message. */
static int bbtoken_check_user(const char *name)
{
    size_t n = strlen(name);

    if (!bbt_input_user_name(name, n)) {
        return bbtoken_fail("invalid user name: %s", name);
    }
    return 0;
}

/* Labels are shown in lists and logs: no control characters, 1 to 255
 * characters.  Characters are counted as UTF-8 code points, as the
 * database's char_length does; it checks the encoding itself. */
static int bbtoken_check_label(const char *label)
{
    const unsigned char *p;
    size_t chars = 0;

    if (!*label) {
        return bbtoken_fail("token name must not be empty");
    }
    for (p = (const unsigned char *)label; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            return bbtoken_fail("token name must not contain control "
                                "characters");
        }
        if ((*p & 0xc0) != 0x80) {
            chars++;
        }
    }
    if (chars > BBTOKEN_LABEL_MAX) {
        return bbtoken_fail("token name is longer than %d characters",
                            BBTOKEN_LABEL_MAX);
    }
    return 0;
}

static int bbtoken_check_id(const char *id)
{
    if (strlen(id) != BBT_TOKEN_ID_LEN ||
        strspn(id, "0123456789") != BBT_TOKEN_ID_LEN) {
        return bbtoken_fail("not a token id (12 digits): %s", id);
    }
    return 0;
}

static int bbtoken_check_days(const char *s)
{
    size_t n = strspn(s, "0123456789");

    /* Digits only: atoi and strtol would take " 7", "+7" or "7x". */
    if (n == 0 || n > 5 || s[n] != '\0' || atoi(s) < 1 ||
        atoi(s) > BBTOKEN_EXPIRY_MAX) {
        return bbtoken_fail("--expiry-days must be a whole number from 1 "
                            "to %d: %s",
                            BBTOKEN_EXPIRY_MAX, s);
    }
    return 0;
}

static int bbtoken_perm_parse(const char *name, bbt_perm_t *p)
{
    if (bbt_perm_parse(name, p) != 0) {
        return bbtoken_fail(
            "unknown permission %s: expected " BBTOKEN_PERM_NAMES, name);
    }
    return 0;
}

/* The --perm list as a token's pair, by the seed's defaulting rules. */
static int bbtoken_perm_pair(const bbtoken_args_t *a, bbt_level_t *project,
                             bbt_level_t *repo)
{
    bbt_perm_t list[BBTOKEN_MAX_PERMS];
    const char *why = NULL;
    size_t i;
    int rc;

    for (i = 0; i < a->nperms; i++) {
        if ((rc = bbtoken_perm_parse(a->perms[i], &list[i]))) {
            return rc;
        }
    }
    if (bbt_perm_from_list(list, a->nperms, project, repo, &why) != 0) {
        return bbtoken_fail("invalid permissions: %s", why ? why : "refused");
    }
    return 0;
}

/* TARGET is KEY or KEY/slug.  The key is canonicalized the way the module
 * canonicalizes URLs, so a grant typed as "proj" matches /scm/PROJ/... */
static int bbtoken_parse_target(const char *arg, bbtoken_target_t *t)
{
    const char *slash = strchr(arg, '/');
    size_t klen = slash ? (size_t)(slash - arg) : strlen(arg);

    if (bbt_input_key(arg, klen, t->key) != 0) {
        return bbtoken_fail("invalid project key: %.*s", (int)klen, arg);
    }
    t->slug = NULL;
    if (slash) {
        const char *s = slash + 1;
        size_t n = strlen(s);

        if (!bbt_input_slug(s, n)) {
            if (n > 4 && strcmp(s + n - 4, ".git") == 0) {
                return bbtoken_fail("invalid repository slug: %s (name the "
                                    "repository without .git)",
                                    s);
            }
            return bbtoken_fail("invalid repository slug: %s", s);
        }
        t->slug = s;
    }
    return 0;
}

/* ---- database --------------------------------------------------------- */

/* libpq's own test for "this dbname is really a connection string". */
static int bbtoken_is_conninfo(const char *s)
{
    return strncmp(s, "postgresql://", 13) == 0 ||
           strncmp(s, "postgres://", 11) == 0 || strchr(s, '=') != NULL;
}

static int bbtoken_db_fail(bbtoken_ctx_t *ctx, PGresult *res, const char *what);
static PGresult *bbtoken_exec(bbtoken_ctx_t *ctx, const char *what,
                              const char *sql, int n,
                              const char *const *params);

/* Who runs this, for the audit trail: the login name of the real user, and
 * under sudo the user who ran sudo.  Self-reported, as any client's claim
 * is; the audit also records the database role, which is not. */
static void bbtoken_actor(char *buf, size_t len)
{
    struct passwd *pw = getpwuid(getuid());
    const char *sudo = getenv("SUDO_USER");
    int n;

    if (pw && pw->pw_name) {
        n = snprintf(buf, len, "%s", pw->pw_name);
    } else {
        n = snprintf(buf, len, "uid %lu", (unsigned long)getuid());
    }
    if (getuid() == 0 && sudo && *sudo && n > 0 && (size_t)n < len) {
        snprintf(buf + n, len - (size_t)n, " (sudo from %.64s)", sudo);
    }
}

/* The database's schema version, or -1 when it has no bbtoken_schema. */
static int bbtoken_schema_version(bbtoken_ctx_t *ctx, int *version)
{
    PGresult *res = bbtoken_exec(
        ctx, "reading the schema version",
        "SELECT CASE WHEN to_regclass('bbtoken_schema') IS NULL THEN -1 END", 0,
        NULL);

    if (!res) {
        return BBTOKEN_EXIT_FAIL;
    }
    *version = PQgetisnull(res, 0, 0) ? 0 : -1;
    PQclear(res);
    if (*version == -1) {
        return 0;
    }
    res = bbtoken_exec(ctx, "reading the schema version",
                       "SELECT COALESCE(max(version), 0) FROM bbtoken_schema",
                       0, NULL);
    if (!res) {
        return BBTOKEN_EXIT_FAIL;
    }
    *version = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

/* Tell the database who acts (its audit triggers read these), and check
 * that it has the schema this program speaks. */
static int bbtoken_session(bbtoken_ctx_t *ctx)
{
    char actor[256];
    const char *params[1] = {actor};
    PGresult *res;
    int version;

    bbtoken_actor(actor, sizeof(actor));
    res = bbtoken_exec(ctx, "starting the session",
                       "SELECT set_config('bbtoken.source', 'cli', false),"
                       " set_config('bbtoken.actor', $1, false)",
                       1, params);
    if (!res) {
        return BBTOKEN_EXIT_FAIL;
    }
    PQclear(res);
    if (ctx->any_schema) {
        return 0;
    }
    if (bbtoken_schema_version(ctx, &version) != 0) {
        return BBTOKEN_EXIT_FAIL;
    }
    if (version < 0) {
        return bbtoken_fail("this database has no mod_bbtoken schema "
                            "(bbtoken db upgrade --init creates it)");
    }
    if (version < BBTOKEN_SCHEMA_LATEST) {
        return bbtoken_fail("the database schema is version %d, this bbtoken "
                            "needs %d: run bbtoken db upgrade",
                            version, BBTOKEN_SCHEMA_LATEST);
    }
    if (version > BBTOKEN_SCHEMA_LATEST) {
        return bbtoken_fail("the database schema is version %d, newer than "
                            "this bbtoken knows (%d): use a newer bbtoken",
                            version, BBTOKEN_SCHEMA_LATEST);
    }
    return 0;
}

static int bbtoken_connect(bbtoken_ctx_t *ctx)
{
    /* dbname with expand_dbname takes a conninfo, a URI or a bare database
     * name; a NULL value is skipped, leaving libpq's environment. */
    const char *const keys[] = {"dbname", "fallback_application_name", NULL};
    const char *const vals[] = {ctx->db, "bbtoken", NULL};

    if (ctx->db && bbtoken_is_conninfo(ctx->db)) {
        /* libpq's parse errors quote the text around the fault, which may
         * be a password: check first and say less. */
        char *err = NULL;
        PQconninfoOption *opts = PQconninfoParse(ctx->db, &err);

        PQfreemem(err);
        if (!opts) {
            return bbtoken_fail("--db: not a valid connection string (not "
                                "quoted: it may hold a password)");
        }
        PQconninfoFree(opts);
    }
    ctx->conn = PQconnectdbParams(keys, vals, 1);
    if (!ctx->conn) {
        return bbtoken_fail("out of memory");
    }
    if (PQstatus(ctx->conn) != CONNECTION_OK) {
        /* libpq never puts the password into its messages. */
        return bbtoken_fail("cannot connect to the database: %s",
                            PQerrorMessage(ctx->conn));
    }
    /* Labels travel as UTF-8 whatever the terminal says; JSON needs it. */
    if (PQsetClientEncoding(ctx->conn, "UTF8") != 0) {
        return bbtoken_fail("cannot set client encoding: %s",
                            PQerrorMessage(ctx->conn));
    }
    return bbtoken_session(ctx);
}

/* Report a failed statement and free it.  Only the server's primary
 * message is shown: DETAIL may repeat the failing row, and a token row
 * holds the salt and the hash. */
static int bbtoken_db_fail(bbtoken_ctx_t *ctx, PGresult *res, const char *what)
{
    const char *msg =
        res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *constraint =
        res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;
    int rc;

    if (msg && constraint &&
        (strncmp(constraint, "bbtoken_policy", 14) == 0 ||
         strcmp(constraint, "bbtoken_tokens_fixed") == 0)) {
        /* The schema's own rules: their messages are written for people. */
        rc = bbtoken_fail("%s", msg);
    } else if (msg && constraint &&
               strcmp(constraint, "bbtoken_tokens_live_name") == 0) {
        rc = bbtoken_fail("%s: the owner already has a token with that name",
                          what);
    } else if (msg && state && strncmp(state, "23", 2) == 0) {
        rc = bbtoken_fail("%s: the database refused: %s", what, msg);
    } else if (msg) {
        rc = bbtoken_fail("%s: %s", what, msg);
    } else {
        /* No server message: libpq's own (connection lost, out of
         * memory), which carries no row data. */
        rc = bbtoken_fail("%s: %s", what, PQerrorMessage(ctx->conn));
    }
    PQclear(res);
    return rc;
}

/* Run a statement; NULL (reported as `what`) unless it succeeded. */
static PGresult *bbtoken_exec(bbtoken_ctx_t *ctx, const char *what,
                              const char *sql, int n, const char *const *params)
{
    PGresult *res =
        PQexecParams(ctx->conn, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        bbtoken_db_fail(ctx, res, what);
        return NULL;
    }
    return res;
}

/* Run a statement that changes rows; *rows gets how many. */
static int bbtoken_exec_rows(bbtoken_ctx_t *ctx, const char *what,
                             const char *sql, int n, const char *const *params,
                             long *rows)
{
    PGresult *res = bbtoken_exec(ctx, what, sql, n, params);

    if (!res) {
        return BBTOKEN_EXIT_FAIL;
    }
    *rows = atol(PQcmdTuples(res));
    PQclear(res);
    return 0;
}

/* Look a user up by name, regardless of case as the unique index does. */
static int bbtoken_user_find(bbtoken_ctx_t *ctx, const char *name,
                             bbtoken_user_t *u)
{
    const char *params[1] = {name};
    PGresult *res = bbtoken_exec(ctx, "looking up the user",
                                 "SELECT id, name, active FROM bbtoken_users"
                                 " WHERE lower(name) = lower($1)",
                                 1, params);

    if (!res) {
        return BBTOKEN_EXIT_FAIL;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return bbtoken_fail("no such user: %s", name);
    }
    snprintf(u->id, sizeof(u->id), "%s", PQgetvalue(res, 0, 0));
    snprintf(u->name, sizeof(u->name), "%s", PQgetvalue(res, 0, 1));
    u->active = PQgetvalue(res, 0, 2)[0] == 't';
    PQclear(res);
    return 0;
}

/* An UPDATE by token id changed nothing: say whether the token is unknown
 * or revoked. */
static int bbtoken_token_missing(bbtoken_ctx_t *ctx, const char *id,
                                 const char *revoked_msg)
{
    const char *params[1] = {id};
    PGresult *res = bbtoken_exec(
        ctx, "looking up the token",
        "SELECT revoked_at IS NOT NULL FROM bbtoken_tokens WHERE id = $1", 1,
        params);
    int rc;

    if (!res) {
        return BBTOKEN_EXIT_FAIL;
    }
    if (PQntuples(res) != 1) {
        rc = bbtoken_fail("no such token: %s", id);
    } else if (PQgetvalue(res, 0, 0)[0] == 't') {
        rc = bbtoken_fail("%s: %s", revoked_msg, id);
    } else {
        /* Changed between the two statements; rare enough to just say. */
        rc = bbtoken_fail("token %s changed meanwhile; try again", id);
    }
    PQclear(res);
    return rc;
}

/* Check NAME, connect, and find the user: the start of most commands,
 * after their other arguments have been checked. */
static int bbtoken_connect_user(bbtoken_ctx_t *ctx, const char *name,
                                bbtoken_user_t *u)
{
    int rc;

    if ((rc = bbtoken_check_user(name)) || (rc = bbtoken_connect(ctx))) {
        return rc;
    }
    return bbtoken_user_find(ctx, name, u);
}

/* ---- user ------------------------------------------------------------- */

static int bbtoken_cmd_user_add(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                                const bbtoken_args_t *a)
{
    const char *params[2] = {a->operands[0], a->admin ? "true" : "false"};
    long rows;
    int rc;

    (void)cmd;
    if ((rc = bbtoken_check_user(params[0])) || (rc = bbtoken_connect(ctx))) {
        return rc;
    }
    /* No conflict target: the unique index is on lower(name). */
    rc = bbtoken_exec_rows(ctx, "adding the user",
                           "INSERT INTO bbtoken_users (name, is_admin)"
                           " VALUES ($1, $2::boolean) ON CONFLICT DO NOTHING",
                           2, params, &rows);
    if (rc == 0 && rows == 0) {
        rc = bbtoken_fail("user already exists: %s", params[0]);
    }
    return rc;
}

/* user disable and user enable. */
static int bbtoken_cmd_user_set(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                                const bbtoken_args_t *a)
{
    const char *params[2] = {
        a->operands[0], strcmp(cmd->name, "enable") == 0 ? "true" : "false"};
    long rows;
    int rc;

    if ((rc = bbtoken_check_user(params[0])) || (rc = bbtoken_connect(ctx))) {
        return rc;
    }
    rc = bbtoken_exec_rows(ctx, "changing the user",
                           "UPDATE bbtoken_users SET active = $2::boolean"
                           " WHERE lower(name) = lower($1)",
                           2, params, &rows);
    if (rc == 0 && rows == 0) {
        rc = bbtoken_fail("no such user: %s", params[0]);
    }
    return rc;
}

/* ---- grant, ungrant --------------------------------------------------- */

static int bbtoken_cmd_grant(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                             const bbtoken_args_t *a)
{
    char *const *arg = a->operands;
    bbtoken_target_t t;
    bbtoken_user_t u;
    bbt_perm_t perm;
    const char *params[4];
    long rows;
    int rc;

    (void)cmd;
    if ((rc = bbtoken_perm_parse(arg[1], &perm)) ||
        (rc = bbtoken_parse_target(arg[2], &t))) {
        return rc;
    }
    /* A project grant on a repository (or the reverse) has no meaning in
     * the schema; say so rather than guess which was intended. */
    if (perm.scope == BBT_SCOPE_PROJECT && t.slug) {
        return bbtoken_fail("%s is a project permission: TARGET must be a "
                            "project KEY, not %s",
                            arg[1], arg[2]);
    }
    if (perm.scope == BBT_SCOPE_REPO && !t.slug) {
        return bbtoken_fail("%s is a repository permission: TARGET must be "
                            "KEY/slug, not %s",
                            arg[1], arg[2]);
    }
    if ((rc = bbtoken_connect_user(ctx, arg[0], &u))) {
        return rc;
    }
    params[0] = u.id;
    params[1] = t.key;
    params[2] = bbt_perm_name(perm.scope, perm.level);
    params[3] = t.slug;
    if (!t.slug) {
        return bbtoken_exec_rows(
            ctx, "granting",
            "INSERT INTO bbtoken_project_grants"
            " (user_id, project_key, permission) VALUES ($1, $2, $3)"
            " ON CONFLICT (user_id, project_key)"
            " DO UPDATE SET permission = EXCLUDED.permission",
            3, params, &rows);
    }
    return bbtoken_exec_rows(ctx, "granting",
                             "INSERT INTO bbtoken_repo_grants"
                             " (user_id, project_key, permission, repo_slug)"
                             " VALUES ($1, $2, $3, $4)"
                             " ON CONFLICT (user_id, project_key, repo_slug)"
                             " DO UPDATE SET permission = EXCLUDED.permission",
                             4, params, &rows);
}

static int bbtoken_cmd_ungrant(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                               const bbtoken_args_t *a)
{
    bbtoken_target_t t;
    bbtoken_user_t u;
    const char *params[3];
    long rows;
    int rc;

    (void)cmd;
    if ((rc = bbtoken_parse_target(a->operands[1], &t)) ||
        (rc = bbtoken_connect_user(ctx, a->operands[0], &u))) {
        return rc;
    }
    params[0] = u.id;
    params[1] = t.key;
    params[2] = t.slug;
    rc = bbtoken_exec_rows(ctx, "removing the grant",
                           t.slug ? "DELETE FROM bbtoken_repo_grants"
                                    " WHERE user_id = $1 AND project_key = $2"
                                    " AND repo_slug = $3"
                                  : "DELETE FROM bbtoken_project_grants"
                                    " WHERE user_id = $1 AND project_key = $2",
                           t.slug ? 3 : 2, params, &rows);
    if (rc == 0 && rows == 0) {
        rc = bbtoken_fail("%s has no grant on %s%s%s", u.name, t.key,
                          t.slug ? "/" : "", t.slug ? t.slug : "");
    }
    return rc;
}

/* ---- create ----------------------------------------------------------- */

/* ISO 8601 in UTC, whatever the session's TimeZone. */
#define BBTOKEN_ISO "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'"

/* All of buf to fd 1, without stdio: no copy of the token is left behind
 * in a stdio buffer, and a failure is known before the commit. */
static int bbtoken_write_all(const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(STDOUT_FILENO, buf, len);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* One attempt at inserting a new token and printing it.  Returns 0 on
 * success, -1 when the random id was taken (try again), or an exit
 * status after reporting. */
static int bbtoken_create_once(bbtoken_ctx_t *ctx, const bbtoken_user_t *u,
                               const char *label, bbt_level_t project,
                               bbt_level_t repo, const char *days)
{
    char token[BBT_TOKEN_MAX_LEN + 2]; /* room for the newline */
    char id[BBT_TOKEN_ID_LEN + 1];
    char salt[BBT_SALT_HEX_LEN + 1];
    char hash[BBT_HASH_HEX_LEN + 1];
    bbt_token_t tok;
    const char *params[8] = {id, u->id, label, NULL, NULL, salt, hash, days};
    const char *state, *constraint;
    char note[160] = "";
    PGresult *res;
    size_t len;
    int rc = BBTOKEN_EXIT_FAIL, in_tx = 0, inserted;

    memset(&tok, 0, sizeof(tok));
    if (bbt_token_generate(token, id) != 0 || bbt_salt_generate(salt) != 0) {
        rc = bbtoken_fail("the random number generator failed");
        goto done;
    }
    len = strlen(token);
    if (bbt_token_parse(token, len, &tok) != BBT_TOKEN_OK ||
        bbt_token_hash_hex(salt, &tok, hash) != 0) {
        rc = bbtoken_fail("internal error: cannot hash the new token");
        goto done;
    }
    if (!(res = bbtoken_exec(ctx, "creating the token", "BEGIN", 0, NULL))) {
        goto done;
    }
    PQclear(res);
    in_tx = 1;
    params[3] = bbt_perm_name(BBT_SCOPE_PROJECT, project);
    params[4] = bbt_perm_name(BBT_SCOPE_REPO, repo);
    /* The owner must still be active when the row goes in; expiry is the
     * server's clock, the one the module compares with.  The database's
     * policy trigger may refuse the row or give it the default expiry. */
    res = PQexecParams(
        ctx->conn,
        "INSERT INTO bbtoken_tokens (id, user_id, name, project_perm,"
        " repo_perm, salt, secret_hash, expires_at)"
        " SELECT $1, u.id, $3, $4, $5, $6, $7,"
        " now() + make_interval(days => $8::integer)"
        " FROM bbtoken_users u WHERE u.id = $2 AND u.active"
        " RETURNING round(extract(epoch FROM expires_at - created_at)"
        " / 86400)::integer,"
        " to_char(expires_at AT TIME ZONE 'UTC', " BBTOKEN_ISO ")",
        8, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        /* Only a taken id is worth another try. */
        state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        constraint = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
        if (state && strcmp(state, "23505") == 0 && constraint &&
            strcmp(constraint, "bbtoken_tokens_pkey") == 0) {
            PQclear(res);
            rc = -1;
        } else {
            rc = bbtoken_db_fail(ctx, res, "creating the token");
        }
        goto done;
    }
    inserted = PQntuples(res) == 1;
    if (inserted && !days && !PQgetisnull(res, 0, 0)) {
        snprintf(note, sizeof(note),
                 "the token policy requires an expiry: this token expires in "
                 "%s days (%s), the maximum",
                 PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    if (!inserted) {
        rc = bbtoken_fail("user is disabled: %s", u->name);
        goto done;
    }
    /* Print before committing: a token nobody saw must not exist. */
    token[len] = '\n';
    if (bbtoken_write_all(token, len + 1) != 0) {
        rc = bbtoken_fail("cannot write the token to stdout (%s); no token "
                          "was created",
                          strerror(errno));
        goto done;
    }
    in_tx = 0;
    if ((res = bbtoken_exec(ctx,
                            "committing the token (the token printed is "
                            "not valid)",
                            "COMMIT", 0, NULL))) {
        PQclear(res);
        if (note[0]) {
            fprintf(stderr, "bbtoken: %s\n", note);
        }
        rc = 0;
    }

done:
    if (in_tx) {
        PQclear(PQexec(ctx->conn, "ROLLBACK"));
    }
    bbt_token_wipe(&tok);
    OPENSSL_cleanse(token, sizeof(token));
    OPENSSL_cleanse(salt, sizeof(salt));
    OPENSSL_cleanse(hash, sizeof(hash));
    return rc;
}

static int bbtoken_cmd_create(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                              const bbtoken_args_t *a)
{
    bbtoken_user_t u;
    bbt_level_t project, repo;
    int rc, tries;

    if (!a->label) {
        return bbtoken_usage_error(cmd->usage, "create needs --name LABEL");
    }
    if ((rc = bbtoken_check_label(a->label)) ||
        (a->days && (rc = bbtoken_check_days(a->days))) ||
        (rc = bbtoken_perm_pair(a, &project, &repo)) ||
        (rc = bbtoken_connect_user(ctx, a->operands[0], &u))) {
        return rc;
    }
    if (!u.active) {
        return bbtoken_fail("user is disabled: %s", u.name);
    }
    /* A closed stdout must come back as EPIPE, so that the token is rolled
     * back with a message rather than by a silent death. */
    signal(SIGPIPE, SIG_IGN);
    for (tries = 0; tries < BBTOKEN_ID_TRIES; tries++) {
        rc = bbtoken_create_once(ctx, &u, a->label, project, repo, a->days);
        if (rc != -1) {
            return rc;
        }
    }
    return bbtoken_fail("no free token id after %d tries", BBTOKEN_ID_TRIES);
}

/* ---- list ------------------------------------------------------------- */

/* Columns of bbtoken_sql_list, in order. */
enum {
    BBTOKEN_L_ID,
    BBTOKEN_L_NAME,
    BBTOKEN_L_PROJECT,
    BBTOKEN_L_REPO,
    BBTOKEN_L_CREATED,
    BBTOKEN_L_EXPIRES,
    BBTOKEN_L_LAST,
    BBTOKEN_L_CREATED_MS,
    BBTOKEN_L_EXPIRES_MS,
    BBTOKEN_L_LAST_MS,
    BBTOKEN_L_DAYS,
    BBTOKEN_L_EXPIRED,
    BBTOKEN_L_ADDRS
};

static const char bbtoken_sql_list[] =
    "SELECT id, name, project_perm, repo_perm,"
    " to_char(created_at AT TIME ZONE 'UTC', " BBTOKEN_ISO "),"
    " to_char(expires_at AT TIME ZONE 'UTC', " BBTOKEN_ISO "),"
    " to_char(last_authenticated AT TIME ZONE 'UTC', " BBTOKEN_ISO "),"
    " (extract(epoch FROM created_at) * 1000)::bigint,"
    " (extract(epoch FROM expires_at) * 1000)::bigint,"
    " (extract(epoch FROM last_authenticated) * 1000)::bigint,"
    /* expires_at - created_at is the days given, but a DST change in the
     * session's zone can skew the interval by an hour: round. */
    " round(extract(epoch FROM expires_at - created_at) / 86400)::integer,"
    " expires_at IS NOT NULL AND expires_at <= now(),"
    " array_to_string(ARRAY(SELECT host(a) FROM unnest(last_addresses)"
    " WITH ORDINALITY AS x(a, n) ORDER BY n), ',')"
    " FROM bbtoken_tokens WHERE user_id = $1 AND revoked_at IS NULL"
    " ORDER BY created_at, id";

/* "a,b,c" as a JSON array of strings. */
static json_t *bbtoken_json_split(const char *list)
{
    json_t *arr = json_array();
    const char *p = list, *comma;

    while (arr && *p) {
        comma = strchr(p, ',');
        if (json_array_append_new(arr,
                                  json_stringn(p, comma ? (size_t)(comma - p)
                                                        : strlen(p))) != 0) {
            json_decref(arr);
            return NULL;
        }
        p = comma ? comma + 1 : p + strlen(p);
    }
    return arr;
}

static int bbtoken_list_json(const PGresult *res, const bbtoken_user_t *u)
{
    json_t *arr = json_array();
    json_t *obj;
    char *out;
    int i;

    for (i = 0; arr && i < PQntuples(res); i++) {
        /* "o" steals its reference even when json_pack fails. */
        obj = json_pack(
            "{s:s, s:s, s:o, s:o*, s:o*, s:o*, s:[s,s], s:b, s:{s:s}, s:o}",
            "id", PQgetvalue(res, i, BBTOKEN_L_ID), "name",
            PQgetvalue(res, i, BBTOKEN_L_NAME), "createdDate",
            bbt_pgjson_int(res, i, BBTOKEN_L_CREATED_MS), "lastAuthenticated",
            bbt_pgjson_int(res, i, BBTOKEN_L_LAST_MS), "expiryDate",
            bbt_pgjson_int(res, i, BBTOKEN_L_EXPIRES_MS), "expiryDays",
            bbt_pgjson_int(res, i, BBTOKEN_L_DAYS), "permissions",
            PQgetvalue(res, i, BBTOKEN_L_PROJECT),
            PQgetvalue(res, i, BBTOKEN_L_REPO), "expired",
            PQgetvalue(res, i, BBTOKEN_L_EXPIRED)[0] == 't', "user", "name",
            u->name, "lastAddresses",
            bbtoken_json_split(PQgetvalue(res, i, BBTOKEN_L_ADDRS)));
        if (!obj || json_array_append_new(arr, obj)) {
            json_decref(arr);
            return bbtoken_fail("cannot build JSON for token %s",
                                PQgetvalue(res, i, BBTOKEN_L_ID));
        }
    }
    out = arr ? json_dumps(arr, JSON_INDENT(2)) : NULL;
    json_decref(arr);
    if (!out) {
        return bbtoken_fail("out of memory");
    }
    puts(out);
    free(out);
    return 0;
}

/* Display width of a UTF-8 string, a column per code point: labels are
 * mostly plain, and a ragged row for a wide character does no harm. */
static int bbtoken_width(const char *s)
{
    int w = 0;

    for (; *s; s++) {
        w += ((unsigned char)*s & 0xc0) != 0x80;
    }
    return w;
}

static const char *bbtoken_expires(const PGresult *res, int i, char *buf,
                                   size_t len)
{
    if (PQgetisnull(res, i, BBTOKEN_L_EXPIRES)) {
        return "never";
    }
    snprintf(buf, len, "%s%s", PQgetvalue(res, i, BBTOKEN_L_EXPIRES),
             PQgetvalue(res, i, BBTOKEN_L_EXPIRED)[0] == 't' ? " (expired)"
                                                             : "");
    return buf;
}

/* One row; NAME and EXPIRES vary in width, the other columns do not. */
static void bbtoken_row(const char *id, const char *name, int wname,
                        const char *perms, const char *created,
                        const char *expires, int wexp, const char *last,
                        const char *from)
{
    printf("%-12s  %s%*s  %-24s  %-20s  %-*s  %-20s  %s\n", id, name,
           wname - bbtoken_width(name), "", perms, created, wexp, expires, last,
           from);
}

static int bbtoken_list_table(const PGresult *res)
{
    char perms[64], exp[64];
    int i, w, wname = 4, wexp = 7;

    for (i = 0; i < PQntuples(res); i++) {
        if ((w = bbtoken_width(PQgetvalue(res, i, BBTOKEN_L_NAME))) > wname) {
            wname = w;
        }
        if ((w = (int)strlen(bbtoken_expires(res, i, exp, sizeof(exp)))) >
            wexp) {
            wexp = w;
        }
    }
    bbtoken_row("ID", "NAME", wname, "PERMISSIONS", "CREATED", "EXPIRES", wexp,
                "LAST USED", "FROM");
    for (i = 0; i < PQntuples(res); i++) {
        snprintf(perms, sizeof(perms), "%s,%s",
                 PQgetvalue(res, i, BBTOKEN_L_PROJECT),
                 PQgetvalue(res, i, BBTOKEN_L_REPO));
        bbtoken_row(PQgetvalue(res, i, BBTOKEN_L_ID),
                    PQgetvalue(res, i, BBTOKEN_L_NAME), wname, perms,
                    PQgetvalue(res, i, BBTOKEN_L_CREATED),
                    bbtoken_expires(res, i, exp, sizeof(exp)), wexp,
                    PQgetisnull(res, i, BBTOKEN_L_LAST)
                        ? "never"
                        : PQgetvalue(res, i, BBTOKEN_L_LAST),
                    PQgetvalue(res, i, BBTOKEN_L_ADDRS));
    }
    return 0;
}

static int bbtoken_cmd_list(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                            const bbtoken_args_t *a)
{
    bbtoken_user_t u;
    const char *params[1];
    PGresult *res;
    int rc;

    (void)cmd;
    if ((rc = bbtoken_connect_user(ctx, a->operands[0], &u))) {
        return rc;
    }
    params[0] = u.id;
    res = bbtoken_exec(ctx, "listing tokens", bbtoken_sql_list, 1, params);
    if (!res) {
        return BBTOKEN_EXIT_FAIL;
    }
    rc = a->json ? bbtoken_list_json(res, &u) : bbtoken_list_table(res);
    PQclear(res);
    return rc;
}

/* ---- update, revoke --------------------------------------------------- */

static int bbtoken_cmd_update(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                              const bbtoken_args_t *a)
{
    const char *params[4] = {a->operands[0], a->label, NULL, NULL};
    bbt_level_t project, repo;
    long rows;
    int rc;

    if (a->days) {
        /* Refused here and, should anything else try, by the database. */
        return bbtoken_fail("the expiry of a token cannot be changed: create "
                            "a new token (and revoke this one)");
    }
    if (!a->label && a->nperms == 0) {
        return bbtoken_usage_error(cmd->usage,
                                   "nothing to update: give --name or --perm");
    }
    if ((rc = bbtoken_check_id(params[0])) ||
        (a->label && (rc = bbtoken_check_label(a->label)))) {
        return rc;
    }
    if (a->nperms) {
        if ((rc = bbtoken_perm_pair(a, &project, &repo))) {
            return rc;
        }
        params[2] = bbt_perm_name(BBT_SCOPE_PROJECT, project);
        params[3] = bbt_perm_name(BBT_SCOPE_REPO, repo);
    }
    if ((rc = bbtoken_connect(ctx))) {
        return rc;
    }
    /* A NULL parameter leaves its column alone. */
    rc = bbtoken_exec_rows(ctx, "updating the token",
                           "UPDATE bbtoken_tokens"
                           " SET name = COALESCE($2, name),"
                           " project_perm = COALESCE($3, project_perm),"
                           " repo_perm = COALESCE($4, repo_perm)"
                           " WHERE id = $1 AND revoked_at IS NULL",
                           4, params, &rows);
    if (rc == 0 && rows == 0) {
        rc = bbtoken_token_missing(ctx, params[0], "token is revoked");
    }
    return rc;
}

static int bbtoken_cmd_revoke(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                              const bbtoken_args_t *a)
{
    const char *params[1] = {a->noperands ? a->operands[0] : NULL};
    bbtoken_user_t u;
    long rows;
    int rc;

    if (a->user && a->noperands) {
        return bbtoken_usage_error(cmd->usage,
                                   "give a token ID or --user NAME, not both");
    }
    if (a->user) {
        if ((rc = bbtoken_connect_user(ctx, a->user, &u))) {
            return rc;
        }
        params[0] = u.id;
        rc = bbtoken_exec_rows(ctx, "revoking the tokens",
                               "UPDATE bbtoken_tokens SET revoked_at = now()"
                               " WHERE user_id = $1 AND revoked_at IS NULL",
                               1, params, &rows);
        if (rc == 0) {
            printf("revoked %ld token%s of %s\n", rows, rows == 1 ? "" : "s",
                   u.name);
        }
        return rc;
    }
    if (!a->noperands) {
        return bbtoken_usage_error(cmd->usage,
                                   "revoke takes a token ID or --user NAME");
    }
    if ((rc = bbtoken_check_id(params[0])) || (rc = bbtoken_connect(ctx))) {
        return rc;
    }
    rc = bbtoken_exec_rows(ctx, "revoking the token",
                           "UPDATE bbtoken_tokens SET revoked_at = now()"
                           " WHERE id = $1 AND revoked_at IS NULL",
                           1, params, &rows);
    if (rc == 0 && rows == 0) {
        rc = bbtoken_token_missing(ctx, params[0], "token already revoked");
    }
    return rc;
}

/* ---- times and durations --------------------------------------------- */

/* A DURATION: N followed by d, h or w, a bare N being days.  Returns the
 * seconds, or -1. */
static long long bbtoken_duration(const char *s)
{
    size_t n = strspn(s, "0123456789");
    long long v;

    if (n == 0 || n > 6) {
        return -1;
    }
    v = atoll(s);
    switch (s[n]) {
    case '\0':
    case 'd':
        v *= 86400;
        break;
    case 'h':
        v *= 3600;
        break;
    case 'w':
        v *= 7 * 86400;
        break;
    default:
        return -1;
    }
    if (s[n] != '\0' && s[n + 1] != '\0') {
        return -1;
    }
    return v;
}

/* A point in time: YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][Z], taken as UTC, or
 * a DURATION ago.  Fills the two parameters of BBTOKEN_WHEN_12: *abs
 * ("YYYY-MM-DD HH:MM:SS") or *ago (seconds), the other NULL.  The database
 * checks the ranges of the fields. */
static int bbtoken_when(const char *s, const char *opt, char *absbuf,
                        size_t abslen, char *agobuf, size_t agolen,
                        const char **abs, const char **ago)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    size_t n = strlen(s), i;
    long long secs;

    *abs = *ago = NULL;
    if ((secs = bbtoken_duration(s)) >= 0) {
        snprintf(agobuf, agolen, "%lld", secs);
        *ago = agobuf;
        return 0;
    }
    if (n && s[n - 1] == 'Z') {
        n--;
    }
    if (n != 10 && n != 16 && n != 19) {
        goto bad;
    }
    for (i = 0; i < n; i++) {
        if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i]) {
            goto bad;
        }
    }
    snprintf(absbuf, abslen, "%.10s %.*s", s, n > 10 ? (int)(n - 11) : 5,
             n > 10 ? s + 11 : "00:00");
    *abs = absbuf;
    return 0;
bad:
    return bbtoken_fail("%s: not a date (YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ, "
                        "UTC) or a duration ago (7d, 12h, 2w): %s",
                        opt, s);
}

/* The point in time of bbtoken_when's two parameters: $1 and $2 (purge),
 * $2 and $3 (audit). */
#define BBTOKEN_WHEN_12                                                        \
    "COALESCE($1::timestamp AT TIME ZONE 'UTC',"                               \
    " now() - make_interval(secs => $2::bigint))"
#define BBTOKEN_WHEN_23                                                        \
    "COALESCE($2::timestamp AT TIME ZONE 'UTC',"                               \
    " now() - make_interval(secs => $3::bigint))"

/* Column widths for a table of strings, a column per UTF-8 code point;
 * the last column is not padded. */
static void bbtoken_table(const char *const *cells, int rows, int cols)
{
    int w[16] = {0}, r, c, x;

    for (r = 0; r < rows; r++) {
        for (c = 0; c < cols && c < 16; c++) {
            if ((x = bbtoken_width(cells[r * cols + c])) > w[c]) {
                w[c] = x;
            }
        }
    }
    for (r = 0; r < rows; r++) {
        for (c = 0; c < cols; c++) {
            const char *v = cells[r * cols + c];

            if (c == cols - 1) {
                printf("%s\n", v);
            } else {
                printf("%s%*s  ", v, w[c] - bbtoken_width(v), "");
            }
        }
    }
}

static const char *bbtoken_get(const PGresult *res, int row, int col,
                               const char *null)
{
    return PQgetisnull(res, row, col) ? null : PQgetvalue(res, row, col);
}

/* Print a JSON value, then free it. */
static int bbtoken_json_out(json_t *v)
{
    char *out = v ? json_dumps(v, JSON_INDENT(2)) : NULL;

    json_decref(v);
    if (!out) {
        return bbtoken_fail("out of memory");
    }
    puts(out);
    free(out);
    return 0;
}

/* ---- expiring, purge -------------------------------------------------- */

enum {
    BBTOKEN_E_USER,
    BBTOKEN_E_ID,
    BBTOKEN_E_NAME,
    BBTOKEN_E_EXPIRES,
    BBTOKEN_E_EXPIRES_MS,
    BBTOKEN_E_EXPIRED,
    BBTOKEN_E_LEFT,
    BBTOKEN_E_LAST,
    BBTOKEN_E_LAST_MS,
    BBTOKEN_E_PROJECT,
    BBTOKEN_E_REPO,
    BBTOKEN_E_ACTIVE
};

/* "in 3 days", "in 5 hours", "in 12 minutes". */
static const char *bbtoken_left(const char *secs, char *buf, size_t len)
{
    long long s = atoll(secs);

    if (s >= 2 * 86400) {
        snprintf(buf, len, "in %lld days", s / 86400);
    } else if (s >= 2 * 3600) {
        snprintf(buf, len, "in %lld hours", s / 3600);
    } else {
        snprintf(buf, len, "in %lld minutes", s / 60 + 1);
    }
    return buf;
}

static int bbtoken_cmd_expiring(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                                const bbtoken_args_t *a)
{
    const char *within = a->within ? a->within : "7d";
    long long secs = bbtoken_duration(within);
    char secbuf[32], (*left)[32] = NULL;
    const char **cells = NULL;
    const char *params[1] = {secbuf};
    PGresult *res;
    json_t *arr, *obj;
    int i, n, rc = 0;

    (void)cmd;
    if (secs < 0) {
        return bbtoken_fail("--within: not a duration (7d, 12h, 2w): %s",
                            within);
    }
    snprintf(secbuf, sizeof(secbuf), "%lld", secs);
    if ((rc = bbtoken_connect(ctx))) {
        return rc;
    }
    res = bbtoken_exec(
        ctx, "listing expiring tokens",
        "SELECT u.name, t.id, t.name,"
        " to_char(t.expires_at AT TIME ZONE 'UTC', " BBTOKEN_ISO "),"
        " (extract(epoch FROM t.expires_at) * 1000)::bigint,"
        " t.expires_at <= now(),"
        " extract(epoch FROM t.expires_at - now())::bigint,"
        " to_char(t.last_authenticated AT TIME ZONE 'UTC', " BBTOKEN_ISO "),"
        " (extract(epoch FROM t.last_authenticated) * 1000)::bigint,"
        " t.project_perm, t.repo_perm, u.active"
        " FROM bbtoken_tokens t JOIN bbtoken_users u ON u.id = t.user_id"
        " WHERE t.revoked_at IS NULL AND t.expires_at IS NOT NULL"
        " AND t.expires_at <= now() + make_interval(secs => $1::bigint)"
        " ORDER BY t.expires_at, t.id",
        1, params);
    if (!res) {
        return BBTOKEN_EXIT_FAIL;
    }
    n = PQntuples(res);
    if (a->json) {
        arr = json_array();
        for (i = 0; arr && i < n; i++) {
            obj = json_pack(
                "{s:s, s:s, s:o, s:b, s:o*, s:[s,s], s:{s:s, s:b}}", "id",
                PQgetvalue(res, i, BBTOKEN_E_ID), "name",
                PQgetvalue(res, i, BBTOKEN_E_NAME), "expiryDate",
                bbt_pgjson_int(res, i, BBTOKEN_E_EXPIRES_MS), "expired",
                PQgetvalue(res, i, BBTOKEN_E_EXPIRED)[0] == 't',
                "lastAuthenticated", bbt_pgjson_int(res, i, BBTOKEN_E_LAST_MS),
                "permissions", PQgetvalue(res, i, BBTOKEN_E_PROJECT),
                PQgetvalue(res, i, BBTOKEN_E_REPO), "user", "name",
                PQgetvalue(res, i, BBTOKEN_E_USER), "active",
                PQgetvalue(res, i, BBTOKEN_E_ACTIVE)[0] == 't');
            if (!obj || json_array_append_new(arr, obj)) {
                json_decref(arr);
                arr = NULL;
            }
        }
        PQclear(res);
        return bbtoken_json_out(arr);
    }
    /* Nothing to say: say nothing, so that cron sends no mail. */
    if (n == 0) {
        PQclear(res);
        return 0;
    }
    cells = calloc((size_t)(n + 1) * 6, sizeof(*cells));
    left = calloc((size_t)n, sizeof(*left));
    if (!cells || !left) {
        rc = bbtoken_fail("out of memory");
        goto done;
    }
    cells[0] = "EXPIRES";
    cells[1] = "STATUS";
    cells[2] = "USER";
    cells[3] = "ID";
    cells[4] = "NAME";
    cells[5] = "LAST USED";
    for (i = 0; i < n; i++) {
        const char **row = cells + (i + 1) * 6;

        row[0] = PQgetvalue(res, i, BBTOKEN_E_EXPIRES);
        row[1] = PQgetvalue(res, i, BBTOKEN_E_EXPIRED)[0] == 't'
                     ? "expired"
                     : bbtoken_left(PQgetvalue(res, i, BBTOKEN_E_LEFT), left[i],
                                    sizeof(left[i]));
        row[2] = PQgetvalue(res, i, BBTOKEN_E_USER);
        row[3] = PQgetvalue(res, i, BBTOKEN_E_ID);
        row[4] = PQgetvalue(res, i, BBTOKEN_E_NAME);
        row[5] = bbtoken_get(res, i, BBTOKEN_E_LAST, "never");
    }
    bbtoken_table(cells, n + 1, 6);
done:
    free(cells);
    free(left);
    PQclear(res);
    return rc;
}

static int bbtoken_cmd_purge(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                             const bbtoken_args_t *a)
{
    char absbuf[32], agobuf[32];
    const char *params[2];
    long rows;
    int rc;

    if (!a->before) {
        return bbtoken_usage_error(cmd->usage,
                                   "purge needs --expired-before WHEN");
    }
    if ((rc =
             bbtoken_when(a->before, "--expired-before", absbuf, sizeof(absbuf),
                          agobuf, sizeof(agobuf), &params[0], &params[1])) ||
        (rc = bbtoken_connect(ctx))) {
        return rc;
    }
    /* Dead rows only, whatever WHEN says: a revoked token, or one whose
     * expiry is past.  The audit trigger records each deletion. */
    rc = bbtoken_exec_rows(ctx, "purging tokens",
                           "WITH t(cut) AS (SELECT " BBTOKEN_WHEN_12 ")"
                           " DELETE FROM bbtoken_tokens USING t WHERE"
                           " (revoked_at IS NOT NULL AND revoked_at < t.cut)"
                           " OR (expires_at <= now() AND expires_at < t.cut)",
                           2, params, &rows);
    if (rc == 0) {
        printf("purged %ld token%s\n", rows, rows == 1 ? "" : "s");
    }
    return rc;
}

/* ---- audit ------------------------------------------------------------ */

enum {
    BBTOKEN_A_TIME,
    BBTOKEN_A_MS,
    BBTOKEN_A_EVENT,
    BBTOKEN_A_TOKEN,
    BBTOKEN_A_USER,
    BBTOKEN_A_ACTOR,
    BBTOKEN_A_ROLE,
    BBTOKEN_A_SOURCE,
    BBTOKEN_A_ADDR,
    BBTOKEN_A_DETAIL,
    BBTOKEN_A_ID
};

/* A text column as a JSON string, or NULL to leave the member out. */
static json_t *bbtoken_json_str(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL
                                      : json_string(PQgetvalue(res, row, col));
}

static int bbtoken_cmd_audit(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                             const bbtoken_args_t *a)
{
    char absbuf[32], agobuf[32];
    const char *params[4] = {a->noperands ? a->operands[0] : NULL, NULL, NULL,
                             a->token};
    const char **cells = NULL;
    char(*by)[320] = NULL, (*from)[80] = NULL;
    PGresult *res;
    json_t *arr, *obj;
    int i, n, rc;

    (void)cmd;
    if ((params[0] && (rc = bbtoken_check_user(params[0]))) ||
        (a->token && (rc = bbtoken_check_id(a->token))) ||
        (a->since &&
         (rc = bbtoken_when(a->since, "--since", absbuf, sizeof(absbuf), agobuf,
                            sizeof(agobuf), &params[1], &params[2]))) ||
        (rc = bbtoken_connect(ctx))) {
        return rc;
    }
    res = bbtoken_exec(
        ctx, "reading the audit trail",
        "SELECT to_char(at AT TIME ZONE 'UTC', " BBTOKEN_ISO "),"
        " (extract(epoch FROM at) * 1000)::bigint, event, token_id,"
        " user_name, actor, db_role, source, host(client_addr), detail, id"
        " FROM bbtoken_audit"
        " WHERE ($1::text IS NULL OR lower(user_name) = lower($1))"
        " AND (($2::text IS NULL AND $3::text IS NULL)"
        " OR at >= " BBTOKEN_WHEN_23 ")"
        " AND ($4::text IS NULL OR token_id = $4)"
        " ORDER BY at, id",
        4, params);
    if (!res) {
        return BBTOKEN_EXIT_FAIL;
    }
    n = PQntuples(res);
    if (a->json) {
        arr = json_array();
        for (i = 0; arr && i < n; i++) {
            obj = json_pack(
                "{s:o, s:o, s:s, s:o*, s:o*, s:s, s:s, s:s, s:o*, s:o*}", "id",
                bbt_pgjson_int(res, i, BBTOKEN_A_ID), "time",
                bbt_pgjson_int(res, i, BBTOKEN_A_MS), "event",
                PQgetvalue(res, i, BBTOKEN_A_EVENT), "tokenId",
                bbtoken_json_str(res, i, BBTOKEN_A_TOKEN), "user",
                bbtoken_json_str(res, i, BBTOKEN_A_USER), "actor",
                PQgetvalue(res, i, BBTOKEN_A_ACTOR), "dbRole",
                PQgetvalue(res, i, BBTOKEN_A_ROLE), "source",
                PQgetvalue(res, i, BBTOKEN_A_SOURCE), "clientAddress",
                bbtoken_json_str(res, i, BBTOKEN_A_ADDR), "detail",
                bbtoken_json_str(res, i, BBTOKEN_A_DETAIL));
            if (!obj || json_array_append_new(arr, obj)) {
                json_decref(arr);
                arr = NULL;
            }
        }
        PQclear(res);
        return bbtoken_json_out(arr);
    }
    cells = calloc((size_t)(n + 1) * 7, sizeof(*cells));
    by = calloc((size_t)n + 1, sizeof(*by));
    from = calloc((size_t)n + 1, sizeof(*from));
    if (!cells || !by || !from) {
        rc = bbtoken_fail("out of memory");
        goto done;
    }
    cells[0] = "TIME";
    cells[1] = "EVENT";
    cells[2] = "TOKEN";
    cells[3] = "USER";
    cells[4] = "BY";
    cells[5] = "FROM";
    cells[6] = "DETAIL";
    for (i = 0; i < n; i++) {
        const char **row = cells + (i + 1) * 7;
        const char *actor = PQgetvalue(res, i, BBTOKEN_A_ACTOR);
        const char *role = PQgetvalue(res, i, BBTOKEN_A_ROLE);

        if (strcmp(actor, role) == 0) {
            snprintf(by[i], sizeof(by[i]), "%s", actor);
        } else {
            snprintf(by[i], sizeof(by[i]), "%s (db %s)", actor, role);
        }
        snprintf(from[i], sizeof(from[i]), "%s%s%s",
                 PQgetvalue(res, i, BBTOKEN_A_SOURCE),
                 PQgetisnull(res, i, BBTOKEN_A_ADDR) ? "" : " ",
                 PQgetvalue(res, i, BBTOKEN_A_ADDR));
        row[0] = PQgetvalue(res, i, BBTOKEN_A_TIME);
        row[1] = PQgetvalue(res, i, BBTOKEN_A_EVENT);
        row[2] = bbtoken_get(res, i, BBTOKEN_A_TOKEN, "-");
        row[3] = bbtoken_get(res, i, BBTOKEN_A_USER, "-");
        row[4] = by[i];
        row[5] = from[i];
        row[6] = bbtoken_get(res, i, BBTOKEN_A_DETAIL, "");
    }
    bbtoken_table(cells, n + 1, 7);
    rc = 0;
done:
    free(cells);
    free(by);
    free(from);
    PQclear(res);
    return rc;
}

/* ---- policy ----------------------------------------------------------- */

/* A whole number in [lo, hi], digits only. */
static int bbtoken_number(const char *s, long lo, long hi)
{
    size_t n = strspn(s, "0123456789");

    return n > 0 && n <= 9 && s[n] == '\0' && atol(s) >= lo && atol(s) <= hi;
}

static int bbtoken_cmd_policy(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                              const bbtoken_args_t *a)
{
    const char *params[3] = {NULL, NULL, NULL};
    PGresult *res;
    int rc, required, has_max;

    (void)cmd;
    if (a->max_days && strcmp(a->max_days, "none") != 0 &&
        !bbtoken_number(a->max_days, 1, BBTOKEN_EXPIRY_MAX)) {
        return bbtoken_fail("--max-expiry-days must be a whole number from 1 "
                            "to %d, or none: %s",
                            BBTOKEN_EXPIRY_MAX, a->max_days);
    }
    if (a->max_tokens && !bbtoken_number(a->max_tokens, 1, 1000000)) {
        return bbtoken_fail("--max-tokens must be a whole number from 1 to "
                            "1000000: %s",
                            a->max_tokens);
    }
    if ((rc = bbtoken_connect(ctx))) {
        return rc;
    }
    if (a->required != -1 || a->max_days || a->max_tokens) {
        if (!(res =
                  bbtoken_exec(ctx, "changing the policy", "BEGIN", 0, NULL))) {
            return BBTOKEN_EXIT_FAIL;
        }
        PQclear(res);
        res = bbtoken_exec(ctx, "reading the policy",
                           "SELECT expiry_required, max_expiry_days IS NOT NULL"
                           " FROM bbtoken_policy FOR UPDATE",
                           0, NULL);
        if (!res || PQntuples(res) != 1) {
            PQclear(res);
            return res ? bbtoken_fail("the policy row is missing")
                       : BBTOKEN_EXIT_FAIL;
        }
        required =
            a->required != -1 ? a->required : PQgetvalue(res, 0, 0)[0] == 't';
        has_max = a->max_days ? strcmp(a->max_days, "none") != 0
                              : PQgetvalue(res, 0, 1)[0] == 't';
        PQclear(res);
        if (required && !has_max) {
            return bbtoken_fail("a required expiry needs a maximum: give "
                                "--max-expiry-days N");
        }
        params[0] = a->required == -1 ? NULL : a->required ? "true" : "false";
        params[1] = a->max_days;
        params[2] = a->max_tokens;
        res = bbtoken_exec(
            ctx, "changing the policy",
            "UPDATE bbtoken_policy SET"
            " expiry_required = COALESCE($1::boolean, expiry_required),"
            " max_expiry_days = CASE WHEN $2::text IS NULL THEN max_expiry_days"
            " WHEN $2 = 'none' THEN NULL ELSE $2::integer END,"
            " max_tokens_per_user = COALESCE($3::integer, max_tokens_per_user)",
            3, params);
        if (!res) {
            return BBTOKEN_EXIT_FAIL;
        }
        PQclear(res);
        if (!(res = bbtoken_exec(ctx, "changing the policy", "COMMIT", 0,
                                 NULL))) {
            return BBTOKEN_EXIT_FAIL;
        }
        PQclear(res);
    }
    res = bbtoken_exec(ctx, "reading the policy",
                       "SELECT expiry_required, max_expiry_days,"
                       " max_tokens_per_user FROM bbtoken_policy",
                       0, NULL);
    if (!res) {
        return BBTOKEN_EXIT_FAIL;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return bbtoken_fail("the policy row is missing");
    }
    if (a->json) {
        rc = bbtoken_json_out(json_pack(
            "{s:b, s:o, s:o}", "expiryRequired",
            PQgetvalue(res, 0, 0)[0] == 't', "maxExpiryDays",
            PQgetisnull(res, 0, 1) ? json_null() : bbt_pgjson_int(res, 0, 1),
            "maxTokensPerUser", bbt_pgjson_int(res, 0, 2)));
    } else {
        printf("expiry-required: %s\n"
               "max-expiry-days: %s\n"
               "max-tokens: %s\n",
               PQgetvalue(res, 0, 0)[0] == 't' ? "yes" : "no",
               bbtoken_get(res, 0, 1, "none"), PQgetvalue(res, 0, 2));
        rc = 0;
    }
    PQclear(res);
    return rc;
}

/* ---- db --------------------------------------------------------------- */

static int bbtoken_cmd_db_status(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                                 const bbtoken_args_t *a)
{
    int rc, version, i, pending = 0;

    (void)cmd;
    (void)a;
    ctx->any_schema = 1;
    if ((rc = bbtoken_connect(ctx)) ||
        (rc = bbtoken_schema_version(ctx, &version))) {
        return rc;
    }
    if (version < 0) {
        return bbtoken_fail("this database has no mod_bbtoken schema "
                            "(bbtoken db upgrade --init creates it)");
    }
    printf("schema version: %d\nlatest known: %d\n", version,
           BBTOKEN_SCHEMA_LATEST);
    for (i = 0; i < BBTOKEN_NMIGRATIONS; i++) {
        if (bbtoken_migrations[i].version > version) {
            printf("pending: %s\n", bbtoken_migrations[i].name);
            pending++;
        }
    }
    if (version > BBTOKEN_SCHEMA_LATEST) {
        printf("status: the database is newer than this bbtoken\n");
    } else {
        printf("status: %s\n",
               pending ? "upgrade needed (bbtoken db upgrade)" : "up to date");
    }
    return 0;
}

/* Apply one migration in its own transaction.  The first one (the first
 * release's schema.sql, kept as it was) makes its own transaction and
 * records version 1; the later ones are run inside ours and record their
 * version themselves, which is checked. */
static int bbtoken_migrate(bbtoken_ctx_t *ctx, const bbtoken_migration_t *m)
{
    char what[128];
    PGresult *res;
    int version;

    snprintf(what, sizeof(what), "applying migration %s", m->name);
    if (m->version == 1) {
        res = PQexec(ctx->conn, m->sql);
        if (PQresultStatus(res) != PGRES_COMMAND_OK &&
            PQresultStatus(res) != PGRES_TUPLES_OK) {
            bbtoken_db_fail(ctx, res, what);
            PQclear(PQexec(ctx->conn, "ROLLBACK"));
            return BBTOKEN_EXIT_FAIL;
        }
        PQclear(res);
        return 0;
    }
    if (!(res = bbtoken_exec(ctx, what, "BEGIN", 0, NULL))) {
        return BBTOKEN_EXIT_FAIL;
    }
    PQclear(res);
    /* One upgrade at a time; the second finds the work done.  httpd only
     * reads this table, which the lock lets it do. */
    if (!(res = bbtoken_exec(ctx, what,
                             "LOCK TABLE bbtoken_schema IN EXCLUSIVE MODE", 0,
                             NULL)) ||
        (PQclear(res), bbtoken_schema_version(ctx, &version) != 0)) {
        PQclear(PQexec(ctx->conn, "ROLLBACK"));
        return BBTOKEN_EXIT_FAIL;
    }
    if (version >= m->version) {
        PQclear(PQexec(ctx->conn, "ROLLBACK"));
        return 0;
    }
    if (version != m->version - 1) {
        PQclear(PQexec(ctx->conn, "ROLLBACK"));
        return bbtoken_fail("%s: the database is at version %d", what, version);
    }
    res = PQexec(ctx->conn, m->sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK &&
        PQresultStatus(res) != PGRES_TUPLES_OK) {
        bbtoken_db_fail(ctx, res, what);
        PQclear(PQexec(ctx->conn, "ROLLBACK"));
        return BBTOKEN_EXIT_FAIL;
    }
    PQclear(res);
    if (bbtoken_schema_version(ctx, &version) != 0 || version != m->version) {
        PQclear(PQexec(ctx->conn, "ROLLBACK"));
        return bbtoken_fail("%s: it did not record version %d", what,
                            m->version);
    }
    if (!(res = bbtoken_exec(ctx, what, "COMMIT", 0, NULL))) {
        return BBTOKEN_EXIT_FAIL;
    }
    PQclear(res);
    return 0;
}

static int bbtoken_cmd_db_upgrade(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                                  const bbtoken_args_t *a)
{
    int rc, version, i, applied = 0;

    (void)cmd;
    ctx->any_schema = 1;
    if ((rc = bbtoken_connect(ctx)) ||
        (rc = bbtoken_schema_version(ctx, &version))) {
        return rc;
    }
    if (version < 0 && !a->init) {
        return bbtoken_fail("this database has no mod_bbtoken schema: "
                            "bbtoken db upgrade --init creates it here");
    }
    if (version >= 0 && a->init) {
        return bbtoken_fail("--init: this database has a mod_bbtoken schema "
                            "already (version %d)",
                            version);
    }
    if (version > BBTOKEN_SCHEMA_LATEST) {
        return bbtoken_fail("the database schema is version %d, newer than "
                            "this bbtoken knows (%d)",
                            version, BBTOKEN_SCHEMA_LATEST);
    }
    for (i = 0; i < BBTOKEN_NMIGRATIONS; i++) {
        if (bbtoken_migrations[i].version <= version) {
            continue;
        }
        if ((rc = bbtoken_migrate(ctx, &bbtoken_migrations[i]))) {
            return rc;
        }
        printf("applied %s\n", bbtoken_migrations[i].name);
        applied++;
    }
    printf("schema version: %d%s\n", BBTOKEN_SCHEMA_LATEST,
           applied ? "" : " (already up to date)");
    return 0;
}

/* ---- main ------------------------------------------------------------- */

#define BBTOKEN_B(x) BBTOKEN_BIT(BBTOKEN_OPT_##x)

/* The user group's commands are named by their second word. */
static const bbtoken_cmd_t bbtoken_user_cmds[] = {
    {"add", bbtoken_cmd_user_add, bbtoken_usage_user, BBTOKEN_B(ADMIN), 1,
     "user add", "one NAME"},
    {"disable", bbtoken_cmd_user_set, bbtoken_usage_user, 0, 1, "user disable",
     "one NAME"},
    {"enable", bbtoken_cmd_user_set, bbtoken_usage_user, 0, 1, "user enable",
     "one NAME"},
    {NULL, NULL, NULL, 0, 0, NULL, NULL}};

static const bbtoken_cmd_t bbtoken_db_cmds[] = {
    {"status", bbtoken_cmd_db_status, bbtoken_usage_db, 0, 0, "db status",
     "no operands"},
    {"upgrade", bbtoken_cmd_db_upgrade, bbtoken_usage_db, BBTOKEN_B(INIT), 0,
     "db upgrade", "no operands"},
    {NULL, NULL, NULL, 0, 0, NULL, NULL}};

static const bbtoken_cmd_t bbtoken_cmds[] = {
    {"user", NULL, bbtoken_usage_user, 0, 0, "user", NULL},
    {"grant", bbtoken_cmd_grant, bbtoken_usage_grant, 0, 3, "grant",
     "NAME PERMISSION TARGET"},
    {"ungrant", bbtoken_cmd_ungrant, bbtoken_usage_ungrant, 0, 2, "ungrant",
     "NAME TARGET"},
    {"create", bbtoken_cmd_create, bbtoken_usage_create,
     BBTOKEN_B(NAME) | BBTOKEN_B(PERM) | BBTOKEN_B(EXPIRY), 1, "create",
     "one NAME"},
    {"list", bbtoken_cmd_list, bbtoken_usage_list, BBTOKEN_B(JSON), 1, "list",
     "one NAME"},
    {"update", bbtoken_cmd_update, bbtoken_usage_update,
     BBTOKEN_B(NAME) | BBTOKEN_B(PERM) | BBTOKEN_B(EXPIRY), 1, "update",
     "one ID"},
    {"revoke", bbtoken_cmd_revoke, bbtoken_usage_revoke, BBTOKEN_B(USER), -1,
     "revoke", "one ID, or --user NAME"},
    {"expiring", bbtoken_cmd_expiring, bbtoken_usage_expiring,
     BBTOKEN_B(WITHIN) | BBTOKEN_B(JSON), 0, "expiring", "no operands"},
    {"purge", bbtoken_cmd_purge, bbtoken_usage_purge, BBTOKEN_B(BEFORE), 0,
     "purge", "no operands"},
    {"audit", bbtoken_cmd_audit, bbtoken_usage_audit,
     BBTOKEN_B(SINCE) | BBTOKEN_B(TOKEN) | BBTOKEN_B(JSON), -1, "audit",
     "at most one NAME"},
    {"policy", bbtoken_cmd_policy, bbtoken_usage_policy,
     BBTOKEN_B(REQUIRED) | BBTOKEN_B(OPTIONAL) | BBTOKEN_B(MAX_DAYS) |
         BBTOKEN_B(MAX_TOKENS) | BBTOKEN_B(JSON),
     0, "policy", "no operands"},
    {"db", NULL, bbtoken_usage_db, 0, 0, "db", NULL},
    {NULL, NULL, NULL, 0, 0, NULL, NULL}};

static const bbtoken_cmd_t *bbtoken_find(const bbtoken_cmd_t *cmds,
                                         const char *name)
{
    for (; cmds->name; cmds++) {
        if (strcmp(cmds->name, name) == 0) {
            return cmds;
        }
    }
    return NULL;
}

/* Global options stop at the first operand, the command: "+". */
static int bbtoken_main(bbtoken_ctx_t *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, BBTOKEN_OPT_DB},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, BBTOKEN_OPT_VERSION},
        {NULL, 0, NULL, 0}};
    const bbtoken_cmd_t *cmd;
    bbtoken_args_t a;
    int c, rc;

    opterr = 0; /* our messages, not getopt's */
    optind = 0;
    while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            fputs(bbtoken_usage_main, stdout);
            return BBTOKEN_EXIT_OK;
        case BBTOKEN_OPT_VERSION:
            puts("bbtoken " BBTOKEN_VERSION);
            return BBTOKEN_EXIT_OK;
        case BBTOKEN_OPT_DB:
            ctx->db = optarg;
            break;
        default:
            return bbtoken_opt_error(bbtoken_usage_main, c, argv);
        }
    }
    argc -= optind;
    argv += optind;
    if (argc == 0) {
        return bbtoken_usage_error(bbtoken_usage_main, "no command given");
    }
    if (!(cmd = bbtoken_find(bbtoken_cmds, argv[0]))) {
        return bbtoken_usage_error(bbtoken_usage_main, "unknown command: %s",
                                   argv[0]);
    }
    if (!cmd->run) {
        /* A group (user, db): "user --help", or "user SUBCOMMAND ...". */
        const bbtoken_cmd_t *group = cmd;

        if (argc > 1 &&
            (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
            fputs(cmd->usage, stdout);
            return BBTOKEN_EXIT_OK;
        }
        if (argc == 1) {
            return bbtoken_usage_error(cmd->usage, "%s needs a subcommand",
                                       group->name);
        }
        if (!(cmd = bbtoken_find(strcmp(group->name, "db") == 0
                                     ? bbtoken_db_cmds
                                     : bbtoken_user_cmds,
                                 argv[1]))) {
            return bbtoken_usage_error(group->usage,
                                       "unknown %s subcommand: %s", group->name,
                                       argv[1]);
        }
        argc--;
        argv++;
    }
    if ((rc = bbtoken_parse_args(cmd, argc, argv, &a)) != BBTOKEN_GO_ON) {
        return rc;
    }
    return cmd->run(ctx, cmd, &a);
}

/* A closed stdin, stdout or stderr would be taken by the database socket,
 * and create would write the token into it.  Park /dev/null there, read
 * only on stdout so that printing the token fails, as it should. */
static int bbtoken_std_fds(void)
{
    static const int modes[3] = {O_RDONLY, O_RDONLY, O_WRONLY};
    int fd, n;

    for (fd = 0; fd < 3; fd++) {
        if (fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
            /* The lowest free descriptor: fd itself. */
            if ((n = open("/dev/null", modes[fd])) != fd) {
                return -1;
            }
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    bbtoken_ctx_t ctx = {NULL, NULL, 0};
    int rc;

    if (bbtoken_std_fds() != 0) {
        return BBTOKEN_EXIT_FAIL;
    }
    rc = bbtoken_main(&ctx, argc, argv);

    PQfinish(ctx.conn);
    /* A full disk or a closed pipe must not pass for success. */
    if ((fflush(stdout) != 0 || ferror(stdout)) && rc == 0) {
        rc = bbtoken_fail("cannot write to stdout: %s", strerror(errno));
    }
    return rc;
}
