/*
 * The command line: global options and each command's options
 * (getopt_long, one table for all, a mask per command), before any
 * database is asked.  The checks of the values given are values.c's.
 *
 * No libpq here: tested alone by t/unit/test_cli_args.c.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "bbt_tokshape.h"
#include "cli.h"

int bbtoken_opt_error(const char *usage, int c, char **argv)
{
    const char *arg = argv[optind - 1];
    const char *eq = strncmp(arg, "--", 2) == 0 ? strchr(arg, '=') : NULL;

    if (c == ':') {
        return bbtoken_usage_error(usage, "option needs a value: %s",
                                   bbtoken_tokenless(argv[optind - 1]));
    }
    /* A short option.  getopt gives its byte as a char, negative for a
     * non-ASCII one (an "-é"), and stays on its word while the rest is
     * unread: argv[optind - 1] is then the word before, maybe --db's
     * value. */
    if (c == '?' && optopt != 0 && optopt < 256) {
        unsigned char b = (unsigned char)optopt;

        if (b > 0x20 && b < 0x7f) {
            return bbtoken_usage_error(usage, "unknown option: -%c", b);
        }
        return bbtoken_usage_error(usage, "unknown option: -\\x%02x", b);
    }
    /* An unknown long option, a value given to a flag, or another
     * command's option.  Its value is not repeated: --db=CONNINFO after
     * the command, or mistyped, may hold a password; nor is a token,
     * wherever it stands. */
    if (eq && !bbt_token_shaped(arg, (size_t)(eq - arg))) {
        return bbtoken_usage_error(usage, "bad option: %.*s=...",
                                   (int)(eq - arg), arg);
    }
    return bbtoken_usage_error(usage, "bad option: %s", bbtoken_tokenless(arg));
}

/* Global options stop at the first operand, the command: "+". */
int bbtoken_parse_global(int argc, char **argv, const char **db, int *cmd)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, BBTOKEN_OPT_DB},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, BBTOKEN_OPT_VERSION},
        {NULL, 0, NULL, 0}};
    int c, db_seen = 0;

    opterr = 0; /* our messages, not getopt's */
    optind = 0; /* glibc: start afresh on a new argv */
    while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            fputs(bbtoken_usage_main, stdout);
            return BBTOKEN_EXIT_OK;
        case BBTOKEN_OPT_VERSION:
            puts("bbtoken " BBT_VERSION);
            return BBTOKEN_EXIT_OK;
        case BBTOKEN_OPT_DB:
            /* The second would win, unseen: connected to one database
             * while the first was meant. */
            if (db_seen++) {
                return bbtoken_usage_error(bbtoken_usage_main,
                                           "--db given twice");
            }
            /* libpq skips an empty dbname and takes its environment's:
             * `--db "$DB"` with DB unset would act on whatever
             * PGDATABASE and PGHOST name. */
            if (!*optarg) {
                return bbtoken_usage_error(bbtoken_usage_main,
                                           "--db must not be empty");
            }
            *db = optarg;
            break;
        default:
            return bbtoken_opt_error(bbtoken_usage_main, c, argv);
        }
    }
    *cmd = optind;
    return BBTOKEN_GO_ON;
}

