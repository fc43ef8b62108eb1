-- Migration 35: a rotation takes its holder's row before any lookup row;
-- a change of user name takes its grantees' rows before their grants.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- Every change that rewrites a user's rows in bbtoken_lookup (migration
-- 26) holds the user's row before it takes them: a grant added, changed
-- or removed FOR SHARE; a disable, an admin flag or a rename by the
-- update itself.  A rotation (migrations 24 and 34) took its holder's row FOR KEY
-- SHARE, then the token, then, by revoking it, the token's lookup row;
-- only then did the new token's policy trigger take the owner's row FOR
-- NO KEY UPDATE (it counts a user's tokens).  A grant change of the owner
-- does not wait for KEY SHARE: it took the owner's row FOR SHARE and
-- waited for the old token's lookup row, which the rotation held, waiting
-- for the owner's row.  PostgreSQL aborted one of the two (40P01; the
-- CLI ran it again).  A rotation now takes the owner's row FOR NO KEY
-- UPDATE after the token (before it, a rename of the token, which holds
-- the token and then takes the owner's row so, would wait in a circle
-- with it) and before the token's lookup row.
--
-- An update of a user's row waits for KEY SHARE here, as one of a key
-- would: slug, in a unique index, is a stored generated column, which
-- PostgreSQL (15) computes again in every update of a table with a
-- BEFORE UPDATE row trigger (without the trigger, or with slug in no
-- unique index, an update of another column does not wait).  A disable, a rename or a
-- deletion of the owner so waited for the rotation's first lock, and the
-- rename of user name for that of a ~name token's rotation; they no
-- longer depend on it: a ~name token's rotation takes the row of user
-- name FOR SHARE from the start, as the new token's trigger takes it (a
-- rename of the user holds its row, then revokes the ~name tokens), and
-- an own token's takes its owner's FOR NO KEY UPDATE before the lookup
-- row.  Only those two locks of bbtoken_rotate change.
--
-- (t/76-lookup-order races each of these.)

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
    -- the row of a ~name token's user in the mode the new token's trigger
    -- takes it.
    SELECT * INTO was FROM bbtoken_tokens WHERE id = p_id;
    IF was.user_id IS NOT NULL THEN
        PERFORM 1 FROM bbtoken_users WHERE id = was.user_id FOR KEY SHARE;
    ELSIF was.project_key LIKE '~%' THEN
        PERFORM 1 FROM bbtoken_users
          WHERE lower(name) = substr(was.project_key, 2) FOR SHARE;
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

-- A rename or a deletion of user name deletes the others' grants on ~name,
-- each holding the grant, then (bbtoken_lookup_users) its user's row FOR
-- SHARE; a deletion of such a user holds its row and deletes its grants:
-- each waited for the other.  The grantees' rows are now taken first,
-- lowest id first, as a deletion of one of them takes its row before its
-- grants (and `bbtoken grant`/`ungrant` the grantee's before the grant's).
-- Otherwise as migration 24's.
CREATE OR REPLACE FUNCTION bbtoken_users_personal_revoke() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    -- Lowest id first, as every revocation of more than one token.
    UPDATE bbtoken_tokens SET revoked_at = now()
     WHERE id IN (SELECT k.id FROM bbtoken_tokens k
                   WHERE k.user_id IS NULL
                     AND k.project_key = '~' || lower(OLD.name)
                     AND k.revoked_at IS NULL
                   ORDER BY k.id FOR UPDATE);
    PERFORM 1 FROM bbtoken_users
      WHERE id IN (SELECT g.user_id FROM bbtoken_project_grants g
                    WHERE g.project_key = '~' || lower(OLD.name)
                   UNION
                   SELECT g.user_id FROM bbtoken_repo_grants g
                    WHERE g.project_key = '~' || lower(OLD.name))
      ORDER BY id FOR SHARE;
    DELETE FROM bbtoken_project_grants
     WHERE project_key = '~' || lower(OLD.name);
    DELETE FROM bbtoken_repo_grants
     WHERE project_key = '~' || lower(OLD.name);
    IF TG_OP = 'UPDATE' THEN
        UPDATE bbtoken_projects SET project_key = '~' || lower(NEW.name)
         WHERE project_key = '~' || lower(OLD.name);
    ELSE
        DELETE FROM bbtoken_projects
         WHERE project_key = '~' || lower(OLD.name);
    END IF;
    RETURN NULL;
END
$$;

-- As migration 2 on: the schema's own objects first, whatever the caller's
-- search_path (CREATE OR REPLACE drops the setting; privileges stay).
DO $$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY['bbtoken_rotate(text, text, text, text)',
                             'bbtoken_users_personal_revoke()']
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f,
                       current_schema());
    END LOOP;
END
$$;

UPDATE bbtoken_schema SET version = 35;
