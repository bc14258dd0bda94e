"""xfr_util.py - helpers for the zone transfer system tests (test_xfr_*.py).

Starts signpostd as a primary with keys:, provide-xfr and notify, and NSD 4.6 / Knot 3.2
as its secondaries (or as primaries), all on 127.0.0.1 with free ports in the test's
temporary directory, TSIG-keyed; pulls zones with dnspython and compares what servers
answer. Every wait is bounded; processes are stopped by PID (dnsutil.Server.stop).
"""

import os
import time

import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.tsig
import dns.tsigkeyring
import dns.xfr
import dns.zone

import dnsutil
from dnsutil import yaml_str

KEY_NAME = "xfr-key."
KEY_SECRET = "c2lnbnBvc3QtdHNpZy10ZXN0LXNlY3JldC0zMmJ5dGVzIQ=="
KEY_ALG = "hmac-sha256"
OTHER_SECRET = "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC13cm9uZyE="


def keyring(secret=KEY_SECRET, name=KEY_NAME, alg=KEY_ALG):
    return {dns.name.from_text(name): dns.tsig.Key(name, secret, alg)}


def zone_text(origin, serial, n=10, extra=""):
    """A zone with n hosts (A + TXT each) and a few other types."""
    lines = ["$ORIGIN %s" % origin, "$TTL 300",
             "@ IN SOA ns1 hostmaster %d 3600 600 86400 300" % serial,
             "@ IN NS ns1", "@ IN NS ns2.other.test.", "@ IN MX 10 mail",
             "ns1 IN A 127.0.0.1", "mail IN AAAA 2001:db8::25",
             "sub IN NS ns.sub", "ns.sub IN A 192.0.2.53",
             "alias IN CNAME www"]
    for i in range(n):
        lines.append("h%d IN A 10.%d.%d.%d" % (i, (i >> 16) & 255, (i >> 8) & 255, i & 255))
        lines.append('h%d IN TXT "serial %d host %d"' % (i, serial, i))
    lines.append("www IN A 192.0.2.%d" % (serial % 250 + 1))
    return "\n".join(lines) + "\n" + extra


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


# ---- signpostd ------------------------------------------------------------------------------

def signpost_conf(workdir, port, zones, keys=None, transfers=None, log_level="info"):
    """zones: list of dicts {name, file, provide: [...], notify: [...]} where provide items
    are (address, key-or-None) and notify items (addr@port, key-or-None)."""
    keys = [(KEY_NAME, KEY_ALG, KEY_SECRET)] if keys is None else keys
    lines = ["server:", "  listen:", "    - 127.0.0.1@%d" % port, "  workers: 2",
             "  state-dir: %s" % yaml_str(os.path.join(workdir, "state")),
             "log:", "  level: %s" % log_level, "  syslog: false",
             "metrics:", "  enabled: false"]
    if keys:
        lines.append("keys:")
        for name, alg, secret in keys:
            lines += ["  - name: %s" % name, "    algorithm: %s" % alg,
                      "    secret: %s" % yaml_str(secret)]
    if transfers:
        lines.append("transfers:")
        lines += ["  %s: %s" % kv for kv in transfers.items()]
    lines.append("zones:")
    for z in zones:
        lines.append("  - name: %s" % z["name"])
        if z.get("file"):
            lines.append("    file: %s" % yaml_str(z["file"]))
        if z.get("catalog"):
            lines.append("    catalog: %s" % z["catalog"])
        if z.get("catalog-zone"):
            lines.append("    catalog-zone: %s" % z["catalog-zone"])
        for key in ("provide-xfr", "notify", "primaries", "allow-notify"):
            items = z.get(key)
            if items is None:
                continue
            lines.append("    %s:" % key)
            for addr, k in items:
                if k is None:
                    lines.append("      - %s" % addr)
                else:
                    lines.append("      - {address: %s, key: %s}" % (addr, k))
    os.makedirs(os.path.join(workdir, "state"), exist_ok=True)
    conf = os.path.join(workdir, "signpost.conf")
    write(conf, "\n".join(lines) + "\n")
    return conf


def start_signpost(workdir, zones, port=None, wait_zone=None, **kw):
    os.makedirs(workdir, exist_ok=True)
    port = port or dnsutil.free_port()
    conf = signpost_conf(workdir, port, zones, **kw)
    binary = os.path.join(dnsutil.build_dir(), "signpostd")
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
    s = dnsutil.Signpost(workdir, port, [binary, "-f", "-c", conf], env=env)
    s.conf_path = conf
    if wait_zone:
        s.wait_for_soa(wait_zone)
    return s


