-- Migration 6: what Bitbucket's user object carries beside the name.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
--   email         an optional e-mail address (the REST API's emailAddress)
--   display_name  an optional display name (displayName; the name when
--                 unset)
--   slug          Bitbucket's URL form of the name ({userSlug} in the
--                 access-tokens API's paths): the name in lower case with
--                 "@" replaced by "_", kept by the database itself and
--                 unique, so that a slug names one user.  The rule is
--                 bbt_input_user_slug's (mod_bbtoken/bbt_input.c), which
--                 reads the paths; the two must agree.

-- Bitbucket's slug of a user name.  Names are ASCII (their CHECK), so
-- lower() does not depend on the database's locale here.
CREATE FUNCTION bbtoken_user_slug(name text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT lower(replace(name, '@', '_'))
$$;

-- The rule of bbt_input_email: one "@" with something on either side, no
-- spaces or control characters, at most 254 bytes.
CREATE FUNCTION bbtoken_valid_email(s text) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT octet_length(s) <= 254
       AND s ~ '^[^@\x01-\x20\x7f]+@[^@\x01-\x20\x7f]+$'
$$;

-- Two users whose names differ only by "@" against "_" (a@corp, a_corp)
-- would share a slug, and a client naming one could reach the other: an
-- upgrade stops here rather than guess which one the slug means.
DO $$
DECLARE
    clash text;
BEGIN
    SELECT string_agg(names, '; ') INTO clash FROM (
        SELECT string_agg(name, ', ' ORDER BY name) AS names
          FROM bbtoken_users
         GROUP BY bbtoken_user_slug(name)
        HAVING count(*) > 1) c;
    IF clash IS NOT NULL THEN
        RAISE EXCEPTION 'users share a slug (a user name in lower case, '
            '@ as _): %; rename or delete all but one of each before '
            'upgrading', clash
            USING ERRCODE = 'raise_exception';
    END IF;
END
$$;

ALTER TABLE bbtoken_users
    ADD COLUMN email text
        CONSTRAINT bbtoken_users_email CHECK (bbtoken_valid_email(email)),
    ADD COLUMN display_name text
        CONSTRAINT bbtoken_users_display_name
        CHECK (char_length(display_name) BETWEEN 1 AND 255
               AND display_name !~ '[[:cntrl:]]'),
    ADD COLUMN slug text NOT NULL
        GENERATED ALWAYS AS (bbtoken_user_slug(name)) STORED;
CREATE UNIQUE INDEX bbtoken_users_slug_key ON bbtoken_users (slug);

UPDATE bbtoken_schema SET version = 6;
