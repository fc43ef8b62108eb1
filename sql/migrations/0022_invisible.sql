-- Migration 22: no invisible formatting characters in token names and
-- display names; a personal project's settings end with its owner.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- Invisible formatting characters.  A token name holding U+202E (right-to-
-- left override) shows what follows it reversed: in the page, in `bbtoken
-- list`, in a notice's mail.  Whoever may name a token that someone else
-- reviews (a project's admin, a user whose tokens an admin reads) could
-- make one read as "deploy-ci" (Trojan Source, CVE-2021-42574); a zero-width
-- space makes two names look alike.  Such a character is refused, in a
-- token name and a display name, as bbt_is_invisible says for the CLI and
-- the REST API (mod_bbtoken/bbt_input.c): Unicode's default-ignorable code
-- points but the variation selectors (U+00AD, U+034F, U+061C, U+115F,
-- U+1160, U+17B4, U+17B5, U+180E, U+200B to U+200F, U+202A to U+202E,
-- U+2060 to U+206F, U+3164, U+FEFF, U+FFA0, U+FFF0 to U+FFF8, U+1BCA0 to
-- U+1BCA3, U+1D173 to U+1D17A, U+E0000 to U+E00FF, U+E01F0 to U+E0FFF),
-- and U+2028, U+2029 and U+FFF9 to U+FFFB, which break or hide text.  A
-- variation selector only picks a glyph for the character before it (an
-- emoji typed on a phone carries U+FE0F), and stays allowed.  In a
-- database in SQL_ASCII each is matched as the UTF-8 bytes it is stored as
-- (migration 20 says why).
--
-- Existing names.  The characters are removed from them, so that every row
-- meets the rule and the CHECKs are valid (not NOT VALID, which would
-- leave the old names to be shown).  A token renamed so gets " #" and its
-- id after what is left, as migration 5 did, so that no two live names of
-- a holder meet and its owner sees that the upgrade renamed it; the rename
-- is audited ("renamed", source upgrade) by the trigger that audits every
-- rename, and announced to httpd's caches.  A display name keeps what is
-- left, or becomes none; audited as user_details_changed.  Those records,
-- and the older ones that named the token, quote the old name as it was:
-- the audit trail is not rewritten, and `bbtoken audit` shows each such
-- character as "?" (bbt_input_shown).
--
-- A personal project's settings.  bbtoken_projects' row for ~name decides
-- whether ~name's repository admins manage its repositories' tokens; left
-- behind by a deleted user, a new user given the name would inherit it.
-- Migration 21's trigger on bbtoken_users now also deletes it with the
-- user (audited "project_changed", back to the default), and moves it to
-- ~newname with a renamed user, as Bitbucket moves the personal project.
-- A row for ~name is made only while user name exists (the check and lock
-- of migration 21 for a token), and the upgrade deletes the rows of
-- personal projects without a user.  Each rule is written out where it is
-- used: a restore runs these functions with an empty search_path.

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
        WHEN n ~ CASE getdatabaseencoding()
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
        THEN 'token name must not contain invisible formatting characters'
        WHEN char_length(n) > 255
        THEN 'token name is longer than 255 characters'
    END
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
BEGIN
    UPDATE bbtoken_tokens
       SET name = concat_ws(' ',
                            NULLIF(left(regexp_replace(name, inv, '', 'g'),
                                        241), ''),
                            '#' || id)
     WHERE name ~ inv;
    UPDATE bbtoken_users
       SET display_name = NULLIF(regexp_replace(display_name, inv, '', 'g'),
                                 '')
     WHERE display_name ~ inv;
END
$$;

-- Every row read against the new rules.
ALTER TABLE bbtoken_tokens DROP CONSTRAINT bbtoken_tokens_name,
    ADD CONSTRAINT bbtoken_tokens_name
        CHECK (bbtoken_token_name_problem(name) IS NULL);
ALTER TABLE bbtoken_users DROP CONSTRAINT bbtoken_users_display_name,
    ADD CONSTRAINT bbtoken_users_display_name
        CHECK (char_length(display_name) BETWEEN 1 AND 255
               AND display_name !~ CASE getdatabaseencoding()
                   WHEN 'SQL_ASCII'
                   THEN '[\u0001-\u001f\u007f]|\u00c2[\u0080-\u009f]'
                   ELSE '[\u0001-\u001f\u007f-\u009f]' END
               AND display_name !~ CASE getdatabaseencoding()
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
                        '\U000e01f0-\U000e0fff]' END);

-- ---- a personal project's settings -------------------------------------

CREATE OR REPLACE FUNCTION bbtoken_users_personal_revoke() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    UPDATE bbtoken_tokens SET revoked_at = now()
     WHERE user_id IS NULL AND project_key = '~' || lower(OLD.name)
       AND revoked_at IS NULL;
    DELETE FROM bbtoken_project_grants
     WHERE project_key = '~' || lower(OLD.name);
    DELETE FROM bbtoken_repo_grants
     WHERE project_key = '~' || lower(OLD.name);
    IF TG_OP = 'UPDATE' THEN
        UPDATE bbtoken_projects SET project_key = '~' || lower(NEW.name)
         WHERE project_key = '~' || lower(OLD.name);
    ELSE
        DELETE FROM bbtoken_projects
         WHERE project_key = '~' || lower(OLD.name);
    END IF;
    RETURN NULL;
END
$$;

-- Migration 21's check of a token's personal project, on the settings'
-- row: the function reads NEW.project_key, which both tables have.
CREATE TRIGGER bbtoken_projects_personal
    BEFORE INSERT OR UPDATE OF project_key ON bbtoken_projects
    FOR EACH ROW WHEN (NEW.project_key LIKE '~%')
    EXECUTE FUNCTION bbtoken_tokens_personal();

DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION bbtoken_users_personal_revoke()'
                   ' SET search_path = %I, pg_temp', current_schema());
END
$$;

DELETE FROM bbtoken_projects p
 WHERE p.project_key LIKE '~%'
   AND NOT EXISTS (SELECT 1 FROM bbtoken_users u
                    WHERE lower(u.name) = substr(p.project_key, 2));

UPDATE bbtoken_schema SET version = 22;
