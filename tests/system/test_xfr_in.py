"""test_xfr_in.py - Signpost as a secondary: zones pulled from Knot 3.2 and NSD 4.6
primaries with TSIG, refreshed on NOTIFY (IXFR, AXFR fallback), and the faults: a primary
that dies mid-transfer, NOTIFY from an address that is not allowed, a wrong key, expiry
(SERVFAIL), state kept across a restart.

Run: SIGNPOST_BUILD=/work/main/build-xfr /usr/bin/python3 -m pytest tests/system/test_xfr_in.py
"""

import os
import shutil
import signal
import socket
import struct
import threading
import time

import dns.flags
import dns.message
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.tsig
import pytest

import dnsutil
import ops_util
import xfr_util as X

ORIGIN = "example."
TIMERS = "2 1 30"       # SOA refresh, retry, expire for fast tests


def text(serial, n=30, extra="", timers=TIMERS):
    return X.zone_text(ORIGIN, serial, n=n, extra=extra).replace("3600 600 86400", timers)


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


def secondary(tmp_path, primary_port, port=None, key=X.KEY_NAME, allow_notify=None,
              keys=None, name="sec"):
    z = {"name": ORIGIN, "primaries": [("127.0.0.1@%d" % primary_port, key)]}
    if allow_notify is not None:
        z["allow-notify"] = allow_notify
    return X.start_signpost(str(tmp_path / name), [z], port=port, keys=keys)


def names_types(zone_text):
    out = {(n, t) for n, _ttl, t, _rd in X.zone_records(ORIGIN, zone_text)}
    out.add(("missing." + ORIGIN, "A"))
    return sorted(out)


@pytest.mark.parametrize("kind", ["knot", "nsd", "bind"])
def test_a_zone_from_a_primary_follows_its_notify(tmp_path, servers, kind):
    if kind == "bind" and shutil.which("named") is None:
        pytest.skip("BIND (named) is not installed: tools/install-deps installs it")
    sport = dnsutil.free_port()
    t1 = text(1)
    start = {"knot": X.start_knot_primary, "nsd": X.start_nsd_primary,
             "bind": X.start_bind_primary}[kind]
    prim = start(str(tmp_path / kind), ORIGIN, t1, notify_port=sport)
    servers.append(prim)
    sec = secondary(tmp_path, prim.port, port=sport)
    servers.append(sec)
    X.wait_serial(sec, ORIGIN, 1)
    nt = names_types(t1)
    assert X.answers(sec.port, nt) == X.answers(prim.port, nt)
    X.wait_log(sec, "serial 1 from 127.0.0.1@%d by AXFR" % prim.port)

    # A small change (BIND answers IXFR with the whole zone when the differences are
    # larger than the zone, max-ixfr-ratio).
    t2 = t1.replace("hostmaster 1 ", "hostmaster 2 ") + "fresh IN AAAA 2001:db8::2\n"
    X.write(prim.zone_path, t2)
    if kind == "knot":
        X.knot_reload(prim, ORIGIN)
    else:
        prim.signal(signal.SIGHUP)
    X.wait_log(sec, "NOTIFY for example. from 127.0.0.1")
    X.wait_serial(sec, ORIGIN, 2)
    # Knot keeps a journal and BIND computes differences (ixfr-from-differences): both
    # answer IXFR incrementally; NSD 4.6 answers the IXFR with the whole zone, which we
    # take as AXFR.
    X.wait_log(sec, "serial 2 from 127.0.0.1@%d by %s" % (prim.port,
                                                           "AXFR" if kind == "nsd" else "IXFR"))
    nt = names_types(t2)
    assert X.answers(sec.port, nt) == X.answers(prim.port, nt)


def test_the_zone_and_its_state_survive_a_restart(tmp_path, servers):
    prim = X.start_knot_primary(str(tmp_path / "knot"), ORIGIN, text(5, timers="3600 600 86400"))
    servers.append(prim)
    sec = secondary(tmp_path, prim.port)
    X.wait_serial(sec, ORIGIN, 5)
    assert sec.stop(check=True) == 0
    prim.stop()
    sec2 = secondary(tmp_path, prim.port, port=sec.port)
    servers.append(sec2)
    # Served at once from the database, with the primary gone and the refresh an hour away.
    X.wait_serial(sec2, ORIGIN, 5, timeout=5)
    log = X.wait_log(sec2, "secondary of")
    assert "no copy yet" not in log
    assert "refresh failed" not in log


