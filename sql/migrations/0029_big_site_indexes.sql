-- Migration 29: indexes for the reads that grew with the site.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- Every request to the access-tokens API finds its caller by the exact
-- name (bbt_rest_db.c, and again inside bbtoken_api_may and the API's
-- other functions); the unique index is on lower(name), so each of those
-- read every user.
CREATE INDEX bbtoken_users_name ON bbtoken_users (name);

-- GET .../places lists, for any user, the repositories known in the
-- projects the user holds a grant on: by the repository grants and the
-- repository tokens (revoked ones too) of those projects.  Neither table
-- had an index by project, so each page read every repository grant and
-- every token of the site.
CREATE INDEX bbtoken_repo_grants_project ON bbtoken_repo_grants (project_key, repo_slug);
CREATE INDEX bbtoken_tokens_repo ON bbtoken_tokens (project_key, repo_slug)
    WHERE repo_slug IS NOT NULL;

-- `bbtoken notify` tells a project's (or a repository's) token to the
-- project's admins: by project, which the grants' key (user first) does
-- not serve.
CREATE INDEX bbtoken_project_grants_project ON bbtoken_project_grants (project_key);

-- Migration 8's policy, with each holder's count of live tokens and its
-- name check spelled so that an index finds the holder's rows (the
-- partial unique indexes on live names): IS NOT DISTINCT FROM, which no
-- index serves, read every project and repository token of the site on
-- each creation of one (and every live token on each creation of a
-- user's), so a bulk creation took time quadratic in its rows.  Nothing
-- else changes: a user's token has no project key (the table's CHECK).
CREATE OR REPLACE FUNCTION bbtoken_tokens_policy() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    pol bbtoken_policy;
    u record;
    holder text;
    live integer;
    clash record;
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
        PERFORM pg_advisory_xact_lock(hashtext('bbtoken_tokens '
            || bbtoken_scope_name(NEW.project_key, NEW.repo_slug)));
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

-- CREATE OR REPLACE keeps who may call a function but not its settings.
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION bbtoken_tokens_policy() SET search_path = %I, pg_temp',
                   current_schema());
END
$$;

UPDATE bbtoken_schema SET version = 29;
