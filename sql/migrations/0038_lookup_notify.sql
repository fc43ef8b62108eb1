-- Migration 38: a change of bbtoken_lookup that decides access notifies
-- httpd's caches, whatever wrote it.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- httpd's entries are made from bbtoken_lookup's rows, and the triggers on
-- the four tables it derives from (migration 4) notify each change there.
-- A row may also change with nothing notifying: after a change made while
-- the lookup's triggers were off (BBT720), the row says less than the live
-- tables, and the next write of the token that notifies nothing (a last
-- use, a new address group, both httpd's) writes the row again from them,
-- a revocation or a lowered grant included.  Then the lookup refuses the
-- token, while an entry made from the old row lets it in until some other
-- change notifies, and `bbtoken db check` finds nothing left to repair
-- (t/82-cache-lookup-heal).  A hand edit of the table, or a restore of it,
-- is such a change too.  So the table's own rows notify: inserted,
-- deleted, truncated, or updated in a column that decides access.  The
-- last-use columns (last_use_us, refused_us) and seen_nets decide
-- nothing, and httpd writes them: those never notify, or every node's
-- cache would be emptied once an interval per token in use.  packed is
-- made from the other columns.
--
-- Row triggers: a last use's write (INSERT ... ON CONFLICT DO UPDATE) runs
-- none, its DELETE deletes no row and its update changes only those
-- columns, so the one cost on httpd's path is the WHEN below.  What a
-- change notifies is folded into one notification per transaction by
-- PostgreSQL (the payload is the table's name).  ENABLE ALWAYS, as the
-- other notifying triggers.

CREATE TRIGGER bbtoken_lookup_notify_row AFTER INSERT OR DELETE
    ON bbtoken_lookup FOR EACH ROW EXECUTE FUNCTION bbtoken_notify();
CREATE TRIGGER bbtoken_lookup_notify_upd AFTER UPDATE ON bbtoken_lookup
    FOR EACH ROW WHEN ((OLD.id, OLD.salt, OLD.secret_hash, OLD.token_name,
                        OLD.user_name, OLD.user_active, OLD.project_perm,
                        OLD.repo_perm, OLD.revoked, OLD.user_id,
                        OLD.expires_us, OLD.project_key, OLD.repo_slug,
                        OLD.allowed_nets, OLD.levels)
                       IS DISTINCT FROM
                       (NEW.id, NEW.salt, NEW.secret_hash, NEW.token_name,
                        NEW.user_name, NEW.user_active, NEW.project_perm,
                        NEW.repo_perm, NEW.revoked, NEW.user_id,
                        NEW.expires_us, NEW.project_key, NEW.repo_slug,
                        NEW.allowed_nets, NEW.levels))
    EXECUTE FUNCTION bbtoken_notify();
CREATE TRIGGER bbtoken_lookup_notify_truncate AFTER TRUNCATE ON bbtoken_lookup
    FOR EACH STATEMENT EXECUTE FUNCTION bbtoken_notify();

ALTER TABLE bbtoken_lookup ENABLE ALWAYS TRIGGER bbtoken_lookup_notify_row;
ALTER TABLE bbtoken_lookup ENABLE ALWAYS TRIGGER bbtoken_lookup_notify_upd;
ALTER TABLE bbtoken_lookup
    ENABLE ALWAYS TRIGGER bbtoken_lookup_notify_truncate;

UPDATE bbtoken_schema SET version = 38;
