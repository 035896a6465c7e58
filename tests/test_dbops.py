"""The database file shared by the dashboard and the command line; backup and
restore; a file removed, replaced, foreign or damaged under the app.

Other processes stand in for "the running dashboard": one runs the real app
(Streamlit's AppTest, signed in) and stays alive; others hold the file or write
in a loop.  Each test fails with a dashboard that keeps one connection open for
its lifetime, with a plain file copy as backup, or with errors blamed on a lock.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from data.db import DatabaseBusy, DatabaseMissing, DatabaseReplaced, DatabaseUnusable
from data.store import connect, manager
from tests import app_fixtures as fx

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "dashboard" / "app.py"


def cli(*args, env_extra=None, timeout=120):
    env = dict(os.environ, **(env_extra or {}))
    env.pop("GONGKAI_DB", None)
    return subprocess.run([sys.executable, "-m", *map(str, args)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def spawn(code: str, **env_extra) -> subprocess.Popen:
    """A helper process that prints "ready" once it holds what it should, then waits for a line on stdin."""
    env = dict(os.environ, **env_extra)
    p = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=env, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline().strip()
    if line != "ready":
        p.kill()
        raise AssertionError(f"helper did not start: {line!r} {p.stderr.read()[-2000:]}")
    return p


def finish(p: subprocess.Popen) -> str:
    out, err = p.communicate("\n", timeout=120)
    assert p.returncode == 0, err[-3000:]
    return out


def no_traceback(r) -> None:
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, r.stderr[-3000:]


@pytest.fixture
def app_db(tmp_path):
    return fx.prepare(tmp_path / "app.duckdb")


RUN_APP = """
    import sys, time
    from streamlit.testing.v1 import AppTest
    ats = []
    for _ in range(2):          # two sessions of this server, both signed in
        at = AppTest.from_file({app!r}, default_timeout=120)
        at.session_state["auth_user"] = {{"name": "shenhe", "role": "reviewer", "unit": None}}
        at.session_state["year"] = 2019
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        ats.append(at)
    print("ready", flush=True)
    sys.stdin.readline()        # the server keeps running (sessions, caches, the database resource)
    print("opens", __import__("dashboard.common", fromlist=["x"]).get_database().opens)
"""


# ---------------------------------------------------------------- the command line beside the app

def test_every_cli_command_works_while_the_dashboard_runs_with_users_signed_in(app_db, tmp_path):
    app = spawn(RUN_APP.format(app=str(APP)), GONGKAI_DB=str(app_db))
    second = spawn(RUN_APP.format(app=str(APP)), GONGKAI_DB=str(app_db))  # a second server, same file
    try:
        db = ["--db", app_db]
        r = cli("metrics", "scorecard", "--year", 2019, "--csv", tmp_path / "s.csv", *db)
        assert r.returncode == 0, r.stderr
        assert fx.AUDIT in (tmp_path / "s.csv").read_text(encoding="utf-8-sig")
        r = cli("metrics", "report", "--year", 2019, "-o", tmp_path / "r.xlsx", *db)
        assert r.returncode == 0, r.stderr
        r = cli("metrics", "calendar", "status", *db)
        assert r.returncode == 0 and "2019" in r.stdout, r.stderr
        wb = tmp_path / "民政局.xlsx"
        wb.write_bytes(fx.workbook(fx.CIVIL))
        r = cli("data", "ingest", wb, "--received", "2020-01-09", *db)
        assert r.returncode == 0 and "已接收" in r.stdout, r.stdout + r.stderr
        r = cli("data", "backup", tmp_path / "b.duckdb", *db)
        assert r.returncode == 0, r.stderr
    finally:
        out = finish(app)
        finish(second)
    assert "opens" in out
    # the ingest made from the command line is in the database the app uses
    con = duckdb.connect(str(app_db), read_only=True)
    assert con.execute("SELECT count(*) FROM submissions WHERE unit = ?", [fx.CIVIL]).fetchone()[0] == 1
    con.close()


HOLD_WRITE = """
    import sys, time
    from data.store import manager
    m = manager({db!r}, wait=10)
    with m.writing() as cur:      # the app's current write
        cur.execute("INSERT INTO audit (action, detail) VALUES ('测试', '长写入')")
        print("ready", flush=True)
        time.sleep({hold})
    sys.stdin.readline()
