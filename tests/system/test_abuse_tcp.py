"""test_abuse_tcp.py - TCP under abuse (server/tcp.c; docs/abuse.md): 1,000 idle connections
do not stop UDP or new TCP clients from being answered, and slowloris clients that trickle a
query a byte a second are cut off by the message timeout without slowing anyone else.

The idle connections come from 50 source addresses (127.0.2.1-50, 20 each) so that the
per-client limit (tcp-max-per-client, 32 by default) is not what is being tested.

Run: SIGNPOST_BUILD=/work/main/build /usr/bin/python3 -m pytest tests/system/test_abuse_tcp.py
"""

import select
import socket
import struct
import threading
import time

import dns.flags
import dns.message
import dns.query
import dns.rcode

ZONE = "example."
ZONE_TEXT = """$ORIGIN example.
$TTL 300
@ IN SOA ns1 hostmaster 1 3600 600 86400 300
@ IN NS ns1
ns1 IN A 127.0.0.1
www IN A 192.0.2.1
"""


def start(signpost, **server):
    return signpost([(ZONE, "example.zone", ZONE_TEXT)], workers=2, extra_server=server)


def frame(q):
    w = q.to_wire()
    return struct.pack("!H", len(w)) + w


def answered(r):
    return r is not None and r.rcode() == dns.rcode.NOERROR and len(r.answer) == 1


def query(port, tcp, src="127.0.0.1", timeout=2.0):
    q = dns.message.make_query("www.example.", "A")
    t0 = time.monotonic()
    if tcp:
        r = dns.query.tcp(q, "127.0.0.1", port=port, source=src, timeout=timeout)
    else:
        r = dns.query.udp(q, "127.0.0.1", port=port, source=src, timeout=timeout)
    return r, time.monotonic() - t0


def open_idle(port, n, per_addr=20):
    socks = []
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.2.%d" % (1 + i // per_addr), 0))
        s.settimeout(5)
        s.connect(("127.0.0.1", port))
        socks.append(s)
    return socks


def closed(socks):
    """The sockets among socks the server has closed (readable at EOF)."""
    out = []
    r, _, _ = select.select(socks, [], [], 0.2)
    for s in r:
        try:
            if s.recv(1, socket.MSG_PEEK) == b"":
                out.append(s)
        except OSError:
            out.append(s)
    return out


def test_a_thousand_idle_connections_do_not_stop_udp_or_new_tcp_clients(signpost):
    d = start(signpost, **{"tcp-max-connections": 1500, "tcp-idle-timeout": 60})
    socks = open_idle(d.port, 1000)
    try:
        time.sleep(0.5)
        # The server holds them all (none refused over a limit).
        assert closed(socks) == []
        for i in range(20):
            r, dt = query(d.port, tcp=False)
            assert answered(r) and dt < 0.5, dt
            r, dt = query(d.port, tcp=True, src="127.0.3.%d" % (1 + i))
            assert answered(r) and dt < 0.5, dt
        # ... and they still work: a query on a few of them is answered.
        for s in socks[::100]:
            s.sendall(frame(dns.message.make_query("www.example.", "A")))
            (n,) = struct.unpack("!H", s.recv(2, socket.MSG_WAITALL))
            assert answered(dns.message.from_wire(s.recv(n, socket.MSG_WAITALL)))
        assert closed(socks) == []
    finally:
        for s in socks:
            s.close()


def test_slowloris_clients_are_cut_off_by_the_message_timeout_and_others_are_answered(
        signpost):
    # The idle timeout (10 s) is not what cuts them: a byte a second keeps a connection
    # from ever being idle. A message must complete within 5 s of its first octet.
    d = start(signpost, **{"tcp-idle-timeout": "10s"})
    wire = frame(dns.message.make_query("www.example.", "A"))
    slow = []
    for i in range(10):
        s = socket.create_connection(("127.0.0.1", d.port), timeout=3,
                                     source_address=("127.0.4.%d" % (1 + i), 0))
        slow.append(s)
    cut = {}
    stop = threading.Event()
    ok, bad = [], []

    def normal_client():
        i = 0
        while not stop.is_set():
            r, dt = query(d.port, tcp=True, src="127.0.5.1")
            (ok if answered(r) and dt < 0.5 else bad).append(dt)
            i += 1
            stop.wait(0.1)

    t = threading.Thread(target=normal_client, daemon=True)
    t.start()
    t0 = time.monotonic()
    try:
        # One byte a second from each: the query would take len(wire) seconds to arrive.
        for k in range(len(wire)):
            for s in slow:
                if s in cut:
                    continue
                try:
                    s.sendall(wire[k:k + 1])
                except OSError:
                    cut[s] = time.monotonic() - t0
            for s in closed([s for s in slow if s not in cut]):
                cut[s] = time.monotonic() - t0
            if len(cut) == len(slow):
                break
            time.sleep(1)
    finally:
        stop.set()
        t.join(5)
        for s in slow:
            s.close()
    # All cut off once the message had been arriving for the 5 s bound, long before the
    # ~30 s the query would have taken.
    assert len(cut) == len(slow), cut
    assert all(4.5 <= v <= 7.5 for v in cut.values()), sorted(cut.values())
    # The ordinary client was answered promptly the whole time.
    assert len(ok) >= 10 and not bad, bad
