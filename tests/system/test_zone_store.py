"""The zone store's promises, tested through signpost-zone and a reader process:

- a broken zone (tests/system/zones/broken, one error per file) is refused with
  file:line and the error, and the previous version of the zone stays in the database;
- a database directory that cannot be used, a database of another schema version and a
  missing master file each give a clear error and change nothing;
- readers see one whole version of a zone at a time while it is recompiled (zone-reader);
- a compiler killed in the middle of its write transaction leaves the previous zone.
"""

import glob
import os
import re
import signal
import subprocess
import time

import pytest

import zonetool_util as u

pytestmark = pytest.mark.skipif(not os.access(u.tool_path(), os.X_OK),
                                reason="signpost-zone not built (set SIGNPOST_BUILD)")

ORIGIN = "broken.example."
BASE = os.path.join(u.ZONES, "base.broken.example.zone")
BROKEN_FILES = sorted(os.path.basename(p) for p in glob.glob(os.path.join(u.BROKEN, "*.zone")))
_EXPECT = re.compile(r"^; expect: (?:(\S+):)?(\*|\d+): (.+)$")


def expectation(name):
    """(file, line or None, substring) from the file's first line."""
    with open(os.path.join(u.BROKEN, name)) as f:
        m = _EXPECT.match(f.readline().rstrip("\n"))
    assert m, f"{name}: first line must be '; expect: LINE: substring'"
    line = None if m.group(2) == "*" else int(m.group(2))
    return m.group(1) or name, line, m.group(3)


@pytest.fixture
def db_with_base(tmp_path):
    db = tmp_path / "db"
    r = u.compile_zone(db, ORIGIN, BASE)
    assert r.returncode == 0, r.stderr
    return db, u.dump_zone(db, ORIGIN)


def assert_unchanged(db, before):
    assert u.dump_zone(db, ORIGIN) == before
    r = u.run_tool("list", "--db", db)
    assert r.returncode == 0, r.stderr
    assert re.search(rf"^{re.escape(ORIGIN)}\s+1\s+7\s", r.stdout, re.M), r.stdout


# ---- broken zones -------------------------------------------------------------------------

def test_the_broken_corpus_has_at_least_30_cases():
    assert len(BROKEN_FILES) >= 30


@pytest.mark.parametrize("name", BROKEN_FILES)
def test_broken_zone_is_refused_at_its_line_and_the_old_zone_stays(name, db_with_base):
    db, before = db_with_base
    file, line, needle = expectation(name)
    for args in (["check", ORIGIN, name], ["compile", "--db", db, ORIGIN, name]):
        r = u.run_tool(*args, cwd=u.BROKEN)
        assert r.returncode == 1, f"{args[0]} {name}: rc {r.returncode}\n{r.stderr}"
        errors = [m for m in re.finditer(r"^(\S+?):(?:(\d+):)? error: (.*)$", r.stderr, re.M)]
        assert errors, f"no 'file:line: error:' in:\n{r.stderr}"
        ok = [m for m in errors
              if os.path.normpath(m.group(1)) == os.path.normpath(file)
              and (line is None or m.group(2) == str(line))
              and needle.lower() in m.group(3).lower()]
        assert ok, f"expected {file}:{line if line else '*'}: error: ...{needle}... in:\n{r.stderr}"
    assert_unchanged(db, before)


# ---- unusable databases and files -----------------------------------------------------------

