"""data/pg.py's Listener: a replica's DuckDB copy follows the writes of another replica
in the background (LISTEN/NOTIFY, a backstop poll), survives a lost connection and stops
with its store; never started for the DuckDB file or a command's connection."""
import os
import subprocess
import sys
import threading
import time

import pytest

from data import pg
from data.store import connect, manager, pg_store

THREAD = "gongkai-pg-listener"


def listeners() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD]


def wait_for(cond, seconds: float = 10.0) -> float | None:
    """Seconds until ``cond()`` held (polled every 5 ms), None if it did not within ``seconds``."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        if cond():
            return time.monotonic() - t0
        time.sleep(0.005)
    return None


def in_copy(store, key: str):
    """The value of ``meta`` ``key`` in the store's DuckDB copy, read directly (no version check, no refresh)."""
    cur = store.mirror.cursor()
    try:
        row = cur.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
    finally:
        cur.close()
    return None if row is None else row[0]


def put(store, key: str, value: str) -> None:
    """One write through ``store`` (committed, announced), as a page's save."""
    con = store.cursor()
    try:
        con.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    [key, value])
    finally:
        con.close()


@pytest.fixture
def replicas(migrated_pg_url, monkeypatch):
    """A (writes, no listener) and B (listens); B's backstop poll is pushed out of the tests'
    way, so that what B sees within the tests' time came by notification."""
    monkeypatch.setattr(pg, "BACKSTOP_SECONDS", 60.0)
    a = pg_store(migrated_pg_url)
    b = pg_store(migrated_pg_url, listen=True)
    try:
        assert a.listener is None and b.listener is not None
        assert b.listener.listening.wait(5)
        # the first catch-up (the whole copy) is done in the background too
        assert wait_for(lambda: b.mirror.version >= (0, 0), 10) is not None
        yield a, b
    finally:
        a.close()
        b.close()


def test_a_write_on_one_replica_reaches_the_others_copy_without_any_read_there(replicas):
    a, b = replicas
    syncs = b.mirror.syncs
    put(a, "listen_a", "甲")
    assert wait_for(lambda: in_copy(b, "listen_a") == "甲") is not None
    # by the listener (no read on B; its backstop poll is pushed out): one refresh, or two when a
    # refresh was already under way as the write committed
    assert syncs + 1 <= b.mirror.syncs <= syncs + 2 and b.listener.refreshes >= 1 and b.listener.notices >= 1
    # a change of the same row arrives too; the copy's version is the database's
    put(a, "listen_a", "乙")
    assert wait_for(lambda: in_copy(b, "listen_a") == "乙") is not None
    assert wait_for(lambda: b.mirror.version == b.data_version()) is not None


def test_a_burst_of_writes_is_caught_up_by_few_refreshes(replicas, monkeypatch):
    a, b = replicas
    b.listener.gap = 0.5
    notices, refreshes = b.listener.notices, b.listener.refreshes
    t0 = time.monotonic()
    for i in range(20):   # 20 saves over about a third of a second
        put(a, f"burst_{i:02d}", str(i))
        time.sleep(0.015)
    took = time.monotonic() - t0
    assert wait_for(lambda: in_copy(b, "burst_19") == "19", 10) is not None
    assert all(in_copy(b, f"burst_{i:02d}") == str(i) for i in range(20))
    assert wait_for(lambda: b.listener.notices >= notices + 20) is not None
    # the first announcement at once, the others within each half second after a refresh: one more each
    assert b.listener.refreshes - refreshes <= 2 + int(took / 0.5)


