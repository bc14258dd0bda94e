"""test_gslb.py - GSLB through the real daemon: dynamic names inside a served zone, health
checks against real backends on loopback (TCP, HTTP, HTTPS with a CA made by openssl),
failover timing, broken backends, weighted distribution (chi-square), hash stability,
topology by ECS and by client address, failover groups, EDNS Client Subnet echo and
FORMERR, run-time state changes (external state file; drain, restore and weight through
signpostctl, drains surviving a restart), and configuration errors.

Members answer 127.0.0.1x addresses; their checks go to backends on 127.0.0.1 ports
(check-address/check-port), so an answer names which backend it sends clients to.
Run: SIGNPOST_BUILD=build-dir /usr/bin/python3 -m pytest tests/system/test_gslb.py
"""

import os
import signal
import struct
import subprocess
import time

import dns.flags
import dns.rcode
import dns.rdatatype
import pytest

import dnsutil
import gslb_util as g

CHECK_INTERVAL = 1.0
FALL = 2
RISE = 2


@pytest.fixture
def daemons(tmp_path):
    """Starts GSLB daemons (gslb_util.start_gslb) and stops them at teardown, failing on a
    non-zero exit or sanitizer output."""
    started = []

    def start(gslb_yaml, **kw):
        s = g.start_gslb(os.path.join(str(tmp_path), "d%d" % len(started)), gslb_yaml, **kw)
        started.append(s)
        return s
    yield start
    errors = []
    for s in reversed(started):
        try:
            s.stop(check=True)
        except dnsutil.ServerError as e:
            errors.append(str(e))
    if errors:
        pytest.fail("\n\n".join(errors), pytrace=False)


@pytest.fixture
def backends():
    """Backends started by a test, stopped at teardown whatever happened."""
    made = []

    def add(b):
        made.append(b)
        return b.start()
    yield add
    for b in made:
        b.stop()


def tcp_check(name="tcp", interval=CHECK_INTERVAL, fall=FALL, rise=RISE, extra=""):
    return ("    %s: { type: tcp, interval: %gs, timeout: 500ms, fall: %d, rise: %d%s }\n"
            % (name, interval, fall, rise, extra))


def member(name, last_octet, check=None, port=None, weight=1, extra=""):
    s = "        - { name: %s, address: 127.0.0.%d, weight: %d" % (name, last_octet, weight)
    if check:
        s += ", check: %s, check-address: 127.0.0.1, check-port: %d" % (check, port)
    return s + extra + " }\n"


# ---- answers for dynamic names ----------------------------------------------------------------

def test_dynamic_name_answers_from_its_pool_inside_the_zone(daemons):
    d = daemons("gslb:\n  pools:\n    web:\n      ttl: 17\n      max-answers: 2\n"
                "      members:\n" + member("a", 11) + member("b", 12) + member("c", 13) +
                "        - { name: v6, address6: '2001:db8::7' }\n"
                "  names:\n"
                "    - { name: app.example.test., pool: web, policy: round-robin }\n"
                "    - { name: new.example.test., pool: web, policy: weighted }\n")
    r = g.query(d.port, "app.example.test.")
    assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA
    assert len(r.answer) == 1 and r.answer[0].ttl == 17
    got = g.addresses(r)
    assert len(got) == 2 and set(got) <= {"127.0.0.11", "127.0.0.12", "127.0.0.13"}
    # round-robin: the order rotates from one query to the next
    orders = {tuple(g.addresses(g.query(d.port, "app.example.test."))) for _ in range(6)}
    assert len(orders) >= 2
    r = g.query(d.port, "app.example.test.", "AAAA")
    assert g.addresses(r) == ["2001:db8::7"] and r.answer[0].ttl == 17
    # other types: what the zone holds at the name, else NODATA with the SOA
    r = g.query(d.port, "app.example.test.", "TXT")
    assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA
    assert r.answer[0].rdtype == dns.rdatatype.TXT
    r = g.query(d.port, "app.example.test.", "MX")
    assert r.rcode() == dns.rcode.NOERROR and not r.answer
    assert r.authority[0].rdtype == dns.rdatatype.SOA
    # a dynamic name the zone file does not mention exists all the same
    r = g.query(d.port, "new.example.test.", "A")
    assert r.rcode() == dns.rcode.NOERROR and len(g.addresses(r)) == 2
    r = g.query(d.port, "new.example.test.", "TXT")
    assert r.rcode() == dns.rcode.NOERROR and not r.answer
    assert r.authority[0].rdtype == dns.rdatatype.SOA
    # a CNAME in the zone leads to the dynamic name: the chain ends in pool addresses
    r = g.query(d.port, "alias.example.test.", "A")
    assert r.answer[0].rdtype == dns.rdatatype.CNAME
    assert len(g.addresses(r)) == 2 and r.flags & dns.flags.AA
    # static names and negative answers are untouched
    assert g.addresses(g.query(d.port, "www.example.test.")) == ["192.0.2.10"]
    assert g.query(d.port, "nope.example.test.").rcode() == dns.rcode.NXDOMAIN


