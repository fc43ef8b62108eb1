-- Least privilege for the role httpd connects as (mod_dbd's DBDParams user).
-- It reads tokens, users and grants, and writes only last_authenticated.
--   psql -v ON_ERROR_STOP=1 -v role=bbtoken_httpd -f sql/grants.sql
GRANT USAGE ON SCHEMA public TO :"role";
GRANT SELECT ON bbtoken_users, bbtoken_project_grants, bbtoken_repo_grants,
                bbtoken_tokens, bbtoken_schema TO :"role";
GRANT UPDATE (last_authenticated) ON bbtoken_tokens TO :"role";
GRANT EXECUTE ON FUNCTION bbtoken_owner_level(bigint, text, text),
                          bbtoken_perm_level(text) TO :"role";
