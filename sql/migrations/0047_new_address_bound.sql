-- Migration 47: a token's new_address records are bounded: at most 16 in
-- any hour, however many new groups come.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- bbtoken_note_net audits a token's use from an address group it does not
-- keep, and keeps the 16 most recent.  A client that cycles through 17
-- groups of its own (an IPv6 /48 holds 65,536 /64s) finds each one new
-- again: one audit record a request where httpd's cache is off (about one
-- each BBTokenLastUseInterval with it), as many as it likes, from one
-- token.  Now a new group is audited only while the token has fewer than
-- 16 new_address records of the last hour: at most 16 in any hour, and
-- again 16 the next hour however long the cycling lasts (a group kept but
-- not recorded is counted nowhere, so a thief's new network among a
-- stream of them is recorded within the hour the stream's records
-- leave).  Groups past the bound are kept all the same, as the token's
-- groups (its last addresses, what `bbtoken list` and the lookup read).
-- The token's row lock (bbtoken_token_nets_keep) orders concurrent calls,
-- and the audit's index (token_id, at) finds the hour's records.
--
-- The same function as migration 40's but for that count; it still
-- returns whether it kept the group (httpd does not remember it by that).

CREATE OR REPLACE FUNCTION bbtoken_note_net(p_id text, p_net text, p_addr text)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    a inet := bbtoken_inet(p_addr);
    n cidr;
    who text;
    recent bigint;
BEGIN
    BEGIN
        n := p_net::cidr;
    EXCEPTION WHEN invalid_text_representation THEN
        RETURN false;
    END;
    -- An IPv4-mapped IPv6 client is its IPv4 address, as httpd groups it.
    IF a <<= '::ffff:0.0.0.0/96'::inet THEN
        a := '0.0.0.0'::inet + (a - '::ffff:0.0.0.0'::inet);
    END IF;
    IF a IS NULL OR NOT a <<= n
       OR masklen(n) <> (CASE family(n) WHEN 4 THEN 24 ELSE 64 END) THEN
        RETURN false;
    END IF;
    SELECT COALESCE((SELECT u.name FROM bbtoken_users u WHERE u.id = k.user_id),
                    bbtoken_scope_name(k.project_key, k.repo_slug))
      INTO who
      FROM (SELECT t.user_id, t.project_key, t.repo_slug, t.revoked_at
              FROM bbtoken_tokens t WHERE t.id = p_id OFFSET 0) k
     WHERE k.revoked_at IS NULL;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    INSERT INTO bbtoken_token_nets (token_id, net, first_addr)
    VALUES (p_id, n, a) ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    recent := (SELECT count(*) FROM bbtoken_audit r
                WHERE r.token_id = p_id AND r.event = 'new_address'
                  AND r.at > now() - interval '1 hour');
    DELETE FROM bbtoken_token_nets d
     WHERE d.token_id = p_id
       AND d.net NOT IN (SELECT k.net FROM bbtoken_token_nets k
                          WHERE k.token_id = p_id
                          ORDER BY k.first_seen DESC, k.net LIMIT 16);
    IF recent < 16 THEN
        PERFORM bbtoken_audit_write('new_address', p_id, who,
                                    'from ' || n::text, 'http', who, a);
    END IF;
    RETURN true;
END
$$;

-- CREATE OR REPLACE drops a function's settings (its privileges stay): the
-- schema's own objects first, whatever the caller's search_path, as since
-- migration 2.
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION bbtoken_note_net(text, text, text) '
                   'SET search_path = %I, pg_temp', current_schema());
END
$$;

UPDATE bbtoken_schema SET version = 47;
