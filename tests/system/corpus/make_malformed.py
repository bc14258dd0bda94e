#!/usr/bin/python3
"""make_malformed.py - writes malformed.txt, the malformed-query corpus of test_malformed.py
(and a seed corpus for the query-parser fuzzer): one packet per line,

    ID  TRANSPORTS  EXPECT  HEX

TRANSPORTS is udp, tcp or udp,tcp (TCP adds the 2-octet length itself unless the ID starts
with "tcpraw-", whose bytes are sent as they are). EXPECT is "peers" (signpostd must give
the verdict NSD and Knot agree on) or the verdict we state where they disagree: an rcode
name, or "noanswer" (with "!": even where they agree); the reasons are in STATED below.
Run it again after editing: ./make_malformed.py > malformed.txt
"""

import struct

QID = 0x4D41


def header(qid=QID, flags=0, qd=1, an=0, ns=0, ar=0):
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


def name(text):
    out = b""
    for label in text.strip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


WWW = name("www.example.")
Q = WWW + struct.pack("!HH", 1, 1)                     # www.example. A IN
GOOD = header() + Q


def opt(payload=1232, ext_rcode=0, version=0, flags=0, rdata=b"", owner=b"\0"):
    return owner + struct.pack("!HHBBHH", 41, payload, ext_rcode, version, flags,
                               len(rdata)) + rdata


def rr(owner, rtype, rdata, ttl=3600, rclass=1):
    return owner + struct.pack("!HHIH", rtype, rclass, ttl, len(rdata)) + rdata


PACKETS = []

# Where NSD and Knot disagree we follow NSD: it answers FORMERR whenever a header with an ID
# survives (RFC 1035 4.1.1: "unable to interpret the query"), which tells a confused client
# why instead of leaving it to time out, while Knot drops such packets. Both are allowed; an
# answer is never larger than the query's header + question, so FORMERR does not amplify.
# A verdict ending in "!" applies even where NSD and Knot agree: a documented deviation
# (docs/conformance.md), because an RFC requires it of a server with a feature the peers
# run without by default.
FORMERR_NOT_SILENCE = ("header-only-qd0 header-only-qd1 zeros-512 qd0-with-question "
                       "qd2-two-questions qd2-one-question qd65535 question-cut-in-label "
                       "question-no-type question-no-class question-half-class label-64 "
                       "label-type-01 label-type-10 name-320-octets name-257-octets "
                       "name-unterminated pointer-to-header pointer-to-self pointer-forward "
                       "pointer-beyond-end pointer-loop-two pointer-truncated "
                       "pointer-after-label-loop").split()
STATED = dict.fromkeys(FORMERR_NOT_SILENCE, "FORMERR")
STATED.update({
    # A query carries no RCODE (RFC 1035 4.1.1): NSD refuses to guess, Knot ignores it.
    "rcode-set-in-query": "FORMERR",
    # A record in the answer section of a QUERY is not something RFC 1035 defines a meaning
    # for (NOTIFY/UPDATE aside): NSD FORMERR, Knot ignores it.
    "an1-with-record": "FORMERR",
    # RFC 6891 6.1.1/6.1.2: the OPT owner MUST be the root; NSD FORMERR, Knot ignores it.
    "opt-non-root-owner": "FORMERR",
    "opt-owner-pointer-to-qname": "FORMERR",
    # Octets after the last counted record: NSD ignores them (be liberal: RFC 1035 does not
    # forbid padding a datagram), Knot FORMERR.
    "trailing-1-octet": "NOERROR",
    "trailing-10-octets": "NOERROR",
    "opt-then-trailing": "NOERROR",
    "udp-4096-trailing": "NOERROR",
    # signpostd implements DNS cookies by default; RFC 7873 5.2.2: a COOKIE option too
    # short for a client cookie is malformed: FORMERR. NSD and Knot (without mod-cookies)
    # ignore the option and answer NOERROR.
    "opt-cookie-bad-length": "FORMERR!",
})


def add(pid, data, transports="udp,tcp", expect="peers"):
    PACKETS.append((pid, transports, STATED.get(pid, expect), data))


