-- Version 32: last use and an expired token's refusal recorded again soon
-- after the database's own clock is set back (an NTP step, a restore of a
-- snapshot of the database's host).
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- Both writes happen at most once per interval: the row's time must be an
-- interval old.  A time written before a step back lies in the clock's
-- future, and was never an interval old until the clock caught up, so for
-- the length of the step no last use, client address or refusal was
-- written: a leaked token's trace lost, and the revocation of unused
-- tokens fed a stale last use.  A time an interval or more ahead of now()
-- counts as due too, as httpd counts it (bbt_centry_due).  Only the
-- condition changes; each function is otherwise as its last version
-- (migration 26's bbtoken_touch, migration 8's bbtoken_note_expired).

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
     WHERE id = (SELECT k.id FROM bbtoken_tokens k
                   JOIN bbtoken_lookup l ON l.id = k.id
                  WHERE k.id = p_id AND k.revoked_at IS NULL
                    AND (k.expires_at IS NULL OR k.expires_at > now())
                    AND (k.last_authenticated IS NULL
                         OR k.last_authenticated < now() - gap
                         OR k.last_authenticated > now() + gap)
                    FOR NO KEY UPDATE OF k, l SKIP LOCKED);
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
     WHERE k.id = p_id AND k.revoked_at IS NULL AND k.expires_at <= now()
       AND (k.expired_refused_at IS NULL
            OR k.expired_refused_at < now() - gap
            OR k.expired_refused_at > now() + gap)
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

-- CREATE OR REPLACE drops a function's settings (its privileges stay): the
-- schema's own objects first, whatever the caller's search_path, as since
-- migration 2.
DO $$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY['bbtoken_touch(text, text, integer)',
                             'bbtoken_note_expired(text, text, integer)']
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f,
                       current_schema());
    END LOOP;
END
$$;

UPDATE bbtoken_schema SET version = 32;
