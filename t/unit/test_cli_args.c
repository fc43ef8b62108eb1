/* The bbtoken CLI's command line (cli/args.c), without a database: global
 * and per-command options, with the exact messages and exit statuses
 * t/22-cli.t and the t/3x tests see from the whole program. The checks of
 * the values themselves are t/unit/test_cli_values.c's. */
#include "cli.h"
#include "cli_capture.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

#define B(x) BBTOKEN_BIT(BBTOKEN_OPT_##x)
#define ARGV(...) ((char *[]){__VA_ARGS__, NULL})

static const bbtoken_cmd_t create_cmd = {"create",
                                         NULL,
                                         "USAGE create\n",
                                         B(NAME) | B(PERM) | B(EXPIRY) |
                                             B(ALLOW_FROM),
                                         1,
                                         "create",
                                         "one NAME",
                                         0};
static const bbtoken_cmd_t revoke_cmd = {
    "revoke", NULL,     "USAGE revoke\n",         B(USER),
    -1,       "revoke", "one ID, or --user NAME", B(USER)};
static const bbtoken_cmd_t policy_cmd = {"policy",
                                         NULL,
                                         "USAGE policy\n",
                                         B(REQUIRED) | B(OPTIONAL) |
                                             B(MAX_DAYS) | B(MAX_TOKENS) |
                                             B(REVOKE_UNUSED) | B(JSON),
                                         0,
                                         "policy",
                                         "no operands",
                                         0};
static const bbtoken_cmd_t notify_cmd = {
    "notify", NULL,     "USAGE notify\n", B(DRY_RUN) | B(SENDMAIL) | B(FROM),
    0,        "notify", "no operands",    0};
static const bbtoken_cmd_t user_add_cmd = {
    "add", NULL,       "USAGE user\n", B(ADMIN) | B(EMAIL) | B(DISPLAY_NAME),
    1,     "user add", "one NAME",     0};
static const bbtoken_cmd_t user_set_cmd = {
    "set",
    NULL,
    "USAGE user\n",
    B(EMAIL) | B(NO_EMAIL) | B(DISPLAY_NAME) | B(NO_DISPLAY_NAME) | B(ADMIN) |
        B(NO_ADMIN),
    1,
    "user set",
    "one NAME",
    0};
static const bbtoken_cmd_t update_cmd = {"update",
                                         NULL,
                                         "USAGE update\n",
                                         B(NAME) | B(PERM) | B(EXPIRY) |
                                             B(ALLOW_FROM) | B(ALLOW_FROM_ANY),
                                         1,
                                         "update",
                                         "one ID",
                                         0};

static const bbtoken_cmd_t list_cmd = {
    "list",
    NULL,
    "USAGE list\n",
    B(JSON) | B(ALL) | B(OWNER) | B(PROJECT) | B(EXPIRED) | B(NEVER_USED) |
        B(UNUSED_FOR) | B(MIN_PERM) | B(REVOKE) | B(DRY_RUN),
    -1,
    "list",
    "one NAME, or --all",
    B(ALL) | B(PROJECT)};

static int starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int argc_of(char **argv)
{
    int n = 0;

    while (argv[n]) {
        n++;
    }
    return n;
}

static int parse(const bbtoken_cmd_t *cmd, char **argv, bbtoken_args_t *a)
{
    int rc;

    capture_start();
    rc = bbtoken_parse_args(cmd, argc_of(argv), argv, a);
    capture_end();
    return rc;
}

/* A usage error: exit 2, the reason, then the command's usage. */
static void usage_error(const bbtoken_cmd_t *cmd, char **argv,
                        const char *reason, const char *what)
{
    bbtoken_args_t a;
    char want[256];

    is_int(parse(cmd, argv, &a), BBTOKEN_EXIT_USAGE, "%s: exit 2", what);
    snprintf(want, sizeof(want), "bbtoken: %s\n\n%s", reason, cmd->usage);
    is_str(capture_err, want, "%s: reason and usage on stderr", what);
    is_str(capture_out, "", "%s: nothing on stdout", what);
}

