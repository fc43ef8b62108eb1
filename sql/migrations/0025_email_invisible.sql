-- Migration 25: no invisible formatting characters in e-mail addresses.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- An address is shown to administrators (`bbtoken user show`, the REST
-- API's user object, `bbtoken audit`) and mailed to by `bbtoken notify`:
-- a right-to-left override (U+202E) or a zero-width space (U+200B) in it
-- makes it read as another address, which an administrator checking where
-- a notice goes would take for the right one.  bbtoken_valid_email now
-- also refuses the characters migration 22 refused in names, as
-- bbt_input_email does for the CLI (mod_bbtoken/bbt_input.c); in a
-- database in SQL_ASCII each is matched as the UTF-8 bytes it is stored
-- as (migration 20 says why).
--
-- Existing addresses.  One that holds such a character becomes none
-- (NULL), as migration 20 did for one holding a C1 control: what is left
-- once the characters are removed may be another person's address, and
-- notify should not mail it; refusing the upgrade instead would stop the
-- release on one user's bad row.  The users' audit trigger would record
-- the old address as it was, so it is off for the one UPDATE (no other
-- session writes the table meanwhile), and each change is recorded here,
-- by "upgrade", with every such character as "?".  The rule is written
-- out where it is used: a restore runs this function with an empty
-- search_path.

SET LOCAL bbtoken.source = 'upgrade';

-- The rule of bbt_input_email: one "@" with something on either side, no
-- spaces, control characters or invisible formatting characters, at most
-- 254 bytes.
CREATE OR REPLACE FUNCTION bbtoken_valid_email(s text) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT octet_length(s) <= 254
       AND s ~ '^[^@\u0001-\u0020\u007f]+@[^@\u0001-\u0020\u007f]+$'
       AND s !~ CASE getdatabaseencoding()
                    WHEN 'SQL_ASCII' THEN '\u00c2[\u0080-\u009f]'
                    ELSE '[\u0080-\u009f]' END
       AND s !~ CASE getdatabaseencoding()
                    WHEN 'SQL_ASCII'
                    THEN '\u00c2\u00ad|\u00cd\u008f|\u00d8\u009c'
                         '|\u00e1\u0085[\u009f\u00a0]|\u00e1\u009e[\u00b4\u00b5]'
                         '|\u00e1\u00a0\u008e'
                         '|\u00e2\u0080[\u008b-\u008f\u00a8-\u00ae]'
                         '|\u00e2\u0081[\u00a0-\u00af]|\u00e3\u0085\u00a4'
                         '|\u00ef\u00bb\u00bf|\u00ef\u00be\u00a0'
                         '|\u00ef\u00bf[\u00b0-\u00bb]'
                         '|\u00f0\u009b\u00b2[\u00a0-\u00a3]'
                         '|\u00f0\u009d\u0085[\u00b3-\u00ba]'
                         '|\u00f3\u00a0[\u0080-\u0083][\u0080-\u00bf]'
                         '|\u00f3\u00a0\u0087[\u00b0-\u00bf]'
                         '|\u00f3\u00a0[\u0088-\u00bf][\u0080-\u00bf]'
                    ELSE '[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e'
                         '\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164'
                         '\ufeff\uffa0\ufff0-\ufffb\U0001bca0-\U0001bca3'
                         '\U0001d173-\U0001d17a\U000e0000-\U000e00ff'
                         '\U000e01f0-\U000e0fff]' END
$$;

DO $$
DECLARE
    inv text := CASE getdatabaseencoding()
        WHEN 'SQL_ASCII'
        THEN '\u00c2\u00ad|\u00cd\u008f|\u00d8\u009c'
             '|\u00e1\u0085[\u009f\u00a0]|\u00e1\u009e[\u00b4\u00b5]'
             '|\u00e1\u00a0\u008e'
             '|\u00e2\u0080[\u008b-\u008f\u00a8-\u00ae]'
             '|\u00e2\u0081[\u00a0-\u00af]|\u00e3\u0085\u00a4'
             '|\u00ef\u00bb\u00bf|\u00ef\u00be\u00a0'
             '|\u00ef\u00bf[\u00b0-\u00bb]'
             '|\u00f0\u009b\u00b2[\u00a0-\u00a3]'
             '|\u00f0\u009d\u0085[\u00b3-\u00ba]'
             '|\u00f3\u00a0[\u0080-\u0083][\u0080-\u00bf]'
             '|\u00f3\u00a0\u0087[\u00b0-\u00bf]'
             '|\u00f3\u00a0[\u0088-\u00bf][\u0080-\u00bf]'
        ELSE '[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e'
             '\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164'
             '\ufeff\uffa0\ufff0-\ufffb\U0001bca0-\U0001bca3'
             '\U0001d173-\U0001d17a\U000e0000-\U000e00ff'
             '\U000e01f0-\U000e0fff]' END;
    u record;
BEGIN
    FOR u IN SELECT name, email FROM bbtoken_users
              WHERE NOT bbtoken_valid_email(email) ORDER BY id LOOP
        PERFORM bbtoken_audit_write('user_details_changed', NULL, u.name,
                                    format('e-mail none (was %s)',
                                           quote_literal(regexp_replace(
                                               u.email, inv, '?', 'g'))));
    END LOOP;
    ALTER TABLE bbtoken_users DISABLE TRIGGER bbtoken_users_audit_upd;
    UPDATE bbtoken_users SET email = NULL
     WHERE NOT bbtoken_valid_email(email);
    ALTER TABLE bbtoken_users ENABLE TRIGGER bbtoken_users_audit_upd;
END
$$;

-- Every row read against the new rule.
ALTER TABLE bbtoken_users DROP CONSTRAINT bbtoken_users_email,
    ADD CONSTRAINT bbtoken_users_email CHECK (bbtoken_valid_email(email));

UPDATE bbtoken_schema SET version = 25;
