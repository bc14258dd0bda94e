"""test_abuse_privileges.py - the daemon drops privileges after binding and writes only inside
its state directory (plus the pid file the operator names): signpostd runs under strace with
user: nobody, answers, reloads a changed zone on SIGHUP and stops; every file-system call
that can create, write or remove something is then checked against the allowed places.

Needs root (to change user) and strace; skipped otherwise.

Run: SIGNPOST_BUILD=/work/main/build /usr/bin/python3 -m pytest tests/system/test_abuse_privileges.py
"""

import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time

import dns.message
import dns.query
import dns.rcode
import pytest

import daemon_util as du

ZONE = "priv.example."
WRITE_CALLS = ("open", "openat", "creat", "mkdir", "mkdirat", "unlink", "unlinkat", "rename",
               "renameat", "renameat2", "chown", "fchownat", "lchown", "truncate", "link",
               "linkat", "symlink", "symlinkat", "chmod", "fchmodat", "bind")


def soa_serial(port):
    q = dns.message.make_query(ZONE, "SOA")
    r = dns.query.udp(q, du.HOST, port=port, timeout=1)
    assert r.rcode() == dns.rcode.NOERROR
    return r.answer[0][0].serial


def writes(trace, cwd):
    """(call, absolute path) of every call in the strace output that may write."""
    out = []
    pat = re.compile(r'^\d+\s+(\w+)\((.*)')
    for line in open(trace, errors="replace"):
        m = pat.match(line)
        if not m or m.group(1) not in WRITE_CALLS:
            continue
        call, args = m.groups()
        if call == "bind":
            p = re.search(r'sun_path="([^"]*)"', args)
            if not p:
                continue        # an IP socket
            path = p.group(1)
        else:
            if call in ("open", "openat") and not re.search(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC",
                                                            args):
                continue
            p = re.search(r'"([^"]*)"', args)
            if not p:
                continue
            path = p.group(1)
        if re.search(r"\) += -1 E", line):
            continue            # failed: wrote nothing
        out.append((call, os.path.normpath(os.path.join(cwd, path))))
    return out


def test_drops_privileges_and_writes_only_in_its_state_directory(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to change user")
    if shutil.which("strace") is None:
        pytest.skip("no strace")
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user 'nobody'")
    work = tempfile.mkdtemp(prefix="signpost-abuse-priv-")
    proc = None
    try:
        os.chmod(work, 0o755)
        state = os.path.join(work, "state")
        pidfile = os.path.join(work, "run", "signpostd.pid")
        os.makedirs(os.path.dirname(pidfile))
        port = du.free_port()
        zone = os.path.join(work, "zone.db")
        du.write_file(zone, du.zone_text(ZONE, 1))
        os.chmod(zone, 0o644)
        conf = os.path.join(work, "c.conf")
        du.write_file(conf, du.config_text(port, [(ZONE, "zone.db")], state_dir=state,
                                           extra_server={"user": "nobody",
                                                         "pid-file": pidfile})
                      + "metrics:\n  enabled: false\n")
        trace = os.path.join(str(tmp_path), "trace")
        env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
        err = open(os.path.join(str(tmp_path), "err"), "wb")
        proc = subprocess.Popen(["strace", "-f", "-qq", "-o", trace,
                                 "-e", "trace=" + ",".join(WRITE_CALLS),
                                 du.binary("signpostd"), "-f", "-c", conf],
                                cwd=work, stdout=err, stderr=err, env=env,
                                start_new_session=True)
        deadline = time.monotonic() + 20
        while True:
            try:
                assert soa_serial(port) == 1
                break
            except Exception:  # noqa: BLE001 - until it answers or the deadline
                assert proc.poll() is None and time.monotonic() < deadline, \
                    open(err.name, errors="replace").read()
                time.sleep(0.2)
        # The workers run as nobody: the privileges were dropped after binding.
        tasks = os.listdir("/proc/%d/task" % daemon_pid(proc.pid))
        for t in tasks:
            with open("/proc/%d/task/%s/status" % (daemon_pid(proc.pid), t)) as f:
                uids = [l.split()[1:] for l in f if l.startswith("Uid:")][0]
            assert all(int(u) == nobody.pw_uid for u in uids), (t, uids)
        # A reload compiles as nobody, into the state directory.
        time.sleep(1.1)
        du.write_file(zone, du.zone_text(ZONE, 2))
        os.kill(daemon_pid(proc.pid), signal.SIGHUP)
        deadline = time.monotonic() + 10
        while soa_serial(port) != 2:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        os.kill(daemon_pid(proc.pid), signal.SIGTERM)
        assert proc.wait(15) == 0, open(err.name, errors="replace").read()
        proc = None
        w = writes(trace, work)
        assert any(p.startswith(state + "/db") for _, p in w), w    # the trace saw writes
        outside = [(c, p) for c, p in w
                   if not (p == state or p.startswith(state + "/") or p == pidfile
                           or p in ("/dev/null", "/dev/tty"))]
        assert outside == [], outside
    finally:
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        shutil.rmtree(work, ignore_errors=True)


def daemon_pid(strace_pid):
    """The traced signpostd: strace's only child."""
    with open("/proc/%d/task/%d/children" % (strace_pid, strace_pid)) as f:
        return int(f.read().split()[0])
