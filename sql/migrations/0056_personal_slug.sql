-- Migration 56: a personal project's key is "~" and its owner's slug.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- Bitbucket Data Center keys a personal project by the user's slug with a
-- tilde (~carol.smith_corp for carol.smith@corp: the name in lower case, "@"
-- as "_", bbtoken_user_slug of migration 6), and every client builds its
-- URLs so: /scm/~carol.smith_corp/home.git, the access-tokens API's
-- /projects/~carol.smith_corp.  The schema keyed it by the name in lower
-- case (~carol.smith@corp): for a user whose name has "@" the owner was
-- refused those URLs, a token or a grant of the personal project did not
-- reach them, and the API did not find its tokens.  Only names with "@"
-- differ: for every other name the slug is the name in lower case.
--
-- Now the key is "~" and the slug everywhere: the owner's level, the level
-- map the lookup carries, the owner's lock a token, a grant, a setting or a
-- rotation of the project takes, what a deletion or a rename of the owner
-- revokes and removes; and the keys stored in tokens, grants and settings
-- are rewritten to it here (one spelling to another of the same project:
-- unaudited, as no grant, token or setting changes; the tokens' lookup
-- rows are written again, and httpd's caches told, as any change of them
-- is).  bbtoken_valid_key refuses "@" in a personal key from now on, so no
-- row keeps the old spelling, which nothing would match.  Two users never
-- share a slug (migration 6), so no two projects become one; a row of each
-- spelling of the same key (left only by hand edits: migrations 44 and 53
-- removed every personal row without its owner) stops the upgrade on the
-- unique index they would share, naming it.
--
-- A rename that keeps the slug (carol.smith@corp to carol.smith_corp, or a
-- change of case) keeps the project as well: the URLs stay the same.  Only a
-- change of the slug revokes what migrations 21 and 53 revoke.

SET LOCAL bbtoken.source = 'upgrade';

-- As migration 21's, the owner found by its slug (an index of migration 6).
CREATE OR REPLACE FUNCTION bbtoken_tokens_personal() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    PERFORM 1 FROM bbtoken_users
      WHERE slug = substr(NEW.project_key, 2) FOR SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the personal project % has no user', NEW.project_key
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'bbtoken_policy_personal_owner';
    END IF;
    RETURN NEW;
END
$$;

-- As migration 30's, the personal project by the slug.
CREATE OR REPLACE FUNCTION bbtoken_owner_levels(u bbtoken_users, key text,
                                                slug text)
RETURNS TABLE (level integer) LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN key IS NULL OR NOT u.active THEN 0
                WHEN u.is_admin OR key = '~' || bbtoken_user_slug(u.name)
                THEN 3
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

-- As migration 26's (VOLATILE since migration 28), the personal project by
-- the slug.
CREATE OR REPLACE FUNCTION bbtoken_owner_level_map(u bbtoken_users)
RETURNS text LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
    SELECT CASE WHEN NOT u.active THEN ''
                WHEN u.is_admin THEN '*:3'
                WHEN (SELECT count(*) FROM bbtoken_project_grants g
                       WHERE g.user_id = u.id)
                     + (SELECT count(*) FROM bbtoken_repo_grants g
                         WHERE g.user_id = u.id)
                     > bbtoken_lookup_grants_max() THEN NULL
                ELSE concat_ws(' ', '~' || bbtoken_user_slug(u.name) || ':3',
                    (SELECT string_agg(g.project_key || ':' || g.perm_level,
                                       ' ' ORDER BY g.project_key COLLATE "C")
                       FROM bbtoken_project_grants g
                      WHERE g.user_id = u.id),
                    (SELECT string_agg(g.project_key || '/' || g.repo_slug
                                       || ':' || g.perm_level, ' '
                                       ORDER BY g.project_key COLLATE "C",
                                                g.repo_slug COLLATE "C")
                       FROM bbtoken_repo_grants g
                      WHERE g.user_id = u.id))
           END
$$;

-- As migration 35's, the owner of a personal project's token found by its
-- slug.
CREATE OR REPLACE FUNCTION bbtoken_rotate(p_id text, p_new_id text, p_salt text,
                                          p_hash text)
RETURNS timestamptz
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    was bbtoken_tokens;
    pol bbtoken_policy;
    holder text;
    life interval;
    ends timestamptz;
