-- Migration 4: what httpd's cache needs.  Every change that can decide
-- access is announced on the notification channel 'bbtoken'; and the
-- owner's level is a query the planner can inline into httpd's lookup,
-- which makes that lookup cheaper when httpd does go to the database.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- httpd keeps token verifications and owners' levels in memory and drops
-- them all when anything is announced here (the README's "The cache").
-- A notification is sent at commit, so the cache never drops an entry for
-- a change that was rolled back, and never misses one that committed.
-- The payload is the table's name, the same for every row of a table:
-- PostgreSQL sends identical notifications of one transaction once, so a
-- purge of ten thousand tokens is one notification, not ten thousand.
--
-- Never on last-use writes (last_authenticated, last_addresses,
-- expired_refused_at): httpd makes those itself, and notifying them would
-- empty every node's cache once a minute per token in use.
--
-- The triggers are ENABLE ALWAYS: they fire even with
-- session_replication_role = replica (a restore, logical replication's
-- apply), which skips ordinary triggers.  Only disabling them, the table
-- owner's deliberate act, silences them.

CREATE FUNCTION bbtoken_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('bbtoken', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

-- Tokens: created (a cached "unknown id" must go), deleted, or changed in
-- what decides access.
CREATE TRIGGER bbtoken_tokens_notify
    AFTER INSERT OR DELETE OR TRUNCATE ON bbtoken_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION bbtoken_notify();
CREATE TRIGGER bbtoken_tokens_notify_upd AFTER UPDATE ON bbtoken_tokens
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id
                       OR OLD.user_id IS DISTINCT FROM NEW.user_id
                       OR OLD.name IS DISTINCT FROM NEW.name
                       OR OLD.project_perm IS DISTINCT FROM NEW.project_perm
                       OR OLD.repo_perm IS DISTINCT FROM NEW.repo_perm
                       OR OLD.salt IS DISTINCT FROM NEW.salt
                       OR OLD.secret_hash IS DISTINCT FROM NEW.secret_hash
                       OR OLD.expires_at IS DISTINCT FROM NEW.expires_at
                       OR OLD.revoked_at IS DISTINCT FROM NEW.revoked_at)
    EXECUTE FUNCTION bbtoken_notify();

-- Users: added, deleted, enabled or disabled, made or unmade a global
-- admin, renamed (the name owns the personal project ~name, and a Basic
-- user name is compared with it).
CREATE TRIGGER bbtoken_users_notify
    AFTER INSERT OR DELETE OR TRUNCATE ON bbtoken_users
    FOR EACH STATEMENT EXECUTE FUNCTION bbtoken_notify();
CREATE TRIGGER bbtoken_users_notify_upd AFTER UPDATE ON bbtoken_users
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id
                       OR OLD.name IS DISTINCT FROM NEW.name
                       OR OLD.active IS DISTINCT FROM NEW.active
                       OR OLD.is_admin IS DISTINCT FROM NEW.is_admin)
    EXECUTE FUNCTION bbtoken_notify();

-- Grants: every change is one that matters.
CREATE TRIGGER bbtoken_project_grants_notify
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON bbtoken_project_grants
    FOR EACH STATEMENT EXECUTE FUNCTION bbtoken_notify();
CREATE TRIGGER bbtoken_repo_grants_notify
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON bbtoken_repo_grants
    FOR EACH STATEMENT EXECUTE FUNCTION bbtoken_notify();

ALTER TABLE bbtoken_tokens ENABLE ALWAYS TRIGGER bbtoken_tokens_notify;
ALTER TABLE bbtoken_tokens ENABLE ALWAYS TRIGGER bbtoken_tokens_notify_upd;
ALTER TABLE bbtoken_users ENABLE ALWAYS TRIGGER bbtoken_users_notify;
ALTER TABLE bbtoken_users ENABLE ALWAYS TRIGGER bbtoken_users_notify_upd;
ALTER TABLE bbtoken_project_grants
    ENABLE ALWAYS TRIGGER bbtoken_project_grants_notify;
ALTER TABLE bbtoken_repo_grants
    ENABLE ALWAYS TRIGGER bbtoken_repo_grants_notify;

-- A permission's level, the same rule as before, but a function the
-- planner can inline.  A STRICT SQL function is inlined only when its body
-- is strict too, and a CASE is not: so every grant the owner's level read
-- (bbtoken_owner_level, on every request httpd does not answer from its
-- cache) ran a SQL function call of its own, which cost more than the
-- grant's index scan.  Without STRICT a NULL still gives NULL: no WHEN
-- matches it.
ALTER FUNCTION bbtoken_perm_level(text) CALLED ON NULL INPUT;

-- The owner's live level on a target (the rule of bbtoken_owner_level, now
-- in one place), for the user row u: 0 for no target (key NULL) or a
-- disabled user; 3 for a global admin or the owner of the personal
-- project ~name; else the higher of the project grant and, for a
-- repository (slug given), the repository grant.  Always one row.
-- A set-returning LANGUAGE sql function of one SELECT is inlined into the
-- query that joins it (LATERAL), so httpd's prepared lookup plans it once
-- with its own, on the user row it has already read; the PL/pgSQL
-- function it replaces there ran three queries of its own per request, and
-- cost more than the rest of the lookup together.  Not STRICT: that would
-- keep it from being inlined.
CREATE FUNCTION bbtoken_owner_levels(u bbtoken_users, key text, slug text)
RETURNS TABLE (level integer) LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN key IS NULL OR NOT u.active THEN 0
                WHEN u.is_admin OR key = '~' || lower(u.name) THEN 3
                ELSE GREATEST(
                    COALESCE((SELECT bbtoken_perm_level(g.permission)
                                FROM bbtoken_project_grants g
                               WHERE g.user_id = u.id
                                 AND g.project_key = key), 0),
                    COALESCE((SELECT bbtoken_perm_level(g.permission)
                                FROM bbtoken_repo_grants g
                               WHERE g.user_id = u.id
                                 AND g.project_key = key
                                 AND g.repo_slug = slug), 0))
           END
$$;

-- The same by user id, as one value (0 for an unknown user), for other
-- callers; PL/pgSQL, so it keeps its plan for the session.
CREATE OR REPLACE FUNCTION bbtoken_owner_level(uid bigint, key text, slug text)
RETURNS integer LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    RETURN COALESCE((SELECT l.level
                       FROM bbtoken_users u,
                            bbtoken_owner_levels(u, key, slug) l
                      WHERE u.id = uid), 0);
END
$$;

UPDATE bbtoken_schema SET version = 4;
