"""conftest.py - shared pytest fixtures for every Signpost system test.

Fixtures (all servers on 127.0.0.1, free ports, temporary directories, bounded waits):
  signpost(zones, **conf)  start `signpostd -f -c conf` (pinned YAML schema) and wait for the
                           first zone's SOA; teardown sends SIGTERM and FAILS the test on a
                           non-zero exit or sanitizer output in stderr.
  nsd(zones, **opts)       NSD 4.6 in the foreground on the same zones.
  knot(zones, **opts)      Knot 3.2 in the foreground on the same zones.
  corpus_zone(name)        path of a zone file in tests/system/corpus/.
zones is a list of (origin, path) or (origin, file-name, text) tuples. Each factory returns a
dnsutil.Server: .query(name, type, tcp=, want_dnssec=, payload=, raw=...), .query_raw(bytes),
.port, .pid, .log(), .signal(sig), .stop(). Binaries come from $SIGNPOST_BUILD (default
/work/main/build). Module-scoped users call dnsutil.start_* directly (see
test_auth_differential.py).
"""

import os
import shutil

import pytest

import dnsutil


class _Factory:
    """Starts servers of one kind into numbered directories under tmp_path and stops them
    all (in reverse order) at teardown, collecting failures."""

    def __init__(self, tmp_path, kind, start):
        self.tmp_path = tmp_path
        self.kind = kind
        self.start = start
        self.servers = []

    def __call__(self, zones, **opts):
        d = os.path.join(str(self.tmp_path), "%s%d" % (self.kind, len(self.servers)))
        s = self.start(d, zones, **opts)
        self.servers.append(s)
        return s

    def close(self):
        errors = []
        for s in reversed(self.servers):
            try:
                s.stop(check=True)
            except dnsutil.ServerError as e:
                errors.append(str(e))
        return errors


def _factory_fixture(tmp_path, kind, start):
    f = _Factory(tmp_path, kind, start)
    yield f
    errors = f.close()
    if errors:
        pytest.fail("\n\n".join(errors), pytrace=False)


@pytest.fixture
def signpost(tmp_path):
    if not os.access(os.path.join(dnsutil.build_dir(), "signpostd"), os.X_OK):
        pytest.fail("signpostd not built in %s (set SIGNPOST_BUILD)" % dnsutil.build_dir())
    yield from _factory_fixture(tmp_path, "signpost", dnsutil.start_signpost)


@pytest.fixture
def nsd(tmp_path):
    if shutil.which("nsd") is None:
        pytest.skip("nsd not installed")
    yield from _factory_fixture(tmp_path, "nsd", dnsutil.start_nsd)


@pytest.fixture
def knot(tmp_path):
    if shutil.which("knotd") is None:
        pytest.skip("knotd not installed")
    yield from _factory_fixture(tmp_path, "knot", dnsutil.start_knot)


@pytest.fixture
def corpus_zone():
    def path(name):
        p = os.path.join(dnsutil.CORPUS_DIR, name)
        assert os.path.exists(p), p
        return p
    return path


def pytest_report_header(config):
    return "signpost build dir: %s" % dnsutil.build_dir()
