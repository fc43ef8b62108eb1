-- Migration 5: one rule for token names, and refusals of the API's own.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- Token names.  A name is 1 to 255 characters and holds no control
-- character (Unicode's Cc: U+0001 to U+001F, U+007F and U+0080 to U+009F).
-- The module and the CLI apply the same rule, word for word
-- (mod_bbtoken/bbt_input.c, bbt_input_token_name).  The old CHECK said
-- [[:cntrl:]], whose meaning follows the database's locale: in the C locale
-- it left the C1 controls in, elsewhere it took them out.  A trigger
-- refuses a bad name with the reason, before the row is built: a CHECK's
-- refusal carries the failing row (salt and hash included) in its DETAIL,
-- which PostgreSQL logs at its default verbosity.
--
-- The API's refusals.  bbtoken_api_* said "not permitted" with
-- insufficient_privilege (42501), the code PostgreSQL itself uses for a
-- missing GRANT, so a server fault looked like a refused caller.  They now
-- raise codes of their own, class BT:
--   BT001  the caller may not do this (not an active user, another's tokens)
--   BT002  no such user
--   BT003  no such token

-- Renames below are the upgrade's doing (the audit trail says so).
SET LOCAL bbtoken.source = 'upgrade';

-- What is wrong with token name n, in words; NULL when nothing is.
CREATE FUNCTION bbtoken_token_name_problem(n text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE
        WHEN n = '' THEN 'token name must not be empty'
        WHEN n ~ '[\u0001-\u001f\u007f-\u009f]'
        THEN 'token name must not contain control characters'
        WHEN char_length(n) > 255
        THEN 'token name is longer than 255 characters'
    END
$$;

-- Names the old rule let in (C1 controls, in a database with the C
-- locale): each control becomes "?", and the token id is appended, so that
-- no two live names meet.
UPDATE bbtoken_tokens
   SET name = left(regexp_replace(name, '[\u0001-\u001f\u007f-\u009f]', '?',
                                  'g'), 241) || ' #' || id
 WHERE bbtoken_token_name_problem(name) IS NOT NULL;

ALTER TABLE bbtoken_tokens DROP CONSTRAINT bbtoken_tokens_name_check;
ALTER TABLE bbtoken_tokens ADD CONSTRAINT bbtoken_tokens_name
    CHECK (bbtoken_token_name_problem(name) IS NULL);

-- Runs before the policy trigger (triggers fire in name order).
CREATE FUNCTION bbtoken_tokens_name() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    why text := bbtoken_token_name_problem(NEW.name);
BEGIN
    IF why IS NOT NULL THEN
        RAISE EXCEPTION '%', why
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'bbtoken_policy_name',
                  TABLE = 'bbtoken_tokens';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER bbtoken_tokens_name BEFORE INSERT OR UPDATE OF name
    ON bbtoken_tokens
    FOR EACH ROW EXECUTE FUNCTION bbtoken_tokens_name();

-- ---- the API's refusals ------------------------------------------------

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
    SELECT id INTO t FROM bbtoken_users WHERE lower(name) = lower(p_user);
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

CREATE OR REPLACE FUNCTION bbtoken_api_update(p_caller text, p_user text,
                                              p_id text, p_name text,
                                              p_project text, p_repo text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    uid bigint := bbtoken_api_target(p_caller, p_user, false);
BEGIN
    UPDATE bbtoken_tokens
       SET name = COALESCE(p_name, name),
           project_perm = COALESCE(p_project, project_perm),
           repo_perm = COALESCE(p_repo, repo_perm)
     WHERE id = p_id AND user_id = uid AND revoked_at IS NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no such token: %', p_id
            USING ERRCODE = 'BT003';
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION bbtoken_api_revoke(p_caller text, p_user text,
                                              p_id text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    uid bigint := bbtoken_api_target(p_caller, p_user, false);
BEGIN
    UPDATE bbtoken_tokens SET revoked_at = now()
     WHERE id = p_id AND user_id = uid AND revoked_at IS NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no such token: %', p_id
            USING ERRCODE = 'BT003';
    END IF;
END
$$;

-- CREATE OR REPLACE keeps who may call a function but not its settings.
DO $$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY[
        'bbtoken_api_target(text, text, boolean)',
        'bbtoken_api_update(text, text, text, text, text, text)',
        'bbtoken_api_revoke(text, text, text)',
        'bbtoken_tokens_name()']
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f,
                       current_schema());
    END LOOP;
    EXECUTE 'REVOKE EXECUTE ON FUNCTION bbtoken_tokens_name() FROM PUBLIC';
END
$$;

UPDATE bbtoken_schema SET version = 5;