/* Every command option; each command takes the ones in its mask. */
static const struct option bbtoken_cmd_opts[] = {
    {"admin", no_argument, NULL, BBTOKEN_OPT_ADMIN},
    {"no-admin", no_argument, NULL, BBTOKEN_OPT_NO_ADMIN},
    {"name", required_argument, NULL, BBTOKEN_OPT_NAME},
    {"perm", required_argument, NULL, BBTOKEN_OPT_PERM},
    {"allow-from", required_argument, NULL, BBTOKEN_OPT_ALLOW_FROM},
    {"allow-from-any", no_argument, NULL, BBTOKEN_OPT_ALLOW_FROM_ANY},
    {"expiry-days", required_argument, NULL, BBTOKEN_OPT_EXPIRY},
    {"json", no_argument, NULL, BBTOKEN_OPT_JSON},
    {"init", no_argument, NULL, BBTOKEN_OPT_INIT},
    {"repair", no_argument, NULL, BBTOKEN_OPT_REPAIR},
    {"user", required_argument, NULL, BBTOKEN_OPT_USER},
    {"since", required_argument, NULL, BBTOKEN_OPT_SINCE},
    {"token", required_argument, NULL, BBTOKEN_OPT_TOKEN},
    {"within", required_argument, NULL, BBTOKEN_OPT_WITHIN},
    {"expired-before", required_argument, NULL, BBTOKEN_OPT_BEFORE},
    {"expiry-required", no_argument, NULL, BBTOKEN_OPT_REQUIRED},
    {"expiry-optional", no_argument, NULL, BBTOKEN_OPT_OPTIONAL},
    {"max-expiry-days", required_argument, NULL, BBTOKEN_OPT_MAX_DAYS},
    {"max-tokens", required_argument, NULL, BBTOKEN_OPT_MAX_TOKENS},
    {"email", required_argument, NULL, BBTOKEN_OPT_EMAIL},
    {"no-email", no_argument, NULL, BBTOKEN_OPT_NO_EMAIL},
    {"display-name", required_argument, NULL, BBTOKEN_OPT_DISPLAY_NAME},
    {"no-display-name", no_argument, NULL, BBTOKEN_OPT_NO_DISPLAY_NAME},
    {"revoke-unused-after", required_argument, NULL, BBTOKEN_OPT_REVOKE_UNUSED},
    {"dry-run", no_argument, NULL, BBTOKEN_OPT_DRY_RUN},
    {"sendmail", required_argument, NULL, BBTOKEN_OPT_SENDMAIL},
    {"from", required_argument, NULL, BBTOKEN_OPT_FROM},
    {"sendmail-timeout", required_argument, NULL, BBTOKEN_OPT_SENDMAIL_TIMEOUT},
    {"all", no_argument, NULL, BBTOKEN_OPT_ALL},
    {"owner", required_argument, NULL, BBTOKEN_OPT_OWNER},
    {"project", required_argument, NULL, BBTOKEN_OPT_PROJECT},
    {"expired", no_argument, NULL, BBTOKEN_OPT_EXPIRED},
    {"never-used", no_argument, NULL, BBTOKEN_OPT_NEVER_USED},
    {"unused-for", required_argument, NULL, BBTOKEN_OPT_UNUSED_FOR},
    {"min-perm", required_argument, NULL, BBTOKEN_OPT_MIN_PERM},
    {"revoke", no_argument, NULL, BBTOKEN_OPT_REVOKE},
    {"repo", required_argument, NULL, BBTOKEN_OPT_REPO},
    {"repo-admins-manage-tokens", required_argument, NULL,
     BBTOKEN_OPT_REPO_ADMINS},
    {"kind", required_argument, NULL, BBTOKEN_OPT_KIND},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};

/* The long name of option c, as the table spells it (getopt_long also
 * takes an unambiguous abbreviation of it). */
static const char *bbtoken_opt_name(int c)
{
    const struct option *o = bbtoken_cmd_opts;

    while (o->name && o->val != c) {
        o++;
    }
    return o->name ? o->name : "?";
}

/* The options that add to a list.  Any other one given again would
 * replace its first value, unseen: `revoke --user a --user b` would
 * revoke b's tokens alone and leave a's live. */
#define BBTOKEN_REPEATABLE                                                     \
    (BBTOKEN_BIT(BBTOKEN_OPT_PERM) | BBTOKEN_BIT(BBTOKEN_OPT_ALLOW_FROM))

/* --help: the usage on stdout.  Where the command lacks an operand it
 * needs, the --help may be that operand, a value a script passed on
 * (`bbtoken user disable "$N"`, N=--help): nothing was done, and exit 0
 * would say it was. */
static int bbtoken_help(const bbtoken_cmd_t *cmd, unsigned long long seen,
                        int noperands)
{
    int wanted = noperands == cmd->noperands;

    if (cmd->noperands < 0) {
        wanted = noperands == 1 ||
                 (noperands == 0 && (!cmd->instead || (seen & cmd->instead)));
    }
    /* The reason first, as a usage error has it. */
    if (!wanted) {
        bbtoken_warn("%s takes %s: only the usage was shown (an operand that "
                     "begins with - goes after --)",
                     cmd->full, cmd->operands);
    }
    fputs(cmd->usage, stdout);
    return wanted ? BBTOKEN_EXIT_OK : BBTOKEN_EXIT_USAGE;
}

/* The two options given that say opposite things of one value (a value
 * and its --no- option, a list and "any"), as "--a or --b", or NULL. */
static const char *bbtoken_args_conflict(const bbtoken_args_t *a)
{
    if (a->email && a->no_email) {
        return "--email or --no-email";
    }
    if (a->display_name && a->no_display_name) {
        return "--display-name or --no-display-name";
    }
    if (a->admin && a->no_admin) {
        return "--admin or --no-admin";
    }
    if (a->nnets && a->nets_any) {
        return "--allow-from or --allow-from-any";
    }
    return NULL;
}

/* Options may come before, between or after the operands (`list NAME
 * --json`), so a word that begins with "-" is an option wherever it
 * stands; "--" ends them.  Each operand is taken where it stands ("-":
 * getopt_long returns it as the value of option 1), not left to glibc's
 * reordering, which POSIXLY_CORRECT in the environment turns off: there
 * the options after the first operand were operands.  The operands are
 * moved to argv[1...], in order, over words already read. */
