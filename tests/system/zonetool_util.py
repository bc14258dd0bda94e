"""zonetool_util - shared helpers for the signpost-zone and zone-store system tests.

Finds the built programs (env SIGNPOST_BUILD, default /work/main/build), runs them with a
bound on time, flattens $INCLUDEs for ldns-read-zone (which does not implement them),
turns master files into comparable sets of canonical records, and generates big zones.
"""

import ipaddress
import os
import re
import subprocess

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.zone

HERE = os.path.dirname(os.path.abspath(__file__))
ZONES = os.path.join(HERE, "zones")
GOOD = os.path.join(ZONES, "good")
BROKEN = os.path.join(ZONES, "broken")


def build_dir():
    return os.environ.get("SIGNPOST_BUILD", "/work/main/build")


def tool_path():
    return os.path.join(build_dir(), "signpost-zone")


def reader_path():
    return os.path.join(build_dir(), "tests", "system", "helpers", "zone-reader")


def run_tool(*args, timeout=300, cwd=None, env=None):
    """Runs signpost-zone with args; returns the CompletedProcess (text mode)."""
    e = dict(os.environ)
    e.pop("SIGNPOST_STATE_DIR", None)
    if env:
        e.update(env)
    return subprocess.run([tool_path()] + [str(a) for a in args], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd, env=e)


def compile_zone(db, origin, path, *extra, cwd=None):
    return run_tool("compile", "--db", db, *extra, origin, path, cwd=cwd)


def dump_zone(db, origin):
    r = run_tool("dump", "--db", db, origin)
    assert r.returncode == 0, f"dump {origin}: rc {r.returncode}: {r.stderr}"
    return r.stdout


def good_zones():
    """(origin, file name) for each zone in zones/good (file NAME.zone has origin NAME.)."""
    return sorted((f[:-len(".zone")] + ".", f) for f in os.listdir(GOOD) if f.endswith(".zone"))


_INCLUDE = re.compile(r"^\$INCLUDE\s+(\S+)(?:\s+(\S+))?", re.I)
_ORIGIN = re.compile(r"^\$ORIGIN\s+(\S+)", re.I)


def flatten(path, origin, cwd, depth=0):
    """Returns the text of the master file with every $INCLUDE replaced by the included
    text (paths relative to cwd, as BIND and NSD read them), restoring $ORIGIN after each
    one as RFC 1035 5.1 says."""
    assert depth < 10, "include loop"
    out = [f"$ORIGIN {origin}"]
    current = origin
    with open(os.path.join(cwd, path)) as f:
        for line in f:
            m = _ORIGIN.match(line)
            if m:
                name = m.group(1)
                current = name if name.endswith(".") else f"{name}.{current}"
                out.append(f"$ORIGIN {current}")
                continue
            m = _INCLUDE.match(line)
            if m:
                inc_origin = m.group(2) or current
                if not inc_origin.endswith("."):
                    inc_origin = f"{inc_origin}.{current}"
                out.append(flatten(m.group(1), inc_origin, cwd, depth + 1))
                out.append(f"$ORIGIN {current}")
                continue
            out.append(line.rstrip("\n"))
    return "\n".join(out) + "\n"


def ldns_canonical(path, origin, tmp_path):
    """The zone as ldns-read-zone -z prints it (sorted, canonical), includes flattened."""
    flat = tmp_path / ("flat-" + os.path.basename(path))
    flat.write_text(flatten(os.path.basename(path), origin, os.path.dirname(path)))
    r = subprocess.run(["ldns-read-zone", "-z", str(flat)], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, f"ldns-read-zone {path}: {r.stderr}"
    return r.stdout


def record_set(text, origin):
    """Parses a master file into a set of (owner, ttl, type, canonical rdata wire) tuples:
    names lower-cased and rdata in RFC 4034 6.2 canonical form, so two texts that differ
    only in presentation (spacing, case, escapes, TTL units, hex case) compare equal."""
    z = dns.zone.from_text(text, origin=origin, relativize=False, check_origin=False)
    out = set()
    for name, ttl, rdata in z.iterate_rdatas():
        owner = name.canonicalize().to_text()
        out.add((owner, ttl, dns.rdatatype.to_text(rdata.rdtype),
                 rdata.to_digestable(dns.name.root).hex()))
    return out


def record_count(text):
    return sum(1 for line in text.splitlines() if line.strip() and not line.startswith((";", "$")))


def normalise_lines(text):
    """Cheap canonical form for the generated big zone (A, AAAA, TXT, MX, NS, SOA only):
    whitespace-separated tokens, lower case, class dropped, IPv6 compressed."""
    out = []
    for line in text.splitlines():
        line = line.split(";", 1)[0].strip() if '"' not in line else line.strip()
        if not line or line.startswith("$"):
            continue
        t = line.split()
        if len(t) > 3 and t[2].upper() == "IN":
            del t[2]
        t = [x.lower() for x in t]
        if t[2] == "aaaa":
            t[3] = ipaddress.IPv6Address(t[3]).compressed
        out.append(" ".join(t))
    return out


def generate_big_zone(path, origin, n, serial=1):
    """Writes a zone of exactly n records of mixed types (A, AAAA, TXT, MX) to path."""
    with open(path, "w") as f:
        w = f.write
        w(f"$ORIGIN {origin}\n$TTL 3600\n@ SOA ns1 hostmaster {serial} 3600 600 86400 300\n"
          " NS ns1\n NS ns2\nns1 A 192.0.2.1\nns2 A 192.0.2.2\n")
        for i in range(n - 5):
            k = i % 4
            if k == 0:
                w(f"h{i} A 10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}\n")
            elif k == 1:
                w(f"h{i} AAAA 2001:db8::{i >> 16:x}:{i & 0xffff:x}\n")
            elif k == 2:
                w(f"h{i} TXT \"rec-{i}-s{serial}\"\n")
            else:
                w(f"h{i} MX {i % 100} h{i - 3}\n")
