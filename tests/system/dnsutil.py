"""dnsutil.py - helpers shared by the Signpost system tests.

What is here: free loopback ports, building queries (also deliberately odd ones), sending
them over UDP/TCP with bounded timeouts, normalising an answer into a comparable form, and
the three server launchers (signpostd, NSD, Knot) that conftest.py wraps in fixtures.
Everything runs on 127.0.0.1 only, every wait is bounded, and a launcher stops exactly the
process it started, by PID.
"""

import os
import signal
import socket
import struct
import subprocess
import time

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

HOST = "127.0.0.1"
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")
SYSTEM_DIR = os.path.dirname(os.path.abspath(__file__))
CORPUS_DIR = os.path.join(SYSTEM_DIR, "corpus")


def build_dir():
    return os.environ.get("SIGNPOST_BUILD", "/work/main/build")


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1 (the kernel picks one for TCP, and
    we keep it only if UDP can bind the same number)."""
    for _ in range(50):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            t.bind((HOST, 0))
            port = t.getsockname()[1]
            try:
                u.bind((HOST, port))
            except OSError:
                continue
            return port
        finally:
            t.close()
            u.close()
    raise RuntimeError("no free loopback port found")


# ---- building queries ------------------------------------------------------------------

def make_query(name, rdtype="A", rdclass="IN", *, want_dnssec=False, edns=None, payload=None,
               options=None, rd=False, cd=False, ad=False, opcode=None, qid=None,
               ixfr_serial=None):
    """A dns.message.Message query. edns: None = EDNS only if want_dnssec/payload/options
    ask for it, -1 = no OPT, otherwise the EDNS version to send. ixfr_serial: put the
    client's SOA with that serial in the authority section (RFC 1995 3)."""
    q = dns.message.make_query(name, rdtype, rdclass, use_edns=False)
    q.flags = 0
    if rd:
        q.flags |= dns.flags.RD
    if cd:
        q.flags |= dns.flags.CD
    if ad:
        q.flags |= dns.flags.AD
    if opcode is not None:
        q.set_opcode(dns.opcode.from_text(opcode) if isinstance(opcode, str) else opcode)
    if qid is not None:
        q.id = qid
    if ixfr_serial is not None:
        q.authority.append(dns.rrset.from_text(
            name, 0, "IN", "SOA", ". . %d 0 0 0 0" % ixfr_serial))
    if edns is None and (want_dnssec or payload is not None or options):
        edns = 0
    if edns is not None and edns >= 0:
        q.use_edns(edns, dns.flags.DO if want_dnssec else 0,
                   payload if payload is not None else 1232, options=options or [])
    return q


def to_wire(q):
    """Wire form that keeps whatever opcode/flags the caller set (dnspython validates less
    when it renders than when it parses)."""
    return q.to_wire()


# ---- sending ---------------------------------------------------------------------------

