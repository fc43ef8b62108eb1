-- Migration 2: the token lifecycle.  Policy (expiry, per-user limit, unique
-- names), fixed expiry, last use with client addresses, and the audit trail.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.  The rules live
-- in the database, so the CLI, a future REST API and a plain SQL statement
-- all meet the same ones.
--
-- Who did what: triggers read three session settings that clients set,
--   bbtoken.source       'cli', 'http' (anything else counts as 'sql')
--   bbtoken.actor        the person: the OS user for the CLI, the token
--                        owner for HTTP (default: the database role)
--   bbtoken.client_addr  the client's address for HTTP (default: the
--                        database client's own address)
-- and always record the database role (session_user) beside them.

-- Renames made below to existing data are the upgrade's own doing.
SET LOCAL bbtoken.source = 'upgrade';

-- ---- the audit trail ---------------------------------------------------

-- Append-only record of lifecycle events.  No foreign keys: a record
-- outlives the token and the user it is about.  Never holds a token, salt or
-- hash: only ids, names, permissions and times.
CREATE TABLE bbtoken_audit (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    event       text NOT NULL CHECK (event IN (
                    'created', 'renamed', 'permissions_changed', 'revoked',
                    'expired_refused', 'deleted',
                    'user_added', 'user_disabled', 'user_enabled',
                    'user_admin_changed', 'user_deleted',
                    'granted', 'ungranted', 'policy_changed')),
    token_id    text CHECK (token_id ~ '^[0-9]{12}$'),
    user_name   text,
    actor       text NOT NULL,
    db_role     text NOT NULL,
    source      text NOT NULL
                CHECK (source IN ('cli', 'http', 'sql', 'upgrade')),
    client_addr inet,
    detail      text
);
CREATE INDEX bbtoken_audit_at ON bbtoken_audit (at);
CREATE INDEX bbtoken_audit_user ON bbtoken_audit (lower(user_name), at);
CREATE INDEX bbtoken_audit_token ON bbtoken_audit (token_id, at);

-- An address as inet, or NULL when it is none (a zone id, garbage).
CREATE FUNCTION bbtoken_inet(s text) RETURNS inet
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF s IS NULL OR s !~ '^[0-9A-Fa-f:.]{2,45}$' THEN
        RETURN NULL;
    END IF;
    RETURN s::inet;
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$$;

-- Write one audit record.  NULL source, actor or address: take them from the
-- session settings above.  SECURITY DEFINER so that whoever may change
-- tokens is audited without being able to write the audit table itself.
CREATE FUNCTION bbtoken_audit_write(p_event text, p_token text, p_user text,
                                    p_detail text, p_source text DEFAULT NULL,
                                    p_actor text DEFAULT NULL,
                                    p_addr inet DEFAULT NULL)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    src text := COALESCE(p_source,
                         NULLIF(current_setting('bbtoken.source', true), ''));
BEGIN
    IF src IS NULL OR src NOT IN ('cli', 'http', 'upgrade') THEN
        src := 'sql';
    END IF;
    INSERT INTO bbtoken_audit (event, token_id, user_name, actor, db_role,
                               source, client_addr, detail)
    VALUES (p_event, p_token, p_user,
            left(COALESCE(p_actor,
                          NULLIF(current_setting('bbtoken.actor', true), ''),
                          session_user), 255),
            session_user, src,
            COALESCE(p_addr,
                     bbtoken_inet(current_setting('bbtoken.client_addr', true)),
                     inet_client_addr()),
            p_detail);
END
$$;

-- The audit table only grows: a record is never rewritten.
CREATE FUNCTION bbtoken_audit_fixed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only: records cannot be changed'
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER bbtoken_audit_fixed BEFORE UPDATE ON bbtoken_audit
    FOR EACH ROW EXECUTE FUNCTION bbtoken_audit_fixed();

-- ---- policy ------------------------------------------------------------

