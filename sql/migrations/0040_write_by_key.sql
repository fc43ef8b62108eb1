-- Migration 40: httpd's writes, and the triggers that keep bbtoken_lookup,
-- find their rows by key whatever the statistics say.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- Statistics that say the tables hold no rows in many pages (ANALYZE after
-- a mass delete and before VACUUM, then the rows back) make the planner
-- reckon one row a table, and httpd's roles cannot ANALYZE.  Measured
-- with auto_explain on such statistics (t/57-lookup-stale-stats):
--
-- A token's first use through httpd (its last use and its first address
-- group: bbtoken_touch, bbtoken_note_net) read some 26,000 rows on a site
-- of 8,000 owners.  Each found the token as "id = p_id AND revoked_at IS
-- NULL", and the planner, reckoning one row from either index, scanned
-- the whole of bbtoken_tokens_live_name (a partial index WHERE revoked_at
-- IS NULL, cheaper than the primary key by a hair) and the heap behind
-- it, filtering on the id: every live token, twice per first use, and
-- once per refusal of an expired token (bbtoken_note_expired).  Each now
-- reads the token by its id alone, in a subquery that OFFSET 0 keeps
-- whole: no other condition reaches that scan, so no partial index can
-- serve it, and the primary key does; the conditions are checked on the
-- row it returns.
--
-- The lookup's triggers, on 4,000 owners: a grant given or taken read
-- every token (bbtoken_lookup_rows, below), and a write of an owner's 100
-- tokens (a grant, the owner disabled) or of 50 tokens deleted every
-- token or every owner, in "id = ANY (p_ids)" statements whose whole scan
-- the planner reckoned cheaper than a probe per id.  Their statements
-- now take the ids one at a time, each looked up by key.  On fresh
-- statistics a write of 100 rows read the tokens and the owners whole (a
-- hash join; 13,900 rows at 4,000 owners) and reads 1,000 now; computing
-- every token's row at once (`bbtoken db check`) probes 100,000 keys
-- twice instead of a hash join: 13.6 s instead of 10.8 on
-- bench/bigsite.sql, paid by the rare whole-site computations for writes
-- that stay small.
--
-- httpd's writes lock the token's row in that subquery, before the
-- conditions are checked on the version it locked (as the lock of the
-- statement before rechecked them), so a call that then writes nothing
-- has held it for the moment of its statement.  httpd calls these only
-- when its row says a write is due, so the row is written on nearly every
-- call anyway.  bbtoken_touch still takes the token's row and then its
-- lookup row, skipping either when another holds it (migration 26):
-- httpd never waits.  Each function is otherwise as its last version;
-- SECURITY DEFINER, volatility, grants and search_path are as they were.

CREATE OR REPLACE FUNCTION bbtoken_touch(p_id text, p_addr text, p_secs integer)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    a inet := bbtoken_inet(p_addr);
    gap interval := make_interval(secs => GREATEST(p_secs, 0));
BEGIN
    UPDATE bbtoken_tokens
       SET last_authenticated = now(),
           last_addresses = CASE WHEN a IS NULL THEN last_addresses
               ELSE (ARRAY[a] || array_remove(last_addresses, a))[1:5] END
     WHERE id = (SELECT k.id
                   FROM (SELECT t.id, t.revoked_at, t.expires_at,
                                t.last_authenticated
                           FROM bbtoken_tokens t WHERE t.id = p_id
                         OFFSET 0 FOR NO KEY UPDATE SKIP LOCKED) k
                   JOIN bbtoken_lookup l ON l.id = k.id
                  WHERE k.revoked_at IS NULL
                    AND (k.expires_at IS NULL OR k.expires_at > now())
                    AND (k.last_authenticated IS NULL
                         OR k.last_authenticated < now() - gap
                         OR k.last_authenticated > now() + gap)
                    FOR NO KEY UPDATE OF l SKIP LOCKED);
    RETURN FOUND;
END
$$;

