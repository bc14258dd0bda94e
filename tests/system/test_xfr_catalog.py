"""test_xfr_catalog.py - catalog zones (RFC 9432), Signpost as the consumer of a catalog
that Knot 3.2 generates (catalog-role: generate): the members it lists become secondary
zones on Signpost, a member added on Knot is provisioned after Knot's NOTIFY, and a member
removed is deleted.

Run: SIGNPOST_BUILD=/work/main/build-xfr /usr/bin/python3 -m pytest tests/system/test_xfr_catalog.py
"""

import os
import subprocess
import time

import dns.rcode
import pytest

import dnsutil
import xfr_util as X

CATALOG = "catalog.invalid."


@pytest.fixture
def servers():
    started = []
    yield started
    errors = []
    for s in reversed(started):
        try:
            s.stop(check=True)
        except dnsutil.ServerError as e:
            errors.append(str(e))
    if errors:
        pytest.fail("\n".join(errors), pytrace=False)


def member_text(origin, serial=1):
    return X.zone_text(origin, serial, n=3)


def knot_add_member(knot, origin):
    X.write(os.path.join(knot.workdir, origin + "zone"), member_text(origin))
    with open(knot.conf_path, "a") as f:
        f.write('  - domain: "%s"\n    file: "%szone"\n    catalog-role: member\n'
                '    catalog-zone: "%s"\n' % (origin, origin, CATALOG))
    subprocess.run(["knotc", "-c", knot.conf_path, "reload"], check=True, capture_output=True,
                   timeout=10)


def knot_remove_member(knot, origin):
    with open(knot.conf_path) as f:
        text = f.read()
    block = ('  - domain: "%s"\n    file: "%szone"\n    catalog-role: member\n'
             '    catalog-zone: "%s"\n' % (origin, origin, CATALOG))
    assert block in text
    with open(knot.conf_path, "w") as f:
        f.write(text.replace(block, ""))
    subprocess.run(["knotc", "-c", knot.conf_path, "reload"], check=True, capture_output=True,
                   timeout=10)


def test_a_catalog_from_knot_provisions_and_removes_member_zones(tmp_path, servers):
    sport = dnsutil.free_port()
    knot = X.start_knot_primary(str(tmp_path / "knot"), "example.", X.zone_text("example.", 1),
                                notify_port=sport,
                                extra_zones=[("member1.test.", member_text("member1.test."))],
                                catalog=CATALOG)
    servers.append(knot)
    sp = X.start_signpost(str(tmp_path / "sp"),
                          [{"name": CATALOG, "catalog": "consumer",
                            "primaries": [("127.0.0.1@%d" % knot.port, X.KEY_NAME)]}],
                          port=sport)
    servers.append(sp)
    X.wait_serial(sp, "member1.test.", 1)
    X.wait_log(sp, "catalog catalog.invalid. provisions member1.test.")
    nt = [("www.member1.test.", "A"), ("h1.member1.test.", "TXT"), ("member1.test.", "NS")]
    assert X.answers(sp.port, nt) == X.answers(knot.port, nt)
    # example. is served by Knot but not in the catalog: not provisioned.
    r = sp.query("example.", "SOA", timeout=2)
    assert r.rcode() == dns.rcode.REFUSED

    knot_add_member(knot, "member2.test.")
    X.wait_serial(sp, "member2.test.", 1, timeout=20)
    X.wait_log(sp, "provisions member2.test.")

    knot_remove_member(knot, "member1.test.")
    X.wait_log(sp, "no longer lists member1.test.", timeout=20)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if sp.query("member1.test.", "SOA", timeout=2).rcode() == dns.rcode.REFUSED:
            break
        time.sleep(0.1)
    assert sp.query("member1.test.", "SOA", timeout=2).rcode() == dns.rcode.REFUSED
    assert X.soa_serial(sp.port, "member2.test.") == 1


def test_members_come_back_after_a_restart_without_the_primary(tmp_path, servers):
    knot = X.start_knot_primary(str(tmp_path / "knot"), "example.", X.zone_text("example.", 1),
                                extra_zones=[("member1.test.", member_text("member1.test."))],
                                catalog=CATALOG)
    servers.append(knot)
    zones = [{"name": CATALOG, "catalog": "consumer",
              "primaries": [("127.0.0.1@%d" % knot.port, X.KEY_NAME)]}]
    sp = X.start_signpost(str(tmp_path / "sp"), zones)
    X.wait_serial(sp, "member1.test.", 1)
    assert sp.stop(check=True) == 0
    knot.stop()
    sp2 = X.start_signpost(str(tmp_path / "sp"), zones, port=sp.port)
    servers.append(sp2)
    X.wait_serial(sp2, "member1.test.", 1, timeout=5)
    X.wait_log(sp2, "provisions member1.test.")
