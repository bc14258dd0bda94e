"""test_abuse_rrl.py - response rate limiting (server/rrl.c, docs/abuse.md) against the real
daemon on loopback: a flood of 50,000 queries from one address is held to the configured
rate with the configured slip ratio while clients in other prefixes are answered normally;
slip 1 and slip 0; the whitelist; TCP is never limited; valid cookies can be exempted.

The flood comes from tests/system/helpers/udpflood.py (plain sockets at ~20k queries/s, one
source address), run as its own process so the clients measured here are not slowed by it.

Run: SIGNPOST_BUILD=/work/main/build /usr/bin/python3 -m pytest tests/system/test_abuse_rrl.py
"""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import dns.edns
import dns.flags
import dns.message
import dns.query
import dns.rcode
import pytest

import dnsutil

ZONE = "example."
ZONE_TEXT = """$ORIGIN example.
$TTL 300
@ IN SOA ns1 hostmaster 1 3600 600 86400 300
@ IN NS ns1
ns1 IN A 127.0.0.1
www IN A 192.0.2.1
sub IN NS ns.sub
ns.sub IN A 192.0.2.53
"""
FLOOD = os.path.join(os.path.dirname(__file__), "helpers", "udpflood.py")
FLOODER = "127.0.0.2"
NEIGHBOUR = "127.0.0.9"      # the flooder's /24: shares its buckets
OTHER = "127.1.0.3"          # another /24: its own buckets


def start(signpost, rrl, workers=2, extra=""):
    yaml = "rrl:\n" + "".join("  %s: %s\n" % kv for kv in rrl.items()) + extra
    mport = dnsutil.free_port()
    yaml += "metrics:\n  listen: 127.0.0.1@%d\n" % mport
    s = signpost([(ZONE, "example.zone", ZONE_TEXT)], workers=workers, extra_yaml=yaml)
    s.metrics_port = mport
    return s


def metric(s, name):
    """The value of a counter on the daemon's /metrics."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % s.metrics_port, timeout=5) as f:
        for line in f.read().decode().splitlines():
            if line.startswith(name + " "):
                return int(float(line.split()[1]))
    raise AssertionError("no %s on /metrics" % name)


def query_wire(name="www.example.", rdtype="A"):
    q = dns.message.make_query(name, rdtype)
    q.flags = 0
    return q.to_wire().hex()


def flood(port, count, seconds, src=FLOODER, wire=None):
    out = subprocess.run([sys.executable, FLOOD, src, str(port), str(count), str(seconds),
                          wire or query_wire()], capture_output=True, text=True,
                         timeout=seconds + 30)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def ask(port, src, name="www.example.", rdtype="A", tcp=False, timeout=1.0, options=None):
    q = dns.message.make_query(name, rdtype, use_edns=0 if options else None,
                               options=options or None)
    q.flags = 0
    try:
        if tcp:
            return dns.query.tcp(q, "127.0.0.1", port=port, source=src, timeout=timeout)
        return dns.query.udp(q, "127.0.0.1", port=port, source=src, timeout=timeout)
    except dns.exception.Timeout:
        return None


def burst(port, src, messages, quiet=0.5):
    """Sends every message at once from src over UDP and returns the answers that came
    back (parsed), waiting until nothing has arrived for `quiet` seconds."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((src, 0))
        for i, m in enumerate(messages):
            m.id = i
            s.sendto(m.to_wire(), ("127.0.0.1", port))
        got = []
        s.settimeout(quiet)
        while True:
            try:
                got.append(dns.message.from_wire(s.recv(4096)))
            except socket.timeout:
                return got
    finally:
        s.close()


def make(name="www.example.", rdtype="A", options=None):
    q = dns.message.make_query(name, rdtype, use_edns=0 if options else None,
                               options=options or None)
    q.flags = 0
    return q


def normal(r):
    return (r is not None and r.rcode() == dns.rcode.NOERROR and not r.flags & dns.flags.TC
            and len(r.answer) == 1)


