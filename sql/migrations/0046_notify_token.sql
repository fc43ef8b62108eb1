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
-- cache); a row of bbtoken_lookup inserted or deleted, or changed in what
-- it says of the owner (the owner, their name, state and level map), says
-- 'u:' and the owner's id too, and httpd forgets that owner's level
-- entries, which are made from those rows.  Everything else still names
-- its table and still forgets every entry: a user's row, a grant (an
-- owner's level is shared by all their tokens), a TRUNCATE, and the rows
-- of a transaction past its first 1000 notifications (a token's row and
-- its lookup row send one or two each: some 300 to 500 tokens), which
-- would otherwise queue a notification per token (a purge of a million
-- tokens) where one does.  The count is the transaction's own setting
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
    n integer := 0;
    t1 text;
    t2 text;
    u1 text;
    u2 text;
BEGIN
    IF TG_LEVEL = 'ROW'
       AND TG_TABLE_NAME IN ('bbtoken_tokens', 'bbtoken_lookup') THEN
        n := COALESCE(NULLIF(current_setting('bbtoken.notified', true), ''),
                      '0')::integer;
    END IF;
    -- Past the bound (a purge), each row costs no more than a statement's
    -- notification.
    IF TG_LEVEL = 'ROW' AND n < 1000
       AND TG_TABLE_NAME IN ('bbtoken_tokens', 'bbtoken_lookup') THEN
        IF TG_OP = 'INSERT' THEN
            t1 := 't:' || NEW.id;
        ELSE
            t1 := 't:' || OLD.id;
            IF TG_OP = 'UPDATE' AND NEW.id IS DISTINCT FROM OLD.id THEN
                t2 := 't:' || NEW.id;
            END IF;
        END IF;
        -- The owner's level entries are made from the lookup's rows (their
        -- level map, name and state): a row of it come or gone, or changed
        -- in those, names its owner (none for a project's or a
        -- repository's token: NULL).
        IF TG_TABLE_NAME = 'bbtoken_lookup' THEN
            IF TG_OP = 'INSERT' THEN
                u1 := 'u:' || NEW.user_id;
            ELSIF TG_OP = 'DELETE' THEN
                u1 := 'u:' || OLD.user_id;
            ELSIF (OLD.user_id, OLD.user_name, OLD.user_active, OLD.levels)
                  IS DISTINCT FROM
                  (NEW.user_id, NEW.user_name, NEW.user_active, NEW.levels) THEN
                u1 := 'u:' || OLD.user_id;
                IF NEW.user_id IS DISTINCT FROM OLD.user_id THEN
                    u2 := 'u:' || NEW.user_id;
                END IF;
            END IF;
        END IF;
        n := n + 1 + (t2 IS NOT NULL)::integer + (u1 IS NOT NULL)::integer
               + (u2 IS NOT NULL)::integer;
        IF n <= 1000 THEN
            PERFORM set_config('bbtoken.notified', n::text, true);
            PERFORM pg_notify('bbtoken', t1);
            IF t2 IS NOT NULL THEN
                PERFORM pg_notify('bbtoken', t2);
            END IF;
            IF u1 IS NOT NULL THEN
                PERFORM pg_notify('bbtoken', u1);
            END IF;
            IF u2 IS NOT NULL THEN
                PERFORM pg_notify('bbtoken', u2);
            END IF;
            RETURN NULL;
        END IF;
        -- The rest of the transaction's rows go straight to the table's
        -- name.
        PERFORM set_config('bbtoken.notified', '1000', true);
    END IF;
    PERFORM pg_notify('bbtoken', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

-- Nothing of the caller's search_path: a schema before pg_catalog there
-- could hold a pg_notify of its own and silence the caller's change.
ALTER FUNCTION bbtoken_notify() SET search_path = pg_catalog, pg_temp;

DROP TRIGGER bbtoken_tokens_notify ON bbtoken_tokens;
CREATE TRIGGER bbtoken_tokens_notify AFTER INSERT OR DELETE ON bbtoken_tokens
    FOR EACH ROW EXECUTE FUNCTION bbtoken_notify();
CREATE TRIGGER bbtoken_tokens_notify_truncate AFTER TRUNCATE ON bbtoken_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION bbtoken_notify();

ALTER TABLE bbtoken_tokens ENABLE ALWAYS TRIGGER bbtoken_tokens_notify;
ALTER TABLE bbtoken_tokens
    ENABLE ALWAYS TRIGGER bbtoken_tokens_notify_truncate;

UPDATE bbtoken_schema SET version = 46;
