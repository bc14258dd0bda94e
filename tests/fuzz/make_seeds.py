#!/usr/bin/python3
"""make_seeds.py - (re)builds the seed corpora of the libFuzzer targets in
tests/fuzz/corpus/<target>/ from real messages and real files:

  fuzz_query     queries built with dnspython against the names of the target's zones
                 (plain, EDNS, DO, NSID, CHAOS, AXFR/IXFR, NOTIFY/UPDATE, TSIG-signed),
                 and hand-made malformed ones (two OPTs, forward pointers, QDCOUNT 0/2, ...)
  fuzz_wire      two knob octets + those queries and dnspython responses (compressed)
  fuzz_zonefile  tests/system/zones/{good,broken}/*.zone and the other test zones
  fuzz_resolver  a knob octet + upstream replies built with dnspython: referrals with and
                 without glue, answers, CNAME chains, NXDOMAIN/NODATA with SOA, truncated,
                 REFUSED/FORMERR, DNSSEC-signed (RRSIG/NSEC/DS/DNSKEY), a DNAME
  fuzz_gslb_conf the YAML examples of docs/gslb.md and the configurations in
                 tests/unit/test_gslb_conf.c

Run it with /usr/bin/python3 (dnspython) from anywhere; it replaces the generated files
(seed-*) and leaves other files (regress-*: reduced finds) alone. Deterministic,
except the TSIG-signed seeds (signing time): message IDs are fixed."""
import glob
import hashlib
import os
import re
import struct
import sys

import dns.message
import dns.name
import dns.edns
import dns.flags
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tsigkeyring
import dns.update

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def save(target, data, tag):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    h = hashlib.sha1(data).hexdigest()[:12]
    with open(os.path.join(d, f"seed-{tag}-{h}"), "wb") as f:
        f.write(data)


def clean(target):
    for p in glob.glob(os.path.join(CORPUS, target, "seed-*")):
        os.unlink(p)


def query(name, rdtype="A", rdclass="IN", qid=4660, **kw):
    q = dns.message.make_query(name, rdtype, rdclass, **kw)
    q.id = qid
    return q