static void test_parse_args(void)
{
    bbtoken_args_t a;

    is_int(parse(&create_cmd,
                 ARGV("create", "--perm", "REPO_READ", "alice", "--name", "ci",
                      "--expiry-days", "30", "--perm", "PROJECT_READ"),
                 &a),
           BBTOKEN_GO_ON, "create: options before and after the operand");
    is_int(a.noperands, 1, "one operand");
    is_str(a.operands[0], "alice", "the operand");
    is_str(a.label, "ci", "--name");
    is_str(a.days, "30", "--expiry-days");
    is_int((long long)a.nperms, 2, "two --perm");
    is_str(a.perms[0], "REPO_READ", "first --perm");
    is_str(a.perms[1], "PROJECT_READ", "second --perm");
    is_int(a.required, -1, "policy flags untouched: -1");
    is_str(capture_err, "", "nothing on stderr");

    is_int(parse(&create_cmd, ARGV("create", "--", "--name"), &a),
           BBTOKEN_GO_ON, "\"--\" ends the options");
    is_str(a.operands[0], "--name", "what follows is an operand");

    is_int(parse(&create_cmd, ARGV("create", "alice", "--help"), &a),
           BBTOKEN_EXIT_OK, "--help: exit 0");
    is_str(capture_out, "USAGE create\n", "--help: the usage on stdout");
    /* In place of an operand the command needs, --help may be a value a
     * script passed on: nothing was done, and exit 0 would say it was
     * (t/22-cli-operands has every command). */
    is_int(parse(&create_cmd, ARGV("create", "-h"), &a), BBTOKEN_EXIT_USAGE,
           "-h without the NAME: exit 2");
    is_str(capture_out, "USAGE create\n", "the usage on stdout");
    is_str(capture_err,
           "bbtoken: create takes one NAME: only the usage was shown (an "
           "operand that begins with - goes after --)\n",
           "the reason on stderr");
    is_int(parse(&revoke_cmd, ARGV("revoke", "--help"), &a), BBTOKEN_EXIT_USAGE,
           "revoke --help: exit 2");
    is_int(parse(&revoke_cmd, ARGV("revoke", "--user", "x", "-h"), &a),
           BBTOKEN_EXIT_OK, "revoke --user x -h: exit 0");

    usage_error(&create_cmd, ARGV("create", "alice", "--json"),
                "create does not take --json", "another command's option");
    usage_error(&user_add_cmd, ARGV("add", "x", "--name", "y"),
                "user add does not take --name", "and its value");
    usage_error(&create_cmd, ARGV("create", "alice", "--name"),
                "option needs a value: --name", "a value missing");
    usage_error(&create_cmd, ARGV("create", "alice", "--bogus"),
                "bad option: --bogus", "an unknown long option");
    usage_error(&create_cmd, ARGV("create", "alice", "-x"),
                "unknown option: -x", "an unknown short option");
    usage_error(&user_add_cmd, ARGV("add", "x", "--admin=1"),
                "bad option: --admin=...", "a value given to a flag");
    /* --db after the command is not an option there; its conninfo may
     * hold a password, and the message may be mailed (cron) or logged. */
    usage_error(&create_cmd,
                ARGV("create", "alice", "--db=postgresql://u:s3cr3t@h/db"),
                "bad option: --db=...", "--db=CONNINFO after the command");
    usage_error(&create_cmd,
                ARGV("create", "alice", "--name", "s3cr3t", "-\xc3\xa9"),
                "unknown option: -\\xc3", "a non-ASCII short option");
    ok(!strstr(capture_err, "s3cr3t"), "  the value before it is not repeated");
    usage_error(&create_cmd, ARGV("create"), "create takes one NAME",
                "no operand");
    usage_error(&create_cmd, ARGV("create", "a", "b", "--name", "x"),
                "create takes one NAME", "two operands");
    usage_error(&create_cmd,
                ARGV("create", "a", "--perm", "1", "--perm", "2", "--perm", "3",
                     "--perm", "4", "--perm", "5", "--perm", "6", "--perm", "7",
                     "--perm", "8", "--perm", "9"),
                "too many --perm", "nine --perm");
    is_int(parse(&create_cmd,
                 ARGV("create", "a", "--perm", "1", "--perm", "2", "--perm",
                      "3", "--perm", "4", "--perm", "5", "--perm", "6",
                      "--perm", "7", "--perm", "8"),
                 &a),
           BBTOKEN_GO_ON, "eight --perm are kept (for bbt_perm to refuse)");

    is_int(parse(&revoke_cmd, ARGV("revoke", "--user", "bob"), &a),
           BBTOKEN_GO_ON, "revoke: no operand");
    is_int(a.noperands, 0, "none");
    is_str(a.user, "bob", "--user");
    is_int(parse(&revoke_cmd, ARGV("revoke", "123456789012"), &a),
           BBTOKEN_GO_ON, "revoke: one operand");
    usage_error(&revoke_cmd, ARGV("revoke", "1", "2"),
                "revoke takes one ID, or --user NAME", "revoke: two operands");

    is_int(parse(&policy_cmd, ARGV("policy", "--expiry-required"), &a),
           BBTOKEN_GO_ON, "policy --expiry-required");
    is_int(a.required, 1, "required");
    is_int(
        parse(&policy_cmd, ARGV("policy", "--expiry-optional", "--json"), &a),
        BBTOKEN_GO_ON, "policy --expiry-optional --json");
    is_int(a.required, 0, "optional");
    is_int(a.json, 1, "--json");
    usage_error(&policy_cmd,
                ARGV("policy", "--expiry-required", "--expiry-optional"),
                "give one of --expiry-required and --expiry-optional",
                "both expiry flags");
    usage_error(&policy_cmd, ARGV("policy", "x"), "policy takes no operands",
                "policy: an operand");
    is_int(
        parse(&policy_cmd, ARGV("policy", "--revoke-unused-after", "90d"), &a),
        BBTOKEN_GO_ON, "policy --revoke-unused-after 90d");
    is_str(a.revoke_unused, "90d", "  kept, to be checked");

    is_int(parse(&notify_cmd,
                 ARGV("notify", "--dry-run", "--sendmail", "/x/sm", "--from",
                      "a@b"),
                 &a),
           BBTOKEN_GO_ON, "notify --dry-run --sendmail --from");
    ok(a.dry_run && strcmp(a.sendmail, "/x/sm") == 0 &&
           strcmp(a.from, "a@b") == 0,
       "  each kept");
    is_int(parse(&notify_cmd, ARGV("notify"), &a), BBTOKEN_GO_ON,
           "notify alone");
    ok(!a.dry_run && !a.sendmail && !a.from, "  none of them");
    usage_error(&notify_cmd, ARGV("notify", "--json"),
                "notify does not take --json", "notify --json");
    usage_error(&notify_cmd, ARGV("notify", "alice"),
                "notify takes no operands", "notify: an operand");
    usage_error(&policy_cmd, ARGV("policy", "--dry-run"),
                "policy does not take --dry-run", "policy --dry-run");

    is_int(parse(&user_add_cmd,
                 ARGV("add", "carol@corp", "--email", "carol@corp.example",
                      "--display-name", "Carol Smith", "--admin"),
                 &a),
           BBTOKEN_GO_ON, "user add with an e-mail and a display name");
    ok(strcmp(a.email, "carol@corp.example") == 0 &&
           strcmp(a.display_name, "Carol Smith") == 0 && a.admin &&
           !a.no_email && !a.no_display_name,
       "  both kept, and --admin");
    usage_error(&user_add_cmd, ARGV("add", "x", "--no-email"),
                "user add does not take --no-email",
                "user add: nothing to clear");
    is_int(parse(&user_set_cmd, ARGV("set", "x", "--no-email"), &a),
           BBTOKEN_GO_ON, "user set --no-email");
    ok(a.no_email && !a.email && !a.display_name && !a.no_display_name,
       "  only that");
    is_int(parse(&user_set_cmd,
                 ARGV("set", "x", "--display-name", "X", "--no-email"), &a),
           BBTOKEN_GO_ON, "user set: one set, the other cleared");
    usage_error(&user_set_cmd, ARGV("set", "x", "--email", "x@y", "--no-email"),
                "give --email or --no-email, not both",
                "--email and --no-email");
    usage_error(&user_set_cmd,
                ARGV("set", "x", "--no-display-name", "--display-name", "X"),
                "give --display-name or --no-display-name, not both",
                "--display-name and --no-display-name");
    usage_error(&user_set_cmd, ARGV("set", "x", "--admin", "--no-admin"),
                "give --admin or --no-admin, not both",
                "--admin and --no-admin");
    /* update has no --no- option: the list and "any". */
    usage_error(&update_cmd,
                ARGV("update", "123456789012", "--allow-from", "10.0.0.0/8",
                     "--allow-from-any"),
                "give --allow-from or --allow-from-any, not both",
                "--allow-from and --allow-from-any");

    /* An option given twice: the second would silently replace the
     * first.  --perm (above) and --allow-from add to a list instead. */
    is_int(parse(&create_cmd,
                 ARGV("create", "a", "--name", "x", "--allow-from",
                      "10.0.0.0/8", "--allow-from", "192.0.2.1"),
                 &a),
           BBTOKEN_GO_ON, "two --allow-from");
    ok(a.nnets == 2 && strcmp(a.nets[1], "192.0.2.1") == 0, "  both kept");
    usage_error(&revoke_cmd,
                ARGV("revoke", "--user", "dave", "--user", "frank"),
                "--user given twice", "revoke --user twice");
    usage_error(&revoke_cmd, ARGV("revoke", "--us", "dave", "--user=frank"),
                "--user given twice", "  abbreviated, or with =");
    usage_error(&create_cmd,
                ARGV("create", "alice", "--name", "a", "--name", "b"),
                "--name given twice", "create --name twice");
    usage_error(&create_cmd,
                ARGV("create", "alice", "--name", "a", "--expiry-days", "1",
                     "--expiry-days", "s3cr3t"),
                "--expiry-days given twice", "create --expiry-days twice");
    ok(!strstr(capture_err, "s3cr3t"), "  its values are not repeated");
    usage_error(&list_cmd,
                ARGV("list", "--all", "--owner", "alice", "--owner", "carol",
                     "--revoke"),
                "--owner given twice", "list --all --owner twice");
    usage_error(&list_cmd, ARGV("list", "--all", "--json", "--json"),
                "--json given twice", "a flag twice");
    usage_error(&policy_cmd,
                ARGV("policy", "--expiry-required", "--expiry-required"),
                "--expiry-required given twice", "--expiry-required twice");
    usage_error(&notify_cmd,
                ARGV("notify", "--sendmail", "/a", "--sendmail", "/b"),
                "--sendmail given twice", "notify --sendmail twice");
    usage_error(&notify_cmd, ARGV("notify", "--from", "a@b", "--from", ""),
                "--from given twice", "notify --from twice, once empty");
    usage_error(&user_set_cmd,
                ARGV("set", "x", "--email", "a@b", "--email", "c@d"),
                "--email given twice", "user set --email twice");
}

