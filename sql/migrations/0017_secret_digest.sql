-- Migration 17: the SHA-256 of each token's hash, kept on the token's row
-- for httpd's lookup.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
--   bbtoken_tokens.secret_digest  hex SHA-256 of secret_hash, kept by the
--                                 database (a stored generated column)
--
-- httpd's lookup never sends a token's hash, which statement logging would
-- write out, but the SHA-256 of the hash it computed (mod_bbtoken/bbt_db.c),
-- and PostgreSQL computed the stored hash's digest on every lookup that
-- passed the cheap tests: about a seventh of the statement's time (pgbench,
-- 4 clients: 11-19% more lookups a second with the column).  A digest of
-- the hash tells nothing the hash beside it does not.  Only a well-formed
-- hash has one, so a malformed one still meets the column's own CHECK
-- rather than decode()'s error.  No NOTIFY: the column changes only with
-- secret_hash, and bbtoken_tokens_notify_upd names that.

ALTER TABLE bbtoken_tokens ADD COLUMN secret_digest text
    GENERATED ALWAYS AS (
        CASE WHEN secret_hash ~ '^[0-9a-f]{64}$'
             THEN encode(sha256(decode(secret_hash, 'hex')), 'hex') END)
    STORED;

UPDATE bbtoken_schema SET version = 17;
