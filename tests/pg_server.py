"""A private PostgreSQL server for the tests, and the fixtures ``pg_server`` and ``pg_url``.

``pg_server`` (one per test session) is the server named by ``GONGKAI_TEST_PG``
(a ``postgresql://`` URL of an existing server whose user may create databases)
when that is set; else a throw-away cluster made with ``initdb`` in a temporary
directory and started with ``pg_ctl`` on a free port of 127.0.0.1, its unix
socket in the same directory, without fsync (tests only). It is stopped and its
directory removed at the end of the session, also when the session is
interrupted (atexit).

``pg_url`` gives each test a fresh, empty database (dropped afterwards).

Where no server can be had the tests that need one are skipped with the reason;
under ``CI=true`` they fail instead (CI installs PostgreSQL, see .ci/run).
"""
from __future__ import annotations

import atexit
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from deploy.pgcluster import Cluster, ClusterUnavailable, free_port, hand_to_server_user

ENV_URL = "GONGKAI_TEST_PG"
#: the project's root (the tests run from it)
ROOT = Path(__file__).resolve().parent.parent


def with_database(url: str, name: str) -> str:
    """``url`` with its database replaced by ``name``."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


class PgServer:
    """A running server and an autocommit admin connection that creates and drops databases."""

    def __init__(self, admin_url: str, cluster: Cluster | None = None, tmp: Path | None = None):
        self.admin_url, self.cluster, self.tmp = admin_url, cluster, tmp
        self.startup_seconds = 0.0
        self._names = itertools.count(1)
        self._admin = None
        self._lifeline: int | None = None  # write end of the watchdog's pipe

    def _connection(self):
        import psycopg

        if self._admin is None or self._admin.closed:
            self._admin = psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10)
        return self._admin

    def execute(self, sql: str):
        return self._connection().execute(sql)

    def create_database(self, template: str | None = None) -> tuple[str, str]:
        """(name, URL) of a new database with a name unique to this process: empty, or a copy of
        the database ``template`` (which nobody may be connected to meanwhile)."""
        name = f"gongkai_test_{os.getpid()}_{next(self._names)}"
        # FILE_COPY: a third faster than the default WAL_LOG here (its checkpoint is cheap without fsync)
        tmpl = f' TEMPLATE "{template}"' if template else ""
        self.execute(f'CREATE DATABASE "{name}"{tmpl} STRATEGY FILE_COPY')
        return name, with_database(self.admin_url, name)

    def drop_database(self, name: str) -> None:
        # FORCE: connections a test left open are ended rather than blocking the drop
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        """Close the admin connection; stop a private cluster and remove its directory (idempotent)."""
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        if self.cluster is not None:
            try:
                self.cluster.stop()
            finally:
                self.cluster = None
                if self.tmp is not None:
                    shutil.rmtree(self.tmp, ignore_errors=True)
        if self._lifeline is not None:
            os.close(self._lifeline)  # the watchdog finds nothing left to do and ends
            self._lifeline = None


#: run by the watchdog: wait for end of file on standard input (the session holding the pipe's
#: other end is gone, however it ended), then stop the server and remove its directory
_WATCHDOG = """
import json, shutil, subprocess, sys
stop, tmp = json.loads(sys.argv[1]), sys.argv[2]
sys.stdin.buffer.read()
subprocess.run(stop, capture_output=True, cwd="/", timeout=60)
shutil.rmtree(tmp, ignore_errors=True)
"""


def _start_watchdog(server: PgServer, cluster: Cluster, tmp: Path) -> None:
    r, w = os.pipe()  # not inherited by other children (close_fds)
    try:
        subprocess.Popen([sys.executable, "-c", _WATCHDOG, json.dumps(cluster.stop_command()), str(tmp)], stdin=r,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/", start_new_session=True)
    except BaseException:
        os.close(w)
        raise
    finally:
        os.close(r)
    server._lifeline = w


def _temp_dir() -> Path:
    tmp = Path(tempfile.mkdtemp(prefix="gongkai-pg-"))
    try:
        hand_to_server_user(tmp)  # root: the server runs as the postgres user
        return tmp
    except ClusterUnavailable:
        shutil.rmtree(tmp, ignore_errors=True)
        if tempfile.gettempdir() == "/tmp":
            raise
    tmp = Path(tempfile.mkdtemp(prefix="gongkai-pg-", dir="/tmp"))  # TMPDIR closed to the postgres user
    try:
        hand_to_server_user(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tmp


def start_private_server(attempts: int = 3) -> PgServer:
    """initdb + pg_ctl start in a new temporary directory; raises :class:`ClusterUnavailable`."""
    t0 = time.perf_counter()
    tmp = _temp_dir()
    server = PgServer("", tmp=tmp)
    atexit.register(server.stop)
    try:
        cluster = server.cluster = Cluster(tmp / "data", free_port(), socket_dir=tmp, fast=True)
        _start_watchdog(server, cluster, tmp)
        cluster.init()
        for attempt in range(attempts):
            try:
                cluster.start()
                break
            except ClusterUnavailable:
                if attempt == attempts - 1:
                    raise
                cluster.port = free_port()  # the port was taken between the probe and the start
    except BaseException:
        server.stop()
        raise
    server.admin_url = cluster.url()
    server.startup_seconds = time.perf_counter() - t0
    return server


def unavailable(reason: str):
    """Skip (locally) or fail (under CI=true) for want of a PostgreSQL server."""
    msg = f"no PostgreSQL server for the tests: {reason}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(msg, pytrace=False)
    pytest.skip(msg)


@pytest.fixture(scope="session")
def pg_server():
    import psycopg

    url = os.environ.get(ENV_URL)
    if url:
        server = PgServer(url)
        try:
            server.execute("SELECT 1")
        except psycopg.Error as e:
            unavailable(f"{ENV_URL} cannot be reached: {str(e).strip().splitlines()[0]}")
    else:
        try:
            server = start_private_server()
        except ClusterUnavailable as e:
            unavailable(str(e))
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server):
    name, url = pg_server.create_database()
    yield url
    pg_server.drop_database(name)
