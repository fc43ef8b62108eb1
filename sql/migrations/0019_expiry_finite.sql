-- Migration 19: a token's expiry is a date before the year 100000, or none.
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

UPDATE bbtoken_schema SET version = 19;
