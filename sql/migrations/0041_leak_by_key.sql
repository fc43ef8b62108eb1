-- Migration 41: a leak report (POST .../revoke-by-value) finds its tokens
-- by key whatever the statistics say.
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
-- owners, 39,000 on 8,000 (t/57-rest-write-stale-stats).  The other
-- writes of the REST API (a token created, renamed, its permissions or
-- allowed networks changed, revoked, rotated) read a few rows each on such
-- statistics already.
--
-- Now each reported id is taken on its own, lowest first, as before: the
-- token read by its id alone in a subquery that OFFSET 0 keeps whole (no
-- other condition reaches that scan, so no partial index can serve it,
-- and the primary key does), locked there, and the conditions (its hash,
-- live, not expired) checked on the version it locked; the update finds
-- it by that id.  The locks are taken in the order they were (lowest id
-- first), one per token, each before its update.  The function is
-- otherwise as migration 24's: SECURITY DEFINER, volatility, grants and
-- search_path are as they were.

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
    -- Lowest id first, whatever the order of the list.
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
                               OFFSET 0 FOR UPDATE) k
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

-- CREATE OR REPLACE drops a function's settings (its privileges stay): the
-- schema's own objects first, whatever the caller's search_path, as since
-- migration 2.
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION bbtoken_api_revoke_leaked(text, text[],'
                   ' text[]) SET search_path = %I, pg_temp', current_schema());
END
$$;

UPDATE bbtoken_schema SET version = 41;