BEGIN
    -- The holder's row before the token's, as a deletion or a rename of
    -- the user takes them (a token's holder never changes: read unlocked);
    -- the row of a ~slug token's user in the mode the new token's trigger
    -- takes it.
    SELECT * INTO was FROM bbtoken_tokens WHERE id = p_id;
    IF was.user_id IS NOT NULL THEN
        PERFORM 1 FROM bbtoken_users WHERE id = was.user_id FOR KEY SHARE;
    ELSIF was.project_key LIKE '~%' THEN
        PERFORM 1 FROM bbtoken_users
          WHERE slug = substr(was.project_key, 2) FOR SHARE;
    END IF;
    -- Locked: of two rotations at once, the second finds it revoked.
    SELECT * INTO was FROM bbtoken_tokens WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no such token: %', p_id
            USING ERRCODE = 'BT003';
    END IF;
    IF was.revoked_at IS NOT NULL THEN
        RAISE EXCEPTION 'token % is revoked: only a live token can be rotated',
            p_id
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'bbtoken_policy_rotate_live';
    END IF;
    IF was.expires_at <= now() THEN
        RAISE EXCEPTION 'token % has expired: only a live token can be rotated (create a new one)',
            p_id
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'bbtoken_policy_rotate_live';
    END IF;
    -- The owner's row as the new token's policy trigger takes it, before
    -- the revocation below takes the token's lookup row.
    IF was.user_id IS NOT NULL THEN
        PERFORM 1 FROM bbtoken_users WHERE id = was.user_id
           FOR NO KEY UPDATE;
    END IF;
    SELECT * INTO pol FROM bbtoken_policy;
    life := was.expires_at - was.created_at;
    IF life IS NOT NULL AND pol.max_expiry_days IS NOT NULL THEN
        life := LEAST(life, make_interval(days => pol.max_expiry_days));
    END IF;
    SELECT name INTO holder FROM bbtoken_users WHERE id = was.user_id;
    holder := COALESCE(holder,
                       bbtoken_scope_name(was.project_key, was.repo_slug));
    -- Revoked first: the name and the holder's place become free for the
    -- new token, which the policy trigger checks as any other.
    UPDATE bbtoken_tokens SET revoked_at = now() WHERE id = p_id;
    INSERT INTO bbtoken_tokens (id, user_id, project_key, repo_slug, name,
                                project_perm, repo_perm, salt, secret_hash,
                                expires_at, allowed_nets, rotated_from)
    VALUES (p_new_id, was.user_id, was.project_key, was.repo_slug, was.name,
            was.project_perm, was.repo_perm, p_salt, p_hash, now() + life,
            was.allowed_nets, p_id)
    RETURNING expires_at INTO ends;
    PERFORM bbtoken_audit_write('rotated', p_id, holder,
                                format('name %L, replaced by token %s',
                                       was.name, p_new_id));
    PERFORM bbtoken_audit_write('rotated', p_new_id, holder,
                                format('name %L, replaces token %s',
                                       was.name, p_id));
    RETURN ends;
END
$$;

-- As migration 35's, ~slug for ~name: a deletion, or a rename that changes
-- the slug, revokes the old slug's tokens, removes the grants on it and
-- deletes or moves its settings.
CREATE OR REPLACE FUNCTION bbtoken_users_personal_revoke() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    was text := '~' || bbtoken_user_slug(OLD.name);
BEGIN
    -- Lowest id first, as every revocation of more than one token.
    UPDATE bbtoken_tokens SET revoked_at = now()
     WHERE id IN (SELECT k.id FROM bbtoken_tokens k
                   WHERE k.user_id IS NULL
                     AND k.project_key = was
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

-- As migration 53's, ~slug for ~name.
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
                     AND k.project_key = mine
                     AND k.revoked_at IS NULL
                   ORDER BY k.id FOR UPDATE);
    -- What became of the slug's earlier tokens is no news to this user:
    -- notify would mail it the revocation or expiry of someone else's.
    INSERT INTO bbtoken_notices (token_id, kind)
    SELECT k.id, e.kind FROM bbtoken_tokens k,
           LATERAL (VALUES ('revoked', k.revoked_at IS NOT NULL),
                           ('expired', k.expires_at <= now())) e(kind, yes)
     WHERE k.user_id IS NULL AND k.project_key = mine
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

-- A rename fires them when the slug changes, not the name's case: the
-- same names as migrations 21 and 53 give them, so the same order.
DROP TRIGGER bbtoken_users_personal_new ON bbtoken_users;
DROP TRIGGER bbtoken_users_personal_upd ON bbtoken_users;
CREATE TRIGGER bbtoken_users_personal_new AFTER UPDATE OF name
    ON bbtoken_users
    FOR EACH ROW
    WHEN (bbtoken_user_slug(OLD.name) IS DISTINCT FROM
          bbtoken_user_slug(NEW.name))
    EXECUTE FUNCTION bbtoken_users_personal_fresh();
CREATE TRIGGER bbtoken_users_personal_upd AFTER UPDATE OF name
    ON bbtoken_users
    FOR EACH ROW
    WHEN (bbtoken_user_slug(OLD.name) IS DISTINCT FROM
          bbtoken_user_slug(NEW.name))
    EXECUTE FUNCTION bbtoken_users_personal_revoke();

-- CREATE OR REPLACE drops a function's settings (its privileges stay): the
-- schema's own objects first, whatever the caller's search_path, as since
-- migration 2.
DO $$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY['bbtoken_tokens_personal()',
                             'bbtoken_rotate(text, text, text, text)',
                             'bbtoken_users_personal_revoke()',
                             'bbtoken_users_personal_fresh()']
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f,
                       current_schema());
    END LOOP;