"""


def test_a_cli_write_waits_for_the_apps_current_write_then_succeeds(app_db, tmp_path):
    csv = tmp_path / "u.csv"
    csv.write_text("单位名称,单位类型,附加必公开类别\n新设镇,乡镇,\n", encoding="utf-8")
    holder = spawn(HOLD_WRITE.format(db=str(app_db), hold=1.5))
    try:
        t = time.monotonic()
        r = cli("data", "units", "load", csv, "--db", app_db, env_extra={"GONGKAI_DB_WAIT": "20"})
        waited = time.monotonic() - t
    finally:
        finish(holder)
    assert r.returncode == 0, r.stderr
    assert waited >= 0.5  # it did wait for the write
    con = connect(app_db)
    assert con.execute("SELECT count(*) FROM units WHERE name = '新设镇'").fetchone()[0] == 1
    assert con.execute("SELECT count(*) FROM audit WHERE detail = '长写入'").fetchone()[0] == 1
    con.close()


def test_a_file_held_too_long_is_a_clear_busy_message_with_exit_2(app_db, tmp_path):
    holder = spawn(f"""
        import duckdb, sys
        con = duckdb.connect({str(app_db)!r})
        print("ready", flush=True)
        sys.stdin.readline()
    """)
    try:
        r = cli("metrics", "scorecard", "--year", 2019, "--csv", tmp_path / "s.csv", "--db", app_db,
                env_extra={"GONGKAI_DB_WAIT": "0.5"})
        r2 = cli("data", "backup", tmp_path / "b.duckdb", "--db", app_db, env_extra={"GONGKAI_DB_WAIT": "0.5"})
    finally:
        finish(holder)
    for x in (r, r2):
        assert x.returncode == 2
        assert "正被另一个程序" in x.stderr and "进程号" in x.stderr, x.stderr
        no_traceback(x)
    assert not (tmp_path / "b.duckdb").exists()


def test_busy_is_decided_by_who_holds_the_lock_not_by_the_error_text(tmp_path, monkeypatch):
    import data.db as dbmod

    p = tmp_path / "x.duckdb"
    connect(p).close()

    def fail(path, read_only):
        raise duckdb.IOException("IO Error: Could not set lock on file: Conflicting lock is held")

    monkeypatch.setattr(dbmod, "_connect_once", fail)
    with pytest.raises(DatabaseUnusable) as e:  # nobody holds it: not blamed on a lock
        connect(p, wait=0.2)
    assert "占用" not in str(e.value) and "另一个程序" not in str(e.value)


# ---------------------------------------------------------------- the app's connection manager

def test_the_manager_holds_the_file_only_while_an_action_runs(app_db):
    m = manager(app_db, wait=5)
    m.linger = 0
    with m.connection() as cur:
        assert cur.execute("SELECT count(*) FROM units").fetchone()[0] == 5
        r = cli("data", "backup", app_db.with_name("b.duckdb"), "--db", app_db, env_extra={"GONGKAI_DB_WAIT": "0.3"})
        assert r.returncode == 2  # held during the action
    assert not m.is_open
    r = cli("data", "backup", app_db.with_name("b.duckdb"), "--db", app_db, env_extra={"GONGKAI_DB_WAIT": "0.3"})
    assert r.returncode == 0, r.stderr  # and free after it


def test_a_page_run_releases_the_file_when_it_ends(app_db, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from dashboard.common import close_connections, get_database

    monkeypatch.setenv("GONGKAI_DB", str(app_db))
    close_connections()
    try:
        at = AppTest.from_file(str(APP), default_timeout=60)
        at.session_state["auth_user"] = fx.user("shenhe")
        at.session_state["year"] = 2019
        at.run()
        assert not at.exception
        m = get_database()
        deadline = time.monotonic() + 5
        while (m.active or m.is_open) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert m.active == 0 and not m.is_open
        # another process may now write
        r = cli("data", "units", "load", ROOT / "demo" / "fangzheng-units.csv", "--db", app_db,
                env_extra={"GONGKAI_DB_WAIT": "0.3"})
        assert r.returncode == 0, r.stderr
    finally:
        close_connections()


def test_file_removed_under_a_running_store_is_never_written_nor_recreated(app_db):
    m = manager(app_db, wait=1)
    m.linger = 0
    cur = m.lease()
    assert cur.execute("SELECT count(*) FROM units").fetchone()[0] == 5
    os.remove(app_db)
    with pytest.raises(DatabaseReplaced) as e:
        with m.writing() as w:
            w.execute("INSERT INTO audit (action) VALUES ('不该保存')")
    assert "已被删除或移走" in str(e.value)
    m.release(cur)
    with pytest.raises(DatabaseMissing):
        m.lease()
    assert not app_db.exists()  # not silently recreated empty


def test_file_replaced_under_a_running_store_stops_the_write_then_serves_the_new_file(app_db, tmp_path):
    other = fx.prepare(tmp_path / "other.duckdb")
    c = connect(other)
    c.execute("DELETE FROM units WHERE name = ?", [fx.ECO])
    c.close()
    m = manager(app_db, wait=1)
    m.linger = 0
    cur = m.lease()
    os.replace(other, app_db)
    with pytest.raises(DatabaseReplaced) as e:
        with m.writing() as w:
            w.execute("INSERT INTO audit (action) VALUES ('写入旧文件')")
    assert "已被替换" in str(e.value)
    m.release(cur)
    with m.connection() as cur:  # the next action reads the new file
        assert cur.execute("SELECT count(*) FROM units").fetchone()[0] == 4
        assert cur.execute("SELECT count(*) FROM audit WHERE action = '写入旧文件'").fetchone()[0] == 0


def test_app_shows_a_message_page_when_the_file_was_removed(app_db, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from dashboard.common import close_connections, get_database

    monkeypatch.setenv("GONGKAI_DB", str(app_db))
    close_connections()
    try:
        at = AppTest.from_file(str(APP), default_timeout=60)
        at.session_state["auth_user"] = fx.user("shenhe")
        at.session_state["year"] = 2019
        at.run()
        assert not at.exception
        get_database().close()
        os.remove(app_db)
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert any("不存在" in e.value and "不会自动新建" in e.value for e in at.error), [e.value for e in at.error]
        assert not app_db.exists()
    finally:
        close_connections()


# ---------------------------------------------------------------- foreign and damaged files

def _foreign_duckdb(path: Path) -> Path:
    c = duckdb.connect(str(path))
    c.execute("CREATE TABLE orders (id INTEGER)")
    c.close()
    return path


def _not_a_database(path: Path) -> Path:
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 4000)  # e.g. an .xlsx renamed
    return path


def _damaged(path: Path) -> Path:
    """A database of ours whose blocks after the headers are overwritten."""
    fx.prepare(path)
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.seek(12288)
        fh.write(b"\xa5" * (size - 12288))
    return path


@pytest.mark.parametrize("make, words", [(_not_a_database, "不是 DuckDB 数据库文件"),
                                         (_foreign_duckdb, "没有 schema_version 表"),
                                         (_damaged, "无法读取或已损坏")])
def test_foreign_or_damaged_file_in_the_cli_exit_2_and_never_blamed_on_a_lock(tmp_path, make, words):
    db = make(tmp_path / "x.duckdb")
    before = db.read_bytes()
    wb = tmp_path / "a.xlsx"
    wb.write_bytes(fx.workbook())
    for args in (("metrics", "scorecard", "--year", 2019, "--csv", tmp_path / "s.csv"),
                 ("metrics", "calendar", "status"),
                 ("data", "ingest", wb),
                 ("data", "backup", tmp_path / "b.duckdb")):
        r = cli(*args, "--db", db)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert words in r.stderr, (args, r.stderr)
        assert "占用" not in r.stderr and "另一个程序" not in r.stderr
        no_traceback(r)
    assert db.read_bytes() == before


@pytest.mark.parametrize("make, words", [(_not_a_database, "不是 DuckDB 数据库文件"),
                                         (_foreign_duckdb, "没有 schema_version 表")])
def test_foreign_file_in_the_app_is_a_message_page(tmp_path, monkeypatch, make, words):
    from streamlit.testing.v1 import AppTest

    from dashboard.common import close_connections

    db = make(tmp_path / "x.duckdb")
    monkeypatch.setenv("GONGKAI_DB", str(db))
    close_connections()
    try:
        for user in (None, "shenhe"):
            at = AppTest.from_file(str(APP), default_timeout=60)
            if user:
                at.session_state["auth_user"] = fx.user(user)
            at.run()
            assert not at.exception, [e.value for e in at.exception]
            assert any(words in e.value for e in at.error), [e.value for e in at.error]
            assert not any("占用" in e.value for e in at.error)
    finally:
        close_connections()


def test_a_newer_schema_is_refused(tmp_path):
    p = fx.prepare(tmp_path / "n.duckdb")
    c = duckdb.connect(str(p))
    c.execute("INSERT INTO schema_version VALUES (99)")
    c.close()
    with pytest.raises(DatabaseUnusable, match="比本程序认识的版本"):
        connect(p)


def _damaged_blocks(path: Path) -> Path:
    """Our schema; a big audit table whose data blocks (not the catalogue) are damaged."""
    c = connect(path)
    c.execute("INSERT INTO audit (action, detail) SELECT 'x', md5(range::VARCHAR) FROM range(300000)")
    c.close()
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        for off in range(3 * 262144, size - 262144, 262144 * 3):
            fh.seek(off + 100)
            fh.write(b"\x5a" * 64)
    return path


def test_a_write_into_damaged_blocks_does_not_report_success(tmp_path):
    p = _damaged_blocks(tmp_path / "d.duckdb")
    m = manager(p, wait=1)
    m.linger = 0
    # refused when saving, or already when opening for writing reads a damaged block (the calendar check)
    with pytest.raises(DatabaseUnusable, match="保存没有完成|已损坏"):
        with m.writing() as cur:
            cur.execute("UPDATE audit SET detail = 'y' WHERE id = 5")
            cur.execute("DELETE FROM audit WHERE id = 7")
    m.close()


# ---------------------------------------------------------------- backup and restore

WRITER = """
    import sys, time
    from data.store import connect
    print("ready", flush=True)
    n = 0
    t = time.monotonic()
    while time.monotonic() - t < {seconds}:
        con = connect({db!r}, wait=20)
        con.execute("INSERT INTO audit (action, detail) VALUES ('写入', ?)", [str(n)])
        con.close()
        n += 1
        time.sleep(0.01)
    print(n, flush=True)
    sys.stdin.readline()