-- One row.  Changing it affects tokens created afterwards only: an expiry
-- is fixed at creation, and tokens over a lowered limit stay.
CREATE TABLE bbtoken_policy (
    singleton           boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    expiry_required     boolean NOT NULL DEFAULT false,
    max_expiry_days     integer CHECK (max_expiry_days BETWEEN 1 AND 36500),
    max_tokens_per_user integer NOT NULL DEFAULT 100
                        CHECK (max_tokens_per_user BETWEEN 1 AND 1000000),
    -- A required expiry defaults to the maximum, so there must be one.
    CONSTRAINT bbtoken_policy_required_needs_max
        CHECK (NOT expiry_required OR max_expiry_days IS NOT NULL)
);
INSERT INTO bbtoken_policy DEFAULT VALUES;

CREATE FUNCTION bbtoken_policy_keep() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the token policy row cannot be removed: change it instead'
        USING ERRCODE = 'check_violation';
END
$$;
CREATE TRIGGER bbtoken_policy_keep BEFORE DELETE ON bbtoken_policy
    FOR EACH ROW EXECUTE FUNCTION bbtoken_policy_keep();

CREATE FUNCTION bbtoken_policy_text(p bbtoken_policy) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT 'expiry ' || CASE WHEN p.expiry_required THEN 'required'
                             ELSE 'optional' END
        || ', maximum expiry '
        || COALESCE(p.max_expiry_days || ' days', 'none')
        || ', at most ' || p.max_tokens_per_user || ' live tokens per user'
$$;

CREATE FUNCTION bbtoken_policy_audit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    PERFORM bbtoken_audit_write('policy_changed', NULL, NULL,
                                bbtoken_policy_text(NEW));
    RETURN NULL;
END
$$;
CREATE TRIGGER bbtoken_policy_audit AFTER UPDATE ON bbtoken_policy
    FOR EACH ROW WHEN (OLD IS DISTINCT FROM NEW)
    EXECUTE FUNCTION bbtoken_policy_audit();

-- ---- tokens ------------------------------------------------------------

-- The last few client addresses (most recent first), written with
-- last_authenticated; when the module last recorded an expired-token refusal.
ALTER TABLE bbtoken_tokens
    ADD COLUMN last_addresses inet[] NOT NULL DEFAULT '{}'
        CONSTRAINT bbtoken_tokens_last_addresses
        CHECK (cardinality(last_addresses) <= 5),
    ADD COLUMN expired_refused_at timestamptz;

