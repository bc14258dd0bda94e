"""test_malformed.py - malformed and hostile queries against signpostd.

1. corpus/malformed.txt (built by corpus/make_malformed.py: 60+ packets: truncated headers,
   bad counts, bad labels and names, compression pointers in the question, bad OPT records,
   QR=1, unknown opcodes, trailing bytes, TCP framing errors) goes to NSD, Knot and signpostd
   over UDP and TCP. The verdict compared is the response code, or "noanswer". Where NSD
   and Knot agree signpostd must agree; where they differ the corpus states the expected
   verdict (EXPECT column) and the disagreements are written to a report. A verdict marked
   "!" is a stated deviation where they agree (an RFC requirement of a feature they run
   without), listed in the report too.
2. After the corpus, and after 60 s (SIGNPOST_FUZZ_SECONDS) of random and mutated queries at a
   bounded rate over UDP plus a few hundred TCP connections carrying garbage, signpostd still
   answers a good query correctly, has not exited, and (module teardown) exits 0 on SIGTERM
   with no ASan/UBSan report. Run with SIGNPOST_BUILD=/work/main/build-asan for the sanitizers.
"""

import os
import random
import socket
import struct
import time

import dns.flags
import dns.rcode
import pytest

import dnsutil

CORPUS = os.path.join(dnsutil.CORPUS_DIR, "malformed.txt")
FUZZ_SECONDS = float(os.environ.get("SIGNPOST_FUZZ_SECONDS", "60"))
FUZZ_RATE = 2000          # datagrams per second, at most
UDP_TIMEOUT, TCP_TIMEOUT = 0.6, 1.5


def read_corpus():
    out = []
    with open(CORPUS) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            pid, transports, expect, hexdata = line.split()
            data = b"" if hexdata == "-" else bytes.fromhex(hexdata)
            for t in transports.split(","):
                out.append((pid, t, expect, data))
    return out


PACKETS = read_corpus()


def send_packet(port, transport, pid, data):
    if transport == "udp":
        return dnsutil.send_udp(port, data, timeout=UDP_TIMEOUT)
    try:
        return dnsutil.send_tcp(port, data, timeout=TCP_TIMEOUT,
                                framed=pid.startswith("tcpraw-"))
    except (ConnectionError, OSError):
        return None


def verdict(query, reply, framed=False):
    """The response code name, "noanswer", or a marker for a reply that is itself broken
    (too short, QR clear, ID not copied). framed: query starts with a TCP length prefix."""
    if framed:
        query = query[2:]
    if reply is None:
        return "noanswer"
    if len(reply) < 12:
        return "short-reply:" + reply.hex()
    if not reply[2] & 0x80:
        return "reply-without-QR"
    if len(query) >= 2 and reply[:2] != query[:2] and len(query) >= 12:
        return "id-not-copied"
    return dns.rcode.to_text(reply[3] & 0x0F)


@pytest.fixture(scope="module")
def zones():
    return [("example.", os.path.join(dnsutil.CORPUS_DIR, "example.zone")),
            ("other.", os.path.join(dnsutil.CORPUS_DIR, "other.zone"))]


@pytest.fixture(scope="module")
def peers(zones, tmp_path_factory):
    d = str(tmp_path_factory.mktemp("peers"))
    n = dnsutil.start_nsd(os.path.join(d, "nsd"), zones)
    try:
        k = dnsutil.start_knot(os.path.join(d, "knot"), zones)
    except Exception:
        n.stop(check=False)
        raise
    cache = {}

    def verdicts(pid, transport, data):
        if (pid, transport) not in cache:
            cache[(pid, transport)] = tuple(
                verdict(data, send_packet(s.port, transport, pid, data),
                        framed=pid.startswith("tcpraw-")) for s in (n, k))
        return cache[(pid, transport)]
    yield verdicts
    k.stop(check=False)
    n.stop(check=False)


@pytest.fixture(scope="module")
def signpostd(zones, tmp_path_factory):
    d = str(tmp_path_factory.mktemp("signpost"))
    s = dnsutil.start_signpost(os.path.join(d, "sp"), zones)
    yield s
    s.stop(check=True)  # fails on a non-zero exit or sanitizer output


def assert_serving(s):
    """signpostd is alive and answers www.example. A correctly over UDP and TCP."""
    assert s.alive(), "signpostd exited (%s)\n%s" % (s.proc.returncode, s.log()[-4000:])
    for tcp in (False, True):
        r = s.query("www.example.", "A", tcp=tcp)
        assert r is not None, "no answer over %s" % ("TCP" if tcp else "UDP")
        assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA
        assert [rd.address for rrset in r.answer for rd in rrset] == ["192.0.2.80"]
    found = dnsutil.sanitizer_findings(s.log())
    assert not found, found


@pytest.mark.parametrize("pid,transport,expect,data",
                         [pytest.param(*p, id="%s-%s" % (p[0], p[1])) for p in PACKETS])
