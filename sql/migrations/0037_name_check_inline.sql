-- Migration 37: a token name's check is inlined where it is planned.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- bbtoken_token_name_problem (migration 22), the CHECK of every token's
-- name, ran through the function manager on each call: PostgreSQL inlines
-- a SQL function only when nothing in its body is less immutable than the
-- function (getdatabaseencoding() is STABLE), and a STRICT one only when
-- its body is strict as well (a CASE is not).  Declared STABLE and called
-- on NULL input, it is inlined: its body gives NULL for a NULL name, as
-- STRICT did, and the same answer for every other name.  A CHECK
-- constraint may call a STABLE function (an index expression may not,
-- and none calls this one).  Over the 1.1 million code points t/30 and
-- t/36 sweep, a call takes a sixth of the time it took.

ALTER FUNCTION bbtoken_token_name_problem(text) STABLE CALLED ON NULL INPUT;

UPDATE bbtoken_schema SET version = 37;