def queries():
    """(tag, wire) pairs: well-formed queries first, then malformed ones."""
    out = []
    names = [
        ("www.example.", "A"), ("www.example.", "AAAA"), ("example.", "SOA"),
        ("example.", "NS"), ("example.", "MX"), ("example.", "ANY"), ("example.", "TXT"),
        ("alias.example.", "A"), ("chain1.example.", "A"), ("loop1.example.", "A"),
        ("gone.example.", "A"), ("toother.example.", "A"), ("tosigned.example.", "A"),
        ("x.dn.example.", "A"), ("a.b.dn.example.", "AAAA"), ("dn.example.", "DNAME"),
        ("a.self.example.", "A"), ("x.long.example.", "A"), ("x.toout.example.", "A"),
        ("todname.example.", "A"), ("foo.wild.example.", "A"), ("a.b.wild.example.", "MX"),
        ("q.wcname.example.", "A"), ("y.wcent.example.", "A"), ("z.wcent.example.", "A"),
        ("sub.example.", "NS"), ("sub.example.", "DS"), ("host.sub.example.", "A"),
        ("deep.ns1.sub.example.", "A"), ("deleg2.example.", "A"), ("_sip._udp.example.", "SRV"),
        ("_sip._tcp.example.", "SRV"), ("ptr.example.", "PTR"), ("caa.example.", "CAA"),
        ("unk.example.", "TYPE65000"), ("big.example.", "TXT"), ("bigalias.example.", "TXT"),
        ("wide.example.", "A"), ("nothere.example.", "A"), ("www.other.", "A"),
        ("back.other.", "A"), ("nonexistent.invalid.", "A"), (".", "NS"),
        ("WwW.ExAmPlE.", "A"),
    ]
    for i, (n, t) in enumerate(names):
        out.append((f"q{i}", query(n, t).to_wire()))
    signed = [("www.signed.", "A"), ("signed.", "DNSKEY"), ("nx.signed.", "A"),
              ("www.signed.", "MX"), ("x.wc.signed.", "A"), ("a.signed.", "A"),
              ("deleg.signed.", "A"), ("deleg.signed.", "DS"), ("insecure.signed.", "DS"),
              ("x.insecure.signed.", "A"), ("signed.", "NSEC")]
    for i, (n, t) in enumerate(signed):
        out.append((f"do{i}", query(n, t, want_dnssec=True, payload=1232).to_wire()))
    out.append(("edns512", query("big.example.", "TXT", use_edns=0, payload=512).to_wire()))
    out.append(("edns4096", query("wide.example.", "A", use_edns=0, payload=4096).to_wire()))
    out.append(("nsid", query("www.example.", "A", use_edns=0,
                              options=[dns.edns.GenericOption(dns.edns.NSID, b"")]).to_wire()))
    out.append(("ednsv1", query("www.example.", "A", use_edns=1).to_wire()))
    cookie = dns.edns.GenericOption(dns.edns.COOKIE, b"\x01\x02\x03\x04\x05\x06\x07\x08")
    out.append(("cookie", query("www.example.", "A", use_edns=0, options=[cookie]).to_wire()))
    badcookie = dns.edns.GenericOption(dns.edns.COOKIE, b"\x01\x02\x03")
    out.append(("badcookie", query("www.example.", "A", use_edns=0, options=[badcookie]).to_wire()))
    out.append(("ecs4", query("www.example.", "A", use_edns=0,
                              options=[dns.edns.ECSOption("192.0.2.0", 24)]).to_wire()))
    out.append(("ecs6", query("www.example.", "AAAA", use_edns=0,
                              options=[dns.edns.ECSOption("2001:db8::", 56)]).to_wire()))
    out.append(("ecsscope", query("www.example.", "A", use_edns=0, options=[
        dns.edns.GenericOption(dns.edns.ECS, b"\x00\x01\x18\x10\xc0\x00\x02")]).to_wire()))
    out.append(("version", query("version.bind.", "TXT", "CH").to_wire()))
    out.append(("idserver", query("id.server.", "TXT", "CH").to_wire()))
    out.append(("hostname", query("hostname.bind.", "TXT", "CH").to_wire()))
    out.append(("classany", query("www.example.", "A", "ANY").to_wire()))
    out.append(("classhs", query("www.example.", "A", "HS").to_wire()))
    out.append(("axfr", query("example.", "AXFR").to_wire()))
    ixfr = query("example.", "IXFR")
    ixfr.authority.append(dns.rrset.from_text("example.", 0, "IN", "SOA",
                                              "ns1.example. hostmaster.example. 1 7200 3600 1209600 300"))
    out.append(("ixfr", ixfr.to_wire()))
    notify = query("example.", "SOA")
    notify.set_opcode(dns.opcode.NOTIFY)
    out.append(("notify", notify.to_wire()))
    upd = dns.update.UpdateMessage("example.", id=77)
    upd.add("new", 300, "A", "192.0.2.9")
    out.append(("update", upd.to_wire()))
    keyring = dns.tsigkeyring.from_text({"key.example.": "c2lnbnBvc3QtZnV6ei1rZXk="})
    tq = query("www.example.", "A")
    tq.use_tsig(keyring, keyname="key.example.")
    out.append(("tsig", tq.to_wire()))

    # Malformed, built as bytes: each exercises one FORMERR/drop rule.
    base = query("www.example.", "A").to_wire()
    hdr, body = base[:12], base[12:]
    def with_counts(qd, an, ns, ar, rest):
        return hdr[:4] + struct.pack("!HHHH", qd, an, ns, ar) + rest
    opt = b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)
    out.append(("qd0", with_counts(0, 0, 0, 0, b"")))
    out.append(("qd2", with_counts(2, 0, 0, 0, body + body)))
    out.append(("an1", with_counts(1, 1, 0, 0, body + b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 0, 4) + b"\x01\x02\x03\x04")))
    out.append(("twoopt", with_counts(1, 0, 0, 2, body + opt + opt)))
    out.append(("optnotroot", with_counts(1, 0, 0, 1, body + b"\xc0\x0c" + opt[1:])))
    out.append(("optbadopts", with_counts(1, 0, 0, 1, body + b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 4) + b"\x00\x03\x00\x09")))
    out.append(("fwdptr", with_counts(1, 0, 0, 0, b"\xc0\x0e\x00\x00\x01\x00\x01")))
    out.append(("selfptr", with_counts(1, 0, 0, 0, b"\xc0\x0c\x00\x01\x00\x01")))
    out.append(("label01", with_counts(1, 0, 0, 0, b"\x43abc\x00\x00\x01\x00\x01")))
    out.append(("trunc", base[:-3]))
    out.append(("trailing", base + b"\x00\x00\x00"))
    out.append(("qr", base[:2] + bytes([base[2] | 0x80]) + base[3:]))
    out.append(("rcode", base[:3] + bytes([base[3] | 0x05]) + base[4:]))
    out.append(("short", base[:11]))
    tsig_rr = tq.to_wire()[12 + len(body):]
    out.append(("tsignotlast", with_counts(1, 0, 0, 2, body + tsig_rr + opt)))
    longname = b"".join(b"\x3f" + b"a" * 63 for _ in range(4)) + b"\x00"
    out.append(("toolong", with_counts(1, 0, 0, 0, longname + b"\x00\x01\x00\x01")))
    return out


