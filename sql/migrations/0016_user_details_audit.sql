-- Migration 16: a change of a user's e-mail address or display name is
-- in the audit trail; no new user may be named x-token-auth;
-- bbtoken_owner_level() works again.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- The e-mail address is where `bbtoken notify` sends a user's notices
-- (a token about to expire, revoked for disuse, rotated by an
-- administrator), so changing it redirects them: such a change is
-- recorded as user_details_changed, saying what the value is now and what
-- it was ("none" when unset).

ALTER TABLE bbtoken_audit DROP CONSTRAINT bbtoken_audit_event,
    ADD CONSTRAINT bbtoken_audit_event CHECK (event IN (
        'created', 'renamed', 'permissions_changed', 'revoked',
        'revoked_unused', 'revoked_leaked', 'rotated',
        'expired_refused', 'deleted', 'new_address', 'allowed_nets_changed',
        'user_added', 'user_disabled', 'user_enabled',
        'user_admin_changed', 'user_details_changed', 'user_deleted',
        'granted', 'ungranted', 'policy_changed', 'project_changed'));

-- Migration 2's, with the details.
CREATE OR REPLACE FUNCTION bbtoken_users_audit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    d text[] := ARRAY[]::text[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM bbtoken_audit_write('user_added', NULL, NEW.name,
            CASE WHEN NEW.is_admin THEN 'global admin' END);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM bbtoken_audit_write('user_deleted', NULL, OLD.name, NULL);
    ELSE
        IF OLD.active AND NOT NEW.active THEN
            PERFORM bbtoken_audit_write('user_disabled', NULL, NEW.name, NULL);
        ELSIF NOT OLD.active AND NEW.active THEN
            PERFORM bbtoken_audit_write('user_enabled', NULL, NEW.name, NULL);
        END IF;
        IF OLD.is_admin IS DISTINCT FROM NEW.is_admin THEN
            PERFORM bbtoken_audit_write('user_admin_changed', NULL, NEW.name,
                CASE WHEN NEW.is_admin THEN 'now global admin'
                     ELSE 'no longer global admin' END);
        END IF;
        IF OLD.email IS DISTINCT FROM NEW.email THEN
            d := d || format('e-mail %s (was %s)',
                             COALESCE(quote_literal(NEW.email), 'none'),
                             COALESCE(quote_literal(OLD.email), 'none'));
        END IF;
        IF OLD.display_name IS DISTINCT FROM NEW.display_name THEN
            d := d || format('display name %s (was %s)',
                             COALESCE(quote_literal(NEW.display_name), 'none'),
                             COALESCE(quote_literal(OLD.display_name), 'none'));
        END IF;
        IF cardinality(d) > 0 THEN
            PERFORM bbtoken_audit_write('user_details_changed', NULL, NEW.name,
                                        array_to_string(d, ', '));
        END IF;
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER bbtoken_users_audit_upd ON bbtoken_users;
CREATE TRIGGER bbtoken_users_audit_upd AFTER UPDATE ON bbtoken_users
    FOR EACH ROW WHEN (OLD.active IS DISTINCT FROM NEW.active
                       OR OLD.is_admin IS DISTINCT FROM NEW.is_admin
                       OR OLD.email IS DISTINCT FROM NEW.email
                       OR OLD.display_name IS DISTINCT FROM NEW.display_name)
    EXECUTE FUNCTION bbtoken_users_audit();

-- CREATE OR REPLACE dropped its settings.
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION bbtoken_users_audit() SET search_path = %I, pg_temp',
                   current_schema());
END
$$;

-- x-token-auth, in any case, is the Basic user name a project's or a
-- repository's token is presented with: a person of that name would pass
-- for one in httpd's logs.  `bbtoken user add` says so first; this refuses
-- it from plain SQL too.  A user already so named keeps the name (and can
-- still be disabled, changed or deleted): only a new name is refused.
CREATE FUNCTION bbtoken_users_name_reserved() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF lower(NEW.name) = 'x-token-auth'
       AND (TG_OP = 'INSERT' OR lower(OLD.name) <> lower(NEW.name)) THEN
        RAISE EXCEPTION 'user name % is reserved: project and repository tokens are presented with it',
            NEW.name
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'bbtoken_users_name_reserved',
                  TABLE = 'bbtoken_users';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER bbtoken_users_name_reserved BEFORE INSERT OR UPDATE OF name
    ON bbtoken_users FOR EACH ROW
    EXECUTE FUNCTION bbtoken_users_name_reserved();

-- Migration 4's bbtoken_owner_level(uid, key, slug) has failed since
-- migration 6 gave bbtoken_users a slug column: "slug" in its query named
-- both that column and the parameter.  The parameters keep their names
-- (CREATE OR REPLACE cannot change them) and are named by the function's.
CREATE OR REPLACE FUNCTION bbtoken_owner_level(uid bigint, key text, slug text)
RETURNS integer LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    RETURN COALESCE((SELECT l.level
                       FROM bbtoken_users u,
                            bbtoken_owner_levels(u, bbtoken_owner_level.key,
                                                 bbtoken_owner_level.slug) l
                      WHERE u.id = bbtoken_owner_level.uid), 0);
END
$$;

UPDATE bbtoken_schema SET version = 16;
