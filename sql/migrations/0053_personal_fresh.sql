-- Migration 53: a user given a name starts with an empty personal project.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- Migration 21 revokes ~name's tokens, and removes others' grants on it,
-- when the user is deleted or renamed, from ordinary triggers: a logical
-- replica's apply, and a hand edit under session_replication_role =
-- replica (a restore, a repair), do not fire them.  A user deleted so left
-- ~name's project and repository tokens live (refused only while no user
-- had the name) and others' grants on it; a user later added under that
-- name, or renamed to it, took them over: the old owner's CI tokens worked
-- for the new person's project, and bob's grant opened it.  Now adding a
-- user, or renaming one to another name, revokes what is left of that
-- name's personal project (audited "revoked", announced to httpd's caches
-- as every revocation is, and recorded as told, with any earlier
-- revocation or expiry of the name's tokens: notify would mail the new
-- holder of the name about the old one's) and removes the grants on it
-- (audited "ungranted") and its settings (migration 22), in the same
-- transaction: nothing of it can have been made for this user, since a
-- token, a grant or a setting of ~name needs its owner (migrations 21, 22
-- and 44).  On a
-- rename the trigger's name orders it before migration 22's, which then
-- moves the old name's settings to the new one.  The upgrade does the same
-- for every name no user has now.  Ordinary triggers, as migration 21's.

SET LOCAL bbtoken.source = 'upgrade';

CREATE FUNCTION bbtoken_users_personal_fresh() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    -- Lowest id first, as every revocation of more than one token; the
    -- grantees before their grants, as migration 35 orders it (a deletion
    -- of a grantee takes its row, then its grants).
    UPDATE bbtoken_tokens SET revoked_at = now()
     WHERE id IN (SELECT k.id FROM bbtoken_tokens k
                   WHERE k.user_id IS NULL
                     AND k.project_key = '~' || lower(NEW.name)
                     AND k.revoked_at IS NULL
                   ORDER BY k.id FOR UPDATE);
    -- What became of the name's earlier tokens is no news to this user:
    -- notify would mail it the revocation or expiry of someone else's.
    INSERT INTO bbtoken_notices (token_id, kind)
    SELECT k.id, e.kind FROM bbtoken_tokens k,
           LATERAL (VALUES ('revoked', k.revoked_at IS NOT NULL),
                           ('expired', k.expires_at <= now())) e(kind, yes)
     WHERE k.user_id IS NULL AND k.project_key = '~' || lower(NEW.name)
       AND e.yes
    ON CONFLICT (token_id, kind) DO NOTHING;
    PERFORM 1 FROM bbtoken_users
      WHERE id IN (SELECT g.user_id FROM bbtoken_project_grants g
                    WHERE g.project_key = '~' || lower(NEW.name)
                   UNION
                   SELECT g.user_id FROM bbtoken_repo_grants g
                    WHERE g.project_key = '~' || lower(NEW.name))
      ORDER BY id FOR SHARE;
    DELETE FROM bbtoken_project_grants
     WHERE project_key = '~' || lower(NEW.name);
    DELETE FROM bbtoken_repo_grants
     WHERE project_key = '~' || lower(NEW.name);
    DELETE FROM bbtoken_projects
     WHERE project_key = '~' || lower(NEW.name);
    RETURN NULL;
END
$$;

DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION bbtoken_users_personal_fresh() SET search_path = %I, pg_temp',
                   current_schema());
END
$$;
REVOKE ALL ON FUNCTION bbtoken_users_personal_fresh() FROM PUBLIC;

CREATE TRIGGER bbtoken_users_personal_ins AFTER INSERT ON bbtoken_users
    FOR EACH ROW EXECUTE FUNCTION bbtoken_users_personal_fresh();
CREATE TRIGGER bbtoken_users_personal_new AFTER UPDATE OF name
    ON bbtoken_users
    FOR EACH ROW WHEN (lower(OLD.name) IS DISTINCT FROM lower(NEW.name))
    EXECUTE FUNCTION bbtoken_users_personal_fresh();

UPDATE bbtoken_tokens t SET revoked_at = now()
 WHERE t.user_id IS NULL AND t.project_key LIKE '~%' AND t.revoked_at IS NULL
   AND NOT EXISTS (SELECT 1 FROM bbtoken_users u
                    WHERE lower(u.name) = substr(t.project_key, 2));

-- Others' grants on such names (after migration 44, left only by such a
-- deletion), their grantees taken first, lowest id first, as migration 44
-- orders it.
DO $$
BEGIN
    PERFORM 1 FROM bbtoken_users
      WHERE id IN (SELECT g.user_id FROM bbtoken_project_grants g
                    WHERE g.project_key LIKE '~%'
                      AND NOT EXISTS (SELECT 1 FROM bbtoken_users u
                                       WHERE lower(u.name)
                                             = substr(g.project_key, 2))
                   UNION
                   SELECT g.user_id FROM bbtoken_repo_grants g
                    WHERE g.project_key LIKE '~%'
                      AND NOT EXISTS (SELECT 1 FROM bbtoken_users u
                                       WHERE lower(u.name)
                                             = substr(g.project_key, 2)))
      ORDER BY id FOR SHARE;
END
$$;
DELETE FROM bbtoken_project_grants g
 WHERE g.project_key LIKE '~%'
   AND NOT EXISTS (SELECT 1 FROM bbtoken_users u
                    WHERE lower(u.name) = substr(g.project_key, 2));
DELETE FROM bbtoken_repo_grants g
 WHERE g.project_key LIKE '~%'
   AND NOT EXISTS (SELECT 1 FROM bbtoken_users u
                    WHERE lower(u.name) = substr(g.project_key, 2));

DELETE FROM bbtoken_projects p
 WHERE p.project_key LIKE '~%'
   AND NOT EXISTS (SELECT 1 FROM bbtoken_users u
                    WHERE lower(u.name) = substr(p.project_key, 2));

UPDATE bbtoken_schema SET version = 53;
