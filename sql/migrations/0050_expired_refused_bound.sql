-- Migration 50: a token's expired_refused records are bounded: at most 16
-- in any hour, whatever interval the caller gives.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- bbtoken_note_expired audits an expired token presented with its right
-- secret at most once per p_secs seconds, and p_secs is the caller's: httpd
-- passes BBTokenLastUseInterval, which may be 0 (every request writes), and
-- whoever holds the lookup role may pass 0 itself.  Either way one record a
-- call, as many as it likes, from one expired token.  Now a refusal is
-- audited only while the token has fewer than 16 expired_refused records
-- of the last hour, as migration 47 bounds new_address: at most 16 in any
-- hour, and again the next hour however long the refusals go on.  The
-- throttle's time (expired_refused_at) moves as before, so the interval
-- still spaces them.  The token's row lock, which the UPDATE takes, orders
-- concurrent calls, and the audit's index (token_id, at) finds the hour's
-- records.
--
-- The same function as migration 40's but for that count; it returns
-- whether it audited the refusal.

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
    IF (SELECT count(*) FROM bbtoken_audit r
         WHERE r.token_id = p_id AND r.event = 'expired_refused'
           AND r.at > now() - interval '1 hour') >= 16 THEN
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
BEGIN
    EXECUTE format('ALTER FUNCTION bbtoken_note_expired(text, text, integer) '
                   'SET search_path = %I, pg_temp', current_schema());
END
$$;

UPDATE bbtoken_schema SET version = 50;
