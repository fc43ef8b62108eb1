-- Migration 45: a token name neither begins nor ends with white space.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- "deploy" and "deploy " could both be live for one holder, and read as
-- one name in the page, in `bbtoken list` and in a notice's mail; a name
-- of spaces alone showed as nothing.  White space (Unicode's White_Space:
-- U+0020, U+00A0, U+1680, U+2000 to U+200A, U+202F, U+205F, U+3000; its
-- controls and separators are refused anywhere already) is now refused
-- first and last, after the controls and the invisible characters and
-- before the length, as bbt_input_token_name says for the CLI and the REST
-- API (mod_bbtoken/bbt_input.c).  Inside a name it stays allowed.  In a
-- database in SQL_ASCII each is matched as the UTF-8 bytes it is stored as
-- (migration 20 says why).  A display name keeps its rule.
--
-- Existing names.  The white space is taken off their ends, and " #" and
-- the token's id are put after what is left (or "#" and the id alone, for
-- a name that was white space only), as migrations 5 and 22 did, so that
-- no two live names of a holder meet and the owner sees that the upgrade
-- renamed the token; audited ("renamed", source upgrade) and announced to
-- httpd's caches by the triggers every rename runs.  Where the holder has
-- a live token of that name already (anyone may name a token "deploy
-- #ID" beside "deploy "), "-2", "-3" and so on follow the id, so that no
-- name can stop the upgrade.  What is left is cut to fit 255 characters
-- (241 before " #ID"), and in SQL_ASCII, where a character is a byte, a
-- character the cut split is dropped whole.
--
-- The CHECK on every name calls bbtoken_token_name_problem, whose new
-- clause its rows were not read against: the rows the new rule refuses are
-- found with the rule itself and renamed, while the table is held in SHARE
-- ROW EXCLUSIVE mode, so that no name written under the old rule by
-- another session can come in between (a write waits for the commit, and
-- then meets the new rule).  Reads, and so httpd's lookups, go on.

SET LOCAL bbtoken.source = 'upgrade';

CREATE OR REPLACE FUNCTION bbtoken_token_name_problem(n text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
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
        WHEN n ~ CASE getdatabaseencoding()
                     WHEN 'SQL_ASCII'
                     THEN '^( |\u00c2\u00a0|\u00e1\u009a\u0080'
                          '|\u00e2\u0080[\u0080-\u008a\u00af]|\u00e2\u0081\u009f'
                          '|\u00e3\u0080\u0080)'
                          '|( |\u00c2\u00a0|\u00e1\u009a\u0080'
                          '|\u00e2\u0080[\u0080-\u008a\u00af]|\u00e2\u0081\u009f'
                          '|\u00e3\u0080\u0080)$'
                     ELSE '^[ \u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]'
                          '|[ \u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]$' END
        THEN 'token name must not begin or end with white space'
        WHEN char_length(n) > 255
        THEN 'token name is longer than 255 characters'
    END
$$;

LOCK TABLE bbtoken_tokens IN SHARE ROW EXCLUSIVE MODE;

DO $$
DECLARE
    ws text := CASE getdatabaseencoding()
        WHEN 'SQL_ASCII'
        THEN '( |\u00c2\u00a0|\u00e1\u009a\u0080'
             '|\u00e2\u0080[\u0080-\u008a\u00af]|\u00e2\u0081\u009f'
             '|\u00e3\u0080\u0080)'
        ELSE '[ \u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]' END;
    -- A character the cut split, at the end: in SQL_ASCII a lead byte
    -- without all of its continuation bytes.
    split text := CASE getdatabaseencoding()
        WHEN 'SQL_ASCII'
        THEN '([\u00c0-\u00df]|[\u00e0-\u00ef][\u0080-\u00bf]?'
             '|[\u00f0-\u00f7][\u0080-\u00bf]{0,2})$'
        ELSE '$^' END;
    r record;
    trimmed text;
    suffix text;
    cand text;
    n integer;
BEGIN
    FOR r IN SELECT id, name, user_id, project_key, repo_slug, revoked_at
               FROM bbtoken_tokens
              WHERE bbtoken_token_name_problem(name) IS NOT NULL
              ORDER BY id
    LOOP
        trimmed := regexp_replace(r.name, '^' || ws || '+|' || ws || '+$', '',
                                  'g');
        n := 1;
        LOOP
            suffix := '#' || r.id || CASE WHEN n > 1 THEN '-' || n ELSE '' END;
            cand := concat_ws(' ',
                              NULLIF(regexp_replace(
                                         left(trimmed, 254 - length(suffix)),
                                         split, ''), ''),
                              suffix);
            -- A live token of the same holder may be named so already:
            -- the next number, never a failed upgrade.
            EXIT WHEN r.revoked_at IS NOT NULL OR NOT EXISTS (
                SELECT 1 FROM bbtoken_tokens o
                 WHERE o.id <> r.id AND o.revoked_at IS NULL
                   AND o.name = cand
                   AND CASE WHEN r.user_id IS NOT NULL
                            THEN o.user_id = r.user_id
                            ELSE o.user_id IS NULL
                                 AND o.project_key = r.project_key
                                 AND o.repo_slug IS NOT DISTINCT FROM
                                     r.repo_slug END);
            n := n + 1;
        END LOOP;
        UPDATE bbtoken_tokens SET name = cand WHERE id = r.id;
    END LOOP;
END
$$;

UPDATE bbtoken_schema SET version = 45;