class Client(threading.Thread):
    """Asks every interval from src until stopped; records what came back."""

    def __init__(self, port, src, interval=0.02, tcp=False, timeout=1.0):
        super().__init__(daemon=True)
        self.port, self.src, self.interval, self.tcp = port, src, interval, tcp
        self.timeout = timeout
        self.results, self.times = [], []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            t = time.monotonic()
            self.results.append(ask(self.port, self.src, tcp=self.tcp, timeout=self.timeout))
            self.times.append(t)
            self.stop.wait(self.interval)


def test_a_flood_from_one_address_is_held_to_the_rate_with_every_second_answer_slipped(
        signpost):
    rate = 100
    s = start(signpost, {"responses-per-second": rate, "slip": 2})
    other = Client(s.port, OTHER)
    neighbour = Client(s.port, NEIGHBOUR, interval=0.05, timeout=0.2)
    other.start()
    time.sleep(0.2)
    neighbour.start()
    t0 = time.monotonic()
    try:
        f = flood(s.port, 50000, 2.5)
    finally:
        other.stop.set()
        neighbour.stop.set()
        other.join(5)
        neighbour.join(5)
    dur = f["duration"]
    assert f["sent"] == 50000 and f["other"] == 0, f["other"]
    # The rate: one second of burst at the start, then `rate` a second.
    assert 0.8 * rate * dur <= f["answers"] <= rate * (dur + 1) * 1.15 + 10, (f["answers"], dur)
    # ... throughout: no second-long window after the first holds more than the rate.
    times = f["normal_times"]
    for w in range(1, int(dur)):
        in_window = sum(1 for t in times if w <= t < w + 1)
        assert in_window <= rate * 1.2 + 5, (w, in_window)
    # The slip: every second limited answer comes back truncated, the others are dropped.
    limited = f["sent"] - f["answers"]
    assert abs(f["tc"] - limited / 2) <= 0.05 * limited, (f["tc"], limited)
    # The other prefix was answered normally all along, the flooder's neighbour was not.
    assert len(other.results) >= 50
    assert all(normal(r) for r in other.results), \
        [r and (r.rcode(), r.flags) for r in other.results if not normal(r)][:5]
    # (asked while the flood certainly ran: it starts within half a second)
    during = [r for r, t in zip(neighbour.results, neighbour.times)
              if t0 + 0.5 <= t <= t0 + dur - 0.2]
    assert len(during) >= 10
    assert sum(normal(r) for r in during) <= 2, [normal(r) for r in during]
    # The server's counters agree with what the clients saw (the neighbour was limited too).
    n_tc = sum(1 for r in neighbour.results if r is not None and r.flags & dns.flags.TC)
    n_limited = sum(1 for r in neighbour.results if not normal(r))
    assert abs(metric(s, "signpost_rrl_slipped_total") - (f["tc"] + n_tc)) <= 5
    assert abs(metric(s, "signpost_rrl_limited_total") - (limited + n_limited)) <= 0.01 * limited


@pytest.mark.parametrize("slip", [0, 1])
def test_slip_zero_drops_every_limited_answer_and_slip_one_truncates_them_all(signpost, slip):
    s = start(signpost, {"responses-per-second": 20, "slip": slip}, workers=1)
    f = flood(s.port, 5000, 0.5)
    limited = f["sent"] - f["answers"]
    assert f["answers"] <= 20 * 2.5 and limited >= 4900
    if slip == 0:
        assert f["tc"] == 0
    else:
        assert f["tc"] >= 0.97 * limited, (f["tc"], limited)


def test_a_slipped_answer_is_the_question_alone_with_tc(signpost):
    s = start(signpost, {"responses-per-second": 1, "slip": 1}, workers=1)
    first = ask(s.port, FLOODER)
    assert normal(first)
    r = None
    for _ in range(5):
        r = ask(s.port, FLOODER)
        if r is not None and r.flags & dns.flags.TC:
            break
    assert r is not None and r.flags & dns.flags.TC, r
    assert r.rcode() == dns.rcode.NOERROR
    assert not r.answer and not r.authority and not r.additional
    assert not r.flags & dns.flags.AA
    assert r.question[0].name.to_text() == "www.example."
    # The same address over TCP is answered in full: TCP is never limited.
    for _ in range(30):
        assert normal(ask(s.port, FLOODER, tcp=True))


