-- Migration 65: an allow-list names each network once.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- A list that named one network twice was stored so, from the CLI
-- (`--allow-from 10.0.0.0/8 --allow-from 10.0.0.0/8`) and the REST API
-- (["127.0.0.1", "127.0.0.1/32"], one network as cidr reads both) alike,
-- and shown and audited so.  Nothing else the schema and its callers take
-- as a list takes an item twice: a permission of a scope twice is refused
-- (bbt_perm), an option given twice is the CLI's usage error, a member
-- named twice the API's 400.  Neither can tell "10.1" from "10.1.0.0/16"
-- or "2001:0db8::/32" from "2001:db8::/32" without reading them as cidr
-- does, so the rule is here, beside migration 14's, for every writer:
-- refused with invalid_parameter_value (the CLI's exit 1, the API's 400)
-- naming the network as PostgreSQL writes it back, and nothing changes.
--
-- A list set before is left as it is: its token still matches as before,
-- and `bbtoken update ID --allow-from ...` replaces it.  A rotation copies
-- its token's list as it is (bbtoken_rotate, the row's rotated_from set),
-- so a token with such a list can still be rotated.

CREATE OR REPLACE FUNCTION bbtoken_tokens_nets_check() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    n cidr;
    seen cidr[] := '{}';
BEGIN
    IF TG_OP = 'UPDATE'
       AND OLD.allowed_nets IS NOT DISTINCT FROM NEW.allowed_nets THEN
        RETURN NEW;
    END IF;
    FOREACH n IN ARRAY COALESCE(NEW.allowed_nets, '{}'::cidr[]) LOOP
        IF masklen(n) = 0 THEN
            RAISE EXCEPTION '%: a /0 network, which httpd cannot match: a token without an allow-list is taken from anywhere',
                n
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF family(n) = 6
           AND set_masklen(n::inet, 128) <<= inet '::ffff:0.0.0.0/96' THEN
            RAISE EXCEPTION '%: an IPv4-mapped IPv6 network, which httpd cannot match: write it as IPv4 (::ffff:10.0.0.0/104 is 10.0.0.0/8), which matches IPv4-mapped clients too',
                n
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF n = ANY (seen)
           AND NOT (TG_OP = 'INSERT' AND NEW.rotated_from IS NOT NULL) THEN
            RAISE EXCEPTION '%: listed twice (one network, however it is written): an allow-list names each network once',
                n
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        seen := seen || n;
    END LOOP;
    RETURN NEW;
END
$$;

-- CREATE OR REPLACE drops a function's settings (its privileges stay): the
-- schema's own objects first, whatever the caller's search_path, as since
-- migration 2.
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION bbtoken_tokens_nets_check() SET search_path = %I, pg_temp',
                   current_schema());
END
$$;

UPDATE bbtoken_schema SET version = 65;
