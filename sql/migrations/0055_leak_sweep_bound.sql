-- Migration 55: a leak report clears at most 100 ended counts.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- Each counted call deleted every ended window of bbtoken_leak_throttle,
-- in one statement inside its count.  The table holds a row per address
-- (IPv6: per /64) that called within the hour, so a client with a few
-- IPv6 prefixes could leave a million rows behind and stop: an hour
-- later the next call had them all to delete, ran past the API's
-- statement_timeout and was rolled back, and so was every call after it,
-- each with the same rows before it: every leak report was 503 for good,
-- each holding one of the API's pooled connections until the timeout.
--
-- Now a call deletes at most 100 ended windows, oldest first, so its cost
-- has a ceiling whatever the table holds: each call adds one row at most,
-- so the calls still clear more than they make, and `bbtoken purge` (the
-- weekly cron job) deletes the rest a batch at a time.  They are found
-- through the window_start index: the ORDER BY makes a sequential scan
-- and a sort of the whole table the dearer plan once the table is big,
-- and the statement is planned at each call (EXECUTE), on the table's size
-- then: a plan kept by the session (PL/pgSQL keeps its statements' plans)
-- from when the table was small read the whole table at each call, 0.7 s
-- at 600,000 rows, until the next ANALYZE.  The clearing runs in a block
-- of its own (a subtransaction): an error there (a conflict under a
-- caller's REPEATABLE READ) undoes only the clearing, never the count.
-- A statement_timeout cancels the whole call all the same, which the
-- batch's bound keeps it from reaching.  Otherwise as migration 49's;
-- SECURITY DEFINER and grants stay, search_path is set again below.

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
    -- Others' ended windows, a few, those no other call holds: never a
    -- wait, and never the reason a call fails.
    BEGIN
        EXECUTE 'DELETE FROM bbtoken_leak_throttle d'
                ' WHERE d.ctid = ANY (ARRAY(SELECT o.ctid'
                ' FROM bbtoken_leak_throttle o'
                ' WHERE o.window_start <= now() - $1 AND o.client_net <> $2'
                ' ORDER BY o.window_start LIMIT 100 FOR UPDATE SKIP LOCKED))'
            USING w, a;
    EXCEPTION WHEN OTHERS THEN
        NULL;
    END;
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

UPDATE bbtoken_schema SET version = 55;