# ---- NSD and Knot as secondaries ------------------------------------------------------------------

def start_nsd_secondary(workdir, origin, primary_port, key=True, port=None):
    """NSD pulling origin from 127.0.0.1@primary_port (IXFR, then AXFR), NOTIFY allowed from
    127.0.0.1, TSIG with the test key when key is True."""
    os.makedirs(workdir, exist_ok=True)
    port = port or dnsutil.free_port()
    w = workdir
    k = " " + KEY_NAME if key else " NOKEY"
    lines = ["server:", "  ip-address: 127.0.0.1", "  port: %d" % port,
             '  username: ""', '  chroot: ""', "  zonesdir: %s" % yaml_str(w),
             '  database: ""', "  zonelistfile: %s" % yaml_str(os.path.join(w, "zone.list")),
             "  xfrdfile: %s" % yaml_str(os.path.join(w, "xfrd.state")),
             "  xfrdir: %s" % yaml_str(w),
             "  pidfile: %s" % yaml_str(os.path.join(w, "nsd.pid")),
             "  logfile: %s" % yaml_str(os.path.join(w, "nsd.log")),
             "  verbosity: 2", "  server-count: 1", "  reuseport: no",
             "  rrl-ratelimit: 0", "  rrl-whitelist-ratelimit: 0",
             "remote-control:", "  control-enable: no"]
    if key:
        lines += ["key:", "  name: %s" % KEY_NAME, "  algorithm: %s" % KEY_ALG,
                  "  secret: %s" % yaml_str(KEY_SECRET)]
    lines += ["zone:", "  name: %s" % yaml_str(origin),
              "  zonefile: %s" % yaml_str(origin + "zone"),
              "  request-xfr: 127.0.0.1@%d%s" % (primary_port, k),
              "  allow-notify: 127.0.0.1%s" % k]
    conf = os.path.join(w, "nsd.conf")
    write(conf, "\n".join(lines) + "\n")
    s = dnsutil.Nsd(w, port, ["nsd", "-d", "-c", conf])
    s.conf_path = conf
    s.log_path = os.path.join(w, "nsd.log")
    return s


def start_knot_secondary(workdir, origin, primary_port, key=True, port=None):
    os.makedirs(workdir, exist_ok=True)
    port = port or dnsutil.free_port()
    w = workdir
    lines = ["server:", "  rundir: %s" % yaml_str(w), "  listen: 127.0.0.1@%d" % port,
             "  udp-workers: 1", "  tcp-workers: 1", "  background-workers: 1",
             "log:", "  - target: stderr", "    any: info",
             "database:", "  storage: %s" % yaml_str(w)]
    if key:
        lines += ["key:", "  - id: %s" % KEY_NAME, "    algorithm: %s" % KEY_ALG,
                  "    secret: %s" % KEY_SECRET]
    lines += ["remote:", "  - id: primary", "    address: 127.0.0.1@%d" % primary_port]
    if key:
        lines.append("    key: %s" % KEY_NAME)
    lines += ["acl:", "  - id: notify-in", "    address: 127.0.0.1", "    action: notify"]
    if key:
        lines.append("    key: %s" % KEY_NAME)
    lines += ["template:", "  - id: default", "    storage: %s" % yaml_str(w),
              "    zonefile-sync: -1", "    journal-content: changes",
              "zone:", "  - domain: %s" % yaml_str(origin), "    master: primary",
              "    acl: notify-in"]
    conf = os.path.join(w, "knot.conf")
    write(conf, "\n".join(lines) + "\n")
    s = dnsutil.Knot(w, port, ["knotd", "-c", conf])
    s.conf_path = conf
    return s


# ---- NSD and Knot as primaries --------------------------------------------------------------------

