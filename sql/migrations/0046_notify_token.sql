-- Migration 46: a change of one token tells httpd's caches which token,
-- so that they forget that token's entries rather than all of them.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- Every notification used to name its table, and httpd forgot every entry
-- on each.  A user who changes their own tokens through the REST API over
-- and over (a rename, a permission, a create and a revoke) kept every
-- server's cache empty, and everyone's tokens went to the database while
-- it lasted.  Now the row triggers of bbtoken_tokens and bbtoken_lookup
-- say 't:' and the token's id (both ids when an update changes it), and
-- httpd forgets only the entries of tokens with that id (README, The
-- cache).  Everything else still names its table and still forgets every
-- entry: a user's row, a grant (an owner's level is shared by all their
-- tokens), a TRUNCATE, and the rows of a transaction past its first 1000
-- tokens' (a row of each table counts: about 500 tokens), which would
-- otherwise queue a notification per token (a purge of a million tokens)
-- where one does.  The count is the transaction's own setting
-- bbtoken.notified (set_config local to the transaction, and to a
-- subtransaction, rolled back with its notifications); whoever sets it
-- in their session can only make their own change notify more, or
-- everything at once, or fail.  The function names nothing of the
-- schema's (pg_catalog's alone): logical replication's apply, and a
-- restore, run it with an empty search_path.
--
-- Tokens were created and deleted with one statement trigger, which names
-- no row: bbtoken_tokens_notify is now a row trigger for INSERT and
-- DELETE, and bbtoken_tokens_notify_truncate keeps TRUNCATE, as
-- bbtoken_lookup's triggers are made (migration 38).  Both ENABLE ALWAYS,
-- as the other notifying triggers; httpd's listener counts twelve from
-- this version.
--
-- A module older than this one forgets everything on any notification, a
-- token's too; a newer one forgets everything on a table's name.

CREATE OR REPLACE FUNCTION bbtoken_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    IF TG_LEVEL = 'ROW'
       AND TG_TABLE_NAME IN ('bbtoken_tokens', 'bbtoken_lookup') THEN
        n := COALESCE(NULLIF(current_setting('bbtoken.notified', true), ''),
                      '0')::integer;
        IF n < 1000 THEN
            PERFORM set_config('bbtoken.notified', (n + 1)::text, true);
            IF TG_OP = 'INSERT' THEN
                PERFORM pg_notify('bbtoken', 't:' || NEW.id);
            ELSIF TG_OP = 'DELETE' THEN
                PERFORM pg_notify('bbtoken', 't:' || OLD.id);
            ELSE
                PERFORM pg_notify('bbtoken', 't:' || OLD.id);
                IF NEW.id IS DISTINCT FROM OLD.id THEN
                    PERFORM pg_notify('bbtoken', 't:' || NEW.id);
                END IF;
            END IF;
            RETURN NULL;
        END IF;
    END IF;
    PERFORM pg_notify('bbtoken', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

DROP TRIGGER bbtoken_tokens_notify ON bbtoken_tokens;
CREATE TRIGGER bbtoken_tokens_notify AFTER INSERT OR DELETE ON bbtoken_tokens
    FOR EACH ROW EXECUTE FUNCTION bbtoken_notify();
CREATE TRIGGER bbtoken_tokens_notify_truncate AFTER TRUNCATE ON bbtoken_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION bbtoken_notify();

ALTER TABLE bbtoken_tokens ENABLE ALWAYS TRIGGER bbtoken_tokens_notify;
ALTER TABLE bbtoken_tokens
    ENABLE ALWAYS TRIGGER bbtoken_tokens_notify_truncate;

UPDATE bbtoken_schema SET version = 46;
