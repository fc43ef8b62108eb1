-- Migration 4 is the token cache's (its NOTIFY triggers), made on another
-- branch.  This file stands in for it so that 0005 applies in order; the
-- merge replaces it with the real one.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.

UPDATE bbtoken_schema SET version = 4;