"""


def test_backup_while_another_process_writes_is_consistent_and_verified(app_db, tmp_path):
    writer = spawn(WRITER.format(db=str(app_db), seconds=4))
    try:
        time.sleep(0.5)
        r = cli("data", "backup", tmp_path / "b.duckdb", "--db", app_db, env_extra={"GONGKAI_DB_WAIT": "20"})
    finally:
        n = int(finish(writer).split()[0])
    assert r.returncode == 0, r.stderr
    assert "已打开校验" in r.stdout
    b = duckdb.connect(str(tmp_path / "b.duckdb"), read_only=True)
    rows = [int(x) for (x,) in b.execute("SELECT detail FROM audit WHERE action = '写入' ORDER BY id").fetchall()]
    assert b.execute("SELECT count(*) FROM units").fetchone()[0] == 5
    b.close()
    assert 0 < len(rows) <= n and rows == list(range(len(rows)))  # a prefix of the writes: consistent


def test_backup_includes_committed_writes_still_in_the_log(app_db, tmp_path):
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        import os
        from data.store import connect
        con = connect({str(app_db)!r})
        con.execute("INSERT INTO audit (action, detail) VALUES ('未检查点', 'x')")
        os._exit(0)  # the app killed: the write is committed, only in the log
    """)], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert Path(f"{app_db}.wal").exists()
    plain = tmp_path / "cp.duckdb"
    plain.write_bytes(app_db.read_bytes())  # what `cp` of the file gives
    c = duckdb.connect(str(plain), read_only=True)
    assert c.execute("SELECT count(*) FROM audit WHERE action = '未检查点'").fetchone()[0] == 0
    c.close()
    r = cli("data", "backup", tmp_path / "b.duckdb", "--db", app_db)
    assert r.returncode == 0, r.stderr
    assert not Path(f"{tmp_path / 'b.duckdb'}.wal").exists()
    c = duckdb.connect(str(tmp_path / "b.duckdb"), read_only=True)
    assert c.execute("SELECT count(*) FROM audit WHERE action = '未检查点'").fetchone()[0] == 1
    c.close()