static int global(char **argv, const char **db, int *cmd)
{
    int rc;

    *db = NULL;
    *cmd = -1;
    capture_start();
    rc = bbtoken_parse_global(argc_of(argv), argv, db, cmd);
    capture_end();
    return rc;
}

static void test_parse_global(void)
{
    const char *db;
    int cmd;

    is_int(global(ARGV("bbtoken", "--db", "dbname=x", "list", "--db", "y"), &db,
                  &cmd),
           BBTOKEN_GO_ON, "--db before the command");
    is_str(db, "dbname=x", "its value");
    is_int(cmd, 3, "the command word is argv[3]; later options are its own");
    is_int(global(ARGV("bbtoken", "list", "--help"), &db, &cmd), BBTOKEN_GO_ON,
           "--help after the command is the command's");
    is_int(cmd, 1, "the command word is argv[1]");
    is_int(global(ARGV("bbtoken"), &db, &cmd), BBTOKEN_GO_ON,
           "no command: left to the caller");
    is_int(cmd, 1, "the command word would be argv[argc]");
    is_int(global(ARGV("bbtoken", "--version"), &db, &cmd), BBTOKEN_EXIT_OK,
           "--version: exit 0");
    is_str(capture_out, "bbtoken " BBT_VERSION "\n", "the version");
    is_int(global(ARGV("bbtoken", "-h", "list"), &db, &cmd), BBTOKEN_EXIT_OK,
           "-h: exit 0");
    is_str(capture_out, bbtoken_usage_main, "the main usage on stdout");
    is_int(
        global(ARGV("bbtoken", "--db", "dbname=a", "--db", "dbname=b", "list"),
               &db, &cmd),
        BBTOKEN_EXIT_USAGE, "--db twice: exit 2");
    ok(starts(capture_err, "bbtoken: --db given twice\n\nUsage:"),
       "says so, then the usage");
    ok(!strstr(capture_err, "dbname="), "  without either value");
    /* libpq would take PGDATABASE and PGHOST for it: `--db "$DB"` with
     * DB unset would act on another database. */
    is_int(global(ARGV("bbtoken", "--db", "", "db", "status"), &db, &cmd),
           BBTOKEN_EXIT_USAGE, "--db empty: exit 2");
    ok(starts(capture_err, "bbtoken: --db must not be empty\n\nUsage:"),
       "says so, then the usage");
    is_int(global(ARGV("bbtoken", "--db=", "list"), &db, &cmd),
           BBTOKEN_EXIT_USAGE, "--db= empty: exit 2");
    is_int(global(ARGV("bbtoken", "--db"), &db, &cmd), BBTOKEN_EXIT_USAGE,
           "--db without a value: exit 2");
    ok(starts(capture_err, "bbtoken: option needs a value: --db\n\nUsage:"),
       "says so, then the usage");
    is_int(global(ARGV("bbtoken", "--bogus", "list"), &db, &cmd),
           BBTOKEN_EXIT_USAGE, "an unknown global option: exit 2");
    ok(starts(capture_err, "bbtoken: bad option: --bogus\n\nUsage:"),
       "names it");
    is_int(global(ARGV("bbtoken", "--dbx=host=h password=s3cr3t", "list"), &db,
                  &cmd),
           BBTOKEN_EXIT_USAGE, "a mistyped --db=CONNINFO: exit 2");
    ok(starts(capture_err, "bbtoken: bad option: --dbx=...\n\nUsage:"),
       "names it without its value");
    /* A non-ASCII byte typed after "-" (an "-é"): getopt stays on that
     * word while the rest of it is unread, and the word before is --db's
     * value. */
    is_int(global(ARGV("bbtoken", "--db", "host=h password=s3cr3t", "-\xc3\xa9",
                       "list"),
                  &db, &cmd),
           BBTOKEN_EXIT_USAGE, "-\\xc3\\xa9 after --db CONNINFO: exit 2");
    ok(!strstr(capture_err, "s3cr3t"), "the conninfo is not repeated");
    ok(starts(capture_err, "bbtoken: unknown option: -\\xc3\n"),
       "names the option as unknown");
}

