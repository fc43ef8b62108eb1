-- Migration 14: what an allow-list may hold, and a token's allow-list in
-- its created record.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
--   - An allow-list holds only networks httpd can match.  The cidr type
--     takes an IPv4-mapped IPv6 network (::ffff:10.0.0.0/104) and /0,
--     which APR's apr_ipsubnet_create refuses: such a token would be
--     refused from everywhere (BBT603).  A list set from now on may hold
--     neither (the CLI and the REST API say so first: bbt_input_net);
--     APR matches an IPv4-mapped client with the IPv4 network, so
--     10.0.0.0/8 is the way to write the first.  A list set before is left
--     as it is, still refused, so that its token can be revoked or its
--     list replaced.
--   - The created record says where the token may be used from, as
--     allowed_nets_changed does for a change: "allowed from NETS" after
--     the expiry when the token was made with a list (by the CLI, the REST
--     API or a rotation).  The REST API's creations take the list
--     (p_nets, last, DEFAULT NULL so that the previous release's module
--     still calls them) into their INSERT, rather than setting it after:
--     re-run sql/grants-api.sql after this upgrade, as after every one.

CREATE FUNCTION bbtoken_tokens_nets_check() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    n cidr;
BEGIN
    IF TG_OP = 'UPDATE'
       AND OLD.allowed_nets IS NOT DISTINCT FROM NEW.allowed_nets THEN
        RETURN NEW;
    END IF;
    FOREACH n IN ARRAY COALESCE(NEW.allowed_nets, '{}'::cidr[]) LOOP
        IF masklen(n) = 0 THEN
            RAISE EXCEPTION '%: a /0 network, which httpd cannot match: a token without an allow-list is taken from anywhere',
                n
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF family(n) = 6
           AND set_masklen(n::inet, 128) <<= inet '::ffff:0.0.0.0/96' THEN
            RAISE EXCEPTION '%: an IPv4-mapped IPv6 network, which httpd cannot match: write it as IPv4 (::ffff:10.0.0.0/104 is 10.0.0.0/8), which matches IPv4-mapped clients too',
                n
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END LOOP;
    RETURN NEW;
END
$$;
CREATE TRIGGER bbtoken_tokens_nets_check
    BEFORE INSERT OR UPDATE OF allowed_nets ON bbtoken_tokens
    FOR EACH ROW WHEN (NEW.allowed_nets IS NOT NULL)
    EXECUTE FUNCTION bbtoken_tokens_nets_check();

-- Migration 8's audit, with the allow-list in the created record.
CREATE OR REPLACE FUNCTION bbtoken_tokens_audit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    t bbtoken_tokens := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    owner text;
    reason text;
