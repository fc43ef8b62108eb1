#!/usr/bin/python3
"""An HTTP/2 client for the tests, over h2c (prior knowledge, or an
Upgrade: h2c request), on one connection, that sends what curl will not:
a header field twice or spelled in upper case, trailers (HEADERS after
DATA), a body in pieces sent at given times, RST_STREAM.  The frames and
HPACK are python3-h2's (Debian's package).

    h2raw.py HOST PORT TIMEOUT [SOURCE_ADDRESS] < streams.json > answers.json

streams.json is a list; each stream:
    {"headers": [[name, value], ...],   # sent as given, pseudo-headers too
     "data": [[delay_s, "text"], ...],  # each piece delay_s after the last
     "trailers": [[name, value]],       # HEADERS after DATA, ending it
     "end": false,                      # leave the stream open
     "reset_after": seconds,            # RST_STREAM (CANCEL) then
     "reset_on_interim": true,          # or on the first 1xx answer
     "data_on_interim": true}           # data and trailers timed from the
                                        # first 1xx answer, not the start
The first may instead be {"upgrade": {"path": P, "headers": [[n, v]]}}: an
HTTP/1.1 GET with Upgrade: h2c, whose answer is stream 1.

answers.json has one object per stream, in order: status (null if none),
headers, body, reset (the server's error code, or "sent"), switch (the
upgrade's status line), interim (the 1xx statuses), goaway (the server's
error code, if it ended the connection)."""
import base64
import json
import select
import socket
import sys
import time

import h2.config
import h2.connection
import h2.events


def main():
    host, port, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    source = (sys.argv[4], 0) if len(sys.argv) > 4 else None
    streams = json.load(sys.stdin)
    # Validation off both ways: the server is what is tested.
    cfg = h2.config.H2Configuration(client_side=True,
                                    validate_outbound_headers=False,
                                    normalize_outbound_headers=False,
                                    validate_inbound_headers=False)
    conn = h2.connection.H2Connection(config=cfg)
    sock = socket.create_connection((host, port), timeout=timeout,
                                    source_address=source)
    out, plan, pending, later = {}, [], b"", {}
    up = streams[0].get("upgrade") if streams else None
    if up:
        settings = conn.initiate_upgrade_connection()
        req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\n"
               "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
               "HTTP2-Settings: %s\r\n" % (up["path"], host, port,
                                           settings.decode()))
        for n, v in up.get("headers", []):
            req += "%s: %s\r\n" % (n, v)
        sock.sendall((req + "\r\n").encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            d = sock.recv(65536)
            if not d:
                break
            buf += d
        head, _, pending = buf.partition(b"\r\n\r\n")
        out[1] = {"i": 0, "status": None, "headers": [], "body": "",
                  "reset": None, "switch": head.split(b"\r\n")[0].decode()}
        streams = streams[1:]
    else:
        conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    t0 = time.time()
    for i, st in enumerate(streams):
        sid = conn.get_next_available_stream_id()
        hdrs = [(str(n).encode(), str(v).encode()) for n, v in st["headers"]]
        ends = (not st.get("data") and st.get("trailers") is None
                and st.get("end", True))
        conn.send_headers(sid, hdrs, end_stream=ends)
        out[sid] = {"i": i + (1 if up else 0), "status": None, "headers": [],
                    "body": "", "reset": None}
        if st.get("reset_on_interim"):
            out[sid]["reset_on_interim"] = True
        steps, at = [], 0.0
        for delay, text in st.get("data") or []:
            at += delay
            steps.append((at, sid, "data", text))
        if st.get("trailers") is not None:
            steps.append((at, sid, "trailers", st["trailers"]))
        elif st.get("data") and st.get("end", True):
            steps.append((at, sid, "end", None))
        if st.get("data_on_interim"):
            later[sid] = steps
        else:
            plan.extend(steps)
        if st.get("reset_after") is not None:
            plan.append((st["reset_after"], sid, "reset", None))
    sock.sendall(conn.data_to_send())
    plan.sort(key=lambda p: p[0])
    done = set()
    deadline = t0 + timeout
    while time.time() < deadline and len(done) < len(out):
        now = time.time() - t0
        while plan and plan[0][0] <= now:
            _, sid, what, arg = plan.pop(0)
            if sid in done:
                continue
            try:
                if what == "data":
                    conn.send_data(sid, arg.encode())
                elif what == "trailers":
                    conn.send_headers(sid, [(n.encode(), v.encode())
                                            for n, v in arg], end_stream=True)
                elif what == "end":
                    conn.end_stream(sid)
                else:
                    conn.reset_stream(sid, error_code=8)
                    out[sid]["reset"] = "sent"
                    done.add(sid)
            except Exception as e:  # the stream is closed already
                out[sid]["error"] = repr(e)
            sock.sendall(conn.data_to_send())
        if pending:
            data, pending = pending, b""
        else:
            wait = plan[0][0] - now if plan else 0.2
            ready, _, _ = select.select([sock], [], [], max(0.01, min(wait, 0.2)))
            if not ready:
                continue
            try:
                data = sock.recv(65536)
            except OSError:
                break
            if not data:
                break
        for ev in conn.receive_data(data):
            o = out.get(getattr(ev, "stream_id", None))
            if isinstance(ev, h2.events.ResponseReceived):
                for n, v in ev.headers:
                    if n == b":status":
                        o["status"] = int(v)
                    else:
                        o["headers"].append([n.decode(), v.decode()])
            elif isinstance(ev, h2.events.InformationalResponseReceived):
                o.setdefault("interim", []).append(
                    int(dict(ev.headers).get(b":status", b"0")))
                # The server has begun to read the body: the moment to
                # reset, told by the server, not guessed by a clock.
                if o.get("reset_on_interim") and ev.stream_id not in done:
                    conn.reset_stream(ev.stream_id, error_code=8)
                    o["reset"] = "sent"
                    done.add(ev.stream_id)
                # The server is running the request: its body goes now.
                for at, sid, what, arg in later.pop(ev.stream_id, []):
                    plan.append((time.time() - t0 + at, sid, what, arg))
                plan.sort(key=lambda p: p[0])
            elif isinstance(ev, h2.events.DataReceived):
                o["body"] += ev.data.decode("utf-8", "replace")
                conn.acknowledge_received_data(ev.flow_controlled_length,
                                               ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                done.add(ev.stream_id)
            elif isinstance(ev, h2.events.StreamReset) and o:
                o["reset"] = int(ev.error_code)
                done.add(ev.stream_id)
            elif isinstance(ev, h2.events.ConnectionTerminated):
                for x in out.values():
                    x.setdefault("goaway", int(ev.error_code))
        try:
            sock.sendall(conn.data_to_send())
        except OSError:
            break
    sock.close()
    json.dump(sorted(out.values(), key=lambda o: o["i"]), sys.stdout)


main()
