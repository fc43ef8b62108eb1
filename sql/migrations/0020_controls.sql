-- Migration 20: one reading of "control character" for token names,
-- display names and e-mail addresses, whatever the database's encoding.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- A control character is Unicode's Cc (U+0001 to U+001F, U+007F, U+0080
-- to U+009F), as bbt_is_control says for the CLI and the REST API.
--
-- E-mail addresses.  bbtoken_valid_email (migration 6) refused U+0001 to
-- U+0020 and U+007F but let U+0080 to U+009F in, which bbt_input_email
-- refuses: plain SQL could store an address holding CSI (U+009B), which
-- `bbtoken user show`, `bbtoken audit` and notify's report then wrote to
-- an administrator's terminal.  An existing such address is no address to
-- mail: it becomes none (NULL).
--
-- A database in SQL_ASCII (what initdb makes under the C locale without
-- -E) holds the UTF-8 bytes the CLI sends, and its regular expressions
-- read bytes: there a C1 control is the two bytes C2 80 to C2 9F, while a
-- lone byte from 80 to 9F is part of another character (S with acute is
-- C5 9A).  Migration 5's rule for token names and migration 6's for
-- display names ([[:cntrl:]]) read each such byte as a control, so a Polish
-- surname was refused there as holding one; each rule now reads controls
-- as the database stores them.  The new rules refuse no name the old ones let
-- in; a display name that holds a control all the same (an old
-- [[:cntrl:]] under another locale) gets "?" for it.
--
-- The users' audit trigger would record an old value as it was, controls
-- and all, so it is off for the one UPDATE (no other session writes the
-- table meanwhile), and each change is recorded here instead, by
-- "upgrade", with every control as "?".  Each rule is written out where it
-- is used: a restore runs these functions with an empty search_path.

SET LOCAL bbtoken.source = 'upgrade';

CREATE OR REPLACE FUNCTION bbtoken_token_name_problem(n text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE
        WHEN n = '' THEN 'token name must not be empty'
        WHEN n ~ CASE getdatabaseencoding()
                     WHEN 'SQL_ASCII'
                     THEN '[\u0001-\u001f\u007f]|\u00c2[\u0080-\u009f]'
                     ELSE '[\u0001-\u001f\u007f-\u009f]' END
        THEN 'token name must not contain control characters'
        WHEN char_length(n) > 255
        THEN 'token name is longer than 255 characters'
    END
$$;

-- The rule of bbt_input_email: one "@" with something on either side, no
-- spaces or control characters, at most 254 bytes.
CREATE OR REPLACE FUNCTION bbtoken_valid_email(s text) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT octet_length(s) <= 254
       AND s ~ '^[^@\u0001-\u0020\u007f]+@[^@\u0001-\u0020\u007f]+$'
       AND s !~ CASE getdatabaseencoding()
                    WHEN 'SQL_ASCII' THEN '\u00c2[\u0080-\u009f]'
                    ELSE '[\u0080-\u009f]' END
$$;

DO $$
DECLARE
    ctl text := CASE getdatabaseencoding()
                    WHEN 'SQL_ASCII'
                    THEN '[\u0001-\u001f\u007f]|\u00c2[\u0080-\u009f]'
                    ELSE '[\u0001-\u001f\u007f-\u009f]' END;
    u record;
    d text[];
BEGIN
    FOR u IN SELECT id, name, email, display_name,
                    NOT bbtoken_valid_email(email) AS bad_email,
                    display_name ~ ctl AS bad_name
               FROM bbtoken_users
              WHERE NOT bbtoken_valid_email(email) OR display_name ~ ctl
              ORDER BY id LOOP
        d := ARRAY[]::text[];
        IF u.bad_email THEN
            d := d || format('e-mail none (was %s)',
                             quote_literal(regexp_replace(u.email, ctl, '?',
                                                          'g')));
        END IF;
        IF u.bad_name THEN
            d := d || format('display name %s (was the same with control '
                             'characters)',
                             quote_literal(regexp_replace(u.display_name, ctl,
                                                          '?', 'g')));
        END IF;
        PERFORM bbtoken_audit_write('user_details_changed', NULL, u.name,
                                    array_to_string(d, ', '));
    END LOOP;
    ALTER TABLE bbtoken_users DISABLE TRIGGER bbtoken_users_audit_upd;
    UPDATE bbtoken_users
       SET email = CASE WHEN bbtoken_valid_email(email) THEN email END,
           display_name = regexp_replace(display_name, ctl, '?', 'g')
     WHERE NOT bbtoken_valid_email(email) OR display_name ~ ctl;
    ALTER TABLE bbtoken_users ENABLE TRIGGER bbtoken_users_audit_upd;
END
$$;

-- Every row read against the new rules.
ALTER TABLE bbtoken_users DROP CONSTRAINT bbtoken_users_email,
    ADD CONSTRAINT bbtoken_users_email CHECK (bbtoken_valid_email(email)),
    DROP CONSTRAINT bbtoken_users_display_name,
    ADD CONSTRAINT bbtoken_users_display_name
        CHECK (char_length(display_name) BETWEEN 1 AND 255
               AND display_name !~ CASE getdatabaseencoding()
                   WHEN 'SQL_ASCII'
                   THEN '[\u0001-\u001f\u007f]|\u00c2[\u0080-\u009f]'
                   ELSE '[\u0001-\u001f\u007f-\u009f]' END);

UPDATE bbtoken_schema SET version = 20;
