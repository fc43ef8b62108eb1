/*
 * The settings the schema's triggers read, as each client of ours that
 * writes sets them: the CLI for its session, the access-tokens API for each
 * transaction.  No httpd, APR or libpq here: the CLI includes it too.
 *
 * A session starts with whatever PGOPTIONS, the connection string's
 * options, ALTER ROLE ... SET and ALTER DATABASE ... SET give it, and any
 * of those may name a bbtoken.* setting (a placeholder any role may set)
 * or session_replication_role.  So every bbtoken.* setting a trigger reads
 * (current_setting('bbtoken.NAME') in sql/) is set here, to the writer's
 * own value or to '' (none): an inherited bbtoken.revoke_reason recorded a
 * plain revocation as leaked or unused and mailed that reason, an
 * inherited bbtoken.client_addr audited another address, bbtoken.notify_at
 * and bbtoken.notified skipped or cut short the change's notifications.
 * t/22-cli-session checks the list against sql/.
 */
#ifndef BBT_SESSIONSQL_H
#define BBT_SESSIONSQL_H

/* The select list that sets them: source, actor and addr are SQL
 * expressions (a literal, a parameter), local "true" for the transaction
 * alone, "false" for the session. */
#define BBT_SESSION_SETTINGS_SQL(source, actor, addr, local)                   \
    "pg_catalog.set_config('bbtoken.source', " source ", " local "), "         \
    "pg_catalog.set_config('bbtoken.actor', " actor ", " local "), "           \
    "pg_catalog.set_config('bbtoken.client_addr', " addr ", " local "), "      \
    "pg_catalog.set_config('bbtoken.revoke_reason', '', " local "), "          \
    "pg_catalog.set_config('bbtoken.notify_at', '', " local "), "              \
    "pg_catalog.set_config('bbtoken.notified', '', " local ")"

/* How many columns BBT_SESSION_SETTINGS_SQL makes. */
#define BBT_SESSION_SETTINGS_COLS 6

/* One column: the session's session_replication_role.  Under replica
 * (a restore's, logical replication's; a superuser's PGOPTIONS or a role's
 * ALTER ROLE ... SET) the schema's ordinary triggers do not fire: the
 * policy, the check that no id is used again, the audit, the
 * notifications.  A writer that finds anything but origin sets it with
 * BBT_SESSION_ORIGIN_SQL first, and writes nothing where that fails (the
 * role may not set it: ALTER ROLE ... SET by a superuser is applied at
 * login with a superuser's rights). */
#define BBT_SESSION_SRR_SQL                                                    \
    "pg_catalog.current_setting('session_replication_role')"

/* Sets session_replication_role to origin, for the transaction alone
 * (local "true") or the session ("false"). */
#define BBT_SESSION_ORIGIN_SQL(local)                                          \
    "SELECT pg_catalog.set_config('session_replication_role', "                \
    "'origin', " local ")"

/* What a writer says where it may not, after the setting's value. */
#define BBT_SESSION_SRR_REFUSED                                                \
    "under which the schema's triggers (the policy, the audit, the "           \
    "notifications) do not fire, and this role may not set it to origin"

#endif
