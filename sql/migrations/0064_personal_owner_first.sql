-- Migration 64: a personal project's token takes its user's row FOR NO
-- KEY UPDATE, made or rotated, as the user's own tokens do.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- httpd takes a token of a personal project ~slug only while its user is
-- active, so `bbtoken user disable` stops those tokens too.  A rotation of
-- one took the user's row FOR SHARE (bbtoken_rotate), and so did each new
-- token of the project (bbtoken_tokens_personal, before the policy's
-- trigger refuses one at the limit or lets it in), and each held it while
-- it waited for the project's row of bbtoken_locks, which the project's
-- changes take one at a time.  SHARE does not queue behind an update of
-- the user's row that waits for it, as migration 63 tells of KEY SHARE:
-- with rotations of the project's tokens always in flight (through the
-- REST API, by the user or anyone with their password) the disable waited
-- as long as they went on, as it did for the user's own tokens before
-- migration 63.  Both now take the row FOR NO KEY UPDATE, the mode the
-- user's own tokens take it in: a disable waits for the change that holds
-- the row, and the next change waits for the disable.
--
-- Still the user's row before the token's and before the project's lock
-- row, as a deletion or a rename of the user takes them.  The settings
-- keep FOR SHARE.  A grant on the project takes it FOR KEY SHARE, before
-- the grantee's (`bbtoken grant`, as a plain INSERT does: this trigger,
-- then the lookup's after the statement): all it needs is that the user
-- is neither renamed nor deleted, each a change of the row's key (on
-- PostgreSQL 15 any update of the row is one, a disable too, as migration
-- 35 notes, and waits for the grant or the grant for it; no rotation
-- does, taking the row FOR NO KEY UPDATE) (a
-- deletion or a rename waits for the grant and deletes it, or comes first
-- and the grant is refused, as migration 44 has it).  `bbtoken grant` took
-- the grantee's row first, FOR SHARE, then the user's FOR SHARE, while a
-- rename or a deletion of the user holds it, then takes its grantees' FOR
-- SHARE: with a change of the grantee's row held and a second queued
-- behind the waiting grant (a rotation of a token of the grantee's
-- project or of its own, a disable), the rename's request queued behind
-- the second, which waited for the grant, which waited for the rename.
-- Taking the user's row FOR SHARE first would wait so for a rotation of
-- the user's tokens, and circle the same way with a rename of the
-- grantee when the user holds a grant on the grantee's project; KEY SHARE
-- waits for no rotation (the README tells what circles are left).  The
-- grantee's row stays FOR SHARE (the lookup's trigger): it orders the
-- grant against a new token of the grantee, which takes that row FOR NO
-- KEY UPDATE and computes its lookup row from the grants it sees.
--
-- (t/76-rotate-disable-personal races each of these, and
-- t/76-lock-circle-personal the grant.)

-- As migration 56's, the user's row FOR NO KEY UPDATE for a token, FOR
-- KEY SHARE for a grant.
CREATE OR REPLACE FUNCTION bbtoken_tokens_personal() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    IF TG_TABLE_NAME = 'bbtoken_tokens' THEN
        PERFORM 1 FROM bbtoken_users
          WHERE slug = substr(NEW.project_key, 2) FOR NO KEY UPDATE;
    ELSIF TG_TABLE_NAME IN ('bbtoken_project_grants',
                            'bbtoken_repo_grants') THEN
        PERFORM 1 FROM bbtoken_users
          WHERE slug = substr(NEW.project_key, 2) FOR KEY SHARE;
    ELSE
        PERFORM 1 FROM bbtoken_users
          WHERE slug = substr(NEW.project_key, 2) FOR SHARE;
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the personal project % has no user', NEW.project_key
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'bbtoken_policy_personal_owner';
    END IF;
    RETURN NEW;
END
$$;

-- As migration 63's, a ~slug token's user's row FOR NO KEY UPDATE too.
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
    -- changes: read unlocked), in the mode the new token's triggers take
    -- it: FOR NO KEY UPDATE, the owner's or a ~slug token's user's (an
    -- update of the user waits for this rotation, and the next rotation
    -- for the update).  The owner's is held before the revocation below
    -- takes the token's lookup row, as a change of the owner's grants or
    -- state takes it.
    SELECT * INTO was FROM bbtoken_tokens WHERE id = p_id;
    IF was.user_id IS NOT NULL THEN
        PERFORM 1 FROM bbtoken_users WHERE id = was.user_id FOR NO KEY UPDATE;
    ELSIF was.project_key LIKE '~%' THEN
        PERFORM 1 FROM bbtoken_users
          WHERE slug = substr(was.project_key, 2) FOR NO KEY UPDATE;
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

-- CREATE OR REPLACE drops a function's settings (its privileges stay): the
-- schema's own objects first, whatever the caller's search_path, as since
-- migration 2.
DO $$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY['bbtoken_tokens_personal()',
                             'bbtoken_rotate(text, text, text, text)']
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f,
                       current_schema());
    END LOOP;
END
$$;

UPDATE bbtoken_schema SET version = 64;
