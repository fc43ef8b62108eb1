-- Migration 8: project and repository access tokens, beside personal ones.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- A token row is held by exactly one of:
--   a user          user_id set (a personal token, as before);
--   a project       project_key set, repo_slug NULL: the project and its
--                   repositories, with a project and a repository level;
--   a repository    project_key and repo_slug set: that repository only,
--                   with a repository level and no project level
--                   (project_perm NULL).
-- A project's or a repository's token belongs to no person: no user row
-- caps or stops it, and the audit trail says who created, changed and
-- revoked it (the actor of each record).  Its name for the audit trail, the
-- access log and r->user is "project:KEY" or "repo:KEY/slug": user names
-- hold neither ':' nor '/', so no user can be mistaken for one.
--
-- Who manages them: a project's admins (a PROJECT_ADMIN grant, the owner of
-- a personal project, a global admin) manage its tokens and its
-- repositories'; a repository's admins (a REPO_ADMIN grant) manage that
-- repository's, unless the project says no (bbtoken_projects,
-- repo_admins_manage_tokens false: Bitbucket's setting).  The REST API's
-- functions below check this for the caller httpd names.
--
-- The policy applies per holder: expiry as for everyone, at most
-- max_tokens_per_user live tokens per user, per project (its own tokens)
-- and per repository, a name unique among the holder's tokens that are not
-- revoked.

SET LOCAL bbtoken.source = 'upgrade';

-- ---- projects' settings ------------------------------------------------

-- A project without a row has the defaults.  Nothing here decides access
-- (only who may manage tokens), so no notification is sent for it.
CREATE TABLE bbtoken_projects (
    project_key               text PRIMARY KEY
                              CONSTRAINT bbtoken_projects_key
                              CHECK (bbtoken_valid_key(project_key)),
    repo_admins_manage_tokens boolean NOT NULL DEFAULT true
);

ALTER TABLE bbtoken_audit DROP CONSTRAINT bbtoken_audit_event,
    ADD CONSTRAINT bbtoken_audit_event CHECK (event IN (
        'created', 'renamed', 'permissions_changed', 'revoked',
        'revoked_unused', 'revoked_leaked',
        'expired_refused', 'deleted',
        'user_added', 'user_disabled', 'user_enabled',
        'user_admin_changed', 'user_deleted',
        'granted', 'ungranted', 'policy_changed', 'project_changed'));

-- Who a token is: its owner's name, or the project's or repository's.
CREATE FUNCTION bbtoken_scope_name(key text, slug text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN key IS NULL THEN NULL
                WHEN slug IS NULL THEN 'project:' || key
                ELSE 'repo:' || key || '/' || slug END
$$;

CREATE FUNCTION bbtoken_projects_audit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    r bbtoken_projects := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
BEGIN
    PERFORM bbtoken_audit_write('project_changed', NULL,
        bbtoken_scope_name(r.project_key, NULL),
        'repository admins ' || CASE WHEN TG_OP <> 'DELETE'
                                      AND NOT NEW.repo_admins_manage_tokens
                                     THEN 'may not' ELSE 'may' END
        || ' manage repository tokens');
    RETURN NULL;
END
$$;
CREATE TRIGGER bbtoken_projects_audit
    AFTER INSERT OR UPDATE OR DELETE ON bbtoken_projects
    FOR EACH ROW EXECUTE FUNCTION bbtoken_projects_audit();

-- ---- tokens ------------------------------------------------------------

ALTER TABLE bbtoken_tokens
    ALTER COLUMN user_id DROP NOT NULL,
    ALTER COLUMN project_perm DROP NOT NULL,
    ADD COLUMN project_key text
        CONSTRAINT bbtoken_tokens_project_key
        CHECK (bbtoken_valid_key(project_key)),
    ADD COLUMN repo_slug text
        CONSTRAINT bbtoken_tokens_repo_slug
        CHECK (bbtoken_valid_slug(repo_slug)),
    ADD CONSTRAINT bbtoken_tokens_holder
        CHECK ((user_id IS NOT NULL AND project_key IS NULL
                AND repo_slug IS NULL)
               OR (user_id IS NULL AND project_key IS NOT NULL)),
    ADD CONSTRAINT bbtoken_tokens_repo_perms
        CHECK ((repo_slug IS NULL) = (project_perm IS NOT NULL));

-- A name is unique among a holder's tokens that are not revoked (users'
-- names: bbtoken_tokens_live_name, migration 2).
CREATE UNIQUE INDEX bbtoken_tokens_live_name_project
    ON bbtoken_tokens (project_key, name)
    WHERE revoked_at IS NULL AND project_key IS NOT NULL AND repo_slug IS NULL;