def test_zone_status_and_list_show_a_secondary_zones_transfer_state(tmp_path, servers):
    prim = X.start_knot_primary(str(tmp_path / "knot"), ORIGIN, text(5, timers="3600 600 86400"))
    servers.append(prim)
    sec = secondary(tmp_path, prim.port)
    servers.append(sec)
    X.wait_serial(sec, ORIGIN, 5)
    before = time.time()
    st = ops_util.ctl(sec, "zone", "status", "example", json_out=True)
    assert st.rc == 0, st
    j = st.json()
    assert j["name"] == ORIGIN and j["type"] == "secondary" and j["catalog"] is None
    assert j["loaded"] and j["serial"] == 5 and j["records"] > 60
    assert j["primaries"] == ["127.0.0.1@%d key %s" % (prim.port, X.KEY_NAME)]
    assert j["last_error"] is None and j["expired"] is False
    stamp = lambda s: time.mktime(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    # refresh 3600 and expire 86400 from the SOA, counted from the last good check
    assert abs(stamp(j["next_refresh"]) - stamp(j["last_refresh"]) - 3600) <= 1
    assert abs(stamp(j["expires_at"]) - stamp(j["last_refresh"]) - 86400) <= 1
    assert before - 60 < stamp(j["last_refresh"]) <= before + 1
    text_out = ops_util.ctl(sec, "zone", "status", ORIGIN)
    assert text_out.rc == 0, text_out
    assert "type:         secondary" in text_out.out and "serial:       5" in text_out.out
    assert "primaries:    127.0.0.1@%d key %s" % (prim.port, X.KEY_NAME) in text_out.out
    assert "last error:   none" in text_out.out
    lst = ops_util.ctl(sec, "zone", "list", json_out=True)
    assert lst.rc == 0, lst
    assert [(z["name"], z["type"], z["serial"]) for z in lst.json()["zones"]] == \
        [(ORIGIN, "secondary", 5)]
    line = ops_util.ctl(sec, "zone", "list").out
    assert line.startswith(ORIGIN) and "serial 5" in line and "secondary, next refresh" in line
    assert ops_util.ctl(sec, "zone", "status", "nothere.").rc != 0


def test_a_gslb_name_inside_a_secondary_zone_is_answered(tmp_path, servers):
    """A gslb: name may lie in a secondary zone (SOA, NS, negative answers from the
    transferred zone); before this the configuration check refused it."""
    prim = X.start_knot_primary(str(tmp_path / "knot"), ORIGIN, text(3, timers="3600 600 86400"))
    servers.append(prim)
    w = str(tmp_path / "sec")
    os.makedirs(w, exist_ok=True)
    port = dnsutil.free_port()
    conf = X.signpost_conf(w, port, [{"name": ORIGIN,
                                      "primaries": [("127.0.0.1@%d" % prim.port, X.KEY_NAME)]}])
    with open(conf, "a") as f:
        f.write("gslb:\n  pools:\n    web:\n      ttl: 17\n      members:\n"
                "        - { name: a, address: 127.0.0.11 }\n"
                "  names:\n    - { name: app.example., pool: web, policy: weighted }\n")
    sec = dnsutil.Signpost(w, port, [os.path.join(dnsutil.build_dir(), "signpostd"), "-f",
                                     "-c", conf])
    servers.append(sec)
    X.wait_serial(sec, ORIGIN, 3)
    r = sec.query("app." + ORIGIN, "A", timeout=2)
    assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA
    assert [(rr.ttl, [x.address for x in rr]) for rr in r.answer] == [(17, ["127.0.0.11"])]
    r = sec.query("app." + ORIGIN, "MX", timeout=2)     # NODATA with the zone's SOA
    assert r.rcode() == dns.rcode.NOERROR and not r.answer
    assert r.authority[0].rdtype == dns.rdatatype.SOA and r.authority[0][0].serial == 3
    assert X.soa_serial(sec.port, ORIGIN) == 3


def test_a_wrong_key_is_refused_and_nothing_is_served(tmp_path, servers):
    prim = X.start_knot_primary(str(tmp_path / "knot"), ORIGIN, text(1))
    servers.append(prim)
    sec = secondary(tmp_path, prim.port,
                    keys=[(X.KEY_NAME, X.KEY_ALG, X.OTHER_SECRET)])
    servers.append(sec)
    X.wait_log(sec, "refresh failed")
    assert "TSIG" in sec.log() or "rcode 9" in sec.log()
    r = sec.query(ORIGIN, "SOA", timeout=2)
    assert r.rcode() in (dns.rcode.REFUSED, dns.rcode.SERVFAIL)


def notify_msg(key=True, secret=X.KEY_SECRET, serial=9):
    m = dns.message.make_query(ORIGIN, "SOA")
    m.set_opcode(dns.opcode.NOTIFY)
    m.flags |= dns.flags.AA
    m.answer.append(dns.rrset.from_text(ORIGIN, 300, "IN", "SOA",
                                        "ns1.example. hostmaster.example. %d 1 1 1 1" % serial))
    if key:
        m.use_tsig(dns.tsig.Key(X.KEY_NAME, secret, X.KEY_ALG))
    return m


def test_notify_from_an_address_not_allowed_is_ignored(tmp_path, servers):
    prim = X.start_knot_primary(str(tmp_path / "knot"), ORIGIN, text(1, timers="3600 600 86400"))
    servers.append(prim)
    sec = secondary(tmp_path, prim.port, allow_notify=[("127.0.0.2", None)])
    servers.append(sec)
    X.wait_serial(sec, ORIGIN, 1)
    X.write(prim.zone_path, text(2, timers="3600 600 86400"))
    X.knot_reload(prim, ORIGIN)
    r = dns.query.udp(notify_msg(key=False), "127.0.0.1", port=sec.port, timeout=3)
    assert r.rcode() == dns.rcode.REFUSED
    X.wait_log(sec, "not allowed (allow-notify)")
    time.sleep(1.5)
    assert X.soa_serial(sec.port, ORIGIN) == 1     # no refresh happened


def test_notify_with_a_wrong_key_is_notauth(tmp_path, servers):
    prim = X.start_knot_primary(str(tmp_path / "knot"), ORIGIN, text(1, timers="3600 600 86400"))
    servers.append(prim)
    sec = secondary(tmp_path, prim.port)
    servers.append(sec)
    X.wait_serial(sec, ORIGIN, 1)
    data = dnsutil.send_udp(sec.port, notify_msg(secret=X.OTHER_SECRET).to_wire())
    assert data[3] & 0xf == dns.rcode.NOTAUTH
    X.wait_log(sec, "bad TSIG")
    # The right key is answered, signed.
    r = dns.query.udp(notify_msg(), "127.0.0.1", port=sec.port, timeout=3)
    assert r.rcode() == dns.rcode.NOERROR and r.had_tsig


# ---- a scripted primary for the faults ---------------------------------------------------

class FakePrimary:
    """Answers SOA over UDP and AXFR over TCP from a zone text; with break_after set, an AXFR
    stops (the connection closes) after that many messages of one record each."""

    def __init__(self, zone_text):
        self.zone_text = zone_text
        self.break_after = None
        self.port = dnsutil.free_port()
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(("127.0.0.1", self.port))
        self.tcp.listen(8)
        self.stop_flag = False
        self.transfers = 0
        self.threads = [threading.Thread(target=f, daemon=True)
                        for f in (self._serve_udp, self._serve_tcp)]
        for t in self.threads:
            t.start()

    def records(self):
        import dns.zone
        z = dns.zone.from_text(self.zone_text, origin=ORIGIN, relativize=False)
        soa = z.find_rrset(ORIGIN, "SOA")
        rest = [rrs for name, rds in z.iterate_rdatasets() for rrs in
                [dns.rrset.from_rdata_list(name, rds.ttl, list(rds))]
                if rds.rdtype != dns.rdatatype.SOA]
        return soa, rest

    def _serve_udp(self):
        self.udp.settimeout(0.2)
        while not self.stop_flag:
            try:
                data, addr = self.udp.recvfrom(4096)
            except socket.timeout:
                continue
            q = dns.message.from_wire(data, keyring=X.keyring())
            r = dns.message.make_response(q)
            r.flags |= dns.flags.AA
            r.answer.append(self.records()[0])
            self.udp.sendto(r.to_wire(), addr)

    def _serve_tcp(self):
        self.tcp.settimeout(0.2)
        while not self.stop_flag:
            try:
                c, _ = self.tcp.accept()
            except socket.timeout:
                continue
            try:
                (n,) = struct.unpack("!H", dnsutil.recv_exact(c, 2))
                q = dns.message.from_wire(dnsutil.recv_exact(c, n), keyring=X.keyring())
                self.transfers += 1
                soa, rest = self.records()
                ctx = None
                parts = [soa] + rest + [soa]
                for i, rrset in enumerate(parts):
                    if self.break_after is not None and i >= self.break_after:
                        break
                    r = dns.message.make_response(q)
                    r.flags |= dns.flags.AA
                    if i > 0:
                        r.question = []
                    r.answer.append(rrset)
                    if i > 0:
                        r.request_mac = b""
                    wire = r.to_wire(multi=True, tsig_ctx=ctx)
                    ctx = r.tsig_ctx
                    c.sendall(struct.pack("!H", len(wire)) + wire)
            except Exception:  # noqa: BLE001 - a test server: the client sees the close
                pass
            finally:
                c.close()

    def close(self):
        self.stop_flag = True
        for t in self.threads:
            t.join(timeout=2)
        self.udp.close()
        self.tcp.close()


def test_a_primary_dying_mid_transfer_leaves_the_old_zone_serving(tmp_path, servers):
    fake = FakePrimary(text(1, n=20, timers="1 1 3600"))
    try:
        sec = secondary(tmp_path, fake.port)
        servers.append(sec)
        X.wait_serial(sec, ORIGIN, 1)
        before = X.answers(sec.port, names_types(text(1, n=20)))
        fake.zone_text = text(2, n=20, timers="1 1 3600")
        fake.break_after = 10
        X.wait_log(sec, "the transfer broke off", timeout=10)
        assert X.soa_serial(sec.port, ORIGIN) == 1
        assert X.answers(sec.port, names_types(text(1, n=20))) == before
        # When the primary recovers, the next retry gets serial 2.
        fake.break_after = None
        X.wait_serial(sec, ORIGIN, 2, timeout=10)
    finally:
        fake.close()


def test_an_unreachable_primary_past_expire_gives_servfail(tmp_path, servers):
    fake = FakePrimary(text(1, n=5, timers="1 1 3"))
    sec = secondary(tmp_path, fake.port)
    servers.append(sec)
    try:
        X.wait_serial(sec, ORIGIN, 1)
    finally:
        fake.close()
    X.wait_log(sec, "expired", timeout=15)
    r = sec.query("h1." + ORIGIN, "A", timeout=2)
    assert r.rcode() == dns.rcode.SERVFAIL
    # The control tool says so, with the check's error.
    j = ops_util.ctl(sec, "zone", "status", ORIGIN, json_out=True).json()
    assert j["expired"] is True and j["serial"] == 1
    assert j["last_error"] and "127.0.0.1@%d" % fake.port in j["last_error"]
    out = ops_util.ctl(sec, "zone", "status", ORIGIN).out
    assert "EXPIRED" in out and "last error:   none" not in out


def test_a_chain_knot_to_signpost_to_nsd_passes_changes_on_by_ixfr(tmp_path, servers):
    """Signpost as a secondary that is a primary too (provide-xfr, notify): a change on
    Knot reaches NSD behind us through NOTIFY and IXFR out of our own journal."""
    sport, nport = dnsutil.free_port(), dnsutil.free_port()
    t1 = text(1, timers="3600 600 86400")
    knot = X.start_knot_primary(str(tmp_path / "knot"), ORIGIN, t1, notify_port=sport)
    servers.append(knot)
    z = {"name": ORIGIN, "primaries": [("127.0.0.1@%d" % knot.port, X.KEY_NAME)],
         "provide-xfr": [("127.0.0.1", X.KEY_NAME)],
         "notify": [("127.0.0.1@%d" % nport, X.KEY_NAME)]}
    sp = X.start_signpost(str(tmp_path / "sp"), [z], port=sport)
    servers.append(sp)
    X.wait_serial(sp, ORIGIN, 1)
    nsd = X.start_nsd_secondary(str(tmp_path / "nsd"), ORIGIN, sp.port, port=nport)
    servers.append(nsd)
    X.wait_serial(nsd, ORIGIN, 1)
    t2 = t1.replace("hostmaster 1 ", "hostmaster 2 ") + "chained IN A 192.0.2.42\n"
    X.write(knot.zone_path, t2)
    X.knot_reload(knot, ORIGIN)
    X.wait_serial(nsd, ORIGIN, 2, timeout=20)
    X.wait_log(sp, "IXFR of example. serial 2 to")
    nt = names_types(t2)
    assert X.answers(nsd.port, nt) == X.answers(knot.port, nt)
