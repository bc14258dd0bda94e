"""test_auth_differential.py - signpostd's authoritative answers compared with NSD and Knot.

NSD 4.6, Knot 3.2 and signpostd serve the same zones (corpus/example.zone, other.zone,
signed.zone signed at test time with NSEC, and nsec3.zone signed with NSEC3 as nsec3., with
opt-out flags as optout. (ldns-signzone) and with opt-out spans as bindopt. (dnssec-signzone)). Every query of corpus/queries.txt goes to all three over
UDP and over TCP, as the same bytes. Where NSD and Knot agree (rcode, opcode, AA/TC/RD/RA/AD/
CD, question, EDNS version/DO, RRsets per section as sets; NSID/payload/option order and
additional-section order ignored), signpostd must give that answer. Where they disagree, the
case must have a stated expectation in corpus/disagreements.txt (which peer we follow, or the
fields we require, with the reason; docs/conformance.md explains the choices), and signpostd is
checked against it. test_peer_disagreement_report writes the list of disagreements.

NSD runs with `minimal-responses: yes` so that both peers leave the apex NS RRset out of the
authority section of positive answers (Knot's behaviour and the one RFC-conformant choice we
make); all other settings are the peers' defaults.
"""

import os
import shutil
import subprocess

import pytest

import dnsutil

QUERIES = os.path.join(dnsutil.CORPUS_DIR, "queries.txt")
EXPECTATIONS = os.path.join(dnsutil.CORPUS_DIR, "disagreements.txt")
CASES = dnsutil.read_query_list(QUERIES)
PROTOS = ("udp", "tcp")
IDENTITY, VERSION = "ns1.example", "signpost-test"


def read_expectations(path):
    """{(id, proto or None): (spec words, reason)} from disagreements.txt."""
    out = {}
    with open(path) as f:
        for line in f:
            body, _, reason = line.partition("#")
            words = body.split()
            if not words:
                continue
            cid, _, proto = words[0].partition("/")
            out[(cid, proto or None)] = (words[1:], reason.strip())
    return out


EXPECT = read_expectations(EXPECTATIONS)


def expectation(cid, proto):
    return EXPECT.get((cid, proto)) or EXPECT.get((cid, None))


def check_spec(spec, got, nsd, knot):
    """Returns a list of problems of got against a spec: ["nsd"], ["knot"], or key=value
    words: rcode=NAME, flags=AA,TC (or flags=- for none), answer=N / authority=N /
    additional=N (RRset counts), noanswer (nothing sent back)."""
    if spec == ["nsd"]:
        return [] if got == nsd else ["differs from NSD in %s" % dnsutil.diff(got, nsd)]
    if spec == ["knot"]:
        return [] if got == knot else ["differs from Knot in %s" % dnsutil.diff(got, knot)]
    problems = []
    for w in spec:
        key, _, val = w.partition("=")
        if key == "noanswer":
            if got is not None:
                problems.append("expected no answer")
            continue
        if got is None or "unparseable" in got:
            problems.append("expected an answer for %s" % w)
            continue
        if key == "rcode" and got["rcode"] != val:
            problems.append("rcode %s, want %s" % (got["rcode"], val))
        elif key == "flags":
            want = tuple(f for f in val.split(",") if f and f != "-")
            if set(got["flags"]) != set(want):
                problems.append("flags %s, want %s" % (got["flags"], want))
        elif key in ("answer", "authority", "additional") and len(got[key]) != int(val):
            problems.append("%d RRsets in %s, want %s" % (len(got[key]), key, val))
        elif key not in ("rcode", "flags", "answer", "authority", "additional"):
            raise ValueError("bad expectation word %r" % w)
    return problems


@pytest.fixture(scope="module")
def zones(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("zones"))
    signed = dnsutil.sign_zone(os.path.join(d, "sign"), "signed.",
                               os.path.join(dnsutil.CORPUS_DIR, "signed.zone"))
    # NSEC3 (RFC 5155): one file signed twice, with a salt and a few iterations, and with
    # opt-out (-p) under another origin.
    # The servers copy zone files by name: the opt-out copy gets a name of its own.
    n3src = os.path.join(dnsutil.CORPUS_DIR, "nsec3.zone")
    n3copy = os.path.join(d, "optout.zone")
    shutil.copyfile(n3src, n3copy)
    nsec3 = dnsutil.sign_zone(os.path.join(d, "nsec3"), "nsec3.", n3src,
                              ["-n", "-s", "cafe01", "-t", "3"])
    optout = dnsutil.sign_zone(os.path.join(d, "optout"), "optout.", n3copy,
                               ["-n", "-s", "beef", "-t", "2", "-p"])
    bindopt = sign_zone_optout(os.path.join(d, "bindopt"), "bindopt.", n3src)
    return [("example.", os.path.join(dnsutil.CORPUS_DIR, "example.zone")),
            ("other.", os.path.join(dnsutil.CORPUS_DIR, "other.zone")),
            ("signed.", signed), ("nsec3.", nsec3), ("optout.", optout),
            ("bindopt.", bindopt)]


def sign_zone_optout(workdir, origin, src):
    """Signs src as origin with BIND's dnssec-signzone, NSEC3 with opt-out (-A), which
    (unlike ldns-signzone -p) leaves the insecure delegations and the empty non-terminals
    above only them without NSEC3: the closest provable encloser proofs of RFC 5155 7.2.1
    are then needed. Returns the signed file's path."""
    os.makedirs(workdir, exist_ok=True)
    base = os.path.join(workdir, origin.rstrip(".") + ".zone")
    shutil.copyfile(src, base)
    for extra in (["-f", "KSK"], []):
        subprocess.run(["dnssec-keygen", "-q", "-K", workdir, "-a", "ECDSAP256SHA256"] + extra
                       + [origin], cwd=workdir, check=True, capture_output=True, timeout=30)
    subprocess.run(["dnssec-signzone", "-q", "-S", "-K", workdir, "-A", "-3", "beef", "-H", "2",
                    "-o", origin, "-f", base + ".signed", base], cwd=workdir, check=True,
                   capture_output=True, timeout=60)
    return base + ".signed"


