-- Migration 54: locks and a revocation's reason that only the tables'
-- owner's code can take or give.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- A project's or a repository's new or renamed tokens were serialised by an
-- advisory lock, pg_advisory_xact_lock(hashtext('bbtoken_tokens ' ||
-- bbtoken_scope_name(...))), and `bbtoken notify`'s runs by another,
-- hashtext('bbtoken notify').  Any role that may connect may take any
-- advisory lock, and these keys are computed from names anyone knows: the
-- lookup role (whose password every repository host holds) could hold a
-- project's, and every creation of one of its tokens waited (the REST API
-- until its statement_timeout, 503; `bbtoken create` for ever), or
-- notify's, and every run stopped at once, mailing nothing and revoking
-- no unused token, its holder an idle session.
--
-- bbtoken_locks holds rows that exist to be locked by the owner's code:
-- one per place that has had a token, locked FOR UPDATE by the policy's
-- trigger where it took the advisory lock, and 'notify', which notify
-- claims for its session (cli/notify_lock.c: a run spans many
-- transactions, and a row lock lasts one).  No role but the owner is
-- granted anything on it (sql/grants.sql and sql/grants-api.sql revoke
-- it), and PostgreSQL lets a session lock a row only with UPDATE on its
-- table, or through a foreign key to it, which needs REFERENCES.  A session
-- of the API role can still hold a place's row, as any row its functions
-- write, by leaving a transaction that created or renamed a token there
-- open: it shows as idle in transaction.
--
-- The audit trigger took a revocation's reason (bbtoken.revoke_reason:
-- revoked_unused, revoked_leaked) from a setting any session may make:
-- the API role's bbtoken_api_revoke was recorded, and told by notify, as a
-- revocation for not being used, or as leaked.  Now the setting counts
-- only in a session whose login is, or may become, the tables' owner (the
-- CLI's; notify revokes the unused tokens so), and
-- bbtoken_api_revoke_leaked gives its reason in a row of
-- bbtoken_revoke_reasons, for its transaction, written and deleted around
-- its UPDATE: uncommitted, no other transaction sees it.
--
-- Each function replaced is otherwise as its last version (the policy's,
-- migration 29; the audit's, 14; revoke_leaked, 42).

CREATE TABLE bbtoken_locks (
    name         text PRIMARY KEY,
    -- notify's: the database session of the run that holds it.
    holder_pid   integer,
    holder_role  oid,
    holder_start timestamptz
);
REVOKE ALL ON bbtoken_locks FROM PUBLIC;

CREATE TABLE bbtoken_revoke_reasons (
    xact   bigint PRIMARY KEY,
    reason text NOT NULL
           CONSTRAINT bbtoken_revoke_reasons_reason
           CHECK (reason IN ('unused', 'leaked'))
);
REVOKE ALL ON bbtoken_revoke_reasons FROM PUBLIC;

-- Migration 29's policy, the place's lock a row of bbtoken_locks.
CREATE OR REPLACE FUNCTION bbtoken_tokens_policy() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    pol bbtoken_policy;
    u record;
    holder text;
    live integer;
    clash record;
    place text;
BEGIN
    -- A row the table's own CHECKs refuse is theirs to report.
    IF (NEW.user_id IS NULL) = (NEW.project_key IS NULL)
       OR (NEW.repo_slug IS NULL
           AND (bbtoken_perm_level(NEW.repo_perm)
                >= bbtoken_perm_level(NEW.project_perm)) IS NOT TRUE) THEN
        RETURN NEW;
    END IF;
    SELECT * INTO pol FROM bbtoken_policy;
    IF NEW.user_id IS NOT NULL THEN
        SELECT name, active INTO u FROM bbtoken_users WHERE id = NEW.user_id
           FOR NO KEY UPDATE;
        IF NOT FOUND THEN
            RETURN NEW; -- the foreign key refuses it
        END IF;
        holder := 'user ' || u.name;
    ELSE
        -- The place's row of bbtoken_locks, made by its first token (a
        -- concurrent first creation waits for the other's insert to commit
        -- or roll back), then locked: the loop takes the row again should
        -- it have been deleted meanwhile.
        place := bbtoken_scope_name(NEW.project_key, NEW.repo_slug);
        LOOP
            INSERT INTO bbtoken_locks (name) VALUES (place)
                ON CONFLICT (name) DO NOTHING;
            PERFORM 1 FROM bbtoken_locks WHERE name = place FOR UPDATE;
            EXIT WHEN FOUND;
        END LOOP;
        holder := CASE WHEN NEW.repo_slug IS NULL
                       THEN 'project ' || NEW.project_key
                       ELSE 'repository ' || NEW.project_key || '/'
                            || NEW.repo_slug END;
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
        -- (u is unassigned for a token without an owner: not one test.)
        IF NEW.user_id IS NOT NULL THEN
            IF NOT u.active THEN
                RAISE EXCEPTION 'user is disabled: %', u.name
                    USING ERRCODE = 'check_violation',
                          CONSTRAINT = 'bbtoken_policy_active_owner';
            END IF;
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
        IF NEW.user_id IS NOT NULL THEN
            SELECT count(*) INTO live FROM bbtoken_tokens
             WHERE user_id = NEW.user_id AND revoked_at IS NULL
               AND (expires_at IS NULL OR expires_at > now());
        ELSIF NEW.repo_slug IS NULL THEN
            SELECT count(*) INTO live FROM bbtoken_tokens
             WHERE user_id IS NULL AND project_key = NEW.project_key
               AND repo_slug IS NULL AND revoked_at IS NULL
               AND (expires_at IS NULL OR expires_at > now());
        ELSE
            SELECT count(*) INTO live FROM bbtoken_tokens
             WHERE user_id IS NULL AND project_key = NEW.project_key
               AND repo_slug = NEW.repo_slug AND revoked_at IS NULL
               AND (expires_at IS NULL OR expires_at > now());
        END IF;
        IF live >= pol.max_tokens_per_user THEN
            RAISE EXCEPTION '% already has % live tokens, the most the token policy allows (revoke one first)',
                holder, live
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'bbtoken_policy_max_tokens';
        END IF;
    END IF;
    IF NEW.revoked_at IS NULL THEN
        IF NEW.user_id IS NOT NULL THEN
            SELECT id, expires_at IS NOT NULL AND expires_at <= now() AS expired
              INTO clash FROM bbtoken_tokens
             WHERE user_id = NEW.user_id AND project_key IS NULL
               AND name = NEW.name AND revoked_at IS NULL AND id <> NEW.id;
        ELSIF NEW.repo_slug IS NULL THEN
            SELECT id, expires_at IS NOT NULL AND expires_at <= now() AS expired
              INTO clash FROM bbtoken_tokens
             WHERE user_id IS NULL AND project_key = NEW.project_key
               AND repo_slug IS NULL
               AND name = NEW.name AND revoked_at IS NULL AND id <> NEW.id;
        ELSE
            SELECT id, expires_at IS NOT NULL AND expires_at <= now() AS expired
              INTO clash FROM bbtoken_tokens
             WHERE user_id IS NULL AND project_key = NEW.project_key
               AND repo_slug = NEW.repo_slug
               AND name = NEW.name AND revoked_at IS NULL AND id <> NEW.id;
        END IF;
        IF FOUND THEN
            RAISE EXCEPTION '% already has a token named %: token %',
                holder, quote_literal(NEW.name),
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

