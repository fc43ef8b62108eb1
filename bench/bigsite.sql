-- A large site, made at once (bench/upgrade.pl loads it into a database
-- at an older schema version, then times `bbtoken db upgrade`): 20,000
-- users, 100,000 tokens, 50,000 grants, 1,000,000 audit records.  Plain
-- INSERT ... SELECT from generate_series, with session_replication_role
-- = replica so that the per-row triggers (policy, audit, name) do not run:
-- the policy sets created_at to now() and would refuse the expired tokens
-- a site has, and the audit trail is written here as a site's would have
-- grown.  The foreign keys' triggers do not run either: every reference
-- below is made to exist.  Reproducible: setseed, and ids from the series.
SET session_replication_role = replica;
SELECT setseed(0.27);

-- Users: 20 administrators, one in fifty disabled, most with an address.
INSERT INTO bbtoken_users (name, active, is_admin, created_at, email, display_name)
SELECT 'user' || i, i % 50 <> 0, i <= 20, now() - interval '3 years' + i * interval '1 hour',
       CASE WHEN i % 10 <> 0 THEN 'user' || i || '@example.com' END,
       CASE WHEN i % 3 = 0 THEN 'User Number ' || i END
  FROM generate_series(1, 20000) i;

-- 1,000 projects (P1 .. P1000), 10 repositories each (rN).  Settings for
-- one project in ten.
INSERT INTO bbtoken_projects (project_key, repo_admins_manage_tokens)
SELECT 'P' || p, p % 20 <> 0 FROM generate_series(1, 1000, 10) p;

-- Grants: 30,000 on projects, 20,000 on repositories, 5,000 of those
-- held by 50 users with 100 each (more than the lookup's level map
-- holds: their level is asked of bbtoken_owner_levels).
INSERT INTO bbtoken_project_grants (user_id, project_key, permission)
SELECT u.id, 'P' || (1 + (u.id * 37 + k * 101) % 1000),
       (ARRAY['PROJECT_READ', 'PROJECT_WRITE', 'PROJECT_ADMIN'])[1 + (u.id + k) % 3]
  FROM bbtoken_users u, generate_series(1, 2) k
 WHERE u.id <= 15000;
INSERT INTO bbtoken_repo_grants (user_id, project_key, repo_slug, permission)
SELECT u.id, 'P' || (1 + (u.id * 13) % 1000), 'r' || (u.id % 10),
       (ARRAY['REPO_READ', 'REPO_WRITE', 'REPO_ADMIN'])[1 + u.id % 3]
  FROM bbtoken_users u WHERE u.id > 5000;
INSERT INTO bbtoken_repo_grants (user_id, project_key, repo_slug, permission)
SELECT 100 + u, 'Q' || k, 'r' || (k % 10), 'REPO_WRITE'
  FROM generate_series(1, 50) u, generate_series(1, 100) k;

-- Tokens 100000000001 ..: 80,000 personal (4 per user), 10,000 of
-- projects, 2,000 of personal projects (50 of them of a user that does
-- not exist, which the upgrade to 21 revokes), 8,000 of repositories.
-- One in ten revoked, one in seven expired, the rest live; one in ten
-- with an allow-list, most used.
INSERT INTO bbtoken_tokens (id, user_id, name, project_perm, repo_perm, salt, secret_hash,
                            created_at, expires_at, last_authenticated, revoked_at,
                            last_addresses, project_key, repo_slug, allowed_nets, seen_nets)
SELECT lpad((100000000000 + i)::text, 12, '0'),
       CASE WHEN i <= 80000 THEN 1 + i % 20000 END,
       'token ' || i,
       CASE WHEN i <= 92000 THEN (ARRAY['PROJECT_READ', 'PROJECT_READ', 'PROJECT_WRITE'])[1 + i % 3] END,
       (ARRAY['REPO_READ', 'REPO_WRITE', 'REPO_WRITE'])[1 + i % 3],
       md5('s' || i), md5('h' || i) || md5('k' || i),
       now() - interval '400 days' + (i % 300) * interval '1 day',
       CASE WHEN i % 7 = 0 THEN now() - interval '1 day' - (i % 30) * interval '1 day'
            WHEN i % 2 = 0 THEN now() + interval '90 days' + (i % 200) * interval '1 day' END,
       CASE WHEN i % 5 <> 0 THEN now() - (i % 1000) * interval '1 hour' END,
       CASE WHEN i % 10 = 3 THEN now() - (i % 60) * interval '1 day' END,
       CASE WHEN i % 5 <> 0 THEN ARRAY['192.0.2.' || (i % 250)]::inet[] ELSE '{}' END,
       CASE WHEN i <= 80000 THEN NULL
            WHEN i <= 90000 THEN 'P' || (1 + i % 1000)
            WHEN i <= 91950 THEN '~user' || (1 + i % 20000)
            WHEN i <= 92000 THEN '~ghost' || i
            ELSE 'P' || (1 + i % 1000) END,
       CASE WHEN i > 92000 THEN 'r' || (i % 10) END,
       CASE WHEN i % 10 = 1 THEN ARRAY['10.0.0.0/8', '2001:db8::/32']::cidr[] END,
       CASE WHEN i % 5 <> 0 THEN ARRAY['192.0.2.0/24']::cidr[] ELSE '{}' END
  FROM generate_series(1, 100000) i;

INSERT INTO bbtoken_token_nets (token_id, net, first_seen, first_addr)
SELECT id, '192.0.2.0/24', created_at, '192.0.2.1' FROM bbtoken_tokens
 WHERE cardinality(seen_nets) > 0;

-- The audit trail: each token's creation and revocation, each user's
-- addition and grants, and 700,000 new addresses and uses.
INSERT INTO bbtoken_audit (at, event, token_id, user_name, actor, db_role, source, detail)
SELECT t.created_at, 'created', t.id, u.name, coalesce(u.name, 'admin'), 'bbtoken_api', 'http',
       'name ' || t.name
  FROM bbtoken_tokens t LEFT JOIN bbtoken_users u ON u.id = t.user_id;
INSERT INTO bbtoken_audit (at, event, token_id, actor, db_role, source)
SELECT revoked_at, 'revoked', id, 'admin', 'bbtoken_api', 'cli' FROM bbtoken_tokens
 WHERE revoked_at IS NOT NULL;
INSERT INTO bbtoken_audit (at, event, user_name, actor, db_role, source)
SELECT created_at, 'user_added', name, 'admin', 'postgres', 'cli' FROM bbtoken_users;
INSERT INTO bbtoken_audit (at, event, user_name, actor, db_role, source, detail)
SELECT now() - interval '1 year', 'granted', u.name, 'admin', 'postgres', 'cli',
       g.project_key || ' ' || g.permission
  FROM bbtoken_project_grants g JOIN bbtoken_users u ON u.id = g.user_id;
INSERT INTO bbtoken_audit (at, event, token_id, actor, db_role, source, client_addr, detail)
SELECT now() - (i % 10000) * interval '1 hour', 'new_address',
       lpad((100000000000 + 1 + i % 100000)::text, 12, '0'), 'httpd', 'bbtoken_httpd', 'http',
       ('192.0.2.' || (i % 250))::inet, '192.0.2.0/24'
  FROM generate_series(1, 850000) i;

RESET session_replication_role;
ANALYZE;
