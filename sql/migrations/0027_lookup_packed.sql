-- Version 27: httpd's token lookup reads one column of bbtoken_lookup.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- With the token cache off, httpd reads a token's row on every request.
-- Read as seventeen columns, most of what that cost PostgreSQL beyond
-- mod_authn_dbd's SELECT password was per column: projecting each, and
-- each one's output function (bool, bigint, text); and httpd's side paid
-- per column in libpq and apr_dbd, and a copy of each text (README:
-- Benchmark).  Column packed holds every field of the row as one text, in
-- a format httpd parses (mod_bbtoken/bbt_lookuprow.c), so the lookup reads
-- one column.
--
-- It is a generated column: computed from the row's other columns by
-- bbtoken_lookup_pack whenever they are written, it can never disagree
-- with them, so the triggers, bbtoken_lookup_rows (the one home of what a
-- row holds) and `bbtoken db check` keep it true by keeping them true.
-- The other columns stay: the previous release's module reads them until
-- httpd is reloaded after the upgrade (README, Upgrading).
--
-- The format, version 1: "1", then each field below preceded by one space,
-- in this order, and nothing after the last:
--   salt, secret_hash     32 and 64 lower-case hex digits
--   revoked               t or f
--   user_active           t, f, or - (NULL: a token with no owner)
--   user_id, expires_us,  a decimal integer (an optional "-", no leading
--   last_use_us,          zero), or - (NULL)
--   refused_us
--   project_perm, repo_perm, token_name, user_name, project_key,
--   repo_slug, allowed_nets (space-separated), seen_nets (space-
--   separated), levels (the owner's level map)
--                         text: its length in bytes as httpd receives it
--                         (UTF-8), ":", then the bytes; or - (NULL)
-- A name may hold spaces, colons and digits: only its length says where
-- it ends, never a character in it.  A later format starts with another
-- version, which this release's httpd refuses (fail closed) rather than
-- misread.

-- Text field t of the format: "-" for NULL, else its length in bytes as
-- httpd receives it, ":" and t.  httpd's connections speak UTF-8 (the
-- module sets client_encoding), so the length is the UTF-8 form's, which
-- in a database of another encoding (LATIN1, WIN1252) is not the stored
-- text's; a database in SQL_ASCII converts nothing either way, and a
-- conversion there would refuse the bytes it holds, so it counts them as
-- they are.  The database's encoding never changes: IMMUTABLE holds.
CREATE FUNCTION bbtoken_lookup_text(t text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN t IS NULL THEN '-'
                WHEN getdatabaseencoding() = 'SQL_ASCII'
                THEN octet_length(t)::text || ':' || t
                ELSE octet_length(convert_to(t, 'UTF8'))::text || ':' || t
           END
$$;

-- A row's packed column, version 1, from its other columns.
CREATE FUNCTION bbtoken_lookup_pack(
    salt text, secret_hash text, revoked boolean, user_active boolean,
    user_id bigint, expires_us bigint, last_use_us bigint, refused_us bigint,
    project_perm text, repo_perm text, token_name text, user_name text,
    project_key text, repo_slug text, allowed_nets text, seen_nets text,
    levels text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT '1 ' || salt || ' ' || secret_hash
        || CASE WHEN revoked THEN ' t' WHEN NOT revoked THEN ' f' END
        || CASE WHEN user_active THEN ' t' WHEN NOT user_active THEN ' f'
                ELSE ' -' END
        || ' ' || COALESCE(user_id::text, '-')
        || ' ' || COALESCE(expires_us::text, '-')
        || ' ' || COALESCE(last_use_us::text, '-')
        || ' ' || COALESCE(refused_us::text, '-')
        || ' ' || bbtoken_lookup_text(project_perm)
        || ' ' || bbtoken_lookup_text(repo_perm)
        || ' ' || bbtoken_lookup_text(token_name)
        || ' ' || bbtoken_lookup_text(user_name)
        || ' ' || bbtoken_lookup_text(project_key)
        || ' ' || bbtoken_lookup_text(repo_slug)
        || ' ' || bbtoken_lookup_text(allowed_nets)
        || ' ' || bbtoken_lookup_text(seen_nets)
        || ' ' || bbtoken_lookup_text(levels)
$$;

-- Every row's is computed here, the table held while it is rewritten.  A
-- NULL salt, hash or revoked (the columns' NOT NULL forbids them) would
-- make it NULL, which NOT NULL refuses too.
ALTER TABLE bbtoken_lookup ADD COLUMN packed text NOT NULL
    GENERATED ALWAYS AS (bbtoken_lookup_pack(
        salt, secret_hash, revoked, user_active, user_id, expires_us,
        last_use_us, refused_us, project_perm, repo_perm, token_name,
        user_name, project_key, repo_slug, allowed_nets, seen_nets, levels))
    STORED;

-- The schema's own function whatever the writer's search_path (the
-- column is computed in every session that writes a row), fixed only now:
-- PostgreSQL inlines a SQL function into the expression that calls it,
-- but never one with a SET clause, which it runs through the function
-- manager for each row instead.  Inlined, the rewrite above of 100,000
-- rows took a sixth of the time (2.2 s against 13.4 s, bench/upgrade.pl),
-- all of it under the ACCESS EXCLUSIVE lock that keeps httpd's lookup
-- out.  The rows and the schema end the same either way: the migration
-- runs with this schema first in its search_path, where everything above
-- was made.
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION bbtoken_lookup_pack(text, text, boolean,'
                   ' boolean, bigint, bigint, bigint, bigint, text, text,'
                   ' text, text, text, text, text, text, text)'
                   ' SET search_path = %I, pg_temp', current_schema());
END
$$;

-- As migration 26's, with packed computed as the table computes it: what
-- `bbtoken db check` compares a stored row with.
CREATE OR REPLACE FUNCTION bbtoken_lookup_rows(p_ids text[])
RETURNS SETOF bbtoken_lookup LANGUAGE sql STABLE AS $$
    SELECT r.*, bbtoken_lookup_pack(
               r.salt, r.secret_hash, r.revoked, r.user_active, r.user_id,
               r.expires_us, r.last_use_us, r.refused_us, r.project_perm,
               r.repo_perm, r.token_name, r.user_name, r.project_key,
               r.repo_slug, r.allowed_nets, r.seen_nets, r.levels)
      FROM (SELECT t.id, t.salt, t.secret_hash, t.name AS token_name,
                   u.name AS user_name, u.active AS user_active,
                   t.project_perm, t.repo_perm,
                   t.revoked_at IS NOT NULL AS revoked, u.id AS user_id,
                   (date_part('epoch', t.expires_at) * 1000000)::bigint
                       AS expires_us,
                   (date_part('epoch', t.last_authenticated) * 1000000)::bigint
                       AS last_use_us,
                   (date_part('epoch', t.expired_refused_at) * 1000000)::bigint
                       AS refused_us,
                   t.project_key, t.repo_slug,
                   array_to_string(t.allowed_nets, ' ') AS allowed_nets,
                   array_to_string(t.seen_nets, ' ') AS seen_nets,
                   CASE WHEN u.id IS NOT NULL THEN bbtoken_owner_level_map(u)
                   END AS levels
              FROM bbtoken_tokens t LEFT JOIN bbtoken_users u
                ON u.id = t.user_id
             WHERE t.id = ANY (p_ids)) r
$$;

-- As migration 26's, naming the columns written: a generated column takes
-- no value.  EXCLUDED holds packed as computed for the row proposed
-- (PostgreSQL computes a stored generated column before it looks for a
-- conflict), so a stored packed that is not what its row computes now is
-- written again too, by the update that computes it afresh.
CREATE OR REPLACE FUNCTION bbtoken_lookup_write(p_ids text[]) RETURNS void
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
           (id, salt, secret_hash, token_name, user_name, user_active,
            project_perm, repo_perm, revoked, user_id, expires_us,
            last_use_us, refused_us, project_key, repo_slug, allowed_nets,
            seen_nets, levels)
    SELECT r.id, r.salt, r.secret_hash, r.token_name, r.user_name,
           r.user_active, r.project_perm, r.repo_perm, r.revoked, r.user_id,
           r.expires_us, r.last_use_us, r.refused_us, r.project_key,
           r.repo_slug, r.allowed_nets, r.seen_nets, r.levels
      FROM bbtoken_lookup_rows(p_ids) r ORDER BY r.id
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

-- As migration 26's, through bbtoken_lookup_write, the one statement that
-- names the columns written (into an emptied table: no conflict).
CREATE OR REPLACE FUNCTION bbtoken_lookup_rebuild() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    LOCK TABLE bbtoken_lookup IN EXCLUSIVE MODE;
    DELETE FROM bbtoken_lookup;
    PERFORM bbtoken_lookup_write(ARRAY(SELECT id FROM bbtoken_tokens
                                        ORDER BY id));
    RETURN NULL;
END
$$;

-- As migration 2 on (CREATE OR REPLACE dropped the setting; privileges
-- stay).
DO $$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY[
        'bbtoken_lookup_write(text[])',
        'bbtoken_lookup_rebuild()']
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f,
                       current_schema());
    END LOOP;
END
$$;

UPDATE bbtoken_schema SET version = 27;
