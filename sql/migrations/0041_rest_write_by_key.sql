-- Migration 41: the REST API's writes that still did not (a leak report,
-- POST .../revoke-by-value; a project's or a repository's token changed or
-- revoked) find their tokens by key whatever the statistics say.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- On statistics that call the tables empty (ANALYZE after a mass delete,
-- before VACUUM, then the rows back), which the API's role cannot mend,
-- bbtoken_api_revoke_leaked's lock and update, each a join of the list
-- with bbtoken_tokens on "t.id = v.id AND t.revoked_at IS NULL", read
-- every live token through the partial index of live tokens' names (as
-- httpd's writes did before migration 40), and the module's read of the
-- reported rows did too: some 10,000 rows for one token reported on 4,000
-- owners, 39,000 on 8,000 (t/57-rest-write-stale-stats).  Now each
-- reported id is taken on its own, lowest first as before: the token read
-- by its id alone in a subquery that OFFSET 0 keeps whole (no other
-- condition reaches that scan, so no partial index can serve it, and the
-- primary key does).  All are locked first, lowest id first, as before
-- (a row whose hash or state then does not match is held to the end of
-- the request's short transaction, writing nothing); then each is
-- written, the conditions (its hash, live, not expired) checked on the
-- version locked, the update finding it by that id.  The lookup's
-- trigger runs once per token written instead of once for all of them,
-- each taking that token's lookup row: lowest id first still, after
-- every token's row.
--
-- A project's or a repository's token renamed, its permissions or allowed
-- networks changed, or revoked (bbtoken_api_scope_update,
-- bbtoken_api_set_nets, bbtoken_api_scope_revoke) was found as "id = p_id
-- AND user_id IS NULL AND project_key = p_key AND ... revoked_at IS NULL";
-- on such statistics PostgreSQL walked the whole partial index of live
-- project and repository tokens (bbtoken_tokens_live_scope, version 31)
-- with the id as a condition on its last column: every such token of the
-- site, for each write, as did the module's read of the token before and
-- after it (bbt_rest_load_one).  Each now reads the token by its id alone,
-- as above, and locks it only if it is the path's (read, then locked and
-- checked again).  A personal token's writes read its owner's tokens at most
-- (through the owner's index; a few rows, measured) and are as they were.
--
-- Each function is otherwise as its last version: SECURITY DEFINER,
-- volatility, grants and search_path are as they were.

CREATE OR REPLACE FUNCTION bbtoken_api_revoke_leaked(p_addr text, p_ids text[],
                                                     p_hashes text[])
RETURNS SETOF text
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    v record;
    got text;
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
    -- Then each written, its conditions checked on the version locked.
    FOR v IN SELECT DISTINCT x.id, x.hash
               FROM unnest(p_ids, p_hashes) AS x (id, hash)
              WHERE x.id IS NOT NULL
              ORDER BY x.id, x.hash
    LOOP
        UPDATE bbtoken_tokens t SET revoked_at = now()
         WHERE t.id = (SELECT k.id
                         FROM (SELECT r.id, r.secret_hash, r.revoked_at,
                                      r.expires_at
                                 FROM bbtoken_tokens r WHERE r.id = v.id
                               OFFSET 0) k
                        WHERE k.secret_hash = v.hash
                          AND k.revoked_at IS NULL
                          AND (k.expires_at IS NULL OR k.expires_at > now()))
        RETURNING t.id INTO got;
        IF FOUND THEN
            RETURN NEXT got;
        END IF;
    END LOOP;
    PERFORM set_config('bbtoken.revoke_reason', '', true);
END
$$;

-- As migration 8's, the token found by its id alone, the holder's
-- conditions checked on the version read, and only then locked and
-- checked again on the version locked: a token of another holder is never
-- locked, nor waited for while another transaction holds it (whoever
-- manages one project, their own personal one included, could otherwise
-- hold any token of the site, or learn that another held it).
CREATE OR REPLACE FUNCTION bbtoken_api_scope_update(p_caller text, p_key text,
                                                    p_slug text, p_id text,
                                                    p_name text,
                                                    p_project text,
                                                    p_repo text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    PERFORM bbtoken_api_may(p_caller, p_key, p_slug);
    UPDATE bbtoken_tokens
       SET name = COALESCE(p_name, name),
           project_perm = CASE WHEN p_slug IS NULL
                               THEN COALESCE(p_project, project_perm)
                               ELSE p_project END,
           repo_perm = COALESCE(p_repo, repo_perm)
     WHERE id = (SELECT k.id
                   FROM (SELECT r.id, r.user_id, r.project_key, r.repo_slug,
                                r.revoked_at
                           FROM bbtoken_tokens r
                          WHERE r.id = (SELECT c.id
                                          FROM (SELECT s.id, s.user_id,
                                                       s.project_key,
                                                       s.repo_slug,
                                                       s.revoked_at
                                                  FROM bbtoken_tokens s
                                                 WHERE s.id = p_id
                                                OFFSET 0) c
                                         WHERE c.user_id IS NULL
                                           AND c.project_key = p_key
                                           AND c.repo_slug
                                               IS NOT DISTINCT FROM p_slug
                                           AND c.revoked_at IS NULL)
                         OFFSET 0 FOR NO KEY UPDATE) k
                  WHERE k.user_id IS NULL AND k.project_key = p_key
                    AND k.repo_slug IS NOT DISTINCT FROM p_slug
                    AND k.revoked_at IS NULL);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no such token: %', p_id
            USING ERRCODE = 'BT003';
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION bbtoken_api_scope_revoke(p_caller text, p_key text,
                                                    p_slug text, p_id text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    PERFORM bbtoken_api_may(p_caller, p_key, p_slug);
    UPDATE bbtoken_tokens SET revoked_at = now()
     WHERE id = (SELECT k.id
                   FROM (SELECT r.id, r.user_id, r.project_key, r.repo_slug,
                                r.revoked_at
                           FROM bbtoken_tokens r
                          WHERE r.id = (SELECT c.id
                                          FROM (SELECT s.id, s.user_id,
                                                       s.project_key,
                                                       s.repo_slug,
                                                       s.revoked_at
                                                  FROM bbtoken_tokens s
                                                 WHERE s.id = p_id
                                                OFFSET 0) c
                                         WHERE c.user_id IS NULL
                                           AND c.project_key = p_key
                                           AND c.repo_slug
                                               IS NOT DISTINCT FROM p_slug
                                           AND c.revoked_at IS NULL)
                         OFFSET 0 FOR NO KEY UPDATE) k
                  WHERE k.user_id IS NULL AND k.project_key = p_key
                    AND k.repo_slug IS NOT DISTINCT FROM p_slug
                    AND k.revoked_at IS NULL);
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
    nets cidr[] := NULLIF(string_to_array(NULLIF(p_nets, ''), ' '),
                          '{}')::cidr[];
BEGIN
    IF p_user IS NOT NULL THEN
        uid := bbtoken_api_target(p_caller, p_user, false);
        UPDATE bbtoken_tokens SET allowed_nets = nets
         WHERE id = p_id AND user_id = uid AND revoked_at IS NULL;
    ELSE
        PERFORM bbtoken_api_may(p_caller, p_key, p_slug);
        UPDATE bbtoken_tokens SET allowed_nets = nets
         WHERE id = (SELECT k.id
                       FROM (SELECT r.id, r.user_id, r.project_key,
                                    r.repo_slug, r.revoked_at
                               FROM bbtoken_tokens r
                              WHERE r.id = (SELECT c.id
                                              FROM (SELECT s.id, s.user_id,
                                                           s.project_key,
                                                           s.repo_slug,
                                                           s.revoked_at
                                                      FROM bbtoken_tokens s
                                                     WHERE s.id = p_id
                                                    OFFSET 0) c
                                             WHERE c.user_id IS NULL
                                               AND c.project_key = p_key
                                               AND c.repo_slug
                                                   IS NOT DISTINCT FROM p_slug
                                               AND c.revoked_at IS NULL)
                             OFFSET 0 FOR NO KEY UPDATE) k
                      WHERE k.user_id IS NULL AND k.project_key = p_key
                        AND k.repo_slug IS NOT DISTINCT FROM p_slug
                        AND k.revoked_at IS NULL);
    END IF;
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
    FOREACH f IN ARRAY ARRAY[
        'bbtoken_api_revoke_leaked(text, text[], text[])',
        'bbtoken_api_scope_update(text, text, text, text, text, text, text)',
        'bbtoken_api_scope_revoke(text, text, text, text)',
        'bbtoken_api_set_nets(text, text, text, text, text, text)']
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f,
                       current_schema());
    END LOOP;
END
$$;

UPDATE bbtoken_schema SET version = 41;
