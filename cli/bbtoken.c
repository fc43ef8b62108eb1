/*
 * bbtoken: the administrator's command line for mod_bbtoken.
 *
 *   bbtoken [--db CONNINFO] COMMAND [ARGS...]
 *
 * It manages users, their grants, their personal access tokens and the
 * projects' and repositories' tokens in the PostgreSQL database the module
 * reads.  Input is checked here first so that mistakes get a friendly
 * message, but the schema's own constraints remain the real guard, and
 * their refusals are reported too.
 *
 * Exit status: 0 success; 1 failure with exactly one line on stderr (after
 * those that told what the command did as it went on, README);
 * 2 bad usage (a reason and the usage on stderr; a --help in place of
 * an operand the command needs shows the usage on stdout, the reason on
 * stderr); 3 stopped partway (cli.h); interrupted (SIGINT, SIGTERM,
 * SIGHUP) once connected, the failure's one line, then the end by that
 * signal (interrupt.c).  Only reports (list, policy, audit, expiring, db
 * status, db check, what notify did), create and rotate (the token
 * alone) and the counts of revoke --user and purge go to stdout; their
 * notes go to stderr.
 *
 * This file holds the command table and the dispatch; args.c the command
 * line, values.c the checks of its values, usage.c the help texts, out.c
 * the output, db.c the database session, cmd_*.c the commands.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "interrupt.h"

#define BBTOKEN_B(x) BBTOKEN_BIT(BBTOKEN_OPT_##x)

/* The user group's commands are named by their second word. */
static const bbtoken_cmd_t bbtoken_user_cmds[] = {
    {"add", bbtoken_cmd_user_add, bbtoken_usage_user,
     BBTOKEN_B(ADMIN) | BBTOKEN_B(EMAIL) | BBTOKEN_B(DISPLAY_NAME), 1,
     "user add", "one NAME", 0},
    {"set", bbtoken_cmd_user_details, bbtoken_usage_user,
     BBTOKEN_B(EMAIL) | BBTOKEN_B(NO_EMAIL) | BBTOKEN_B(DISPLAY_NAME) |
         BBTOKEN_B(NO_DISPLAY_NAME) | BBTOKEN_B(ADMIN) | BBTOKEN_B(NO_ADMIN),
     1, "user set", "one NAME", 0},
    {"show", bbtoken_cmd_user_show, bbtoken_usage_user, BBTOKEN_B(JSON), 1,
     "user show", "one NAME", 0},
    {"disable", bbtoken_cmd_user_set, bbtoken_usage_user, 0, 1, "user disable",
     "one NAME", 0},
    {"enable", bbtoken_cmd_user_set, bbtoken_usage_user, 0, 1, "user enable",
     "one NAME", 0},
    {NULL, NULL, NULL, 0, 0, NULL, NULL, 0}};

static const bbtoken_cmd_t bbtoken_db_cmds[] = {
    {"status", bbtoken_cmd_db_status, bbtoken_usage_db, 0, 0, "db status",
     "no operands", 0},
    {"upgrade", bbtoken_cmd_db_upgrade, bbtoken_usage_db, BBTOKEN_B(INIT), 0,
     "db upgrade", "no operands", 0},
    {"check", bbtoken_cmd_db_check, bbtoken_usage_db,
     BBTOKEN_B(REPAIR) | BBTOKEN_B(JSON), 0, "db check", "no operands", 0},
    {NULL, NULL, NULL, 0, 0, NULL, NULL, 0}};

