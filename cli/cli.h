/*
 * The bbtoken CLI's own interface, between its files: the command line as
 * parsed (args.c) and its values checked (values.c), what it prints
 * (out.c), the usage texts (usage.c) and the commands (cmd_*.c), which
 * main() (bbtoken.c) dispatches to.
 *
 * Nothing here needs libpq: args.c, values.c and out.c are built and
 * unit-tested without it.  The database session is db.h's.
 *
 * Exit status: 0 success; 1 failure with exactly one line on stderr (after
 * those that told what the command did as it went on, README);
 * 2 bad usage (a reason and the usage on stderr); 3 stopped partway: a
 * transaction whose COMMIT's answer was lost was done, but the session
 * the command held state in went with the connection (db.h).  A command
 * interrupted says its one line as a failure does, then ends by the
 * signal (interrupt.h).
 */
#ifndef BBTOKEN_CLI_H
#define BBTOKEN_CLI_H

#include <stddef.h>

#include <jansson.h>

#include "bbt_input.h"
#include "bbt_kind.h"
#include "bbt_perm.h"

#define BBTOKEN_EXIT_OK 0
#define BBTOKEN_EXIT_FAIL 1
#define BBTOKEN_EXIT_USAGE 2
#define BBTOKEN_EXIT_STOPPED 3
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
    BBTOKEN_OPT_MAX_TOKENS,
    BBTOKEN_OPT_EMAIL,
    BBTOKEN_OPT_NO_EMAIL,
    BBTOKEN_OPT_DISPLAY_NAME,
    BBTOKEN_OPT_NO_DISPLAY_NAME,
    BBTOKEN_OPT_REVOKE_UNUSED,
    BBTOKEN_OPT_DRY_RUN,
    BBTOKEN_OPT_SENDMAIL,
    BBTOKEN_OPT_FROM,
    /* list --all: the inventory's filters, and its bulk revocation */
    BBTOKEN_OPT_ALL,
    BBTOKEN_OPT_OWNER,
    BBTOKEN_OPT_PROJECT,
    BBTOKEN_OPT_EXPIRED,
    BBTOKEN_OPT_NEVER_USED,
    BBTOKEN_OPT_UNUSED_FOR,
    BBTOKEN_OPT_MIN_PERM,
    BBTOKEN_OPT_REVOKE,
    /* --repo KEY/slug (create, list, revoke, audit), and project's
     * setting */
    BBTOKEN_OPT_REPO,
    BBTOKEN_OPT_REPO_ADMINS,
    /* list --all --kind */
    BBTOKEN_OPT_KIND,
    /* create, update: the token's allow-list */
    BBTOKEN_OPT_ALLOW_FROM,
    BBTOKEN_OPT_ALLOW_FROM_ANY,
    /* db check --repair */
    BBTOKEN_OPT_REPAIR,
    /* user set --no-admin */
    BBTOKEN_OPT_NO_ADMIN,
    /* notify: how long a mailer may take a message */
    BBTOKEN_OPT_SENDMAIL_TIMEOUT
};
/* More options than an unsigned int has bits. */
#define BBTOKEN_BIT(opt) (1ull << ((opt)-BBTOKEN_OPT_DB))

/* Two --perm make a full pair; more are refused by bbt_perm_from_list, but
 * must be stored to be refused. */
#define BBTOKEN_MAX_PERMS 8

/* The database session (db.h); commands get it from main(). */
typedef struct bbtoken_ctx bbtoken_ctx_t;

