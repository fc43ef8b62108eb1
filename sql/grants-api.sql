-- The API role: the role the access-tokens REST API connects as (DBDParams
-- of the one virtual host that serves the API and the tokens page).  Grant
-- it only there: whoever can connect as this role can create, rename and
-- revoke any user's tokens, in that user's name, through the three
-- SECURITY DEFINER functions below (they check who may manage whose tokens
-- for the caller httpd names, and cannot check that httpd named the right
-- one), and any project's and repository's tokens (and whether a project's
-- repository admins may manage theirs) through five more, which check that
-- the caller administers the project or repository; and rotate a token
-- (bbtoken_api_rotate: its owner, or its project's or repository's
-- admins, in the caller's name).  It also reads what the API shows
-- (users, tokens, the policy, the projects' settings) and what a token
-- sent to the API is checked with, as the lookup role does
-- (sql/grants.sql), and which places' tokens a user may manage
-- (bbtoken_may_manage, the rule bbtoken_api_may applies, for the list of
-- them), and writes nothing directly.  Run it again after every
-- `bbtoken db upgrade`:
--   psql -v ON_ERROR_STOP=1 -v role=bbtoken_api -f sql/grants-api.sql
-- CONNECT on the database, its roles' alone, and USAGE on the tables'
-- schema (grants-connect.sql).
\ir grants-connect.sql
GRANT SELECT ON bbtoken_users, bbtoken_project_grants, bbtoken_repo_grants,
                bbtoken_tokens, bbtoken_schema, bbtoken_policy,
                bbtoken_projects, bbtoken_token_nets,
                bbtoken_lookup TO :"role";
-- What the cache's listener reads with its heartbeat (version 59), where
-- this role's server has the cache on, as the lookup role does.
GRANT SELECT ON bbtoken_notify_skips TO :"role";
-- Nothing on the rows the owner's code locks (a role that could lock one
-- could stop `bbtoken notify`, or a project's new tokens), nor on the
-- reasons revoke-by-value gives its revocations.
REVOKE ALL ON bbtoken_locks, bbtoken_revoke_reasons FROM :"role";
GRANT EXECUTE ON FUNCTION bbtoken_owner_level(bigint, text, text),
                          bbtoken_owner_levels(bbtoken_users, text, text),
                          bbtoken_may_manage(bbtoken_users, text, text),
                          bbtoken_perm_level(text),
                          bbtoken_level_order(integer),
                          bbtoken_touch(text, text, integer),
                          bbtoken_note_expired(text, text, integer),
                          bbtoken_note_net(text, text, text),
                          bbtoken_api_set_nets(text, text, text, text,
                                               text, text),
                          bbtoken_api_create(text, text, text, text, text,
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
                          bbtoken_api_leak_throttle(text, integer, integer),
                          bbtoken_api_revoke_leaked(text, text[], text[]),
                          bbtoken_api_rotate(text, text, text, text, text,
                                             text, text, text)
                          TO :"role";