class Peers:
    """NSD and Knot, with their normalised answers cached per (case, proto)."""

    def __init__(self, nsd, knot):
        self.nsd, self.knot = nsd, knot
        self.cache = {}

    def answers(self, case, proto):
        key = (case[0], proto)
        if key not in self.cache:
            wire = wire_of(case)
            tcp = proto == "tcp"
            self.cache[key] = (dnsutil.normalize_wire(self.nsd.query_raw(wire, tcp=tcp)),
                               dnsutil.normalize_wire(self.knot.query_raw(wire, tcp=tcp)))
        return self.cache[key]


def wire_of(case):
    cid, qname, qtype, kw, _ = case
    return dnsutil.to_wire(dnsutil.make_query(qname, qtype, qid=0x5150, **kw))


@pytest.fixture(scope="module")
def peers(zones, tmp_path_factory):
    d = str(tmp_path_factory.mktemp("peers"))
    n = dnsutil.start_nsd(os.path.join(d, "nsd"), zones, identity=IDENTITY, version=VERSION,
                          extra={"minimal-responses": "yes"})
    try:
        k = dnsutil.start_knot(os.path.join(d, "knot"), zones, identity=IDENTITY,
                               version=VERSION)
    except Exception:
        n.stop(check=False)
        raise
    yield Peers(n, k)
    k.stop(check=False)
    n.stop(check=False)
    for s in (n, k):
        assert s.returncode == 0, "%s exited %s\n%s" % (s.kind, s.returncode, s.log()[-3000:])


@pytest.fixture(scope="module")
def signpostd(zones, tmp_path_factory):
    d = str(tmp_path_factory.mktemp("signpost"))
    s = dnsutil.start_signpost(os.path.join(d, "sp"), zones, identity=IDENTITY,
                               version=VERSION)
    yield s
    s.stop(check=True)  # raises on a non-zero exit or sanitizer output


def case_params():
    return [pytest.param(c, p, id="%s-%s" % (c[0], p)) for c in CASES for p in PROTOS]


@pytest.mark.parametrize("case,proto", case_params())
def test_same_answer_as_peers(case, proto, peers, signpostd):
    cid, _, _, _, line = case
    nsd, knot = peers.answers(case, proto)
    raw = signpostd.query_raw(wire_of(case), tcp=proto == "tcp")
    got = dnsutil.normalize_wire(raw)
    if raw is not None and len(raw) >= 2:
        assert raw[:2] == b"\x51\x50", "response ID not copied from the query"
    context = "query: %s (%s)\nsignpostd:\n%s\nNSD:\n%s\nKnot:\n%s" % (
        line, proto, dnsutil.describe(got), dnsutil.describe(nsd), dnsutil.describe(knot))
    if nsd == knot:
        assert got == nsd, "differs from NSD+Knot in %s\n%s" % (dnsutil.diff(got, nsd), context)
        return
    exp = expectation(cid, proto)
    assert exp is not None, ("NSD and Knot disagree (%s) and corpus/disagreements.txt states "
                             "no expectation\n%s" % (dnsutil.diff(nsd, knot), context))
    problems = check_spec(exp[0], got, nsd, knot)
    assert not problems, "expectation %s (%s) not met: %s\n%s" % (
        " ".join(exp[0]), exp[1], "; ".join(problems), context)


def test_peer_disagreement_report(peers, tmp_path_factory):
    """Writes every case where NSD and Knot disagree, and requires each to have a stated
    expectation, so a new disagreement (new peer version, new corpus query) is noticed."""
    lines, missing = [], []
    for case in CASES:
        for proto in PROTOS:
            nsd, knot = peers.answers(case, proto)
            if nsd == knot:
                continue
            exp = expectation(case[0], proto)
            lines.append("== %s/%s: %s\n   differ in: %s\n   expectation: %s\nNSD:\n%s\nKnot:\n%s\n"
                         % (case[0], proto, case[4], ", ".join(dnsutil.diff(nsd, knot)),
                            "%s  # %s" % (" ".join(exp[0]), exp[1]) if exp else "MISSING",
                            dnsutil.describe(nsd), dnsutil.describe(knot)))
            if exp is None:
                missing.append("%s/%s" % (case[0], proto))
    report = os.environ.get("SIGNPOST_DIFF_REPORT") or os.path.join(
        str(tmp_path_factory.getbasetemp()), "peer-disagreements.txt")
    with open(report, "w") as f:
        f.write("NSD/Knot disagreements: %d of %d cases\n\n" % (len(lines),
                                                                  len(CASES) * len(PROTOS)))
        f.write("\n".join(lines))
    print("peer disagreement report: %s (%d cases)" % (report, len(lines)))
    assert not missing, "no stated expectation for: %s (report: %s)" % (", ".join(missing),
                                                                         report)


def test_peers_agree_on_most_of_the_corpus(peers):
    """Guards the harness itself: if the peers stop agreeing on most cases, the comparison
    no longer tests anything (wrong zones loaded, a server answering from another config)."""
    agree = sum(1 for c in CASES for p in PROTOS if peers.answers(c, p)[0] ==
                peers.answers(c, p)[1])
    assert agree >= 0.7 * len(CASES) * len(PROTOS), "peers agree on only %d cases" % agree