# ---- health checks against real backends --------------------------------------------------------

def _https_pki(tmp_path):
    return g.make_pki(os.path.join(str(tmp_path), "pki"))


@pytest.mark.parametrize("kind", ["tcp", "http", "https"])
def test_stopped_backend_leaves_answers_within_interval_times_fall_and_returns(
        daemons, backends, tmp_path, kind):
    pki = _https_pki(tmp_path) if kind == "https" else None
    if kind == "tcp":
        b = backends(g.TcpBackend())
        check = tcp_check("chk")
    elif kind == "http":
        b = backends(g.HttpBackend())
        check = ("    chk: { type: http, path: /health, interval: 1s, timeout: 500ms, "
                 "fall: %d, rise: %d }\n" % (FALL, RISE))
    else:
        b = backends(g.HttpBackend(certfile=pki["cert"], keyfile=pki["key"]))
        check = ("    chk: { type: https, path: /health, interval: 1s, timeout: 500ms, "
                 "fall: %d, rise: %d, ca-file: '%s', sni: %s }\n"
                 % (FALL, RISE, pki["ca"], pki["name"]))
    d = daemons("gslb:\n  checks:\n" + check + "  pools:\n    web:\n      max-answers: 16\n"
                "      members:\n" + member("watched", 11, "chk", b.port) + member("other", 12) +
                "  names:\n    - { name: app.example.test., pool: web, policy: weighted }\n")

    def has_watched():
        return "127.0.0.11" in g.addresses(g.query(d.port, "app.example.test."))
    g.wait_until(has_watched, 5)
    time.sleep(CHECK_INTERVAL * RISE + 0.5)   # a few passing checks first
    assert has_watched()

    b.stop()
    t0 = time.monotonic()
    last_seen = t0
    while time.monotonic() - t0 < CHECK_INTERVAL * FALL + 3:
        if has_watched():
            last_seen = time.monotonic()
        time.sleep(0.02)
    assert last_seen - t0 <= CHECK_INTERVAL * FALL + 1.0, \
        "still answered %.2fs after the backend stopped" % (last_seen - t0)
    assert "is down" in d.log()

    b.start()
    t1 = time.monotonic()
    took = g.wait_until(has_watched, CHECK_INTERVAL * (RISE + 1) + 2)
    assert took >= CHECK_INTERVAL * (RISE - 1) - 0.3, "came back before %d checks passed" % RISE
    # once back, it stays
    for _ in range(20):
        assert has_watched()
        time.sleep(0.02)
    assert time.monotonic() - t1 < 10