CREATE OR REPLACE FUNCTION bbtoken_note_expired(p_id text, p_addr text,
                                                p_secs integer)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    t record;
    gap interval := make_interval(secs => GREATEST(p_secs, 0));
BEGIN
    UPDATE bbtoken_tokens AS k SET expired_refused_at = now()
     WHERE k.id = (SELECT e.id
                     FROM (SELECT r.id, r.revoked_at, r.expires_at,
                                  r.expired_refused_at
                             FROM bbtoken_tokens r WHERE r.id = p_id
                           OFFSET 0 FOR NO KEY UPDATE) e
                    WHERE e.revoked_at IS NULL AND e.expires_at <= now()
                      AND (e.expired_refused_at IS NULL
                           OR e.expired_refused_at < now() - gap
                           OR e.expired_refused_at > now() + gap))
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

CREATE OR REPLACE FUNCTION bbtoken_note_net(p_id text, p_net text, p_addr text)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    a inet := bbtoken_inet(p_addr);
    n cidr;
    who text;
BEGIN
    BEGIN
        n := p_net::cidr;
    EXCEPTION WHEN invalid_text_representation THEN
        RETURN false;
    END;
    -- An IPv4-mapped IPv6 client is its IPv4 address, as httpd groups it.
    IF a <<= '::ffff:0.0.0.0/96'::inet THEN
        a := '0.0.0.0'::inet + (a - '::ffff:0.0.0.0'::inet);
    END IF;
    IF a IS NULL OR NOT a <<= n
       OR masklen(n) <> (CASE family(n) WHEN 4 THEN 24 ELSE 64 END) THEN
        RETURN false;
    END IF;
    SELECT COALESCE((SELECT u.name FROM bbtoken_users u WHERE u.id = k.user_id),
                    bbtoken_scope_name(k.project_key, k.repo_slug))
      INTO who
      FROM (SELECT t.user_id, t.project_key, t.repo_slug, t.revoked_at
              FROM bbtoken_tokens t WHERE t.id = p_id OFFSET 0) k
     WHERE k.revoked_at IS NULL;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    INSERT INTO bbtoken_token_nets (token_id, net, first_addr)
    VALUES (p_id, n, a) ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    DELETE FROM bbtoken_token_nets d
     WHERE d.token_id = p_id
       AND d.net NOT IN (SELECT k.net FROM bbtoken_token_nets k
                          WHERE k.token_id = p_id
                          ORDER BY k.first_seen DESC, k.net LIMIT 16);
    PERFORM bbtoken_audit_write('new_address', p_id, who, 'from ' || n::text,
                                'http', who, a);
    RETURN true;
END
$$;

-- As migration 27's, each token found by its id and its owner by the
-- token's user_id, one at a time, in subqueries OFFSET 0 keeps whole.  As a
-- join on the statistics above, PostgreSQL read the owner's tokens by a
-- whole scan of bbtoken_tokens_user, filtering on the ids (ordered by
-- owner for a merge with bbtoken_users it reckoned cheap): every token, in
-- each write of a grant change.  An id named twice is one row, as before.
CREATE OR REPLACE FUNCTION bbtoken_lookup_rows(p_ids text[])
RETURNS SETOF bbtoken_lookup LANGUAGE sql STABLE AS $$
    SELECT r.*, bbtoken_lookup_pack(
               r.salt, r.secret_hash, r.revoked, r.user_active, r.user_id,
               r.expires_us, r.last_use_us, r.refused_us, r.project_perm,
               r.repo_perm, r.token_name, r.user_name, r.project_key,
               r.repo_slug, r.allowed_nets, r.seen_nets, r.levels)
      FROM (SELECT t.id, t.salt, t.secret_hash, t.name AS token_name,
                   (o.u).name AS user_name, (o.u).active AS user_active,
                   t.project_perm, t.repo_perm,
                   t.revoked_at IS NOT NULL AS revoked, (o.u).id AS user_id,
                   (date_part('epoch', t.expires_at) * 1000000)::bigint
                       AS expires_us,
                   (date_part('epoch', t.last_authenticated) * 1000000)::bigint
                       AS last_use_us,
                   (date_part('epoch', t.expired_refused_at) * 1000000)::bigint
                       AS refused_us,
                   t.project_key, t.repo_slug,
                   array_to_string(t.allowed_nets, ' ') AS allowed_nets,
                   array_to_string(t.seen_nets, ' ') AS seen_nets,
                   CASE WHEN (o.u).id IS NOT NULL
                        THEN bbtoken_owner_level_map(o.u) END AS levels
              FROM (SELECT DISTINCT x.id FROM unnest(p_ids) x (id)) i
             CROSS JOIN LATERAL (SELECT k.* FROM bbtoken_tokens k
                                  WHERE k.id = i.id OFFSET 0) t
              LEFT JOIN LATERAL (SELECT u FROM bbtoken_users u
                                  WHERE u.id = t.user_id OFFSET 0) o
                ON true) r
