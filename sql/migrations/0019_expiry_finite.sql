-- Migration 19: a token's expiry, last use and last refusal of an expired
-- token are each a date before the year 100000, or none.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- timestamptz also holds 'infinity' and dates up to the year 294276.
-- Plain SQL could store them when the policy sets no maximum (the CLI and
-- the REST API never do), and httpd's lookup, which reads an expiry as
-- microseconds since the epoch in a bigint, failed on 'infinity' and on
-- the last three centuries of that range: such a token was answered 503
-- on every request.  A CHECK now refuses them, with room to spare for the
-- "never" of some ('9999-12-31', and a rotation of such a token, which
-- keeps its lifetime).  An existing one meant "never expires", which is
-- NULL: that is what it becomes.  An expiry is fixed by
-- bbtoken_tokens_fixed for every role, so only this transaction's owner
-- gets past it, by switching it off around the one UPDATE (the table is
-- locked against everyone meanwhile); bbtoken_tokens_notify_upd still tells
-- httpd's caches.

ALTER TABLE bbtoken_tokens DISABLE TRIGGER bbtoken_tokens_fixed;
UPDATE bbtoken_tokens SET expires_at = NULL
 WHERE NOT isfinite(expires_at)
    OR expires_at >= '100000-01-01 00:00:00+00';
ALTER TABLE bbtoken_tokens ENABLE TRIGGER bbtoken_tokens_fixed;

ALTER TABLE bbtoken_tokens ADD CONSTRAINT bbtoken_tokens_expires_finite
    CHECK (isfinite(expires_at)
           AND expires_at < '100000-01-01 00:00:00+00');

-- The lookup reads the last use and the last refusal of an expired token
-- the same way.  Only httpd's functions write them, with now(), but
-- plain SQL could write anything.  A last use at the end of time becomes
-- now, so that no token the row says was used is revoked as unused; one
-- at its beginning becomes never (NULL); a refusal becomes none.
UPDATE bbtoken_tokens
   SET last_authenticated = CASE
           WHEN NOT isfinite(last_authenticated)
                AND last_authenticated < now() THEN NULL
           WHEN NOT isfinite(last_authenticated)
                OR last_authenticated >= '100000-01-01 00:00:00+00'
           THEN now() ELSE last_authenticated END,
       expired_refused_at = CASE
           WHEN NOT isfinite(expired_refused_at)
                OR expired_refused_at >= '100000-01-01 00:00:00+00'
           THEN NULL ELSE expired_refused_at END
 WHERE NOT isfinite(last_authenticated)
    OR last_authenticated >= '100000-01-01 00:00:00+00'
    OR NOT isfinite(expired_refused_at)
    OR expired_refused_at >= '100000-01-01 00:00:00+00';

ALTER TABLE bbtoken_tokens ADD CONSTRAINT bbtoken_tokens_use_finite
    CHECK (isfinite(last_authenticated)
           AND last_authenticated < '100000-01-01 00:00:00+00'
           AND isfinite(expired_refused_at)
           AND expired_refused_at < '100000-01-01 00:00:00+00');

UPDATE bbtoken_schema SET version = 19;
