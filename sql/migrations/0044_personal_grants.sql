-- Migration 44: a grant on a personal project only while its owner exists.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- Migration 21 ends other users' grants on ~name and its repositories with
-- their owner (deleted, or renamed), so that bob's grant on the old
-- alice's project does not open the new alice's to him.  A grant made on
-- ~name while no user had the name was taken all the same, and opened the
-- project of whoever was given the name later (`bbtoken grant bob
-- PROJECT_READ ~nobody`, then `bbtoken user add nobody`); and a grant made
-- while the owner was being deleted or renamed in another transaction was
-- not yet there for that transaction's trigger to delete, and survived it
-- the same way.  Now a grant on a personal project is refused unless its
-- owner exists, and takes the owner's row FOR SHARE until it commits, as a
-- personal project's token and settings do (migrations 21 and 22): a
-- deletion or a rename waits for the grant and then deletes it, or comes
-- first and the grant is refused.  `bbtoken grant` takes its grantee FOR
-- SHARE first, then the owner; a plain INSERT the owner (this trigger,
-- before the row), then the grantee (the lookup's trigger, after the
-- statement).  A deletion of the owner takes the owner, then the grantees
-- FOR SHARE, which does not conflict with the grant's share of its
-- grantee; one transaction that deletes both the owner and the grantee can
-- meet the grant the other way round, and PostgreSQL then aborts one of
-- the two (40P01; the CLI runs it again).
--
-- Grants on a personal project without a user, left by such a grant or a
-- race, are removed here (audited "ungranted", announced as every grant
-- change is), as migration 21 removed those of its time.
--
-- Ordinary triggers (not ALWAYS), as migration 21's: a logical replica's
-- apply takes the publisher's grants as they are.

SET LOCAL bbtoken.source = 'upgrade';

-- The grantees of the grants removed below, lowest id first, before the
-- triggers take the grants tables: a deletion of one of them holds its row
-- and then needs those tables for its cascade, and the removal's lookup
-- trigger would take its row after them (as migration 35 orders it).
DO $$
BEGIN
    PERFORM 1 FROM bbtoken_users
      WHERE id IN (SELECT g.user_id FROM bbtoken_project_grants g
                    WHERE g.project_key LIKE '~%'
                      AND NOT EXISTS (SELECT 1 FROM bbtoken_users u
                                       WHERE lower(u.name)
                                             = substr(g.project_key, 2))
                   UNION
                   SELECT g.user_id FROM bbtoken_repo_grants g
                    WHERE g.project_key LIKE '~%'
                      AND NOT EXISTS (SELECT 1 FROM bbtoken_users u
                                       WHERE lower(u.name)
                                             = substr(g.project_key, 2)))
      ORDER BY id FOR SHARE;
END
$$;

CREATE TRIGGER bbtoken_project_grants_personal
    BEFORE INSERT OR UPDATE OF project_key ON bbtoken_project_grants
    FOR EACH ROW WHEN (NEW.project_key LIKE '~%')
    EXECUTE FUNCTION bbtoken_tokens_personal();
CREATE TRIGGER bbtoken_repo_grants_personal
    BEFORE INSERT OR UPDATE OF project_key ON bbtoken_repo_grants
    FOR EACH ROW WHEN (NEW.project_key LIKE '~%')
    EXECUTE FUNCTION bbtoken_tokens_personal();

DELETE FROM bbtoken_project_grants g
 WHERE g.project_key LIKE '~%'
   AND NOT EXISTS (SELECT 1 FROM bbtoken_users u
                    WHERE lower(u.name) = substr(g.project_key, 2));
DELETE FROM bbtoken_repo_grants g
 WHERE g.project_key LIKE '~%'
   AND NOT EXISTS (SELECT 1 FROM bbtoken_users u
                    WHERE lower(u.name) = substr(g.project_key, 2));

UPDATE bbtoken_schema SET version = 44;
