-- Version 23: each grant keeps its permission's level on its row, for the
-- owner's level that httpd's lookup computes on every request with the
-- token cache off.  bbtoken_perm_level, inlined into the owner's level, was
-- a CASE of six text comparisons for each grant table, and PostgreSQL
-- builds every expression of a statement again each time it runs (an
-- EXECUTE check and a function look-up for each comparison).  With the
-- plainer bbtoken_owner_level_of below: an eighth of the backend's
-- instructions for a verified token's lookup (callgrind, README:
-- Benchmark).  The stored column is computed by the same function when a
-- grant is written, so the rule keeps its one home.

-- Adding a stored column rewrites both grant tables, and a rewritten table
-- looks empty to a snapshot taken before the rewrite committed.  The
-- previous release's lookup reads the grants inside bbtoken_owner_level_of
-- (PL/pgSQL), which takes its locks after the statement's snapshot: one
-- that waited here read no grant and refused a good token, 403, and the
-- cache kept that (bench/upgrade.pl, README: Upgrading).  Each of the
-- token lookup's statements names bbtoken_tokens or bbtoken_users, whose
-- locks PostgreSQL takes before the snapshot: held first, they keep each
-- lookup out until the commit, and it then reads the new rows.  In the
-- order the lookups take them (the tokens, their owners, then inside the
-- functions the grants), so that none holds one that this waits for while
-- it waits for one that this holds: in another order, a lookup and the
-- migration stalled each other until PostgreSQL's deadlock check (a
-- second) ended one of them.
LOCK TABLE bbtoken_tokens, bbtoken_users, bbtoken_project_grants,
           bbtoken_repo_grants IN ACCESS EXCLUSIVE MODE;

ALTER TABLE bbtoken_project_grants
    ADD COLUMN perm_level integer
        GENERATED ALWAYS AS (bbtoken_perm_level(permission)) STORED;
ALTER TABLE bbtoken_repo_grants
    ADD COLUMN perm_level integer
        GENERATED ALWAYS AS (bbtoken_perm_level(permission)) STORED;

-- As in version 4, with each grant's level read from its row.
CREATE OR REPLACE FUNCTION bbtoken_owner_levels(u bbtoken_users, key text,
                                                slug text)
RETURNS TABLE (level integer) LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN key IS NULL OR NOT u.active THEN 0
                WHEN u.is_admin OR key = '~' || lower(u.name) THEN 3
                ELSE GREATEST(
                    COALESCE((SELECT g.perm_level
                                FROM bbtoken_project_grants g
                               WHERE g.user_id = u.id
                                 AND g.project_key = key), 0),
                    COALESCE((SELECT g.perm_level
                                FROM bbtoken_repo_grants g
                               WHERE g.user_id = u.id
                                 AND g.project_key = key
                                 AND g.repo_slug = slug), 0))
           END
$$;

-- As in version 15, without a query around the query: bbtoken_owner_levels
-- gives one row, never NULL, and RETURN of a variable evaluates nothing,
-- where COALESCE((SELECT ...), 0) made a plan of one more level to set up
-- on every call.
CREATE OR REPLACE FUNCTION bbtoken_owner_level_of(u bbtoken_users, p_key text,
                                                  p_slug text)
RETURNS integer LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    lvl integer;
BEGIN
    SELECT l.level INTO lvl FROM bbtoken_owner_levels(u, p_key, p_slug) l;
    RETURN lvl;
END
$$;

UPDATE bbtoken_schema SET version = 23;
