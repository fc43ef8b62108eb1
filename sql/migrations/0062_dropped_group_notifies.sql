-- Migration 62: an address group a token no longer keeps notifies httpd's
-- caches, so that the group is new again on every server.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- The database keeps a token's 16 most recent address groups:
-- bbtoken_note_net drops the oldest when it keeps a 17th, and
-- bbtoken_token_nets_keep writes the token's seen_nets without it.
-- Nothing of that notified (new groups never did, migration 13), and each
-- httpd's entry for the token keeps the groups it was made with, and those
-- it writes itself.  So another server's entry still listed a group the
-- database had dropped, took the token's return from that group for a
-- known one, and never wrote it: no kept group, no new_address record, no
-- BBT601, for as long as the entry lived.  Now an update of bbtoken_tokens
-- that takes a group out of seen_nets notifies as the token's other
-- changes do ('t:' and its id, bbtoken_notify()): every cache forgets the
-- token's entries and reads its groups again.  A group added notifies
-- nothing still, nor does a last use: each group a token is used from
-- past its 16th costs one notification, and on each server one lookup of
-- that token.  A row of bbtoken_token_nets deleted by hand notifies the
-- same way.
--
-- Migration 12's trigger, with that one condition more, which reads the
-- arrays only when the row's seen_nets changed.  ENABLE ALWAYS, as
-- before.

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
                       OR OLD.revoked_at IS DISTINCT FROM NEW.revoked_at
                       OR OLD.allowed_nets IS DISTINCT FROM NEW.allowed_nets
                       OR (OLD.seen_nets IS DISTINCT FROM NEW.seen_nets
                           AND NOT NEW.seen_nets @> OLD.seen_nets))
    EXECUTE FUNCTION bbtoken_notify();
ALTER TABLE bbtoken_tokens ENABLE ALWAYS TRIGGER bbtoken_tokens_notify_upd;

UPDATE bbtoken_schema SET version = 62;