/* The inventory's options lie past an unsigned int's 32 bits: each is
 * its own, and none takes another's place in a command's mask. */
static void test_inventory_args(void)
{
    bbtoken_args_t a;

    ok(B(REVOKE) > 0xffffffffull, "--revoke's bit is past the 32nd");
    is_int(parse(&list_cmd,
                 ARGV("list", "--all", "--owner", "Alice", "--project", "P",
                      "--expired", "--never-used", "--unused-for", "90d",
                      "--min-perm", "REPO_WRITE", "--revoke", "--dry-run",
                      "--json"),
                 &a),
           BBTOKEN_GO_ON, "list --all with every filter");
    ok(a.all && a.expired && a.never_used && a.revoke && a.dry_run && a.json,
       "the flags");
    is_str(a.owner, "Alice", "--owner");
    is_str(a.project, "P", "--project");
    is_str(a.unused_for, "90d", "--unused-for");
    is_str(a.min_perm, "REPO_WRITE", "--min-perm");
    is_int(a.noperands, 0, "no operand");
    usage_error(&create_cmd, ARGV("create", "alice", "--revoke"),
                "create does not take --revoke", "--revoke elsewhere");
    usage_error(&policy_cmd, ARGV("policy", "--all"),
                "policy does not take --all", "--all elsewhere");
    usage_error(&notify_cmd, ARGV("notify", "--min-perm", "REPO_READ"),
                "notify does not take --min-perm", "--min-perm elsewhere");
}

