-- Migration 24: concurrent token operations take their rows in one order.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- PostgreSQL aborts one of two transactions that each wait for a row the
-- other holds (40P01, deadlock detected).  These waited so:
--
-- Tokens in the order they were handed.  A leak report revoked its tokens
-- in the order of its list (the planner reads each by its id), `bbtoken
-- revoke --user` a user's in the order of the rows on disk, the trigger
-- of a deleted or renamed user ~name's likewise: two reports naming the
-- same two tokens in opposite orders, or a report and a revoke --user,
-- could each hold one and wait for the other.  Every statement that
-- revokes more than one token now locks them by id first, lowest first
-- (the CLI's revoke --user too).
--
-- The holder after its token.  A rotation locked the token, then (for the
-- new token's checks) its owner's row, or for a token of ~name the row of
-- user name; deleting or renaming that user locks the user first, then
-- its tokens.  A rotation now takes the holder's row first, FOR KEY SHARE
-- (a deletion, a rename or a disable of the user waits for it, or it for
-- them; another rotation or a new token of the same user does not), then
-- the token.
--
-- A deleted user's tokens.  ON DELETE CASCADE deletes them in the order of
-- the index on user_id; a trigger now locks them by id first, after the
-- user's row, as a rotation and a leak report take them.
--
-- Leak report counts.  A call swept every address's ended window, waiting
-- for any row another call held, then counted its own address's row:
-- while a window ended between two calls' clocks, one could hold the
-- other's row and wait for a third.  The sweep now skips rows another call
-- holds (and never its own address's, whose ended window the count itself
-- starts again), so it never waits.
--
-- A token's last use.  httpd's write waited for a token row another
-- transaction was changing (a revocation, a rotation, a rename; an
-- administrator's psql session left open): the request waited with it, up
-- to the statement timeout, and then logged an error.  It now leaves such
-- a row alone: the token is being revoked, or another request is writing
-- its use, or the next request after the interval writes it.  (The write
-- of a new address group still waits: two at once must both be kept.)

CREATE OR REPLACE FUNCTION bbtoken_api_revoke_leaked(p_addr text, p_ids text[],
                                                     p_hashes text[])
RETURNS SETOF text
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    PERFORM set_config('bbtoken.source', 'http', true),
            set_config('bbtoken.actor', 'leak report', true),
            set_config('bbtoken.client_addr', COALESCE(p_addr, ''), true),
            set_config('bbtoken.revoke_reason', 'leaked', true);
    -- Lowest id first, whatever the order of the list.
    PERFORM 1 FROM bbtoken_tokens t, unnest(p_ids, p_hashes) AS v(id, hash)
     WHERE t.id = v.id AND t.secret_hash = v.hash AND t.revoked_at IS NULL
       AND (t.expires_at IS NULL OR t.expires_at > now())
     ORDER BY t.id FOR UPDATE OF t;
    RETURN QUERY
        UPDATE bbtoken_tokens t SET revoked_at = now()
          FROM unnest(p_ids, p_hashes) AS v(id, hash)
         WHERE t.id = v.id AND t.secret_hash = v.hash
           AND t.revoked_at IS NULL
           AND (t.expires_at IS NULL OR t.expires_at > now())
        RETURNING t.id;
    PERFORM set_config('bbtoken.revoke_reason', '', true);
END
$$;

CREATE OR REPLACE FUNCTION bbtoken_api_leak_throttle(p_addr text, p_calls integer,
                                                     p_window integer)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    a inet := COALESCE(bbtoken_inet(p_addr), '0.0.0.0'::inet);
    w interval := make_interval(secs => p_window);
    r bbtoken_leak_throttle;
BEGIN
    IF family(a) = 6 THEN
        a := network(set_masklen(a, 64));
    ELSE
        a := host(a)::inet;
    END IF;
    -- Others' ended windows, those no other call holds: never a wait.
    DELETE FROM bbtoken_leak_throttle d
     WHERE d.client_net IN (SELECT o.client_net FROM bbtoken_leak_throttle o
                             WHERE o.window_start <= now() - w
                               AND o.client_net <> a
                               FOR UPDATE SKIP LOCKED);
    INSERT INTO bbtoken_leak_throttle AS t (client_net, window_start, calls)
    VALUES (a, now(), 1)
    ON CONFLICT (client_net) DO UPDATE
       SET calls = CASE WHEN t.window_start <= now() - w THEN 1
                        ELSE t.calls + 1 END,
           window_start = CASE WHEN t.window_start <= now() - w THEN now()
                               ELSE t.window_start END
    RETURNING * INTO r;
    IF r.calls <= p_calls THEN
        RETURN 0;
    END IF;
    RETURN greatest(1, ceil(extract(epoch FROM r.window_start + w - now())))
           ::integer;
END
$$;

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
                                expires_at, allowed_nets)
    VALUES (p_new_id, was.user_id, was.project_key, was.repo_slug, was.name,
            was.project_perm, was.repo_perm, p_salt, p_hash, now() + life,
            was.allowed_nets)
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

CREATE OR REPLACE FUNCTION bbtoken_touch(p_id text, p_addr text, p_secs integer)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    a inet := bbtoken_inet(p_addr);
BEGIN
    UPDATE bbtoken_tokens
       SET last_authenticated = now(),
           last_addresses = CASE WHEN a IS NULL THEN last_addresses
               ELSE (ARRAY[a] || array_remove(last_addresses, a))[1:5] END
     WHERE id = (SELECT k.id FROM bbtoken_tokens k
                  WHERE k.id = p_id AND k.revoked_at IS NULL
                    AND (k.expires_at IS NULL OR k.expires_at > now())
                    AND (k.last_authenticated IS NULL OR k.last_authenticated
                         < now() - make_interval(secs => GREATEST(p_secs, 0)))
                    FOR NO KEY UPDATE SKIP LOCKED);
    RETURN FOUND;
END
$$;

-- Before the cascade deletes them: the user's row is locked by now.
CREATE FUNCTION bbtoken_users_lock_tokens() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    PERFORM 1 FROM bbtoken_tokens WHERE user_id = OLD.id
      ORDER BY id FOR UPDATE;
    RETURN OLD;
END
$$;

CREATE TRIGGER bbtoken_users_lock_tokens BEFORE DELETE ON bbtoken_users
    FOR EACH ROW EXECUTE FUNCTION bbtoken_users_lock_tokens();

-- As migration 2 on: the schema's own objects first, whatever the caller's
-- search_path (CREATE OR REPLACE drops the setting; privileges stay).
DO $$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY[
        'bbtoken_api_revoke_leaked(text, text[], text[])',
        'bbtoken_api_leak_throttle(text, integer, integer)',
        'bbtoken_rotate(text, text, text, text)',
        'bbtoken_users_personal_revoke()',
        'bbtoken_touch(text, text, integer)',
        'bbtoken_users_lock_tokens()']
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f,
                       current_schema());
    END LOOP;
END
$$;

UPDATE bbtoken_schema SET version = 24;