def responses():
    out = []
    q = query("www.example.", "A", want_dnssec=True)
    r = dns.message.make_response(q)
    r.answer.append(dns.rrset.from_text("www.example.", 300, "IN", "A", "192.0.2.80"))
    r.authority.append(dns.rrset.from_text("example.", 300, "IN", "NS", "ns1.example.", "ns2.example."))
    r.additional.append(dns.rrset.from_text("ns1.example.", 300, "IN", "A", "192.0.2.1"))
    out.append(("resp1", r.to_wire()))
    q = query("alias.example.", "MX")
    r = dns.message.make_response(q)
    r.answer.append(dns.rrset.from_text("alias.example.", 300, "IN", "CNAME", "www.example."))
    r.answer.append(dns.rrset.from_text("www.example.", 300, "IN", "MX", "10 mail.www.example."))
    r.additional.append(dns.rrset.from_text("mail.www.example.", 300, "IN", "AAAA", "2001:db8::1"))
    out.append(("resp2", r.to_wire()))
    return out


def upstream_replies(question=None):
    """(tag, reply) pairs: what upstream servers answer a resolver (ID 0x1234, the one
    fuzz_resolver's transport gives, so unpatched seeds match too). question: (name, type)
    to put in every reply instead of each one's own: the question fuzz_resolver will
    patch in has the same length then, so the compression pointers stay right."""
    out = []

    def reply(qname, qtype, an=(), ns=(), ar=(), rcode=0, aa=True, flags=0):
        if question is not None:
            qname, qtype = question
        q = query(qname, qtype, qid=0x1234)
        r = dns.message.make_response(q)
        r.flags |= flags
        if not aa:
            r.flags &= ~dns.flags.AA
        else:
            r.flags |= dns.flags.AA
        r.set_rcode(rcode)
        for sec, lines in ((r.answer, an), (r.authority, ns), (r.additional, ar)):
            for line in lines:
                name, ttl, rdclass, rdtype, *rd = line.split()
                sec.append(dns.rrset.from_text(name, int(ttl), rdclass, rdtype, " ".join(rd)))
        return r.to_wire()

    soa = "example.com. 3600 IN SOA ns1.example.com. h.example.com. 1 3600 600 86400 60"
    sig = ("RRSIG {t} 8 2 3600 20300101000000 20200101000000 12345 example.com. "
           "dGhpcyBpcyBub3QgYSByZWFsIHNpZ25hdHVyZSBidXQgaXQgaXMgYmFzZTY0IGVuY29kZWQ=")
    out.append(("root-ns", reply(".", "NS", an=[". 518400 IN NS a.root."],
                                 ar=["a.root. 518400 IN A 127.0.0.1"])))
    out.append(("ref-com", reply("com.", "NS", aa=False, ns=["com. 172800 IN NS ns1.com."],
                                 ar=["ns1.com. 172800 IN A 127.0.0.2",
                                     "ns1.com. 172800 IN AAAA ::2"])))
    out.append(("ref-example", reply("example.com.", "A", aa=False,
                                     ns=["example.com. 86400 IN NS ns1.example.com.",
                                         "example.com. 86400 IN NS ns.other.net."],
                                     ar=["ns1.example.com. 86400 IN A 127.0.0.3"])))
    out.append(("ref-glueless", reply("www.example.com.", "A", aa=False,
                                      ns=["example.com. 86400 IN NS ns.other.net."])))
    out.append(("ref-ds", reply("www.example.com.", "A", aa=False,
                                ns=["example.com. 86400 IN NS ns1.example.com.",
                                    "example.com. 86400 IN DS 12345 8 2 " + "ab" * 32,
                                    "example.com. 86400 IN " + sig.format(t="DS")],
                                ar=["ns1.example.com. 86400 IN A 127.0.0.3"])))
    out.append(("answer-a", reply("www.example.com.", "A", an=["www.example.com. 300 IN A 192.0.2.1"],
                                  ns=["example.com. 300 IN NS ns1.example.com."])))
    out.append(("answer-aaaa", reply("www.example.com.", "AAAA",
                                     an=["www.example.com. 300 IN AAAA 2001:db8::1"])))
    out.append(("answer-mx", reply("example.com.", "MX", an=["example.com. 300 IN MX 10 mail.example.com."],
                                   ar=["mail.example.com. 300 IN A 192.0.2.2"])))
    out.append(("cname", reply("www.example.com.", "A",
                               an=["www.example.com. 300 IN CNAME a.example.com.",
                                   "a.example.com. 300 IN CNAME b.example.net.",
                                   "b.example.net. 300 IN A 192.0.2.3"])))
    out.append(("cname-out", reply("www.example.com.", "A",
                                   an=["www.example.com. 300 IN CNAME www.example.org."])))
    out.append(("cname-loop", reply("www.example.com.", "A",
                                    an=["www.example.com. 300 IN CNAME www.example.com."])))
    out.append(("dname", reply("www.example.com.", "A",
                               an=["example.com. 300 IN DNAME example.net.",
                                   "www.example.com. 300 IN CNAME www.example.net.",
                                   "www.example.net. 300 IN A 192.0.2.4"])))
    out.append(("nxdomain", reply("www.example.com.", "A", rcode=dns.rcode.NXDOMAIN, ns=[soa])))
    out.append(("nodata", reply("www.example.com.", "AAAA", ns=[soa])))
    out.append(("nxdomain-nsec", reply("www.example.com.", "A", rcode=dns.rcode.NXDOMAIN,
                                       ns=[soa, "example.com. 3600 IN " + sig.format(t="SOA"),
                                           "example.com. 3600 IN NSEC z.example.com. NS SOA RRSIG NSEC DNSKEY",
                                           "example.com. 3600 IN " + sig.format(t="NSEC")])))
    out.append(("signed-a", reply("www.example.com.", "A",
                                  an=["www.example.com. 300 IN A 192.0.2.1",
                                      "www.example.com. 300 IN " + sig.format(t="A")])))
    out.append(("dnskey", reply("example.com.", "DNSKEY",
                                an=["example.com. 3600 IN DNSKEY 257 3 8 AwEAAcZ0bW9yZSBieXRlcyB0aGF0IGxvb2sgbGlrZSBhIGtleSBidXQgYXJlIG5vdA==",
                                    "example.com. 3600 IN " + sig.format(t="DNSKEY")])))
    out.append(("tc", reply("www.example.com.", "A", flags=dns.flags.TC)))
    out.append(("refused", reply("www.example.com.", "A", rcode=dns.rcode.REFUSED, aa=False)))
    out.append(("formerr", reply("www.example.com.", "A", rcode=dns.rcode.FORMERR, aa=False)))
    out.append(("servfail", reply("www.example.com.", "A", rcode=dns.rcode.SERVFAIL, aa=False)))
    eq = question or ("www.example.com.", "A")
    edns = dns.message.make_response(query(eq[0], eq[1], qid=0x1234, use_edns=0, payload=1232))
    edns.answer.append(dns.rrset.from_text("www.example.com.", 300, "IN", "A", "192.0.2.1"))
    out.append(("edns", edns.to_wire()))
    return out


