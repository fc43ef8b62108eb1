-- Version 15: the owner's level as one value from the owner's row, for
-- httpd's token lookup (mod_bbtoken/bbt_db.c), which asks for it in a CASE
-- branch taken only when the hash httpd sent is the stored one.  PL/pgSQL
-- on purpose: a call the CASE does not make costs the lookup nothing,
-- while the same query as a subquery of the lookup is set up by the
-- executor on every run, taken or not (about 25 microseconds of the
-- backend's CPU per lookup, measured); PL/pgSQL keeps its plan of the
-- inlined bbtoken_owner_levels for the session.  STABLE: it sees the
-- lookup's snapshot, so the level is of the row the lookup read.

CREATE FUNCTION bbtoken_owner_level_of(u bbtoken_users, p_key text,
                                       p_slug text)
RETURNS integer LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    RETURN COALESCE((SELECT l.level
                       FROM bbtoken_owner_levels(u, p_key, p_slug) l), 0);
END
$$;

UPDATE bbtoken_schema SET version = 15;
