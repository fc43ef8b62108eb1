-- Migration 31: indexes in the order of the admin's REST lists.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- A page of a list is LIMIT and OFFSET over its ORDER BY.  Without an
-- index in that order, PostgreSQL builds the whole list and sorts it for
-- every page; with one, it reads the index from the start and stops after
-- start + limit entries.  Paging stays Bitbucket's start as an offset,
-- which clients compute themselves as well as pass back.

-- The inventory (bbt_inventory.c), by holder, then oldest first: a user's
-- live tokens in creation order, reached user by user in name order (the
-- users' name index, version 29), and the live tokens of projects and
-- repositories in the order of their holder's name.
CREATE INDEX bbtoken_tokens_live_user ON bbtoken_tokens (user_id, created_at, id)
    WHERE revoked_at IS NULL AND user_id IS NOT NULL;
CREATE INDEX bbtoken_tokens_live_scope
    ON bbtoken_tokens (bbtoken_scope_name(project_key, repo_slug), created_at, id)
    WHERE revoked_at IS NULL AND user_id IS NULL;

-- A global admin's places (bbt_rest_places.c), by key and slug in
-- byte order (COLLATE "C", whatever the database's collation): every
-- project and repository the grants, the projects' settings and the
-- tokens name, walked in that order, the next place after the last by
-- one probe of each index.
CREATE INDEX bbtoken_project_grants_key_c
    ON bbtoken_project_grants (project_key COLLATE "C");
CREATE INDEX bbtoken_repo_grants_place_c
    ON bbtoken_repo_grants (project_key COLLATE "C", repo_slug COLLATE "C");
CREATE INDEX bbtoken_projects_key_c ON bbtoken_projects (project_key COLLATE "C");
CREATE INDEX bbtoken_tokens_project_c ON bbtoken_tokens (project_key COLLATE "C")
    WHERE project_key IS NOT NULL;
CREATE INDEX bbtoken_tokens_repo_c
    ON bbtoken_tokens (project_key COLLATE "C", repo_slug COLLATE "C")
    WHERE repo_slug IS NOT NULL;

UPDATE bbtoken_schema SET version = 31;
