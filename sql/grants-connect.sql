-- Included by grants.sql and grants-api.sql (psql's \ir), with their
-- role in :role.
--
-- The database is its roles' alone: any role of the cluster may connect
-- to a database PUBLIC may, LISTEN on the module's channel (every token id
-- and user id as it changes) and NOTIFY on it (each empties every
-- server's cache).  The owner and superusers keep their access; another
-- role that needs the database (a monitor, an administrator's own) is
-- given CONNECT by hand.
SELECT format('REVOKE CONNECT ON DATABASE %I FROM PUBLIC', current_database())
\gexec
SELECT format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), :'role')
\gexec
-- A role that does not own the database gets a warning, not an error, for
-- the REVOKE, and PUBLIC keeps its CONNECT: said as an error here.
DO $$
BEGIN
    IF has_database_privilege('public', current_database(), 'CONNECT') THEN
        RAISE EXCEPTION 'PUBLIC may still connect to database %: run this '
                        'file as the database''s owner or a superuser',
                        current_database();
    END IF;
END
$$;
