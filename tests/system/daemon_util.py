"""daemon_util.py - helpers for the signpostd lifecycle tests (test_daemon.py).

Starts signpostd with a configuration in the pinned YAML schema on a free 127.0.0.1 port,
queries it over UDP and TCP with dnspython, sends it signals and stops it by PID, failing
on a non-zero exit or sanitizer output. Every wait is bounded.
"""

import os
import signal
import socket
import struct
import subprocess
import time

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

HOST = "127.0.0.1"
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")


def build_dir():
    return os.environ.get("SIGNPOST_BUILD", "/work/main/build")


def binary(name):
    return os.path.join(build_dir(), name)


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1."""
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
    raise RuntimeError("no free loopback port")


def port_free(port, host=HOST):
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind((host, port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def zone_text(origin, serial, extra=""):
    """A small valid zone; extra lines are appended as they are."""
    return (
        "$ORIGIN %s\n$TTL 300\n"
        "@ IN SOA ns1 hostmaster %d 3600 600 86400 300\n"
        "@ IN NS ns1\n"
        "ns1 IN A 127.0.0.1\n"
        "www IN A 192.0.2.%d\n"
        "serial IN TXT \"%d\"\n%s" % (origin, serial, serial % 250 + 1, serial, extra)
    )


def write_file(path, text):
    with open(path, "w") as f:
        f.write(text)


def yaml_quote(s):
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


def config_text(port, zones, state_dir="state", workers=2, extra_server=None, log_level="info",
                listen=None):
    """zones: list of (origin, file). extra_server: dict of more server: keys."""
    lines = ["server:", "  listen:"]
    for addr in listen or ["127.0.0.1@%d" % port]:
        lines.append("    - %s" % addr)
    lines.append("  workers: %d" % workers)
    lines.append("  state-dir: %s" % yaml_quote(state_dir))
    for k, v in (extra_server or {}).items():
        lines.append("  %s: %s" % (k, v))
    lines += ["log:", "  level: %s" % log_level, "zones:"]
    for origin, path in zones:
        lines.append("  - name: %s" % origin)
        lines.append("    file: %s" % yaml_quote(path))
    return "\n".join(lines) + "\n"


def query(port, name, rdtype="A", rdclass="IN", tcp=False, timeout=2.0, host=HOST):
    q = dns.message.make_query(name, rdtype, rdclass)
    q.flags &= ~dns.flags.RD
    if tcp:
        return dns.query.tcp(q, host, port=port, timeout=timeout)
    return dns.query.udp(q, host, port=port, timeout=timeout)


def process_gone(pid):
    """True when pid has exited (a zombie nobody reaps counts as gone)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("State:"):
                    return line.split()[1] in ("Z", "X")
    except FileNotFoundError:
        return True
    return False


class DaemonError(AssertionError):
    pass