def send_udp(port, wire, timeout=2.0, host=HOST):
    """Sends one datagram and returns the first reply datagram, or None after timeout."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.settimeout(timeout)
        s.sendto(wire, (host, port))
        try:
            data, _ = s.recvfrom(65535)
        except socket.timeout:
            return None
        return data
    finally:
        s.close()


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def send_tcp(port, wire, timeout=3.0, host=HOST, framed=False):
    """Sends one length-prefixed message (or the raw bytes when framed=True, the caller
    having framed them) and returns the first reply message, or None when the server
    closes or times out without answering."""
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        s.settimeout(timeout)
        s.sendall(wire if framed else struct.pack("!H", len(wire)) + wire)
        try:
            hdr = recv_exact(s, 2)
            if hdr is None:
                return None
            return recv_exact(s, struct.unpack("!H", hdr)[0])
        except (socket.timeout, ConnectionResetError):
            return None
    finally:
        s.close()


def send(port, wire, tcp=False, timeout=None):
    if tcp:
        return send_tcp(port, wire, timeout=timeout or 3.0)
    return send_udp(port, wire, timeout=timeout or 2.0)


def parse(data):
    """Parses a response; None stays None. Raises if the server sent garbage."""
    if data is None:
        return None
    return dns.message.from_wire(data, ignore_trailing=False, one_rr_per_rrset=False)


# ---- normalising answers for comparison ------------------------------------------------

FLAG_NAMES = (("QR", dns.flags.QR), ("AA", dns.flags.AA), ("TC", dns.flags.TC),
              ("RD", dns.flags.RD), ("RA", dns.flags.RA), ("AD", dns.flags.AD),
              ("CD", dns.flags.CD))
COMPARED_FLAGS = ("AA", "TC", "RD", "RA", "AD", "CD")


RDATA_TEXT = {}


def rdata_key(rd):
    """RDATA in RFC 4034 6.2 canonical form (names lower-cased where that is defined, base64
    and TXT left alone), as hex; the presentation text is remembered for describe()."""
    key = rd.to_digestable(dns.name.root).hex()
    RDATA_TEXT.setdefault(key, rd.to_text())
    return key


def rrset_key(rrset):
    """An RRset as a hashable, case-insensitive (for names), order-free value."""
    rds = tuple(sorted(rdata_key(rd) for rd in rrset))
    covers = ""
    if rrset.covers != dns.rdatatype.NONE:
        covers = "/" + dns.rdatatype.to_text(rrset.covers)
    return (rrset.name.to_text().lower(), dns.rdataclass.to_text(rrset.rdclass),
            dns.rdatatype.to_text(rrset.rdtype) + covers, rrset.ttl, rds)


def normalize(msg):
    """A response reduced to what the differential tests compare: rcode (extended),
    opcode, the compared flags, the question (case-sensitive: RFC 1035 4.1.1 echo),
    EDNS presence/version/DO, and each section as a set of RRsets (additional without
    the OPT record, whose NSID and payload vary by implementation)."""
    if msg is None:
        return None
    flags = tuple(n for n, f in FLAG_NAMES if msg.flags & f and n in COMPARED_FLAGS)
    edns = None
    if msg.edns >= 0:
        edns = (msg.edns, bool(msg.ednsflags & dns.flags.DO))
    return {
        "rcode": dns.rcode.to_text(msg.rcode()),
        "opcode": dns.opcode.to_text(msg.opcode()),
        "flags": flags,
        "question": tuple(q.to_text() for q in msg.question),
        "edns": edns,
        "answer": frozenset(rrset_key(r) for r in msg.answer),
        "authority": frozenset(rrset_key(r) for r in msg.authority),
        "additional": frozenset(rrset_key(r) for r in msg.additional),
    }


def normalize_wire(data):
    """normalize() for raw bytes; a reply dnspython cannot parse becomes a marker string
    so that it compares unequal to any valid reply."""
    if data is None:
        return None
    try:
        return normalize(parse(data))
    except Exception as e:  # noqa: BLE001 - any parse failure is a difference
        return {"unparseable": "%s: %s" % (type(e).__name__, e), "hex": data.hex()}


def describe(norm):
    """Human-readable multi-line text of a normalize() result, for failure messages."""
    if norm is None:
        return "  (no answer)"
    if "unparseable" in norm:
        return "  unparseable: %s" % norm["unparseable"]
    out = ["  rcode=%s opcode=%s flags=%s edns=%s question=%s" % (
        norm["rcode"], norm["opcode"], " ".join(norm["flags"]), norm["edns"],
        list(norm["question"]))]
    for sec in ("answer", "authority", "additional"):
        for name, cls, typ, ttl, rds in sorted(norm[sec]):
            for rd in rds:
                out.append("  %-10s %s %d %s %s %s" % (sec, name, ttl, cls, typ,
                                                       RDATA_TEXT.get(rd, rd)))
    return "\n".join(out)


def diff(a, b):
    """Names of the fields where two normalize() results differ."""
    if a is None or b is None or "unparseable" in a or "unparseable" in b:
        return [] if a == b else ["whole reply"]
    return [k for k in a if a[k] != b.get(k)]


# ---- server processes ------------------------------------------------------------------

class ServerError(Exception):
    pass


class Server:
    """A DNS server process on 127.0.0.1:port that this test run started."""

    kind = "server"

    def __init__(self, workdir, port, argv, env=None):
        self.workdir = workdir
        self.port = port
        self.argv = argv
        self.stdout_path = os.path.join(workdir, self.kind + ".stdout")
        self.stderr_path = os.path.join(workdir, self.kind + ".stderr")
        self._out = open(self.stdout_path, "wb")
        self._err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=self._out, stderr=self._err,
                                     stdin=subprocess.DEVNULL, cwd=workdir,
                                     env=env, start_new_session=True)
        self.pid = self.proc.pid
        self.returncode = None

    # queries --------------------------------------------------------------------------
    def query_raw(self, wire, tcp=False, timeout=None):
        return send(self.port, wire, tcp=tcp, timeout=timeout)

    def query(self, name, rdtype="A", rdclass="IN", *, tcp=False, timeout=None, raw=None,
              **opts):
        """Sends a query (or the bytes raw) and returns the parsed dns.message.Message,
        or None if nothing came back."""
        wire = raw if raw is not None else to_wire(make_query(name, rdtype, rdclass, **opts))
        return parse(self.query_raw(wire, tcp=tcp, timeout=timeout))

    # lifecycle ------------------------------------------------------------------------
    def alive(self):
        return self.proc.poll() is None

    def log(self):
        """stderr and stdout of the process so far, as text."""
        text = ""
        for p in (self.stderr_path, self.stdout_path):
            try:
                with open(p, "rb") as f:
                    text += f.read().decode("utf-8", "replace")
            except OSError:
                pass
        return text

    def wait_for_soa(self, zone, timeout=10.0):
        """Waits (bounded) until the SOA of zone is answered authoritatively over UDP."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if not self.alive():
                raise ServerError("%s exited with %s before answering:\n%s" % (
                    self.kind, self.proc.returncode, self.log()[-4000:]))
            try:
                r = self.query(zone, "SOA", timeout=0.3)
            except Exception as e:  # noqa: BLE001 - keep polling until the deadline
                r, last = None, e
            if r is not None:
                last = r
                if r.rcode() == dns.rcode.NOERROR and r.answer and r.flags & dns.flags.AA:
                    return r
            time.sleep(0.05)
        self.stop(check=False)
        raise ServerError("%s did not answer %s SOA within %.0fs (last: %r)\n%s" % (
            self.kind, zone, timeout, last, self.log()[-4000:]))

    def signal(self, sig):
        os.kill(self.pid, sig)

    def stop(self, check=True, timeout=10.0):
        """SIGTERM, wait (bounded; SIGKILL after), and return the exit code."""
        if self.returncode is not None:
            return self.returncode
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
                self.returncode = self.proc.returncode
                self._close()
                if check:
                    raise ServerError("%s did not exit within %.0fs of SIGTERM" % (
                        self.kind, timeout))
                return self.returncode
        self.returncode = self.proc.returncode
        self._close()
        if check:
            self.check_exit()
        return self.returncode

    def _close(self):
        for f in (self._out, self._err):
            try:
                f.close()
            except OSError:
                pass

    def check_exit(self):
        pass

    def cpu_ticks(self):
        """utime+stime of the process in clock ticks (from /proc/PID/stat)."""
        with open("/proc/%d/stat" % self.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])