CREATE UNIQUE INDEX bbtoken_tokens_live_name_repo
    ON bbtoken_tokens (project_key, repo_slug, name)
    WHERE revoked_at IS NULL AND repo_slug IS NOT NULL;

-- The holder is as fixed as the owner: a token never moves.
DROP TRIGGER bbtoken_tokens_fixed ON bbtoken_tokens;
CREATE TRIGGER bbtoken_tokens_fixed BEFORE UPDATE ON bbtoken_tokens
    FOR EACH ROW WHEN (OLD.expires_at IS DISTINCT FROM NEW.expires_at
                       OR OLD.id IS DISTINCT FROM NEW.id
                       OR OLD.user_id IS DISTINCT FROM NEW.user_id
                       OR OLD.project_key IS DISTINCT FROM NEW.project_key
                       OR OLD.repo_slug IS DISTINCT FROM NEW.repo_slug
                       OR OLD.salt IS DISTINCT FROM NEW.salt
                       OR OLD.secret_hash IS DISTINCT FROM NEW.secret_hash
                       OR OLD.created_at IS DISTINCT FROM NEW.created_at
                       OR (OLD.revoked_at IS NOT NULL
                           AND OLD.revoked_at IS DISTINCT FROM NEW.revoked_at))
    EXECUTE FUNCTION bbtoken_tokens_fixed();

-- httpd's cache hears of every change to what decides a token's access,
-- its holder included (migration 4's trigger, with the new columns).
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
                       OR OLD.revoked_at IS DISTINCT FROM NEW.revoked_at)
    EXECUTE FUNCTION bbtoken_notify();
ALTER TABLE bbtoken_tokens ENABLE ALWAYS TRIGGER bbtoken_tokens_notify_upd;

-- Migration 2's policy, per holder.  A project or repository has no row to
-- lock, so an advisory lock of its own serializes its creations instead
-- (two cannot both take the last place or the same name).
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
        ELSE
            SELECT count(*) INTO live FROM bbtoken_tokens
             WHERE user_id IS NULL AND project_key = NEW.project_key
               AND repo_slug IS NOT DISTINCT FROM NEW.repo_slug
               AND revoked_at IS NULL
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
        SELECT id, expires_at IS NOT NULL AND expires_at <= now() AS expired
          INTO clash FROM bbtoken_tokens
         WHERE user_id IS NOT DISTINCT FROM NEW.user_id
           AND project_key IS NOT DISTINCT FROM NEW.project_key
           AND repo_slug IS NOT DISTINCT FROM NEW.repo_slug
           AND name = NEW.name AND revoked_at IS NULL AND id <> NEW.id;
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

