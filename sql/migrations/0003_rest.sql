-- Migration 3: what the access-tokens REST API (httpd's role) may change.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- httpd's role still writes no table itself.  Three SECURITY DEFINER
-- functions create, update and revoke a token on behalf of p_caller, the
-- person httpd authenticated, and check who may do what:
--   - the caller must be a known, active user (bbtoken_users);
--   - a user manages only their own tokens;
--   - a global admin may also update and revoke anyone's, but creates
--     tokens only for themself (Bitbucket's rule).
-- Refusals: insufficient_privilege (42501) for "not permitted",
-- no_data_found (P0002) for an unknown user or token.  Every other rule
-- (permission matrix, names, expiry policy, the per-user limit) is the
-- tokens table's own, in its CHECKs and triggers, shared with the CLI.
-- Each function sets bbtoken.source 'http' and bbtoken.actor p_caller for
-- the audit trail of its transaction; the client address is the caller's
-- to set (bbtoken.client_addr).

-- The id of user p_user, which p_caller may manage (create: only their
-- own).  Raises as above.
CREATE FUNCTION bbtoken_api_target(p_caller text, p_user text,
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
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT id INTO t FROM bbtoken_users WHERE lower(name) = lower(p_user);
    IF NOT FOUND THEN
        IF c.is_admin AND NOT p_create THEN
            RAISE EXCEPTION 'no such user: %', p_user
                USING ERRCODE = 'no_data_found';
        END IF;
        RAISE EXCEPTION 'not permitted to manage the tokens of %', p_user
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF t.id <> c.id AND (p_create OR NOT c.is_admin) THEN
        RAISE EXCEPTION 'not permitted to % the tokens of %',
            CASE WHEN p_create THEN 'create' ELSE 'manage' END, p_user
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM set_config('bbtoken.source', 'http', true),
            set_config('bbtoken.actor', p_caller, true);
    RETURN t.id;
END
$$;

-- Create a token (the id, salt and hash made by the caller, as the CLI
-- does); p_days NULL: no expiry unless the policy requires one.
CREATE FUNCTION bbtoken_api_create(p_caller text, p_user text, p_id text,
                                   p_name text, p_project text, p_repo text,
                                   p_salt text, p_hash text, p_days integer)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    uid bigint := bbtoken_api_target(p_caller, p_user, true);
BEGIN
    INSERT INTO bbtoken_tokens (id, user_id, name, project_perm, repo_perm,
                                salt, secret_hash, expires_at)
    VALUES (p_id, uid, p_name, p_project, p_repo, p_salt, p_hash,
            now() + make_interval(days => p_days));
END
$$;

-- Rename a live token and/or change its permissions (NULL: unchanged).
CREATE FUNCTION bbtoken_api_update(p_caller text, p_user text, p_id text,
                                   p_name text, p_project text, p_repo text)
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
            USING ERRCODE = 'no_data_found';
    END IF;
END
$$;

-- Revoke a live token.
CREATE FUNCTION bbtoken_api_revoke(p_caller text, p_user text, p_id text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    uid bigint := bbtoken_api_target(p_caller, p_user, false);
BEGIN
    UPDATE bbtoken_tokens SET revoked_at = now()
     WHERE id = p_id AND user_id = uid AND revoked_at IS NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no such token: %', p_id
            USING ERRCODE = 'no_data_found';
    END IF;
END
$$;

DO $$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY[
        'bbtoken_api_target(text, text, boolean)',
        'bbtoken_api_create(text, text, text, text, text, text, text, text, integer)',
        'bbtoken_api_update(text, text, text, text, text, text)',
        'bbtoken_api_revoke(text, text, text)']
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f,
                       current_schema());
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$$;

UPDATE bbtoken_schema SET version = 3;
