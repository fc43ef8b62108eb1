-- Migration 33: each copy of a notice recorded, one per recipient.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- A project's or a repository's token has no owner: each of its project's
-- admins is sent a copy of its notices, in a message of their own.
-- bbtoken_notices has one row per notice, and `bbtoken notify` wrote it as
-- soon as the first admin's message was taken: a run killed before the next
-- admin's message, or a sendmail that refused that one, left that admin
-- untold for good, the notice being no longer due.  Now notify records each
-- copy here as sendmail takes it, and a notice goes into bbtoken_notices
-- (told, with every address it went to) once each of its recipients who
-- can be mailed has a copy; its copies are then deleted.  A run after a
-- kill sends the copies not yet recorded, and no other.
--
-- bbtoken_notices keeps its meaning, a notice told whole, so its rows stay
-- as they are and nothing told before this upgrade goes out again.  Only
-- the notices not yet told have copies: none before the upgrade.

-- One row per copy of a notice not yet told: the token, which notice, whom
-- it was mailed to (user and address), when.  A copy of an 'unused'
-- warning sent before the token's last use belongs to an earlier idle
-- spell and does not count for the next warning.  It goes with its token
-- (purge) or its user.
CREATE TABLE bbtoken_notice_copies (
    token_id  text NOT NULL
              REFERENCES bbtoken_tokens (id) ON DELETE CASCADE,
    kind      text NOT NULL
              CHECK (kind IN ('expires_30d', 'expires_7d', 'expired',
                              'unused', 'revoked')),
    user_id   bigint NOT NULL
              REFERENCES bbtoken_users (id) ON DELETE CASCADE,
    sent_at   timestamptz NOT NULL DEFAULT now(),
    mailed_to text NOT NULL,
    PRIMARY KEY (token_id, kind, user_id)
);
-- For the deletion of a user.
CREATE INDEX bbtoken_notice_copies_user ON bbtoken_notice_copies (user_id);

UPDATE bbtoken_schema SET version = 33;