-- Migration 7's audit, with the holder's name for a token without an
-- owner, and a repository token's single permission.
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
            format('name %L, %s, %s', NEW.name,
                   concat_ws(',', NEW.project_perm, NEW.repo_perm),
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

-- Migration 2's, for tokens without an owner too: the actor of an expired
-- token's refusal is its holder.
CREATE OR REPLACE FUNCTION bbtoken_note_expired(p_id text, p_addr text,
                                                p_secs integer)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    t record;
BEGIN
    UPDATE bbtoken_tokens AS k SET expired_refused_at = now()
     WHERE k.id = p_id AND k.revoked_at IS NULL AND k.expires_at <= now()
       AND (k.expired_refused_at IS NULL OR k.expired_refused_at
            < now() - make_interval(secs => GREATEST(p_secs, 0)))
    RETURNING COALESCE((SELECT u.name FROM bbtoken_users u
                         WHERE u.id = k.user_id),
                       bbtoken_scope_name(k.project_key, k.repo_slug)) AS name,
              k.expires_at INTO t;
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

-- ---- who manages them ----------------------------------------------------

-- May user u manage the tokens of project key (slug NULL), or of the
-- repository key/slug?  A project's admins (level 3 on the project: a
-- PROJECT_ADMIN grant, the personal project's owner, a global admin) may
-- manage both; a repository's admins (level 3 on it: a REPO_ADMIN grant)
-- that repository's, unless the project says no.  Only an active user may.
CREATE FUNCTION bbtoken_may_manage(u bbtoken_users, key text, slug text)
RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT COALESCE(u.active, false) AND (
        COALESCE((SELECT l.level FROM bbtoken_owner_levels(u, key, NULL) l),
                 0) = 3
        OR (slug IS NOT NULL
            AND COALESCE((SELECT p.repo_admins_manage_tokens
                            FROM bbtoken_projects p
                           WHERE p.project_key = key), true)
            AND COALESCE((SELECT l.level
                            FROM bbtoken_owner_levels(u, key, slug) l), 0) = 3))
$$;

-- The REST API's check: p_caller, exactly as the site's login names them,
-- must be an active user who may manage the tokens of p_key[/p_slug].  It
-- then names the caller to the audit trail of the transaction (the client
-- address is the caller's to set).  Refusals: BT001.
CREATE FUNCTION bbtoken_api_may(p_caller text, p_key text, p_slug text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    c bbtoken_users;
    what text := CASE WHEN p_slug IS NULL THEN 'project ' || p_key
                      ELSE 'repository ' || p_key || '/' || p_slug END;
BEGIN
    SELECT * INTO c FROM bbtoken_users WHERE name = p_caller;
    IF NOT FOUND OR NOT c.active THEN
        RAISE EXCEPTION 'not permitted: % is not an active user', p_caller
            USING ERRCODE = 'BT001';
    END IF;
    IF p_key IS NULL OR NOT bbtoken_valid_key(p_key)
       OR (p_slug IS NOT NULL AND NOT bbtoken_valid_slug(p_slug))
       OR bbtoken_may_manage(c, p_key, p_slug) IS NOT TRUE THEN
        IF p_slug IS NOT NULL AND bbtoken_valid_key(p_key)
           AND (SELECT l.level FROM bbtoken_owner_levels(c, p_key, p_slug) l)
               = 3 THEN
            RAISE EXCEPTION 'not permitted to manage the access tokens of %: project % lets only its admins manage them',
                what, p_key
                USING ERRCODE = 'BT001';
        END IF;
        RAISE EXCEPTION 'not permitted to manage the access tokens of %', what
            USING ERRCODE = 'BT001';
    END IF;
    PERFORM set_config('bbtoken.source', 'http', true),
            set_config('bbtoken.actor', p_caller, true);
END
$$;

-- Create a project's (p_slug NULL) or a repository's token, the id, salt
-- and hash made by the caller as for bbtoken_api_create; p_project NULL for
-- a repository's.  The table's rules and the policy apply.
CREATE FUNCTION bbtoken_api_scope_create(p_caller text, p_key text,
                                         p_slug text, p_id text, p_name text,
                                         p_project text, p_repo text,
                                         p_salt text, p_hash text,
                                         p_days integer)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    PERFORM bbtoken_api_may(p_caller, p_key, p_slug);
    INSERT INTO bbtoken_tokens (id, user_id, project_key, repo_slug, name,
                                project_perm, repo_perm, salt, secret_hash,
                                expires_at)
    VALUES (p_id, NULL, p_key, p_slug, p_name, p_project, p_repo, p_salt,
            p_hash, now() + make_interval(days => p_days));
END
$$;

-- Rename a live token of p_key[/p_slug] and/or change its permissions
-- (NULL: unchanged; a repository's token keeps no project permission).
CREATE FUNCTION bbtoken_api_scope_update(p_caller text, p_key text,
                                         p_slug text, p_id text, p_name text,
                                         p_project text, p_repo text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    PERFORM bbtoken_api_may(p_caller, p_key, p_slug);
    UPDATE bbtoken_tokens
       SET name = COALESCE(p_name, name),
           project_perm = CASE WHEN p_slug IS NULL
                               THEN COALESCE(p_project, project_perm)
                               ELSE p_project END,
           repo_perm = COALESCE(p_repo, repo_perm)
     WHERE id = p_id AND user_id IS NULL AND project_key = p_key
       AND repo_slug IS NOT DISTINCT FROM p_slug AND revoked_at IS NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no such token: %', p_id
            USING ERRCODE = 'BT003';
    END IF;
END
$$;

-- Revoke a live token of p_key[/p_slug].
CREATE FUNCTION bbtoken_api_scope_revoke(p_caller text, p_key text,
                                         p_slug text, p_id text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    PERFORM bbtoken_api_may(p_caller, p_key, p_slug);
    UPDATE bbtoken_tokens SET revoked_at = now()
     WHERE id = p_id AND user_id IS NULL AND project_key = p_key
       AND repo_slug IS NOT DISTINCT FROM p_slug AND revoked_at IS NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no such token: %', p_id
            USING ERRCODE = 'BT003';
    END IF;
END
$$;

-- Set whether the repository admins of project p_key may manage their
-- repositories' tokens: only the project's admins may say.
CREATE FUNCTION bbtoken_api_project_set(p_caller text, p_key text,
                                        p_repo_admins boolean)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    PERFORM bbtoken_api_may(p_caller, p_key, NULL);
    INSERT INTO bbtoken_projects (project_key, repo_admins_manage_tokens)
    VALUES (p_key, p_repo_admins)
    ON CONFLICT (project_key) DO UPDATE
       SET repo_admins_manage_tokens = EXCLUDED.repo_admins_manage_tokens
     WHERE bbtoken_projects.repo_admins_manage_tokens
           IS DISTINCT FROM EXCLUDED.repo_admins_manage_tokens;
END
$$;

-- ---- privileges --------------------------------------------------------

-- CREATE OR REPLACE keeps who may call a function but not its settings.
DO $$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY[
        'bbtoken_projects_audit()', 'bbtoken_tokens_policy()',
        'bbtoken_tokens_audit()', 'bbtoken_note_expired(text, text, integer)',
        'bbtoken_api_may(text, text, text)',
        'bbtoken_api_scope_create(text, text, text, text, text, text, text, text, text, integer)',
        'bbtoken_api_scope_update(text, text, text, text, text, text, text)',
        'bbtoken_api_scope_revoke(text, text, text, text)',
        'bbtoken_api_project_set(text, text, boolean)']
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f,
                       current_schema());
    END LOOP;
    FOREACH f IN ARRAY ARRAY[
        'bbtoken_projects_audit()',
        'bbtoken_api_may(text, text, text)',
        'bbtoken_api_scope_create(text, text, text, text, text, text, text, text, text, integer)',
        'bbtoken_api_scope_update(text, text, text, text, text, text, text)',
        'bbtoken_api_scope_revoke(text, text, text, text)',
        'bbtoken_api_project_set(text, text, boolean)']
    LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$$;

UPDATE bbtoken_schema SET version = 8;
