-- Migration 42: a leak report revokes its tokens in one statement again,
-- and a project's or a repository's token is found, checked and locked
-- for a write by one function.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- Since migration 41 bbtoken_api_revoke_leaked wrote each reported token
-- in an UPDATE of its own, so that each was found by its id whatever the
-- statistics; the lookup's statement trigger (bbtoken_lookup_tokens, and
-- the notification it sets off) then ran once per token instead of once.
-- On bench/bigsite.sql with fresh statistics a report of 100 tokens (the
-- module's cap) took 246-314 ms instead of 52-69 (review of schema 41),
-- the reported rows locked all along.  Now the rows are locked as
-- before (every reported id that exists, lowest first, by its id alone),
-- then the ones to revoke chosen on the versions locked (their hash,
-- live, not expired), each read by its id alone as in migration 41, and
-- their row addresses (ctid) kept; then one UPDATE writes them by those
-- addresses.  A row's address holds while this transaction holds its
-- lock: no other transaction can update or delete it, and VACUUM moves no
-- live row.  A scan by addresses (Tid Scan) involves no statistics, and
-- that UPDATE has no other condition, which might let a partial index
-- (bbtoken_tokens_live_name, WHERE revoked_at IS NULL) serve it whole, as
-- migration 40 tells.  The lookup's trigger runs once, locking the lookup
-- rows lowest id first after every token's row (README, lock order), as
-- up to version 40.  The ids come back lowest first, as in version 41.
--
-- Migration 41 wrote out in each of bbtoken_api_scope_update,
-- bbtoken_api_scope_revoke and bbtoken_api_set_nets (a project's or a
-- repository's token) the same read: the token found by its id alone, the
-- holder's conditions (no owner, the path's project and repository, live)
-- checked on the version read, only then locked, and checked again on the
-- version locked, so that a token of another holder is never locked nor
-- waited for.  That rule is now bbtoken_scope_token_lock's alone; each
-- writes the id it returns, by its primary key (a NULL id writes nothing
-- and the caller answers "no such token", BT003, as before).  It is
-- SECURITY DEFINER as the functions that call it, and no role may call it
-- on its own: it checks no caller's right to manage the path
-- (bbtoken_api_may does, in each caller, before it).
--
-- Each function replaced is otherwise as its last version: SECURITY
-- DEFINER, volatility, grants and search_path are as they were.

CREATE OR REPLACE FUNCTION bbtoken_api_revoke_leaked(p_addr text, p_ids text[],
                                                     p_hashes text[])
RETURNS SETOF text
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    tids tid[];
BEGIN
    PERFORM set_config('bbtoken.source', 'http', true),
            set_config('bbtoken.actor', 'leak report', true),
            set_config('bbtoken.client_addr', COALESCE(p_addr, ''), true),
            set_config('bbtoken.revoke_reason', 'leaked', true);
    -- Lowest id first, whatever the order of the list, every row locked
    -- before any is written, as before: the ids sorted, each locked as the
    -- loop over them reaches it.
    PERFORM 1
       FROM (SELECT DISTINCT x.id FROM unnest(p_ids) x (id)
              WHERE x.id IS NOT NULL ORDER BY x.id) i
      CROSS JOIN LATERAL (SELECT r.id FROM bbtoken_tokens r
                           WHERE r.id = i.id OFFSET 0 FOR UPDATE) k;
    -- The rows to revoke, their conditions checked on the versions locked
    -- (this statement's snapshot is taken after the locks).
    tids := ARRAY(SELECT k.ctid
                    FROM (SELECT DISTINCT x.id, x.hash
                            FROM unnest(p_ids, p_hashes) AS x (id, hash)
                           WHERE x.id IS NOT NULL) v
                   CROSS JOIN LATERAL (SELECT r.ctid, r.secret_hash,
                                              r.revoked_at, r.expires_at
                                         FROM bbtoken_tokens r
                                        WHERE r.id = v.id OFFSET 0) k
                   WHERE k.secret_hash = v.hash
                     AND k.revoked_at IS NULL
                     AND (k.expires_at IS NULL OR k.expires_at > now()));
    -- Then all of them in one statement, by the addresses of the rows
    -- this transaction holds.
    IF cardinality(tids) > 0 THEN
        RETURN QUERY
            WITH w AS (UPDATE bbtoken_tokens t SET revoked_at = now()
                        WHERE t.ctid = ANY (tids)
                       RETURNING t.id)
            SELECT w.id FROM w ORDER BY w.id;
    END IF;
    PERFORM set_config('bbtoken.revoke_reason', '', true);
END
$$;

-- The id of project p_key's token p_id (repository p_slug's when not
-- NULL), live, locked FOR NO KEY UPDATE; NULL when it is not such a token.
-- Read by its id alone in a subquery OFFSET 0 keeps whole (whatever the
-- statistics, only the primary key serves it), the holder's conditions
-- checked on the version read, so that another holder's token is never
-- locked nor waited for; then that id locked, and the conditions checked
-- again on the version locked (a revocation or a change that committed
-- meanwhile).
CREATE FUNCTION bbtoken_scope_token_lock(p_key text, p_slug text, p_id text)
RETURNS text LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    got text;
BEGIN
    SELECT k.id INTO got
      FROM (SELECT r.id, r.user_id, r.project_key, r.repo_slug, r.revoked_at
              FROM bbtoken_tokens r
             WHERE r.id = (SELECT c.id
                             FROM (SELECT s.id, s.user_id, s.project_key,
                                          s.repo_slug, s.revoked_at
                                     FROM bbtoken_tokens s
                                    WHERE s.id = p_id OFFSET 0) c
                            WHERE c.user_id IS NULL
                              AND c.project_key = p_key
                              AND c.repo_slug IS NOT DISTINCT FROM p_slug
                              AND c.revoked_at IS NULL)
            OFFSET 0 FOR NO KEY UPDATE) k
     WHERE k.user_id IS NULL AND k.project_key = p_key
       AND k.repo_slug IS NOT DISTINCT FROM p_slug
       AND k.revoked_at IS NULL;
    RETURN got;
END
$$;

-- As migration 41's, the token found and locked by bbtoken_scope_token_lock.
CREATE OR REPLACE FUNCTION bbtoken_api_scope_update(p_caller text, p_key text,
                                                    p_slug text, p_id text,
                                                    p_name text,
                                                    p_project text,
                                                    p_repo text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    tok text;
BEGIN
    PERFORM bbtoken_api_may(p_caller, p_key, p_slug);
    tok := bbtoken_scope_token_lock(p_key, p_slug, p_id);
    UPDATE bbtoken_tokens
       SET name = COALESCE(p_name, name),
           project_perm = CASE WHEN p_slug IS NULL
                               THEN COALESCE(p_project, project_perm)
                               ELSE p_project END,
           repo_perm = COALESCE(p_repo, repo_perm)
     WHERE id = tok;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no such token: %', p_id
            USING ERRCODE = 'BT003';
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION bbtoken_api_scope_revoke(p_caller text, p_key text,
                                                    p_slug text, p_id text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    tok text;
BEGIN
    PERFORM bbtoken_api_may(p_caller, p_key, p_slug);
    tok := bbtoken_scope_token_lock(p_key, p_slug, p_id);
    UPDATE bbtoken_tokens SET revoked_at = now() WHERE id = tok;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no such token: %', p_id
            USING ERRCODE = 'BT003';
    END IF;
END
$$;

-- As migration 12's; a personal token's branch is as it was.
CREATE OR REPLACE FUNCTION bbtoken_api_set_nets(p_caller text, p_user text,
                                                p_key text, p_slug text,
                                                p_id text, p_nets text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    uid bigint;
    tok text;
    nets cidr[] := NULLIF(string_to_array(NULLIF(p_nets, ''), ' '),
                          '{}')::cidr[];
BEGIN
    IF p_user IS NOT NULL THEN
        uid := bbtoken_api_target(p_caller, p_user, false);
        UPDATE bbtoken_tokens SET allowed_nets = nets
         WHERE id = p_id AND user_id = uid AND revoked_at IS NULL;
    ELSE
        PERFORM bbtoken_api_may(p_caller, p_key, p_slug);
        tok := bbtoken_scope_token_lock(p_key, p_slug, p_id);
        UPDATE bbtoken_tokens SET allowed_nets = nets WHERE id = tok;
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no such token: %', p_id
            USING ERRCODE = 'BT003';
    END IF;
END
$$;

-- CREATE OR REPLACE drops a function's settings (its privileges stay): the
-- schema's own objects first, whatever the caller's search_path, as since
-- migration 2.  The new function is no role's to call (PostgreSQL lets
-- PUBLIC call a new one, and sql/grants-api.sql grants it to none).
DO $$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY[
        'bbtoken_api_revoke_leaked(text, text[], text[])',
        'bbtoken_scope_token_lock(text, text, text)',
        'bbtoken_api_scope_update(text, text, text, text, text, text, text)',
        'bbtoken_api_scope_revoke(text, text, text, text)',
        'bbtoken_api_set_nets(text, text, text, text, text, text)']
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f,
                       current_schema());
    END LOOP;
END
$$;
REVOKE EXECUTE ON FUNCTION bbtoken_scope_token_lock(text, text, text)
    FROM PUBLIC;

UPDATE bbtoken_schema SET version = 42;
