-- Migration 34: a rotated token's successor names it.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- A rotation revokes the old token and makes its successor in one
-- transaction (migration 11).  A bulk revocation that read its tokens
-- before a rotation and revokes them after (`bbtoken list --all ...
-- --revoke`, a batch at a time from one snapshot) finds the old token
-- revoked and the successor unknown to it: whoever holds the token and
-- may rotate it (its owner, through the REST API) would keep a live
-- token by rotating it while the run goes.  The link is data, set by the
-- one function every rotation goes through (bbtoken_rotate; the REST
-- API's bbtoken_api_rotate calls it), so the revocation follows a token's
-- successors to the live one.  No foreign key: purge deletes the old
-- token's row, and the successor's link then names an id that no token
-- has (an id is never used again).  Tokens rotated before this migration
-- have none: their rotation was over before any run could select them.
-- The index serves the walk from a batch's ids to their successors.
--
-- Adding a column without a default changes no row (no rewrite), but it
-- takes ACCESS EXCLUSIVE on bbtoken_tokens until the upgrade commits:
-- for that moment, one scan of the table to build an index of no rows,
-- its readers and writers wait (httpd's lookup reads bbtoken_lookup, not
-- this table; a last use written meanwhile waits).

ALTER TABLE bbtoken_tokens ADD COLUMN rotated_from text;

CREATE INDEX bbtoken_tokens_rotated_from ON bbtoken_tokens (rotated_from)
    WHERE rotated_from IS NOT NULL;

-- As migration 24's, the new token naming the one it replaces.
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
    -- the user takes them (a token's holder never changes: read unlocked).
    SELECT * INTO was FROM bbtoken_tokens WHERE id = p_id;
    IF was.user_id IS NOT NULL THEN
        PERFORM 1 FROM bbtoken_users WHERE id = was.user_id FOR KEY SHARE;
    ELSIF was.project_key LIKE '~%' THEN
        PERFORM 1 FROM bbtoken_users
          WHERE lower(name) = substr(was.project_key, 2) FOR KEY SHARE;
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

-- As migration 2 on: the schema's own objects first, whatever the caller's
-- search_path (CREATE OR REPLACE drops the setting; privileges stay).
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION bbtoken_rotate(text, text, text, text)'
                   ' SET search_path = %I, pg_temp', current_schema());
END
$$;

UPDATE bbtoken_schema SET version = 34;