def start_nsd_primary(workdir, origin, text, notify_port=None, key=True, port=None):
    """NSD serving origin from a file, allowing AXFR/IXFR from 127.0.0.1 with the key, and
    NOTIFYing 127.0.0.1@notify_port."""
    os.makedirs(workdir, exist_ok=True)
    port = port or dnsutil.free_port()
    w = workdir
    k = " " + KEY_NAME if key else " NOKEY"
    write(os.path.join(w, origin + "zone"), text)
    lines = ["server:", "  ip-address: 127.0.0.1", "  port: %d" % port,
             '  username: ""', '  chroot: ""', "  zonesdir: %s" % yaml_str(w),
             '  database: ""', "  zonelistfile: %s" % yaml_str(os.path.join(w, "zone.list")),
             "  xfrdfile: %s" % yaml_str(os.path.join(w, "xfrd.state")),
             "  xfrdir: %s" % yaml_str(w),
             "  pidfile: %s" % yaml_str(os.path.join(w, "nsd.pid")),
             "  logfile: %s" % yaml_str(os.path.join(w, "nsd.log")),
             "  verbosity: 2", "  server-count: 1", "  reuseport: no",
             "  rrl-ratelimit: 0", "  rrl-whitelist-ratelimit: 0",
             "remote-control:", "  control-enable: no"]
    if key:
        lines += ["key:", "  name: %s" % KEY_NAME, "  algorithm: %s" % KEY_ALG,
                  "  secret: %s" % yaml_str(KEY_SECRET)]
    lines += ["zone:", "  name: %s" % yaml_str(origin),
              "  zonefile: %s" % yaml_str(origin + "zone"),
              "  provide-xfr: 127.0.0.1%s" % k]
    if notify_port:
        lines.append("  notify: 127.0.0.1@%d%s" % (notify_port, k))
    conf = os.path.join(w, "nsd.conf")
    write(conf, "\n".join(lines) + "\n")
    s = dnsutil.Nsd(w, port, ["nsd", "-d", "-c", conf])
    s.conf_path = conf
    s.zone_path = os.path.join(w, origin + "zone")
    s.log_path = os.path.join(w, "nsd.log")
    s.wait_for_soa(origin)
    return s


def start_knot_primary(workdir, origin, text, notify_port=None, key=True, port=None,
                       extra_zones=(), catalog=None):
    """Knot serving origin from a file (reloaded with `knotc zone-reload`), with a journal
    of differences for IXFR, allowing transfers from 127.0.0.1 with the key and NOTIFYing
    127.0.0.1@notify_port."""
    os.makedirs(workdir, exist_ok=True)
    port = port or dnsutil.free_port()
    w = workdir
    write(os.path.join(w, origin + "zone"), text)
    lines = ["server:", "  rundir: %s" % yaml_str(w), "  listen: 127.0.0.1@%d" % port,
             "  udp-workers: 1", "  tcp-workers: 1", "  background-workers: 1",
             "log:", "  - target: stderr", "    any: info",
             "database:", "  storage: %s" % yaml_str(w)]
    if key:
        lines += ["key:", "  - id: %s" % KEY_NAME, "    algorithm: %s" % KEY_ALG,
                  "    secret: %s" % KEY_SECRET]
    lines += ["acl:", "  - id: xfr-out", "    address: 127.0.0.1", "    action: transfer"]
    if key:
        lines.append("    key: %s" % KEY_NAME)
    if notify_port:
        lines += ["remote:", "  - id: secondary", "    address: 127.0.0.1@%d" % notify_port]
        if key:
            lines.append("    key: %s" % KEY_NAME)
    lines += ["template:", "  - id: default", "    storage: %s" % yaml_str(w),
              "    zonefile-sync: -1", "    zonefile-load: difference",
              "    journal-content: changes",
              "    semantic-checks: off", "    acl: xfr-out"]
    if notify_port:
        lines.append("    notify: secondary")
    lines += ["zone:", "  - domain: %s" % yaml_str(origin), "    file: %s" % yaml_str(origin + "zone")]
    if catalog:
        lines += ["  - domain: %s" % yaml_str(catalog), "    catalog-role: generate"]
    for z, ztext in extra_zones:
        write(os.path.join(w, z + "zone"), ztext)
        lines += ["  - domain: %s" % yaml_str(z), "    file: %s" % yaml_str(z + "zone")]
        if catalog:
            lines += ["    catalog-role: member", "    catalog-zone: %s" % yaml_str(catalog)]
    conf = os.path.join(w, "knot.conf")
    write(conf, "\n".join(lines) + "\n")
    s = dnsutil.Knot(w, port, ["knotd", "-c", conf])
    s.conf_path = conf
    s.zone_path = os.path.join(w, origin + "zone")
    s.wait_for_soa(origin)
    return s


