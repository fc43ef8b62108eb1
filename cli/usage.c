/*
 * The usage texts: bbtoken --help, and each command's --help, which is
 * also printed after a usage error.  The README's CLI section says the
 * same in fewer words.
 */
#include "cli.h"

const char bbtoken_usage_main[] =
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

const char bbtoken_usage_user[] =
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

const char bbtoken_usage_grant[] =
    "Usage: bbtoken grant NAME PERMISSION TARGET\n"
    "\n"
    "Give user NAME a permission on TARGET, replacing any earlier grant of\n"
    "NAME on that same TARGET (so a grant can be lowered as well as raised).\n"
    "  PROJECT_READ, PROJECT_WRITE, PROJECT_ADMIN need a project TARGET, KEY;\n"
    "    every repository of the project inherits the grant.\n"
    "  REPO_READ, REPO_WRITE, REPO_ADMIN need a repository TARGET, KEY/slug.\n"
    "KEY is case-insensitive (proj means PROJ); ~user is a personal project.\n"
    "A permission of the wrong kind for TARGET is a failure (exit 1).\n";

const char bbtoken_usage_ungrant[] =
    "Usage: bbtoken ungrant NAME TARGET\n"
    "\n"
    "Remove user NAME's grant on TARGET (KEY or KEY/slug).  Fails if there\n"
    "is none.  A repository's grant and its project's grant are separate.\n";

const char bbtoken_usage_create[] =
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

const char bbtoken_usage_list[] =
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

const char bbtoken_usage_update[] =
    "Usage: bbtoken update ID [--name LABEL] [--perm PERMISSION]...\n"
    "\n"
    "Rename token ID, or replace its permissions (both levels, with the\n"
    "same rules as create: --perm given once sets the other level by\n"
    "default).  At least one of --name and --perm is needed.  The change\n"
    "applies from the next request.  The expiry cannot be changed (nor by\n"
    "SQL: the database refuses): --expiry-days is refused; make a new\n"
    "token instead.  Fails for an unknown or revoked token, or a name the\n"
    "owner already uses.\n";

const char bbtoken_usage_revoke[] =
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

const char bbtoken_usage_expiring[] =
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

const char bbtoken_usage_purge[] =
    "Usage: bbtoken purge --expired-before WHEN\n"
    "\n"
    "Delete the rows of dead tokens: revoked before WHEN, or expired before\n"
    "WHEN (and so before now).  Live tokens are never touched.  Their audit\n"
    "records are kept, and a 'deleted' record is added for each.  Prints\n"
    "how many on stdout.\n"
    "  WHEN  YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][Z] in UTC, or a DURATION\n"
    "        ago: 90d, 12h, 4w\n";

const char bbtoken_usage_audit[] =
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

const char bbtoken_usage_policy[] =
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

const char bbtoken_usage_db[] =
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