def test_a_db_path_below_a_regular_file_fails_for_root_too(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory\n")
    for db in (blocker / "db", blocker):
        r = u.compile_zone(db, ORIGIN, BASE)
        assert r.returncode == 2, r.stderr
        assert str(db) in r.stderr and ("Not a directory" in r.stderr or "cannot" in r.stderr)
        r = u.run_tool("list", "--db", db)
        assert r.returncode == 2
    assert blocker.read_text() == "not a directory\n"


def test_a_missing_master_file_changes_nothing(db_with_base, tmp_path):
    db, before = db_with_base
    r = u.compile_zone(db, ORIGIN, tmp_path / "gone.zone")
    assert r.returncode == 2
    assert "gone.zone" in r.stderr and "No such file" in r.stderr
    assert_unchanged(db, before)


def test_a_directory_as_master_file_changes_nothing(db_with_base, tmp_path):
    db, before = db_with_base
    r = u.compile_zone(db, ORIGIN, tmp_path)
    assert r.returncode == 2 and "directory" in r.stderr.lower()
    assert_unchanged(db, before)


def test_a_zone_for_another_origin_does_not_touch_this_one(db_with_base):
    db, before = db_with_base
    r = u.compile_zone(db, "other.example.", BASE)
    assert r.returncode == 1
    assert "outside" in r.stderr.lower() or "SOA" in r.stderr
    assert_unchanged(db, before)
    assert "other.example." not in u.run_tool("list", "--db", db).stdout


def _mdb_dump_all(db):
    r = subprocess.run(["mdb_dump", "-a", "-p", str(db)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def _printable_len(line):
    """Octets in an mdb_dump -p value line (" text", with \\ and \\xx escapes)."""
    return len(re.findall(r"\\\\|\\[0-9a-fA-F]{2}|[^\\]", line[1:]))


def _set_schema(db, value_hex):
    """Rewrites the schema version key in place with mdb_dump/mdb_load (lmdb-utils): finds
    whichever named database holds a key containing "schema" and fills its value with
    value_hex octets (same length, so any fixed-width encoding stays well formed)."""
    names = subprocess.run(["mdb_dump", "-l", str(db)], capture_output=True, text=True,
                           timeout=30).stdout.split()
    for sub in [None] + names:
        which = ["-s", sub] if sub else []
        text = subprocess.run(["mdb_dump", "-p", *which, str(db)], capture_output=True,
                              text=True, timeout=30).stdout.splitlines()
        body = text.index("HEADER=END") + 1
        for i in range(body, len(text) - 1, 2):
            if "schema" in text[i]:
                old = text[i + 1]
                text[i + 1] = " " + f"\\{value_hex}" * _printable_len(old)
                r = subprocess.run(["mdb_load", *which, str(db)],
                                   input="\n".join(text) + "\n", capture_output=True,
                                   text=True, timeout=30)
                assert r.returncode == 0, r.stderr
                return old
    pytest.fail(f"no schema key in {db} (databases: {names})")


def test_a_database_of_another_schema_version_is_refused_and_left_alone(db_with_base):
    db, _ = db_with_base
    _set_schema(db, "7f")
    raw = _mdb_dump_all(db)
    for args in (["list", "--db", db], ["dump", "--db", db, ORIGIN],
                 ["compile", "--db", db, ORIGIN, BASE], ["delete", "--db", db, ORIGIN]):
        r = u.run_tool(*args)
        assert r.returncode == 2, f"{args[0]}: rc {r.returncode}: {r.stderr}"
        assert "schema" in r.stderr and str(db) in r.stderr, r.stderr
    assert _mdb_dump_all(db) == raw


# ---- readers during recompiles ---------------------------------------------------------------

READER_MAX = 64


def _versioned_zone(path, origin, serial):
    count = (serial * 7) % READER_MAX + 1
    lines = [f"$ORIGIN {origin}", "$TTL 60", f"@ SOA ns hostmaster {serial} 3600 600 86400 60",
             "@ NS ns", "ns A 192.0.2.1"]
    lines += [f"n{i} TXT \"serial-{serial}\"" for i in range(count)]
    # Bulk so that a compile takes long enough for readers to overlap it.
    lines += [f"bulk{i} A 10.0.{i >> 8 & 255}.{i & 255}" for i in range(20000)]
    path.write_text("\n".join(lines) + "\n")


def _run_reader(db, origin, stop, seconds="300"):
    return subprocess.Popen([u.reader_path(), str(db), origin, str(READER_MAX), str(stop),
                             seconds], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def test_the_reader_reports_a_zone_whose_contents_disagree_with_its_serial(tmp_path):
    """The checker itself can fail: a zone claiming serial 9 whose TXT records say 8."""
    if not os.access(u.reader_path(), os.X_OK):
        pytest.fail(f"zone-reader not built: {u.reader_path()}")
    origin = "live.example."
    db = tmp_path / "db"
    z = tmp_path / "live.zone"
    _versioned_zone(z, origin, 9)
    z.write_text(z.read_text().replace('"serial-9"', '"serial-8"'))
    assert u.compile_zone(db, origin, z).returncode == 0
    stop = tmp_path / "stop"
    reader = _run_reader(db, origin, stop, "2")
    out, err = reader.communicate(timeout=60)
    assert reader.returncode == 0, err
    assert 'INCONSISTENT serial=9 name=n0: TXT holds "serial-8"' in out, out[:2000]
    assert re.search(r"serials=1 inconsistencies=[1-9]", out.splitlines()[-1]), out[-500:]


def test_readers_see_one_whole_version_while_the_zone_is_replaced_50_times(tmp_path):
    if not os.access(u.reader_path(), os.X_OK):
        pytest.fail(f"zone-reader not built: {u.reader_path()}")
    origin = "live.example."
    db = tmp_path / "db"
    z = tmp_path / "live.zone"
    _versioned_zone(z, origin, 1)
    assert u.compile_zone(db, origin, z).returncode == 0
    stop = tmp_path / "stop"
    reader = _run_reader(db, origin, stop)
    try:
        assert reader.stdout.readline().strip() == "ready"
        for serial in range(2, 52):
            _versioned_zone(z, origin, serial)
            r = u.compile_zone(db, origin, z)
            assert r.returncode == 0, r.stderr
        stop.touch()
        out, err = reader.communicate(timeout=60)
    finally:
        if reader.poll() is None:
            reader.kill()
            reader.wait()
    assert reader.returncode == 0, err
    summary = out.strip().splitlines()[-1]
    m = re.match(r"snapshots=(\d+) serials=(\d+) inconsistencies=(\d+)$", summary)
    assert m, out
    bad = [line for line in out.splitlines() if line.startswith(("INCONSISTENT", "ERROR"))]
    assert int(m.group(3)) == 0 and not bad, "\n".join(bad[:20])
    assert int(m.group(2)) >= 5, f"the reader saw only {m.group(2)} versions: {summary}"
    assert int(m.group(1)) > int(m.group(2))
    print(summary)


# ---- a compiler killed mid-write ----------------------------------------------------------------

def _writer_lock_owner(db):
    """The thread id holding the LMDB writer mutex of db, or 0. lock.mdb starts with the
    reader-table header (MDB_txbody padded to a 64-octet cache line); the writer mutex
    follows, and glibc's pthread_mutex_t keeps its owner's tid at offset 8."""
    with open(db / "lock.mdb", "rb") as f:
        head = f.read(80)
    return int.from_bytes(head[72:76], "little") if len(head) >= 76 else 0


def test_a_compiler_killed_in_its_write_transaction_leaves_the_old_zone(tmp_path):
    origin = "crash.example."
    db = tmp_path / "db"
    small = tmp_path / "small.zone"
    u.generate_big_zone(small, origin, 1000, serial=1)
    assert u.compile_zone(db, origin, small).returncode == 0
    before = u.dump_zone(db, origin)

    big = tmp_path / "big.zone"
    u.generate_big_zone(big, origin, 1_500_000, serial=2)
    env = dict(os.environ)
    env.pop("SIGNPOST_STATE_DIR", None)
    proc = subprocess.Popen([u.tool_path(), "compile", "--db", str(db), origin, str(big)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    # Kill it only once it holds LMDB's writer lock, i.e. is inside mdb_txn_begin(write)
    # .. commit: the lock file's writer mutex (a robust pthread mutex) names its owner.
    in_txn = False
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if _writer_lock_owner(db) == proc.pid:
            # The tool also takes the writer lock for a moment when it opens the database,
            # before parsing: only a lock still held 20 ms later is the compile's own
            # transaction (it lasts ~0.5 s, longer under ASan). Then kill at once.
            time.sleep(0.02)
            if _writer_lock_owner(db) == proc.pid:
                in_txn = True
                break
        time.sleep(0.002)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert in_txn, "never saw the compiler inside its write transaction"
    assert proc.returncode == -signal.SIGKILL, \
        f"the compile finished (rc {proc.returncode}) before it could be killed: make it bigger"
    assert _writer_lock_owner(db) == proc.pid  # it died holding the lock

    r = u.run_tool("list", "--json", "--db", db)
    assert r.returncode == 0, r.stderr
    assert '"serial": 1' in r.stdout and '"records": 1000' in r.stdout, r.stdout
    assert u.dump_zone(db, origin) == before
    # The stale writer lock of the dead process does not block the next compile.
    r = u.compile_zone(db, origin, small.with_name("small.zone"))
    assert r.returncode == 0, r.stderr
    u.generate_big_zone(small, origin, 2000, serial=3)
    r = u.compile_zone(db, origin, small)
    assert r.returncode == 0, r.stderr
    assert '"serial": 3' in u.run_tool("list", "--json", "--db", db).stdout
