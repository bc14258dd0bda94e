"""test_daemon.py - signpostd's life: start, answer over UDP and TCP, reload on SIGHUP (zone
edits, broken zones, broken configurations, answer settings, removed zones), TCP pipelining,
half-close, limits and timeouts, --check-config, the built-in default configuration,
daemonizing, and a clean SIGTERM exit without sanitizer output.

Run: SIGNPOST_BUILD=/work/main/build /usr/bin/python3 -m pytest tests/system/test_daemon.py
"""

import os
import shutil
import signal
import socket
import subprocess
import time

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import pytest

import daemon_util as du
from daemon_util import Daemon

ZONE = "test.example."


@pytest.fixture
def started(tmp_path):
    """Starts daemons; at teardown each must exit 0 on SIGTERM with no sanitizer output."""
    procs = []

    def start(args, env=None, port=None, workdir=None):
        d = Daemon(str(workdir or tmp_path), args, env=env, port=port)
        procs.append(d)
        return d

    yield start
    errors = []
    for d in reversed(procs):
        try:
            d.check_clean_exit()
        except du.DaemonError as e:
            errors.append(str(e))
    if errors:
        pytest.fail("\n\n".join(errors), pytrace=False)


@pytest.fixture
def auth(tmp_path, started):
    """A daemon serving ZONE (serial 1) from tmp_path/zone.db, ready to answer."""

    def make(serial=1, workers=2, extra_server=None, zones=None):
        port = du.free_port()
        zone_file = tmp_path / "zone.db"
        du.write_file(zone_file, du.zone_text(ZONE, serial))
        conf = tmp_path / "signpost.conf"
        du.write_file(conf, du.config_text(port, zones or [(ZONE, "zone.db")], workers=workers,
                                           extra_server=extra_server))
        d = started(["-f", "-c", str(conf)], port=port)
        d.conf = conf
        d.zone_file = zone_file
        d.wait_answering(ZONE)
        return d

    return make


def assert_soa(r, serial):
    assert r.rcode() == dns.rcode.NOERROR, dns.rcode.to_text(r.rcode())
    assert r.flags & dns.flags.AA
    assert len(r.answer) == 1 and r.answer[0].rdtype == dns.rdatatype.SOA
    assert r.answer[0][0].serial == serial


def touch_later(path, text):
    """Rewrites path so that its mtime differs from before even on coarse clocks."""
    before = os.stat(path).st_mtime_ns
    du.write_file(path, text)
    if os.stat(path).st_mtime_ns == before:
        os.utime(path, ns=(before + 1_000_000_000, before + 1_000_000_000))


# ---- start and answer -----------------------------------------------------------------------

def test_answers_soa_over_udp_and_tcp(auth):
    d = auth(serial=7)
    assert_soa(d.query(ZONE, "SOA"), 7)
    assert_soa(d.query(ZONE, "SOA", tcp=True), 7)
    r = d.query("www." + ZONE, "A", tcp=True)
    assert r.rcode() == dns.rcode.NOERROR and r.answer[0][0].address == "192.0.2.8"


def test_startup_line_names_addresses_workers_and_zone_serials(auth):
    d = auth(serial=42, workers=2)
    log = d.wait_log("zones:")
    assert "127.0.0.1@%d" % d.port in log
    assert "2 workers" in log
    assert "%s (serial 42)" % ZONE in log


def test_name_outside_our_zones_is_refused(auth):
    d = auth()
    r = d.query("www.elsewhere.example.", "A")
    assert r.rcode() == dns.rcode.REFUSED


# ---- SIGHUP ------------------------------------------------------------------------------------

def test_sighup_after_zone_edit_serves_the_new_serial(auth):
    d = auth(serial=1)
    touch_later(d.zone_file, du.zone_text(ZONE, 2))
    d.signal(signal.SIGHUP)
    d.wait_serial(ZONE, 2)
    assert_soa(d.query(ZONE, "SOA", tcp=True), 2)
    r = d.query("serial." + ZONE, "TXT")
    assert r.answer[0][0].strings == (b"2",)


