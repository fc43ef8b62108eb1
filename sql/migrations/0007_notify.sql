-- Migration 7: telling owners about their tokens (`bbtoken notify`), and
-- revoking tokens nobody uses.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
--   bbtoken_policy.revoke_unused_after  tokens not used for this long
--                    (never used: since created) are revoked by `bbtoken
--                    notify`, after a warning; NULL (the default): never
--   bbtoken_notices  what `bbtoken notify` has told each token's owner,
--                    one row per token and kind, so that each notice goes
--                    out once
--   audit events     'revoked_unused' and 'revoked_leaked': a revocation
--                    for not being used, or of a token whose value was
--                    reported.  The revoking transaction names its reason
--                    with set_config('bbtoken.revoke_reason', 'unused' or
--                    'leaked', true) before it sets revoked_at; the audit
--                    trigger then writes that event instead of 'revoked'.

-- ---- the policy ----------------------------------------------------------

ALTER TABLE bbtoken_policy
    ADD COLUMN revoke_unused_after interval
        CONSTRAINT bbtoken_policy_revoke_unused_after
        CHECK (revoke_unused_after BETWEEN interval '1 day'
                                       AND interval '36500 days');

-- A duration as the CLI writes one: whole days as "90 days", else hours.
CREATE FUNCTION bbtoken_duration_text(d interval) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE WHEN s % 86400 = 0 THEN (s / 86400) || ' days'
                ELSE (s / 3600) || ' hours' END
      FROM (SELECT extract(epoch FROM d)::bigint AS s) x
$$;

-- The policy_changed record's detail: as before, and the unused-token rule
-- when there is one.
CREATE OR REPLACE FUNCTION bbtoken_policy_text(p bbtoken_policy) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT 'expiry ' || CASE WHEN p.expiry_required THEN 'required'
                             ELSE 'optional' END
        || ', maximum expiry '
        || COALESCE(p.max_expiry_days || ' days', 'none')
        || ', at most ' || p.max_tokens_per_user || ' live tokens per user'
        || COALESCE(', unused tokens revoked after '
                    || bbtoken_duration_text(p.revoke_unused_after), '')
$$;

-- ---- the audit trail's new events -----------------------------------------

ALTER TABLE bbtoken_audit DROP CONSTRAINT bbtoken_audit_event_check,
    ADD CONSTRAINT bbtoken_audit_event CHECK (event IN (
        'created', 'renamed', 'permissions_changed', 'revoked',
        'revoked_unused', 'revoked_leaked',
        'expired_refused', 'deleted',
        'user_added', 'user_disabled', 'user_enabled',
        'user_admin_changed', 'user_deleted',
        'granted', 'ungranted', 'policy_changed'));

-- Migration 2's trigger function, but for the revocation's event: the
-- reason the revoking transaction gave (bbtoken.revoke_reason).  A reason
-- it does not know is refused rather than recorded as a plain revocation,
-- which `bbtoken notify` would tell the owner was an administrator's.
CREATE OR REPLACE FUNCTION bbtoken_tokens_audit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    owner text;
    reason text;
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

-- ---- what was told ------------------------------------------------------

-- One row per notice `bbtoken notify` settled: the token, which notice,
-- when, and the address it was mailed to.  mailed_to is NULL when nothing
-- was mailed: the owner had no address or was disabled (reported by
-- notify instead), or the news predates notify (below).  A row goes with
-- its token when purge deletes it; ids are never reused, so no later token
-- inherits it.  'unused' is rewritten whenever a token is warned again
-- (it was used after the last warning, then fell idle again).
CREATE TABLE bbtoken_notices (
    token_id  text NOT NULL
              REFERENCES bbtoken_tokens (id) ON DELETE CASCADE,
    kind      text NOT NULL
              CHECK (kind IN ('expires_30d', 'expires_7d', 'expired',
                              'unused', 'revoked')),
    sent_at   timestamptz NOT NULL DEFAULT now(),
    mailed_to text,
    PRIMARY KEY (token_id, kind)
);

-- Old news is not mailed: revocations and expiries before this upgrade
-- count as told.
INSERT INTO bbtoken_notices (token_id, kind)
SELECT id, 'revoked' FROM bbtoken_tokens WHERE revoked_at IS NOT NULL
UNION ALL
SELECT id, 'expired' FROM bbtoken_tokens
 WHERE revoked_at IS NULL AND expires_at <= now();

DO $$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY['bbtoken_tokens_audit()']
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f,
                       current_schema());
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$$;

UPDATE bbtoken_schema SET version = 7;
