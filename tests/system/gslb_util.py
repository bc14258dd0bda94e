"""gslb_util.py - helpers for the GSLB system tests (test_gslb.py) and tests/bench/gslb.

Starts signpostd with a gslb: section on a free 127.0.0.1 port, runs real backends on
loopback for its health checks (TCP listeners, HTTP and HTTPS servers in threads, one that
accepts and never answers), makes a CA and certificates with the openssl CLI, and queries
with a chosen source address (127.0.0.2, 127.0.0.3, ... vary the client) and with EDNS
Client Subnet. Every wait is bounded; every backend is stopped by the test that started it.
"""

import http.server
import os
import socket
import ssl
import subprocess
import threading
import time

import dns.edns
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

import dnsutil

HOST = "127.0.0.1"

ZONE = """$ORIGIN example.test.
$TTL 3600
@        IN SOA ns1 hostmaster 1 7200 3600 1209600 300
         IN NS  ns1
ns1      IN A   192.0.2.53
www      IN A   192.0.2.10
app      IN TXT "static text at a dynamic name"
alias    IN CNAME app
sub      IN NS  ns.sub
ns.sub   IN A   192.0.2.54
"""


# ---- the daemon ---------------------------------------------------------------------------

def start_gslb(workdir, gslb_yaml, zone_text=ZONE, port=None, workers=1, wait=True,
               log_level="info", extra_yaml="", cpu=None):
    """signpostd -f -c conf with zone example.test. and the given gslb: section text
    (pinned to cpu with taskset when given)."""
    os.makedirs(workdir, exist_ok=True)
    port = port or dnsutil.free_port()
    conf, zl = dnsutil.write_signpost_conf(workdir, port, [("example.test.", "example.test.zone",
                                                           zone_text)],
                                           workers=workers, log_level=log_level)
    with open(conf, "a") as f:
        f.write(extra_yaml)
        f.write(gslb_yaml)
    argv = [os.path.join(dnsutil.build_dir(), "signpostd"), "-f", "-c", conf]
    if cpu is not None:
        argv = ["taskset", "-c", str(cpu)] + argv
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
    s = dnsutil.Signpost(workdir, port, argv, env=env)
    s.conf_path = conf
    s.zones = zl
    if wait:
        s.wait_for_soa("example.test.", timeout=30)
    return s


def run_check_config(workdir, gslb_yaml, zone_text=ZONE, extra_yaml=""):
    """signpostd --check-config on such a configuration: (exit code, output)."""
    os.makedirs(workdir, exist_ok=True)
    conf, _ = dnsutil.write_signpost_conf(workdir, 5399, [("example.test.", "example.test.zone",
                                                          zone_text)])
    with open(conf, "a") as f:
        f.write(extra_yaml)
        f.write(gslb_yaml)
    r = subprocess.run([os.path.join(dnsutil.build_dir(), "signpostd"), "--check-config", "-c",
                        conf], capture_output=True, text=True, timeout=20)
    return r.returncode, r.stdout + r.stderr


# ---- queries ------------------------------------------------------------------------------

def ecs_option(subnet):
    addr, plen = subnet.split("/")
    return dns.edns.ECSOption(addr, int(plen))


def query(port, name, rdtype="A", source=None, ecs=None, timeout=2.0, tcp=False):
    """One query; source picks the client address (any 127.x), ecs a "ADDR/LEN" subnet."""
    q = dns.message.make_query(name, rdtype, use_edns=0 if ecs else False,
                               options=[ecs_option(ecs)] if ecs else None)
    q.flags = 0
    if tcp:
        return dns.query.tcp(q, HOST, port=port, timeout=timeout, source=source)
    return dns.query.udp(q, HOST, port=port, timeout=timeout, source=source)


def addresses(r):
    """The A/AAAA addresses of an answer, in order."""
    out = []
    for rrset in r.answer:
        if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            out += [rd.address for rd in rrset]
    return out


def answer_ecs(r):
    """(address, source, scope) of the ECS option of a response, or None."""
    for o in r.options:
        if isinstance(o, dns.edns.ECSOption):
            return (o.address, o.srclen, o.scopelen)
    return None


