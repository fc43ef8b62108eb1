-- Version 30: Bitbucket's "Create repository" project permission
-- (REPO_CREATE) as a user's project grant.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- In Bitbucket a project's Create repository grant sits between Write and
-- Admin: everything Write gives on every repository of the project, and
-- creating repositories in it, but not the project's settings or
-- permissions.  Tokens keep their six permissions: a token reaches it with
-- PROJECT_ADMIN, and its owner's grant caps it there (README, Permissions).
--
-- Its level number is 4, above admin's 3, not between write and admin: a
-- module from before it reads a level 0 to 3 and takes anything else as
-- malformed, so on this schema it refuses a create grant's holder on that
-- project (0.2.0's asks bbtoken_owner_level; a later one's level map fails
-- to parse, and it asks bbtoken_owner_level_of: either gives 4, outside
-- 0..3, no access) and never reads it as admin.  Every comparison of
-- levels that is not "= 3" (admin) goes through bbtoken_level_order below.

ALTER TABLE bbtoken_project_grants
    DROP CONSTRAINT bbtoken_project_grants_permission_check,
    ADD CONSTRAINT bbtoken_project_grants_permission_check
        CHECK (permission IN ('PROJECT_READ', 'PROJECT_WRITE', 'REPO_CREATE',
                              'PROJECT_ADMIN'));

-- As in version 1, with REPO_CREATE.  No stored perm_level changes: no
-- grant held REPO_CREATE before.  Not STRICT (version 4).
CREATE OR REPLACE FUNCTION bbtoken_perm_level(p text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE p
        WHEN 'PROJECT_READ'  THEN 1 WHEN 'REPO_READ'  THEN 1
        WHEN 'PROJECT_WRITE' THEN 2 WHEN 'REPO_WRITE' THEN 2
        WHEN 'PROJECT_ADMIN' THEN 3 WHEN 'REPO_ADMIN' THEN 3
        WHEN 'REPO_CREATE'   THEN 4
    END
$$;

-- A level's place in Bitbucket's order (read < write < create < admin),
-- and back: it swaps 3 and 4, so it is its own inverse.  The greatest of
-- some levels is bbtoken_level_order(GREATEST(bbtoken_level_order(a),
-- ...)).  Its argument is used once, so PostgreSQL inlines it.
CREATE FUNCTION bbtoken_level_order(l integer) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ('{0,1,2,4,3}'::integer[])[l + 1]
$$;

-- As in version 23, the greatest of the two grants in Bitbucket's order.
CREATE OR REPLACE FUNCTION bbtoken_owner_levels(u bbtoken_users, key text,
                                                slug text)
RETURNS TABLE (level integer) LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN key IS NULL OR NOT u.active THEN 0
                WHEN u.is_admin OR key = '~' || lower(u.name) THEN 3
                ELSE bbtoken_level_order(GREATEST(
                    COALESCE((SELECT bbtoken_level_order(g.perm_level)
                                FROM bbtoken_project_grants g
                               WHERE g.user_id = u.id
                                 AND g.project_key = key), 0),
                    COALESCE((SELECT bbtoken_level_order(g.perm_level)
                                FROM bbtoken_repo_grants g
                               WHERE g.user_id = u.id
                                 AND g.project_key = key
                                 AND g.repo_slug = slug), 0)))
           END
$$;

UPDATE bbtoken_schema SET version = 30;
