"""test_metrics.py - the HTTP endpoint of signpostd (libmicrohttpd): /metrics counters move
by exactly the queries sent (by protocol, type and rcode, and the latency histogram),
/health, /status.json with zone serials and GSLB members, errors for other paths and
methods, and `metrics: {enabled: false}`.

Run: SIGNPOST_BUILD=/work/main/build /usr/bin/python3 -m pytest tests/system/test_metrics.py
"""

import json
import socket
import time

import dns.rcode
import pytest

import dnsutil
import ops_util as ou
from ops_util import ZONE


@pytest.fixture
def served(signpost):
    port = dnsutil.free_port()
    s = signpost([(ZONE, "ops.zone", ou.zone_text(42))], workers=2,
                 extra_yaml=ou.metrics_yaml(port))
    s.metrics_port = port
    return s


def scrape(s):
    status, body, ctype = ou.http_get(s.metrics_port, "/metrics")
    assert status == 200 and ctype.startswith("text/plain"), (status, ctype)
    return ou.parse_metrics(body)


def delta(after, before, key):
    return after.get(key, 0) - before.get(key, 0)


def test_counters_move_by_the_queries_sent(served):
    before = scrape(served)
    for _ in range(20):
        assert served.query("www." + ZONE, "A").rcode() == dns.rcode.NOERROR
    for _ in range(5):
        assert served.query("nope." + ZONE, "AAAA").rcode() == dns.rcode.NXDOMAIN
    for _ in range(4):
        assert served.query(ZONE, "MX", tcp=True).rcode() == dns.rcode.NOERROR
    for _ in range(3):
        assert served.query("elsewhere.test.", "A").rcode() == dns.rcode.REFUSED
    after = scrape(served)
    assert delta(after, before, 'signpost_queries_total{proto="udp"}') == 28
    assert delta(after, before, 'signpost_queries_total{proto="tcp"}') == 4
    assert delta(after, before, 'signpost_queries_by_type_total{type="A"}') == 23
    assert delta(after, before, 'signpost_queries_by_type_total{type="AAAA"}') == 5
    assert delta(after, before, 'signpost_queries_by_type_total{type="MX"}') == 4
    assert delta(after, before, 'signpost_responses_total{rcode="NOERROR"}') == 24
    assert delta(after, before, 'signpost_responses_total{rcode="NXDOMAIN"}') == 5
    assert delta(after, before, 'signpost_responses_total{rcode="REFUSED"}') == 3
    # Every answered query lands in exactly one latency bucket.
    assert delta(after, before, "signpost_answer_duration_seconds_count") == 32
    assert delta(after, before, 'signpost_answer_duration_seconds_bucket{le="+Inf"}') == 32
    assert after["signpost_answer_duration_seconds_sum"] > before.get(
        "signpost_answer_duration_seconds_sum", 0)


def test_histogram_buckets_are_cumulative(served):
    for _ in range(10):
        served.query("www." + ZONE, "A")
    m = scrape(served)
    buckets = [(k, v) for k, v in m.items()
               if k.startswith("signpost_answer_duration_seconds_bucket")]
    values = [v for _, v in buckets]
    assert len(values) == 12 and values == sorted(values)
    assert values[-1] == m["signpost_answer_duration_seconds_count"]


def test_zone_serial_and_serving_gauges(served):
    m = scrape(served)
    assert m['signpost_zone_serial{zone="ops.example."}'] == 42
    assert m['signpost_zone_loaded{zone="ops.example."}'] == 1
    assert m['signpost_zone_load_failed{zone="ops.example."}'] == 0
    assert m["signpost_serving"] == 1


def test_health_is_200_while_serving(served):
    status, body, _ = ou.http_get(served.metrics_port, "/health")
    assert status == 200 and body == "ok\n"


def test_status_json_lists_zones_with_serials(served):
    status, body, ctype = ou.http_get(served.metrics_port, "/status.json")
    assert status == 200 and ctype == "application/json"
    j = json.loads(body)
    assert j["serving"] is True
    assert [(z["name"], z["serial"], z["loaded"]) for z in j["zones"]] == [(ZONE, 42, True)]
    assert j["zones"][0]["last_error"] is None
    assert j["gslb"] is None


def test_status_json_shows_a_failed_reload(served):
    with open(served.workdir + "/ops.zone", "w") as f:
        f.write(ou.zone_text(43) + "bad A 300.1.1.1\n")
    assert ou.ctl(served, "reload", ZONE).rc == 1
    j = json.loads(ou.http_get(served.metrics_port, "/status.json")[1])
    assert j["zones"][0]["serial"] == 42 and "ops.zone:8" in j["zones"][0]["last_error"]
    assert scrape(served)['signpost_zone_load_failed{zone="ops.example."}'] == 1


def test_other_paths_and_methods_are_refused(served):
    assert ou.http_get(served.metrics_port, "/nothing")[0] == 404
    assert ou.http_get(served.metrics_port, "/metrics", method="POST")[0] == 405