static const bbtoken_cmd_t bbtoken_cmds[] = {
    {"user", NULL, bbtoken_usage_user, 0, 0, "user", NULL, 0},
    {"grant", bbtoken_cmd_grant, bbtoken_usage_grant, 0, 3, "grant",
     "NAME PERMISSION TARGET", 0},
    {"ungrant", bbtoken_cmd_ungrant, bbtoken_usage_ungrant, 0, 2, "ungrant",
     "NAME TARGET", 0},
    {"create", bbtoken_cmd_create, bbtoken_usage_create,
     BBTOKEN_B(NAME) | BBTOKEN_B(PERM) | BBTOKEN_B(EXPIRY) |
         BBTOKEN_B(PROJECT) | BBTOKEN_B(REPO) | BBTOKEN_B(ALLOW_FROM),
     -1, "create", "one NAME, or --project KEY, or --repo KEY/slug",
     BBTOKEN_B(PROJECT) | BBTOKEN_B(REPO)},
    {"list", bbtoken_cmd_list_any, bbtoken_usage_list,
     BBTOKEN_B(JSON) | BBTOKEN_B(ALL) | BBTOKEN_B(OWNER) | BBTOKEN_B(PROJECT) |
         BBTOKEN_B(REPO) | BBTOKEN_B(EXPIRED) | BBTOKEN_B(NEVER_USED) |
         BBTOKEN_B(UNUSED_FOR) | BBTOKEN_B(MIN_PERM) | BBTOKEN_B(REVOKE) |
         BBTOKEN_B(DRY_RUN) | BBTOKEN_B(KIND),
     -1, "list", "one NAME, --project KEY, --repo KEY/slug, or --all",
     BBTOKEN_B(PROJECT) | BBTOKEN_B(REPO) | BBTOKEN_B(ALL)},
    {"update", bbtoken_cmd_update, bbtoken_usage_update,
     BBTOKEN_B(NAME) | BBTOKEN_B(PERM) | BBTOKEN_B(EXPIRY) |
         BBTOKEN_B(ALLOW_FROM) | BBTOKEN_B(ALLOW_FROM_ANY),
     1, "update", "one ID", 0},
    {"revoke", bbtoken_cmd_revoke, bbtoken_usage_revoke,
     BBTOKEN_B(USER) | BBTOKEN_B(PROJECT) | BBTOKEN_B(REPO), -1, "revoke",
     "one ID, or --user NAME, --project KEY or --repo KEY/slug",
     BBTOKEN_B(USER) | BBTOKEN_B(PROJECT) | BBTOKEN_B(REPO)},
    {"rotate", bbtoken_cmd_rotate, bbtoken_usage_rotate, 0, 1, "rotate",
     "one ID", 0},
    {"expiring", bbtoken_cmd_expiring, bbtoken_usage_expiring,
     BBTOKEN_B(WITHIN) | BBTOKEN_B(JSON), 0, "expiring", "no operands", 0},
    {"purge", bbtoken_cmd_purge, bbtoken_usage_purge, BBTOKEN_B(BEFORE), 0,
     "purge", "no operands", 0},
    {"audit", bbtoken_cmd_audit, bbtoken_usage_audit,
     BBTOKEN_B(SINCE) | BBTOKEN_B(TOKEN) | BBTOKEN_B(JSON) |
         BBTOKEN_B(PROJECT) | BBTOKEN_B(REPO),
     -1, "audit", "at most one NAME", 0},
    {"policy", bbtoken_cmd_policy, bbtoken_usage_policy,
     BBTOKEN_B(REQUIRED) | BBTOKEN_B(OPTIONAL) | BBTOKEN_B(MAX_DAYS) |
         BBTOKEN_B(MAX_TOKENS) | BBTOKEN_B(REVOKE_UNUSED) | BBTOKEN_B(JSON),
     0, "policy", "no operands", 0},
    {"project", bbtoken_cmd_project, bbtoken_usage_project,
     BBTOKEN_B(REPO_ADMINS) | BBTOKEN_B(JSON), 1, "project", "one KEY", 0},
    {"notify", bbtoken_cmd_notify, bbtoken_usage_notify,
     BBTOKEN_B(DRY_RUN) | BBTOKEN_B(SENDMAIL) | BBTOKEN_B(FROM) |
         BBTOKEN_B(SENDMAIL_TIMEOUT),
     0, "notify", "no operands", 0},
    {"db", NULL, bbtoken_usage_db, 0, 0, "db", NULL, 0},
    {NULL, NULL, NULL, 0, 0, NULL, NULL, 0}};

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

