"""test_control.py - signpostctl against a running signpostd over its control socket: every
command, text and --json output, bad arguments (unknown zone, pool, member, bad values) that
must be refused with exit 1 and change nothing, and a daemon that is not running (exit 2
with the socket path and the reason).

Run: SIGNPOST_BUILD=/work/main/build /usr/bin/python3 -m pytest tests/system/test_control.py
"""

import os
import signal
import socket
import stat

import dns.edns
import dns.message
import dns.query
import dns.rcode
import pytest

import dnsutil
import ops_util as ou
from ops_util import ZONE, ctl


@pytest.fixture
def auth(signpost):
    """A daemon serving ops.example. (serial 1) with its control socket in state/."""
    return signpost([(ZONE, "ops.zone", ou.zone_text(1))], workers=2)


def soa_serial(server):
    r = server.query(ZONE, "SOA")
    assert r is not None and r.rcode() == dns.rcode.NOERROR
    return r.answer[0][0].serial


def a_addrs(server, name):
    r = server.query(name, "A")
    assert r is not None
    return sorted(rr.address for rrset in r.answer for rr in rrset)


# ---- status, stats ---------------------------------------------------------------------

def test_status_reports_version_zones_and_workers(auth):
    r = ctl(auth, "status")
    assert r.rc == 0, r
    assert "signpostd" in r.out and "running" in r.out
    assert "1 configured, 1 loaded" in r.out
    j = ctl(auth, "status", json_out=True).json()
    assert j["pid"] == auth.pid
    assert j["workers"] == 2 and j["zones_configured"] == 1 and j["zones_loaded"] == 1


def test_socket_has_the_default_mode_0660(auth):
    st = os.stat(ou.socket_path(auth))
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o660


def test_stats_count_the_queries_sent(auth):
    before = ctl(auth, "stats", json_out=True).json()
    for _ in range(7):
        assert auth.query("www." + ZONE, "A").rcode() == dns.rcode.NOERROR
    for _ in range(3):
        assert auth.query("nope." + ZONE, "TXT").rcode() == dns.rcode.NXDOMAIN
    after = ctl(auth, "stats", json_out=True).json()
    assert after["qtype"].get("A", 0) - before["qtype"].get("A", 0) == 7
    assert after["qtype"].get("TXT", 0) - before["qtype"].get("TXT", 0) == 3
    assert after["rcode"].get("NXDOMAIN", 0) - before["rcode"].get("NXDOMAIN", 0) == 3
    assert after["queries_udp"] - before["queries_udp"] == 10
    text = ctl(auth, "stats")
    assert text.rc == 0 and "NXDOMAIN=" in text.out and "TXT=" in text.out


# ---- zones and reload --------------------------------------------------------------------

def test_zone_list_and_status_show_serial_file_and_no_error(auth):
    r = ctl(auth, "zone", "list")
    assert r.rc == 0, r
    assert ZONE in r.out and "2024010101" not in r.out and " 1 " in r.out + " "
    j = ctl(auth, "zone", "status", "ops.example", json_out=True).json()
    assert j["name"] == ZONE and j["loaded"] and j["serial"] == 1
    assert j["file"].endswith("ops.zone") and j["last_error"] is None
    assert j["records"] == 5


def test_zone_status_of_an_unknown_zone_is_refused(auth):
    r = ctl(auth, "zone", "status", "other.example.")
    assert r.rc == 1, r
    assert "unknown zone 'other.example.'" in r.err
    assert r.out == ""


def test_reload_zone_reads_the_changed_file(auth):
    path = os.path.join(auth.workdir, "ops.zone")
    with open(path, "w") as f:
        f.write(ou.zone_text(2))
    r = ctl(auth, "reload", ZONE)
    assert r.rc == 0, r
    assert "serial 2" in r.out
    assert soa_serial(auth) == 2


