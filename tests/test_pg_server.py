"""The tests' private PostgreSQL server (tests/pg_server.py): reachable with psycopg and with
ADBC (the two drivers the PostgreSQL backend uses), and a fresh empty database per test."""
from __future__ import annotations

import pytest

from tests.pg_server import PgServer, unavailable, with_database

USER_TABLES = "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"


def test_psycopg_reads_and_writes(pg_url):
    import psycopg

    with psycopg.connect(pg_url) as c:
        c.execute("CREATE TABLE t (unit text PRIMARY KEY, n integer NOT NULL)")
        c.execute("INSERT INTO t VALUES (%s, %s), (%s, %s)", ("方正镇", 2, "会发镇", 3))
        c.commit()
        assert c.execute("SELECT sum(n), string_agg(unit, '、' ORDER BY unit) FROM t").fetchone() == (5, "会发镇、方正镇")
        assert c.execute("SHOW server_encoding").fetchone() == ("UTF8",)


def test_adbc_fetches_arrow_tables(pg_url):
    import adbc_driver_postgresql.dbapi as adbc

    with adbc.connect(pg_url) as c, c.cursor() as cur:
        cur.execute("SELECT g AS n, 'unit' || g AS unit FROM generate_series(1, 1000) g")
        table = cur.fetch_arrow_table()
    assert table.num_rows == 1000
    assert table.column_names == ["n", "unit"]
    assert sum(table.column("n").to_pylist()) == 500500
    assert table.column("unit")[999].as_py() == "unit1000"


def test_each_test_database_is_new_and_empty(pg_server):
    import psycopg

    (a, url_a), (b, url_b) = pg_server.create_database(), pg_server.create_database()
    try:
        assert a != b and url_a != url_b
        with psycopg.connect(url_a, autocommit=True) as c:
            assert c.execute("SELECT current_database()").fetchone() == (a,)
            assert c.execute(USER_TABLES).fetchone() == (0,)
            c.execute("CREATE TABLE only_in_a (x int)")
        with psycopg.connect(url_b, autocommit=True) as c:
            assert c.execute("SELECT current_database()").fetchone() == (b,)
            assert c.execute(USER_TABLES).fetchone() == (0,)
    finally:
        pg_server.drop_database(a)
        pg_server.drop_database(b)
    names = {r[0] for r in pg_server.execute("SELECT datname FROM pg_database").fetchall()}
    assert a not in names and b not in names


def test_a_dropped_database_goes_even_with_a_connection_left_open(pg_server):
    import psycopg

    name, url = pg_server.create_database()
    left_open = psycopg.connect(url)
    try:
        pg_server.drop_database(name)
        assert pg_server.execute(f"SELECT count(*) FROM pg_database WHERE datname = '{name}'").fetchone() == (0,)
    finally:
        left_open.close()


def test_with_database_replaces_only_the_database():
    assert with_database("postgresql://u@127.0.0.1:5433/postgres?sslmode=disable", "x") == \
        "postgresql://u@127.0.0.1:5433/x?sslmode=disable"
    assert with_database("postgresql://u:pw@db:5432", "y") == "postgresql://u:pw@db:5432/y"


def test_no_server_skips_locally_and_fails_under_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no PostgreSQL server for the tests: because"):
        unavailable("because")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no PostgreSQL server for the tests: because"):
        unavailable("because")


def test_an_unreachable_server_url_is_reported(monkeypatch):
    import psycopg

    server = PgServer("postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(psycopg.OperationalError):
        server.execute("SELECT 1")


def test_a_database_can_start_as_a_copy_of_a_template(pg_server):
    import psycopg

    tmpl, url = pg_server.create_database()
    try:
        with psycopg.connect(url, autocommit=True) as c:
            c.execute("CREATE TABLE schema_version (version int)")
            c.execute("INSERT INTO schema_version VALUES (7)")
        name, copy_url = pg_server.create_database(template=tmpl)
        try:
            with psycopg.connect(copy_url) as c:
                assert c.execute("SELECT version FROM schema_version").fetchall() == [(7,)]
        finally:
            pg_server.drop_database(name)
    finally:
        pg_server.drop_database(tmpl)


def test_missing_server_programs_are_named_with_the_install_command(monkeypatch):
    import deploy.pgcluster as pgc

    monkeypatch.setattr(pgc.shutil, "which", lambda name: None)
    monkeypatch.setattr(pgc.glob, "glob", lambda pattern: [])
    with pytest.raises(pgc.ClusterUnavailable, match="apt-get install postgresql"):
        pgc.find_programs()


def test_the_newest_installed_version_is_chosen(monkeypatch, tmp_path):
    import deploy.pgcluster as pgc

    for v in ("9.6", "15", "13"):
        (tmp_path / v / "bin").mkdir(parents=True)
        for prog in ("initdb", "pg_ctl"):
            (tmp_path / v / "bin" / prog).touch()
    monkeypatch.setattr(pgc.shutil, "which", lambda name: None)
    monkeypatch.setattr(pgc.glob, "glob", lambda pattern: [str(tmp_path / v / "bin") for v in ("9.6", "15", "13")])
    assert pgc.find_programs() == (tmp_path / "15" / "bin" / "initdb", tmp_path / "15" / "bin" / "pg_ctl")


def test_as_root_the_server_programs_run_as_the_postgres_user(monkeypatch):
    import deploy.pgcluster as pgc

    monkeypatch.setattr(pgc, "is_root", lambda: False)
    assert pgc.as_server_user(["initdb", "-D", "d"]) == ["initdb", "-D", "d"]
    monkeypatch.setattr(pgc, "is_root", lambda: True)
    monkeypatch.setattr(pgc.shutil, "which", lambda name: None)  # no runuser: su
    try:
        cmd = pgc.as_server_user(["initdb", "-D", "a dir"])
    except pgc.ClusterUnavailable as e:  # a machine without the postgres user
        assert "no 'postgres' OS user" in str(e)
    else:
        assert cmd == ["su", "postgres", "-s", "/bin/sh", "-c", "initdb -D 'a dir'"]


def test_a_killed_session_leaves_no_server_behind(pg_server, tmp_path):
    """SIGKILL runs no atexit: the watchdog stops the server and removes its directory."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.pg_server import ROOT

    child = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom tests.pg_server import start_private_server\n"
                              "s = start_private_server()\nprint(s.tmp, flush=True)\ntime.sleep(600)"],
                             cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        tmp = child.stdout.readline().strip()
        assert tmp and os.path.isdir(tmp)
        pid_file = os.path.join(tmp, "data", "postmaster.pid")
        postmaster = int(open(pid_file).readline())
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and os.path.exists(tmp):
        time.sleep(0.2)
    assert not os.path.exists(tmp)
    try:  # gone, or a zombie that nobody reaped (its parent is init, which may not reap in a container)
        with open(f"/proc/{postmaster}/stat") as f:
            assert f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        pass
