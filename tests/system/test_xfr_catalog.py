"""test_xfr_catalog.py - catalog zones (RFC 9432), Signpost as the consumer of a catalog
that Knot 3.2 generates (catalog-role: generate): the members it lists become secondary
zones on Signpost, a member added on Knot is provisioned after Knot's NOTIFY, and a member
removed is deleted.

Run: SIGNPOST_BUILD=/work/main/build-xfr /usr/bin/python3 -m pytest tests/system/test_xfr_catalog.py
"""

import os
import shutil
import subprocess
import time

import dns.rcode
import pytest

import dnsutil
import ops_util
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
    # The control tool lists the catalog and its member, with the catalog's primaries.
    zl = {z["name"]: z for z in ops_util.ctl(sp, "zone", "list", json_out=True).json()["zones"]}
    assert zl[CATALOG]["type"] == "catalog"
    m = zl["member1.test."]
    assert m["type"] == "catalog-member" and m["catalog"] == CATALOG and m["serial"] == 1
    assert m["primaries"] == ["127.0.0.1@%d key %s" % (knot.port, X.KEY_NAME)]
    out = ops_util.ctl(sp, "zone", "status", "member1.test").out
    assert "type:         catalog member of %s" % CATALOG in out
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


# ---- Signpost as the producer ---------------------------------------------------------------

PRODUCED = "catalog.example."


def producer_zones(tmp_path, members, notify_port):
    zones = [{"name": PRODUCED, "catalog": "producer",
              "provide-xfr": [("127.0.0.1", X.KEY_NAME)],
              "notify": [("127.0.0.1@%d" % notify_port, X.KEY_NAME)]}]
    for m in members:
        path = str(tmp_path / (m + "zone"))
        X.write(path, member_text(m))
        zones.append({"name": m, "file": path, "catalog-zone": PRODUCED,
                      "provide-xfr": [("127.0.0.1", X.KEY_NAME)]})
    return zones


@pytest.mark.parametrize("consumer", ["knot", "bind", "signpostd"])
def test_our_catalog_provisions_members_on_a_consumer(tmp_path, servers, consumer):
    if consumer == "bind" and shutil.which("named") is None:
        pytest.skip("BIND (named) is not installed: tools/install-deps installs it")
    cport = dnsutil.free_port()
    os.makedirs(str(tmp_path / "p"), exist_ok=True)
    zones = producer_zones(tmp_path, ["m1.test."], cport)
    prim = X.start_signpost(str(tmp_path / "p"), zones, wait_zone="m1.test.")
    servers.append(prim)
    # The catalog itself: version 2 and one PTR for m1.test. (RFC 9432 4).
    recs = X.records(X.axfr(prim.port, PRODUCED))
    assert ("version." + PRODUCED, 0, "TXT", '"2"') in recs
    ptrs = [r for r in recs if r[2] == "PTR"]
    assert len(ptrs) == 1 and ptrs[0][3] == "m1.test." and ".zones." + PRODUCED in ptrs[0][0]
    if consumer == "knot":
        cons = X.start_knot_catalog_consumer(str(tmp_path / "c"), PRODUCED, prim.port,
                                             port=cport)
    elif consumer == "bind":
        cons = X.start_bind_catalog_consumer(str(tmp_path / "c"), PRODUCED, prim.port,
                                             port=cport)
    else:
        cons = X.start_signpost(str(tmp_path / "c"),
                                [{"name": PRODUCED, "catalog": "consumer",
                                  "primaries": [("127.0.0.1@%d" % prim.port, X.KEY_NAME)]}],
                                port=cport)
    servers.append(cons)
    X.wait_serial(cons, "m1.test.", 1, timeout=20)

    # A zone added to the configuration (and to the catalog) reaches the consumer.
    zones = producer_zones(tmp_path, ["m1.test.", "m2.test."], cport)
    X.signpost_conf(prim.workdir, prim.port, zones)
    prim.signal(__import__("signal").SIGHUP)
    X.wait_log(prim, "catalog catalog.example. regenerated")
    X.wait_serial(cons, "m2.test.", 1, timeout=20)
    nt = [("www.m2.test.", "A"), ("h1.m2.test.", "TXT")]
    assert X.answers(cons.port, nt) == X.answers(prim.port, nt)


def test_catalog_zone_must_name_a_producer(tmp_path):
    d = str(tmp_path)
    X.write(os.path.join(d, "m.zone"), member_text("m1.test."))
    conf = X.signpost_conf(d, 5399, [{"name": "m1.test.", "file": os.path.join(d, "m.zone"),
                                      "catalog-zone": "nowhere.example."}])
    r = subprocess.run([os.path.join(dnsutil.build_dir(), "signpostd"), "-c", conf, "--check-config"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode != 0
    assert "catalog-zone 'nowhere.example.' is not a zone with catalog: producer" in r.stderr
