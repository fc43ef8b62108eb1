-- Migration 36: a lookup row's packed column is computed by one SQL
-- function run, not ten.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- A bulk revocation of 1,000 tokens spent most of its time in the lookup
-- trigger (bbtoken_lookup_write, migration 26), and not in what it reads:
-- the tokens by their primary key, the owners by a hash of bbtoken_users
-- (a few milliseconds; from the sixth batch of a session, PL/pgSQL's
-- generic plan, by index).  The time went to bbtoken_lookup_pack
-- (migration 27), which the stored column packed runs for each row
-- written, twice in an upsert (the row proposed, then the row updated).
-- Its nine calls of bbtoken_lookup_text each ran through the function
-- manager, an executor set up and torn down per call: PostgreSQL inlines
-- a SQL function only when nothing in its body is less immutable than the
-- function, and getdatabaseencoding() and convert_to() are STABLE.
-- Declared STABLE, bbtoken_lookup_text is inlined into
-- bbtoken_lookup_pack's body where that is planned, once per statement.
-- Its body, and so every packed text, stays the same; bbtoken_lookup_pack
-- stays IMMUTABLE (a generated column's expression must be), with its
-- search_path.  On bench/bigsite.sql (100,000 tokens), 1,000 rows' packs
-- took 33 ms instead of 341 ms, and the trigger's write of a 1,000-token
-- revocation 100 ms instead of 448 (the fastest of five runs each, on 2
-- shared cores: README, The CLI: bbtoken).
ALTER FUNCTION bbtoken_lookup_text(text) STABLE;

UPDATE bbtoken_schema SET version = 36;