/* Whether s could be a mistyped command: a short word of letters, digits
 * and hyphens. */
static int bbtoken_wordlike(const char *s)
{
    size_t n = 0;

    for (; s[n]; n++) {
        if (n >= 32 ||
            !((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
              (s[n] >= '0' && s[n] <= '9') || s[n] == '-')) {
            return 0;
        }
    }
    return n > 0;
}

static int bbtoken_main(bbtoken_ctx_t *ctx, int argc, char **argv)
{
    const bbtoken_cmd_t *cmd;
    bbtoken_args_t a;
    int first, rc;

    if ((rc = bbtoken_parse_global(argc, argv, &ctx->db, &first)) !=
        BBTOKEN_GO_ON) {
        return rc;
    }
    argc -= first;
    argv += first;
    if (argc == 0) {
        return bbtoken_usage_error(bbtoken_usage_main, "no command given");
    }
    if (!(cmd = bbtoken_find(bbtoken_cmds, argv[0]))) {
        /* A mistyped name is repeated; a word no name could be is not: a
         * connection string whose --db was forgotten may hold a password. */
        if (bbtoken_wordlike(argv[0])) {
            return bbtoken_usage_error(bbtoken_usage_main,
                                       "unknown command: %s",
                                       bbtoken_tokenless(argv[0]));
        }
        return bbtoken_usage_error(bbtoken_usage_main,
                                   "unknown command (not repeated: it is not "
                                   "a word; a --db value without its --db?)");
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
            /* "bbtoken db CONNINFO ...": db typed for --db. */
            if (bbtoken_wordlike(argv[1])) {
                return bbtoken_usage_error(
                    group->usage, "unknown %s subcommand: %s", group->name,
                    bbtoken_tokenless(argv[1]));
            }
            return bbtoken_usage_error(group->usage,
                                       "unknown %s subcommand (not repeated: "
                                       "it is not a word; a --db value?)",
                                       group->name);
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
    bbtoken_ctx_t ctx;
    int rc;

    memset(&ctx, 0, sizeof(ctx));
    if (bbtoken_std_fds() != 0) {
        return BBTOKEN_EXIT_FAIL;
    }
    bbtoken_say_tail(bbtoken_unconfirmed_tail, &ctx);
    /* A closed pipe (`bbtoken list --all | head`) must come back as EPIPE:
     * the command then stops with the write's reason on stderr and exit 1,
     * as a full disk does, rather than dying silently with a status a
     * pipeline hides, and a new token is rolled back with a message. */
    signal(SIGPIPE, SIG_IGN);
    rc = bbtoken_main(&ctx, argc, argv);
    /* A commit the standby did not confirm that no COMMIT of the CLI's
     * counted (bbtoken_committed): a statement that was its own
     * transaction. */
    bbtoken_committed(&ctx, "a transaction");
    /* Stopped after a transaction done (xact.c): whatever the command
     * made of it (most often a failure), the status says so. */
    if (ctx.stopped) {
        rc = BBTOKEN_EXIT_STOPPED;
    }

    bbtoken_interrupt_conn(NULL);
    PQfinish(ctx.conn);
    /* A full disk or a closed pipe must not pass for success; a failure
     * said already is not said again, and its line told the commits the
     * standby did not confirm before it.  Else they are told now, once. */
    if (rc != 0) {
        fflush(stdout);
    } else if (bbtoken_flush_stdout(&ctx, NULL) != 0) {
        rc = BBTOKEN_EXIT_FAIL;
    } else {
        bbtoken_unconfirmed_said(&ctx);
    }
    bbtoken_interrupt_end(rc);
    return rc;
}
