-- Migration 57: a user's personal project's tokens found by their key.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- The triggers that keep a personal project in step with its owner (a user
-- added, deleted or renamed: bbtoken_users_personal_fresh and _revoke)
-- found ~slug's tokens as "user_id IS NULL AND project_key = ~slug", which
-- no index serves: the one on the key alone (bbtoken_tokens_project_c,
-- migration 31) is in COLLATE "C", which a comparison in the database's
-- collation does not use, and the others on the key are partial, for
-- repository tokens or for live project tokens.  So each user read every
-- project and repository token of the site, twice on a user's arrival
-- (the revocation, then the notices): on bench/bigsite.sql's site
-- (20,000 such tokens) adding 1,000 users in one statement took 43 s,
-- deleting them 33 s, renaming them 67 s; 1.8 s to add them with the
-- index.
--
-- Now they compare the key in COLLATE "C", which that index serves.  The
-- same rows match: the database's collation is deterministic (PostgreSQL
-- takes no other for a database), so its equality is byte equality
-- already, as "C"'s is; and both sides are the stored spelling anyway,
-- ~ and the slug (bbtoken_valid_key, migration 56).  The grants and the
-- settings are found as before, by indexes in the database's collation.
-- Otherwise as migration 56's; SECURITY DEFINER and grants stay,
-- search_path is set again below.

CREATE OR REPLACE FUNCTION bbtoken_users_personal_revoke() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    was text := '~' || bbtoken_user_slug(OLD.name);
BEGIN
    -- Lowest id first, as every revocation of more than one token.
    UPDATE bbtoken_tokens SET revoked_at = now()
     WHERE id IN (SELECT k.id FROM bbtoken_tokens k
                   WHERE k.user_id IS NULL
                     AND k.project_key COLLATE "C" = was
                     AND k.revoked_at IS NULL
                   ORDER BY k.id FOR UPDATE);
    PERFORM 1 FROM bbtoken_users
      WHERE id IN (SELECT g.user_id FROM bbtoken_project_grants g
                    WHERE g.project_key = was
                   UNION
                   SELECT g.user_id FROM bbtoken_repo_grants g
                    WHERE g.project_key = was)
      ORDER BY id FOR SHARE;
    DELETE FROM bbtoken_project_grants WHERE project_key = was;
    DELETE FROM bbtoken_repo_grants WHERE project_key = was;
    IF TG_OP = 'UPDATE' THEN
        UPDATE bbtoken_projects
           SET project_key = '~' || bbtoken_user_slug(NEW.name)
         WHERE project_key = was;
    ELSE
        DELETE FROM bbtoken_projects WHERE project_key = was;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION bbtoken_users_personal_fresh() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    mine text := '~' || bbtoken_user_slug(NEW.name);
BEGIN
    -- Lowest id first, as every revocation of more than one token; the
    -- grantees before their grants, as migration 35 orders it (a deletion
    -- of a grantee takes its row, then its grants).
    UPDATE bbtoken_tokens SET revoked_at = now()
     WHERE id IN (SELECT k.id FROM bbtoken_tokens k
                   WHERE k.user_id IS NULL
                     AND k.project_key COLLATE "C" = mine
                     AND k.revoked_at IS NULL
                   ORDER BY k.id FOR UPDATE);
    -- What became of the slug's earlier tokens is no news to this user:
    -- notify would mail it the revocation or expiry of someone else's.
    INSERT INTO bbtoken_notices (token_id, kind)
    SELECT k.id, e.kind FROM bbtoken_tokens k,
           LATERAL (VALUES ('revoked', k.revoked_at IS NOT NULL),
                           ('expired', k.expires_at <= now())) e(kind, yes)
     WHERE k.user_id IS NULL AND k.project_key COLLATE "C" = mine
       AND e.yes
    ON CONFLICT (token_id, kind) DO NOTHING;
    PERFORM 1 FROM bbtoken_users
      WHERE id IN (SELECT g.user_id FROM bbtoken_project_grants g
                    WHERE g.project_key = mine
                   UNION
                   SELECT g.user_id FROM bbtoken_repo_grants g
                    WHERE g.project_key = mine)
      ORDER BY id FOR SHARE;
    DELETE FROM bbtoken_project_grants WHERE project_key = mine;
    DELETE FROM bbtoken_repo_grants WHERE project_key = mine;
    DELETE FROM bbtoken_projects WHERE project_key = mine;
    RETURN NULL;
END
$$;

-- CREATE OR REPLACE drops a function's settings (its privileges stay): the
-- schema's own objects first, whatever the caller's search_path, as since
-- migration 2.
DO $$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY['bbtoken_users_personal_revoke()',
                             'bbtoken_users_personal_fresh()']
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f,
                       current_schema());
    END LOOP;
END
$$;

UPDATE bbtoken_schema SET version = 57;