def test_the_listener_reconnects_when_its_connection_is_ended(replicas, migrated_pg_url, caplog):
    import psycopg

    a, b = replicas
    pid = b.listener.backend_pid
    assert pid is not None
    with psycopg.connect(migrated_pg_url, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone() == (True,)
    assert wait_for(lambda: b.listener.connects == 2 and b.listener.listening.is_set(), 10) is not None
    assert b.listener.backend_pid not in (None, pid)
    assert "reconnecting" in caplog.text
    put(a, "after_reconnect", "丙")
    assert wait_for(lambda: in_copy(b, "after_reconnect") == "丙") is not None


def test_the_backstop_poll_finds_a_write_nobody_announced(migrated_pg_url, monkeypatch):
    import psycopg

    monkeypatch.setattr(pg, "BACKSTOP_SECONDS", 0.3)
    b = pg_store(migrated_pg_url, listen=True)
    try:
        assert wait_for(lambda: b.mirror.version >= (0, 0), 10) is not None
        with psycopg.connect(migrated_pg_url, autocommit=True) as other:  # a write without NOTIFY
            other.execute("INSERT INTO meta (key, value) VALUES ('silent', '丁')")
            other.execute(f"SELECT nextval('{pg.table_seq('meta')}'), nextval('{pg.VERSION_SEQ}')")
        assert wait_for(lambda: in_copy(b, "silent") == "丁", 10) is not None
    finally:
        b.close()


def test_closing_the_store_ends_the_listener_within_a_second(migrated_pg_url):
    before = len(listeners())
    b = pg_store(migrated_pg_url, listen=True)
    assert b.listener.listening.wait(5) and len(listeners()) == before + 1
    assert wait_for(lambda: b.mirror.version >= (0, 0), 10) is not None
    t0 = time.monotonic()
    b.close()
    assert time.monotonic() - t0 < 1.0
    assert not b.listener.alive and len(listeners()) == before


def test_a_dashboard_manager_listens_a_command_and_the_duckdb_file_do_not(migrated_pg_url, tmp_path,
                                                                         monkeypatch):
    monkeypatch.delenv("GONGKAI_PG_LISTEN", raising=False)
    before = len(listeners())
    con = connect(migrated_pg_url)            # a command's connection: reads the version before each read
    try:
        con.execute("SELECT count(*) FROM units").fetchall()
        assert len(listeners()) == before
    finally:
        con.close()
    m = manager(tmp_path / "t.duckdb")        # the file: one process, nothing to listen to
    try:
        with m.connection() as c:
            c.execute("SELECT count(*) FROM units").fetchall()
        assert len(listeners()) == before
    finally:
        m.close()
    assert len(listeners()) == before
    m = manager(migrated_pg_url)              # the dashboard's manager on PostgreSQL: listens by default
    try:
        with m.connection() as c:
            c.execute("SELECT count(*) FROM units").fetchall()
        assert len(listeners()) == before + 1
        assert all(t.daemon for t in listeners())
    finally:
        m.close()
    assert len(listeners()) == before         # stopped with its manager


@pytest.mark.parametrize("value,listens", [("0", False), ("off", False), ("False", False), ("no", False),
                                           ("1", True), ("", True), ("yes", True)])
def test_gongkai_pg_listen_switches_the_listener(migrated_pg_url, monkeypatch, value, listens):
    monkeypatch.setenv("GONGKAI_PG_LISTEN", value)
    before = len(listeners())
    m = manager(migrated_pg_url)
    try:
        with m.connection() as c:
            c.execute("SELECT count(*) FROM units").fetchall()
        assert len(listeners()) == before + listens
    finally:
        m.close()
    assert len(listeners()) == before


def _server_connections(url: str) -> int:
    """Connections of other sessions to the database of ``url`` (read by a connection of its own)."""
    c = pg.PgConnection(url)
    try:
        return c.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                         "AND pid <> pg_backend_pid()").fetchone()[0]
    finally:
        c.close()


def test_a_process_that_never_closes_its_manager_exits_at_once_and_leaves_no_connection(migrated_pg_url):
    """A server stopped without closing its store: the listener (a daemon thread) is stopped
    before the interpreter shuts down, its connection and the pool's are gone with the process."""
    script = ("import sys, threading\n"
              "from data.store import manager\n"
              "m = manager(sys.argv[1])\n"
              "with m.connection() as c:\n"
              "    c.execute('SELECT count(*) FROM units').fetchall()\n"
              "assert [t for t in threading.enumerate() if t.name == 'gongkai-pg-listener']\n"
              "print('ready', flush=True)\n")
    env = {k: v for k, v in os.environ.items() if k != "GONGKAI_PG_LISTEN"}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-c", script, migrated_pg_url], cwd=root, env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and "ready" in r.stdout, r.stderr
    assert "Traceback" not in r.stderr and "Fatal" not in r.stderr, r.stderr
    assert time.monotonic() - t0 < 30
    assert wait_for(lambda: _server_connections(migrated_pg_url) == 0, 10) is not None
