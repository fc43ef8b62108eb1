-- Migration 28: the owner's trigger functions run for its triggers alone;
-- a rule read outside its caller's plan takes a snapshot of its own.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- Trigger functions.  PostgreSQL lets PUBLIC EXECUTE a new function, and
-- any role may make a temporary table and put a trigger on it that runs a
-- trigger function it may EXECUTE.  A SECURITY DEFINER one then runs as
-- the schema's owner on rows the role wrote: through
-- bbtoken_users_personal_revoke the lookup role (or the API role) revoked
-- every token of a personal project and deleted the others' grants on it
-- and its settings (or moved them to another user's, by an UPDATE of
-- name), and through bbtoken_users_lock_tokens and bbtoken_tokens_personal
-- it held a user's tokens or row locked for as long as it liked.  Every
-- other SECURITY DEFINER function of the schema had PUBLIC's EXECUTE taken
-- when it was made; migrations 21 and 24 made these three without.  A
-- trigger fires whatever the EXECUTE privilege says: the schema's own
-- triggers keep working.
--
-- Fresh reads.  A rewritten table (ALTER TABLE that writes every row
-- anew, as migration 23 did to the grant tables) looks empty to a
-- snapshot taken before the rewrite committed.  A statement locks the
-- tables its plan names before it takes its snapshot; a STABLE function
-- reads with its caller's snapshot the tables it locks only as it runs,
-- which a caller waiting for a migration's lock took before the wait.
-- PL/pgSQL's plans, kept for the session as a pooled connection's are,
-- name none of a function's tables: bbtoken_api_may's call of
-- bbtoken_may_manage so read an empty bbtoken_projects as "a repository's
-- admins may manage its tokens" (no row says yes), and let a repository's
-- admin, where its project lets only its admins, list the repository's
-- tokens, or create or revoke one where the change's own check waited so;
-- and it read empty grant tables as no level, refusing a project's
-- admins.  bbtoken_owner_level_map, by which the lookup's triggers write
-- an owner's levels into each of their tokens' rows in bbtoken_lookup, so
-- wrote them without the grants, and every such token was refused its
-- owner's projects until the next change to the owner.  A VOLATILE
-- function takes a snapshot of its own after it has locked what it reads
-- (t/30-upgrade-rest).  Likewise the two older level functions,
-- bbtoken_owner_level and bbtoken_owner_level_of (the previous release's
-- lookup, which refused good tokens so: README, Upgrading).
-- bbtoken_owner_levels and bbtoken_lookup_rows stay STABLE: a statement's
-- plan takes them in whole, tables and all, which only a STABLE function
-- allows.

DO $$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY['bbtoken_users_personal_revoke()',
                             'bbtoken_users_lock_tokens()',
                             'bbtoken_tokens_personal()']
    LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$$;

ALTER FUNCTION bbtoken_may_manage(bbtoken_users, text, text) VOLATILE;
ALTER FUNCTION bbtoken_owner_level_map(bbtoken_users) VOLATILE;
ALTER FUNCTION bbtoken_owner_level(bigint, text, text) VOLATILE;
ALTER FUNCTION bbtoken_owner_level_of(bbtoken_users, text, text) VOLATILE;

UPDATE bbtoken_schema SET version = 28;
