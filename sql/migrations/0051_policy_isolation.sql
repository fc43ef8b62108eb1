-- Migration 51: a token is created under READ COMMITTED only.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- The token policy's limit (bbtoken_tokens_policy) takes the holder's lock
-- and then counts the holder's live tokens.  Under READ COMMITTED the count
-- is read after the lock, so it sees a token a concurrent creation has just
-- committed.  Under REPEATABLE READ or SERIALIZABLE it is read in the
-- snapshot the transaction took before the wait and misses that token: two
-- sessions each made one past the limit.  SERIALIZABLE does not save it,
-- since PostgreSQL finds such conflicts only between two SERIALIZABLE
-- transactions, and the module and the CLI create tokens under READ
-- COMMITTED whatever the database's default.  So a hand-made session (the
-- API role's, an administrator's psql) that asks for another level is
-- refused.  A trigger of its own, named to fire before the policy's
-- (PostgreSQL fires a table's triggers of one kind in order of name), so
-- the refusal says why instead of counting wrong.

CREATE FUNCTION bbtoken_tokens_isolation() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'a token is created under READ COMMITTED only: the token policy counts the holder''s live tokens, which the snapshot of a transaction under % does not show as they are',
            upper(current_setting('transaction_isolation'))
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    RETURN NEW;
END
$$;

DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION bbtoken_tokens_isolation() SET search_path = %I, pg_temp',
                   current_schema());
END
$$;
REVOKE ALL ON FUNCTION bbtoken_tokens_isolation() FROM PUBLIC;

CREATE TRIGGER bbtoken_tokens_isolation_ins BEFORE INSERT ON bbtoken_tokens
    FOR EACH ROW EXECUTE FUNCTION bbtoken_tokens_isolation();

UPDATE bbtoken_schema SET version = 51;