def main():
    clean("fuzz_resolver")
    # Knobs (fuzz_resolver.c): patched (bit 0) to the first / every question (bit 1), A
    # or the knob's other QTYPEs (bits 2-4), DO + validation (bit 5), QNAME minimisation
    # off (bit 7: the input then answers www.example.com. itself, else "com. A"); and raw
    # ones (bit 0 clear: ID 0x1234 matches, the question must be the one asked).
    qtypes = ["A", "AAAA", "NS", "MX", "CNAME", "DS", "DNSKEY", "TXT"]
    knobs = [0x01, 0x03, 0x81, 0x83, 0xa3, 0x80, 0x82, 0x00]
    for knob in knobs + [0x85, 0x89, 0x8d, 0x95, 0x99, 0x9d]:
        if knob & 0x80:
            qq = ("www.example.com.", qtypes[(knob >> 2) & 7])
        else:
            qq = ("com.", "A")
        replies = upstream_replies(qq)
        if knob not in knobs:
            replies = replies[5:9] + replies[13:17]
        for tag, wire in replies:
            save("fuzz_resolver", bytes([knob]) + wire, f"{tag}-k{knob:02x}")
    for t in ("fuzz_query", "fuzz_wire", "fuzz_zonefile", "fuzz_gslb_conf", "fuzz_resolver"):
        clean(t)
    qs = queries()
    for tag, wire in qs:
        save("fuzz_query", wire, tag)
    knobs = [(0, 0xff), (12, 0x40), (0, 0x01), (30, 0x21), (0, 0x07)]
    for i, (tag, wire) in enumerate(qs[:: 3] + responses()):
        a, b = knobs[i % len(knobs)]
        save("fuzz_wire", bytes([a, b]) + wire, tag)

    zone_files = sorted(glob.glob(os.path.join(TOP, "tests/system/zones/**/*.zone"), recursive=True))
    zone_files += sorted(glob.glob(os.path.join(TOP, "tests/system/zones/**/*.inc"), recursive=True))
    for p in zone_files:
        with open(p, "rb") as f:
            save("fuzz_zonefile", f.read(), os.path.basename(p).replace(".", "_"))

    yamls = []
    with open(os.path.join(TOP, "docs/gslb.md")) as f:
        md = f.read()
    for block in re.findall(r"```yaml\n(.*?)```", md, re.S):
        if not re.search(r"^gslb:", block, re.M):
            block = "gslb:\n" + "".join("  " + l + "\n" for l in block.splitlines())
        yamls.append(block)
    with open(os.path.join(TOP, "tests/unit/test_gslb_conf.c")) as f:
        src = f.read()
    # Runs of adjacent C string literals that start a gslb: document.
    for m in re.finditer(r'"gslb:\\n"(?:\s*(?:/\*.*?\*/)?\s*"(?:[^"\\]|\\.)*")*', src, re.S):
        lits = re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(0))
        text = "".join(lits).encode().decode("unicode_escape")
        if len(text) > 10:
            yamls.append(text)
    # One small configuration per policy and per check type.
    checks = {
        "tcp": "      type: tcp\n      port: 80\n",
        "http": "      type: http\n      path: /h\n      expect-status: 200\n      interval: 500ms\n      timeout: 200ms\n",
        "https": "      type: https\n      sni: a.example\n      tls-verify: false\n",
        "external": "      type: external\n      file: /nonexistent/state\n",
    }
    policies = ["weighted", "round-robin", "failover", "hash", "topology", "lowest-rtt"]
    for i, pol in enumerate(policies):
        ctype = list(checks)[i % len(checks)]
        y = ("gslb:\n  checks:\n    c1:\n" + checks[ctype] +
             "  pools:\n    p1:\n      ttl: 20\n      max-answers: 2\n      fallback: all\n"
             "      members:\n"
             "        - { name: m1, address: 192.0.2.1, weight: 2, priority: 0, region: eu, check: c1 }\n"
             "        - { name: m2, address6: '2001:db8::2', priority: 1, region: us }\n"
             "  topology:\n    - { subnet: 10.0.0.0/8, region: eu }\n    - { subnet: '2001:db8::/32', region: us }\n"
             "  region-order: { eu: [eu, us], us: [us, eu] }\n"
             "  names:\n    - name: www.example.test.\n      pool: p1\n"
             f"      policy: {pol}\n      hash-prefix4: 24\n      hash-prefix6: 56\n")
        yamls.append(y)
    yamls.append("gslb:\n  pools: {}\n")
    yamls.append("gslb: &a\n  pools: *a\n")
    yamls.append("other: 1\n")
    for i, y in enumerate(yamls):
        save("fuzz_gslb_conf", y, f"y{i}")
    clean("fuzz_resolver")
    # Knobs (fuzz_resolver.c): patched (bit 0) to the first / every question (bit 1), A
    # or the knob's other QTYPEs (bits 2-4), DO + validation (bit 5), QNAME minimisation
    # off (bit 7: the input then answers www.example.com. itself, else "com. A"); and raw
    # ones (bit 0 clear: ID 0x1234 matches, the question must be the one asked).
    qtypes = ["A", "AAAA", "NS", "MX", "CNAME", "DS", "DNSKEY", "TXT"]
    knobs = [0x01, 0x03, 0x81, 0x83, 0xa3, 0x80, 0x82, 0x00]
    for knob in knobs + [0x85, 0x89, 0x8d, 0x95, 0x99, 0x9d]:
        if knob & 0x80:
            qq = ("www.example.com.", qtypes[(knob >> 2) & 7])
        else:
            qq = ("com.", "A")
        replies = upstream_replies(qq)
        if knob not in knobs:
            replies = replies[5:9] + replies[13:17]
        for tag, wire in replies:
            save("fuzz_resolver", bytes([knob]) + wire, f"{tag}-k{knob:02x}")
    for t in ("fuzz_query", "fuzz_wire", "fuzz_zonefile", "fuzz_gslb_conf", "fuzz_resolver"):
        n = len(glob.glob(os.path.join(CORPUS, t, "*")))
        print(f"{t}: {n} files", file=sys.stderr)


if __name__ == "__main__":
    main()