static const bbtoken_cmd_t ungrant_cmd = {
    "ungrant", NULL,      "USAGE ungrant\n",   B(JSON),
    2,         "ungrant", "NAME and a TARGET", 0};

/* The operands and options of a command line read the same whatever the
 * environment: under POSIXLY_CORRECT glibc's getopt_long stopped at the
 * first operand, so `list alice --json` was two operands (exit 2). */
/* Operand i, or NULL where the parse gave fewer. */
static const char *operand(const bbtoken_args_t *a, int i)
{
    return a->operands && i < a->noperands ? a->operands[i] : NULL;
}

static void test_operand_places(const char *env)
{
    bbtoken_args_t a;

    is_int(parse(&list_cmd, ARGV("list", "alice", "--json"), &a), BBTOKEN_GO_ON,
           "%s: list NAME --json", env);
    is_int(a.noperands, 1, "%s: one operand", env);
    is_str(operand(&a, 0), "alice", "%s: the operand", env);
    is_int(a.json, 1, "%s: --json after it", env);
    is_int(parse(&create_cmd,
                 ARGV("create", "--perm", "REPO_READ", "alice", "--name", "ci",
                      "--expiry-days", "30"),
                 &a),
           BBTOKEN_GO_ON, "%s: create, options before and after", env);
    is_str(operand(&a, 0), "alice", "%s: the operand", env);
    is_str(a.label, "ci", "%s: --name", env);
    is_str(a.days, "30", "%s: --expiry-days", env);
    is_int(parse(&ungrant_cmd, ARGV("ungrant", "alice", "--json", "PROJ"), &a),
           BBTOKEN_GO_ON, "%s: an option between the operands", env);
    is_int(a.noperands, 2, "%s: two operands", env);
    is_str(operand(&a, 0), "alice", "%s: the first", env);
    is_str(operand(&a, 1), "PROJ", "%s: the second", env);
    is_int(a.json, 1, "%s: the option", env);
    is_int(parse(&ungrant_cmd, ARGV("ungrant", "alice", "--", "--json"), &a),
           BBTOKEN_GO_ON, "%s: an operand before \"--\", one after", env);
    is_int(a.json, 0, "%s: after \"--\" no option", env);
    is_str(operand(&a, 0), "alice", "%s: the first, before", env);
    is_str(operand(&a, 1), "--json", "%s: the second, after", env);
    is_int(parse(&list_cmd, ARGV("list", "--json", "--", "--all"), &a),
           BBTOKEN_GO_ON, "%s: list --json -- --all", env);
    is_int(a.all, 0, "%s: --all after \"--\" is an operand", env);
    is_str(operand(&a, 0), "--all", "%s: the operand", env);
    usage_error(&create_cmd, ARGV("create", "a", "b", "--name", "x"),
                "create takes one NAME", "two operands, an option after");
    usage_error(&create_cmd, ARGV("create", "alice", "--json"),
                "create does not take --json", "an option after the operand");
    is_int(parse(&revoke_cmd, ARGV("revoke", "x", "--help"), &a),
           BBTOKEN_EXIT_OK, "%s: revoke ID --help: exit 0", env);
}

int main(void)
{
    test_parse_args();
    test_inventory_args();
    test_operand_places("environment as it is");
    setenv("POSIXLY_CORRECT", "1", 1);
    test_operand_places("POSIXLY_CORRECT=1");
    unsetenv("POSIXLY_CORRECT");
    test_parse_global();
    return done_testing();
}
