-- Migration 13: a token's address groups on its own row, for the lookup.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
--   bbtoken_tokens.seen_nets  the groups of bbtoken_token_nets for the
--                             token, first seen first, kept by a trigger
--                             on that table (bbtoken_token_nets stays the
--                             record, with first_seen and first_addr)
--
-- httpd's token lookup runs on every request its cache does not answer,
-- and aggregating bbtoken_token_nets there (a subquery with its own
-- aggregate and sort, started afresh on each execution) cost PostgreSQL
-- more than reading the token and owner rows; now the lookup reads the
-- groups with the token row.  No NOTIFY: bbtoken_tokens_notify_upd does not
-- name the column, as new address groups never notified.

ALTER TABLE bbtoken_tokens ADD COLUMN seen_nets cidr[] NOT NULL DEFAULT '{}';

-- Token p_id's seen_nets from bbtoken_token_nets.  The row lock first and
-- the groups read after it, in a statement of their own: a concurrent
-- change to the token's groups has committed by the time the lock is held,
-- and the read's snapshot sees it, so the last writer's array is whole.
CREATE FUNCTION bbtoken_token_nets_sync(p_id text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    PERFORM 1 FROM bbtoken_tokens WHERE id = p_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    UPDATE bbtoken_tokens
       SET seen_nets = ARRAY(SELECT n.net FROM bbtoken_token_nets n
                              WHERE n.token_id = p_id
                              ORDER BY n.first_seen, n.net)
     WHERE id = p_id;
END
$$;

-- Whoever writes bbtoken_token_nets (bbtoken_note_net, an administrator,
-- a token's deletion), the row follows.
CREATE FUNCTION bbtoken_token_nets_keep() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM bbtoken_token_nets_sync(OLD.token_id);
    END IF;
    IF TG_OP = 'INSERT'
       OR (TG_OP = 'UPDATE' AND NEW.token_id IS DISTINCT FROM OLD.token_id) THEN
        PERFORM bbtoken_token_nets_sync(NEW.token_id);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER bbtoken_token_nets_keep
    AFTER INSERT OR UPDATE OR DELETE ON bbtoken_token_nets
    FOR EACH ROW EXECUTE FUNCTION bbtoken_token_nets_keep();
ALTER TABLE bbtoken_token_nets ENABLE ALWAYS TRIGGER bbtoken_token_nets_keep;

UPDATE bbtoken_tokens t
   SET seen_nets = ARRAY(SELECT n.net FROM bbtoken_token_nets n
                          WHERE n.token_id = t.id
                          ORDER BY n.first_seen, n.net)
 WHERE EXISTS (SELECT 1 FROM bbtoken_token_nets n WHERE n.token_id = t.id);

DO $$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY['bbtoken_token_nets_sync(text)',
                             'bbtoken_token_nets_keep()']
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f,
                       current_schema());
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$$;

UPDATE bbtoken_schema SET version = 13;