-- Migration 14's audit, the reason given as above.
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
            -- The reason the revoking code gave: a row of
            -- bbtoken_revoke_reasons for this transaction (written by the
            -- owner's code alone), else the session's setting, only where
            -- the session's login is, or may become, the tables' owner
            -- (current_user: this function is SECURITY DEFINER).  Any
            -- session may set bbtoken.revoke_reason: another's revocation
            -- is plain, whatever it says.
            SELECT r.reason INTO reason FROM bbtoken_revoke_reasons r
             WHERE r.xact = txid_current();
            IF NOT FOUND
               AND pg_has_role(session_user, current_user, 'MEMBER') THEN
                reason := NULLIF(current_setting('bbtoken.revoke_reason',
                                                 true), '');
            END IF;
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

-- Migration 42's revoke-by-value, its reason given as above.
CREATE OR REPLACE FUNCTION bbtoken_api_revoke_leaked(p_addr text, p_ids text[],
                                                     p_hashes text[])
RETURNS SETOF text
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    tids tid[];
BEGIN
    PERFORM set_config('bbtoken.source', 'http', true),
            set_config('bbtoken.actor', 'leak report', true),
            set_config('bbtoken.client_addr', COALESCE(p_addr, ''), true);
    -- Lowest id first, whatever the order of the list, every row locked
    -- before any is written, as before: the ids sorted, each locked as the
    -- loop over them reaches it.
    PERFORM 1
       FROM (SELECT DISTINCT x.id FROM unnest(p_ids) x (id)
              WHERE x.id IS NOT NULL ORDER BY x.id) i
      CROSS JOIN LATERAL (SELECT r.id FROM bbtoken_tokens r
                           WHERE r.id = i.id OFFSET 0 FOR UPDATE) k;
    -- The rows to revoke, their conditions checked on the versions locked
    -- (this statement's snapshot is taken after the locks).
    tids := ARRAY(SELECT k.ctid
                    FROM (SELECT DISTINCT x.id, x.hash
                            FROM unnest(p_ids, p_hashes) AS x (id, hash)
                           WHERE x.id IS NOT NULL) v
                   CROSS JOIN LATERAL (SELECT r.ctid, r.secret_hash,
                                              r.revoked_at, r.expires_at
                                         FROM bbtoken_tokens r
                                        WHERE r.id = v.id OFFSET 0) k
                   WHERE k.secret_hash = v.hash
                     AND k.revoked_at IS NULL
                     AND (k.expires_at IS NULL OR k.expires_at > now()));
    -- Then all of them in one statement, by the addresses of the rows
    -- this transaction holds.
    -- The reason, for the audit trigger, only while this UPDATE runs: a
    -- row no other transaction sees, deleted before the caller's next
    -- statement (which may be any revocation of its own).
    IF cardinality(tids) > 0 THEN
        INSERT INTO bbtoken_revoke_reasons (xact, reason)
        VALUES (txid_current(), 'leaked')
        ON CONFLICT (xact) DO UPDATE SET reason = EXCLUDED.reason;
        RETURN QUERY
            WITH w AS (UPDATE bbtoken_tokens t SET revoked_at = now()
                        WHERE t.ctid = ANY (tids)
                       RETURNING t.id)
            SELECT w.id FROM w ORDER BY w.id;
        DELETE FROM bbtoken_revoke_reasons
         WHERE xact = txid_current();
    END IF;
END
$$;

-- CREATE OR REPLACE drops a function's settings (its privileges stay).
DO $$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY[
        'bbtoken_tokens_policy()',
        'bbtoken_tokens_audit()',
        'bbtoken_api_revoke_leaked(text, text[], text[])']
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f,
                       current_schema());
    END LOOP;
END
$$;

UPDATE bbtoken_schema SET version = 54;
