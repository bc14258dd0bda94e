"""test_xfr_out.py - Signpost as a primary: AXFR (RFC 5936) and IXFR (RFC 1995) out with
TSIG (RFC 8945), provide-xfr rules, NOTIFY (RFC 1996), against dnspython, NSD 4.6 and
Knot 3.2 secondaries on loopback.

Run: SIGNPOST_BUILD=/work/main/build-xfr /usr/bin/python3 -m pytest tests/system/test_xfr_out.py
"""

import os
import shutil
import signal
import socket
import struct
import time

import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.tsig
import pytest

import dnsutil
import xfr_util as X

ORIGIN = "example."


def primary(tmp_path, text, provide=None, notify=None, transfers=None, keys=None, name="p"):
    d = str(tmp_path / name)
    os.makedirs(d, exist_ok=True)
    zf = os.path.join(d, "example.zone")
    X.write(zf, text)
    z = {"name": ORIGIN, "file": zf,
         "provide-xfr": provide if provide is not None else [("127.0.0.0/8", X.KEY_NAME)]}
    if notify:
        z["notify"] = notify
    s = X.start_signpost(d, [z], wait_zone=ORIGIN, transfers=transfers, keys=keys)
    s.zone_file = zf
    return s


@pytest.fixture
def servers():
    started = []
    yield started
    errors = []
    for s in reversed(started):
        try:
            s.stop(check=True)
        except dnsutil.ServerError as e:
            errors.append(str(e))
    if errors:
        pytest.fail("\n".join(errors), pytrace=False)


def reload(s, text, serial):
    X.write(s.zone_file, text)
    s.signal(signal.SIGHUP)
    X.wait_serial(s, ORIGIN, serial)


def tsig_query(rdtype, secret=X.KEY_SECRET, name=X.KEY_NAME, alg=X.KEY_ALG, serial=None,
               fudge=300):
    q = dns.message.make_query(ORIGIN, rdtype)
    if serial is not None:
        q.authority.append(dns.rrset.from_text(ORIGIN, 0, "IN", "SOA",
                                               ". . %d 0 0 0 0" % serial))
    q.use_tsig(dns.tsig.Key(name, secret, alg), fudge=fudge)
    return q


