-- Migration 52: a NAT64 or 6to4 client's new address group is recorded.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- httpd puts a client at an IPv6 address that carries an IPv4 one (NAT64,
-- 64:ff9b::/96; 6to4, 2002::/16) in the IPv4 address's /24, and asks
-- bbtoken_note_net to record that group.  The function took only an
-- IPv4-mapped address for its IPv4 one, found the address outside the
-- group, and answered false, which httpd took for a group another child
-- had recorded: such a token's use from a new network was never audited
-- (no new_address, no kept group), though httpd logged BBT601.  Now the
-- group's NAT64 and 6to4 ranges hold their clients, whose own address is
-- what first_addr and the audit keep; and an address outside the group
-- given is an error, which httpd logs and tries again, never a false
-- answer.  The same function as migration 47's but for that check.

CREATE OR REPLACE FUNCTION bbtoken_note_net(p_id text, p_net text, p_addr text)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    a inet := bbtoken_inet(p_addr);
    n cidr;
    v4 text;
    inside boolean;
    who text;
    recent bigint;
BEGIN
    BEGIN
        n := p_net::cidr;
    EXCEPTION WHEN invalid_text_representation THEN
        n := NULL;
    END;
    -- An IPv4-mapped IPv6 client is its IPv4 address, as httpd groups it.
    IF a <<= '::ffff:0.0.0.0/96'::inet THEN
        a := '0.0.0.0'::inet + (a - '::ffff:0.0.0.0'::inet);
    END IF;
    IF n IS NOT NULL AND family(n) = 4 AND masklen(n) = 24 THEN
        -- The group's first three bytes, as hex: 'c63367' for 198.51.103.0.
        v4 := substr(lpad(to_hex(n - '0.0.0.0'::inet), 8, '0'), 1, 6);
        -- A NAT64 (64:ff9b::/96) or 6to4 (2002::/16) client carries an
        -- IPv4 address, whose group httpd puts it in (bbt_agroup_v4_inside).
        inside := a <<= n
            OR a <<= ('64:ff9b::' || substr(v4, 1, 4) || ':' || substr(v4, 5, 2)
                      || '00/120')::cidr
            OR a <<= ('2002:' || substr(v4, 1, 4) || ':' || substr(v4, 5, 2)
                      || '00::/40')::cidr;
    ELSE
        inside := n IS NOT NULL AND family(n) = 6 AND masklen(n) = 64
                  AND a <<= n;
    END IF;
    -- httpd's group and the database's rule disagree: said, not lost (a
    -- false answer would be taken for a group another child recorded).
    IF a IS NULL OR NOT inside THEN
        RAISE EXCEPTION 'address % is not in address group %', p_addr, p_net
            USING ERRCODE = 'invalid_parameter_value';
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

UPDATE bbtoken_schema SET version = 52;