class FastClient:
    """Many UDP queries of one question over one socket (wire built once, new ID each):
    20,000 queries in a few seconds. first() returns the first address of each answer."""

    def __init__(self, port, name, rdtype="A", source=None, ecs=None):
        self.port = port
        q = dns.message.make_query(name, rdtype, use_edns=0 if ecs else False,
                                   options=[ecs_option(ecs)] if ecs else None)
        q.flags = 0
        self.wire = bytearray(q.to_wire())
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((source or HOST, 0))
        self.sock.settimeout(2.0)
        self.qid = 1

    def ask(self):
        self.qid = (self.qid + 1) & 0xffff
        self.wire[0], self.wire[1] = self.qid >> 8, self.qid & 0xff
        self.sock.sendto(bytes(self.wire), (HOST, self.port))
        while True:
            data, _ = self.sock.recvfrom(4096)
            if data[0] == self.wire[0] and data[1] == self.wire[1]:
                return dns.message.from_wire(data)

    def first_addresses(self, n):
        out = []
        for _ in range(n):
            a = addresses(self.ask())
            out.append(a[0] if a else None)
        return out

    def close(self):
        self.sock.close()


def wait_until(pred, timeout, step=0.05):
    """Polls pred() until true (returns the time it took) or raises AssertionError."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if pred():
            return time.monotonic() - t0
        time.sleep(step)
    raise AssertionError("condition not met within %.1fs" % timeout)


# ---- backends -----------------------------------------------------------------------------

def free_tcp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((HOST, 0))
    p = s.getsockname()[1]
    s.close()
    return p


class TcpBackend:
    """A TCP listener on 127.0.0.1:port that accepts and closes (mode "close") or accepts
    and never says anything (mode "hang": connections stay open until stop())."""

    def __init__(self, port=None, mode="close"):
        self.port = port or free_tcp_port()
        self.mode = mode
        self.sock = None
        self.held = []
        self.thread = None

    def start(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((HOST, self.port))
        s.listen(64)
        s.settimeout(0.2)
        self.sock = s
        self.running = True
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()
        return self

    def _loop(self):
        while self.running:
            try:
                c, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            if self.mode == "hang":
                self.held.append(c)
            else:
                c.close()

    def stop(self):
        self.running = False
        if self.thread:
            self.thread.join(timeout=2)
        if self.sock:
            self.sock.close()
        for c in self.held:
            c.close()
        self.held = []
        self.sock = None


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        srv = self.server
        srv.hits += 1
        self.send_response(srv.status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(srv.body_size))
        self.end_headers()
        chunk = b"x" * 65536
        left = srv.body_size
        try:
            while left > 0:
                n = min(left, len(chunk))
                self.wfile.write(chunk[:n] if srv.body_size > 64 else b"OK"[:n])
                left -= n
        except OSError:
            pass  # the checker read what it wanted and closed

    def log_message(self, *args):
        pass


class HttpBackend:
    """http.server in a thread on 127.0.0.1:port: status, body of body_size octets
    ("OK" for small ones), TLS when certfile/keyfile are given."""

    def __init__(self, port=None, status=200, body_size=2, certfile=None, keyfile=None):
        self.port = port or free_tcp_port()
        self.status = status
        self.body_size = body_size
        self.certfile, self.keyfile = certfile, keyfile
        self.httpd = None

    def start(self):
        httpd = http.server.ThreadingHTTPServer((HOST, self.port), _Handler)
        httpd.daemon_threads = True
        httpd.status, httpd.body_size, httpd.hits = self.status, self.body_size, 0
        if self.certfile:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.certfile, self.keyfile)
            httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
        self.httpd = httpd
        self.thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                       daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join(timeout=2)
            self.httpd = None


# ---- certificates (openssl CLI) -------------------------------------------------------------

def _openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, capture_output=True, timeout=60)


def make_pki(d, name="backend.test"):
    """A CA, a server certificate for name (and IP 127.0.0.1) signed by it, and a
    self-signed certificate for the same name that no CA vouches for. Returns paths."""
    os.makedirs(d, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
             "ca.pem", "-days", "2", "-subj", "/CN=Signpost Test CA", cwd=d)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr",
             "-subj", "/CN=%s" % name, cwd=d)
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=DNS:%s,IP:127.0.0.1\n" % name)
    _openssl("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "srv.pem", "-days", "2", "-extfile", "ext.cnf", cwd=d)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "self.key", "-out",
             "self.pem", "-days", "2", "-subj", "/CN=%s" % name, cwd=d)
    j = lambda f: os.path.join(d, f)  # noqa: E731
    return {"ca": j("ca.pem"), "cert": j("srv.pem"), "key": j("srv.key"),
            "self_cert": j("self.pem"), "self_key": j("self.key"), "name": name}