def test_malformed_query(pid, transport, expect, data, peers, signpostd):
    nsd, knot = peers(pid, transport, data)
    got = verdict(data, send_packet(signpostd.port, transport, pid, data),
                  framed=pid.startswith("tcpraw-"))
    assert signpostd.alive(), "signpostd exited after %s\n%s" % (pid, signpostd.log()[-4000:])
    if expect.endswith("!"):       # a stated deviation from the peers (see the corpus)
        assert got == expect[:-1], "signpostd: %s, stated: %s (NSD %s, Knot %s)" % (
            got, expect, nsd, knot)
    elif nsd == knot:
        assert got == nsd, "signpostd: %s, NSD and Knot: %s" % (got, nsd)
    else:
        assert expect != "peers", ("NSD says %s, Knot says %s: state the expected verdict in "
                                   "corpus/make_malformed.py" % (nsd, knot))
        assert got == expect, "signpostd: %s, stated: %s (NSD %s, Knot %s)" % (
            got, expect, nsd, knot)


def test_malformed_disagreement_report(peers, tmp_path_factory):
    """Lists where NSD and Knot differ on the corpus; each needs a stated verdict."""
    rows, missing = [], []
    for pid, transport, expect, data in PACKETS:
        nsd, knot = peers(pid, transport, data)
        if nsd != knot or expect.endswith("!"):
            rows.append("%-30s %-4s NSD=%-10s Knot=%-10s stated=%s" % (pid, transport, nsd,
                                                                       knot, expect))
            if expect == "peers":
                missing.append("%s/%s" % (pid, transport))
    path = os.path.join(str(tmp_path_factory.getbasetemp()), "malformed-disagreements.txt")
    with open(path, "w") as f:
        f.write("\n".join(rows) + "\n")
    print("\n".join(rows))
    assert not missing, "no stated verdict for %s" % missing


def test_still_serving_after_the_corpus(signpostd):
    for pid, transport, _, data in PACKETS:   # all of it again, back to back
        if transport == "udp":
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.sendto(data, (dnsutil.HOST, signpostd.port))
            s.close()
    assert_serving(signpostd)


def mutate(rng, wire):
    b = bytearray(wire)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(4)
        if op == 0 and b:                                   # flip a bit
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1 and b:                                 # overwrite a byte
            b[rng.randrange(len(b))] = rng.randrange(256)
        elif op == 2:                                       # truncate
            del b[rng.randrange(len(b) + 1):]
        else:                                               # insert junk
            i = rng.randrange(len(b) + 1)
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    return bytes(b)


def seeds():
    qs = []
    for name, rdtype, kw in (("www.example.", "A", {}), ("foo.wild.example.", "TXT",
                             {"want_dnssec": True}), ("alias.example.", "A", {"payload": 4096}),
                             ("deleg.example.", "NS", {"options": []}),
                             ("hugetxt.example.", "TXT", {"edns": 0}),
                             ("version.bind.", "TXT", {"rdclass": "CH"})):
        qs.append(dnsutil.to_wire(dnsutil.make_query(name, rdtype, **kw)))
    qs += [p[3] for p in PACKETS if p[3]]
    return qs


def test_random_and_mutated_udp_queries(signpostd):
    rng = random.Random(int(os.environ.get("SIGNPOST_FUZZ_SEED", "5300")))
    base = seeds()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setblocking(False)
    sent, checks = 0, 0
    start = time.monotonic()
    next_check = start + 1.0
    while time.monotonic() - start < FUZZ_SECONDS:
        for _ in range(FUZZ_RATE // 100):
            if rng.random() < 0.3:
                pkt = bytes(rng.randrange(256) for _ in range(rng.randint(0, 600)))
            else:
                pkt = mutate(rng, rng.choice(base))
            try:
                s.sendto(pkt, (dnsutil.HOST, signpostd.port))
                sent += 1
            except (BlockingIOError, OSError):
                pass
        try:                                                # drain replies
            while True:
                s.recv(65535)
        except (BlockingIOError, OSError):
            pass
        if time.monotonic() >= next_check:
            assert signpostd.alive(), "signpostd died after %d packets\n%s" % (
                sent, signpostd.log()[-4000:])
            r = signpostd.query("www.example.", "A", timeout=2.0)
            assert r is not None and r.rcode() == dns.rcode.NOERROR, "no good answer mid-run"
            checks += 1
            next_check += 1.0
        time.sleep(0.01)
    s.close()
    assert sent > FUZZ_SECONDS * FUZZ_RATE * 0.5 and checks >= FUZZ_SECONDS * 0.8
    assert_serving(signpostd)


def test_garbage_over_tcp(signpostd):
    rng = random.Random(5301)
    base = seeds()
    for i in range(300):
        if i % 3 == 0:
            data = bytes(rng.randrange(256) for _ in range(rng.randint(0, 300)))
        else:
            m = mutate(rng, rng.choice(base))
            data = struct.pack("!H", len(m) if i % 2 else rng.randrange(65536)) + m
        try:
            c = socket.create_connection((dnsutil.HOST, signpostd.port), timeout=2)
            c.settimeout(0.2)
            c.sendall(data)
            if i % 5 == 0:
                c.shutdown(socket.SHUT_WR)                  # half-close mid-message
            try:
                c.recv(65535)
            except (socket.timeout, OSError):
                pass
            c.close()
        except OSError:
            pass
    assert_serving(signpostd)