def test_metrics_can_be_disabled(signpost):
    port = dnsutil.free_port()
    signpost([(ZONE, "ops.zone", ou.zone_text(1))],
             extra_yaml="metrics:\n  enabled: false\n  listen: 127.0.0.1@%d\n" % port)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_metrics_port_in_use_does_not_stop_dns(signpost):
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    try:
        s = signpost([(ZONE, "ops.zone", ou.zone_text(1))], extra_yaml=ou.metrics_yaml(port))
        assert s.query("www." + ZONE, "A").rcode() == dns.rcode.NOERROR
        assert "metrics: cannot serve HTTP on 127.0.0.1@%d" % port in s.log()
    finally:
        blocker.close()


def test_gslb_member_health_in_metrics_and_status_json(signpost):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    cport = closed.getsockname()[1]
    closed.close()
    port = dnsutil.free_port()
    s = ou.start_or_skip_gslb(signpost, pytest,
                              extra_yaml=ou.gslb_yaml(cport) + ou.metrics_yaml(port))
    s.metrics_port = port
    assert ou.ctl(s, "gslb", "drain", "web", "web2").rc == 0
    for _ in range(6):
        assert s.query("gw." + ZONE, "A").rcode() == dns.rcode.NOERROR
    m = scrape(s)
    assert m['signpost_gslb_member_up{pool="web",member="web1"}'] == 1
    assert m['signpost_gslb_member_up{pool="backend",member="dead"}'] == 0
    assert m['signpost_gslb_member_drained{pool="web",member="web2"}'] == 1
    assert m['signpost_gslb_member_drained{pool="web",member="web1"}'] == 0
    assert m["signpost_gslb_answers_total"] >= 6
    j = json.loads(ou.http_get(port, "/status.json")[1])
    by = {(x["pool"], x["member"]): x for x in j["gslb"]["members"]}
    assert by[("web", "web2")]["drained"] and not by[("backend", "dead")]["up"]


def wait_for(fn, timeout):
    """Polls fn() every 0.2 s until it returns a true value (returned) or timeout passes."""
    end = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > end:
            return v
        time.sleep(0.2)


def listener(port=0):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(16)
    return s


def test_gslb_state_changes_counter_moves_when_a_backend_stops_and_returns(signpost):
    backend = listener()
    bport = backend.getsockname()[1]
    port = dnsutil.free_port()
    yaml = """gslb:
  checks:
    tcp-live:
      type: tcp
      interval: 1
      timeout: 1
      rise: 1
      fall: 1
      initial: up
      port: %d
  pools:
    app:
      members:
        - { name: live, address: 127.0.0.1, check: tcp-live }
        - { name: other, address: 192.0.2.44 }
  names:
    - { name: app.ops.example., pool: app, policy: weighted }
""" % bport
    try:
        s = ou.start_or_skip_gslb(signpost, pytest, extra_yaml=yaml + ou.metrics_yaml(port))
        s.metrics_port = port
        key = 'signpost_gslb_member_state_changes_total{pool="app",member="live"}'
        rtt = 'signpost_gslb_check_rtt_seconds{pool="app",member="live"}'
        # Up from the start (initial: up) and checked: no change yet, a measured RTT.
        m = wait_for(lambda: (lambda m: m if rtt in m else None)(scrape(s)), 5)
        assert m is not None, "no check RTT for a live backend"
        assert m[key] == 0 and m['signpost_gslb_member_up{pool="app",member="live"}'] == 1
        assert 0 < m[rtt] < 1
        assert scrape(s)['signpost_gslb_member_state_changes_total{pool="app",member="other"}'] == 0
        text = ou.http_get(port, "/metrics")[1]
        assert "# TYPE signpost_gslb_member_state_changes_total counter" in text

        backend.close()   # connection refused from now on: down after fall = 1 check
        m = wait_for(lambda: (lambda m: m if m[key] >= 1 else None)(scrape(s)), 5)
        assert m is not None, "the counter did not move after the backend stopped"
        assert m[key] == 1 and m['signpost_gslb_member_up{pool="app",member="live"}'] == 0
        j = json.loads(ou.http_get(port, "/status.json")[1])
        live = [x for x in j["gslb"]["members"] if x["member"] == "live"][0]
        assert live["state_changes"] == 1 and not live["up"]
        assert "refused" in live["reason"], live
        g = ou.ctl(s, "gslb", "status", "app", json_out=True).json()
        assert [x["state_changes"] for x in g["members"] if x["member"] == "live"] == [1]

        backend = listener(bport)   # back: up after rise = 1 check
        m = wait_for(lambda: (lambda m: m if m[key] >= 2 else None)(scrape(s)), 5)
        assert m is not None and m[key] == 2
        assert m['signpost_gslb_member_up{pool="app",member="live"}'] == 1
        assert m['signpost_gslb_member_state_changes_total{pool="app",member="other"}'] == 0
    finally:
        backend.close()