-- A name is unique among one user's tokens that are not revoked (the ones
-- `bbtoken list` shows, expired ones included), so a script finds exactly
-- one token by its name.  The previous release allowed duplicates: all but
-- the oldest get the token id appended, and the audit trail says so.
CREATE FUNCTION bbtoken_tokens_audit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    owner text;
BEGIN
    SELECT name INTO owner FROM bbtoken_users
     WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.user_id
                     ELSE NEW.user_id END;
    IF TG_OP = 'INSERT' THEN
        PERFORM bbtoken_audit_write('created', NEW.id, owner,
            format('name %L, %s,%s, %s', NEW.name, NEW.project_perm,
                   NEW.repo_perm,
                   COALESCE('expires ' || to_char(NEW.expires_at AT TIME ZONE
                       'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                            'never expires')));
    ELSIF TG_OP = 'UPDATE' THEN
        IF OLD.name IS DISTINCT FROM NEW.name THEN
            PERFORM bbtoken_audit_write('renamed', NEW.id, owner,
                format('%L -> %L', OLD.name, NEW.name));
        END IF;
        IF OLD.project_perm IS DISTINCT FROM NEW.project_perm
           OR OLD.repo_perm IS DISTINCT FROM NEW.repo_perm THEN
            PERFORM bbtoken_audit_write('permissions_changed', NEW.id, owner,
                format('%s,%s -> %s,%s', OLD.project_perm, OLD.repo_perm,
                       NEW.project_perm, NEW.repo_perm));
        END IF;
        IF OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL THEN
            PERFORM bbtoken_audit_write('revoked', NEW.id, owner,
                                        format('name %L', NEW.name));
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
CREATE TRIGGER bbtoken_tokens_audit_ins AFTER INSERT ON bbtoken_tokens
    FOR EACH ROW EXECUTE FUNCTION bbtoken_tokens_audit();
-- Not on last-use writes: only when something audited changed.
CREATE TRIGGER bbtoken_tokens_audit_upd AFTER UPDATE ON bbtoken_tokens
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name
                       OR OLD.project_perm IS DISTINCT FROM NEW.project_perm
                       OR OLD.repo_perm IS DISTINCT FROM NEW.repo_perm
                       OR OLD.revoked_at IS DISTINCT FROM NEW.revoked_at)
    EXECUTE FUNCTION bbtoken_tokens_audit();
CREATE TRIGGER bbtoken_tokens_audit_del AFTER DELETE ON bbtoken_tokens
    FOR EACH ROW EXECUTE FUNCTION bbtoken_tokens_audit();

UPDATE bbtoken_tokens t SET name = left(t.name, 241) || ' #' || t.id
  FROM (SELECT id, row_number() OVER (PARTITION BY user_id, name
                                      ORDER BY created_at, id) AS n
          FROM bbtoken_tokens WHERE revoked_at IS NULL) d
 WHERE d.id = t.id AND d.n > 1;

CREATE UNIQUE INDEX bbtoken_tokens_live_name ON bbtoken_tokens (user_id, name)
    WHERE revoked_at IS NULL;

-- What never changes once a token exists: its identity, its secret, its
-- creation and its expiry (Bitbucket: "its expiry date cannot be changed";
-- make a new token instead).  A revocation is for good.  Refused for every
-- role, superusers included; only disabling the trigger (the table owner's
-- deliberate act) gets past it.
CREATE FUNCTION bbtoken_tokens_fixed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    what text;
BEGIN
    IF OLD.expires_at IS DISTINCT FROM NEW.expires_at THEN
        what := 'its expiry date cannot be changed (make a new token)';
    ELSIF OLD.revoked_at IS NOT NULL
          AND OLD.revoked_at IS DISTINCT FROM NEW.revoked_at THEN
        what := 'a revocation is for good';
    ELSE
        what := 'its id, owner, secret and creation time cannot be changed';
    END IF;
    RAISE EXCEPTION 'update of token % violates bbtoken_tokens_fixed: %',
        OLD.id, what
        USING ERRCODE = 'check_violation',
              CONSTRAINT = 'bbtoken_tokens_fixed',
              TABLE = 'bbtoken_tokens';
END
$$;
CREATE TRIGGER bbtoken_tokens_fixed BEFORE UPDATE ON bbtoken_tokens
    FOR EACH ROW WHEN (OLD.expires_at IS DISTINCT FROM NEW.expires_at
                       OR OLD.id IS DISTINCT FROM NEW.id
                       OR OLD.user_id IS DISTINCT FROM NEW.user_id
                       OR OLD.salt IS DISTINCT FROM NEW.salt
                       OR OLD.secret_hash IS DISTINCT FROM NEW.secret_hash
                       OR OLD.created_at IS DISTINCT FROM NEW.created_at
                       OR (OLD.revoked_at IS NOT NULL
                           AND OLD.revoked_at IS DISTINCT FROM NEW.revoked_at))
    EXECUTE FUNCTION bbtoken_tokens_fixed();

-- The policy, applied to every new token however it is inserted: it is
-- created now, under an id never used before; the owner
-- must be active; a required expiry defaults to the maximum; an expiry may
-- not exceed the maximum; a user holds at most max_tokens_per_user live
-- (neither revoked nor expired) tokens; a name is not reused among the
-- user's tokens that are not revoked.  The owner's row is locked, so two
-- concurrent creations cannot both take the last place or the same name.
-- Refusals are check_violation with a constraint name starting
-- "bbtoken_policy", and a message fit for the person who asked.
CREATE FUNCTION bbtoken_tokens_policy() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    pol bbtoken_policy;
    u record;
    live integer;
    clash record;
BEGIN
    -- A row the table's own CHECKs refuse is theirs to report.
    IF (bbtoken_perm_level(NEW.repo_perm)
        >= bbtoken_perm_level(NEW.project_perm)) IS NOT TRUE THEN
        RETURN NEW;
    END IF;
    SELECT * INTO pol FROM bbtoken_policy;
    SELECT name, active INTO u FROM bbtoken_users WHERE id = NEW.user_id
       FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN NEW; -- the foreign key refuses it
    END IF;
    IF TG_OP = 'INSERT' THEN
        -- The creation time is the database's own: one chosen by the client
        -- would move the window the maximum expiry is measured from.
        NEW.created_at := now();
        -- An id is never used twice: a deleted token cannot come back with
        -- another expiry (or another owner) under its old id and secret.
        IF EXISTS (SELECT 1 FROM bbtoken_audit
                    WHERE token_id = NEW.id AND event = 'created') THEN
            RAISE EXCEPTION 'token id % was used before: ids are never reused',
                NEW.id
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'bbtoken_policy_fresh_id';
        END IF;
        IF NOT u.active THEN
            RAISE EXCEPTION 'user is disabled: %', u.name
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'bbtoken_policy_active_owner';
        END IF;
        IF NEW.expires_at IS NULL AND pol.expiry_required THEN
            NEW.expires_at := NEW.created_at
                              + make_interval(days => pol.max_expiry_days);
        ELSIF NEW.expires_at IS NOT NULL AND pol.max_expiry_days IS NOT NULL
              AND NEW.expires_at > NEW.created_at
                                   + make_interval(days => pol.max_expiry_days)
        THEN
            RAISE EXCEPTION 'the token policy allows an expiry of at most % days',
                pol.max_expiry_days
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'bbtoken_policy_max_expiry';
        END IF;
        SELECT count(*) INTO live FROM bbtoken_tokens
         WHERE user_id = NEW.user_id AND revoked_at IS NULL
           AND (expires_at IS NULL OR expires_at > now());
        IF live >= pol.max_tokens_per_user THEN
            RAISE EXCEPTION 'user % already has % live tokens, the most the token policy allows (revoke one first)',
                u.name, live
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'bbtoken_policy_max_tokens';
        END IF;
    END IF;
    IF NEW.revoked_at IS NULL THEN
        SELECT id, expires_at IS NOT NULL AND expires_at <= now() AS expired
          INTO clash FROM bbtoken_tokens
         WHERE user_id = NEW.user_id AND name = NEW.name
           AND revoked_at IS NULL AND id <> NEW.id;
        IF FOUND THEN
            RAISE EXCEPTION 'user % already has a token named %: token %',
                u.name, quote_literal(NEW.name),
                clash.id || CASE WHEN clash.expired
                                 THEN ', expired (revoke it to reuse the name)'
                                 ELSE '' END
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'bbtoken_policy_unique_name';
        END IF;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER bbtoken_tokens_policy_ins BEFORE INSERT ON bbtoken_tokens
    FOR EACH ROW EXECUTE FUNCTION bbtoken_tokens_policy();
CREATE TRIGGER bbtoken_tokens_policy_upd BEFORE UPDATE ON bbtoken_tokens
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name
                       AND NEW.revoked_at IS NULL)
    EXECUTE FUNCTION bbtoken_tokens_policy();

-- ---- what httpd may write ----------------------------------------------

-- Record a verified use of token p_id from address p_addr, unless one was
-- recorded less than p_secs seconds ago: at most one write per interval
-- per token, however many requests (concurrent ones wait for the row and
-- then find it fresh).  The addresses keep the last five distinct, most
-- recent first.  Returns whether it wrote.
CREATE FUNCTION bbtoken_touch(p_id text, p_addr text, p_secs integer)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    a inet := bbtoken_inet(p_addr);
BEGIN
    UPDATE bbtoken_tokens
       SET last_authenticated = now(),
           last_addresses = CASE WHEN a IS NULL THEN last_addresses
               ELSE (ARRAY[a] || array_remove(last_addresses, a))[1:5] END
     WHERE id = p_id AND revoked_at IS NULL
       AND (expires_at IS NULL OR expires_at > now())
       AND (last_authenticated IS NULL OR last_authenticated
            < now() - make_interval(secs => GREATEST(p_secs, 0)));
    RETURN FOUND;
END
$$;

-- Record that expired token p_id was presented with its right secret from
-- p_addr and refused, at most once per p_secs seconds per token.  The
-- actor is the token's owner.  Returns whether it wrote.
CREATE FUNCTION bbtoken_note_expired(p_id text, p_addr text, p_secs integer)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    t record;
BEGIN
    UPDATE bbtoken_tokens AS k SET expired_refused_at = now()
      FROM bbtoken_users u
     WHERE k.id = p_id AND u.id = k.user_id AND k.revoked_at IS NULL
       AND k.expires_at <= now()
       AND (k.expired_refused_at IS NULL OR k.expired_refused_at
            < now() - make_interval(secs => GREATEST(p_secs, 0)))
    RETURNING u.name, k.expires_at INTO t;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM bbtoken_audit_write('expired_refused', p_id, t.name,
        'expired ' || to_char(t.expires_at AT TIME ZONE 'UTC',
                              'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
        'http', t.name, bbtoken_inet(p_addr));
    RETURN true;
END
$$;

-- ---- users and grants --------------------------------------------------

CREATE FUNCTION bbtoken_users_audit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
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
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER bbtoken_users_audit_ins AFTER INSERT OR DELETE ON bbtoken_users
    FOR EACH ROW EXECUTE FUNCTION bbtoken_users_audit();
CREATE TRIGGER bbtoken_users_audit_upd AFTER UPDATE ON bbtoken_users
    FOR EACH ROW WHEN (OLD.active IS DISTINCT FROM NEW.active
                       OR OLD.is_admin IS DISTINCT FROM NEW.is_admin)
    EXECUTE FUNCTION bbtoken_users_audit();

CREATE FUNCTION bbtoken_grants_audit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    r record := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    target text;
    who text;
BEGIN
    target := r.project_key;
    IF TG_TABLE_NAME = 'bbtoken_repo_grants' THEN
        target := target || '/' || r.repo_slug;
    END IF;
    SELECT name INTO who FROM bbtoken_users WHERE id = r.user_id;
    IF TG_OP = 'DELETE' THEN
        PERFORM bbtoken_audit_write('ungranted', NULL, who,
                                    OLD.permission || ' on ' || target);
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM bbtoken_audit_write('granted', NULL, who,
            OLD.permission || ' -> ' || NEW.permission || ' on ' || target);
    ELSE
        PERFORM bbtoken_audit_write('granted', NULL, who,
                                    NEW.permission || ' on ' || target);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER bbtoken_project_grants_audit
    AFTER INSERT OR DELETE ON bbtoken_project_grants
    FOR EACH ROW EXECUTE FUNCTION bbtoken_grants_audit();
CREATE TRIGGER bbtoken_project_grants_audit_upd
    AFTER UPDATE ON bbtoken_project_grants
    FOR EACH ROW WHEN (OLD.permission IS DISTINCT FROM NEW.permission)
    EXECUTE FUNCTION bbtoken_grants_audit();
CREATE TRIGGER bbtoken_repo_grants_audit
    AFTER INSERT OR DELETE ON bbtoken_repo_grants
    FOR EACH ROW EXECUTE FUNCTION bbtoken_grants_audit();
CREATE TRIGGER bbtoken_repo_grants_audit_upd
    AFTER UPDATE ON bbtoken_repo_grants
    FOR EACH ROW WHEN (OLD.permission IS DISTINCT FROM NEW.permission)
    EXECUTE FUNCTION bbtoken_grants_audit();

-- ---- privileges --------------------------------------------------------

-- SECURITY DEFINER functions run as their owner: they see only this
-- schema (and pg_catalog), whatever the caller's search_path, and nobody
-- may call them unless sql/grants.sql says so.
DO $$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY[
        'bbtoken_audit_write(text, text, text, text, text, text, inet)',
        'bbtoken_policy_audit()', 'bbtoken_tokens_audit()',
        'bbtoken_tokens_policy()', 'bbtoken_touch(text, text, integer)',
        'bbtoken_note_expired(text, text, integer)', 'bbtoken_users_audit()',
        'bbtoken_grants_audit()']
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f,
                       current_schema());
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$$;

UPDATE bbtoken_schema SET version = 2;