def test_broken_backends_count_as_down_for_the_right_reason_and_nothing_blocks(
        daemons, backends, tmp_path):
    pki = _https_pki(tmp_path)
    hang = backends(g.TcpBackend(mode="hang"))
    err500 = backends(g.HttpBackend(status=500))
    badcert = backends(g.HttpBackend(certfile=pki["self_cert"], keyfile=pki["self_key"]))
    huge = backends(g.HttpBackend(body_size=10 * 1024 * 1024))
    checks = ("  checks:\n"
              "    hang: { type: http, interval: 1s, timeout: 800ms, fall: 2, rise: 2 }\n"
              "    e500: { type: http, interval: 1s, timeout: 500ms, fall: 2, rise: 2 }\n"
              "    tls: { type: https, interval: 1s, timeout: 500ms, fall: 2, rise: 2, "
              "ca-file: '%s', sni: %s }\n"
              "    big: { type: http, interval: 1s, timeout: 900ms, fall: 2, rise: 2, "
              "expect-body: 'NEVER-IN-THE-BODY' }\n" % (pki["ca"], pki["name"]))
    pools, names = "  pools:\n", "  names:\n"
    for i, (nm, b) in enumerate([("hang", hang), ("e500", err500), ("tls", badcert),
                                 ("big", huge)]):
        pools += ("    p%s:\n      max-answers: 16\n      members:\n" % nm +
                  member("bad-" + nm, 20 + i, nm, b.port) + member("good", 30 + i))
        names += "    - { name: %s.example.test., pool: p%s, policy: weighted }\n" % (nm, nm)
    pools += "    steady:\n      members:\n" + member("s", 40)
    names += "    - { name: steady.example.test., pool: steady, policy: weighted }\n"
    d = daemons("gslb:\n" + checks + pools + names)

    def all_down():
        for i, nm in enumerate(["hang", "e500", "tls", "big"]):
            got = g.addresses(g.query(d.port, "%s.example.test." % nm))
            assert "127.0.0.%d" % (30 + i) in got
            if "127.0.0.%d" % (20 + i) in got:
                return False
        return True
    g.wait_until(all_down, 8, step=0.1)
    # nothing blocks: while the checks hang and read, other names answer at once
    worst = 0.0
    for _ in range(200):
        t = time.monotonic()
        assert g.addresses(g.query(d.port, "steady.example.test.", timeout=1)) == ["127.0.0.40"]
        assert g.addresses(g.query(d.port, "www.example.test.", timeout=1)) == ["192.0.2.10"]
        worst = max(worst, time.monotonic() - t)
    assert worst < 0.25, "a query took %.3fs" % worst
    log = d.log()
    for member_name, reason in [("bad-hang", "timeout"), ("bad-e500", "status 500"),
                                ("bad-tls", "TLS error"), ("bad-big", "body mismatch")]:
        line = [ln for ln in log.splitlines() if "member %s is down" % member_name in ln]
        assert line and reason in line[0], (member_name, line, log[-3000:])
    # still down later: a check that fails slowly stays failed
    time.sleep(1.5)
    assert all_down()


# ---- distribution and stickiness ------------------------------------------------------------------

def test_weighted_shares_pass_chi_square_over_20000_queries(daemons):
    weights = {11: 1, 12: 2, 13: 3, 14: 4}
    d = daemons("gslb:\n  pools:\n    web:\n      members:\n" +
                "".join(member("m%d" % o, o, weight=w) for o, w in weights.items()) +
                "  names:\n    - { name: app.example.test., pool: web, policy: weighted }\n",
                workers=2)
    c = g.FastClient(d.port, "app.example.test.")
    try:
        firsts = c.first_addresses(20000)
    finally:
        c.close()
    counts = {o: firsts.count("127.0.0.%d" % o) for o in weights}
    assert sum(counts.values()) == 20000
    total_w = sum(weights.values())
    chi2 = sum((counts[o] - 20000 * w / total_w) ** 2 / (20000 * w / total_w)
               for o, w in weights.items())
    # chi-square, 3 degrees of freedom, p = 0.001: 16.266
    assert chi2 < 16.266, (counts, chi2)