def test_sighup_with_a_broken_zone_keeps_the_old_serial_and_logs_file_line(auth):
    d = auth(serial=5)
    # Line 8: a CNAME beside other data at the same name (RFC 1034 3.6.2).
    touch_later(d.zone_file, du.zone_text(ZONE, 6, "www IN CNAME elsewhere.example.\n"))
    start = len(d.log())
    d.signal(signal.SIGHUP)
    log = d.wait_log("reload", start=start)
    log = d.wait_log("keep", start=start)
    assert "%s:" % d.zone_file in log[start:]
    lines = [l for l in log[start:].splitlines() if "%s:" % d.zone_file in l]
    assert any("%s:8:" % d.zone_file in l and "CNAME" in l for l in lines), lines
    assert_soa(d.query(ZONE, "SOA"), 5)
    assert_soa(d.query(ZONE, "SOA", tcp=True), 5)
    # Fixed, it loads on the next SIGHUP.
    touch_later(d.zone_file, du.zone_text(ZONE, 7))
    d.signal(signal.SIGHUP)
    d.wait_serial(ZONE, 7)


def test_sighup_with_a_broken_config_keeps_the_running_config(auth, tmp_path):
    d = auth(serial=3, extra_server={"identity": "before"})
    # The new file would serve serial 4 from another zone file, but it has a bad key.
    du.write_file(tmp_path / "zone2.db", du.zone_text(ZONE, 4))
    text = du.config_text(d.port, [(ZONE, "zone2.db")], extra_server={"identity": "after"})
    text = text.replace("  workers: 2\n", "  workers: 2\n  colour: blue\n")
    du.write_file(d.conf, text)
    start = len(d.log())
    d.signal(signal.SIGHUP)
    log = d.wait_log("running configuration stays", start=start)
    assert "%s:5: unknown key 'colour' in 'server'" % d.conf in log[start:]
    time.sleep(0.2)
    assert_soa(d.query(ZONE, "SOA"), 3)
    r = d.query("id.server.", "TXT", "CH")
    assert r.answer and r.answer[0][0].strings == (b"before",)


def test_sighup_applies_new_answer_settings(auth):
    d = auth(extra_server={"identity": "ns-one"})
    r = d.query("id.server.", "TXT", "CH")
    assert r.answer and r.answer[0][0].strings == (b"ns-one",)
    du.write_file(d.conf, du.config_text(d.port, [(ZONE, "zone.db")],
                                         extra_server={"identity": "ns-two"}))
    d.signal(signal.SIGHUP)
    d.wait_log("reload complete")
    for tcp in (False, True):
        r = d.query("id.server.", "TXT", "CH", tcp=tcp)
        assert r.answer and r.answer[0][0].strings == (b"ns-two",)


def test_sighup_with_a_listen_change_says_a_restart_is_needed(auth):
    d = auth()
    other = du.free_port()
    du.write_file(d.conf, du.config_text(other, [(ZONE, "zone.db")]))
    d.signal(signal.SIGHUP)
    d.wait_log("restart signpostd")
    assert_soa(d.query(ZONE, "SOA"), 1)


def test_sighup_removes_a_zone_no_longer_configured(auth, tmp_path):
    du.write_file(tmp_path / "other.db", du.zone_text("other.example.", 9))
    d = auth(zones=[(ZONE, "zone.db"), ("other.example.", "other.db")])
    assert_soa(d.query("other.example.", "SOA"), 9)
    du.write_file(d.conf, du.config_text(d.port, [(ZONE, "zone.db")]))
    d.signal(signal.SIGHUP)
    d.wait_log("other.example.: removed")
    assert d.query("other.example.", "SOA").rcode() == dns.rcode.REFUSED
    assert_soa(d.query(ZONE, "SOA"), 1)


