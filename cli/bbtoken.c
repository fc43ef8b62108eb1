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
 * 2 bad usage (a reason and the usage on stderr).  Only create and list
 * write to stdout (and --help, --version).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "bbt_perm.h"
#include "bbt_route.h"
#include "bbt_token.h"

#define BBTOKEN_VERSION "0.1.0"

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
    BBTOKEN_OPT_JSON
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
} bbtoken_ctx_t;

/* A command line after option parsing; values are checked by commands. */
typedef struct {
    char **operands;
    const char *label; /* --name */
    const char *days;  /* --expiry-days */
    const char *perms[BBTOKEN_MAX_PERMS];
    size_t nperms;
    int admin;
    int json;
} bbtoken_args_t;

typedef struct bbtoken_cmd bbtoken_cmd_t;
struct bbtoken_cmd {
    const char *name;
    int (*run)(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
               const bbtoken_args_t *a);
    const char *usage;
    unsigned int opts; /* BBTOKEN_BIT()s of the options it takes */
    int noperands;
    const char *full;     /* "user add" */
    const char *operands; /* what it takes, for complaints */
};

typedef struct {
    char id[24]; /* bigint as text, handed back to SQL as a parameter */
    char name[BBT_USER_MAX + 1];
    int active;
} bbtoken_user_t;

typedef struct {
    char key[BBT_USER_MAX + 2]; /* canonical */
    const char *slug;           /* NULL for a project */
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
    "  revoke ID                     revoke a token for good\n"
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
    "  --expiry-days N    expire N days from now (1-36500); default never\n"
    "A token never does more than its owner's grants allow at the time.\n"
    "Fails for an unknown or disabled user.\n";

static const char bbtoken_usage_list[] =
    "Usage: bbtoken list NAME [--json]\n"
    "\n"
    "List user NAME's tokens that are not revoked, oldest first: ID, NAME,\n"
    "PERMISSIONS, CREATED, EXPIRES, LAST USED, times in UTC (ISO 8601);\n"
    "\"never\" when unset, \"(expired)\" after a past expiry.\n"
    "  --json  a JSON array with Bitbucket's field names: id, name,\n"
    "          createdDate, expiryDate, expiryDays, lastAuthenticated (times\n"
    "          in epoch milliseconds; absent when not set), permissions,\n"
    "          expired, user {name}.\n";

static const char bbtoken_usage_update[] =
    "Usage: bbtoken update ID [--name LABEL] [--perm PERMISSION]...\n"
    "\n"
    "Rename token ID, or replace its permissions (both levels, with the\n"
    "same rules as create: --perm given once sets the other level by\n"
    "default).  At least one of --name and --perm is needed.  The expiry\n"
    "cannot be changed.  Fails for an unknown or revoked token.\n";

static const char bbtoken_usage_revoke[] =
    "Usage: bbtoken revoke ID\n"
    "\n"
    "Revoke token ID: it stops working at once and for good.  The row is\n"
    "kept for the record.  Fails for an unknown or already revoked token.\n";

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
        }
    }
    if (argc - optind != cmd->noperands) {
        return bbtoken_usage_error(cmd->usage, "%s takes %s", cmd->full,
                                   cmd->operands);
    }
    a->operands = argv + optind;
    return BBTOKEN_GO_ON;
}

/* ---- argument checks -------------------------------------------------- */

#define BBTOKEN_ALNUM                                                          \
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

