-- Migration 49: a leak report over its address's limit writes nothing.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- The leak report is the API's one call without a login, and its only
-- limit is this count (30 calls an address an hour).  Each call counted
-- itself and cleared others' ended windows before anything was decided, so
-- a client already refused still had every call write a row, commit it
-- (a WAL flush) and queue on its address's row lock, each holding one of
-- the API's pooled connections while it waited: a flood from one address
-- kept the pool busy and the logged-in calls waiting for it (503).  Now a
-- call whose address is over the limit in an open window reads its row,
-- takes no lock and writes nothing: it is answered with the time the
-- window has left.  Calls under the limit count as before (two at once
-- may both pass the read and count; the second is refused by the count,
-- as before).  Otherwise as migration 24's; SECURITY DEFINER and grants
-- stay, search_path is set again below.

CREATE OR REPLACE FUNCTION bbtoken_api_leak_throttle(p_addr text, p_calls integer,
                                                     p_window integer)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    a inet := COALESCE(bbtoken_inet(p_addr), '0.0.0.0'::inet);
    w interval := make_interval(secs => p_window);
    r bbtoken_leak_throttle;
BEGIN
    IF family(a) = 6 THEN
        a := network(set_masklen(a, 64));
    ELSE
        a := host(a)::inet;
    END IF;
    -- Refused already: read, not written.
    SELECT * INTO r FROM bbtoken_leak_throttle t WHERE t.client_net = a;
    IF FOUND AND r.window_start > now() - w AND r.calls >= p_calls THEN
        RETURN greatest(1, ceil(extract(epoch FROM r.window_start + w - now())))
               ::integer;
    END IF;
    -- Others' ended windows, those no other call holds: never a wait.
    DELETE FROM bbtoken_leak_throttle d
     WHERE d.client_net IN (SELECT o.client_net FROM bbtoken_leak_throttle o
                             WHERE o.window_start <= now() - w
                               AND o.client_net <> a
                               FOR UPDATE SKIP LOCKED);
    INSERT INTO bbtoken_leak_throttle AS t (client_net, window_start, calls)
    VALUES (a, now(), 1)
    ON CONFLICT (client_net) DO UPDATE
       SET calls = CASE WHEN t.window_start <= now() - w THEN 1
                        ELSE t.calls + 1 END,
           window_start = CASE WHEN t.window_start <= now() - w THEN now()
                               ELSE t.window_start END
    RETURNING * INTO r;
    IF r.calls <= p_calls THEN
        RETURN 0;
    END IF;
    RETURN greatest(1, ceil(extract(epoch FROM r.window_start + w - now())))
           ::integer;
END
$$;

-- CREATE OR REPLACE drops a function's settings (its privileges stay): the
-- schema's own objects first, whatever the caller's search_path, as since
-- migration 2.
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION bbtoken_api_leak_throttle(text, integer, '
                   'integer) SET search_path = %I, pg_temp', current_schema());
END
$$;

UPDATE bbtoken_schema SET version = 49;