def test_zone_compiled_by_the_tool_while_running_is_served(auth, tmp_path):
    tool = du.binary("signpost-zone")
    if not os.access(tool, os.X_OK):
        pytest.skip("signpost-zone is not built in %s" % du.build_dir())
    d = auth()
    du.write_file(tmp_path / "hand.db", du.zone_text("hand.example.", 11))
    p = subprocess.run([tool, "compile", "--db", str(tmp_path / "state" / "db"), "hand.example.",
                        str(tmp_path / "hand.db")], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    d.wait_serial("hand.example.", 11)
    # A reload does not delete it: the daemon did not compile it from its configuration.
    d.signal(signal.SIGHUP)
    d.wait_log("reload complete")
    assert_soa(d.query("hand.example.", "SOA"), 11)


def test_wildcard_listen_answers_from_the_address_queried(tmp_path):
    """listen 0.0.0.0 and ::, in a private network namespace (loopback only): the answer
    to a query sent to 127.0.0.2 must come from 127.0.0.2 (IP_PKTINFO), not 127.0.0.1."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.skip("unshare or ip missing")
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=10)
    if probe.returncode != 0:
        pytest.skip("cannot create a network namespace: %s" % probe.stderr.decode().strip())
    port = 5353
    du.write_file(tmp_path / "zone.db", du.zone_text(ZONE, 31))
    du.write_file(tmp_path / "c.conf", du.config_text(port, [(ZONE, "zone.db")],
                  listen=["0.0.0.0@%d" % port, "::@%d" % port]))
    helper = os.path.join(os.path.dirname(os.path.abspath(__file__)), "daemon_util.py")
    p = subprocess.run(["unshare", "-n", "/usr/bin/python3", helper, "wildcard-check",
                        str(tmp_path), str(tmp_path / "c.conf"), str(port)],
                       capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))
    log = (tmp_path / "signpostd.err").read_text()
    assert p.returncode == 0, p.stderr + log
    lines = p.stdout.splitlines()
    assert lines == ["127.0.0.1 ok 31", "127.0.0.2 ok 31", "::1 ok 31", "exit 0"], \
        p.stdout + log
    assert not [m for m in du.SANITIZER_MARKERS if m in log], log


def test_drops_privileges_and_still_compiles_on_sighup(started):
    if os.geteuid() != 0:
        pytest.skip("needs root to change user")
    import pwd
    import tempfile
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user 'nobody'")
    # pytest's tmp_path is private to root: use a directory 'nobody' can reach.
    work = tempfile.mkdtemp(prefix="signpost-priv-")
    try:
        os.chmod(work, 0o755)
        port = du.free_port()
        zone = os.path.join(work, "zone.db")
        du.write_file(zone, du.zone_text(ZONE, 1))
        os.chmod(zone, 0o644)
        conf = os.path.join(work, "c.conf")
        du.write_file(conf, du.config_text(port, [(ZONE, "zone.db")],
                                           extra_server={"user": "nobody"}))
        d = started(["-f", "-c", conf], port=port, workdir=work)
        d.wait_answering(ZONE)
        assert_soa(d.query(ZONE, "SOA"), 1)
        with open("/proc/%d/status" % d.pid) as f:
            uids = [l.split()[1:] for l in f if l.startswith("Uid:")][0]
        assert all(int(u) == nobody.pw_uid for u in uids), uids
        touch_later(zone, du.zone_text(ZONE, 2))
        d.signal(signal.SIGHUP)
        d.wait_serial(ZONE, 2)
        d.check_clean_exit()
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ---- TCP ---------------------------------------------------------------------------------------

def connect(d):
    return socket.create_connection((du.HOST, d.port), timeout=3)


def test_tcp_pipelining_of_20_queries_on_one_connection(auth):
    d = auth(serial=3)
    names = ["www." + ZONE, ZONE, "serial." + ZONE, "nx." + ZONE]
    queries = []
    for i in range(20):
        q = dns.message.make_query(names[i % 4], "SOA" if i % 4 == 1 else
                                   ("TXT" if i % 4 == 2 else "A"))
        q.id = 1000 + i
        queries.append(q)
    with connect(d) as s:
        s.sendall(b"".join(du.tcp_frame(q) for q in queries))  # one write, 20 messages
        answers = [du.recv_message(s) for _ in queries]
    assert [a.id for a in answers] == [q.id for q in queries]   # in order
    for q, a in zip(queries, answers):
        assert a.question == q.question
        if q.question[0].name.to_text() == "nx." + ZONE:
            assert a.rcode() == dns.rcode.NXDOMAIN
        else:
            assert a.rcode() == dns.rcode.NOERROR and a.answer
    assert answers[1].answer[0][0].serial == 3


def test_tcp_queries_one_after_another_on_one_connection(auth):
    # Each query waits for its answer: reading must resume after every write.
    d = auth()
    with connect(d) as s:
        for i in range(10):
            q = dns.message.make_query("www." + ZONE, "A")
            s.sendall(du.tcp_frame(q))
            a = du.recv_message(s)
            assert a.id == q.id and a.answer[0][0].address == "192.0.2.2"


def test_tcp_query_split_across_segments_is_answered(auth):
    d = auth()
    q = dns.message.make_query("www." + ZONE, "A")
    frame = du.tcp_frame(q)
    with connect(d) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for b in frame:
            s.sendall(bytes([b]))
            time.sleep(0.005)
        a = du.recv_message(s)
    assert a.id == q.id and a.answer[0][0].address == "192.0.2.2"


def test_tcp_half_closed_client_still_gets_its_answers(auth):
    d = auth()
    queries = [dns.message.make_query("www." + ZONE, "A") for _ in range(3)]
    with connect(d) as s:
        s.sendall(b"".join(du.tcp_frame(q) for q in queries))
        s.shutdown(socket.SHUT_WR)
        answers = [du.recv_message(s) for _ in queries]
        assert du.closed_by_peer(s, 3)
    assert [a.id for a in answers] == [q.id for q in queries]


def test_tcp_idle_connection_is_closed_after_the_timeout(auth):
    d = auth(extra_server={"tcp-idle-timeout": "500ms"})
    with connect(d) as s:
        s.sendall(du.tcp_frame(dns.message.make_query(ZONE, "SOA")))
        du.recv_message(s)
        t0 = time.monotonic()
        assert du.closed_by_peer(s, 5)
        assert 0.3 < time.monotonic() - t0 < 3


def test_tcp_incomplete_message_is_bounded_by_the_read_timeout(auth):
    d = auth(extra_server={"tcp-idle-timeout": 1})
    with connect(d) as s:
        s.sendall(b"\x00\x40abc")  # says 64 octets, sends 3, then trickles
        t0 = time.monotonic()
        closed = False
        while time.monotonic() - t0 < 4:
            try:
                s.sendall(b"x")
            except OSError:
                closed = True
                break
            if du.closed_by_peer(s, 0.2):
                closed = True
                break
        assert closed and time.monotonic() - t0 < 3


def test_tcp_connections_over_the_per_client_limit_are_closed(auth):
    d = auth(extra_server={"tcp-max-per-client": 2})
    a, b = connect(d), connect(d)
    try:
        for s in (a, b):   # the first two work
            s.sendall(du.tcp_frame(dns.message.make_query(ZONE, "SOA")))
            du.recv_message(s)
        c = connect(d)
        with c:
            assert du.closed_by_peer(c, 3)
    finally:
        a.close()
        b.close()
    time.sleep(0.3)
    with connect(d) as s:   # their places are free again
        s.sendall(du.tcp_frame(dns.message.make_query(ZONE, "SOA")))
        assert du.recv_message(s).rcode() == dns.rcode.NOERROR


def test_tcp_connections_over_the_total_limit_are_closed(auth):
    d = auth(extra_server={"tcp-max-connections": 3, "tcp-max-per-client": 3})
    held = [connect(d) for _ in range(3)]
    try:
        for s in held:
            s.sendall(du.tcp_frame(dns.message.make_query(ZONE, "SOA")))
            assert du.recv_message(s).rcode() == dns.rcode.NOERROR
        with connect(d) as extra:
            assert du.closed_by_peer(extra, 3)
        # The connections already open keep working.
        held[0].sendall(du.tcp_frame(dns.message.make_query(ZONE, "SOA")))
        assert du.recv_message(held[0]).rcode() == dns.rcode.NOERROR
    finally:
        for s in held:
            s.close()


def test_sigterm_with_an_open_tcp_connection_exits_0(auth):
    d = auth()
    with connect(d) as s:
        s.sendall(du.tcp_frame(dns.message.make_query(ZONE, "SOA")))
        du.recv_message(s)
        t0 = time.monotonic()
        assert d.stop() == 0
        assert time.monotonic() - t0 < 5
        assert du.closed_by_peer(s, 1)
    assert "SIGTERM: stopping" in d.log()


# ---- configuration files -------------------------------------------------------------------------

def run(args, **kw):
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
    return subprocess.run([du.binary("signpostd")] + args, capture_output=True, text=True,
                          timeout=20, env=env, **kw)


def test_check_config_accepts_a_good_file(tmp_path):
    conf = tmp_path / "good.conf"
    du.write_file(conf, du.config_text(5300, [(ZONE, "zone.db")]))
    p = run(["--check-config", "-c", str(conf)])
    assert p.returncode == 0, p.stderr
    assert "valid" in p.stdout


@pytest.mark.parametrize("bad,line,message", [
    ("server:\n  listen:\n    - 127.0.0.1@99999\n", 3, "server.listen[0]: bad port"),
    ("server:\n  listen:\n    - nowhere\n", 3, "server.listen[0]: not an address"),
    ("server:\n  workers: -2\n", 2, "server.workers: must not be negative"),
    ("server:\n  tcp-idle-timeout: 5 minutes\n", 2, "server.tcp-idle-timeout: not a duration"),
    ("zones:\n  - name: a.\n", 2, "zones[0]: zone 'a.' without 'file'"),
    ("log:\n  level: info\nrecursor: {}\n", 3, "unknown key 'recursor' at the top level"),
])
def test_check_config_rejects_a_bad_file_naming_line_and_key(tmp_path, bad, line, message):
    conf = tmp_path / "bad.conf"
    du.write_file(conf, bad)
    p = run(["--check-config", "-c", str(conf)])
    assert p.returncode == 1
    assert "%s:%d: %s" % (conf, line, message) in p.stderr


def test_bad_config_at_start_exits_1_with_the_message(tmp_path):
    conf = tmp_path / "bad.conf"
    du.write_file(conf, "server:\n  listen: [127.0.0.1@1234]\n  edns-size: 100\n")
    p = run(["-f", "-c", "bad.conf"], cwd=str(tmp_path))
    assert p.returncode == 1
    assert "bad.conf:3: server.edns-size: must be 512..4096" in p.stderr


def test_missing_config_file_exits_1(tmp_path):
    p = run(["-f", "-c", str(tmp_path / "absent.conf")])
    assert p.returncode == 1 and "absent.conf: cannot open" in p.stderr


def test_port_in_use_exits_1(tmp_path):
    port = du.free_port()
    blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    blocker.bind((du.HOST, port))   # without SO_REUSEPORT: signpostd cannot share it
    try:
        conf = tmp_path / "c.conf"
        du.write_file(conf, du.config_text(port, []))
        p = run(["-f", "-c", str(conf)])
        assert p.returncode == 1
        assert "127.0.0.1@%d: cannot listen" % port in p.stderr
    finally:
        blocker.close()


def test_second_daemon_on_the_same_port_exits_1(auth, tmp_path):
    d = auth()
    conf2 = tmp_path / "second.conf"
    du.write_file(conf2, du.config_text(d.port, [(ZONE, "zone.db")], state_dir="state2"))
    p = run(["-f", "-c", str(conf2)])
    assert p.returncode == 1
    assert "127.0.0.1@%d: cannot listen: UDP port already in use" % d.port in p.stderr
    assert_soa(d.query(ZONE, "SOA"), 1)


def test_help_and_version():
    p = run(["--help"])
    assert p.returncode == 0 and "--check-config" in p.stdout
    p = run(["-V"])
    assert p.returncode == 0 and p.stdout.startswith("signpostd ")


# ---- the built-in default -------------------------------------------------------------------------

def test_default_config_serves_the_example_zone_and_prints_dig_commands(tmp_path, started):
    if not du.port_free(5300):
        pytest.skip("port 5300 is in use on 127.0.0.1")
    state = tmp_path / "state"
    d = started([], env={"SIGNPOST_STATE_DIR": str(state)}, port=5300)
    d.wait_answering("example.test.")
    r = d.query("www.example.test.", "A")
    assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA
    assert r.answer[0][0].address == "192.0.2.10"
    r = d.query("www.example.test.", "A", tcp=True)
    assert r.answer[0][0].address == "192.0.2.10"
    deadline = time.monotonic() + 5
    while "dig @" not in d.stdout() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "dig @127.0.0.1 -p 5300 www.example.test A" in d.stdout()
    assert (state / "example.test.zone").exists()
    assert (state / "db").is_dir()


def test_default_config_keeps_an_edited_example_zone(tmp_path, started):
    if not du.port_free(5300):
        pytest.skip("port 5300 is in use on 127.0.0.1")
    state = tmp_path / "state"
    state.mkdir()
    du.write_file(state / "example.test.zone", du.zone_text("example.test.", 77))
    d = started([], env={"SIGNPOST_STATE_DIR": str(state)}, port=5300)
    d.wait_answering("example.test.")
    assert_soa(d.query("example.test.", "SOA"), 77)


# ---- becoming a daemon -----------------------------------------------------------------------------

def test_daemonizes_writes_the_pid_file_and_stops_on_sigterm(tmp_path):
    port = du.free_port()
    du.write_file(tmp_path / "zone.db", du.zone_text(ZONE, 1))
    pid_file = tmp_path / "run" / "signpostd.pid"
    (tmp_path / "run").mkdir()
    du.write_file(tmp_path / "c.conf", du.config_text(port, [(ZONE, "zone.db")],
                  extra_server={"pid-file": "run/signpostd.pid"}))
    err_path = tmp_path / "daemon.err"
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
    with open(err_path, "wb") as err:
        # The parent returns once the daemon serves; the daemon keeps stderr (no syslog).
        p = subprocess.run([du.binary("signpostd"), "-c", "c.conf"], cwd=str(tmp_path),
                           stdout=subprocess.DEVNULL, stderr=err, timeout=20, env=env)
    assert p.returncode == 0, err_path.read_text()
    pid = int(pid_file.read_text())
    try:
        assert not du.process_gone(pid)
        assert_soa(du.query(port, ZONE, "SOA"), 1)
        assert_soa(du.query(port, ZONE, "SOA", tcp=True), 1)
    finally:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while not du.process_gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert du.process_gone(pid)
    assert not pid_file.exists()
    log = err_path.read_text()
    assert "stopped" in log
    assert not [m for m in du.SANITIZER_MARKERS if m in log], log


def test_daemon_start_failure_shows_in_the_parents_exit_code(tmp_path):
    # The pid file's directory does not exist: the child fails after the fork.
    port = du.free_port()
    du.write_file(tmp_path / "c.conf", du.config_text(port, [],
                  extra_server={"pid-file": "no/such/dir/s.pid"}))
    err_path = tmp_path / "daemon.err"
    with open(err_path, "wb") as err:
        p = subprocess.run([du.binary("signpostd"), "-c", "c.conf"], cwd=str(tmp_path),
                           stdout=subprocess.DEVNULL, stderr=err, timeout=20,
                           env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))
    assert p.returncode == 1
    assert "cannot write the pid file" in err_path.read_text()
