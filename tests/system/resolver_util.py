"""resolver_util.py - a private DNS hierarchy on loopback for the resolver tests and the
resolver benchmark, and Unbound on the same hierarchy for comparison.

The hierarchy (docs/resolver.md "System tests"): glue carries no port, so every authority
listens on port 53, each on its own 127.0.53.x address (never 127.0.0.1; checked free first):

  127.0.53.1  signpostd   .            signed (ldns-keygen + ldns-signzone), the trust anchor
  127.0.53.2  NSD         tld1.        unsigned: an insecure delegation from the root
                          sec.         signed, DS in the root: secure
                          bogus.       signed with signatures expired in 2020: bogus
  127.0.53.3  signpostd   good.tld1.   plain data, CNAME, NXDOMAIN, NODATA
  127.0.53.4  Knot        knot.tld1.
  127.0.53.10 python      silent.tld1.   never answers
  127.0.53.11 python      tc.tld1.       TC=1 over UDP, the answer over TCP
  127.0.53.12 python      sf.tld1.       SERVFAIL to everything
  127.0.53.13 python      poison.tld1.   answers with out-of-bailiwick records for good.tld1.
  127.0.53.14 python      wrongid.tld1.  a spoof with a wrong ID and one with a wrong question
                                         first, then the real answer
  127.0.53.15 python      nxns.tld1.     referrals to 30 glueless NS names that do not exist
  127.0.53.16 python      flaky.tld1.    a normal authority that can be switched off

Every process is started here and stopped by PID; python authorities are threads of the test
process, so their query counters are plain attributes.
"""

import os
import select
import socket
import struct
import subprocess
import threading
import time

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset

import dnsutil

ROOT_IP = "127.0.53.1"
NSD_IP = "127.0.53.2"
GOOD_IP = "127.0.53.3"
KNOT_IP = "127.0.53.4"
PY_IPS = {"silent": "127.0.53.10", "tc": "127.0.53.11", "sf": "127.0.53.12",
          "poison": "127.0.53.13", "wrongid": "127.0.53.14", "nxns": "127.0.53.15",
          "flaky": "127.0.53.16"}
ALL_IPS = [ROOT_IP, NSD_IP, GOOD_IP, KNOT_IP] + list(PY_IPS.values())
NXNS_COUNT = 30

SOA = "ns.%s hostmaster.%s 1 3600 600 86400 %d"


def port53_taken(ips=ALL_IPS):
    """The first address of ips on which UDP or TCP port 53 cannot be bound, or None."""
    for ip in ips:
        for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
            s = socket.socket(socket.AF_INET, kind)
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((ip, 53))
            except OSError:
                return ip
            finally:
                s.close()
    return None


# ---- zones ----------------------------------------------------------------------------

def zone_head(origin, ns_ip, neg_ttl=300):
    return ("$ORIGIN %s\n$TTL 3600\n@ SOA %s\n@ NS ns\nns A %s\n"
            % (origin, SOA % (origin, origin, neg_ttl), ns_ip))


def delegation(child, ip):
    return "%s NS ns.%s\nns.%s A %s\n" % (child, child, child, ip)


def ds_of(workdir, keyfile):
    """The DS text ldns-keygen wrote next to the KSK."""
    with open(os.path.join(workdir, keyfile + ".ds")) as f:
        return f.read().strip()


def keygen(workdir, origin):
    """A KSK and a ZSK (ECDSA P-256) for origin; returns their base names."""
    keys = []
    for extra in (["-k"], []):
        out = subprocess.run(["ldns-keygen", "-a", "ECDSAP256SHA256"] + extra + [origin],
                             cwd=workdir, check=True, capture_output=True, text=True,
                             timeout=30)
        keys.append(out.stdout.strip())
    return keys


def sign(workdir, origin, fname, text, keys, expired=False):
    path = os.path.join(workdir, fname)
    with open(path, "w") as f:
        f.write(text)
    args = ["ldns-signzone", "-o", origin]
    if expired:
        # Signatures valid in 2019 only: a validator must find them bogus (RFC 4035 5.3.1).
        args += ["-i", "20190101000000", "-e", "20200101000000"]
    subprocess.run(args + [fname] + keys, cwd=workdir, check=True, capture_output=True,
                   text=True, timeout=30)
    return path + ".signed"