class Daemon:
    """A signpostd process we started; stdout and stderr go to files in workdir."""

    def __init__(self, workdir, args, env=None, port=None):
        self.workdir = workdir
        self.port = port
        self.out_path = os.path.join(workdir, "signpostd.out")
        self.err_path = os.path.join(workdir, "signpostd.err")
        full_env = dict(os.environ)
        full_env.update(env or {})
        # Leaks at exit are not what these tests look for; ASan's other checks stay on.
        full_env.setdefault("ASAN_OPTIONS", "detect_leaks=0")
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen([binary("signpostd")] + list(args), cwd=workdir,
                                         stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                         env=full_env)
        self.pid = self.proc.pid
        self.returncode = None

    # ---- output -----------------------------------------------------------------------
    def log(self):
        with open(self.err_path, errors="replace") as f:
            return f.read()

    def stdout(self):
        with open(self.out_path, errors="replace") as f:
            return f.read()

    def wait_log(self, text, timeout=10.0, start=0):
        """Waits until text appears in stderr after offset start; returns the log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            log = self.log()
            if text in log[start:]:
                return log
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise DaemonError("'%s' not logged within %.0f s; log:\n%s" % (text, timeout, self.log()))

    # ---- queries ----------------------------------------------------------------------
    def query(self, name, rdtype="A", rdclass="IN", tcp=False, timeout=2.0, host=HOST):
        return query(self.port, name, rdtype, rdclass, tcp=tcp, timeout=timeout, host=host)

    def serial(self, zone, tcp=False):
        r = self.query(zone, "SOA", tcp=tcp)
        if r.rcode() != dns.rcode.NOERROR or not r.answer:
            return None
        return r.answer[0][0].serial

    def wait_answering(self, zone, timeout=10.0, tcp=False):
        """Waits until the daemon answers a SOA query for zone (any rcode); returns it."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise DaemonError("signpostd exited with %s before answering; log:\n%s"
                                  % (self.proc.returncode, self.log()))
            try:
                return self.query(zone, "SOA", tcp=tcp, timeout=0.5)
            except Exception as e:  # timeouts and refused connections while starting
                last = e
                time.sleep(0.05)
        raise DaemonError("no answer for %s SOA within %.0f s (%s); log:\n%s"
                          % (zone, timeout, last, self.log()))

    def wait_serial(self, zone, serial, timeout=10.0):
        deadline = time.monotonic() + timeout
        seen = None
        while time.monotonic() < deadline:
            seen = self.serial(zone)
            if seen == serial:
                return
            time.sleep(0.05)
        raise DaemonError("%s serial is %s, not %s, after %.0f s; log:\n%s"
                          % (zone, seen, serial, timeout, self.log()))

    # ---- signals and exit ---------------------------------------------------------------
    def signal(self, sig):
        if self.proc.poll() is None:
            os.kill(self.pid, sig)

    def stop(self, timeout=10.0):
        """SIGTERM, wait (bounded), and return the exit code; SIGKILL if it hangs."""
        if self.returncode is not None:
            return self.returncode
        self.signal(signal.SIGTERM)
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
            self.returncode = "hung (killed)"
        return self.returncode

    def check_clean_exit(self):
        if getattr(self, "checked", False):
            return
        self.checked = True
        rc = self.stop()
        log = self.log()
        found = [m for m in SANITIZER_MARKERS if m in log]
        if rc != 0 or found:
            raise DaemonError("signpostd exit %s%s; log:\n%s"
                              % (rc, ", sanitizer: %s" % found if found else "", log))


def tcp_frame(q):
    wire = q.to_wire()
    return struct.pack("!H", len(wire)) + wire


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed after %d of %d octets" % (len(buf), n))
        buf += chunk
    return buf


def recv_message(sock):
    (n,) = struct.unpack("!H", recv_exact(sock, 2))
    return dns.message.from_wire(recv_exact(sock, n))


def closed_by_peer(sock, timeout):
    """True if the peer closes (or resets) sock within timeout seconds."""
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


# ---- wildcard listen, inside a private network namespace ----------------------------------

def wildcard_check(workdir, conf, port):
    """Runs inside `unshare -n` (only a loopback interface exists, so a wildcard bind
    reaches nothing else): starts signpostd on conf, which listens on 0.0.0.0 and ::, and
    queries it at 127.0.0.1, 127.0.0.2 and ::1. dnspython refuses an answer from another
    address than the one queried, so each answer must leave from the address the query was
    sent to. Prints one line per address: "ADDR ok SERIAL" or "ADDR error ...", then
    "exit RC"."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True, timeout=10)
    d = Daemon(workdir, ["-f", "-c", conf], port=port)
    try:
        for host in ("127.0.0.1", "127.0.0.2", "::1"):
            deadline = time.monotonic() + 10
            while True:
                try:
                    r = query(port, "test.example.", "SOA", host=host, timeout=0.5)
                    print("%s ok %d" % (host, r.answer[0][0].serial), flush=True)
                    break
                except Exception as e:
                    if time.monotonic() > deadline:
                        print("%s error %r" % (host, e), flush=True)
                        break
                    time.sleep(0.05)
    finally:
        rc = d.stop()
        print("exit %s" % rc, flush=True)


if __name__ == "__main__":
    import sys
    if len(sys.argv) == 5 and sys.argv[1] == "wildcard-check":
        wildcard_check(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit("usage: daemon_util.py wildcard-check WORKDIR CONF PORT")
