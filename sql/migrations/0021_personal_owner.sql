-- Migration 21: a personal project's tokens, and others' grants on it, end with its owner.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- The tokens of a personal project ~name and of its repositories are held
-- by the key, and httpd takes them only while a user called name is
-- active (mod_bbtoken/bbt_db.c asks).  A user is known by name alone, so
-- a new user given a deleted or renamed user's name would have inherited
-- them.  In Bitbucket a personal project is its owner's: it goes when the
-- owner is deleted, moves to ~newname with a renamed owner, and a new user
-- of the old name starts with an empty one.  Here the repositories stay
-- where they are on disk whatever the database says, and a token cannot
-- follow a project that has no identity beyond its key; so the deletion or
-- the rename of a user revokes ~name's live tokens, in the same
-- transaction (audited "revoked" beside "user_deleted", and announced to
-- httpd's caches by bbtoken_tokens_notify_upd, as every revocation is).
-- A rename in case only (alice to Alice) keeps the key, and the tokens.
-- Other users' grants on ~name and its repositories go the same way
-- (audited "ungranted", announced as every grant change is): bob's grant
-- on the old alice's project must not open the new alice's to him.  The
-- upgrade removes such grants where ~name has no user already: left by
-- a deletion, they cannot be told from a grant made before the user.
--
-- A token is made only for the personal project of a user that exists
-- (bbtoken_policy_personal_owner): one made for ~nobody would wait for
-- whoever is later given the name.  The owner's row is locked FOR SHARE
-- until the token is committed, so a deletion or a rename of that user in
-- another transaction waits for it and then revokes it, or comes first and
-- the insert is refused.  Existing live tokens of a personal project
-- without a user are revoked here, by "upgrade".
--
-- Ordinary triggers (not ALWAYS): a logical replica's apply receives the
-- revocations with the deletion, and must not make its own.

SET LOCAL bbtoken.source = 'upgrade';

CREATE FUNCTION bbtoken_users_personal_revoke() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    UPDATE bbtoken_tokens SET revoked_at = now()
     WHERE user_id IS NULL AND project_key = '~' || lower(OLD.name)
       AND revoked_at IS NULL;
    DELETE FROM bbtoken_project_grants
     WHERE project_key = '~' || lower(OLD.name);
    DELETE FROM bbtoken_repo_grants
     WHERE project_key = '~' || lower(OLD.name);
    RETURN NULL;
END
$$;
CREATE TRIGGER bbtoken_users_personal_del AFTER DELETE ON bbtoken_users
    FOR EACH ROW EXECUTE FUNCTION bbtoken_users_personal_revoke();
CREATE TRIGGER bbtoken_users_personal_upd AFTER UPDATE OF name
    ON bbtoken_users
    FOR EACH ROW WHEN (lower(OLD.name) IS DISTINCT FROM lower(NEW.name))
    EXECUTE FUNCTION bbtoken_users_personal_revoke();

CREATE FUNCTION bbtoken_tokens_personal() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    PERFORM 1 FROM bbtoken_users
      WHERE lower(name) = substr(NEW.project_key, 2) FOR SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the personal project % has no user', NEW.project_key
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'bbtoken_policy_personal_owner';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER bbtoken_tokens_personal BEFORE INSERT ON bbtoken_tokens
    FOR EACH ROW WHEN (NEW.user_id IS NULL AND NEW.project_key LIKE '~%')
    EXECUTE FUNCTION bbtoken_tokens_personal();

DO $$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY['bbtoken_users_personal_revoke()',
                             'bbtoken_tokens_personal()']
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f,
                       current_schema());
    END LOOP;
END
$$;

UPDATE bbtoken_tokens t SET revoked_at = now()
 WHERE t.user_id IS NULL AND t.project_key LIKE '~%' AND t.revoked_at IS NULL
   AND NOT EXISTS (SELECT 1 FROM bbtoken_users u
                    WHERE lower(u.name) = substr(t.project_key, 2));

DELETE FROM bbtoken_project_grants g
 WHERE g.project_key LIKE '~%'
   AND NOT EXISTS (SELECT 1 FROM bbtoken_users u
                    WHERE lower(u.name) = substr(g.project_key, 2));
DELETE FROM bbtoken_repo_grants g
 WHERE g.project_key LIKE '~%'
   AND NOT EXISTS (SELECT 1 FROM bbtoken_users u
                    WHERE lower(u.name) = substr(g.project_key, 2));

UPDATE bbtoken_schema SET version = 21;
