"""test_abuse_cookies.py - DNS cookies (RFC 7873, RFC 9018 server cookies; server/cookies.c,
docs/abuse.md) against the real daemon with dnspython: a client cookie gets a server cookie
(checked here against an independent SipHash-2-4 of the RFC 9018 construction), the server
cookie is accepted on the next query, a wrong one is replaced, malformed lengths are FORMERR,
and with require: true a query without a valid server cookie gets BADCOOKIE (or TC=1 without
any cookie) over UDP while TCP is answered.

Run: SIGNPOST_BUILD=/work/main/build /usr/bin/python3 -m pytest tests/system/test_abuse_cookies.py
"""

import signal
import struct
import time

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import pytest

ZONE = "example."
ZONE_TEXT = """$ORIGIN example.
$TTL 300
@ IN SOA ns1 hostmaster 1 3600 600 86400 300
@ IN NS ns1
ns1 IN A 127.0.0.1
www IN A 192.0.2.1
"""
SECRET = "e5e973e5a6b2a43f48e7dc849e37bfcf"
CLIENT = bytes.fromhex("2464c4abcf10c957")
COOKIE = 10
BADCOOKIE = 23


def siphash24(key, msg):
    """SipHash-2-4, written from the paper, to check the daemon's cookies independently."""
    mask = (1 << 64) - 1

    def rotl(x, b):
        return ((x << b) | (x >> (64 - b))) & mask

    k0, k1 = struct.unpack("<QQ", key)
    v = [0x736F6D6570736575 ^ k0, 0x646F72616E646F6D ^ k1,
         0x6C7967656E657261 ^ k0, 0x7465646279746573 ^ k1]

    def rnd():
        v[0] = (v[0] + v[1]) & mask; v[1] = rotl(v[1], 13) ^ v[0]; v[0] = rotl(v[0], 32)
        v[2] = (v[2] + v[3]) & mask; v[3] = rotl(v[3], 16) ^ v[2]
        v[0] = (v[0] + v[3]) & mask; v[3] = rotl(v[3], 21) ^ v[0]
        v[2] = (v[2] + v[1]) & mask; v[1] = rotl(v[1], 17) ^ v[2]; v[2] = rotl(v[2], 32)

    tail = len(msg) % 8
    blocks = [struct.unpack("<Q", msg[i:i + 8])[0] for i in range(0, len(msg) - tail, 8)]
    last = (len(msg) & 0xFF) << 56
    for i, b in enumerate(msg[len(msg) - tail:]):
        last |= b << (8 * i)
    for m in blocks + [last]:
        v[3] ^= m
        rnd()
        rnd()
        v[0] ^= m
    v[2] ^= 0xFF
    for _ in range(4):
        rnd()
    return struct.pack("<Q", v[0] ^ v[1] ^ v[2] ^ v[3])


def rfc9018(client, ts, ip=b"\x7f\x00\x00\x01", secret=SECRET):
    head = b"\x01\x00\x00\x00" + struct.pack(">I", ts)
    return head + siphash24(bytes.fromhex(secret), client + head + ip)


def test_our_siphash_matches_the_rfc9018_vector():
    assert rfc9018(CLIENT, 1559731985, bytes([198, 51, 100, 100])).hex() == \
        "010000005cf79f111f8130c3eee29480"


@pytest.fixture
def server(signpost):
    def start(require=False, secret=SECRET):
        yaml = "cookies:\n  secret: %s\n  require: %s\n" % (secret, "true" if require else "false")
        # With require, the fixture's UDP SOA probe (no cookie) only gets TC: wait over TCP.
        s = signpost([(ZONE, "example.zone", ZONE_TEXT)], extra_yaml=yaml, wait=False)
        deadline = time.monotonic() + 10
        while True:
            try:
                if answered(ask(s, tcp=True)):
                    return s
            except (OSError, dns.exception.DNSException):
                pass
            assert time.monotonic() < deadline and s.alive(), s.log()
            time.sleep(0.1)
    return start


def ask(s, cookie=None, tcp=False, name="www.example."):
    opts = [] if cookie is None else [dns.edns.GenericOption(COOKIE, cookie)]
    q = dns.message.make_query(name, "A", use_edns=0, options=opts)
    q.flags = 0
    if tcp:
        return dns.query.tcp(q, "127.0.0.1", port=s.port, timeout=3)
    return dns.query.udp(q, "127.0.0.1", port=s.port, timeout=3)


def cookie_of(r):
    found = [o.data for o in r.options if o.otype == COOKIE]
    assert len(found) == 1, r.options
    return found[0]


def answered(r):
    return (r.rcode() == dns.rcode.NOERROR and not r.flags & dns.flags.TC
            and [rr.to_text() for rr in r.answer[0]] == ["192.0.2.1"])


def test_a_client_cookie_gets_an_rfc9018_server_cookie_that_is_accepted_next(server):
    s = server()
    now = int(time.time())
    r = ask(s, CLIENT)
    assert answered(r)
    c = cookie_of(r)
    assert len(c) == 24 and c[:8] == CLIENT
    assert c[8] == 1 and c[9:12] == b"\0\0\0"            # version 1, reserved
    ts = struct.unpack(">I", c[12:16])[0]
    assert abs(ts - now) <= 2
    assert c[8:] == rfc9018(CLIENT, ts)                   # interoperable construction
    # Sent back, it is valid: the same (young) server cookie is returned.
    r2 = ask(s, c)
    assert answered(r2) and cookie_of(r2) == c


