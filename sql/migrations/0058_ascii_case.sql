-- Migration 58: a user's slug, and a name matched in any case, by ASCII's
-- case whatever the database's locale.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- Names are ASCII (their CHECK), yet lower() follows the database's
-- LC_CTYPE on them too: under tr_TR or az_AZ lower('I') is U&'\0131', the
-- dotless i.  So the database gave Ivan a slug that begins with it, where
-- the module, which reads the access-tokens API's paths and personal keys
-- through bbt_input_user_slug (A-Z lowered, nothing else), makes ivan:
-- Ivan could not manage his own tokens, had no personal project (his key
-- was no key to bbtoken_valid_key), a global admin's /users/Ivan reached
-- the user whose slug is ivan, and neither unique index kept Ivan and ivan
-- from being two users, whom the module, the CLI and Bitbucket's clients
-- cannot tell apart.  In COLLATE "C" lower() changes A-Z alone, in any
-- database.
--
-- Now bbtoken_user_slug lowers in COLLATE "C", and the column is made
-- again from it: a generated column keeps the values it was written with
-- when its function is replaced.  Every match of a name in any case does
-- the same: the unique index on the names, bbtoken_api_target's, the audit
-- trail's by holder; the CLI and the module ask in the same words, which
-- those indexes serve.  Where lower() is ASCII's already on A-Z (C, en_US,
-- de_DE, most locales) no slug changes, though the table and the indexes
-- are made again all the same.  Users who would share a slug stop the
-- upgrade, as in migration 6.  A user whose
-- slug changes takes over the personal key ~ and the new slug, as a user
-- renamed to it would: what was left there by an owner gone (a revoked
-- token; what a deletion under session_replication_role = replica left) is
-- not theirs, so it is revoked and removed as migration 53's trigger does,
-- and their tokens' lookup rows carry the new key in their levels.

SET LOCAL bbtoken.source = 'upgrade';

-- Bitbucket's slug of a user name: in lower case by ASCII's rule, which
-- bbt_input_user_slug (mod_bbtoken/bbt_input.c) applies too.
CREATE OR REPLACE FUNCTION bbtoken_user_slug(name text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT lower(replace(name, '@', '_') COLLATE "C")
$$;

DO $$
DECLARE
    clash text;
BEGIN
    SELECT string_agg(names, '; ') INTO clash FROM (
        SELECT string_agg(name, ', ' ORDER BY name COLLATE "C") AS names
          FROM bbtoken_users
         GROUP BY bbtoken_user_slug(name)
        HAVING count(*) > 1) c;
    IF clash IS NOT NULL THEN
        RAISE EXCEPTION 'users share a slug (a user name in ASCII''s lower '
            'case, @ as _), which this database''s locale (LC_CTYPE %) kept '
            'apart: %; rename or delete all but one of each before upgrading',
            current_setting('lc_ctype'), clash
            USING ERRCODE = 'raise_exception';
    END IF;
END
$$;

ALTER TABLE bbtoken_users DROP COLUMN slug;
ALTER TABLE bbtoken_users
    ADD COLUMN slug text NOT NULL
        GENERATED ALWAYS AS (bbtoken_user_slug(name)) STORED;
CREATE UNIQUE INDEX bbtoken_users_slug_key ON bbtoken_users (slug);

-- The users whose slug changed (the old rule was lower() in the database's
-- collation), each as bbtoken_users_personal_fresh (migration 57) would
-- take them; the grantees' rows need no lock of their own, since the
-- ALTER TABLE holds the users' table whole.
DO $$
DECLARE
    moved bigint[] := ARRAY(SELECT id FROM bbtoken_users
                             WHERE slug <> lower(replace(name, '@', '_'))
                             ORDER BY id);
    mine text[] := ARRAY(SELECT '~' || slug FROM bbtoken_users
                          WHERE id = ANY (moved));
BEGIN
    IF cardinality(moved) = 0 THEN
        RETURN;
    END IF;
    UPDATE bbtoken_tokens SET revoked_at = now()
     WHERE id IN (SELECT k.id FROM bbtoken_tokens k
                   WHERE k.user_id IS NULL
                     AND k.project_key COLLATE "C" = ANY (mine)
                     AND k.revoked_at IS NULL
                   ORDER BY k.id FOR UPDATE);
    INSERT INTO bbtoken_notices (token_id, kind)
    SELECT k.id, e.kind FROM bbtoken_tokens k,
           LATERAL (VALUES ('revoked', k.revoked_at IS NOT NULL),
                           ('expired', k.expires_at <= now())) e(kind, yes)
     WHERE k.user_id IS NULL AND k.project_key COLLATE "C" = ANY (mine)
       AND e.yes
    ON CONFLICT (token_id, kind) DO NOTHING;
    DELETE FROM bbtoken_project_grants WHERE project_key = ANY (mine);
    DELETE FROM bbtoken_repo_grants WHERE project_key = ANY (mine);
    DELETE FROM bbtoken_projects WHERE project_key = ANY (mine);
    PERFORM bbtoken_lookup_users(moved, false);
END
$$;

-- Names in any case, by the same rule.  Two names equal so have one slug,
-- which the check above refused.
DROP INDEX bbtoken_users_name_key;
CREATE UNIQUE INDEX bbtoken_users_name_key
    ON bbtoken_users (lower(name COLLATE "C"));
DROP INDEX bbtoken_audit_user;
CREATE INDEX bbtoken_audit_user
    ON bbtoken_audit (lower(user_name COLLATE "C"), at);

-- As migration 5's, the user found by the name in any case.
CREATE OR REPLACE FUNCTION bbtoken_api_target(p_caller text, p_user text,
                                              p_create boolean)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    c record;
    t record;
BEGIN
    -- The caller exactly as the site's login knows them: a password file
    -- may tell "Admin" from "admin", and only one of them is this user.
    SELECT id, active, is_admin INTO c FROM bbtoken_users
     WHERE name = p_caller;
    IF NOT FOUND OR NOT c.active THEN
        RAISE EXCEPTION 'not permitted: % is not an active user', p_caller
            USING ERRCODE = 'BT001';
    END IF;
    SELECT id INTO t FROM bbtoken_users
     WHERE lower(name COLLATE "C") = lower(p_user COLLATE "C");
    IF NOT FOUND THEN
        IF c.is_admin AND NOT p_create THEN
            RAISE EXCEPTION 'no such user: %', p_user
                USING ERRCODE = 'BT002';
        END IF;
        RAISE EXCEPTION 'not permitted to manage the tokens of %', p_user
            USING ERRCODE = 'BT001';
    END IF;
    IF t.id <> c.id AND (p_create OR NOT c.is_admin) THEN
        RAISE EXCEPTION 'not permitted to % the tokens of %',
            CASE WHEN p_create THEN 'create' ELSE 'manage' END, p_user
            USING ERRCODE = 'BT001';
    END IF;
    PERFORM set_config('bbtoken.source', 'http', true),
            set_config('bbtoken.actor', p_caller, true);
    RETURN t.id;
END
$$;

-- CREATE OR REPLACE drops a function's settings (its privileges stay): the
-- schema's own objects first, whatever the caller's search_path, as since
-- migration 2.
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION bbtoken_api_target(text, text, boolean)'
                   ' SET search_path = %I, pg_temp', current_schema());
END
$$;

UPDATE bbtoken_schema SET version = 58;
