-- Least privilege for the role httpd connects as (mod_dbd's DBDParams user).
-- It reads tokens, users, grants and the policy, and writes nothing directly: last use
-- and expired-token refusals go through two SECURITY DEFINER functions that
-- write at most once per interval per token and only the columns (and audit
-- records) they are for; the REST API creates, updates and revokes tokens
-- through three more that check who may manage whose tokens.  Run it again
-- after every `bbtoken db upgrade`:
--   psql -v ON_ERROR_STOP=1 -v role=bbtoken_httpd -f sql/grants.sql
GRANT USAGE ON SCHEMA public TO :"role";
GRANT SELECT ON bbtoken_users, bbtoken_project_grants, bbtoken_repo_grants,
                bbtoken_tokens, bbtoken_schema, bbtoken_policy TO :"role";
-- The previous release let httpd update last_authenticated itself.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON bbtoken_tokens FROM :"role";
GRANT EXECUTE ON FUNCTION bbtoken_owner_level(bigint, text, text),
                          bbtoken_owner_levels(bbtoken_users, text, text),
                          bbtoken_perm_level(text),
                          bbtoken_touch(text, text, integer),
                          bbtoken_note_expired(text, text, integer),
                          bbtoken_api_create(text, text, text, text, text,
                                             text, text, text, integer),
                          bbtoken_api_update(text, text, text, text, text,
                                             text),
                          bbtoken_api_revoke(text, text, text)
                          TO :"role";