def test_backup_into_a_folder_names_the_copy_by_time(app_db, tmp_path):
    out = tmp_path / "backups"
    out.mkdir()
    r = cli("data", "backup", out, "--db", app_db)
    assert r.returncode == 0, r.stderr
    (copy,) = list(out.iterdir())
    assert copy.name.startswith("app-") and copy.suffix == ".duckdb"


@pytest.mark.parametrize("make", [_not_a_database, _foreign_duckdb, _damaged])
def test_restore_refuses_a_file_that_is_not_a_usable_database_of_ours(app_db, tmp_path, make):
    bad = make(tmp_path / "bad.duckdb")
    before = app_db.read_bytes()
    r = cli("data", "restore", bad, "--db", app_db)
    assert r.returncode == 1, r.stderr
    assert "未恢复" in r.stderr and "未作任何更改" in r.stderr
    no_traceback(r)
    assert app_db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("app.")) == ["app.duckdb"]


def test_restore_missing_file_is_a_usage_error(app_db, tmp_path):
    r = cli("data", "restore", tmp_path / "nope.duckdb", "--db", app_db)
    assert r.returncode == 2 and "不存在" in r.stderr
    no_traceback(r)


def test_restore_swaps_in_the_backup_and_keeps_the_replaced_database(app_db, tmp_path):
    r = cli("data", "backup", tmp_path / "b.duckdb", "--db", app_db)
    assert r.returncode == 0, r.stderr
    c = connect(app_db)
    c.execute("INSERT INTO audit (action) VALUES ('备份之后')")
    c.close()
    app = spawn(RUN_APP.format(app=str(APP)), GONGKAI_DB=str(app_db))  # the dashboard is running
    try:
        r = cli("data", "restore", tmp_path / "b.duckdb", "--db", app_db, env_extra={"GONGKAI_DB_WAIT": "20"})
    finally:
        finish(app)
    assert r.returncode == 0, r.stderr
    (kept,) = [p for p in tmp_path.iterdir() if p.name.startswith("app.replaced-")]
    assert kept.suffix == ".duckdb" and str(kept) in r.stdout
    c = duckdb.connect(str(app_db), read_only=True)
    assert c.execute("SELECT count(*) FROM audit WHERE action = '备份之后'").fetchone()[0] == 0
    c.close()
    c = duckdb.connect(str(kept), read_only=True)
    assert c.execute("SELECT count(*) FROM audit WHERE action = '备份之后'").fetchone()[0] == 1
    c.close()


def test_restore_waits_for_the_app_and_refuses_when_it_never_lets_go(app_db, tmp_path):
    b = tmp_path / "b.duckdb"
    assert cli("data", "backup", b, "--db", app_db).returncode == 0
    holder = spawn(f"""
        import duckdb, sys
        con = duckdb.connect({str(app_db)!r})
        print("ready", flush=True)
        sys.stdin.readline()
    """)
    try:
        r = cli("data", "restore", b, "--db", app_db, env_extra={"GONGKAI_DB_WAIT": "0.5"})
    finally:
        finish(holder)
    assert r.returncode == 2 and "正被另一个程序" in r.stderr
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("app.replaced-")]


def test_busy_error_type_for_the_manager(app_db):
    holder = spawn(f"""
        import duckdb, sys
        con = duckdb.connect({str(app_db)!r})
        print("ready", flush=True)
        sys.stdin.readline()
    """)
    try:
        m = manager(app_db, wait=0.3)
        with pytest.raises(DatabaseBusy):
            m.lease()
    finally:
        finish(holder)
