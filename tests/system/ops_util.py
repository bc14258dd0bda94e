"""ops_util.py - helpers for the operations tests (test_control.py, test_metrics.py,
test_status_page.py): run signpostctl against a daemon's control socket, fetch its HTTP
endpoints, and write the YAML sections those tests add to the pinned configuration."""

import json
import os
import subprocess
import urllib.error
import urllib.request

import dnsutil

ZONE = "ops.example."
ZONE_TEXT = """$ORIGIN ops.example.
$TTL 300
@       SOA ns1 hostmaster 2024010101 3600 600 86400 300
@       NS  ns1
ns1     A   192.0.2.53
www     A   192.0.2.80
mail    A   192.0.2.25
"""


def zone_text(serial):
    return ZONE_TEXT.replace("2024010101", str(serial))


def ctl_binary():
    return os.path.join(dnsutil.build_dir(), "signpostctl")


def socket_path(server):
    return os.path.join(server.workdir, "state", "control.sock")


class Result:
    def __init__(self, p):
        self.rc = p.returncode
        self.out = p.stdout
        self.err = p.stderr

    def json(self):
        return json.loads(self.out if self.rc == 0 else self.err)

    def __repr__(self):
        return "rc=%s out=%r err=%r" % (self.rc, self.out[-2000:], self.err[-2000:])


def ctl(server_or_socket, *args, json_out=False, timeout=30):
    """Runs signpostctl -s SOCKET [--json] ARGS... (bounded) and returns a Result."""
    sock = server_or_socket if isinstance(server_or_socket, str) else socket_path(server_or_socket)
    argv = [ctl_binary(), "-s", sock] + (["--json"] if json_out else []) + list(args)
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    return Result(p)


def metrics_yaml(port):
    return "metrics:\n  listen: 127.0.0.1@%d\n" % port


def http_get(port, path, method="GET", timeout=5):
    """(status, body text, content type) of http://127.0.0.1:port/path."""
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace"), r.headers.get("Content-Type")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace"), e.headers.get("Content-Type")


def parse_metrics(text):
    """Prometheus text -> {'name{labels}': float} (labels as written)."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        out[key] = float(value)
    return out


def gslb_yaml(closed_port, with_down=True):
    """A pool of two always-up members (web1, web2) for www, and - with_down - a pool
    whose member 'dead' is checked by TCP against a closed loopback port."""
    y = """gslb:
  checks:
    tcp-dead:
      type: tcp
      interval: 1
      timeout: 1
      rise: 1
      fall: 1
      initial: down
      port: %d
  pools:
    web:
      ttl: 30
      members:
        - { name: web1, address: 192.0.2.11 }
        - { name: web2, address: 192.0.2.12 }
""" % closed_port
    if with_down:
        y += """    backend:
      members:
        - { name: alive, address: 192.0.2.21 }
        - { name: dead, address: 127.0.0.1, check: tcp-dead }
"""
    y += """  names:
    - { name: gw.ops.example., pool: web, policy: weighted }
"""
    if with_down:
        y += "    - { name: be.ops.example., pool: backend, policy: weighted }\n"
    return y


def start_or_skip_gslb(signpost, pytest, **opts):
    """Starts a daemon whose configuration has a gslb: section; skips the test when this
    build does not know the section yet (GSLB not integrated into signpostd)."""
    try:
        return signpost([(ZONE, "ops.zone", zone_text(1))], **opts)
    except dnsutil.ServerError as e:
        if "unknown key 'gslb'" in str(e):
            pytest.skip("this signpostd has no GSLB integration (gslb: is an unknown key)")
        raise