END
$$;

-- The stored keys.  The users whose rows the rewrites below take (the
-- owners, by the personal trigger; the grantees, by the lookup's), lowest
-- id first, before the triggers take the grants tables, as migration 44
-- orders it.
DO $$
BEGIN
    PERFORM 1 FROM bbtoken_users
      WHERE strpos(name, '@') > 0
         OR id IN (SELECT g.user_id FROM bbtoken_project_grants g
                    WHERE g.project_key LIKE '~%@%'
                   UNION
                   SELECT g.user_id FROM bbtoken_repo_grants g
                    WHERE g.project_key LIKE '~%@%')
      ORDER BY id FOR SHARE;
END
$$;

-- What became of a personal project's earlier tokens, whose owner left
-- before the rewrite (a@b deleted, a_b made since; or a_b deleted, a@b
-- made since), is no news to the user whose project the key names after
-- it: notify would mail them another's revocation or expiry, as the
-- trigger of a new user (bbtoken_users_personal_fresh) says for a key
-- that was theirs already.  Under the old key these had no owner to mail.
INSERT INTO bbtoken_notices (token_id, kind)
SELECT k.id, e.kind FROM bbtoken_tokens k,
       LATERAL (VALUES ('revoked', k.revoked_at IS NOT NULL),
                       ('expired', k.expires_at <= now())) e(kind, yes)
 WHERE k.user_id IS NULL AND k.project_key LIKE '~%' AND e.yes
   AND NOT EXISTS (SELECT 1 FROM bbtoken_users u
                    WHERE '~' || lower(u.name) = k.project_key)
ON CONFLICT (token_id, kind) DO NOTHING;

-- A token's project is fixed for every role (bbtoken_tokens_fixed): only
-- this transaction's owner gets past it, around the one UPDATE, as
-- migration 19 did.  Revoked tokens too, so that no row keeps a key
-- bbtoken_valid_key refuses below.
ALTER TABLE bbtoken_tokens DISABLE TRIGGER bbtoken_tokens_fixed;
UPDATE bbtoken_tokens
   SET project_key = '~' || bbtoken_user_slug(substr(project_key, 2))
 WHERE project_key LIKE '~%@%';
ALTER TABLE bbtoken_tokens ENABLE TRIGGER bbtoken_tokens_fixed;

UPDATE bbtoken_project_grants
   SET project_key = '~' || bbtoken_user_slug(substr(project_key, 2))
 WHERE project_key LIKE '~%@%';
UPDATE bbtoken_repo_grants
   SET project_key = '~' || bbtoken_user_slug(substr(project_key, 2))
 WHERE project_key LIKE '~%@%';
UPDATE bbtoken_projects
   SET project_key = '~' || bbtoken_user_slug(substr(project_key, 2))
 WHERE project_key LIKE '~%@%';

-- The level maps of the owners whose personal key changed, in their
-- tokens' lookup rows (the rewrites above wrote those of the tokens and
-- grants they changed): their rows are held already.
DO $$
BEGIN
    PERFORM bbtoken_lookup_users(ARRAY(SELECT id FROM bbtoken_users
                                        WHERE strpos(name, '@') > 0),
                                 false);
END
$$;

-- A personal key is "~" and a slug: no "@".
CREATE OR REPLACE FUNCTION bbtoken_valid_key(k text) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT k ~ '^[A-Z][A-Z0-9_]{0,127}$'
        OR k ~ '^~[a-z0-9][a-z0-9._-]{0,254}$'
$$;

UPDATE bbtoken_schema SET version = 56;
