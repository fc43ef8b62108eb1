-- Migration 60: bbtoken_schema holds one row.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- The migrations UPDATE the table's row, and every reader takes
-- max(version), but nothing kept the table to that row: a data-only
-- restore (pg_restore --data-only) into a schema made by sql/schema.sql
-- or `bbtoken db upgrade --init` added the dump's beside the schema's own
-- and said nothing, where the one-row tables of the other migrations
-- (bbtoken_policy, bbtoken_notify_skips) refuse the dump's row.  Now so
-- does this one, and the restore says so (README, The cache: empty those
-- tables before such a restore).
--
-- A table that holds more than one row already keeps the largest
-- version's, which is the one every reader took.  The index on a
-- constant, rather than a column of its own as the other one-row tables
-- have, leaves the table's columns as they were: a dump of an earlier
-- version loads into it, and the previous release's module and CLI,
-- during an upgrade, read it as before; making it blocks no reader.

DELETE FROM bbtoken_schema
 WHERE ctid <> (SELECT ctid FROM bbtoken_schema
                 ORDER BY version DESC LIMIT 1);

CREATE UNIQUE INDEX bbtoken_schema_one ON bbtoken_schema ((true));

UPDATE bbtoken_schema SET version = 60;
