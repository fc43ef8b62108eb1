-- Migration 39: a grant changed on a logical replica notifies httpd's
-- caches there too.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- The grant tables notify from statement triggers (migration 4), and
-- PostgreSQL's logical replication apply worker fires row triggers only.
-- On a subscriber, a grant removed or lowered was heard only through the
-- rows of bbtoken_lookup it rewrites (migration 38).  An owner with more
-- grants than a level map holds (bbtoken_lookup_grants_max) has no map in
-- those rows: httpd asks the grant tables for the level, and a grant of
-- that owner changed rewrites nothing of bbtoken_lookup.  Such an owner's
-- level stayed in the subscriber's caches after the grant was gone, until
-- some other change notified (t/82-cache-logical).  So each grant row
-- notifies as well.  PostgreSQL folds identical notifications within a
-- transaction, so the statement's and the rows' are one; the statement
-- triggers stay, for TRUNCATE, which has no row trigger.  ENABLE ALWAYS,
-- as the other notifying triggers.

CREATE TRIGGER bbtoken_project_grants_notify_row
    AFTER INSERT OR UPDATE OR DELETE ON bbtoken_project_grants
    FOR EACH ROW EXECUTE FUNCTION bbtoken_notify();
CREATE TRIGGER bbtoken_repo_grants_notify_row
    AFTER INSERT OR UPDATE OR DELETE ON bbtoken_repo_grants
    FOR EACH ROW EXECUTE FUNCTION bbtoken_notify();

ALTER TABLE bbtoken_project_grants
    ENABLE ALWAYS TRIGGER bbtoken_project_grants_notify_row;
ALTER TABLE bbtoken_repo_grants
    ENABLE ALWAYS TRIGGER bbtoken_repo_grants_notify_row;

UPDATE bbtoken_schema SET version = 39;