def start_knot_catalog_consumer(workdir, catalog, primary_port, port=None):
    """Knot interpreting the catalog from 127.0.0.1@primary_port (catalog-role: interpret):
    its members are created from the template "member", pulled from the same primary."""
    os.makedirs(workdir, exist_ok=True)
    port = port or dnsutil.free_port()
    w = workdir
    lines = ["server:", "  rundir: %s" % yaml_str(w), "  listen: 127.0.0.1@%d" % port,
             "  udp-workers: 1", "  tcp-workers: 1", "  background-workers: 1",
             "log:", "  - target: stderr", "    any: info",
             "database:", "  storage: %s" % yaml_str(w),
             "key:", "  - id: %s" % KEY_NAME, "    algorithm: %s" % KEY_ALG,
             "    secret: %s" % KEY_SECRET,
             "remote:", "  - id: primary", "    address: 127.0.0.1@%d" % primary_port,
             "    key: %s" % KEY_NAME,
             "acl:", "  - id: notify-in", "    address: 127.0.0.1", "    action: notify",
             "    key: %s" % KEY_NAME,
             "template:", "  - id: default", "    storage: %s" % yaml_str(w),
             "    zonefile-sync: -1", "    journal-content: changes",
             "    master: primary", "    acl: notify-in",
             "  - id: member", "    storage: %s" % yaml_str(w), "    zonefile-sync: -1",
             "    journal-content: changes", "    master: primary", "    acl: notify-in",
             "zone:", "  - domain: %s" % yaml_str(catalog), "    catalog-role: interpret",
             "    catalog-template: member"]
    conf = os.path.join(w, "knot.conf")
    write(conf, "\n".join(lines) + "\n")
    s = dnsutil.Knot(w, port, ["knotd", "-c", conf])
    s.conf_path = conf
    return s


class Bind(dnsutil.Server):
    kind = "named"


def _bind_conf(w, port, zones_text):
    return "\n".join([
        "options {",
        "  directory %s;" % yaml_str(w),
        "  listen-on port %d { 127.0.0.1; };" % port,
        "  listen-on-v6 { none; };",
        "  pid-file none;",
        "  session-keyfile %s;" % yaml_str(os.path.join(w, "session.key")),
        "  managed-keys-directory %s;" % yaml_str(w),
        "  recursion no;",
        "  dnssec-validation no;",
        "  notify-source 127.0.0.1;",
        "  transfer-source 127.0.0.1;",
        "};",
        "controls { };",
        'key "%s" { algorithm %s; secret "%s"; };' % (KEY_NAME, KEY_ALG, KEY_SECRET),
        zones_text]) + "\n"


def start_bind_secondary(workdir, origin, primary_port, port=None):
    """BIND 9.18 pulling origin from 127.0.0.1@primary_port with the key (NOTIFY from the
    primary is allowed by default)."""
    os.makedirs(workdir, exist_ok=True)
    port = port or dnsutil.free_port()
    zone = ('zone "%s" { type secondary; file "%sbk"; masterfile-format text;\n'
            '  primaries { 127.0.0.1 port %d key "%s"; }; };'
            % (origin, origin, primary_port, KEY_NAME))
    conf = os.path.join(workdir, "named.conf")
    write(conf, _bind_conf(workdir, port, zone))
    s = Bind(workdir, port, ["named", "-g", "-c", conf])
    s.conf_path = conf
    return s


def start_bind_catalog_consumer(workdir, catalog, primary_port, port=None):
    """BIND 9.18 consuming catalog (catalog-zones): members from the same primary."""
    os.makedirs(workdir, exist_ok=True)
    port = port or dnsutil.free_port()
    prim = '127.0.0.1 port %d key "%s"' % (primary_port, KEY_NAME)
    zone = ('zone "%s" { type secondary; file "%sbk"; primaries { %s; }; };'
            % (catalog, catalog, prim))
    text = _bind_conf(workdir, port, zone).replace(
        "  recursion no;",
        '  recursion no;\n  catalog-zones { zone "%s" default-primaries { %s; } in-memory yes; };'
        % (catalog, prim))
    conf = os.path.join(workdir, "named.conf")
    write(conf, text)
    s = Bind(workdir, port, ["named", "-g", "-c", conf])
    s.conf_path = conf
    return s


