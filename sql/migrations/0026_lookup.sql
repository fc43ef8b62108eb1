-- Version 26: what httpd's token lookup reads, one row per token in one
-- table, kept by triggers.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- With the token cache off, httpd looks a token up on every request.  Read
-- from the live tables (the token, its owner, the owner's level on the
-- target), that cost PostgreSQL five to six times what mod_authn_dbd's
-- SELECT password does (callgrind, README: Benchmark): most of it is the
-- executor's set-up of each join, index scan and expression, which it
-- builds again on every run of a prepared statement.  bbtoken_lookup holds
-- what the lookup needs, computed when a row it derives from is written,
-- never when it is read: httpd reads one row of one table by its primary
-- key, plain columns only.  It is derived data: bbtoken_lookup_rows below
-- computes a token's row from the live tables, its one home, and the
-- triggers write it in the same transaction as the change.  A token with no
-- row here is unknown to httpd (fail closed).

-- The owner's level map: every level the user has, as text httpd parses.
-- Entries are "target:level", separated by single spaces; a target is "*"
-- (every project: an administrator), a project key, or "key/slug".  Keys
-- and slugs never hold " ", ":", "/" or "*" (bbtoken_valid_key,
-- bbtoken_valid_slug).  httpd's level on (key, slug) is the largest of the
-- entries "*", "key" and "key/slug" (0 when none matches), which is what
-- bbtoken_owner_levels computes: the rules are the same, here beside it.
-- An inactive user's map is empty (level 0 everywhere); an active user's
-- always names the personal project, so it is never empty.  A user with
-- more than bbtoken_lookup_grants_max() grants, administrators aside, has
-- NULL: httpd asks bbtoken_owner_levels for that user's level instead, so
-- that no row grows without bound and no change of one grant rewrites a
-- long text in every token of the user.
CREATE FUNCTION bbtoken_lookup_grants_max() RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 64 $$;

CREATE FUNCTION bbtoken_owner_level_map(u bbtoken_users) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN NOT u.active THEN ''
                WHEN u.is_admin THEN '*:3'
                WHEN (SELECT count(*) FROM bbtoken_project_grants g
                       WHERE g.user_id = u.id)
                     + (SELECT count(*) FROM bbtoken_repo_grants g
                         WHERE g.user_id = u.id)
                     > bbtoken_lookup_grants_max() THEN NULL
                ELSE concat_ws(' ', '~' || lower(u.name) || ':3',
                    (SELECT string_agg(g.project_key || ':' || g.perm_level,
                                       ' ' ORDER BY g.project_key COLLATE "C")
                       FROM bbtoken_project_grants g
                      WHERE g.user_id = u.id),
                    (SELECT string_agg(g.project_key || '/' || g.repo_slug
                                       || ':' || g.perm_level, ' '
                                       ORDER BY g.project_key COLLATE "C",
                                                g.repo_slug COLLATE "C")
                       FROM bbtoken_repo_grants g
                      WHERE g.user_id = u.id))
           END
$$;

-- Column for column what bbt_db_lookup (mod_bbtoken/bbt_dblookup.c) reads:
-- times are microseconds since the epoch, the networks text, the holder's
-- name, state and level map copied from the owner's row (NULL for a
-- project's or a repository's token, which has no owner).
CREATE TABLE bbtoken_lookup (
    id           text PRIMARY KEY,
    salt         text NOT NULL,
    secret_hash  text NOT NULL,
    token_name   text NOT NULL,
    user_name    text,
    user_active  boolean,
    project_perm text,
    repo_perm    text NOT NULL,
    revoked      boolean NOT NULL,
    user_id      bigint,
    expires_us   bigint,
    last_use_us  bigint,
    refused_us   bigint,
    project_key  text,
    repo_slug    text,
    allowed_nets text,
    seen_nets    text NOT NULL,
    levels       text
);

