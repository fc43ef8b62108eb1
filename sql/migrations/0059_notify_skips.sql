-- Migration 59: a change commits while PostgreSQL's NOTIFY queue is more
-- than half full, and httpd's caches forget everything instead.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- The queue is the cluster's, and any role that may log in can fill it (a
-- LISTEN inside a transaction left open holds back its tail, and some 8 GB
-- of pg_notify fill it).  Full, it failed every transaction that notifies
-- at its COMMIT: a revocation failed and the token stayed valid, a user
-- could not be disabled nor a grant lowered.
--
-- Now bbtoken_notify() sends nothing once the queue is at
-- bbtoken_notify_skips.at_usage (half full) or more, and adds one to
-- bbtoken_notify_skips.n instead, once per transaction.  httpd's listener
-- reads n with every heartbeat, as part of the tables' identity
-- (mod_bbtoken/bbt_listensql.h), and forgets every entry when it has
-- changed: a change whose notification was skipped is forgotten at the
-- first heartbeat whose snapshot sees its commit, within the cache's bound
-- as a notification is.  Every such transaction writes the one row, and so
-- waits for another that holds it until that one ends: while the queue is
-- that full the changes that decide access go one at a time.  httpd's
-- roles read it (sql/grants.sql, sql/grants-api.sql) and cannot lock it:
-- PostgreSQL lets a session lock a row only with UPDATE on its table.
--
-- Whether this transaction has counted already is whether the row was
-- written by a transaction in progress (its xmin), which no session can
-- fake: a setting (as bbtoken.notified) can be set by anyone in their own
-- session, and one that said "counted" would have silenced their change.
-- The function still names nothing of the schema's: it reaches the table
-- through the trigger's own schema (TG_TABLE_SCHEMA).
--
-- A module older than this one does not read n: while the queue is at
-- at_usage or more it hears nothing of changes, and serves what it holds
-- until something else notifies: load the new module with the upgrade
-- (README, Upgrading).

CREATE TABLE bbtoken_notify_skips (
    one      boolean PRIMARY KEY DEFAULT true
             CONSTRAINT bbtoken_notify_skips_one CHECK (one),
    -- The transactions that sent no notification: the queue was at
    -- at_usage or more.
    n        bigint NOT NULL DEFAULT 0,
    -- pg_notification_queue_usage() from which a change skips its
    -- notification: 1 only once the queue is full, 0 always.
    at_usage double precision NOT NULL DEFAULT 0.5
             CONSTRAINT bbtoken_notify_skips_at_usage
             CHECK (at_usage >= 0 AND at_usage <= 1)
);
REVOKE ALL ON bbtoken_notify_skips FROM PUBLIC;
INSERT INTO bbtoken_notify_skips DEFAULT VALUES;

CREATE OR REPLACE FUNCTION bbtoken_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    at_usage double precision;
    row_xmin bigint;
    top bigint;
    mine bigint;
    done boolean;
    n integer := 0;
    t1 text;
    t2 text;
    u1 text;
    u2 text;
BEGIN
    -- at_usage, read once per transaction (a purge runs this for every
    -- row) and kept in the transaction's bbtoken.notify_at.  Whoever sets
    -- that in their own session can only make their own changes notify
    -- (and fail on a full queue, as before this version) or skip and
    -- count (and have every entry forgotten): never skip uncounted.
    at_usage := NULLIF(current_setting('bbtoken.notify_at', true), '')
                ::double precision;
    IF at_usage IS NULL THEN
        -- Read where the trigger's table is: this function names nothing
        -- of the schema's (its search_path, below).
        EXECUTE format('SELECT at_usage FROM %I.bbtoken_notify_skips',
                       TG_TABLE_SCHEMA)
            INTO at_usage;
        PERFORM set_config('bbtoken.notify_at',
                           COALESCE(at_usage, 2)::text, true);
    END IF;
    IF pg_notification_queue_usage() >= at_usage THEN
        EXECUTE format('SELECT xmin::text::bigint '
                       'FROM %I.bbtoken_notify_skips', TG_TABLE_SCHEMA)
            INTO row_xmin;
        -- Counted once per transaction: not again when the row as this
        -- statement saw it was written by a transaction still in progress,
        -- which can only be this one (another's is not seen before it
        -- commits), in any of its subtransactions but one rolled back.
        -- Its xmin has 32 bits: taken as the first of its values from this
        -- transaction's on (this one's and its subtransactions' come
        -- after it); one that is none yet (a row untouched for two
        -- billion transactions) is not this one's either.
        top := pg_current_xact_id()::text::bigint;
        mine := top + (row_xmin - top % 4294967296 + 4294967296) % 4294967296;
        BEGIN
            done := pg_xact_status(mine::text::xid8) = 'in progress';
        EXCEPTION WHEN invalid_parameter_value THEN
            done := false;
        END;
        IF done IS NOT TRUE THEN
            EXECUTE format('UPDATE %I.bbtoken_notify_skips SET n = n + 1',
                           TG_TABLE_SCHEMA);
        END IF;
        RETURN NULL;
    END IF;
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

UPDATE bbtoken_schema SET version = 59;