def test_whitelisted_prefixes_are_not_limited(signpost):
    s = start(signpost, {"responses-per-second": 5, "slip": 2,
                         "whitelist": "[%s/32, '::1/128']" % FLOODER})
    f = flood(s.port, 3000, 0.5)
    assert f["answers"] >= 2950 and f["tc"] == 0, (f["answers"], f["tc"])
    f = flood(s.port, 3000, 0.5, src=NEIGHBOUR)     # same /24, not listed
    assert f["answers"] <= 20


def test_nxdomain_is_limited_per_zone_whatever_the_name(signpost):
    s = start(signpost, {"responses-per-second": 10, "slip": 0}, workers=1)
    got = burst(s.port, FLOODER, [make("nx%d.example." % i) for i in range(40)])
    answered = sum(r.rcode() == dns.rcode.NXDOMAIN for r in got)
    # Random names share the zone's bucket: about the burst, not 40.
    assert 10 <= answered <= 12, answered
    # An existing name is another class: still answered.
    assert normal(ask(s.port, FLOODER))


def test_valid_cookies_can_be_exempt(signpost):
    s = start(signpost, {"responses-per-second": 2, "slip": 0, "exempt-valid-cookies": "true"},
              workers=1, extra="cookies:\n  secret: e5e973e5a6b2a43f48e7dc849e37bfcf\n")
    r = ask(s.port, FLOODER, options=[dns.edns.GenericOption(10, bytes.fromhex("0102030405060708"))])
    cookie = [o for o in r.options if o.otype == 10][0].data
    got = burst(s.port, FLOODER, [make(options=[dns.edns.GenericOption(10, cookie)])
                                  for _ in range(30)])
    assert sum(normal(r) for r in got) == 30
    got = burst(s.port, FLOODER, [make() for _ in range(30)])
    assert sum(normal(r) for r in got) <= 3, len(got)


# ---- reloads ------------------------------------------------------------------------------------

def reload(s):
    """SIGHUP, and wait (bounded) until the daemon says the reload is done."""
    before = s.log().count("reload complete")
    s.signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while s.log().count("reload complete") == before:
        assert time.monotonic() < deadline and s.alive(), s.log()[-2000:]
        time.sleep(0.02)


def test_a_reload_with_the_same_rrl_settings_keeps_the_buckets(signpost):
    rate = 10
    s = start(signpost, {"responses-per-second": rate, "slip": 0}, workers=1)
    got = burst(s.port, FLOODER, [make() for _ in range(40)], quiet=0.2)
    assert rate <= sum(normal(r) for r in got) <= rate + 2
    t0 = time.monotonic()
    reload(s)
    got = burst(s.port, FLOODER, [make() for _ in range(40)], quiet=0.2)
    # The bucket only refilled for the time since the first burst (~rate per second),
    # not to a full second's worth as a new table would give.
    refill = (time.monotonic() - t0 + 0.3) * rate
    n = sum(normal(r) for r in got)
    assert n <= min(refill + 2, rate - 1), (n, refill)


def test_a_reload_with_other_rrl_settings_starts_afresh(signpost):
    s = start(signpost, {"responses-per-second": 10, "slip": 0}, workers=1)
    got = burst(s.port, FLOODER, [make() for _ in range(40)], quiet=0.2)
    assert 10 <= sum(normal(r) for r in got) <= 12
    with open(s.conf_path) as f:
        text = f.read()
    with open(s.conf_path, "w") as f:
        f.write(text.replace("responses-per-second: 10", "responses-per-second: 30"))
    reload(s)
    got = burst(s.port, FLOODER, [make() for _ in range(60)], quiet=0.2)
    assert 30 <= sum(normal(r) for r in got) <= 33
