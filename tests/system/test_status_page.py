"""test_status_page.py - /status as a browser renders it: headless Chromium (Debian package
`chromium`) loads the page from a running signpostd and dumps the DOM it built; the test
checks the zones with their serials and, with GSLB, every pool's members with their states
(up, down, drained). Skipped when chromium is not installed.

Run: SIGNPOST_BUILD=/work/main/build /usr/bin/python3 -m pytest tests/system/test_status_page.py
"""

import html.parser
import os
import shutil
import socket
import subprocess
import tempfile

import pytest

import dnsutil
import ops_util as ou
from ops_util import ZONE

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed "
                                "(tools/install-deps installs it)")


def render(url):
    """The DOM of url after Chromium loaded it (bounded: 90 s)."""
    with tempfile.TemporaryDirectory() as profile:
        argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                "--user-data-dir=" + profile, "--dump-dom", url]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=90,
                           env=dict(os.environ, HOME=profile))
    assert p.returncode == 0, p.stderr[-3000:]
    assert "<html" in p.stdout, p.stderr[-3000:]
    return p.stdout


class Tables(html.parser.HTMLParser):
    """Rows of the rendered tables: {table id or data-pool: [[cell text, ...], ...]}, and
    the class of every state cell by (pool, member)."""

    def __init__(self):
        super().__init__()
        self.tables, self.states = {}, {}
        self.table = None
        self.row = None
        self.cell = None
        self.cell_class = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.table = a.get("data-pool") or a.get("id")
            self.tables.setdefault(self.table, [])
        elif tag == "tr":
            self.row = []
        elif tag in ("td", "th"):
            self.cell = ""
            self.cell_class = a.get("class", "")

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.row is not None:
            self.row.append(self.cell.strip())
            if "state" in (self.cell_class or "").split():
                self.states[(self.table, self.row[0])] = self.cell_class
            self.cell = None
        elif tag == "tr" and self.table is not None:
            self.tables[self.table].append(self.row)
            self.row = None
        elif tag == "table":
            self.table = None


def parse(dom):
    t = Tables()
    t.feed(dom)
    return t


def test_status_page_shows_zones_with_serials(signpost):
    port = dnsutil.free_port()
    signpost([(ZONE, "ops.zone", ou.zone_text(77))], extra_yaml=ou.metrics_yaml(port))
    t = parse(render("http://127.0.0.1:%d/status" % port))
    rows = t.tables["zones"]
    assert rows[0][:2] == ["Zone", "Serial"]
    assert [r[:2] for r in rows[1:]] == [[ZONE, "77"]]


def test_status_page_shows_each_pools_members_and_their_states(signpost):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    cport = closed.getsockname()[1]
    closed.close()
    port = dnsutil.free_port()
    s = ou.start_or_skip_gslb(signpost, pytest,
                              extra_yaml=ou.gslb_yaml(cport) + ou.metrics_yaml(port))
    assert ou.ctl(s, "gslb", "drain", "web", "web2").rc == 0
    t = parse(render("http://127.0.0.1:%d/status" % port))
    web = {r[0]: r[1] for r in t.tables["web"][1:]}
    backend = {r[0]: r[1] for r in t.tables["backend"][1:]}
    assert web == {"web1": "up", "web2": "drained"}
    assert backend == {"alive": "up", "dead": "down"}
    # The state is also what colours the cell.
    assert t.states[("web", "web2")] == "state drained"
    assert t.states[("backend", "dead")] == "state down"
    assert [r[:2] for r in t.tables["zones"][1:]] == [[ZONE, "1"]]