def build_zones(workdir, bench_hosts=0):
    """Writes and signs every zone; returns {name: path} and the root trust-anchor file.
    bench_hosts adds host0..hostN-1 A records to good.tld1. (the benchmark's names)."""
    os.makedirs(workdir, exist_ok=True)
    out = {}
    sec_keys = keygen(workdir, "sec.")
    bogus_keys = keygen(workdir, "bogus.")
    root_keys = keygen(workdir, ".")

    # *.wild: a signed wildcard (AD needs the NSEC proving the name itself absent).
    sec = zone_head("sec.", NSD_IP) + ("www A 192.0.2.50\nalias CNAME www\ntxt TXT \"secure\"\n"
                                       "*.wild A 192.0.2.51\n")
    out["sec."] = sign(workdir, "sec.", "sec.zone", sec, sec_keys)
    bogus = zone_head("bogus.", NSD_IP) + "www A 192.0.2.60\n"
    out["bogus."] = sign(workdir, "bogus.", "bogus.zone", bogus, bogus_keys, expired=True)

    root = ("$ORIGIN .\n$TTL 86400\n. SOA ns. hostmaster.ns. 1 3600 600 86400 300\n"
            ". NS ns.\nns. A %s\n" % ROOT_IP)
    root += delegation("tld1.", NSD_IP)
    root += delegation("sec.", NSD_IP) + ds_of(workdir, sec_keys[0]) + "\n"
    root += delegation("bogus.", NSD_IP) + ds_of(workdir, bogus_keys[0]) + "\n"
    out["."] = sign(workdir, ".", "root.zone", root, root_keys)
    anchor = os.path.join(workdir, "root.anchor")
    with open(anchor, "w") as f:
        f.write(ds_of(workdir, root_keys[0]) + "\n")

    tld1 = zone_head("tld1.", NSD_IP)
    tld1 += delegation("good", GOOD_IP) + delegation("knot", KNOT_IP)
    for name, ip in PY_IPS.items():
        tld1 += delegation(name, ip)
    out["tld1."] = os.path.join(workdir, "tld1.zone")
    with open(out["tld1."], "w") as f:
        f.write(tld1)

    good = zone_head("good.tld1.", GOOD_IP, neg_ttl=60)
    good += ("www A 192.0.2.1\nwww AAAA 2001:db8::1\nalias CNAME www\n"
             "out CNAME www.knot.tld1.\nmail MX 10 www\nshort 5 A 192.0.2.5\n")
    good += "".join("host%d A 10.0.%d.%d\n" % (i, i >> 8, i & 255) for i in range(bench_hosts))
    # About 1,500 octets of TXT: truncated to a client without EDNS, whole over TCP.
    good += "".join('big TXT "%02d %s"\n' % (i, "x" * 120) for i in range(12))
    out["good.tld1."] = os.path.join(workdir, "good.zone")
    with open(out["good.tld1."], "w") as f:
        f.write(good)
    knot = zone_head("knot.tld1.", KNOT_IP) + "www A 192.0.2.4\ntxt TXT \"knot\"\n"
    out["knot.tld1."] = os.path.join(workdir, "knot.zone")
    with open(out["knot.tld1."], "w") as f:
        f.write(knot)
    return out, anchor


# ---- python authorities -----------------------------------------------------------------