def raw_tcp(port, wire, timeout=5):
    """Sends one framed query; returns the raw answer messages until the socket closes or
    the first message whose rcode is not NOERROR or that ends the transfer."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(struct.pack("!H", len(wire)) + wire)
        hdr = dnsutil.recv_exact(s, 2)
        (n,) = struct.unpack("!H", hdr)
        return dnsutil.recv_exact(s, n)
    finally:
        s.close()


# ---- AXFR to dnspython ------------------------------------------------------------------------

def test_axfr_with_tsig_gives_the_zone_soa_first_and_last(tmp_path, servers):
    text = X.zone_text(ORIGIN, 7, n=20)
    s = primary(tmp_path, text)
    servers.append(s)
    msgs = X.axfr(s.port, ORIGIN)       # dnspython verifies every message's TSIG
    recs = X.records(msgs)
    assert recs[0][2] == "SOA" and recs[-1][2] == "SOA"
    assert recs[0] == recs[-1]
    assert " 7 " in recs[0][3]
    body = recs[1:-1]
    assert len(body) == len(set(body)), "a record was sent twice"
    assert set(recs) == X.zone_records(ORIGIN, text)
    for m in msgs:
        assert m.had_tsig and m.flags & dns.flags.AA


def test_a_large_zone_streams_in_many_signed_messages(tmp_path, servers):
    text = X.zone_text(ORIGIN, 3, n=6000)
    s = primary(tmp_path, text)
    servers.append(s)
    msgs = X.axfr(s.port, ORIGIN)
    assert len(msgs) > 5
    assert all(m.had_tsig for m in msgs)
    assert set(X.records(msgs)) == X.zone_records(ORIGIN, text)
    # Only the first message repeats the question (RFC 5936 2.2.1 lets later ones omit it).
    assert len(msgs[0].question) == 1 and all(len(m.question) == 0 for m in msgs[1:])


def test_axfr_without_the_key_is_refused(tmp_path, servers):
    s = primary(tmp_path, X.zone_text(ORIGIN, 1))
    servers.append(s)
    q = dns.message.make_query(ORIGIN, "AXFR")
    r = dns.query.tcp(q, "127.0.0.1", port=s.port, timeout=5)
    assert r.rcode() == dns.rcode.REFUSED
    assert not r.answer
    X.wait_log(s, "refused by provide-xfr")


def test_axfr_from_an_address_outside_the_acl_is_refused(tmp_path, servers):
    s = primary(tmp_path, X.zone_text(ORIGIN, 1), provide=[("10.0.0.0/8", None)])
    servers.append(s)
    r = dns.query.tcp(dns.message.make_query(ORIGIN, "AXFR"), "127.0.0.1", port=s.port,
                      timeout=5)
    assert r.rcode() == dns.rcode.REFUSED


def test_axfr_by_address_alone_is_allowed_unsigned(tmp_path, servers):
    text = X.zone_text(ORIGIN, 1)
    s = primary(tmp_path, text, provide=[("127.0.0.1", None)])
    servers.append(s)
    assert set(X.records(X.axfr(s.port, ORIGIN, key=False))) == X.zone_records(ORIGIN, text)


def test_a_wrong_secret_gets_notauth_badsig_unsigned(tmp_path, servers):
    s = primary(tmp_path, X.zone_text(ORIGIN, 1))
    servers.append(s)
    wire = tsig_query("AXFR", secret=X.OTHER_SECRET).to_wire()
    data = raw_tcp(s.port, wire)
    assert data[3] & 0xf == dns.rcode.NOTAUTH
    # The TSIG RR of the answer: error BADSIG (16), MAC size 0 (RFC 8945 5.3.2).
    assert data.endswith(struct.pack("!HH", 16, 0))
    X.wait_log(s, "BADSIG")


def test_an_unknown_key_gets_notauth_badkey(tmp_path, servers):
    s = primary(tmp_path, X.zone_text(ORIGIN, 1))
    servers.append(s)
    data = raw_tcp(s.port, tsig_query("AXFR", name="nobody.").to_wire())
    assert data[3] & 0xf == dns.rcode.NOTAUTH
    assert data.endswith(struct.pack("!HH", 17, 0))
    X.wait_log(s, "BADKEY")


def test_a_stale_signature_gets_notauth_badtime_signed(tmp_path, servers, monkeypatch):
    s = primary(tmp_path, X.zone_text(ORIGIN, 1))
    servers.append(s)
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() - 3600)
    q = tsig_query("AXFR")
    wire = q.to_wire()
    monkeypatch.setattr(time, "time", real)
    data = raw_tcp(s.port, wire)
    assert data[3] & 0xf == dns.rcode.NOTAUTH
    # BADTIME (18) with 6 octets of other data (our time), and a MAC.
    assert data[-10:-6] == struct.pack("!HH", 18, 6)
    our_time = int.from_bytes(data[-6:], "big")
    assert abs(our_time - real()) < 60


def test_a_signed_soa_query_gets_a_signed_answer(tmp_path, servers):
    s = primary(tmp_path, X.zone_text(ORIGIN, 5))
    servers.append(s)
    q = tsig_query("SOA")
    r = dns.query.udp(q, "127.0.0.1", port=s.port, timeout=3)   # verifies the answer's MAC
    assert r.had_tsig and r.rcode() == dns.rcode.NOERROR
    assert r.answer[0][0].serial == 5
    bad = tsig_query("SOA", secret=X.OTHER_SECRET)
    data = dnsutil.send_udp(s.port, bad.to_wire())
    assert data[3] & 0xf == dns.rcode.NOTAUTH


def test_a_signed_udp_answer_fits_the_clients_edns_size(tmp_path, servers):
    """RFC 8945 5.3: room is kept for the TSIG RR; an answer that would only fit without it
    is the question alone with TC and NOERROR, signed, so the client retries over TCP."""
    big = "".join('big IN TXT "%02d%s"\n' % (i, "x" * 98) for i in range(8))
    s = primary(tmp_path, X.zone_text(ORIGIN, 5, extra=big))
    servers.append(s)
    plain = dns.message.make_query("big." + ORIGIN, "TXT", use_edns=0, payload=4096)
    unsigned = dnsutil.send_udp(s.port, plain.to_wire())
    size = len(unsigned)                # the whole answer without TSIG (about 950 octets)
    assert not unsigned[2] & 0x02 and 900 < size < 1000

    def signed(payload):
        q = dns.message.make_query("big." + ORIGIN, "TXT", use_edns=0, payload=payload)
        q.use_tsig(dns.tsig.Key(X.KEY_NAME, X.KEY_SECRET, X.KEY_ALG))
        data = dnsutil.send_udp(s.port, q.to_wire())
        r = dns.message.from_wire(data, keyring=q.keyring, request_mac=q.mac)  # verifies
        return data, r

    # The answer fits, the TSIG (about 90 octets) would not: TC, question only, signed.
    data, r = signed(size + 20)
    assert len(data) <= size + 20
    assert r.had_tsig and r.flags & dns.flags.TC and r.rcode() == dns.rcode.NOERROR
    assert not r.answer and not r.authority and len(r.question) == 1
    # Room for both: the whole answer, signed, within the size.
    data, r = signed(size + 200)
    assert len(data) <= size + 200
    assert r.had_tsig and not r.flags & dns.flags.TC and len(r.answer[0]) == 8


def test_axfr_for_a_zone_not_served_is_notauth(tmp_path, servers):
    s = primary(tmp_path, X.zone_text(ORIGIN, 1), provide=[("any", None)])
    servers.append(s)
    r = dns.query.tcp(dns.message.make_query("other.", "AXFR"), "127.0.0.1", port=s.port,
                      timeout=5)
    assert r.rcode() in (dns.rcode.NOTAUTH, dns.rcode.REFUSED)


def test_the_transfer_is_one_version_even_when_the_zone_is_replaced(tmp_path, servers):
    """Read the first message, recompile the zone with a new serial, read the rest:
    every record is from the version the transfer started with."""
    s = primary(tmp_path, X.zone_text(ORIGIN, 1, n=20000), provide=[("127.0.0.1", None)])
    servers.append(s)
    q = dns.message.make_query(ORIGIN, "AXFR")
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    wire = q.to_wire()
    sock.sendall(struct.pack("!H", len(wire)) + wire)
    (n,) = struct.unpack("!H", dnsutil.recv_exact(sock, 2))
    msgs = [dns.message.from_wire(dnsutil.recv_exact(sock, n))]
    reload(s, X.zone_text(ORIGIN, 2, n=20000), 2)
    while True:
        (n,) = struct.unpack("!H", dnsutil.recv_exact(sock, 2))
        m = dns.message.from_wire(dnsutil.recv_exact(sock, n))
        msgs.append(m)
        if m.answer and m.answer[-1].rdtype == dns.rdatatype.SOA:
            break
    sock.close()
    recs = X.records(msgs)
    assert " 1 " in recs[-1][3]
    txt = [r for r in recs if r[2] == "TXT"]
    assert len(txt) == 20000
    assert all("serial 1 " in r[3] for r in txt)


# ---- IXFR ---------------------------------------------------------------------------------------

def test_ixfr_after_a_change_sends_only_the_differences(tmp_path, servers):
    s = primary(tmp_path, X.zone_text(ORIGIN, 10, n=30))
    servers.append(s)
    reload(s, X.zone_text(ORIGIN, 10, n=30).replace(" 10 3600", " 11 3600") +
           "added IN A 192.0.2.200\n", 11)
    msgs = X.axfr(s.port, ORIGIN, rdtype="IXFR", serial=10)
    recs = X.records(msgs)
    # RFC 1995 4: new SOA, old SOA, deletions, new SOA, additions, new SOA.
    soas = [r for r in recs if r[2] == "SOA"]
    assert [int(r[3].split()[2]) for r in soas] == [11, 10, 11, 11]
    body = [r for r in recs if r[2] != "SOA"]
    assert body == [("added.example.", 300, "A", "192.0.2.200")]


def test_ixfr_over_several_versions_chains_the_steps(tmp_path, servers):
    s = primary(tmp_path, X.zone_text(ORIGIN, 1, n=5))
    servers.append(s)
    for serial in (2, 3):
        reload(s, X.zone_text(ORIGIN, serial, n=5), serial)
    recs = X.records(X.axfr(s.port, ORIGIN, rdtype="IXFR", serial=1))
    soas = [int(r[3].split()[2]) for r in recs if r[2] == "SOA"]
    assert soas == [3, 1, 2, 2, 3, 3]


def test_ixfr_from_an_aged_out_serial_falls_back_to_the_whole_zone(tmp_path, servers):
    s = primary(tmp_path, X.zone_text(ORIGIN, 1, n=5), transfers={"ixfr-versions": 1})
    servers.append(s)
    for serial in (2, 3):
        reload(s, X.zone_text(ORIGIN, serial, n=5), serial)
    msgs = X.axfr(s.port, ORIGIN, rdtype="IXFR", serial=1)
    recs = X.records(msgs)
    assert set(recs) == X.zone_records(ORIGIN, X.zone_text(ORIGIN, 3, n=5))
    X.wait_log(s, "full: no journal from that serial")
    # The one step kept still serves a client at serial 2.
    recs = X.records(X.axfr(s.port, ORIGIN, rdtype="IXFR", serial=2))
    assert [int(r[3].split()[2]) for r in recs if r[2] == "SOA"] == [3, 2, 3, 3]


def test_ixfr_from_the_current_serial_is_the_soa_alone(tmp_path, servers):
    s = primary(tmp_path, X.zone_text(ORIGIN, 4))
    servers.append(s)
    q = tsig_query("IXFR", serial=4)
    r = dns.query.tcp(q, "127.0.0.1", port=s.port, timeout=5)
    assert r.rcode() == dns.rcode.NOERROR
    assert len(r.answer) == 1 and r.answer[0].rdtype == dns.rdatatype.SOA
    assert r.answer[0][0].serial == 4


def udp_ixfr(port, serial, payload=None, signed=True):
    """A UDP IXFR (RFC 1995 2); returns (datagram, message with one RR per RRset)."""
    q = dns.message.make_query(ORIGIN, "IXFR", use_edns=0 if payload else False,
                               payload=payload or 512)
    q.authority.append(dns.rrset.from_text(ORIGIN, 0, "IN", "SOA", ". . %d 0 0 0 0" % serial))
    if signed:
        q.use_tsig(dns.tsig.Key(X.KEY_NAME, X.KEY_SECRET, X.KEY_ALG))
    data = dnsutil.send_udp(port, q.to_wire())
    assert data is not None
    return data, dns.message.from_wire(data, keyring=q.keyring, request_mac=q.mac,
                                       one_rr_per_rrset=True)


def udp_ixfr_current(port, serial, current, timeout=10.0):
    """An unsigned UDP IXFR, asked again until the answer starts with the SOA of serial
    current: after a reload NSD's old server processes go on answering from the old zone
    for a while, so one SOA query seeing the new serial does not mean every one will."""
    deadline = time.monotonic() + timeout
    while True:
        data, r = udp_ixfr(port, serial, signed=False)
        first = r.answer[0] if r.answer else None
        if (first is not None and first.rdtype == dns.rdatatype.SOA and
                first[0].serial == current) or time.monotonic() > deadline:
            return data, r
        time.sleep(0.1)


def test_ixfr_over_udp_answers_when_it_fits_else_the_soa_alone(tmp_path, servers):
    """RFC 1995 2: the differences over UDP when the whole answer fits (TSIG included),
    otherwise our SOA alone so the client uses TCP; the same SOA alone for a serial the
    journal does not reach. Knot always answers the SOA alone, NSD a partial AXFR."""
    s = primary(tmp_path, X.zone_text(ORIGIN, 10, n=30))
    servers.append(s)
    reload(s, X.zone_text(ORIGIN, 10, n=30).replace(" 10 3600", " 11 3600") +
           "added IN A 192.0.2.200\n", 11)
    data, r = udp_ixfr(s.port, 10)
    assert r.had_tsig and r.rcode() == dns.rcode.NOERROR and not r.flags & dns.flags.TC
    assert len(data) <= 512
    assert [rr[0].serial for rr in r.answer if rr.rdtype == dns.rdatatype.SOA] == [11, 10, 11, 11]
    assert [rr.name.to_text() for rr in r.answer if rr.rdtype != dns.rdatatype.SOA] == \
        ["added.example."]
    # Up to date: the SOA alone.
    _, r = udp_ixfr(s.port, 11)
    assert [(rr.rdtype, rr[0].serial) for rr in r.answer] == [(dns.rdatatype.SOA, 11)]
    # A change of ~3 KiB does not fit 512 octets, nor 1232: the SOA alone (use TCP).
    big = "".join('big%d IN TXT "%s"\n' % (i, "y" * 100) for i in range(30))
    reload(s, X.zone_text(ORIGIN, 12, n=30) + big, 12)
    for payload in (None, 1232):
        data, r = udp_ixfr(s.port, 11, payload)
        assert r.had_tsig and r.rcode() == dns.rcode.NOERROR
        assert [(rr.rdtype, rr[0].serial) for rr in r.answer] == [(dns.rdatatype.SOA, 12)]
    # Over TCP the same request gets the differences.
    recs = X.records(X.axfr(s.port, ORIGIN, rdtype="IXFR", serial=11))
    assert sum(1 for r in recs if r[0].startswith("big")) == 30
    # A serial the journal does not reach: the SOA alone, not the whole zone.
    _, r = udp_ixfr(s.port, 3)
    assert [(rr.rdtype, rr[0].serial) for rr in r.answer] == [(dns.rdatatype.SOA, 12)]
    # provide-xfr still decides: unsigned (the rule wants the key) is refused.
    data, r = udp_ixfr(s.port, 11, signed=False)
    assert r.rcode() == dns.rcode.REFUSED and not r.answer


@pytest.mark.parametrize("kind", ["nsd", "knot"])
def test_peers_ixfr_over_udp_as_conformance_md_says(tmp_path, servers, kind):
    """What the peers answer to a UDP IXFR from a client they allow (docs/conformance.md):
    Knot 3.2 our SOA alone even when the differences would fit; NSD 4.6 the zone
    AXFR-style, cut at the UDP size without TC (RFC 1995 2 asks for the SOA alone then).
    We follow the RFC (test above)."""
    start = X.start_nsd_primary if kind == "nsd" else X.start_knot_primary
    s = start(str(tmp_path / kind), ORIGIN, X.zone_text(ORIGIN, 1, n=3), key=False)
    servers.append(s)
    X.write(s.zone_path, X.zone_text(ORIGIN, 2, n=3))
    if kind == "knot":
        X.knot_reload(s, ORIGIN)
    else:
        s.signal(signal.SIGHUP)
    X.wait_serial(s, ORIGIN, 2)
    _, small = udp_ixfr_current(s.port, 1, 2)
    X.write(s.zone_path, X.zone_text(ORIGIN, 3, n=60))
    if kind == "knot":
        X.knot_reload(s, ORIGIN)
    else:
        s.signal(signal.SIGHUP)
    X.wait_serial(s, ORIGIN, 3)
    data, big = udp_ixfr_current(s.port, 2, 3)
    whole = len(X.zone_records(ORIGIN, X.zone_text(ORIGIN, 3, n=60)))
    if kind == "knot":
        assert [rr.rdtype for rr in small.answer] == [dns.rdatatype.SOA]
        assert [rr.rdtype for rr in big.answer] == [dns.rdatatype.SOA]
    else:
        assert len(small.answer) > 2            # the whole (small) zone, AXFR-style
        assert len(data) <= 512 and not big.flags & dns.flags.TC
        assert 2 < len(big.answer) < whole      # a cut transfer, no TC


# ---- NSD and Knot secondaries --------------------------------------------------------------------

def names_types(text):
    out = set()
    for name, _ttl, rdtype, _rd in X.zone_records(ORIGIN, text):
        out.add((name, rdtype))
    out.add(("missing." + ORIGIN, "A"))
    return sorted(out)


@pytest.mark.parametrize("kind", ["nsd", "knot", "bind"])
def test_secondary_pulls_with_tsig_and_follows_notify_by_ixfr(tmp_path, servers, kind):
    if kind == "bind" and shutil.which("named") is None:
        pytest.skip("BIND (named) is not installed: tools/install-deps installs it")
    sport = dnsutil.free_port()
    text1 = X.zone_text(ORIGIN, 1, n=40)
    s = primary(tmp_path, text1, notify=[("127.0.0.1@%d" % sport, X.KEY_NAME)])
    servers.append(s)
    start = {"nsd": X.start_nsd_secondary, "knot": X.start_knot_secondary,
             "bind": X.start_bind_secondary}[kind]
    sec = start(str(tmp_path / kind), ORIGIN, s.port, port=sport)
    servers.append(sec)
    X.wait_serial(sec, ORIGIN, 1)
    nt = names_types(text1)
    assert X.answers(sec.port, nt) == X.answers(s.port, nt)

    text2 = X.zone_text(ORIGIN, 2, n=40, extra="fresh IN AAAA 2001:db8::2\n")
    reload(s, text2, 2)
    X.wait_log(s, "acknowledged by 127.0.0.1@%d" % sport)
    X.wait_serial(sec, ORIGIN, 2)
    X.wait_log(s, "IXFR of example. serial 2 to")
    nt = names_types(text2)
    assert X.answers(sec.port, nt) == X.answers(s.port, nt)


def test_notify_is_retried_until_the_secondary_answers(tmp_path, servers):
    """A secondary that is not running yet: NOTIFY is resent with back-off, then given up."""
    sport = dnsutil.free_port()
    s = primary(tmp_path, X.zone_text(ORIGIN, 1), notify=[("127.0.0.1@%d" % sport, None)],
                transfers={"notify-retries": 2, "notify-timeout": "100ms"})
    servers.append(s)
    X.wait_log(s, "no answer from 127.0.0.1@%d after 3 tries" % sport, timeout=5)


def test_tsig_keygen_prints_a_key_that_works(tmp_path, servers):
    import subprocess
    out = subprocess.run([os.path.join(dnsutil.build_dir(), "signpost-zone"), "tsig-keygen",
                          "made.key"], capture_output=True, text=True, timeout=10, check=True)
    secret = out.stdout.split('secret: "')[1].split('"')[0]
    assert len(__import__("base64").b64decode(secret)) == 32
    text = X.zone_text(ORIGIN, 1)
    s = primary(tmp_path, text, provide=[("127.0.0.1", "made.key.")],
                keys=[("made.key.", "hmac-sha256", secret)])
    servers.append(s)
    ring = {dns.name.from_text("made.key."): dns.tsig.Key("made.key.", secret, "hmac-sha256")}
    msgs = list(dns.query.xfr("127.0.0.1", ORIGIN, port=s.port, timeout=5, keyring=ring,
                              keyname="made.key.", relativize=False))
    assert set(X.records(msgs)) == X.zone_records(ORIGIN, text)


@pytest.mark.parametrize("keys,zone,message", [
    ([(X.KEY_NAME, X.KEY_ALG, X.KEY_SECRET)], {"provide-xfr": [("127.0.0.1", "nokey.")]},
     "key 'nokey.' is not in keys:"),
    ([(X.KEY_NAME, "hmac-sha999", X.KEY_SECRET)], {}, "unknown algorithm 'hmac-sha999'"),
    ([(X.KEY_NAME, X.KEY_ALG, "not*base64")], {}, "not base64"),
    ([], {"provide-xfr": [("300.1.2.3/8", None)]}, "not an address or prefix: '300.1.2.3/8'"),
    ([], {"notify": [("127.0.0.1@99999", None)]}, "not ADDR or ADDR@PORT"),
])
def test_bad_transfer_settings_are_refused_with_the_reason(tmp_path, keys, zone, message):
    import subprocess
    d = str(tmp_path)
    X.write(os.path.join(d, "z.zone"), X.zone_text(ORIGIN, 1))
    z = {"name": ORIGIN, "file": os.path.join(d, "z.zone")}
    z.update(zone)
    conf = X.signpost_conf(d, 5399, [z], keys=keys)
    r = subprocess.run([os.path.join(dnsutil.build_dir(), "signpostd"), "-c", conf,
                        "--check-config"], capture_output=True, text=True, timeout=10)
    assert r.returncode != 0
    assert message in r.stderr, r.stderr