def test_reload_zone_with_errors_keeps_the_old_version_and_reports_file_and_line(auth):
    path = os.path.join(auth.workdir, "ops.zone")
    with open(path, "w") as f:
        f.write(ou.zone_text(3) + "broken   A   not-an-address\n")
    r = ctl(auth, "reload", ZONE)
    assert r.rc == 1, r
    assert "not reloaded" in r.err and "ops.zone:8" in r.err
    assert soa_serial(auth) == 1
    j = ctl(auth, "zone", "status", ZONE, json_out=True).json()
    assert j["serial"] == 1 and "ops.zone:8" in j["last_error"]
    # Fixed: the error goes away.
    with open(path, "w") as f:
        f.write(ou.zone_text(4))
    assert ctl(auth, "reload", ZONE).rc == 0
    j = ctl(auth, "zone", "status", ZONE, json_out=True).json()
    assert j["serial"] == 4 and j["last_error"] is None


def test_reload_of_an_unknown_zone_changes_nothing(auth):
    r = ctl(auth, "reload", "nothere.example.")
    assert r.rc == 1 and "unknown zone" in r.err, r
    assert soa_serial(auth) == 1


def test_full_reload_applies_zone_changes(auth):
    with open(os.path.join(auth.workdir, "ops.zone"), "w") as f:
        f.write(ou.zone_text(5))
    r = ctl(auth, "reload", json_out=True)
    assert r.rc == 0, r
    assert r.json() == {"zones": 1, "failed": []}
    assert soa_serial(auth) == 5


def test_full_reload_with_a_broken_configuration_is_refused(auth):
    with open(auth.conf_path) as f:
        good = f.read()
    with open(auth.conf_path, "w") as f:
        f.write(good + "bogus-section: 1\n")
    with open(os.path.join(auth.workdir, "ops.zone"), "w") as f:
        f.write(ou.zone_text(6))
    r = ctl(auth, "reload")
    assert r.rc == 1, r
    assert "configuration not reloaded" in r.err and "bogus-section" in r.err
    assert soa_serial(auth) == 1     # nothing was reloaded
    with open(auth.conf_path, "w") as f:
        f.write(good)


# ---- explain -----------------------------------------------------------------------------

def test_explain_shows_zone_result_and_the_real_answer(auth):
    r = ctl(auth, "explain", "www." + ZONE, "A", "--client", "198.51.100.7", json_out=True)
    assert r.rc == 0, r
    j = r.json()
    assert j["zone"] == ZONE and j["serial"] == 1 and j["result"] == "found"
    assert j["response"]["rcode"] == "NOERROR" and j["response"]["aa"]
    assert any("192.0.2.80" in rr for rr in j["response"]["answer"])
    t = ctl(auth, "explain", "www." + ZONE, "A", "--client", "198.51.100.7", "--ecs",
            "203.0.113.0/24")
    assert t.rc == 0 and "192.0.2.80" in t.out and "with ECS 203.0.113.0/24" in t.out


def test_explain_of_a_missing_name_and_of_a_foreign_name(auth):
    j = ctl(auth, "explain", "nope." + ZONE, "A", "--client", "::1", json_out=True).json()
    assert j["result"] == "NXDOMAIN" and j["response"]["rcode"] == "NXDOMAIN"
    assert any("SOA" in rr for rr in j["response"]["authority"])
    j = ctl(auth, "explain", "www.elsewhere.test.", "A", "--client", "::1", json_out=True).json()
    assert j["zone"] is None and j["response"]["rcode"] == "REFUSED"


@pytest.mark.parametrize("args,msg", [
    (["www.ops.example.", "A"], "usage: explain"),
    (["www.ops.example.", "A", "--client", "not-an-ip"], "--client needs"),
    (["www.ops.example.", "BOGUSTYPE", "--client", "::1"], "unknown record type"),
    (["www.ops.example.", "A", "--client", "::1", "--ecs", "10.0.0.0/40"], "--ecs needs"),
])
def test_explain_refuses_bad_arguments(auth, args, msg):
    r = ctl(auth, "explain", *args)
    assert r.rc == 1 and msg in r.err, r


# ---- other commands and errors -----------------------------------------------------------

def test_cache_flush_without_a_resolver_is_refused(auth):
    r = ctl(auth, "cache", "flush")
    assert r.rc == 1 and "no resolver configured" in r.err, r