$$;

-- As migration 27's, every statement by key: the lookup rows locked one id
-- at a time, lowest first (the ids sorted, each locked as the loop over
-- them reaches it), those of tokens gone found by looking each token up,
-- and deleted only when there are some.  As "id = ANY (p_ids)", a scan of
-- the whole table, reckoned to hold no rows, cost less than a probe of
-- the key per id.  The rows written are bbtoken_lookup_rows', by key
-- above, each upserted through the primary key.
CREATE OR REPLACE FUNCTION bbtoken_lookup_write(p_ids text[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    gone text[];
BEGIN
    IF cardinality(p_ids) = 0 THEN
        RETURN;
    END IF;
    PERFORM 1
       FROM (SELECT DISTINCT x.id FROM unnest(p_ids) x (id) ORDER BY x.id) i
      CROSS JOIN LATERAL (SELECT l.id FROM bbtoken_lookup l WHERE l.id = i.id
                          OFFSET 0 FOR NO KEY UPDATE) l;
    gone := ARRAY(SELECT i.id
                    FROM (SELECT DISTINCT x.id FROM unnest(p_ids) x (id)) i
                    LEFT JOIN LATERAL (SELECT k.id FROM bbtoken_tokens k
                                        WHERE k.id = i.id OFFSET 0) t ON true
                   WHERE t.id IS NULL);
    IF cardinality(gone) > 0 THEN
        DELETE FROM bbtoken_lookup l WHERE l.id = ANY (gone);
    END IF;
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

-- As migration 26's, the users' rows locked and their tokens found one
-- user at a time: as "id = ANY (p_users) ORDER BY id", a whole scan of the
-- primary key, in the order asked for, cost less than the probes.
CREATE OR REPLACE FUNCTION bbtoken_lookup_users(p_users bigint[],
                                                p_lock boolean)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    IF p_lock THEN
        PERFORM 1
           FROM (SELECT DISTINCT x.id FROM unnest(p_users) x (id)
                  ORDER BY x.id) i
          CROSS JOIN LATERAL (SELECT u.id FROM bbtoken_users u
                               WHERE u.id = i.id OFFSET 0 FOR SHARE) u;
    END IF;
    PERFORM bbtoken_lookup_write(ARRAY(
        SELECT t.id FROM (SELECT DISTINCT x.id FROM unnest(p_users) x (id)) i
         CROSS JOIN LATERAL (SELECT k.id FROM bbtoken_tokens k
                              WHERE k.user_id = i.id OFFSET 0) t
         ORDER BY t.id));
END
$$;

-- CREATE OR REPLACE drops a function's settings (its privileges stay): the
-- schema's own objects first, whatever the caller's search_path, as since
-- migration 2.
DO $$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY['bbtoken_touch(text, text, integer)',
                             'bbtoken_note_expired(text, text, integer)',
                             'bbtoken_note_net(text, text, text)',
                             'bbtoken_lookup_write(text[])',
                             'bbtoken_lookup_users(bigint[], boolean)']
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f,
                       current_schema());
    END LOOP;
END
$$;

UPDATE bbtoken_schema SET version = 40;
