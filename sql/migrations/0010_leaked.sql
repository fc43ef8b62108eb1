-- Migration 10: revoking a leaked token by its value, without a login.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- Whoever holds a token could use it, so holding it is proof enough to
-- kill it: the access-tokens API's revoke-by-value endpoint takes raw
-- tokens from anyone, checks each in C as a login does (the salt read
-- here, HMAC-SHA-256 compared in constant time), and hands the ones that
-- verified, with the hash it computed, to bbtoken_api_revoke_leaked.  That
-- function compares the hash again (a slip in C cannot revoke a token that
-- did not verify) and revokes with the reason 'leaked': the audit trail
-- says revoked_leaked with the reporting client's address, and `bbtoken
-- notify` tells the owner.  It is no barrier against the API role itself:
-- that role reads the stored hashes (it verifies the tokens the REST API
-- is logged in with), so whoever holds its password can revoke any token
-- as leaked, as it can revoke any through bbtoken_api_revoke; the
-- Security model in the README says what that role may do.
--
--   bbtoken_leak_throttle  calls per client address (IPv6: per /64) in
--                          the current window, so the endpoint cannot be
--                          used to flood the database or the owners' mail

CREATE TABLE bbtoken_leak_throttle (
    client_net   inet PRIMARY KEY,
    window_start timestamptz NOT NULL,
    calls        integer NOT NULL CHECK (calls > 0)
);
CREATE INDEX bbtoken_leak_throttle_window
    ON bbtoken_leak_throttle (window_start);

-- Count a call from p_addr: 0 if it may go on, else the seconds until its
-- window ends (at least 1).  At most p_calls calls per p_window seconds;
-- an address that is not one (never from httpd) shares a single counter.
CREATE FUNCTION bbtoken_api_leak_throttle(p_addr text, p_calls integer,
                                          p_window integer)
RETURNS integer LANGUAGE plpgsql SECURITY DEFINER AS $$
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
    DELETE FROM bbtoken_leak_throttle WHERE window_start <= now() - w;
    INSERT INTO bbtoken_leak_throttle AS t (client_net, window_start, calls)
    VALUES (a, now(), 1)
    ON CONFLICT (client_net) DO UPDATE SET calls = t.calls + 1
    RETURNING * INTO r;
    IF r.calls <= p_calls THEN
        RETURN 0;
    END IF;
    RETURN greatest(1, ceil(extract(epoch FROM r.window_start + w - now())))
           ::integer;
END
$$;

-- Revoke, as leaked, each live token whose id is p_ids[i] and whose
-- secret_hash is p_hashes[i]; returns the ids revoked.  p_addr is the
-- reporting client's address, for the audit trail.
CREATE FUNCTION bbtoken_api_revoke_leaked(p_addr text, p_ids text[],
                                          p_hashes text[])
RETURNS SETOF text LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    PERFORM set_config('bbtoken.source', 'http', true),
            set_config('bbtoken.actor', 'leak report', true),
            set_config('bbtoken.client_addr', COALESCE(p_addr, ''), true),
            set_config('bbtoken.revoke_reason', 'leaked', true);
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

DO $$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY[
        'bbtoken_api_leak_throttle(text, integer, integer)',
        'bbtoken_api_revoke_leaked(text, text[], text[])']
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f,
                       current_schema());
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$$;

UPDATE bbtoken_schema SET version = 10;
