-- mod_bbtoken schema, current version.  Run once in an empty database:
--   psql -v ON_ERROR_STOP=1 -f sql/schema.sql
-- It applies the migrations in sql/migrations/ in order, each in its own
-- transaction, exactly as `bbtoken db upgrade --init` does; a database made
-- by an earlier release is brought up to date with `bbtoken db upgrade`.
-- The database enforces the token rules itself (permission combinations,
-- key and slug syntax, hash shape, the token policy, fixed expiry), so no
-- client is the only guard.
--
-- A new migration is sql/migrations/NNNN_name.sql, ending with
-- "UPDATE bbtoken_schema SET version = NNNN;", and one block below.
-- One that changes what decides access without changing a row (a level
-- rule's function replaced, say) must rewrite the bbtoken_lookup rows it
-- changes the meaning of, or nothing notifies httpd's caches, which keep
-- the old answer until some other change (README, The cache).

-- Not in a database in SQL_ASCII (what initdb makes under the C locale
-- without -E): PostgreSQL checks no text there, so any client may store
-- bytes that are not UTF-8, which the module's JSON cannot carry, and a
-- name's length is counted in bytes.  `bbtoken db upgrade --init` refuses
-- it too; a database an earlier release made there is still upgraded.
SELECT getdatabaseencoding() = 'SQL_ASCII' AS bbtoken_sql_ascii \gset
\if :bbtoken_sql_ascii
DO $$ BEGIN
    RAISE EXCEPTION 'this database''s encoding is SQL_ASCII, which stores any bytes unchecked: the schema is not made here'
        USING HINT = 'Create the database with ENCODING UTF8: createdb -E UTF8 -T template0 bbtoken';
END $$;
\quit
\endif

-- Version 1, the first release (makes its own transaction).
\ir migrations/0001_initial.sql

-- Version 2: the token lifecycle (policy, last use, audit trail).
BEGIN;
\ir migrations/0002_lifecycle.sql
COMMIT;

-- Version 3: what the access-tokens REST API may change.
BEGIN;
\ir migrations/0003_rest.sql
COMMIT;

-- Version 4: notifications for httpd's cache; an inlinable owner level.
BEGIN;
\ir migrations/0004_notify.sql
COMMIT;

-- Version 5: one rule for token names; the API's own refusals.
BEGIN;
\ir migrations/0005_hardening.sql
COMMIT;

-- Version 6: users' e-mail address, display name and slug.
BEGIN;
\ir migrations/0006_user_details.sql
COMMIT;

-- Version 7: notices to owners (bbtoken notify), unused tokens revoked.
BEGIN;
\ir migrations/0007_notify.sql
COMMIT;

-- Version 8: project and repository access tokens.
BEGIN;
\ir migrations/0008_token_kinds.sql
COMMIT;

-- Version 10: revoking a leaked token by its value.
BEGIN;
\ir migrations/0010_leaked.sql
COMMIT;

-- Version 11: rotating a token.
BEGIN;
\ir migrations/0011_rotate.sql
COMMIT;

-- Version 12: per-token allow-lists; the address groups a token was used from.
BEGIN;
\ir migrations/0012_where.sql
COMMIT;

-- Version 13: a token's address groups on its own row, for the lookup.
BEGIN;
\ir migrations/0013_seen_nets.sql
COMMIT;

-- Version 14: only networks httpd can match in an allow-list; the list in
-- a token's created record.
BEGIN;
\ir migrations/0014_nets.sql
COMMIT;

-- Version 15: the owner's level from the owner's row, for httpd's lookup.
BEGIN;
\ir migrations/0015_owner_level_of.sql
COMMIT;

-- Version 16: a user's e-mail address and display name changes audited.
BEGIN;
\ir migrations/0016_user_details_audit.sql
COMMIT;

-- Version 17: each token's hash's SHA-256 on its row, for httpd's lookup.
BEGIN;
\ir migrations/0017_secret_digest.sql
COMMIT;

-- Version 18: only the schema's owner creates objects in it.
BEGIN;
\ir migrations/0018_schema_closed.sql
COMMIT;

-- Version 19: a token's expiry and last use are dates httpd can read.
BEGIN;
\ir migrations/0019_expiry_finite.sql
COMMIT;

-- Version 20: control characters read alike in names and addresses.
BEGIN;
\ir migrations/0020_controls.sql
COMMIT;

-- Version 21: a personal project's tokens, and others' grants on it, end with its owner.
BEGIN;
\ir migrations/0021_personal_owner.sql
COMMIT;

-- Version 22: no invisible formatting characters in names; a personal
-- project's settings end with its owner.
BEGIN;
\ir migrations/0022_invisible.sql
COMMIT;

-- Version 23: each grant's permission level on its row, for httpd's lookup.
BEGIN;
\ir migrations/0023_grant_level.sql
COMMIT;

-- Version 24: concurrent token operations take their rows in one order.
BEGIN;
\ir migrations/0024_lock_order.sql
COMMIT;

-- Version 25: no invisible formatting characters in e-mail addresses.
BEGIN;
\ir migrations/0025_email_invisible.sql
COMMIT;

-- Version 26: what httpd's token lookup reads, in one table kept by triggers.
BEGIN;
\ir migrations/0026_lookup.sql
COMMIT;

-- Version 27: the token lookup reads one packed column of bbtoken_lookup.
BEGIN;
\ir migrations/0027_lookup_packed.sql
COMMIT;

-- Version 28: the owner's trigger functions for its triggers alone; rules
-- read with a snapshot of their own.
BEGIN;
\ir migrations/0028_fresh_reads.sql
COMMIT;

-- Version 29: indexes for the API's reads by exact name and by project.
BEGIN;
\ir migrations/0029_big_site_indexes.sql
COMMIT;

-- Version 30: a project's Create repository grant (REPO_CREATE).
BEGIN;
\ir migrations/0030_repo_create.sql
COMMIT;

-- Version 31: indexes in the order of the admin's REST lists.
BEGIN;
\ir migrations/0031_page_order.sql
COMMIT;

-- Version 32: last use recorded again soon after the database's clock is
-- set back.
BEGIN;
\ir migrations/0032_clock_back.sql
COMMIT;

-- Version 33: each copy of a notice recorded, one per recipient.
BEGIN;
\ir migrations/0033_notice_copies.sql
COMMIT;

-- Version 34: a rotated token's successor names it (rotated_from).
BEGIN;
\ir migrations/0034_rotated_from.sql
COMMIT;

-- Version 35: a rotation takes its holder's row before any lookup row; a
-- change of user name its grantees' rows before their grants on ~name.
BEGIN;
\ir migrations/0035_lookup_order.sql
COMMIT;

-- Version 36: a lookup row's packed column computed by one function run.
BEGIN;
\ir migrations/0036_lookup_write_plan.sql
COMMIT;

-- Version 37: a token name's check inlined where it is planned.
BEGIN;
\ir migrations/0037_name_check_inline.sql
COMMIT;

-- Version 38: a change of bbtoken_lookup that decides access notifies.
BEGIN;
\ir migrations/0038_lookup_notify.sql
COMMIT;

-- Version 39: a grant row notifies, for a logical replica's apply.
BEGIN;
\ir migrations/0039_grants_notify_row.sql
COMMIT;

-- Version 40: httpd's writes find their token by its key.
BEGIN;
\ir migrations/0040_write_by_key.sql
COMMIT;

-- Version 41: the REST API's writes find their token by its key.
BEGIN;
\ir migrations/0041_rest_write_by_key.sql
COMMIT;

-- Version 42: a leak report's tokens revoked in one statement again.
BEGIN;
\ir migrations/0042_leak_one_write.sql
COMMIT;

-- Version 43: the lookup kept true through a replica session's user delete
-- and token insert.
BEGIN;
\ir migrations/0043_lookup_replica.sql
COMMIT;

-- Version 44: a grant on a personal project only while its owner exists.
BEGIN;
\ir migrations/0044_personal_grants.sql
COMMIT;

-- Version 45: no white space first or last in a token name.
BEGIN;
\ir migrations/0045_name_edges.sql
COMMIT;

-- Version 46: a change of one token names that token to httpd's caches.
BEGIN;
\ir migrations/0046_notify_token.sql
COMMIT;

-- Version 47: at most 16 new_address records a token in an hour.
BEGIN;
\ir migrations/0047_new_address_bound.sql
COMMIT;

-- Version 48: an unused-token policy of 8 days at the least.
BEGIN;
\ir migrations/0048_unused_room.sql
COMMIT;

-- Version 49: a leak report over its address's limit writes nothing.
BEGIN;
\ir migrations/0049_leak_refusal_reads.sql
COMMIT;

-- Version 50: at most 16 expired_refused records a token in any hour.
BEGIN;
\ir migrations/0050_expired_refused_bound.sql
COMMIT;

-- Version 51: a token is created under READ COMMITTED only.
BEGIN;
\ir migrations/0051_policy_isolation.sql
COMMIT;

-- Version 52: a NAT64 or 6to4 client's new address group is recorded.
BEGIN;
\ir migrations/0052_note_net_carried.sql
COMMIT;

-- Version 53: a user given a name starts with an empty personal project.
BEGIN;
\ir migrations/0053_personal_fresh.sql
COMMIT;

-- Version 54: locks and revocation reasons only the owner's code takes or gives.
BEGIN;
\ir migrations/0054_owner_locks.sql
COMMIT;

-- Version 55: a leak report clears at most 100 ended counts.
BEGIN;
\ir migrations/0055_leak_sweep_bound.sql
COMMIT;

-- Version 56: a personal project's key is "~" and its owner's slug.
BEGIN;
\ir migrations/0056_personal_slug.sql
COMMIT;

-- Version 57: a user's personal project's tokens found by their key.
BEGIN;
\ir migrations/0057_personal_by_key.sql
COMMIT;

-- Version 58: slugs and names in any case by ASCII's case, whatever the
-- database's locale.
BEGIN;
\ir migrations/0058_ascii_case.sql
COMMIT;

-- Version 59: a change commits while the NOTIFY queue is half full, and
-- the caches forget everything at their next heartbeat instead.
BEGIN;
\ir migrations/0059_notify_skips.sql
COMMIT;

-- Version 60: bbtoken_schema holds one row.
BEGIN;
\ir migrations/0060_schema_one_row.sql
COMMIT;

-- Version 61: a maximum expiry applies to every new token.
BEGIN;
\ir migrations/0061_max_expiry_applies.sql
COMMIT;

-- Version 62: a token's address group dropped notifies the caches.
BEGIN;
\ir migrations/0062_dropped_group_notifies.sql
COMMIT;

-- Version 63: a rotation takes its owner's row first, as a rename does.
BEGIN;
\ir migrations/0063_rotate_owner_first.sql
COMMIT;

-- Version 64: a personal project's token takes its user's row as the
-- user's own do.
BEGIN;
\ir migrations/0064_personal_owner_first.sql
COMMIT;

-- Version 65: an allow-list names each network once.
BEGIN;
\ir migrations/0065_nets_once.sql
COMMIT;