BEGIN
    SELECT name INTO owner FROM bbtoken_users WHERE id = t.user_id;
    owner := COALESCE(owner, bbtoken_scope_name(t.project_key, t.repo_slug));
    IF TG_OP = 'INSERT' THEN
        PERFORM bbtoken_audit_write('created', NEW.id, owner,
            format('name %L, %s, %s%s', NEW.name,
                   concat_ws(',', NEW.project_perm, NEW.repo_perm),
                   COALESCE('expires ' || to_char(NEW.expires_at AT TIME ZONE
                       'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                            'never expires'),
                   COALESCE(', allowed from '
                            || array_to_string(NEW.allowed_nets, ' '), '')));
    ELSIF TG_OP = 'UPDATE' THEN
        IF OLD.name IS DISTINCT FROM NEW.name THEN
            PERFORM bbtoken_audit_write('renamed', NEW.id, owner,
                format('%L -> %L', OLD.name, NEW.name));
        END IF;
        IF OLD.project_perm IS DISTINCT FROM NEW.project_perm
           OR OLD.repo_perm IS DISTINCT FROM NEW.repo_perm THEN
            PERFORM bbtoken_audit_write('permissions_changed', NEW.id, owner,
                format('%s -> %s',
                       concat_ws(',', OLD.project_perm, OLD.repo_perm),
                       concat_ws(',', NEW.project_perm, NEW.repo_perm)));
        END IF;
        IF OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL THEN
            reason := NULLIF(current_setting('bbtoken.revoke_reason', true),
                             '');
            IF reason IS NULL THEN
                PERFORM bbtoken_audit_write('revoked', NEW.id, owner,
                                            format('name %L', NEW.name));
            ELSIF reason = 'unused' THEN
                PERFORM bbtoken_audit_write('revoked_unused', NEW.id, owner,
                    format('name %L, unused since %s', NEW.name,
                           to_char(COALESCE(OLD.last_authenticated,
                                            OLD.created_at) AT TIME ZONE 'UTC',
                                   'YYYY-MM-DD"T"HH24:MI:SS"Z"')));
            ELSIF reason = 'leaked' THEN
                PERFORM bbtoken_audit_write('revoked_leaked', NEW.id, owner,
                                            format('name %L', NEW.name));
            ELSE
                RAISE EXCEPTION 'unknown revocation reason %: unused or leaked',
                    quote_literal(reason)
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
        END IF;
    ELSE
        PERFORM bbtoken_audit_write('deleted', OLD.id, owner,
            format('name %L, %s', OLD.name,
                   CASE WHEN OLD.revoked_at IS NOT NULL
                        THEN 'revoked ' || to_char(OLD.revoked_at AT TIME ZONE
                            'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                        WHEN OLD.expires_at <= now()
                        THEN 'expired ' || to_char(OLD.expires_at AT TIME ZONE
                            'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                        ELSE 'live' END));
    END IF;
    RETURN NULL;
END
$$;

-- Migration 3's and migration 8's creations, with the allow-list (p_nets:
-- the networks, space-separated; NULL or '' for none, as
-- bbtoken_api_set_nets takes it).
DROP FUNCTION bbtoken_api_create(text, text, text, text, text, text, text,
                                 text, integer);
CREATE FUNCTION bbtoken_api_create(p_caller text, p_user text, p_id text,
                                   p_name text, p_project text, p_repo text,
                                   p_salt text, p_hash text, p_days integer,
                                   p_nets text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    uid bigint := bbtoken_api_target(p_caller, p_user, true);
BEGIN
    INSERT INTO bbtoken_tokens (id, user_id, name, project_perm, repo_perm,
                                salt, secret_hash, expires_at, allowed_nets)
    VALUES (p_id, uid, p_name, p_project, p_repo, p_salt, p_hash,
            now() + make_interval(days => p_days),
            NULLIF(string_to_array(NULLIF(p_nets, ''), ' '), '{}')::cidr[]);
END
$$;

DROP FUNCTION bbtoken_api_scope_create(text, text, text, text, text, text,
                                       text, text, text, integer);
CREATE FUNCTION bbtoken_api_scope_create(p_caller text, p_key text,
                                         p_slug text, p_id text, p_name text,
                                         p_project text, p_repo text,
                                         p_salt text, p_hash text,
                                         p_days integer,
                                         p_nets text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    PERFORM bbtoken_api_may(p_caller, p_key, p_slug);
    INSERT INTO bbtoken_tokens (id, user_id, project_key, repo_slug, name,
                                project_perm, repo_perm, salt, secret_hash,
                                expires_at, allowed_nets)
    VALUES (p_id, NULL, p_key, p_slug, p_name, p_project, p_repo, p_salt,
            p_hash, now() + make_interval(days => p_days),
            NULLIF(string_to_array(NULLIF(p_nets, ''), ' '), '{}')::cidr[]);
END
$$;

DO $$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY[
        'bbtoken_tokens_nets_check()',
        -- CREATE OR REPLACE dropped its settings.
        'bbtoken_tokens_audit()',
        'bbtoken_api_create(text, text, text, text, text, text, text, text, integer, text)',
        'bbtoken_api_scope_create(text, text, text, text, text, text, text, text, text, integer, text)']
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f,
                       current_schema());
    END LOOP;
    FOREACH f IN ARRAY ARRAY[
        'bbtoken_tokens_nets_check()',
        'bbtoken_api_create(text, text, text, text, text, text, text, text, integer, text)',
        'bbtoken_api_scope_create(text, text, text, text, text, text, text, text, text, integer, text)']
    LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$$;

UPDATE bbtoken_schema SET version = 14;
