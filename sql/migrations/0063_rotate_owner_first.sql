-- Migration 63: a rotation takes its owner's row FOR NO KEY UPDATE from
-- the start, and a rename of a token takes it before the token's.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- A rotation of a user's token took the owner's row FOR KEY SHARE, then
-- the token, then the owner's FOR NO KEY UPDATE (migration 35).  An
-- update of a user's row (a disable, an admin flag, a rename) waits for
-- KEY SHARE, as one of a key would (migration 35 says why), but KEY SHARE
-- does not queue behind it: each new rotation joined the row's lockers
-- while the update waited for those before.  With a few rotations in
-- flight at every moment (the user, or anyone with their password,
-- rotating in loops through the REST API) `bbtoken user disable` waited
-- as long as they went on, and every one of them handed out a working
-- token meanwhile.  A rotation now takes the owner's row FOR NO KEY
-- UPDATE first, the mode the new token's policy trigger takes it in: it
-- conflicts with an update of the user and with another rotation of the
-- same owner, so each queues in turn, and an update waits for the
-- rotation that holds the row, no more.
--
-- The owner's row before the token's then, in every change that takes
-- both: a rename of a token (the CLI's update, bbtoken_api_update below)
-- held the token and took the owner's row in the policy trigger, and
-- would wait in a circle with a rotation that holds the owner and waits
-- for the token (PostgreSQL aborts one, 40P01).  bbtoken_api_update takes
-- the owner's row first, as the CLI's update now does; a deletion of the
-- user took its row before its tokens already (migration 24).  A rename
-- made by hand in psql still takes the token first.
--
-- (t/76-rotate-disable races each of these.)

-- As migration 56's, the owner's row FOR NO KEY UPDATE at once.
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
    -- the user and a rename of the token take them (a token's holder never
    -- changes: read unlocked), in the mode the new token's trigger takes
    -- it: the owner's FOR NO KEY UPDATE (an update of the user waits for
    -- this rotation, and the next rotation for the update), a ~slug token's
    -- user's FOR SHARE.  The owner's is held before the revocation below
    -- takes the token's lookup row, as a change of the owner's grants or
    -- state takes it.
    SELECT * INTO was FROM bbtoken_tokens WHERE id = p_id;
    IF was.user_id IS NOT NULL THEN
        PERFORM 1 FROM bbtoken_users WHERE id = was.user_id FOR NO KEY UPDATE;
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

-- As migration 5's, the owner's row taken before the token's, in the mode
-- a rename's policy trigger takes it.
CREATE OR REPLACE FUNCTION bbtoken_api_update(p_caller text, p_user text,
                                              p_id text, p_name text,
                                              p_project text, p_repo text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    uid bigint := bbtoken_api_target(p_caller, p_user, false);
BEGIN
    PERFORM 1 FROM bbtoken_users WHERE id = uid FOR NO KEY UPDATE;
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

-- CREATE OR REPLACE drops a function's settings (its privileges stay): the
-- schema's own objects first, whatever the caller's search_path, as since
-- migration 2.
DO $$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY['bbtoken_rotate(text, text, text, text)',
                             'bbtoken_api_update(text, text, text, text, text, text)']
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f,
                       current_schema());
    END LOOP;
END
$$;

UPDATE bbtoken_schema SET version = 63;