def test_a_wrong_server_cookie_gets_a_fresh_one(server):
    s = server()
    c = cookie_of(ask(s, CLIENT))
    bad = c[:-1] + bytes([c[-1] ^ 0xFF])
    r = ask(s, bad)
    assert answered(r)
    fresh = cookie_of(r)
    assert fresh != bad and fresh[:8] == CLIENT
    assert fresh[8:] == rfc9018(CLIENT, struct.unpack(">I", fresh[12:16])[0])
    # A server cookie made with another secret (another server) is replaced too.
    other = CLIENT + rfc9018(CLIENT, int(time.time()), secret="00" * 16)
    assert cookie_of(ask(s, other)) != other


@pytest.mark.parametrize("length", [1, 7, 9, 15, 41, 64])
def test_a_cookie_of_a_malformed_length_is_formerr(server, length):
    s = server()
    r = ask(s, bytes(range(length)))
    assert r.rcode() == dns.rcode.FORMERR and not r.answer


@pytest.mark.parametrize("length", [8, 16, 32, 40])
def test_cookies_of_legal_lengths_are_answered(server, length):
    s = server()
    r = ask(s, bytes(range(1, length + 1)))
    assert answered(r)
    assert cookie_of(r)[:8] == bytes(range(1, 9))


def test_require_gives_badcookie_then_answers_the_valid_cookie(server):
    s = server(require=True)
    # A client cookie alone: BADCOOKIE (extended RCODE 23) with a server cookie, no answer.
    r = ask(s, CLIENT)
    assert r.rcode() == BADCOOKIE and not r.answer
    c = cookie_of(r)
    assert c[:8] == CLIENT and c[8:] == rfc9018(CLIENT, struct.unpack(">I", c[12:16])[0])
    # The retry with it is answered (RFC 7873 5.3).
    assert answered(ask(s, c))
    # A wrong server cookie: BADCOOKIE again, with a fresh valid one.
    r = ask(s, c[:-1] + bytes([c[-1] ^ 1]))
    assert r.rcode() == BADCOOKIE and not r.answer
    assert answered(ask(s, cookie_of(r)))


def test_require_sends_clients_without_cookies_to_tcp(server):
    s = server(require=True)
    r = ask(s)                     # EDNS, no cookie
    assert r.flags & dns.flags.TC and not r.answer and r.rcode() == dns.rcode.NOERROR
    q = dns.message.make_query("www.example.", "A")     # no EDNS at all
    r = dns.query.udp(q, "127.0.0.1", port=s.port, timeout=3)
    assert r.flags & dns.flags.TC and not r.answer
    # TCP proves the address: answered without a cookie, and with a client cookie alone.
    assert answered(ask(s, tcp=True))
    r = ask(s, CLIENT, tcp=True)
    assert answered(r) and cookie_of(r)[:8] == CLIENT


def test_without_cookies_configured_the_option_is_ignored(signpost):
    s = signpost([(ZONE, "example.zone", ZONE_TEXT)])
    r = ask(s, CLIENT)
    assert answered(r)
    assert not [o for o in r.options if o.otype == COOKIE]


# ---- reloads (docs/abuse.md "Secret and rotation") -------------------------------------------

def reload(s):
    """SIGHUP, and wait (bounded) until the daemon says the reload is done."""
    before = s.log().count("reload complete") + s.log().count("reload failed")
    s.signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while s.log().count("reload complete") + s.log().count("reload failed") == before:
        assert time.monotonic() < deadline and s.alive(), s.log()[-2000:]
        time.sleep(0.05)
    assert "reload failed" not in s.log(), s.log()[-2000:]


def test_an_auto_secret_survives_a_reload_and_require_gives_no_badcookie(server):
    s = server(require=True, secret="auto")
    r = ask(s, CLIENT)
    assert r.rcode() == BADCOOKIE
    c = cookie_of(r)
    assert answered(ask(s, c))
    for _ in range(2):
        reload(s)
        # The server cookie issued before the reload is still ours: answered, and
        # (young) sent back unchanged.
        r = ask(s, c)
        assert answered(r), (r.rcode(), r.flags)
        assert cookie_of(r) == c


def test_a_changed_secret_invalidates_the_cookies_made_with_the_old_one(server):
    s = server(require=True, secret="auto")
    c = cookie_of(ask(s, CLIENT))
    assert answered(ask(s, c))
    with open(s.conf_path) as f:
        text = f.read()
    assert "secret: auto" in text
    with open(s.conf_path, "w") as f:
        f.write(text.replace("secret: auto", "secret: " + SECRET))
    reload(s)
    # Now the configured secret is the key (rotate: 0): the old cookie is not ours.
    r = ask(s, c)
    assert r.rcode() == BADCOOKIE and not r.answer
    fresh = cookie_of(r)
    assert fresh[8:] == rfc9018(CLIENT, struct.unpack(">I", fresh[12:16])[0])
    assert answered(ask(s, fresh))
    # And a configured secret that stays the same keeps its cookies valid too.
    reload(s)
    assert answered(ask(s, fresh))