def test_unknown_command_is_refused(auth):
    r = ctl(auth, "frobnicate")
    assert r.rc == 1 and "unknown command 'frobnicate'" in r.err, r
    r = ctl(auth, "status", "extra")
    assert r.rc == 1 and "usage" in r.err, r


def test_gslb_without_a_gslb_section_says_so(auth):
    r = ctl(auth, "gslb", "status")
    assert r.rc == 1 and "GSLB is not configured" in r.err, r
    r = ctl(auth, "gslb", "drain", "web", "web1")
    assert r.rc == 1 and "GSLB is not configured" in r.err, r


def test_a_malformed_request_on_the_socket_gets_an_error_not_a_crash(auth):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(ou.socket_path(auth))
    s.sendall(b"nonsense\n")
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    assert data.startswith(b"1\n") and b"malformed request" in data
    assert ctl(auth, "status").rc == 0


def test_daemon_not_running_exits_2_with_path_and_reason(auth, tmp_path):
    missing = str(tmp_path / "no-such.sock")
    r = ctl(missing, "status")
    assert r.rc == 2, r
    assert missing in r.err and "No such file or directory" in r.err
    # A stopped daemon removes its socket; the client then says so.
    sock = ou.socket_path(auth)
    auth.stop()
    assert not os.path.exists(sock)
    r = ctl(sock, "status")
    assert r.rc == 2 and sock in r.err, r


def test_socket_left_by_a_killed_daemon_is_replaced_at_start(signpost, tmp_path):
    first = signpost([(ZONE, "ops.zone", ou.zone_text(1))])
    sock = ou.socket_path(first)
    os.kill(first.pid, signal.SIGKILL)
    first.proc.wait(timeout=5)
    first.returncode = first.proc.returncode
    assert os.path.exists(sock)
    second = dnsutil.start_signpost(first.workdir, [(ZONE, "ops.zone", ou.zone_text(1))])
    try:
        assert ctl(sock, "status", json_out=True).json()["pid"] == second.pid
    finally:
        second.stop()


