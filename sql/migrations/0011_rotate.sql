-- Migration 11: rotating a token.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- Rotation replaces a live token by a new one of the same holder, name,
-- permissions and kind, and revokes the old one in the same transaction:
-- there is never a moment with both or neither.  The new secret is made by
-- the caller (bbt_token_mint, as for create) and only its id, salt and hash
-- come here.  One rule for the CLI (bbtoken_rotate, as the schema's owner)
-- and the REST API (bbtoken_api_rotate, which checks the caller first):
--   - the new token lives as long as the old one was made to (created to
--     expires), capped by the policy's maximum expiry;
--   - a token without an expiry gets none, unless the policy requires one
--     (the policy trigger then gives it the maximum);
--   - a revoked or expired token cannot be rotated: it is dead, and its
--     replacement would bring it back;
--   - the audit trail has, beside the old token's 'revoked' and the new
--     one's 'created', a 'rotated' record on each id naming the other.
-- Revoking the old token is an UPDATE of revoked_at, which migration 8's
-- notify trigger reports to httpd's cache: the old token is refused at
-- once on every server that listens.

ALTER TABLE bbtoken_audit DROP CONSTRAINT bbtoken_audit_event,
    ADD CONSTRAINT bbtoken_audit_event CHECK (event IN (
        'created', 'renamed', 'permissions_changed', 'revoked',
        'revoked_unused', 'revoked_leaked', 'rotated',
        'expired_refused', 'deleted',
        'user_added', 'user_disabled', 'user_enabled',
        'user_admin_changed', 'user_deleted',
        'granted', 'ungranted', 'policy_changed', 'project_changed'));

-- Rotate token p_id into p_new_id (salt p_salt, hash p_hash); returns the
-- new token's expiry (NULL: none).  Refusals: BT003 for an unknown token;
-- bbtoken_policy_rotate_live for a revoked or expired one; the table's and
-- the policy's own (a taken id, a disabled owner...) as for create.
CREATE FUNCTION bbtoken_rotate(p_id text, p_new_id text, p_salt text,
                               p_hash text)
RETURNS timestamptz LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    was bbtoken_tokens;
    pol bbtoken_policy;
    holder text;
    life interval;
    ends timestamptz;
BEGIN
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
                                expires_at)
    VALUES (p_new_id, was.user_id, was.project_key, was.repo_slug, was.name,
            was.project_perm, was.repo_perm, p_salt, p_hash, now() + life)
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

-- The REST API's rotation, for caller p_caller: a personal token of
-- p_user (p_key NULL), or a token of project p_key (p_slug NULL) or of
-- repository p_key/p_slug.  Rotation makes a token, so a personal token
-- is rotated by its owner alone, as only its owner creates one (a global
-- admin who could rotate someone's token would hold a working token of
-- theirs); a project's or a repository's by whoever may manage them
-- (bbtoken_api_may).  A token of another holder is no such token.
CREATE FUNCTION bbtoken_api_rotate(p_caller text, p_user text, p_key text,
                                   p_slug text, p_id text, p_new_id text,
                                   p_salt text, p_hash text)
RETURNS timestamptz LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    uid bigint;
BEGIN
    IF p_key IS NULL THEN
        uid := bbtoken_api_target(p_caller, p_user, true);
        PERFORM 1 FROM bbtoken_tokens WHERE id = p_id AND user_id = uid;
    ELSE
        PERFORM bbtoken_api_may(p_caller, p_key, p_slug);
        PERFORM 1 FROM bbtoken_tokens
         WHERE id = p_id AND user_id IS NULL AND project_key = p_key
           AND repo_slug IS NOT DISTINCT FROM p_slug;
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no such token: %', p_id
            USING ERRCODE = 'BT003';
    END IF;
    RETURN bbtoken_rotate(p_id, p_new_id, p_salt, p_hash);
END
$$;

DO $$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY[
        'bbtoken_rotate(text, text, text, text)',
        'bbtoken_api_rotate(text, text, text, text, text, text, text, text)']
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f,
                       current_schema());
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$$;

UPDATE bbtoken_schema SET version = 11;
