-- Migration 43: bbtoken_lookup stays true through two hand edits made
-- under session_replication_role = replica, where what ordered them was an
-- ordinary trigger that does not fire then.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- A user deleted.  The foreign keys' cascades are triggers that fire for
-- ordinary sessions only: under replica the user's tokens stay, and so did
-- their lookup rows, as live as before (the tokens' delete trigger, which
-- fires always, had no delete to see).  Now a trigger on the users' deletes,
-- firing always, writes the deleted users' tokens' rows again.  With the
-- cascade (any ordinary session) the tokens are gone by then and it writes
-- nothing; under replica each such token's row is what the tables give, a
-- personal token without an owner, which httpd refuses (503, BBT081) until
-- the token is deleted too.
--
-- A token inserted while another session changes its owner or the owner's
-- grants.  Such a change writes the rows of the tokens it sees, and a token
-- not yet committed is not one of them; what orders the two is the owner's
-- row, which the new token's policy trigger takes FOR NO KEY UPDATE, and a
-- change of the user (its UPDATE) or of its grants (FOR SHARE, migration
-- 26) takes too.  That trigger fires for ordinary sessions only, so under
-- replica the insert's lookup row could be computed from the owner or the
-- grants as before a change that committed after they were read.  Now the
-- lookup trigger of an insert takes the new tokens' owners FOR NO KEY
-- UPDATE (lowest id first), as the policy trigger does, before their rows
-- are computed: a change waits for the insert to commit and then sees its
-- token, or the insert waits for the change and then reads it.  In an
-- ordinary session the policy trigger holds the owner already, and this
-- takes nothing more.

CREATE FUNCTION bbtoken_lookup_users_del() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    PERFORM bbtoken_lookup_users(ARRAY(SELECT id FROM lookup_old
                                        ORDER BY id), false);
    RETURN NULL;
END
$$;

CREATE TRIGGER bbtoken_users_lookup_del AFTER DELETE ON bbtoken_users
    REFERENCING OLD TABLE AS lookup_old
    FOR EACH STATEMENT EXECUTE FUNCTION bbtoken_lookup_users_del();
ALTER TABLE bbtoken_users ENABLE ALWAYS TRIGGER bbtoken_users_lookup_del;

-- As migration 26's, with the new tokens' owners taken first.
CREATE OR REPLACE FUNCTION bbtoken_lookup_tokens() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM 1 FROM bbtoken_users
          WHERE id IN (SELECT user_id FROM lookup_new)
          ORDER BY id FOR NO KEY UPDATE;
        PERFORM bbtoken_lookup_write(ARRAY(SELECT id FROM lookup_new
                                            ORDER BY id));
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM bbtoken_lookup_write(ARRAY(SELECT id FROM lookup_new
                                           UNION SELECT id FROM lookup_old
                                           ORDER BY 1));
    ELSE
        PERFORM bbtoken_lookup_write(ARRAY(SELECT id FROM lookup_old
                                            ORDER BY id));
    END IF;
    RETURN NULL;
END
$$;

-- As migration 26's triggers' functions: the schema's own objects first,
-- whatever the caller's search_path, and no role may call them but the
-- triggers (CREATE OR REPLACE drops the setting; privileges stay).
DO $$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY['bbtoken_lookup_users_del()',
                             'bbtoken_lookup_tokens()']
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f,
                       current_schema());
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$$;

UPDATE bbtoken_schema SET version = 43;