def test_configured_socket_path_and_signpostctl_c_finds_it(signpost, tmp_path):
    sock = str(tmp_path / "ctl.sock")
    s = signpost([(ZONE, "ops.zone", ou.zone_text(1))],
                 extra_yaml="control:\n  socket: %s\n  mode: 0600\n" % sock)
    assert stat.S_IMODE(os.stat(sock).st_mode) == 0o600
    import subprocess
    p = subprocess.run([ou.ctl_binary(), "-c", s.conf_path, "--json", "status"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert '"zones_loaded":1' in p.stdout


@pytest.mark.parametrize("yaml,msg", [
    ("control:\n  mode: 0666\n", "control.mode"),
    ("control:\n  mode: 999\n", "not an octal mode"),
    ("control:\n  sockt: /tmp/x\n", "unknown key 'sockt'"),
    ("metrics:\n  listen: not-an-address\n", "metrics.listen"),
    ("metrics:\n  enabled: maybe\n", "metrics.enabled"),
])
def test_bad_control_and_metrics_sections_are_refused_with_file_and_line(tmp_path, yaml, msg):
    import subprocess
    conf, _ = dnsutil.write_signpost_conf(str(tmp_path), dnsutil.free_port(),
                                          [(ZONE, "ops.zone", ou.zone_text(1))], extra_yaml=yaml)
    p = subprocess.run([os.path.join(dnsutil.build_dir(), "signpostd"), "--check-config", "-c",
                        conf], capture_output=True, text=True, timeout=30)
    assert p.returncode == 1
    assert msg in p.stderr and "signpost.conf:" in p.stderr, p.stderr


# ---- gslb (needs the GSLB integration) -----------------------------------------------------

def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def gslb_auth(signpost):
    return ou.start_or_skip_gslb(signpost, pytest, extra_yaml=ou.gslb_yaml(closed_port()))


def members(server, pool=None):
    args = ["gslb", "status"] + ([pool] if pool else [])
    r = ctl(server, *args, json_out=True)
    assert r.rc == 0, r
    return {(m["pool"], m["member"]): m for m in r.json()["members"]}


def test_gslb_status_lists_members_with_health(gslb_auth):
    ms = members(gslb_auth)
    assert set(ms) == {("web", "web1"), ("web", "web2"), ("backend", "alive"),
                       ("backend", "dead")}
    assert ms[("web", "web1")]["up"] and not ms[("web", "web1")]["drained"]
    assert not ms[("backend", "dead")]["up"]
    assert ms[("backend", "dead")]["check"] == "tcp-dead"
    assert set(members(gslb_auth, "web")) == {("web", "web1"), ("web", "web2")}
    text = ctl(gslb_auth, "gslb", "status")
    assert text.rc == 0 and "DOWN" in text.out and "web1" in text.out


def test_gslb_drain_and_restore_change_the_answers(gslb_auth):
    name = "gw." + ZONE
    seen = set()
    for _ in range(30):
        seen.update(a_addrs(gslb_auth, name))
    assert seen == {"192.0.2.11", "192.0.2.12"}
    r = ctl(gslb_auth, "gslb", "drain", "web", "web1")
    assert r.rc == 0, r
    assert members(gslb_auth)[("web", "web1")]["drained"]
    for _ in range(30):
        assert a_addrs(gslb_auth, name) == ["192.0.2.12"]
    assert ctl(gslb_auth, "gslb", "restore", "web", "web1").rc == 0
    assert not members(gslb_auth)[("web", "web1")]["drained"]


def test_gslb_weight_is_applied_and_bad_weights_are_refused(gslb_auth):
    assert ctl(gslb_auth, "gslb", "weight", "web", "web2", "7").rc == 0
    assert members(gslb_auth)[("web", "web2")]["weight"] == 7
    for bad in ["0", "65536", "-1", "ten"]:
        r = ctl(gslb_auth, "gslb", "weight", "web", "web2", bad)
        assert r.rc == 1 and "weight must be" in r.err, (bad, r)
    assert members(gslb_auth)[("web", "web2")]["weight"] == 7


@pytest.mark.parametrize("args,msg", [
    (["drain", "nopool", "web1"], "unknown pool 'nopool'"),
    (["drain", "web", "web9"], "unknown member 'web9' in pool 'web'"),
    (["restore", "nopool", "x"], "unknown pool"),
    (["weight", "web", "web9", "3"], "unknown member"),
    (["status", "nopool"], "unknown pool"),
    (["drain", "web"], "usage"),
    (["explode"], "unknown gslb command"),
])
def test_gslb_bad_names_are_refused_and_change_nothing(gslb_auth, args, msg):
    before = members(gslb_auth)
    r = ctl(gslb_auth, "gslb", *args)
    assert r.rc == 1 and msg in r.err, r
    after = members(gslb_auth)
    for k in before:
        for f in ("drained", "weight"):
            assert before[k][f] == after[k][f]


def test_explain_of_a_dynamic_name_names_the_pool_and_the_pick(gslb_auth):
    ctl(gslb_auth, "gslb", "drain", "web", "web2")
    j = ctl(gslb_auth, "explain", "gw." + ZONE, "A", "--client", "192.0.2.99",
            json_out=True).json()
    assert j["gslb"]["dynamic"] and j["gslb"]["pool"] == "web"
    assert [p["member"] for p in j["gslb"]["picked"]] == ["web1"]
    assert any("192.0.2.11" in rr for rr in j["response"]["answer"])
    t = ctl(gslb_auth, "explain", "gw." + ZONE, "A", "--client", "192.0.2.99")
    assert "dynamic name of pool web" in t.out and "picked web/web1" in t.out


def test_gslb_drain_survives_a_restart(signpost):
    yaml = ou.gslb_yaml(closed_port())
    first = ou.start_or_skip_gslb(signpost, pytest, extra_yaml=yaml)
    assert ctl(first, "gslb", "drain", "web", "web2").rc == 0
    assert ctl(first, "gslb", "weight", "web", "web1", "9").rc == 0
    first.stop()
    second = dnsutil.start_signpost(first.workdir, [(ZONE, "ops.zone", ou.zone_text(1))],
                                    extra_yaml=yaml)
    try:
        ms = members(second)
        assert ms[("web", "web2")]["drained"]
        assert ms[("web", "web1")]["weight"] == 9
        for _ in range(20):
            assert a_addrs(second, "gw." + ZONE) == ["192.0.2.11"]
    finally:
        second.stop()


# ---- explain: why a GSLB answer (gslb_explain() runs gslb_pick()'s own decision code) ----------

WHY_YAML = """gslb:
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
    dc:
      min-healthy: 2
      max-answers: 2
      fallback: pool:sorry
      members:
        - { name: dc1-a, address: 198.51.100.1, priority: 1 }
        - { name: dc1-b, address: 198.51.100.2, priority: 1 }
        - { name: dc2-a, address: 203.0.113.1, priority: 2 }
        - { name: dc2-b, address: 203.0.113.2, priority: 2 }
    sorry:
      members:
        - { name: sorry, address: 192.0.2.250 }
    geo:
      members:
        - { name: fra, address: 192.0.2.1, region: eu }
        - { name: iad, address: 192.0.2.2, region: us }
        - { name: sin, address: 127.0.0.1, region: ap, check: tcp-dead }
    ring:
      members:
        - { name: h1, address: 192.0.2.31 }
        - { name: h2, address: 192.0.2.32 }
        - { name: h3, address: 192.0.2.33 }
        - { name: h4, address: 192.0.2.34 }
  topology:
    - { subnet: 10.0.0.0/8, region: eu }
    - { subnet: 10.20.0.0/16, region: us }
    - { subnet: 172.16.0.0/12, region: ap }
  region-order:
    eu: [eu, us]
    ap: [ap, us, eu]
  names:
    - { name: dc.ops.example., pool: dc, policy: failover }
    - { name: geo.ops.example., pool: geo, policy: topology }
    - { name: hh.ops.example., pool: ring, policy: hash }
"""


@pytest.fixture
def why_auth(signpost):
    return ou.start_or_skip_gslb(signpost, pytest, extra_yaml=WHY_YAML % closed_port())


def explain(server, name, *extra):
    r = ctl(server, "explain", name + ZONE, "A", *extra, json_out=True)
    assert r.rc == 0, r
    return r.json()


def picked(j):
    return [p["member"] for p in j["gslb"]["picked"]]


def answer_addrs(j):
    return sorted(rr.split()[-1] for rr in j["response"]["answer"] if " A " in rr or "\tA\t" in rr)


def test_explain_failover_names_the_backup_group_and_why(why_auth):
    j = explain(why_auth, "dc.", "--client", "192.0.2.99")
    g = j["gslb"]
    assert j["result"].startswith("dynamic") and j["zone"] == ZONE
    assert g["policy"] == "failover" and g["fallback"] is None
    assert g["failover"] == {"groups": [{"priority": 1, "healthy": 2}], "chosen": 1,
                             "below_min_healthy": False}
    assert set(picked(j)) == {"dc1-a", "dc1-b"}
    assert "failover group 1: 2 healthy, min-healthy 2: answers" in g["why"]

    # Drain one member of the primary group: it falls below min-healthy 2, DC2 answers.
    assert ctl(why_auth, "gslb", "drain", "dc", "dc1-a").rc == 0
    j = explain(why_auth, "dc.", "--client", "192.0.2.99")
    g = j["gslb"]
    assert g["failover"]["groups"] == [{"priority": 1, "healthy": 1},
                                       {"priority": 2, "healthy": 2}]
    assert g["failover"]["chosen"] == 2 and not g["failover"]["below_min_healthy"]
    assert g["drained_skipped"] == 1
    assert "dc/dc1-a skipped: drained by an operator" in g["why"]
    assert "failover group 1: 1 healthy, min-healthy 2: failed (below min-healthy), next group" \
        in g["why"]
    assert "failover group 2: 2 healthy, min-healthy 2: answers" in g["why"]
    assert set(picked(j)) == {"dc2-a", "dc2-b"}
    assert answer_addrs(j) == ["203.0.113.1", "203.0.113.2"]
    states = {m["member"]: m["state"] for m in g["members"]}
    assert states == {"dc1-a": "drained", "dc1-b": "candidate", "dc2-a": "candidate",
                      "dc2-b": "candidate"}
    # The explanation agrees with what the daemon answers.
    assert a_addrs(why_auth, "dc." + ZONE) == ["203.0.113.1", "203.0.113.2"]
    t = ctl(why_auth, "explain", "dc." + ZONE, "A", "--client", "192.0.2.99")
    assert t.rc == 0 and "policy failover" in t.out
    assert "failover group 2: 2 healthy, min-healthy 2: answers" in t.out
    assert "dc/dc1-a skipped: drained by an operator" in t.out

    # One down in each group: no group has min-healthy members, the first with any answers.
    assert ctl(why_auth, "gslb", "drain", "dc", "dc2-a").rc == 0
    g = explain(why_auth, "dc.", "--client", "192.0.2.99")["gslb"]
    assert g["failover"]["chosen"] == 1 and g["failover"]["below_min_healthy"]
    assert [m["member"] for m in g["picked"]] == ["dc1-b"]

    # Everything drained: the sorry pool answers, and the explanation says so.
    for m in ("dc1-b", "dc2-b"):
        assert ctl(why_auth, "gslb", "drain", "dc", m).rc == 0
    j = explain(why_auth, "dc.", "--client", "192.0.2.99")
    g = j["gslb"]
    assert g["fallback"] == "sorry pool" and g["sorry_pool"] == "sorry"
    assert g["candidates"] == 0 and g["drained_skipped"] == 4
    assert "no healthy member: sorry pool sorry answers" in g["why"]
    assert picked(j) == ["sorry"] and answer_addrs(j) == ["192.0.2.250"]
    assert a_addrs(why_auth, "dc." + ZONE) == ["192.0.2.250"]


def test_explain_topology_names_the_subnet_region_and_order_step(why_auth):
    g = explain(why_auth, "geo.", "--client", "10.1.2.3")["gslb"]
    topo = g["topology"]
    assert topo["source"] == "cidr" and topo["subnet"] == "10.0.0.0/8" and topo["line"] > 0
    assert topo["region"] == "eu" and topo["step"] == 0 and topo["answered_region"] == "eu"
    assert [p["member"] for p in g["picked"]] == ["fra"]
    assert "client matched topology subnet 10.0.0.0/8 (line %d): region eu" % topo["line"] \
        in g["why"]

    # The longest prefix wins, and with ECS the subnet comes from the option (RFC 7871).
    j = explain(why_auth, "geo.", "--client", "10.1.2.3", "--ecs", "10.20.5.0/24")
    g = j["gslb"]
    assert g["client"] == "10.20.5.0/24" and g["client_from_ecs"]
    assert g["topology"]["subnet"] == "10.20.0.0/16" and g["topology"]["region"] == "us"
    assert picked(j) == ["iad"] and g["ecs_scope"] == 16

    # Region ap's only member is down (its check): step 1 of ap's region-order is ap
    # itself, so step 2 (us) answers; the down member is named with its state.
    g = explain(why_auth, "geo.", "--client", "172.16.9.9")["gslb"]
    assert g["topology"]["region"] == "ap" and g["topology"]["order"] == "region"
    assert g["topology"]["step"] == 2 and g["topology"]["answered_region"] == "us"
    assert [p["member"] for p in g["picked"]] == ["iad"]
    assert {m["member"]: m["state"] for m in g["members"]}["sin"] == "down"
    assert any(w.startswith("geo/sin skipped: down") for w in g["why"])

    # eu drained: eu's region-order sends the client to us.
    assert ctl(why_auth, "gslb", "drain", "geo", "fra").rc == 0
    g = explain(why_auth, "geo.", "--client", "10.1.2.3")["gslb"]
    assert g["topology"]["step"] == 2 and g["topology"]["answered_region"] == "us"
    assert "region eu has no healthy member; step 2 of the region's region-order: region us " \
        "answers" in g["why"]

    # No match at all: nothing to go on, any candidate.
    g = explain(why_auth, "geo.", "--client", "192.0.2.1")["gslb"]
    assert g["topology"]["source"] == "none" and g["topology"]["region"] is None
    assert "client matched no topology subnet and no GeoIP entry" in g["why"]


def test_explain_hash_shows_scores_and_the_winner_the_daemon_answers(why_auth):
    for subnet in ("198.51.100.0/24", "203.0.113.0/24", "192.0.2.0/24", "10.9.8.0/24"):
        j = explain(why_auth, "hh.", "--client", "127.0.0.1", "--ecs", subnet)
        g = j["gslb"]
        assert g["hash"]["prefix"] == 24 and g["ecs_scope"] == 24
        scores = {m["member"]: m["score"] for m in g["members"]}
        assert all(v is not None and v > 0 for v in scores.values()), scores
        best = max(scores, key=scores.get)
        assert picked(j) == [best]
        assert any(w.startswith("hash of client subnet %s (key " % subnet) for w in g["why"])
        # The daemon's own answer for a query with that ECS option is the same member.
        q = dns.message.make_query("hh." + ZONE, "A", use_edns=0, options=[
            dns.edns.ECSOption(subnet.split("/")[0], 24)])
        r = dns.query.udp(q, "127.0.0.1", port=why_auth.port, timeout=3)
        got = [rr.address for rrset in r.answer for rr in rrset]
        addr = {"h1": "192.0.2.31", "h2": "192.0.2.32", "h3": "192.0.2.33", "h4": "192.0.2.34"}
        assert got == [addr[best]], (subnet, got, scores)
    # A member drained: only its clients move; the explanation no longer scores it.
    victim = picked(explain(why_auth, "hh.", "--client", "127.0.0.1", "--ecs",
                            "198.51.100.0/24"))[0]
    assert ctl(why_auth, "gslb", "drain", "ring", victim).rc == 0
    g = explain(why_auth, "hh.", "--client", "127.0.0.1", "--ecs", "198.51.100.0/24")["gslb"]
    ms = {m["member"]: m for m in g["members"]}
    assert ms[victim]["state"] == "drained" and ms[victim]["score"] is None
    assert g["picked"][0]["member"] != victim


def test_explain_of_a_non_address_type_says_nodata(why_auth):
    r = ctl(why_auth, "explain", "dc." + ZONE, "TXT", "--client", "192.0.2.99", json_out=True)
    assert r.rc == 0, r
    g = r.json()["gslb"]
    assert g["addresses"] == 0 and g["why"] == ["TXT is not A or AAAA: the name answers NODATA "
                                                 "for it"]


# ---- systemd readiness (Type=notify) --------------------------------------------------------

def built_with_systemd():
    try:
        with open(os.path.join(dnsutil.build_dir(), "config.h")) as f:
            return "#define HAVE_SYSTEMD 1" in f.read()
    except OSError:
        return False


@pytest.mark.skipif(not built_with_systemd(), reason="built without libsystemd (no sd_notify)")
def test_sd_notify_ready_reloading_and_stopping(signpost, tmp_path, monkeypatch):
    path = str(tmp_path / "notify.sock")
    n = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    n.bind(path)
    n.settimeout(10)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    s = signpost([(ZONE, "ops.zone", ou.zone_text(1))])

    def next_state():
        return n.recv(4096).decode()

    assert "READY=1" in next_state()
    s.signal(signal.SIGHUP)
    assert "RELOADING=1" in next_state()
    assert "READY=1" in next_state()
    assert ctl(s, "reload").rc == 0
    assert "RELOADING=1" in next_state()
    assert "READY=1" in next_state()
    s.stop()
    assert "STOPPING=1" in next_state()
    n.close()


def test_signpostctl_with_a_missing_configuration_exits_2(tmp_path):
    import subprocess
    p = subprocess.run([ou.ctl_binary(), "-c", str(tmp_path / "none.conf"), "status"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2
    assert "none.conf" in p.stderr and "No such file or directory" in p.stderr