class PyAuth:
    """A misbehaving authority on ip:53 (UDP, and TCP when tcp=True). handler(msg, tcp)
    returns a list of (delay_seconds, wire) to send, or [] for silence. Counts every query
    by (lower-cased qname, qtype text) in .queries."""

    def __init__(self, ip, handler, tcp=True):
        self.ip = ip
        self.handler = handler
        self.queries = []
        self.enabled = True
        self.lock = threading.Lock()
        self.stop_ev = threading.Event()
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.udp.bind((ip, 53))
        self.tcp = None
        if tcp:
            self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.tcp.bind((ip, 53))
            self.tcp.listen(16)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def count(self, pred=lambda name, qtype: True):
        with self.lock:
            return sum(1 for n, t in self.queries if pred(n, t))

    def reset(self):
        with self.lock:
            self.queries = []

    def _answer(self, data, tcp):
        try:
            msg = dns.message.from_wire(data)
        except Exception:  # noqa: BLE001 - garbage gets no answer
            return []
        q = msg.question[0] if msg.question else None
        if q is not None:
            with self.lock:
                self.queries.append((q.name.to_text().lower(), dns.rdatatype.to_text(q.rdtype)))
        if not self.enabled or q is None:
            return []
        return self.handler(msg, tcp)

    def _run(self):
        socks = [self.udp] + ([self.tcp] if self.tcp else [])
        while not self.stop_ev.is_set():
            r, _, _ = select.select(socks, [], [], 0.1)
            for s in r:
                if s is self.udp:
                    try:
                        data, peer = self.udp.recvfrom(4096)
                    except OSError:
                        continue
                    for delay, wire in self._answer(data, False):
                        if delay:
                            time.sleep(delay)
                        self.udp.sendto(wire, peer)
                else:
                    try:
                        conn, _ = self.tcp.accept()
                    except OSError:
                        continue
                    threading.Thread(target=self._tcp_conn, args=(conn,), daemon=True).start()

    def _tcp_conn(self, conn):
        conn.settimeout(3)
        try:
            while not self.stop_ev.is_set():
                hdr = dnsutil.recv_exact(conn, 2)
                if not hdr:
                    return
                data = dnsutil.recv_exact(conn, struct.unpack("!H", hdr)[0])
                if not data:
                    return
                for delay, wire in self._answer(data, True):
                    if delay:
                        time.sleep(delay)
                    conn.sendall(struct.pack("!H", len(wire)) + wire)
        except OSError:
            pass
        finally:
            conn.close()

    def stop(self):
        self.stop_ev.set()
        self.thread.join(timeout=3)
        self.udp.close()
        if self.tcp:
            self.tcp.close()


def reply(msg, rcode=dns.rcode.NOERROR, aa=True):
    r = dns.message.make_response(msg)
    r.set_rcode(rcode)
    if aa:
        r.flags |= dns.flags.AA
    return r


def rr(text):
    """'name ttl IN type rdata...' -> RRset."""
    w = text.split()
    return dns.rrset.from_text(w[0], int(w[1]), w[2], w[3], " ".join(w[4:]))


def zone_answer(msg, origin, data):
    """A tiny authoritative answer from data {(name, type): [rr text]} for origin: the
    apex SOA/NS, the records, NODATA, NXDOMAIN."""
    q = msg.question[0]
    name = q.name.to_text().lower()
    qtype = dns.rdatatype.to_text(q.rdtype)
    r = reply(msg)
    soa = rr("%s 60 IN SOA %s" % (origin, SOA % (origin, origin, 60)))
    if not name.endswith(origin) and name != origin:
        r.set_rcode(dns.rcode.REFUSED)
        r.flags &= ~dns.flags.AA
        return r
    if (name, qtype) in data:
        for t in data[(name, qtype)]:
            r.answer.append(rr(t))
        return r
    if (name, "CNAME") in data:
        for t in data[(name, "CNAME")]:
            r.answer.append(rr(t))
        return r
    if any(n == name or n.endswith("." + name) for n, _ in data):
        r.authority.append(soa)
        return r
    r.set_rcode(dns.rcode.NXDOMAIN)
    r.authority.append(soa)
    return r


def std_data(origin, ip, a):
    return {(origin, "SOA"): ["%s 60 IN SOA %s" % (origin, SOA % (origin, origin, 60))],
            (origin, "NS"): ["%s 3600 IN NS ns.%s" % (origin, origin)],
            ("ns." + origin, "A"): ["ns.%s 3600 IN A %s" % (origin, ip)],
            ("www." + origin, "A"): ["www.%s 300 IN A %s" % (origin, a)]}