def sanitizer_findings(text):
    return [line for line in text.splitlines() if any(m in line for m in SANITIZER_MARKERS)]


class Signpost(Server):
    kind = "signpostd"

    def check_exit(self):
        problems = []
        if self.returncode != 0:
            problems.append("exit code %s (want 0 after SIGTERM)" % self.returncode)
        found = sanitizer_findings(self.log())
        if found:
            problems.append("sanitizer output: %s" % found[:5])
        if problems:
            raise ServerError("signpostd: %s\n%s" % ("; ".join(problems), self.log()[-6000:]))


def _copy_zones(workdir, zones):
    """zones: list of (origin, path) or (origin, path, text) -> [(origin, basename)] with
    the files copied (or written) into workdir."""
    out = []
    for z in zones:
        origin, src = z[0], z[1]
        if not origin.endswith("."):
            origin += "."
        base = os.path.basename(src)
        dst = os.path.join(workdir, base)
        if len(z) > 2:
            text = z[2]
        else:
            with open(src) as f:
                text = f.read()
        if os.path.abspath(src) != os.path.abspath(dst) or len(z) > 2:
            with open(dst, "w") as f:
                f.write(text)
        out.append((origin, base))
    return out


def yaml_str(s):
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_signpost_conf(workdir, port, zones, workers=1, edns_size=1232, identity=None,
                        version=None, nsid=None, log_level="info", extra_server=None,
                        extra_yaml=None):
    zl = _copy_zones(workdir, zones)
    lines = ["server:",
             "  listen:",
             "    - 127.0.0.1@%d" % port,
             "  workers: %d" % workers,
             "  state-dir: %s" % yaml_str(os.path.join(workdir, "state")),
             "  edns-size: %d" % edns_size]
    if identity is not None:
        lines.append("  identity: %s" % yaml_str(identity))
    if version is not None:
        lines.append("  version: %s" % yaml_str(version))
    if nsid is not None:
        lines.append("  nsid: %s" % yaml_str(nsid))
    for k, v in (extra_server or {}).items():
        lines.append("  %s: %s" % (k, v))
    lines += ["log:", "  level: %s" % log_level, "  syslog: false", "zones:"]
    for origin, base in zl:
        lines += ["  - name: %s" % origin, "    file: %s" % base]
    if extra_yaml:
        # Further top-level sections as YAML text (control:, metrics:, gslb:, ...).
        lines += extra_yaml.rstrip("\n").split("\n")
    os.makedirs(os.path.join(workdir, "state"), exist_ok=True)
    conf = os.path.join(workdir, "signpost.conf")
    with open(conf, "w") as f:
        f.write("\n".join(lines) + "\n")
    return conf, zl


