-- Migration 20: an e-mail address holds no C1 control character.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- bbtoken_valid_email (migration 6) refused U+0001 to U+0020 and U+007F
-- but let U+0080 to U+009F in, which bbt_input_email refuses (Unicode's
-- Cc, as in a token name): plain SQL could store an address holding CSI
-- (U+009B), which `bbtoken user show`, `bbtoken audit` and notify's report
-- then wrote to an administrator's terminal.  An existing such address is
-- no address to mail: it becomes none (NULL).  The users' audit trigger
-- would record the old address as it was, controls and all, so it is off
-- for the one UPDATE (no other session writes the table meanwhile), and
-- the change is recorded here instead, by "upgrade", each control as "?".

SET LOCAL bbtoken.source = 'upgrade';

DO $$
BEGIN
    PERFORM bbtoken_audit_write('user_details_changed', NULL, name,
               format('e-mail none (was %s)',
                      quote_literal(regexp_replace(email, '[\u0080-\u009f]',
                                                   '?', 'g'))))
       FROM bbtoken_users
      WHERE email ~ '[\u0080-\u009f]'
      ORDER BY id;
END
$$;
ALTER TABLE bbtoken_users DISABLE TRIGGER bbtoken_users_audit_upd;
UPDATE bbtoken_users SET email = NULL WHERE email ~ '[\u0080-\u009f]';
ALTER TABLE bbtoken_users ENABLE TRIGGER bbtoken_users_audit_upd;

-- The rule of bbt_input_email: one "@" with something on either side, no
-- spaces or control characters (U+0001 to U+001F, U+007F to U+009F), at
-- most 254 bytes.  The CHECK is made again so that every row is read
-- against the new rule.
CREATE OR REPLACE FUNCTION bbtoken_valid_email(s text) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT octet_length(s) <= 254
       AND s ~ '^[^@\u0001-\u0020\u007f-\u009f]+@[^@\u0001-\u0020\u007f-\u009f]+$'
$$;
ALTER TABLE bbtoken_users DROP CONSTRAINT bbtoken_users_email,
    ADD CONSTRAINT bbtoken_users_email CHECK (bbtoken_valid_email(email));

UPDATE bbtoken_schema SET version = 20;
