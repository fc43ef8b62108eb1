-- Least privilege for the lookup role: the role httpd's token requests
-- connect as (DBDParams of every server or virtual host that serves
-- repositories).  It reads tokens, their owners and grants (and
-- bbtoken_lookup, the row per token the schema derives from them), and
-- writes nothing directly: last use and expired-token refusals go through two
-- SECURITY DEFINER functions that write at most once per interval per token
-- and only the columns (and audit records) they are for.  It cannot create,
-- change or revoke a token: that is the API role's (sql/grants-api.sql),
-- granted only where the access-tokens REST API is served.  Run it again
-- after every `bbtoken db upgrade`:
--   psql -v ON_ERROR_STOP=1 -v role=bbtoken_httpd -f sql/grants.sql
-- CONNECT on the database, its roles' alone, and USAGE on the tables'
-- schema (grants-connect.sql).
\ir grants-connect.sql
GRANT SELECT ON bbtoken_users, bbtoken_project_grants, bbtoken_repo_grants,
                bbtoken_tokens, bbtoken_schema, bbtoken_token_nets,
                bbtoken_lookup TO :"role";
-- What the cache's listener reads with its heartbeat (version 59): how
-- many changes sent no notification, the NOTIFY queue being full.
GRANT SELECT ON bbtoken_notify_skips TO :"role";
-- The first release let httpd update last_authenticated itself; earlier
-- grants gave this role the REST API's functions and the policy too.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON bbtoken_tokens FROM :"role";
REVOKE ALL ON bbtoken_policy FROM :"role";
REVOKE EXECUTE ON FUNCTION bbtoken_api_create(text, text, text, text, text,
                                              text, text, text, integer,
                                              text),
                           bbtoken_api_update(text, text, text, text, text,
                                              text),
                           bbtoken_api_revoke(text, text, text),
                           bbtoken_api_may(text, text, text),
                           bbtoken_api_scope_create(text, text, text, text,
                                                    text, text, text, text,
                                                    text, integer, text),
                           bbtoken_api_scope_update(text, text, text, text,
                                                    text, text, text),
                           bbtoken_api_scope_revoke(text, text, text, text),
                           bbtoken_api_project_set(text, text, boolean),
                           bbtoken_api_rotate(text, text, text, text, text,
                                              text, text, text),
                           bbtoken_api_set_nets(text, text, text, text, text,
                                                text),
                           bbtoken_api_leak_throttle(text, integer, integer),
                           bbtoken_api_revoke_leaked(text, text[], text[])
                           FROM :"role";
REVOKE ALL ON bbtoken_projects FROM :"role";
-- Nothing on the rows the owner's code locks (a role that could lock one
-- could stop `bbtoken notify`, or a project's new tokens), nor on the
-- reasons revoke-by-value gives its revocations.
REVOKE ALL ON bbtoken_locks, bbtoken_revoke_reasons FROM :"role";
GRANT EXECUTE ON FUNCTION bbtoken_owner_level(bigint, text, text),
                          bbtoken_owner_levels(bbtoken_users, text, text),
                          bbtoken_owner_level_of(bbtoken_users, text, text),
                          bbtoken_perm_level(text),
                          bbtoken_level_order(integer),
                          bbtoken_touch(text, text, integer),
                          bbtoken_note_expired(text, text, integer),
                          bbtoken_note_net(text, text, text)
                          TO :"role";