def start_signpost(workdir, zones, port=None, wait=True, wait_timeout=10.0, cpu=None,
                   **conf_opts):
    """Writes a config (pinned schema, docs in /work/briefs/config-schema.md) and starts
    `signpostd -f -c conf`; waits for the first zone's SOA unless wait=False."""
    os.makedirs(workdir, exist_ok=True)
    port = port or free_port()
    conf, zl = write_signpost_conf(workdir, port, zones, **conf_opts)
    binary = os.path.join(build_dir(), "signpostd")
    if not os.access(binary, os.X_OK):
        raise ServerError("no signpostd at %s (set SIGNPOST_BUILD)" % binary)
    argv = [binary, "-f", "-c", conf]
    if cpu is not None:
        argv = ["taskset", "-c", str(cpu)] + argv
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
    s = Signpost(workdir, port, argv, env=env)
    s.conf_path = conf
    s.zones = zl
    if wait and zl:
        s.wait_for_soa(zl[0][0], timeout=wait_timeout)
    return s


class Nsd(Server):
    kind = "nsd"


def start_nsd(workdir, zones, port=None, wait=True, wait_timeout=10.0, server_count=1,
              identity="ns1.example", version="signpost-test", cpu=None, extra=None):
    """NSD 4.6 in the foreground (-d), no chroot, no database, everything in workdir."""
    os.makedirs(workdir, exist_ok=True)
    port = port or free_port()
    zl = _copy_zones(workdir, zones)
    w = workdir
    lines = ["server:",
             "  ip-address: 127.0.0.1",
             "  port: %d" % port,
             '  username: ""',
             '  chroot: ""',
             "  zonesdir: %s" % yaml_str(w),
             '  database: ""',
             "  zonelistfile: %s" % yaml_str(os.path.join(w, "zone.list")),
             "  xfrdfile: %s" % yaml_str(os.path.join(w, "xfrd.state")),
             "  xfrdir: %s" % yaml_str(w),
             "  pidfile: %s" % yaml_str(os.path.join(w, "nsd.pid")),
             "  logfile: %s" % yaml_str(os.path.join(w, "nsd.log")),
             "  verbosity: 1",
             "  server-count: %d" % server_count,
             "  reuseport: no",
             "  identity: %s" % yaml_str(identity),
             "  version: %s" % yaml_str(version),
             "  hide-version: no",
             "  hide-identity: no",
             "  ipv4-edns-size: 1232",
             "  rrl-ratelimit: 0",             # response rate limiting would drop test and
             "  rrl-whitelist-ratelimit: 0"]   # benchmark traffic from 127.0.0.1
    lines += ["  %s: %s" % kv for kv in (extra or {}).items()]
    lines += ["remote-control:", "  control-enable: no"]
    for origin, base in zl:
        lines += ["zone:", "  name: %s" % yaml_str(origin), "  zonefile: %s" % yaml_str(base)]
    conf = os.path.join(w, "nsd.conf")
    with open(conf, "w") as f:
        f.write("\n".join(lines) + "\n")
    argv = ["nsd", "-d", "-c", conf]
    if cpu is not None:
        argv = ["taskset", "-c", str(cpu)] + argv
    s = Nsd(w, port, argv)
    s.conf_path = conf
    s.zones = zl
    if wait and zl:
        s.wait_for_soa(zl[0][0], timeout=wait_timeout)
    return s