/* A command line after option parsing; values are checked by commands. */
typedef struct {
    char **operands;
    const char *label; /* --name */
    const char *days;  /* --expiry-days */
    const char *perms[BBTOKEN_MAX_PERMS];
    size_t nperms;
    int admin;
    int no_admin;
    int json;
    int init;               /* db upgrade --init */
    int repair;             /* db check --repair */
    const char *user;       /* revoke --user */
    const char *since;      /* audit --since */
    const char *token;      /* audit --token */
    const char *within;     /* expiring --within */
    const char *before;     /* purge --expired-before */
    int required;           /* policy: 1 required, 0 optional, -1 as is */
    const char *max_days;   /* policy --max-expiry-days */
    const char *max_tokens; /* policy --max-tokens */
    /* user add, user set: a value, or (user set) no_ to clear it */
    const char *email;
    const char *display_name;
    int no_email;
    int no_display_name;
    const char *revoke_unused;    /* policy --revoke-unused-after */
    int dry_run;                  /* notify */
    const char *sendmail;         /* notify --sendmail */
    const char *from;             /* notify --from */
    const char *sendmail_timeout; /* notify --sendmail-timeout */
    /* list --all */
    int all;
    const char *owner;
    const char *project; /* --project KEY: a project's tokens, or
                            (list --all) a filter */
    int expired;
    int never_used;
    const char *unused_for;
    const char *min_perm;
    int revoke;
    const char *repo;               /* --repo KEY/slug: a repository's */
    const char *repo_admins;        /* project --repo-admins-manage-tokens */
    const char *kind;               /* list --all --kind */
    const char *nets[BBT_NETS_MAX]; /* --allow-from, in order */
    size_t nnets;
    int nets_any; /* update --allow-from-any */
    int noperands;
} bbtoken_args_t;

typedef struct bbtoken_cmd bbtoken_cmd_t;
struct bbtoken_cmd {
    const char *name;
    int (*run)(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
               const bbtoken_args_t *a);
    const char *usage;
    unsigned long long opts; /* BBTOKEN_BIT()s of the options it takes */
    int noperands;           /* -1: none or one */
    const char *full;        /* "user add" */
    const char *operands;    /* what it takes, for complaints */
    /* With noperands -1, the options that name what the operand would
     * (revoke's --user): without one of them the operand is needed.  0:
     * it is optional (audit). */
    unsigned long long instead;
};

/* A grant's TARGET: KEY or KEY/slug. */
typedef struct {
    char key[BBT_KEY_BUF]; /* canonical */
    const char *slug;      /* NULL for a project */
} bbtoken_target_t;

/* A WHEN as the two parameters of BBTOKEN_WHEN_12 (db.h): abs
 * ("YYYY-MM-DD HH:MM:SS", UTC) or ago (seconds), the other NULL. */
typedef struct {
    char absbuf[32];
    char agobuf[32];
    const char *abs;
    const char *ago;
} bbtoken_when_t;

/* ---- usage.c: the --help texts ---------------------------------------- */

extern const char bbtoken_usage_main[];
extern const char bbtoken_usage_user[];
extern const char bbtoken_usage_grant[];
extern const char bbtoken_usage_ungrant[];
extern const char bbtoken_usage_create[];
extern const char bbtoken_usage_list[];
extern const char bbtoken_usage_update[];
extern const char bbtoken_usage_revoke[];
extern const char bbtoken_usage_rotate[];
extern const char bbtoken_usage_expiring[];
extern const char bbtoken_usage_purge[];
extern const char bbtoken_usage_audit[];
extern const char bbtoken_usage_policy[];
extern const char bbtoken_usage_notify[];
extern const char bbtoken_usage_project[];
extern const char bbtoken_usage_db[];

/* ---- out.c: what the CLI prints --------------------------------------- */

/* "bbtoken: REASON" as one line on stderr; returns BBTOKEN_EXIT_FAIL. */
int bbtoken_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A value to repeat in an error line: v, or words saying it is not
 * repeated where it looks like a token (bbtoken_tokenless) or a
 * connection string (keyword=value, or a URI), which may hold a password:
 * one given where an operand or an option's value belongs, its --db
 * forgotten, must not reach stderr (a cron job mails it). */