def start_bind_primary(workdir, origin, text, notify_port=None, port=None):
    """BIND 9.18 serving origin from a file (reloaded on SIGHUP), IXFR from differences,
    transfers with the key, NOTIFY to 127.0.0.1@notify_port."""
    os.makedirs(workdir, exist_ok=True)
    port = port or dnsutil.free_port()
    write(os.path.join(workdir, origin + "zone"), text)
    notify = ""
    if notify_port:
        notify = ' also-notify { 127.0.0.1 port %d key "%s"; }; notify explicit;' % (
            notify_port, KEY_NAME)
    zone = ('zone "%s" { type primary; file "%szone"; ixfr-from-differences yes;\n'
            '  allow-transfer { key "%s"; };%s };' % (origin, origin, KEY_NAME, notify))
    conf = os.path.join(workdir, "named.conf")
    write(conf, _bind_conf(workdir, port, zone))
    s = Bind(workdir, port, ["named", "-g", "-c", conf])
    s.conf_path = conf
    s.zone_path = os.path.join(workdir, origin + "zone")
    s.wait_for_soa(origin)
    return s


def knot_reload(server, origin):
    import subprocess
    subprocess.run(["knotc", "-c", server.conf_path, "zone-reload", origin], check=True,
                   capture_output=True, timeout=10)


# ---- comparing ------------------------------------------------------------------------------------

def axfr(port, origin, key=True, secret=KEY_SECRET, rdtype="AXFR", serial=0, timeout=10):
    """The records of a transfer as a set of (name, ttl, type, rdata text), and the messages."""
    kw = {}
    if key:
        kw = {"keyring": keyring(secret), "keyname": KEY_NAME}
    msgs = list(dns.query.xfr("127.0.0.1", origin, rdtype=rdtype, port=port, timeout=timeout,
                              lifetime=60, relativize=False, serial=serial, **kw))
    return msgs


def records(msgs, drop_soa_ends=True):
    out = []
    for m in msgs:
        for rrset in m.answer:
            for rd in rrset:
                out.append((rrset.name.to_text().lower(), rrset.ttl,
                            dns.rdatatype.to_text(rrset.rdtype), rd.to_text().lower()))
    return out


def zone_records(origin, text):
    """The records of a master file as dnspython reads it, same form as records()."""
    z = dns.zone.from_text(text, origin=origin, relativize=False, check_origin=False)
    out = set()
    for name, node in z.nodes.items():
        for rds in node.rdatasets:
            for rd in rds:
                out.add((name.to_text().lower(), rds.ttl, dns.rdatatype.to_text(rds.rdtype),
                         rd.to_text().lower()))
    return out


def answers(port, names_types):
    """{(name, type): sorted rdata texts and rcode} from a server over UDP."""
    out = {}
    for name, rdtype in names_types:
        q = dns.message.make_query(name, rdtype)
        q.flags &= ~dns.flags.RD
        r = dns.query.udp(q, "127.0.0.1", port=port, timeout=2)
        rrs = sorted("%s %d %s" % (rr.name.to_text().lower(), rr.ttl, rd.to_text().lower())
                     for rr in r.answer for rd in rr)
        out[(name, rdtype)] = (dns.rcode.to_text(r.rcode()), rrs)
    return out


def soa_serial(port, origin, timeout=0.5):
    q = dns.message.make_query(origin, "SOA")
    try:
        r = dns.query.udp(q, "127.0.0.1", port=port, timeout=timeout)
    except Exception:  # noqa: BLE001 - not answering yet
        return None
    if r.rcode() != dns.rcode.NOERROR or not r.answer:
        return None
    return r.answer[0][0].serial


def wait_serial(server, origin, serial, timeout=20.0):
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        if not server.alive():
            raise AssertionError("%s exited:\n%s" % (server.kind, server.log()[-4000:]))
        seen = soa_serial(server.port, origin)
        if seen == serial:
            return
        time.sleep(0.1)
    extra = ""
    if getattr(server, "log_path", None) and os.path.exists(server.log_path):
        with open(server.log_path, errors="replace") as f:
            extra = f.read()[-4000:]
    raise AssertionError("%s: %s serial %s, want %s after %.0fs\n%s\n%s" % (
        server.kind, origin, seen, serial, timeout, server.log()[-4000:], extra))


def wait_log(server, text, timeout=10.0, path=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = server.log()
        if path and os.path.exists(path):
            with open(path, errors="replace") as f:
                log += f.read()
        if text in log:
            return log
        time.sleep(0.05)
    raise AssertionError("'%s' not logged by %s within %.0fs:\n%s" % (
        text, server.kind, timeout, server.log()[-4000:]))