def start_py_auths():
    """The misbehaving authorities; returns {name: PyAuth}."""
    auths = {}

    def silent(msg, tcp):
        return []

    tc_data = std_data("tc.tld1.", PY_IPS["tc"], "192.0.2.11")

    def tc(msg, tcp):
        r = zone_answer(msg, "tc.tld1.", tc_data)
        if not tcp:
            r.answer, r.authority, r.additional = [], [], []
            r.flags |= dns.flags.TC
        return [(0, r.to_wire())]

    def sf(msg, tcp):
        return [(0, reply(msg, dns.rcode.SERVFAIL, aa=False).to_wire())]

    poison_data = std_data("poison.tld1.", PY_IPS["poison"], "192.0.2.13")

    def poison(msg, tcp):
        r = zone_answer(msg, "poison.tld1.", poison_data)
        # Out of bailiwick: an authority for poison.tld1. has no say about good.tld1.
        # or the root's servers (RFC 2181 5.4.1; the Kaminsky attack's additional data).
        r.answer.append(rr("www.good.tld1. 86400 IN A 6.6.6.6"))
        r.authority.append(rr("good.tld1. 86400 IN NS ns.poison.tld1."))
        r.additional.append(rr("ns.good.tld1. 86400 IN A 6.6.6.6"))
        r.additional.append(rr("www.good.tld1. 86400 IN A 6.6.6.6"))
        return [(0, r.to_wire())]

    wrongid_data = std_data("wrongid.tld1.", PY_IPS["wrongid"], "192.0.2.14")

    def wrongid(msg, tcp):
        good = zone_answer(msg, "wrongid.tld1.", wrongid_data)
        spoof = zone_answer(msg, "wrongid.tld1.", wrongid_data)
        spoof.answer = [rr("%s 86400 IN A 6.6.6.6" % msg.question[0].name.to_text())] \
            if msg.question[0].rdtype == dns.rdatatype.A else spoof.answer
        spoof.id = (msg.id + 1) & 0xffff
        other = dns.message.make_query("www.good.tld1.", "A")
        other.id = msg.id
        wrongq = dns.message.make_response(other)
        wrongq.flags |= dns.flags.AA
        wrongq.answer.append(rr("www.good.tld1. 86400 IN A 6.6.6.6"))
        return [(0, spoof.to_wire()), (0, wrongq.to_wire()), (0.02, good.to_wire())]

    def nxns(msg, tcp):
        q = msg.question[0]
        name = q.name.to_text().lower()
        origin = "nxns.tld1."
        if name.endswith(".ghost." + origin) or name == "ghost." + origin:
            r = reply(msg, dns.rcode.NXDOMAIN)
            r.authority.append(rr("%s 60 IN SOA %s" % (origin, SOA % (origin, origin, 60))))
            return [(0, r.to_wire())]
        labels = name[:-len(origin)].rstrip(".").split(".") if name != origin else []
        if labels:
            # Any name below: a referral to NXNS_COUNT glueless servers that do not exist.
            cut = labels[-1] + "." + origin
            r = reply(msg, aa=False)
            ns = dns.rrset.from_text(cut, 300, "IN", "NS",
                                     *["n%d.ghost.%s" % (i, origin) for i in range(NXNS_COUNT)])
            r.authority.append(ns)
            return [(0, r.to_wire())]
        return [(0, zone_answer(msg, origin, std_data(origin, PY_IPS["nxns"], "192.0.2.15"))
                 .to_wire())]

    flaky_data = std_data("flaky.tld1.", PY_IPS["flaky"], "192.0.2.16")
    flaky_data[("short.flaky.tld1.", "A")] = ["short.flaky.tld1. 2 IN A 192.0.2.17"]
    flaky_data[("ttl.flaky.tld1.", "A")] = ["ttl.flaky.tld1. 100 IN A 192.0.2.18"]

    def flaky(msg, tcp):
        return [(0, zone_answer(msg, "flaky.tld1.", flaky_data).to_wire())]

    handlers = {"silent": silent, "tc": tc, "sf": sf, "poison": poison, "wrongid": wrongid,
                "nxns": nxns, "flaky": flaky}
    try:
        for name, h in handlers.items():
            auths[name] = PyAuth(PY_IPS[name], h)
    except OSError:
        for a in auths.values():
            a.stop()
        raise
    return auths


# ---- server processes -----------------------------------------------------------------------