const char *bbtoken_repeatable(const char *v);
/* Whether v holds a token, right or wrong, by the rule of what the module
 * never logs (bbt_token_shaped: a value given where a token goes, the prefix
 * alone included): an administrator with a leaked token types
 * `bbtoken revoke TOKEN`, and the token, shown once by create, must not
 * then go out on stderr.  A value derived from it (a key in upper case, a
 * name's slug) can be mended back into it: the value as given is what is
 * judged. */
int bbtoken_token_like(const char *v);
/* v, or words saying it is not repeated where it looks like a token. */
const char *bbtoken_tokenless(const char *v);
/* Whether v, a user's name, holds a token by the rule of names
 * (bbt_token_in_name): BBDC-deploy is a user that may be added, and is
 * named in what is said of it. */
int bbtoken_user_like(const char *v);
/* bbtoken_repeatable for a user's name, by the rule of names. */
const char *bbtoken_user_repeatable(const char *v);
/* Whatever stdout holds written out: 0, or -1 with *err the reason this
 * write found (an errno), or 0 where an earlier one failed.  A failed
 * write (a full disk, a closed pipe) must not pass for success, nor a
 * streamed report go on past it: db.h's bbtoken_flush_stdout says so. */
int bbtoken_stdout_written(int *err);
/* The same line, for what does not fail the command (a warning). */
void bbtoken_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Until called again with NULL, what bbtoken_fail and bbtoken_warn say
 * goes into buf (size bytes, emptied first; "; " between two reasons)
 * as it would be shown, instead of stderr: a step whose failure is part
 * of the command's one line (xact.c, connecting again after a lost
 * COMMIT). */
void bbtoken_say_hold(char *buf, size_t size);

/* The buffer held now (NULL: none, stderr) and its size; and held again,
 * its text kept: a step that holds what is said while its caller holds
 * it too gives it back so. */
char *bbtoken_say_held(size_t *size);
void bbtoken_say_resume(char *buf, size_t size);

/* What a failure's line on stderr ends with, after "; ": fn(arg)'s text,
 * where it gives one ("" or NULL: nothing).  A commit the synchronous
 * standby did not confirm is said so, once, in the command's one line
 * (db.c).  Warnings and held text are left as they are. */
typedef const char *bbtoken_tail_fn(void *arg);
void bbtoken_say_tail(bbtoken_tail_fn *fn, void *arg);

