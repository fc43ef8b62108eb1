-- Migration 18: only the schema's owner creates objects in it.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- The SECURITY DEFINER functions run as their owner with this schema and
-- pg_temp as their search_path (migration 2 on).  A function or operator
-- made in this schema by anyone else, with argument types closer to a
-- call's than pg_catalog's, is called in its place, as that owner:
-- bbtoken_touch's make_interval(secs => integer) would call a
-- make_interval(secs integer) made here, so whoever may create here may
-- do what the owner may (grant themself the tables).  PostgreSQL 14 and
-- earlier let PUBLIC create in schema public, and pg_upgrade keeps that:
-- every role, httpd's two among them.  PostgreSQL 15 made it the
-- database owner's alone, so there this changes nothing.
--
-- Only the schema's owner (or a superuser) may take it from PUBLIC;
-- anyone else gets a warning and nothing changes, so the upgrade stops
-- and says what to run.

DO $$
BEGIN
    EXECUTE format('REVOKE CREATE ON SCHEMA %I FROM PUBLIC', current_schema());
    IF has_schema_privilege('public', current_schema(), 'CREATE') THEN
        RAISE EXCEPTION 'every role may create objects in schema %, where the SECURITY DEFINER functions look: as its owner or a superuser, run REVOKE CREATE ON SCHEMA % FROM PUBLIC, then upgrade again',
            current_schema(), quote_ident(current_schema());
    END IF;
END
$$;

UPDATE bbtoken_schema SET version = 18;