class Knot(Server):
    kind = "knotd"


def start_knot(workdir, zones, port=None, wait=True, wait_timeout=10.0, workers=1,
               identity="ns1.example", version="signpost-test", cpu=None):
    """Knot 3.2 in the foreground, storage and rundir in workdir, zone files loaded whole,
    never written back, no journal, semantic checks off (the corpus has odd zones)."""
    os.makedirs(workdir, exist_ok=True)
    port = port or free_port()
    zl = _copy_zones(workdir, zones)
    w = workdir
    lines = ["server:",
             "  rundir: %s" % yaml_str(w),
             "  listen: 127.0.0.1@%d" % port,
             "  udp-workers: %d" % workers,
             "  tcp-workers: %d" % workers,
             "  background-workers: 1",
             "  identity: %s" % yaml_str(identity),
             "  version: %s" % yaml_str(version),
             "  udp-max-payload: 1232",
             "log:",
             "  - target: stderr",
             "    any: info",
             "database:",
             "  storage: %s" % yaml_str(w),
             "template:",
             "  - id: default",
             "    storage: %s" % yaml_str(w),
             "    zonefile-sync: -1",
             "    zonefile-load: whole",
             "    journal-content: none",
             "    semantic-checks: off",
             "zone:"]
    for origin, base in zl:
        lines += ["  - domain: %s" % yaml_str(origin), "    file: %s" % yaml_str(base)]
    conf = os.path.join(w, "knot.conf")
    with open(conf, "w") as f:
        f.write("\n".join(lines) + "\n")
    argv = ["knotd", "-c", conf]
    if cpu is not None:
        argv = ["taskset", "-c", str(cpu)] + argv
    s = Knot(w, port, argv)
    s.conf_path = conf
    s.zones = zl
    if wait and zl:
        s.wait_for_soa(zl[0][0], timeout=wait_timeout)
    return s


# ---- corpus helpers --------------------------------------------------------------------

def sign_zone(workdir, origin, src, signzone_args=()):
    """Signs src (origin) with a fresh ECDSAP256SHA256 KSK+ZSK (ldns-keygen) and NSEC
    (ldns-signzone, default 4-week validity) into workdir; returns the signed file's path.
    Every server under comparison then loads the same signed bytes. signzone_args go to
    ldns-signzone (e.g. -n -s SALT -t ITERATIONS [-p] for NSEC3 [with opt-out])."""
    os.makedirs(workdir, exist_ok=True)
    keys = []
    for extra in (["-k"], []):
        out = subprocess.run(["ldns-keygen", "-a", "ECDSAP256SHA256"] + extra + [origin],
                             cwd=workdir, check=True, capture_output=True, text=True,
                             timeout=30)
        keys.append(out.stdout.strip())
    base = os.path.join(workdir, os.path.basename(src))
    with open(src) as f, open(base, "w") as g:
        g.write(f.read())
    subprocess.run(["ldns-signzone"] + list(signzone_args) + ["-o", origin, base] + keys,
                   cwd=workdir, check=True,
                   capture_output=True, text=True, timeout=30)
    return base + ".signed"


def parse_option_args(words):
    """Turns queries.txt option words into make_query() keyword arguments."""
    kw = {}
    for w in words:
        key, _, val = w.partition("=")
        if key == "class":
            kw["rdclass"] = val
        elif key == "edns":
            kw["edns"] = int(val) if val else 0
        elif key == "do":
            kw["want_dnssec"] = True
        elif key == "payload":
            kw["payload"] = int(val)
        elif key == "opt":
            code, _, data = val.partition(":")
            kw.setdefault("options", []).append(
                dns.edns.GenericOption(int(code), bytes.fromhex(data)))
        elif key in ("rd", "cd", "ad"):
            kw[key] = True
        elif key == "opcode":
            kw["opcode"] = val
        elif key == "ixfr":
            kw["ixfr_serial"] = int(val)
        else:
            raise ValueError("unknown query option %r" % w)
    return kw


def read_query_list(path):
    """[(id, qname, qtype, kwargs, line)] from a queries.txt-style file."""
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            words = line.split()
            out.append((words[0], words[1], words[2], parse_option_args(words[3:]), line))
    return out