def build():
    # --- header
    add("empty", b"", "udp")                               # zero-length datagram
    add("one-octet", b"\x4d")
    add("header-11-octets", GOOD[:11])
    add("header-only-qd0", header(qd=0))
    add("header-only-qd1", header(qd=1))
    add("all-ones-header", b"\xff" * 12)
    add("zeros-512", b"\0" * 512)
    add("qr-set", header(flags=0x8000) + Q)                # a response: never answered
    add("qr-set-aa", header(flags=0x8400) + Q)
    add("qr-set-truncated", header(flags=0x8000)[:8])
    add("opcode-3", header(flags=3 << 11) + Q)             # unassigned opcode
    add("opcode-6-dso", header(flags=6 << 11) + Q)         # DSO (RFC 8490), not supported
    add("opcode-15", header(flags=15 << 11) + Q)
    add("rcode-set-in-query", header(flags=5) + Q)
    add("z-bit-set", header(flags=0x0040) + Q)
    add("tc-set-in-query", header(flags=0x0200) + Q)
    # --- question count and question
    add("qd0-with-question", header(qd=0) + Q)
    add("qd2-two-questions", header(qd=2) + Q + Q)
    add("qd2-one-question", header(qd=2) + Q)
    add("qd65535", header(qd=65535) + Q)
    add("question-cut-in-label", header() + WWW[:6])
    add("question-no-type", header() + WWW)
    add("question-no-class", header() + WWW + b"\x00\x01")
    add("question-half-class", header() + WWW + b"\x00\x01\x00")
    add("label-64", header() + b"\x40" + b"a" * 64 + name("example.") + b"\0\1\0\1")
    add("label-type-01", header() + b"\x41" + b"a" * 1 + b"\0\0\1\0\1")   # EDNS0 ext. label
    add("label-type-10", header() + b"\x80" + b"\0\0\1\0\1")             # reserved 10xxxxxx
    long_name = b"".join(b"\x3f" + b"x" * 63 for _ in range(5)) + b"\0"
    add("name-320-octets", header() + long_name + b"\0\1\0\1")
    name256 = b"".join(b"\x3f" + b"y" * 63 for _ in range(4)) + b"\0"   # 257 octets
    add("name-257-octets", header() + name256 + b"\0\1\0\1")
    add("name-unterminated", header() + b"\x03www\x07example")
    # --- compression pointers in the question (RFC 1035 4.1.4 allows them nowhere a
    # server can have seen a name before; peers differ on accepting them)
    add("pointer-to-header", header() + b"\xc0\x00\0\1\0\1")
    add("pointer-to-self", header() + b"\xc0\x0c\0\1\0\1")
    add("pointer-forward", header() + b"\xc0\x12\0\1\0\1" + WWW)
    add("pointer-beyond-end", header() + b"\xc0\xff\0\1\0\1")
    add("pointer-loop-two", header() + b"\x01a\xc0\x0e\0\1\0\1")        # 0x0e -> c0 0e
    add("pointer-truncated", header() + b"\x03www\xc0")
    add("pointer-after-label-loop", header() + b"\x03www\xc0\x0c\0\1\0\1")
    # --- records after the question
    add("trailing-1-octet", GOOD + b"\0")
    add("trailing-10-octets", GOOD + b"\xab" * 10)
    add("an1-with-record", header(an=1) + Q + rr(b"\xc0\x0c", 1, b"\xc0\x00\x02\x01"))
    add("an1-missing", header(an=1) + Q)
    add("ns1-missing", header(ns=1) + Q)
    add("ar1-missing", header(ar=1) + Q)
    add("ar1-truncated-rr-header", header(ar=1) + Q + b"\0\0\x29\x04")
    add("ar-count-65535", header(ar=65535) + Q + opt())
    # --- EDNS OPT (RFC 6891 6.1.1: one OPT, root owner, in additional)
    add("two-opts", header(ar=2) + Q + opt() + opt())
    add("opt-non-root-owner", header(ar=1) + Q + opt(owner=name("x.")))
    add("opt-owner-pointer-to-qname", header(ar=1) + Q + opt(owner=b"\xc0\x0c"))
    add("opt-rdata-truncated", header(ar=1) + Q + opt()[:-2] + b"\x00\x10" + b"\0\0")
    add("opt-option-overrun", header(ar=1) + Q + opt(rdata=b"\xfd\xe9\x00\x10abcd"))
    add("opt-option-header-cut", header(ar=1) + Q + opt(rdata=b"\x00\x03\x00"))
    add("opt-in-answer", header(an=1) + Q + opt())
    add("opt-in-authority", header(ns=1) + Q + opt())
    add("opt-version-255", header(ar=1) + Q + opt(version=255))
    add("opt-ext-rcode-in-query", header(ar=1) + Q + opt(ext_rcode=1))
    add("opt-payload-0", header(ar=1) + Q + opt(payload=0))
    add("opt-cookie-bad-length", header(ar=1) + Q + opt(rdata=b"\x00\x0a\x00\x03abc"))
    add("opt-then-trailing", header(ar=1) + Q + opt() + b"\x00")
    add("tsig-bogus", header(ar=1) + Q + rr(name("key."), 250, b"\0" * 10, ttl=0, rclass=255))
    # --- QTYPE/QCLASS oddities in otherwise fine packets
    add("qclass-0", header() + WWW + b"\0\1\0\0")
    add("qtype-opt", header() + WWW + b"\0\x29\0\1")
    # --- TCP framing (bytes sent as they are; the ID says so)
    add("tcpraw-zero-length", b"\0\0", "tcp")
    add("tcpraw-length-1", b"\0\1\x4d", "tcp")
    add("tcpraw-length-11", struct.pack("!H", 11) + GOOD[:11], "tcp")
    add("tcpraw-length-beyond-data", struct.pack("!H", 200) + GOOD, "tcp")
    add("tcpraw-length-short", struct.pack("!H", 12) + GOOD, "tcp")
    # --- UDP: a good query padded to 4096 octets
    add("udp-4096-trailing", GOOD + b"\0" * (4096 - len(GOOD)), "udp")


def main():
    build()
    print(__doc__.split("\n\n")[0].replace('"""', "").strip().replace("\n", "\n# ")
          .join(["# ", ""]))
    print("# generated by make_malformed.py: ID TRANSPORTS EXPECT HEX")
    for pid, transports, expect, data in PACKETS:
        print("%-28s %-8s %-9s %s" % (pid, transports, expect, data.hex() or "-"))


if __name__ == "__main__":
    main()