def test_hash_keeps_subnets_on_their_member_and_moves_only_the_dead_members_share(
        daemons, backends):
    bs = [backends(g.TcpBackend()) for _ in range(4)]
    d = daemons("gslb:\n  checks:\n" + tcp_check("t", fall=1, rise=1) +
                "  pools:\n    web:\n      members:\n" +
                "".join(member("m%d" % i, 11 + i, "t", b.port) for i, b in enumerate(bs)) +
                "  names:\n    - { name: app.example.test., pool: web, policy: hash }\n")
    subnets = ["10.%d.%d.0/24" % (i // 200, i % 200) for i in range(400)]

    def assignment():
        out = {}
        for s in subnets:
            r = g.query(d.port, "app.example.test.", ecs=s)
            out[s] = g.addresses(r)[0]
            assert g.answer_ecs(r) == (s.split("/")[0], 24, 24)
        return out
    time.sleep(1.2)
    first = assignment()
    assert assignment() == first                 # the same subnet keeps its member
    shares = {a: sum(1 for v in first.values() if v == a) for a in set(first.values())}
    assert len(shares) == 4 and min(shares.values()) > 40, shares
    # no ECS: the client address decides, stable too
    ask = lambda src: g.addresses(g.query(d.port, "app.example.test.", source=src))  # noqa
    assert ask("127.0.0.2") == ask("127.0.0.2")

    bs[1].stop()                                 # member m1 (127.0.0.12) dies
    g.wait_until(lambda: "127.0.0.12" not in
                 {g.addresses(g.query(d.port, "app.example.test.", ecs=s))[0]
                  for s in subnets[:80]}, 5)
    after = assignment()
    moved = [s for s in subnets if after[s] != first[s]]
    assert all(first[s] == "127.0.0.12" for s in moved)       # only the dead member's clients
    assert len(moved) == shares["127.0.0.12"]                  # ... and all of them
    bs[1].start()
    g.wait_until(lambda: assignment() == first, 6, step=0.2)   # they come back


def test_topology_by_ecs_and_by_client_address_echoes_the_matched_scope(daemons):
    d = daemons("gslb:\n  pools:\n    cdn:\n      members:\n"
                "        - { name: eu1, address: 127.0.0.11, region: eu }\n"
                "        - { name: us1, address: 127.0.0.12, region: us }\n"
                "  topology:\n"
                "    - { subnet: 10.0.0.0/8, region: eu }\n"
                "    - { subnet: 10.20.0.0/16, region: us }\n"
                "    - { subnet: 127.0.0.2/32, region: eu }\n"
                "    - { subnet: 127.0.0.3/32, region: us }\n"
                "  region-order: [eu, us]\n"
                "  names:\n    - { name: app.example.test., pool: cdn, policy: topology }\n")
    r = g.query(d.port, "app.example.test.", ecs="10.1.2.0/24")
    assert g.addresses(r) == ["127.0.0.11"] and g.answer_ecs(r) == ("10.1.2.0", 24, 8)
    r = g.query(d.port, "app.example.test.", ecs="10.20.5.0/24")   # longest prefix wins
    assert g.addresses(r) == ["127.0.0.12"] and g.answer_ecs(r) == ("10.20.5.0", 24, 16)
    # without ECS the client's own address decides
    assert g.addresses(g.query(d.port, "app.example.test.", source="127.0.0.2")) == ["127.0.0.11"]
    assert g.addresses(g.query(d.port, "app.example.test.", source="127.0.0.3")) == ["127.0.0.12"]
    # ECS wins over the address the query came from (the resolver's)
    r = g.query(d.port, "app.example.test.", source="127.0.0.3", ecs="10.9.0.0/16")
    assert g.addresses(r) == ["127.0.0.11"] and g.answer_ecs(r)[2] == 8
    # source prefix 0: the client opted out; the resolver's address decides, scope 0
    r = g.query(d.port, "app.example.test.", source="127.0.0.3", ecs="0.0.0.0/0")
    assert g.addresses(r) == ["127.0.0.12"] and g.answer_ecs(r) == ("0.0.0.0", 0, 0)


# ---- failover groups --------------------------------------------------------------------------------

def test_failover_primary_then_backup_then_fallback(daemons, backends):
    p1, p2, b1 = (backends(g.TcpBackend()) for _ in range(3))
    d = daemons("gslb:\n  checks:\n" + tcp_check("t", fall=1, rise=1) +
                "  pools:\n    api:\n      max-answers: 4\n      fallback: pool:sorry\n"
                "      members:\n" +
                member("p1", 11, "t", p1.port, extra=", priority: 1") +
                member("p2", 12, "t", p2.port, extra=", priority: 1") +
                member("b1", 21, "t", b1.port, extra=", priority: 2") +
                "    sorry:\n      ttl: 5\n      members:\n" + member("sorry", 99) +
                "  names:\n    - { name: app.example.test., pool: api, policy: failover }\n")

    def answer():
        r = g.query(d.port, "app.example.test.")
        return set(g.addresses(r)), r.answer[0].ttl
    time.sleep(1.2)
    for _ in range(10):
        assert answer()[0] == {"127.0.0.11", "127.0.0.12"}   # primary healthy: only primary
    p1.stop()
    g.wait_until(lambda: answer()[0] == {"127.0.0.12"}, 4)  # the group still has min-healthy 1
    p2.stop()
    g.wait_until(lambda: answer()[0] == {"127.0.0.21"}, 4)  # primary down: backup
    b1.stop()
    g.wait_until(lambda: answer() == ({"127.0.0.99"}, 5), 4)  # all down: the sorry pool
    p2.start()
    g.wait_until(lambda: answer()[0] == {"127.0.0.12"}, 4)  # primary back: it answers again


# ---- EDNS Client Subnet ---------------------------------------------------------------------------

SIMPLE = ("gslb:\n  pools:\n    web:\n      members:\n" + member("a", 11) +
          "  names:\n    - { name: app.example.test., pool: web, policy: hash }\n")


def test_ecs_is_echoed_on_static_negative_and_dynamic_answers(daemons):
    d = daemons(SIMPLE)
    for name, rdtype, rcode in [("www.example.test.", "A", dns.rcode.NOERROR),
                                ("nope.example.test.", "A", dns.rcode.NXDOMAIN),
                                ("www.example.test.", "MX", dns.rcode.NOERROR),
                                ("app.example.test.", "TXT", dns.rcode.NOERROR),
                                ("app.example.test.", "MX", dns.rcode.NOERROR),
                                ("host.sub.example.test.", "A", dns.rcode.NOERROR),
                                ("other.zone.", "A", dns.rcode.REFUSED)]:
        for tcp in (False, True):
            r = g.query(d.port, name, rdtype, ecs="198.51.100.0/24", tcp=tcp)
            assert r.rcode() == rcode, (name, rdtype)
            assert g.answer_ecs(r) == ("198.51.100.0", 24, 0), (name, rdtype, tcp)
    r = g.query(d.port, "app.example.test.", ecs="198.51.100.0/24")
    assert g.answer_ecs(r) == ("198.51.100.0", 24, 24)
    r = g.query(d.port, "app.example.test.", "AAAA", ecs="2001:db8:1234::/48")
    # NODATA (no member has an IPv6 address): the same for every client, scope 0
    assert not r.answer and g.answer_ecs(r) == ("2001:db8:1234::", 48, 0)
    r = g.query(d.port, "app.example.test.")
    assert g.answer_ecs(r) is None                              # none asked, none sent


def _raw_query_with_option(code, payload):
    q = dnsutil.make_query("www.example.test.", "A", edns=0)
    wire = bytearray(dnsutil.to_wire(q))
    # the OPT RR is last: patch its RDLENGTH and append the option
    opt = struct.pack("!HH", code, len(payload)) + payload
    assert wire[-2:] == b"\x00\x00"
    wire[-2:] = struct.pack("!H", len(opt))
    return bytes(wire) + opt


@pytest.mark.parametrize("what,payload", [
    ("v4 source prefix above 32", struct.pack("!HBB", 1, 33, 0) + b"\x0a\x00\x00\x00\x00"),
    ("v6 source prefix above 128", struct.pack("!HBB", 2, 129, 0) + b"\x20" + b"\x00" * 16),
    ("bits set beyond the prefix", struct.pack("!HBB", 1, 20, 0) + b"\x0a\x01\x0f"),
    ("scope non-zero in a query", struct.pack("!HBB", 1, 24, 24) + b"\x0a\x01\x02"),
    ("too many address octets", struct.pack("!HBB", 1, 16, 0) + b"\x0a\x01\x00"),
    ("too few address octets", struct.pack("!HBB", 1, 24, 0) + b"\x0a\x01"),
    ("unknown family", struct.pack("!HBB", 3, 8, 0) + b"\x0a"),
    ("shorter than the fixed part", b"\x00\x01\x18"),
])
def test_malformed_ecs_gets_formerr(daemons, what, payload):
    d = daemons(SIMPLE)
    r = dnsutil.parse(d.query_raw(_raw_query_with_option(8, payload)))
    assert r is not None and r.rcode() == dns.rcode.FORMERR, what
    ok = _raw_query_with_option(8, struct.pack("!HBB", 1, 20, 0) + b"\x0a\x01\x00")
    r = dnsutil.parse(d.query_raw(ok))
    assert r.rcode() == dns.rcode.NOERROR and g.answer_ecs(r) == ("10.1.0.0", 20, 0)


# ---- run-time state ---------------------------------------------------------------------------------

def test_external_state_file_takes_members_out_and_back(daemons, tmp_path):
    # The other signal-free way to change state at run time (signpostctl below is the
    # first): an external check's watched file, replaced with a rename.
    state = os.path.join(str(tmp_path), "ext-state")
    with open(state, "w") as f:
        f.write("a up\nb up\n")
    d = daemons("gslb:\n  checks:\n    ext: { type: external, interval: 200ms, timeout: 100ms, file: '%s' }\n"
                "  pools:\n    web:\n      max-answers: 4\n      members:\n"
                "        - { name: a, address: 127.0.0.11, check: ext }\n"
                "        - { name: b, address: 127.0.0.12, check: ext }\n"
                "  names:\n    - { name: app.example.test., pool: web, policy: weighted }\n"
                % state)
    got = lambda: set(g.addresses(g.query(d.port, "app.example.test.")))  # noqa: E731

    def write(text):
        with open(state + ".tmp", "w") as f:
            f.write(text)
        os.rename(state + ".tmp", state)
    g.wait_until(lambda: got() == {"127.0.0.11", "127.0.0.12"}, 3)
    write("a down\nb up\n")
    g.wait_until(lambda: got() == {"127.0.0.12"}, 3)
    write("a up\nb up\n")
    g.wait_until(lambda: got() == {"127.0.0.11", "127.0.0.12"}, 3)
    write("a up\nb up\nthis line is malformed\n")   # reported; changes nothing
    time.sleep(0.8)
    assert got() == {"127.0.0.11", "127.0.0.12"}


def _ctl(d, *args):
    r = subprocess.run([os.path.join(dnsutil.build_dir(), "signpostctl"), "-c", d.conf_path] +
                       list(args), capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout + r.stderr


def test_drain_restore_and_weight_through_signpostctl_and_drain_survives_restart(
        tmp_path):
    if not os.access(os.path.join(dnsutil.build_dir(), "signpostctl"), os.X_OK):
        pytest.skip("signpostctl not built")
    y = ("gslb:\n  pools:\n    web:\n      members:\n" + member("a", 11) + member("b", 12) +
         "  names:\n    - { name: app.example.test., pool: web, policy: weighted }\n")
    workdir = os.path.join(str(tmp_path), "ctl")
    d = g.start_gslb(workdir, y)
    try:
        c = g.FastClient(d.port, "app.example.test.")
        share = lambda n: c.first_addresses(n)  # noqa: E731
        assert set(share(200)) == {"127.0.0.11", "127.0.0.12"}
        assert _ctl(d, "gslb", "drain", "web", "a")[0] == 0
        assert set(share(200)) == {"127.0.0.12"}          # out at once, no answer has it
        rc, out = _ctl(d, "gslb", "drain", "web", "nobody")
        assert rc == 1, out
        assert _ctl(d, "gslb", "weight", "web", "b", "0")[0] == 1   # 1..65535
        assert _ctl(d, "gslb", "restore", "web", "a")[0] == 0
        assert set(share(200)) == {"127.0.0.11", "127.0.0.12"}
        assert _ctl(d, "gslb", "weight", "web", "a", "65535")[0] == 0
        got = share(1000)
        assert got.count("127.0.0.11") > 990, got.count("127.0.0.11")
        assert _ctl(d, "gslb", "drain", "web", "b")[0] == 0
        c.close()
    finally:
        d.stop(check=True)
    # the drain (and the weight) persist in the state directory across a restart
    d2 = g.start_gslb(workdir, y)
    try:
        c = g.FastClient(d2.port, "app.example.test.")
        assert set(c.first_addresses(200)) == {"127.0.0.11"}
        c.close()
    finally:
        d2.stop(check=True)


# ---- configuration -----------------------------------------------------------------------------------

def test_dynamic_name_outside_the_served_zones_is_a_config_error_with_its_line(tmp_path):
    rc, out = g.run_check_config(str(tmp_path), SIMPLE.replace("app.example.test.",
                                                               "app.elsewhere.test."))
    assert rc != 0
    assert "signpost.conf:" in out and "app.elsewhere.test." in out and "not inside" in out
    line = int(out.split("signpost.conf:")[1].split(":")[0])
    with open(os.path.join(str(tmp_path), "signpost.conf")) as f:
        assert "app.elsewhere.test." in f.read().splitlines()[line - 1]


def test_unknown_pool_is_a_config_error(tmp_path):
    rc, out = g.run_check_config(str(tmp_path), SIMPLE.replace("pool: web", "pool: nowhere"))
    assert rc != 0 and "nowhere" in out and "signpost.conf:" in out


def test_dynamic_name_below_a_delegation_refuses_to_start(tmp_path):
    s = g.start_gslb(str(tmp_path), SIMPLE.replace("app.example.test.", "x.sub.example.test."),
                     wait=False)
    try:
        s.proc.wait(timeout=15)
    finally:
        s.stop(check=False)
    assert s.returncode != 0
    assert "x.sub.example.test." in s.log() and "delegation" in s.log()


def test_reload_applies_a_new_pool_and_a_broken_one_keeps_the_running(daemons):
    d = daemons(SIMPLE)
    assert g.addresses(g.query(d.port, "app.example.test.")) == ["127.0.0.11"]
    with open(d.conf_path) as f:
        text = f.read()
    with open(d.conf_path, "w") as f:
        f.write(text.replace("address: 127.0.0.11", "address: 127.0.0.55"))
    d.signal(signal.SIGHUP)
    g.wait_until(lambda: g.addresses(g.query(d.port, "app.example.test.")) == ["127.0.0.55"], 5)
    with open(d.conf_path, "w") as f:
        f.write(text.replace("pool: web", "pool: missing"))
    d.signal(signal.SIGHUP)
    g.wait_until(lambda: "running configuration stays" in d.log(), 5)
    assert g.addresses(g.query(d.port, "app.example.test.")) == ["127.0.0.55"]
    with open(d.conf_path, "w") as f:                  # passes parsing, fails the zone check
        f.write(text.replace("app.example.test.", "y.sub.example.test."))
    d.signal(signal.SIGHUP)
    g.wait_until(lambda: "running GSLB configuration stays" in d.log(), 5)
    assert g.addresses(g.query(d.port, "app.example.test.")) == ["127.0.0.55"]


# ---- GeoIP topology on a real .mmdb -----------------------------------------------------------

MAKE_MMDB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "helpers", "make-mmdb.pl")


def _make_mmdb(tmp_path):
    """A GeoIP2-Country-shaped database from helpers/make-mmdb.pl: 127.0.1.0/24 and
    2001:db8:1::/48 DE, 127.0.2.0/24 US, 127.0.3.0/24 FR. Skips without the Perl writer."""
    if subprocess.run(["perl", "-MMaxMind::DB::Writer::Tree", "-e", "1"],
                      stderr=subprocess.DEVNULL).returncode != 0:
        pytest.skip("perl MaxMind::DB::Writer::Tree missing: apt-get install "
                    "libmaxmind-db-writer-perl (tools/install-deps)")
    path = os.path.join(str(tmp_path), "geo.mmdb")
    subprocess.run(["perl", MAKE_MMDB, path], check=True, timeout=60)
    return path


def test_geoip_topology_by_source_address_and_ecs_echoes_the_network_scope(daemons, tmp_path):
    mmdb = _make_mmdb(tmp_path)
    d = daemons("gslb:\n  pools:\n    cdn:\n      members:\n"
                "        - { name: eu1, address: 127.0.0.11, region: eu }\n"
                "        - { name: us1, address: 127.0.0.12, region: us }\n"
                "        - { name: ap1, address: 127.0.0.13, region: ap }\n"
                "  region-order: [ap]\n"
                "  geoip: %s\n"
                "  geoip-regions: { DE: eu, US: us }\n"
                "  names:\n    - { name: app.example.test., pool: cdn, policy: topology }\n"
                % mmdb)
    name = "app.example.test."
    # The query's source address decides without ECS: DE -> eu, US -> us.
    for i in (1, 77, 254):
        r = g.query(d.port, name, source="127.0.1.%d" % i)
        assert g.addresses(r) == ["127.0.0.11"] and g.answer_ecs(r) is None
        assert g.addresses(g.query(d.port, name, source="127.0.2.%d" % i)) == ["127.0.0.12"]
    # FR has no region, 127.0.0.2 no network: the global region-order (ap).
    assert g.addresses(g.query(d.port, name, source="127.0.3.9")) == ["127.0.0.13"]
    assert g.addresses(g.query(d.port, name, source="127.0.0.2")) == ["127.0.0.13"]
    # ECS decides over the source address; the scope is the database network's prefix
    # (RFC 7871 7.2.1), for IPv4 counted in IPv4 bits (24, not the tree's 120).
    r = g.query(d.port, name, source="127.0.2.5", ecs="127.0.1.0/24")
    assert g.addresses(r) == ["127.0.0.11"] and g.answer_ecs(r) == ("127.0.1.0", 24, 24)
    r = g.query(d.port, name, source="127.0.1.5", ecs="127.0.2.9/32")
    assert g.addresses(r) == ["127.0.0.12"] and g.answer_ecs(r) == ("127.0.2.9", 32, 24)
    r = g.query(d.port, name, ecs="2001:db8:1:4400::/56")
    assert g.addresses(r) == ["127.0.0.11"] and g.answer_ecs(r) == ("2001:db8:1:4400::", 56, 48)
    # No region for the subnet: the whole source prefix is the scope.
    r = g.query(d.port, name, source="127.0.1.5", ecs="127.0.3.0/24")
    assert g.addresses(r) == ["127.0.0.13"] and g.answer_ecs(r) == ("127.0.3.0", 24, 24)
    r = g.query(d.port, name, source="127.0.1.5", ecs="198.51.0.0/16")
    assert g.addresses(r) == ["127.0.0.13"] and g.answer_ecs(r) == ("198.51.0.0", 16, 16)


def test_geoip_file_that_is_not_a_database_is_a_config_error(tmp_path):
    bad = os.path.join(str(tmp_path), "bad.mmdb")
    with open(bad, "w") as f:
        f.write("not a maxmind database\n")
    rc, out = g.run_check_config(os.path.join(str(tmp_path), "w"),
                                 "gslb:\n  pools:\n    cdn:\n      members:\n"
                                 "        - { name: eu1, address: 127.0.0.11, region: eu }\n"
                                 "  geoip: %s\n  geoip-regions: { DE: eu }\n"
                                 "  names:\n    - { name: app.example.test., pool: cdn,"
                                 " policy: topology }\n" % bad)
    assert rc != 0 and "gslb.geoip" in out and bad in out
