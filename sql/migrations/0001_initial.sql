-- mod_bbtoken schema.  Run once in an empty database:
--   psql -v ON_ERROR_STOP=1 -f sql/schema.sql
-- The database enforces the token rules itself (permission combinations,
-- key and slug syntax, hash shape), so no client is the only guard.

BEGIN;

CREATE TABLE bbtoken_schema (
    version integer NOT NULL
);
INSERT INTO bbtoken_schema (version) VALUES (1);

-- Permission level of PROJECT_x / REPO_x: READ 1, WRITE 2, ADMIN 3.
CREATE FUNCTION bbtoken_perm_level(p text) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE p
        WHEN 'PROJECT_READ'  THEN 1 WHEN 'REPO_READ'  THEN 1
        WHEN 'PROJECT_WRITE' THEN 2 WHEN 'REPO_WRITE' THEN 2
        WHEN 'PROJECT_ADMIN' THEN 3 WHEN 'REPO_ADMIN' THEN 3
    END
$$;

-- A canonical project key: upper case, or "~" and a lower-case user name
-- for a personal project.  The module canonicalizes URLs the same way.
CREATE FUNCTION bbtoken_valid_key(k text) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT k ~ '^[A-Z][A-Z0-9_]{0,127}$'
        OR k ~ '^~[a-z0-9][a-z0-9._@-]{0,254}$'
$$;

-- Slugs are compared exactly, as the filesystem compares directory names.
-- A slug may not end in ".git": git-http-backend would find "x.git.git"
-- when asked for "x.git", and the two must never be confused.
CREATE FUNCTION bbtoken_valid_slug(s text) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT s ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$' AND s !~ '\.git$'
$$;

CREATE TABLE bbtoken_users (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL
               CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._@-]{0,254}$'),
    active     boolean NOT NULL DEFAULT true,
    is_admin   boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);
-- User names are unique regardless of case, as in Bitbucket.
CREATE UNIQUE INDEX bbtoken_users_name_key ON bbtoken_users (lower(name));

CREATE TABLE bbtoken_project_grants (
    user_id     bigint NOT NULL REFERENCES bbtoken_users (id) ON DELETE CASCADE,
    project_key text NOT NULL CHECK (bbtoken_valid_key(project_key)),
    permission  text NOT NULL
                CHECK (permission IN ('PROJECT_READ', 'PROJECT_WRITE',
                                      'PROJECT_ADMIN')),
    PRIMARY KEY (user_id, project_key)
);

CREATE TABLE bbtoken_repo_grants (
    user_id     bigint NOT NULL REFERENCES bbtoken_users (id) ON DELETE CASCADE,
    project_key text NOT NULL CHECK (bbtoken_valid_key(project_key)),
    repo_slug   text NOT NULL CHECK (bbtoken_valid_slug(repo_slug)),
    permission  text NOT NULL
                CHECK (permission IN ('REPO_READ', 'REPO_WRITE', 'REPO_ADMIN')),
    PRIMARY KEY (user_id, project_key, repo_slug)
);

CREATE TABLE bbtoken_tokens (
    id                 text PRIMARY KEY CHECK (id ~ '^[0-9]{12}$'),
    user_id            bigint NOT NULL
                       REFERENCES bbtoken_users (id) ON DELETE CASCADE,
    name               text NOT NULL
                       CHECK (char_length(name) BETWEEN 1 AND 255
                              AND name !~ '[[:cntrl:]]'),
    project_perm       text NOT NULL
                       CHECK (project_perm IN ('PROJECT_READ', 'PROJECT_WRITE',
                                               'PROJECT_ADMIN')),
    repo_perm          text NOT NULL
                       CHECK (repo_perm IN ('REPO_READ', 'REPO_WRITE',
                                            'REPO_ADMIN')),
    -- Only a salted hash of the token is kept: HMAC-SHA-256(salt, raw).
    salt               text NOT NULL CHECK (salt ~ '^[0-9a-f]{32}$'),
    secret_hash        text NOT NULL CHECK (secret_hash ~ '^[0-9a-f]{64}$'),
    created_at         timestamptz NOT NULL DEFAULT now(),
    expires_at         timestamptz CHECK (expires_at > created_at),
    last_authenticated timestamptz,
    revoked_at         timestamptz,
    -- The seed's matrix: the repository permission is at least the project
    -- permission, which leaves six combinations.
    CONSTRAINT bbtoken_tokens_combination
        CHECK (bbtoken_perm_level(repo_perm) >= bbtoken_perm_level(project_perm))
);
CREATE INDEX bbtoken_tokens_user ON bbtoken_tokens (user_id);

-- The owner's live level on a target: a repository (slug given) or a
-- project (slug NULL).  0 means none: no target (key NULL), an unknown or
-- disabled user.  A project grant is inherited by every repository of the
-- project; a repository grant confers nothing on the project itself.
-- PL/pgSQL rather than SQL: it caches its plans for the session, and httpd
-- calls this on every request.
CREATE FUNCTION bbtoken_owner_level(uid bigint, key text, slug text)
RETURNS integer LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    u record;
BEGIN
    IF key IS NULL THEN
        RETURN 0;
    END IF;
    SELECT active, is_admin, name INTO u FROM bbtoken_users WHERE id = uid;
    IF NOT FOUND OR NOT u.active THEN
        RETURN 0;
    END IF;
    IF u.is_admin OR key = '~' || lower(u.name) THEN
        RETURN 3;
    END IF;
    RETURN GREATEST(
        COALESCE((SELECT bbtoken_perm_level(g.permission)
                    FROM bbtoken_project_grants g
                   WHERE g.user_id = uid AND g.project_key = key), 0),
        CASE WHEN slug IS NULL THEN 0 ELSE
        COALESCE((SELECT bbtoken_perm_level(g.permission)
                    FROM bbtoken_repo_grants g
                   WHERE g.user_id = uid AND g.project_key = key
                     AND g.repo_slug = slug), 0) END);
END
$$;

COMMIT;