-- The rows of tokens p_ids, from the live tables: the one home of what
-- bbtoken_lookup holds.
CREATE FUNCTION bbtoken_lookup_rows(p_ids text[])
RETURNS SETOF bbtoken_lookup LANGUAGE sql STABLE AS $$
    SELECT t.id, t.salt, t.secret_hash, t.name, u.name, u.active,
           t.project_perm, t.repo_perm, t.revoked_at IS NOT NULL, u.id,
           (date_part('epoch', t.expires_at) * 1000000)::bigint,
           (date_part('epoch', t.last_authenticated) * 1000000)::bigint,
           (date_part('epoch', t.expired_refused_at) * 1000000)::bigint,
           t.project_key, t.repo_slug, array_to_string(t.allowed_nets, ' '),
           array_to_string(t.seen_nets, ' '),
           CASE WHEN u.id IS NOT NULL THEN bbtoken_owner_level_map(u) END
      FROM bbtoken_tokens t LEFT JOIN bbtoken_users u ON u.id = t.user_id
     WHERE t.id = ANY (p_ids)
$$;

-- Write the rows of tokens p_ids (a token that is gone loses its row).
-- Their rows are locked first, lowest id first, as every statement that
-- takes several tokens takes them (migration 24); only then, in statements
-- of their own, are the rows computed: each statement of this function
-- reads what was committed when it began, so a writer that waited for
-- another's rows computes them with the other's change, never over it
-- with what it read before.  A change that no row lock orders (a token
-- not yet committed, which another transaction's trigger cannot see) is
-- ordered by the owner's row: a new token's policy trigger takes it FOR
-- NO KEY UPDATE, as does a change of the user, and a change of a grant
-- takes it FOR SHARE (bbtoken_lookup_users).
CREATE FUNCTION bbtoken_lookup_write(p_ids text[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    IF cardinality(p_ids) = 0 THEN
        RETURN;
    END IF;
    PERFORM 1 FROM bbtoken_lookup WHERE id = ANY (p_ids)
      ORDER BY id FOR NO KEY UPDATE;
    DELETE FROM bbtoken_lookup l
     WHERE l.id = ANY (p_ids)
       AND NOT EXISTS (SELECT 1 FROM bbtoken_tokens t WHERE t.id = l.id);
    INSERT INTO bbtoken_lookup AS l
    SELECT * FROM bbtoken_lookup_rows(p_ids) r ORDER BY r.id
    ON CONFLICT (id) DO UPDATE
       SET salt = EXCLUDED.salt, secret_hash = EXCLUDED.secret_hash,
           token_name = EXCLUDED.token_name, user_name = EXCLUDED.user_name,
           user_active = EXCLUDED.user_active,
           project_perm = EXCLUDED.project_perm,
           repo_perm = EXCLUDED.repo_perm, revoked = EXCLUDED.revoked,
           user_id = EXCLUDED.user_id, expires_us = EXCLUDED.expires_us,
           last_use_us = EXCLUDED.last_use_us,
           refused_us = EXCLUDED.refused_us,
           project_key = EXCLUDED.project_key, repo_slug = EXCLUDED.repo_slug,
           allowed_nets = EXCLUDED.allowed_nets,
           seen_nets = EXCLUDED.seen_nets, levels = EXCLUDED.levels
     WHERE l IS DISTINCT FROM EXCLUDED;
END
$$;

-- Every row again, after a TRUNCATE of a table it derives from.
CREATE FUNCTION bbtoken_lookup_rebuild() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    LOCK TABLE bbtoken_lookup IN EXCLUSIVE MODE;
    DELETE FROM bbtoken_lookup;
    INSERT INTO bbtoken_lookup
    SELECT * FROM bbtoken_lookup_rows(ARRAY(SELECT id FROM bbtoken_tokens))
     ORDER BY id;
    RETURN NULL;
END
$$;

-- The tokens a statement inserted, changed or deleted.
CREATE FUNCTION bbtoken_lookup_tokens() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM bbtoken_lookup_write(ARRAY(SELECT id FROM lookup_new
                                            ORDER BY id));
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM bbtoken_lookup_write(ARRAY(SELECT id FROM lookup_new
                                           UNION SELECT id FROM lookup_old
                                           ORDER BY 1));
    ELSE
        PERFORM bbtoken_lookup_write(ARRAY(SELECT id FROM lookup_old
                                            ORDER BY id));
    END IF;
    RETURN NULL;
END
$$;

-- The tokens of users p_users, whose name, state or grants changed.
CREATE FUNCTION bbtoken_lookup_users(p_users bigint[], p_lock boolean)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    IF p_lock THEN
        PERFORM 1 FROM bbtoken_users WHERE id = ANY (p_users)
          ORDER BY id FOR SHARE;
    END IF;
    PERFORM bbtoken_lookup_write(ARRAY(SELECT id FROM bbtoken_tokens
                                        WHERE user_id = ANY (p_users)
                                        ORDER BY id));
END
$$;

-- A user's row changed: its tokens' rows, if what they copy changed.  The
-- statement holds the users' rows.
CREATE FUNCTION bbtoken_lookup_users_upd() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    PERFORM bbtoken_lookup_users(ARRAY(
        SELECT n.id FROM lookup_new n JOIN lookup_old o ON o.id = n.id
         WHERE (o.name, o.active, o.is_admin)
               IS DISTINCT FROM (n.name, n.active, n.is_admin)
         ORDER BY n.id), false);
    RETURN NULL;
END
$$;

-- Grants changed: their users' tokens' rows.
CREATE FUNCTION bbtoken_lookup_grants() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM bbtoken_lookup_users(ARRAY(SELECT DISTINCT user_id
                                             FROM lookup_new), true);
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM bbtoken_lookup_users(ARRAY(SELECT user_id FROM lookup_new
                                           UNION
                                           SELECT user_id FROM lookup_old),
                                     true);
    ELSE
        PERFORM bbtoken_lookup_users(ARRAY(SELECT DISTINCT user_id
                                             FROM lookup_old), true);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER bbtoken_tokens_lookup_ins AFTER INSERT ON bbtoken_tokens
    REFERENCING NEW TABLE AS lookup_new
    FOR EACH STATEMENT EXECUTE FUNCTION bbtoken_lookup_tokens();
CREATE TRIGGER bbtoken_tokens_lookup_upd AFTER UPDATE ON bbtoken_tokens
    REFERENCING OLD TABLE AS lookup_old NEW TABLE AS lookup_new
    FOR EACH STATEMENT EXECUTE FUNCTION bbtoken_lookup_tokens();
CREATE TRIGGER bbtoken_tokens_lookup_del AFTER DELETE ON bbtoken_tokens
    REFERENCING OLD TABLE AS lookup_old
    FOR EACH STATEMENT EXECUTE FUNCTION bbtoken_lookup_tokens();
CREATE TRIGGER bbtoken_users_lookup_upd AFTER UPDATE ON bbtoken_users
    REFERENCING OLD TABLE AS lookup_old NEW TABLE AS lookup_new
    FOR EACH STATEMENT EXECUTE FUNCTION bbtoken_lookup_users_upd();
CREATE TRIGGER bbtoken_project_grants_lookup_ins
    AFTER INSERT ON bbtoken_project_grants
    REFERENCING NEW TABLE AS lookup_new
    FOR EACH STATEMENT EXECUTE FUNCTION bbtoken_lookup_grants();
CREATE TRIGGER bbtoken_project_grants_lookup_upd
    AFTER UPDATE ON bbtoken_project_grants
    REFERENCING OLD TABLE AS lookup_old NEW TABLE AS lookup_new
    FOR EACH STATEMENT EXECUTE FUNCTION bbtoken_lookup_grants();
CREATE TRIGGER bbtoken_project_grants_lookup_del
    AFTER DELETE ON bbtoken_project_grants
    REFERENCING OLD TABLE AS lookup_old
    FOR EACH STATEMENT EXECUTE FUNCTION bbtoken_lookup_grants();
CREATE TRIGGER bbtoken_repo_grants_lookup_ins
    AFTER INSERT ON bbtoken_repo_grants
    REFERENCING NEW TABLE AS lookup_new
    FOR EACH STATEMENT EXECUTE FUNCTION bbtoken_lookup_grants();
CREATE TRIGGER bbtoken_repo_grants_lookup_upd
    AFTER UPDATE ON bbtoken_repo_grants
    REFERENCING OLD TABLE AS lookup_old NEW TABLE AS lookup_new
    FOR EACH STATEMENT EXECUTE FUNCTION bbtoken_lookup_grants();
CREATE TRIGGER bbtoken_repo_grants_lookup_del
    AFTER DELETE ON bbtoken_repo_grants
    REFERENCING OLD TABLE AS lookup_old
    FOR EACH STATEMENT EXECUTE FUNCTION bbtoken_lookup_grants();
-- A TRUNCATE of the users truncates the tokens too (it must CASCADE, or
-- their foreign key refuses it), so the tokens' trigger covers it.
CREATE TRIGGER bbtoken_tokens_lookup_truncate AFTER TRUNCATE ON bbtoken_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION bbtoken_lookup_rebuild();
CREATE TRIGGER bbtoken_project_grants_lookup_truncate
    AFTER TRUNCATE ON bbtoken_project_grants
    FOR EACH STATEMENT EXECUTE FUNCTION bbtoken_lookup_rebuild();
CREATE TRIGGER bbtoken_repo_grants_lookup_truncate
    AFTER TRUNCATE ON bbtoken_repo_grants
    FOR EACH STATEMENT EXECUTE FUNCTION bbtoken_lookup_rebuild();

-- Firing always, as the notifying triggers do (migration 8): a session
-- with session_replication_role = replica (a hand edit that passes the
-- other triggers by) still keeps the lookup true.  A data-only restore's
-- DISABLE TRIGGER ALL stops them too, and restores bbtoken_lookup's rows
-- with the rows they derive from, dumped at the same instant.  The schema
-- is found by its name as it is: a cast to regnamespace would read it as
-- SQL, and a name that needs quoting ("BBT", "Tok-Ens") would be refused
-- or taken for another schema's (bbt).
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT c.relname, g.tgname FROM pg_trigger g
               JOIN pg_class c ON c.oid = g.tgrelid
               JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE g.tgname LIKE 'bbtoken\_%\_lookup\_%'
                AND n.nspname = current_schema()
    LOOP
        EXECUTE format('ALTER TABLE %I.%I ENABLE ALWAYS TRIGGER %I',
                       current_schema(), t.relname, t.tgname);
    END LOOP;
END
$$;

-- As migration 24's, and the lookup row too is left alone when another
-- transaction holds it (a change of the owner or of the owner's grants is
-- writing it): httpd's write of a last use never waits.
CREATE OR REPLACE FUNCTION bbtoken_touch(p_id text, p_addr text, p_secs integer)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    a inet := bbtoken_inet(p_addr);
BEGIN
    UPDATE bbtoken_tokens
       SET last_authenticated = now(),
           last_addresses = CASE WHEN a IS NULL THEN last_addresses
               ELSE (ARRAY[a] || array_remove(last_addresses, a))[1:5] END
     WHERE id = (SELECT k.id FROM bbtoken_tokens k
                   JOIN bbtoken_lookup l ON l.id = k.id
                  WHERE k.id = p_id AND k.revoked_at IS NULL
                    AND (k.expires_at IS NULL OR k.expires_at > now())
                    AND (k.last_authenticated IS NULL OR k.last_authenticated
                         < now() - make_interval(secs => GREATEST(p_secs, 0)))
                    FOR NO KEY UPDATE OF k, l SKIP LOCKED);
    RETURN FOUND;
END
$$;

-- The lookup no longer reads secret_digest (migration 17) nor calls
-- bbtoken_owner_level_of (migration 15), but the previous release's module
-- does, and an upgrade leaves it running until httpd is next reloaded
-- (README, Upgrading): both stay until a later migration.

-- Every token's row, with every table it derives from held still.
LOCK TABLE bbtoken_users, bbtoken_project_grants, bbtoken_repo_grants,
           bbtoken_tokens IN SHARE ROW EXCLUSIVE MODE;
INSERT INTO bbtoken_lookup
SELECT * FROM bbtoken_lookup_rows(ARRAY(SELECT id FROM bbtoken_tokens))
 ORDER BY id;

-- As migration 2 on: the schema's own objects first, whatever the caller's
-- search_path (CREATE OR REPLACE drops the setting; privileges stay).
DO $$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY[
        'bbtoken_lookup_write(text[])',
        'bbtoken_lookup_rebuild()',
        'bbtoken_lookup_tokens()',
        'bbtoken_lookup_users(bigint[], boolean)',
        'bbtoken_lookup_users_upd()',
        'bbtoken_lookup_grants()',
        'bbtoken_touch(text, text, integer)']
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f,
                       current_schema());
        -- Triggers' alone (bbtoken_touch keeps its grants).
        IF f NOT LIKE 'bbtoken_touch%' THEN
            EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
        END IF;
    END LOOP;
END
$$;

UPDATE bbtoken_schema SET version = 26;