/* A reason, then the usage, on stderr; returns BBTOKEN_EXIT_USAGE. */
int bbtoken_usage_error(const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The terminal columns a UTF-8 string takes as a table shows it: two for
 * an East Asian wide or fullwidth character, none for a combining mark
 * (wcwidth in a UTF-8 locale), one for each character shown as "?". */
int bbtoken_width(const char *s);

/* Measure widths in the LC_CTYPE of locale name from now on (C.UTF-8,
 * made on first use, unless a test names another).  0, or -1 where it
 * cannot be made: a table then shows every non-ASCII character as "?". */
int bbtoken_width_locale(const char *name);

/* The most columns a table has. */
#define BBTOKEN_TABLE_COLS 12

/* Print rows x cols cells (row-major, the first row the header), each
 * column as wide as its widest cell and at least min[c] (min may be
 * NULL), two spaces apart; the last column is not padded.  Each cell is
 * printed as bbt_input_shown shows it, a character without a known width
 * as "?" too (bbtoken_width). */
void bbtoken_table(const char *const *cells, int rows, int cols,
                   const int *min);

/* bbtoken_table a row at a time, for rows read twice (stream.c): widen
 * w[c] to each of row's cells as shown, then print row with those widths.
 * 0, or an exit status after reporting. */
int bbtoken_table_measure(const char *const *row, int cols, int *w);
int bbtoken_table_row(const char *const *row, int cols, const int *w);

/* A table filled a row at a time.  Its cells point at strings that
 * outlive it (a result's values, literals) or at the scratch buffers it
 * owns, BBTOKEN_CELL_MAX bytes each and nscratch per row, so that cells
 * formatted into buffers need no allocation of their own and everything
 * is freed at once. */
#define BBTOKEN_CELL_MAX 64

typedef struct {
    const char **cells; /* (rows + 1) x cols, the header first */
    char *scratch;      /* rows x nscratch buffers */
    int rows, cols, nscratch;
} bbtoken_grid_t;

/* Set row i's cells (0 is the first after the header) from arg. */
typedef void bbtoken_grid_fill_fn(bbtoken_grid_t *g, int i, const char **row,
                                  const void *arg);

/* Print a table of head and rows rows that fill sets, as bbtoken_table
 * does.  0, or an exit status after reporting. */
int bbtoken_grid_table(const char *const *head, int cols, const int *min,
                       int rows, int nscratch, bbtoken_grid_fill_fn *fill,
                       const void *arg);

/* Row i's scratch buffer k, BBTOKEN_CELL_MAX bytes. */
char *bbtoken_grid_buf(bbtoken_grid_t *g, int i, int k);

/* Print a JSON value on stdout, then free it; NULL is out of memory. */
int bbtoken_json_out(json_t *v);

/* The flags bbtoken_json_out dumps with. */
size_t bbtoken_json_flags(void);

/* Print v, an element of an array `depth` levels deep in a document (the
 * document's own array: 1), as json_dumps with flags lays it out there,
 * after the array's opening (first) or the element before; so an array
 * is printed an element at a time.  The caller closes the array: "[]"
 * when it printed none, else a newline, 2 * (depth - 1) spaces and "]".
 * 0, or -1 when out of memory. */
int bbtoken_json_element(json_t *v, size_t flags, int depth, int first);

/* All of buf to fd, without stdio.  0, or -1 with errno set. */
int bbtoken_write_all(int fd, const char *buf, size_t len);

/* list, items joined by sep ("a,b,c" and ","), as a JSON array of
 * strings; "" is []. NULL when out of memory or an item is not UTF-8. */
json_t *bbtoken_json_split(const char *list, const char *sep);

/* A token's permissions as JSON: [project, repo], or [repo] alone for a
 * repository's token (project NULL).  NULL when out of memory. */
json_t *bbtoken_perms_json(const char *project, const char *repo);

/* Who holds a token, as a member of obj: "user" {name[, active]} (active
 * -1 leaves it out) for a personal token, "project" {key} for a project's
 * (slug NULL), "repository" {slug, project {key}} for a repository's.
 * 0, or -1. */
int bbtoken_holder_json(json_t *obj, const char *user, int active,
                        const char *key, const char *slug);

/* ---- args.c: the command line ----------------------------------------- */

/* getopt_long said ':' or '?' (or gave an option this command does not
 * take): a usage error naming the offending word. */
int bbtoken_opt_error(const char *usage, int c, char **argv);

/* The global options (--db, --help, --version) before the command word.
 * Returns BBTOKEN_GO_ON with *cmd the index of the command word (argc if
 * none), or an exit status (0 after --help or --version). */
int bbtoken_parse_global(int argc, char **argv, const char **db, int *cmd);

/* A command's options and operands; argv[0] is the command's last word.
 * Returns BBTOKEN_GO_ON, or an exit status: after --help 0, or 2 where
 * an operand the command needs is missing. */
int bbtoken_parse_args(const bbtoken_cmd_t *cmd, int argc, char **argv,
                       bbtoken_args_t *a);

/* ---- values.c: the checks of the values given ------------------------- */

/* Checks of one value: 0, or BBTOKEN_EXIT_FAIL after saying why. */
int bbtoken_check_user(const char *name);
int bbtoken_check_label(const char *label);
int bbtoken_check_email(const char *email);
int bbtoken_check_display_name(const char *display_name);
int bbtoken_check_id(const char *id);
/* A whole number from 1 to hi given to option opt; with none_ok, "none"
 * too. */
int bbtoken_check_number(const char *opt, const char *s, long hi, int none_ok);
int bbtoken_perm_parse(const char *name, bbt_perm_t *p);
/* The --perm list as a token's pair, by the seed's defaulting rules. */
int bbtoken_perm_pair(const bbtoken_args_t *a, bbt_level_t *project,
                      bbt_level_t *repo);
int bbtoken_parse_target(const char *arg, bbtoken_target_t *t);

/* Whose tokens a command is about: one operand NAME (a user's), or
 * --project KEY, or --repo KEY/slug, exactly one of them.  The scope's key
 * and slug checked into *t; *kind says which.  0, BBTOKEN_EXIT_FAIL after
 * saying why, or BBTOKEN_EXIT_USAGE. */
int bbtoken_holder_args(const bbtoken_cmd_t *cmd, const bbtoken_args_t *a,
                        bbt_kind_t *kind, bbtoken_target_t *t);

/* The scope of kind `kind` that t names. */
void bbtoken_scope_of(bbt_kind_t kind, const bbtoken_target_t *t,
                      bbt_tokscope_t *s);

/* The --perm list as the pair a token of kind `kind` holds (a repository
 * token: no project level). */
int bbtoken_kind_perm_pair(const bbtoken_args_t *a, bbt_kind_t kind,
                           bbt_level_t *project, bbt_level_t *repo);

/* A DURATION (N followed by d, h or w; a bare N is days) in seconds, or
 * -1. */
long long bbtoken_duration(const char *s);

/* policy --revoke-unused-after: "none", or a DURATION from 1 day to 36500
 * days, into secs as "none" or its seconds. */
int bbtoken_check_unused(const char *s, char *secs, size_t len);

/* A WHEN given to option opt: a date or date and time in UTC, or a
 * DURATION ago. */
int bbtoken_when(const char *s, const char *opt, bbtoken_when_t *w);

/* ---- the commands ----------------------------------------------------- */

/* cmd_users.c */
int bbtoken_cmd_user_add(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                         const bbtoken_args_t *a);
/* user disable and user enable */
int bbtoken_cmd_user_set(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                         const bbtoken_args_t *a);
/* user set: e-mail address and display name */
int bbtoken_cmd_user_details(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                             const bbtoken_args_t *a);
int bbtoken_cmd_user_show(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                          const bbtoken_args_t *a);
int bbtoken_cmd_grant(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                      const bbtoken_args_t *a);
int bbtoken_cmd_ungrant(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                        const bbtoken_args_t *a);
/* cmd_tokens.c */
int bbtoken_cmd_create(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                       const bbtoken_args_t *a);
int bbtoken_cmd_list(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                     const bbtoken_args_t *a);
int bbtoken_cmd_update(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                       const bbtoken_args_t *a);
int bbtoken_cmd_revoke(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                       const bbtoken_args_t *a);
/* cmd_reports.c */
int bbtoken_cmd_expiring(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                         const bbtoken_args_t *a);
int bbtoken_cmd_audit(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                      const bbtoken_args_t *a);
/* cmd_admin.c */
int bbtoken_cmd_policy(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                       const bbtoken_args_t *a);
int bbtoken_cmd_purge(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                      const bbtoken_args_t *a);
int bbtoken_cmd_project(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                        const bbtoken_args_t *a);
/* cmd_db.c */
int bbtoken_cmd_db_status(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                          const bbtoken_args_t *a);
int bbtoken_cmd_db_upgrade(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                           const bbtoken_args_t *a);
/* cmd_dbcheck.c */
int bbtoken_cmd_db_check(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                         const bbtoken_args_t *a);
/* cmd_inventory.c: list NAME (cmd_tokens.c), or list --all */
int bbtoken_cmd_list_any(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                         const bbtoken_args_t *a);
/* cmd_rotate.c */
int bbtoken_cmd_rotate(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                       const bbtoken_args_t *a);
/* cmd_notify.c */
int bbtoken_cmd_notify(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                       const bbtoken_args_t *a);

#endif
