-- Migration 61: a maximum expiry applies to every new token.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- The policy's trigger gave a token asked without an expiry the maximum
-- only where expiry_required was set too: with max_expiry_days 30 alone a
-- token made without an expiry never expired, while one asked for 31 days
-- was refused, and the page, the REST list's policy and the README all
-- read the maximum as a bound every token keeps.  Now the maximum alone
-- decides: a token asked without an expiry gets it, whoever makes it (the
-- CLI, the REST API, a rotation of a token that never expires, SQL).
--
-- expiry_required says nothing more than that there is a maximum, and
-- follows it: a trigger of the policy's row sets it from max_expiry_days
-- on every write, so what reads it (bbtoken policy, the REST list's
-- policy, policy_changed's detail) says what the tokens' trigger does.  A
-- row that had a maximum without it is given it here, the change audited
-- as the upgrade's.  Tokens that exist keep their expiry, or none: an
-- expiry is fixed at creation.

SET LOCAL bbtoken.source = 'upgrade';

CREATE FUNCTION bbtoken_policy_expiry() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.expiry_required := NEW.max_expiry_days IS NOT NULL;
    RETURN NEW;
END
$$;

DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION bbtoken_policy_expiry() SET search_path = %I, pg_temp',
                   current_schema());
END
$$;
REVOKE ALL ON FUNCTION bbtoken_policy_expiry() FROM PUBLIC;

CREATE TRIGGER bbtoken_policy_expiry BEFORE INSERT OR UPDATE ON bbtoken_policy
    FOR EACH ROW EXECUTE FUNCTION bbtoken_policy_expiry();

UPDATE bbtoken_policy SET expiry_required = true
 WHERE max_expiry_days IS NOT NULL AND NOT expiry_required;

-- Migration 54's, a token without an expiry given the maximum whenever
-- there is one.
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
        -- A maximum applies to every new token: one asked without an
        -- expiry gets the maximum.
        IF NEW.expires_at IS NULL AND pol.max_expiry_days IS NOT NULL THEN
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

-- CREATE OR REPLACE drops a function's settings (its privileges stay).
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION bbtoken_tokens_policy() SET search_path = %I, pg_temp',
                   current_schema());
END
$$;

UPDATE bbtoken_schema SET version = 61;
