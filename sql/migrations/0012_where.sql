-- Migration 12: where a token may be used from, and where it has been.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
--   bbtoken_tokens.allowed_nets  the networks a token is taken from (NULL:
--                                anywhere); a request from elsewhere is
--                                refused as a wrong token is.  The cidr type
--                                refuses what is not a network.
--   bbtoken_token_nets           the address groups (IPv4 /24, IPv6 /64) a
--                                token has been used from, the most recent
--                                few per token; httpd adds one through
--                                bbtoken_note_net, which audits new_address

ALTER TABLE bbtoken_tokens ADD COLUMN allowed_nets cidr[]
    CONSTRAINT bbtoken_tokens_allowed_nets CHECK (
        allowed_nets IS NULL
        OR (cardinality(allowed_nets) BETWEEN 1 AND 16
            AND array_position(allowed_nets, NULL) IS NULL));

ALTER TABLE bbtoken_audit DROP CONSTRAINT bbtoken_audit_event,
    ADD CONSTRAINT bbtoken_audit_event CHECK (event IN (
        'created', 'renamed', 'permissions_changed', 'revoked',
        'revoked_unused', 'revoked_leaked', 'rotated',
        'expired_refused', 'deleted', 'new_address', 'allowed_nets_changed',
        'user_added', 'user_disabled', 'user_enabled',
        'user_admin_changed', 'user_deleted',
        'granted', 'ungranted', 'policy_changed', 'project_changed'));

-- httpd's cache hears of a changed allow-list at once, as of a revocation
-- (migration 8's trigger, with the new column).
DROP TRIGGER bbtoken_tokens_notify_upd ON bbtoken_tokens;
CREATE TRIGGER bbtoken_tokens_notify_upd AFTER UPDATE ON bbtoken_tokens
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id
                       OR OLD.user_id IS DISTINCT FROM NEW.user_id
                       OR OLD.project_key IS DISTINCT FROM NEW.project_key
                       OR OLD.repo_slug IS DISTINCT FROM NEW.repo_slug
                       OR OLD.name IS DISTINCT FROM NEW.name
                       OR OLD.project_perm IS DISTINCT FROM NEW.project_perm
                       OR OLD.repo_perm IS DISTINCT FROM NEW.repo_perm
                       OR OLD.salt IS DISTINCT FROM NEW.salt
                       OR OLD.secret_hash IS DISTINCT FROM NEW.secret_hash
                       OR OLD.expires_at IS DISTINCT FROM NEW.expires_at
                       OR OLD.revoked_at IS DISTINCT FROM NEW.revoked_at
                       OR OLD.allowed_nets IS DISTINCT FROM NEW.allowed_nets)
    EXECUTE FUNCTION bbtoken_notify();
ALTER TABLE bbtoken_tokens ENABLE ALWAYS TRIGGER bbtoken_tokens_notify_upd;

-- A changed allow-list is in the audit trail, whoever changed it.
CREATE FUNCTION bbtoken_tokens_nets_audit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    PERFORM bbtoken_audit_write('allowed_nets_changed', NEW.id,
        COALESCE((SELECT u.name FROM bbtoken_users u WHERE u.id = NEW.user_id),
                 bbtoken_scope_name(NEW.project_key, NEW.repo_slug)),
        COALESCE(array_to_string(NEW.allowed_nets, ' '), 'any'));
    RETURN NULL;
END
$$;
CREATE TRIGGER bbtoken_tokens_nets_audit AFTER UPDATE OF allowed_nets
    ON bbtoken_tokens
    FOR EACH ROW WHEN (OLD.allowed_nets IS DISTINCT FROM NEW.allowed_nets)
    EXECUTE FUNCTION bbtoken_tokens_nets_audit();

CREATE TABLE bbtoken_token_nets (
    token_id   text NOT NULL REFERENCES bbtoken_tokens (id) ON DELETE CASCADE,
    net        cidr NOT NULL
               CHECK (masklen(net) = CASE family(net) WHEN 4 THEN 24 ELSE 64 END),
    first_seen timestamptz NOT NULL DEFAULT now(),
    first_addr inet,
    PRIMARY KEY (token_id, net)
);

-- Record that token p_id was used from p_addr, in group p_net (as httpd
-- groups addresses: IPv4 /24, IPv6 /64), unless that group is known.  A
-- new group is audited as new_address; only the 16 most recent groups of
-- a token are kept.  httpd calls it only for a group it does not know
-- (its cache and the lookup say which are), so concurrent calls for one
-- group write one row and one audit record between them.  Returns whether
-- it wrote.
CREATE FUNCTION bbtoken_note_net(p_id text, p_net text, p_addr text)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    a inet := bbtoken_inet(p_addr);
    n cidr;
    who text;
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
      INTO who FROM bbtoken_tokens k
     WHERE k.id = p_id AND k.revoked_at IS NULL;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    INSERT INTO bbtoken_token_nets (token_id, net, first_addr)
    VALUES (p_id, n, a) ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    DELETE FROM bbtoken_token_nets d
     WHERE d.token_id = p_id
       AND d.net NOT IN (SELECT k.net FROM bbtoken_token_nets k
                          WHERE k.token_id = p_id
                          ORDER BY k.first_seen DESC, k.net LIMIT 16);
    PERFORM bbtoken_audit_write('new_address', p_id, who, 'from ' || n::text,
                                'http', who, a);
    RETURN true;
END
$$;

-- The REST API's way to set a token's allow-list (p_nets: the networks,
-- space-separated; NULL or '' for none): a user's token (p_user) as
-- bbtoken_api_update checks it, or a project's or repository's (p_key,
-- p_slug) as bbtoken_api_scope_update does.  A network the cidr type
-- refuses is 22P02, more than 16 the table's CHECK.
CREATE FUNCTION bbtoken_api_set_nets(p_caller text, p_user text, p_key text,
                                     p_slug text, p_id text, p_nets text)
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
         WHERE id = p_id AND user_id IS NULL AND project_key = p_key
           AND repo_slug IS NOT DISTINCT FROM p_slug AND revoked_at IS NULL;
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no such token: %', p_id
            USING ERRCODE = 'BT003';
    END IF;
END
$$;

-- A rotated token keeps its allow-list: the replacement may be used from
-- where the old one could, and nowhere else (migration 11's rotation, with
-- the list copied).
CREATE OR REPLACE FUNCTION bbtoken_rotate(p_id text, p_new_id text, p_salt text,
                               p_hash text)
RETURNS timestamptz LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    was bbtoken_tokens;
    pol bbtoken_policy;
    holder text;
    life interval;
    ends timestamptz;
BEGIN
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

DO $$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY['bbtoken_tokens_nets_audit()',
                             'bbtoken_note_net(text, text, text)',
                             'bbtoken_api_set_nets(text, text, text, text, text, text)',
                             -- CREATE OR REPLACE dropped its settings.
                             'bbtoken_rotate(text, text, text, text)']
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f,
                       current_schema());
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$$;

UPDATE bbtoken_schema SET version = 12;