int bbtoken_parse_args(const bbtoken_cmd_t *cmd, int argc, char **argv,
                       bbtoken_args_t *a)
{
    unsigned long long seen = 0;
    const char *both;
    int c, help = 0, nops = 0;

    memset(a, 0, sizeof(*a));
    a->required = -1;
    opterr = 0;
    optind = 0;
    while ((c = getopt_long(argc, argv, "-:h", bbtoken_cmd_opts, NULL)) != -1) {
        if (c == 1) {
            argv[1 + nops++] = optarg;
            continue;
        }
        /* Read on: whether the operands are all there. */
        if (c == 'h') {
            help = 1;
            continue;
        }
        if (c < BBTOKEN_OPT_DB) {
            return bbtoken_opt_error(cmd->usage, c, argv);
        }
        if (!(cmd->opts & BBTOKEN_BIT(c))) {
            /* Another command's option; its value may be argv[optind-1]. */
            return bbtoken_usage_error(cmd->usage, "%s does not take --%s",
                                       cmd->full, bbtoken_opt_name(c));
        }
        /* Named without its values: either may be a connection string
         * typed without its --db. */
        if (seen & BBTOKEN_BIT(c) & ~BBTOKEN_REPEATABLE) {
            return bbtoken_usage_error(cmd->usage, "--%s given twice",
                                       bbtoken_opt_name(c));
        }
        seen |= BBTOKEN_BIT(c);
        switch (c) {
        case BBTOKEN_OPT_ADMIN:
            a->admin = 1;
            break;
        case BBTOKEN_OPT_NO_ADMIN:
            a->no_admin = 1;
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
        case BBTOKEN_OPT_REPAIR:
            a->repair = 1;
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
        case BBTOKEN_OPT_EMAIL:
            a->email = optarg;
            break;
        case BBTOKEN_OPT_NO_EMAIL:
            a->no_email = 1;
            break;
        case BBTOKEN_OPT_DISPLAY_NAME:
            a->display_name = optarg;
            break;
        case BBTOKEN_OPT_NO_DISPLAY_NAME:
            a->no_display_name = 1;
            break;
        case BBTOKEN_OPT_REVOKE_UNUSED:
            a->revoke_unused = optarg;
            break;
        case BBTOKEN_OPT_DRY_RUN:
            a->dry_run = 1;
            break;
        case BBTOKEN_OPT_SENDMAIL:
            a->sendmail = optarg;
            break;
        case BBTOKEN_OPT_FROM:
            a->from = optarg;
            break;
        case BBTOKEN_OPT_SENDMAIL_TIMEOUT:
            a->sendmail_timeout = optarg;
            break;
        case BBTOKEN_OPT_ALL:
            a->all = 1;
            break;
        case BBTOKEN_OPT_OWNER:
            a->owner = optarg;
            break;
        case BBTOKEN_OPT_PROJECT:
            a->project = optarg;
            break;
        case BBTOKEN_OPT_EXPIRED:
            a->expired = 1;
            break;
        case BBTOKEN_OPT_NEVER_USED:
            a->never_used = 1;
            break;
        case BBTOKEN_OPT_UNUSED_FOR:
            a->unused_for = optarg;
            break;
        case BBTOKEN_OPT_MIN_PERM:
            a->min_perm = optarg;
            break;
        case BBTOKEN_OPT_REVOKE:
            a->revoke = 1;
            break;
        case BBTOKEN_OPT_REPO:
            a->repo = optarg;
            break;
        case BBTOKEN_OPT_REPO_ADMINS:
            a->repo_admins = optarg;
            break;
        case BBTOKEN_OPT_KIND:
            a->kind = optarg;
            break;
        case BBTOKEN_OPT_ALLOW_FROM:
            if (a->nnets == BBT_NETS_MAX) {
                return bbtoken_usage_error(cmd->usage, "too many --allow-from");
            }
            a->nets[a->nnets++] = optarg;
            break;
        case BBTOKEN_OPT_ALLOW_FROM_ANY:
            a->nets_any = 1;
            break;
        }
    }
    if ((both = bbtoken_args_conflict(a))) {
        return bbtoken_usage_error(cmd->usage, "give %s, not both", both);
    }
    /* The words after "--". */
    while (optind < argc) {
        argv[1 + nops++] = argv[optind++];
    }
    if (help) {
        return bbtoken_help(cmd, seen, nops);
    }
    if (cmd->noperands < 0 && nops <= 1) {
        a->operands = argv + 1;
        a->noperands = nops;
        return BBTOKEN_GO_ON;
    }
    if (nops != cmd->noperands) {
        return bbtoken_usage_error(cmd->usage, "%s takes %s", cmd->full,
                                   cmd->operands);
    }
    a->operands = argv + 1;
    a->noperands = nops;
    return BBTOKEN_GO_ON;
}