/* The schema's user name rule, checked here for a clearer message. */
static int bbtoken_check_user(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > BBT_USER_MAX || !strchr(BBTOKEN_ALNUM, name[0]) ||
        strspn(name, BBTOKEN_ALNUM "._@-") != n) {
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

    if (bbt_route_canonical_key(arg, klen, t->key) != 0) {
        return bbtoken_fail("invalid project key: %.*s", (int)klen, arg);
    }
    t->slug = NULL;
    if (slash) {
        const char *s = slash + 1;
        size_t n = strlen(s);

        if (!bbt_route_valid_slug(s, n)) {
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
    return 0;
}

/* Report a failed statement and free it.  Only the server's primary
 * message is shown: DETAIL may repeat the failing row, and a token row
 * holds the salt and the hash. */
static int bbtoken_db_fail(bbtoken_ctx_t *ctx, PGresult *res, const char *what)
{
    const char *msg =
        res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    int rc;

    if (msg && state && strncmp(state, "23", 2) == 0) {
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
     * server's clock, the one the module compares with. */
    res = PQexecParams(
        ctx->conn,
        "INSERT INTO bbtoken_tokens (id, user_id, name, project_perm,"
        " repo_perm, salt, secret_hash, expires_at)"
        " SELECT $1, u.id, $3, $4, $5, $6, $7,"
        " now() + make_interval(days => $8::integer)"
        " FROM bbtoken_users u WHERE u.id = $2 AND u.active",
        8, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
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
    inserted = strcmp(PQcmdTuples(res), "1") == 0;
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
    BBTOKEN_L_EXPIRED
};

/* ISO 8601 in UTC, whatever the session's TimeZone. */
#define BBTOKEN_ISO "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'"

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
    " expires_at IS NOT NULL AND expires_at <= now()"
    " FROM bbtoken_tokens WHERE user_id = $1 AND revoked_at IS NULL"
    " ORDER BY created_at, id";

/* An epoch-ms or day count as a JSON integer, or NULL (json_pack's "o*"
 * then leaves the member out, as Bitbucket does with unset times). */
static json_t *bbtoken_json_int(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col)) {
        return NULL;
    }
    return json_integer(
        (json_int_t)strtoll(PQgetvalue(res, row, col), NULL, 10));
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
            "{s:s, s:s, s:o, s:o*, s:o*, s:o*, s:[s,s], s:b, s:{s:s}}", "id",
            PQgetvalue(res, i, BBTOKEN_L_ID), "name",
            PQgetvalue(res, i, BBTOKEN_L_NAME), "createdDate",
            bbtoken_json_int(res, i, BBTOKEN_L_CREATED_MS), "lastAuthenticated",
            bbtoken_json_int(res, i, BBTOKEN_L_LAST_MS), "expiryDate",
            bbtoken_json_int(res, i, BBTOKEN_L_EXPIRES_MS), "expiryDays",
            bbtoken_json_int(res, i, BBTOKEN_L_DAYS), "permissions",
            PQgetvalue(res, i, BBTOKEN_L_PROJECT),
            PQgetvalue(res, i, BBTOKEN_L_REPO), "expired",
            PQgetvalue(res, i, BBTOKEN_L_EXPIRED)[0] == 't', "user", "name",
            u->name);
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
                        const char *expires, int wexp, const char *last)
{
    printf("%-12s  %s%*s  %-24s  %-20s  %-*s  %s\n", id, name,
           wname - bbtoken_width(name), "", perms, created, wexp, expires,
           last);
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
                "LAST USED");
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
                        : PQgetvalue(res, i, BBTOKEN_L_LAST));
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
    const char *params[1] = {a->operands[0]};
    long rows;
    int rc;

    (void)cmd;
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
     BBTOKEN_B(NAME) | BBTOKEN_B(PERM), 1, "update", "one ID"},
    {"revoke", bbtoken_cmd_revoke, bbtoken_usage_revoke, 0, 1, "revoke",
     "one ID"},
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
        /* The user group: "user --help", or "user SUBCOMMAND ...". */
        if (argc > 1 &&
            (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
            fputs(cmd->usage, stdout);
            return BBTOKEN_EXIT_OK;
        }
        if (argc == 1) {
            return bbtoken_usage_error(cmd->usage, "user needs a subcommand");
        }
        if (!(cmd = bbtoken_find(bbtoken_user_cmds, argv[1]))) {
            return bbtoken_usage_error(bbtoken_usage_user,
                                       "unknown user subcommand: %s", argv[1]);
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
    bbtoken_ctx_t ctx = {NULL, NULL};
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
