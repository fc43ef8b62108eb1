-- Migration 29: indexes for the reads that grew with the site.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- Every request to the access-tokens API finds its caller by the exact
-- name (bbt_rest_db.c, and again inside bbtoken_api_may and the API's
-- other functions); the unique index is on lower(name), so each of those
-- read every user.
CREATE INDEX bbtoken_users_name ON bbtoken_users (name);

-- GET .../places lists, for any user, the repositories known in the
-- projects the user holds a grant on: by the repository grants and the
-- repository tokens (revoked ones too) of those projects.  Neither table
-- had an index by project, so each page read every repository grant and
-- every token of the site.
CREATE INDEX bbtoken_repo_grants_project ON bbtoken_repo_grants (project_key, repo_slug);
CREATE INDEX bbtoken_tokens_repo ON bbtoken_tokens (project_key, repo_slug)
    WHERE repo_slug IS NOT NULL;

UPDATE bbtoken_schema SET version = 29;
