-- Included by grants.sql and grants-api.sql (psql's \ir), with their
-- role in :role: what both roles need to reach the tables at all.
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
-- The schema the tables are in, as the search path finds them: public,
-- or one of the site's own, whatever its name ("BBT", "Tok-Ens").
-- Nothing of its own in it: a function made there could stand in for one
-- the SECURITY DEFINER functions call, and run as their owner.
SELECT format('GRANT USAGE ON SCHEMA %I TO %I', n.nspname, :'role'),
       format('REVOKE CREATE ON SCHEMA %I FROM %I', n.nspname, :'role')
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.oid = 'bbtoken_schema'::regclass
\gexec