def start_signpost_auth(workdir, ip, zones):
    """signpostd as an authority on ip:53 for zones [(origin, path)]."""
    os.makedirs(workdir, exist_ok=True)
    lines = ["server:", "  listen:", "    - %s@53" % ip, "  workers: 1",
             "  state-dir: %s" % dnsutil.yaml_str(os.path.join(workdir, "state")),
             "log:", "  level: info", "  syslog: false",
             "metrics:", "  enabled: false", "zones:"]
    for origin, path in zones:
        lines += ["  - name: %s" % dnsutil.yaml_str(origin),
                  "    file: %s" % dnsutil.yaml_str(path)]
    os.makedirs(os.path.join(workdir, "state"), exist_ok=True)
    conf = os.path.join(workdir, "signpost.conf")
    with open(conf, "w") as f:
        f.write("\n".join(lines) + "\n")
    s = dnsutil.Signpost(workdir, 53, [os.path.join(dnsutil.build_dir(), "signpostd"), "-f",
                                       "-c", conf], env=dict(os.environ))
    wait_soa(s, ip, zones[0][0])
    return s


def wait_soa(server, ip, zone, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server.alive():
            raise dnsutil.ServerError("%s exited:\n%s" % (server.kind, server.log()[-3000:]))
        r = dnsutil.parse(dnsutil.send_udp(53, dnsutil.to_wire(dnsutil.make_query(zone, "SOA")),
                                           timeout=0.3, host=ip))
        if r is not None and r.rcode() == dns.rcode.NOERROR and r.answer:
            return
        time.sleep(0.05)
    server.stop(check=False)
    raise dnsutil.ServerError("%s on %s did not serve %s" % (server.kind, ip, zone))


def start_nsd_auth(workdir, ip, zones):
    os.makedirs(workdir, exist_ok=True)
    w = workdir
    lines = ["server:", "  ip-address: %s" % ip, "  port: 53", '  username: ""',
             '  chroot: ""', "  zonesdir: %s" % dnsutil.yaml_str(w), '  database: ""',
             "  zonelistfile: %s" % dnsutil.yaml_str(os.path.join(w, "zone.list")),
             "  xfrdfile: %s" % dnsutil.yaml_str(os.path.join(w, "xfrd.state")),
             "  xfrdir: %s" % dnsutil.yaml_str(w),
             "  pidfile: %s" % dnsutil.yaml_str(os.path.join(w, "nsd.pid")),
             "  logfile: %s" % dnsutil.yaml_str(os.path.join(w, "nsd.log")),
             "  server-count: 1", "  reuseport: no", "  rrl-ratelimit: 0",
             "remote-control:", "  control-enable: no"]
    for origin, path in zones:
        lines += ["zone:", "  name: %s" % dnsutil.yaml_str(origin),
                  "  zonefile: %s" % dnsutil.yaml_str(path)]
    conf = os.path.join(w, "nsd.conf")
    with open(conf, "w") as f:
        f.write("\n".join(lines) + "\n")
    s = dnsutil.Nsd(w, 53, ["nsd", "-d", "-c", conf])
    wait_soa(s, ip, zones[0][0])
    return s


def start_knot_auth(workdir, ip, zones):
    os.makedirs(workdir, exist_ok=True)
    w = workdir
    lines = ["server:", "  rundir: %s" % dnsutil.yaml_str(w), "  listen: %s@53" % ip,
             "  udp-workers: 1", "  tcp-workers: 1", "  background-workers: 1",
             "log:", "  - target: stderr", "    any: warning",
             "database:", "  storage: %s" % dnsutil.yaml_str(w),
             "template:", "  - id: default", "    storage: %s" % dnsutil.yaml_str(w),
             "    zonefile-sync: -1", "    zonefile-load: whole", "    journal-content: none",
             "zone:"]
    for origin, path in zones:
        lines += ["  - domain: %s" % dnsutil.yaml_str(origin),
                  "    file: %s" % dnsutil.yaml_str(path)]
    conf = os.path.join(w, "knot.conf")
    with open(conf, "w") as f:
        f.write("\n".join(lines) + "\n")
    s = dnsutil.Knot(w, 53, ["knotd", "-c", conf])
    wait_soa(s, ip, zones[0][0])
    return s


class Hierarchy:
    """Every authority of the private hierarchy; stop() stops them all by PID."""

    def __init__(self, workdir, bench_hosts=0):
        self.workdir = workdir
        self.procs = []
        self.py = {}
        self.zones, self.anchor = build_zones(os.path.join(workdir, "zones"), bench_hosts)
        self.hints = os.path.join(workdir, "root.hints")
        with open(self.hints, "w") as f:
            f.write(". 3600000 NS ns.\nns. 3600000 A %s\n" % ROOT_IP)
        try:
            z = self.zones
            self.procs.append(start_signpost_auth(os.path.join(workdir, "root"), ROOT_IP,
                                                  [(".", z["."])]))
            self.procs.append(start_nsd_auth(os.path.join(workdir, "nsd"), NSD_IP,
                                             [("tld1.", z["tld1."]), ("sec.", z["sec."]),
                                              ("bogus.", z["bogus."])]))
            self.procs.append(start_signpost_auth(os.path.join(workdir, "good"), GOOD_IP,
                                                  [("good.tld1.", z["good.tld1."])]))
            self.procs.append(start_knot_auth(os.path.join(workdir, "knot"), KNOT_IP,
                                              [("knot.tld1.", z["knot.tld1."])]))
            self.py = start_py_auths()
        except Exception:
            self.stop()
            raise

    def stop(self):
        for a in self.py.values():
            a.stop()
        self.py = {}
        for p in reversed(self.procs):
            p.stop(check=False)
        self.procs = []


# ---- the resolvers under test ---------------------------------------------------------------

def resolver_yaml(h, allow=None, extra=None):
    lines = ["resolver:", "  enable: true",
             "  root-hints: %s" % dnsutil.yaml_str(h.hints),
             "  trust-anchor: %s" % dnsutil.yaml_str(h.anchor),
             "  query-timeout: 300ms",
             "  resolution-timeout: 4s",
             "  stale-answer-timeout: 500ms"]
    if allow is not None:
        lines.append("  allow: [%s]" % ", ".join(dnsutil.yaml_str(a) for a in allow))
    for k, v in (extra or {}).items():
        lines.append("  %s: %s" % (k, v))
    return "\n".join(lines) + "\n"


def start_signpost_resolver(workdir, h, port=None, allow=None, extra=None, workers=1, cpu=None,
                            local_zone=True, metrics_port=None, listen=None, nsid=None,
                            more_yaml=""):
    """signpostd on 127.0.0.1@port resolving through the hierarchy h; also authoritative for
    local.test. (to check the two roles side by side)."""
    os.makedirs(workdir, exist_ok=True)
    zones = []
    if local_zone:
        # ext*: CNAMEs out of our zones (followed through the resolver for clients
        # allowed recursion, docs/conformance.md).
        zones = [("local.test.", "local.zone",
                  zone_head("local.test.", "127.0.0.1") +
                  "www A 192.0.2.99\next CNAME www.good.tld1.\nextnx CNAME nope.good.tld1.\n"
                  "ext2 CNAME in\nin CNAME alias.good.tld1.\nextsec CNAME www.sec.\n")]
    if listen is not None:
        # Another listen address (a wildcard, say): write, patch, start.
        port = port or dnsutil.free_port()
        conf, zl = dnsutil.write_signpost_conf(
            workdir, port, zones, workers=workers,
            extra_yaml="metrics:\n  enabled: false\n" + resolver_yaml(h, allow, extra))
        text = open(conf).read().replace("- 127.0.0.1@%d" % port, "- %s@%d" % (listen, port))
        with open(conf, "w") as f:
            f.write(text)
        s = dnsutil.Signpost(workdir, port, [os.path.join(dnsutil.build_dir(), "signpostd"),
                                             "-f", "-c", conf], env=dict(os.environ))
        s.conf_path = conf
        s.wait_for_soa(zl[0][0])
        s.control = os.path.join(workdir, "state", "control.sock")
        return s
    s = dnsutil.start_signpost(workdir, zones, port=port, workers=workers, cpu=cpu,
                               wait=local_zone,
                               nsid=nsid,
                               extra_yaml=(("metrics:\n  listen: 127.0.0.1@%d\n" % metrics_port)
                                           if metrics_port else "metrics:\n  enabled: false\n") +
                               more_yaml + resolver_yaml(h, allow, extra))
    s.control = os.path.join(workdir, "state", "control.sock")
    return s


class Unbound(dnsutil.Server):
    kind = "unbound"


def start_unbound(workdir, h, port=None, cpu=None, threads=1, extra=None):
    os.makedirs(workdir, exist_ok=True)
    port = port or dnsutil.free_port()
    lines = ["server:", "  interface: 127.0.0.1@%d" % port, "  port: %d" % port,
             '  chroot: ""', '  username: ""', "  directory: %s" % dnsutil.yaml_str(workdir),
             "  pidfile: %s" % dnsutil.yaml_str(os.path.join(workdir, "unbound.pid")),
             "  use-syslog: no", "  logfile: \"\"", "  verbosity: 0",
             "  do-not-query-localhost: no", "  num-threads: %d" % threads,
             "  root-hints: %s" % dnsutil.yaml_str(h.hints),
             "  trust-anchor-file: %s" % dnsutil.yaml_str(h.anchor),
             "  access-control: 127.0.0.0/8 allow",
             "  infra-cache-max-rtt: 1500",
             "  val-log-level: 0", "  do-ip6: no",
             "  serve-expired: yes", "  serve-expired-client-timeout: 500",
             "  minimal-responses: yes"]
    lines += ["  %s: %s" % kv for kv in (extra or {}).items()]
    lines += ["remote-control:", "  control-enable: no"]
    conf = os.path.join(workdir, "unbound.conf")
    with open(conf, "w") as f:
        f.write("\n".join(lines) + "\n")
    argv = ["unbound", "-d", "-c", conf]
    if cpu is not None:
        argv = ["taskset", "-c", str(cpu)] + argv
    s = Unbound(workdir, port, argv)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not s.alive():
            raise dnsutil.ServerError("unbound exited:\n%s" % s.log()[-3000:])
        try:
            sk = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sk.settimeout(0.2)
            sk.sendto(dnsutil.to_wire(dnsutil.make_query("localhost.", "A")), ("127.0.0.1", port))
            sk.recvfrom(512)
            sk.close()
            return s
        except OSError:
            sk.close()
            time.sleep(0.05)
    s.stop(check=False)
    raise dnsutil.ServerError("unbound did not start:\n%s" % s.log()[-3000:])


def ask(server, name, rdtype="A", *, dnssec=False, cd=False, rd=True, tcp=False, timeout=6.0,
        src=None):
    """One query to a resolver; returns the parsed answer or None."""
    q = dns.message.make_query(name, rdtype, want_dnssec=dnssec, use_edns=0, payload=1232)
    if cd:
        q.flags |= dns.flags.CD
    if not rd:
        q.flags &= ~dns.flags.RD
    wire = q.to_wire()
    if src is None:
        return dnsutil.parse(dnsutil.send(server.port, wire, tcp=tcp, timeout=timeout))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.settimeout(timeout)
    try:
        s.sendto(wire, ("127.0.0.1", server.port))
        data, _ = s.recvfrom(65535)
        return dnsutil.parse(data)
    except socket.timeout:
        return None
    finally:
        s.close()


def summary(m):
    """(rcode, AD, sorted answer RRsets as text without TTLs) for comparison."""
    if m is None:
        return None
    rrs = sorted("%s %s %s" % (r.name.to_text().lower(), dns.rdatatype.to_text(r.rdtype),
                               " ".join(sorted(x.to_text().lower() for x in r)))
                 for r in m.answer)
    return (dns.rcode.to_text(m.rcode()), bool(m.flags & dns.flags.AD), rrs)


def ede_codes(m):
    if m is None:
        return []
    return [o.code for o in m.options if o.otype == dns.edns.EDE]


def ctl(server, *args):
    return subprocess.run([os.path.join(dnsutil.build_dir(), "signpostctl"), "-s", server.control]
                          + list(args), capture_output=True, text=True, timeout=10)
