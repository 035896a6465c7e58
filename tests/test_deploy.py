"""The province deployment kit (deploy/): HAProxy's configuration, the shared cookie secret and the
database that ``make run-cluster`` prepares, and its refusals when something is missing."""
from __future__ import annotations

import os
import re
import stat
import subprocess

import pytest

from deploy import run_cluster as rc

CFG = rc.HAPROXY_CFG.read_text(encoding="utf-8")


def test_haproxy_config_is_valid():
    if rc.find_haproxy() is None:
        pytest.skip("haproxy is not installed (apt-get install haproxy)")
    r = subprocess.run([rc.find_haproxy(), "-c", "-f", str(rc.HAPROXY_CFG)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_haproxy_sticks_by_its_own_cookie_never_by_address_and_checks_streamlit_health():
    lines = [ln.split("#")[0].strip() for ln in CFG.splitlines()]
    assert "cookie SRV insert indirect nocache httponly" in lines
    assert not any(re.match(r"balance\s+source|stick\s+on\s+src|hash-type", ln) for ln in lines)
    assert "http-check send meth GET uri /_stcore/health" in lines
    servers = [ln for ln in lines if ln.startswith("server ")]
    assert len(servers) == 2 and all(re.search(r"\bcookie app\d\b", s) for s in servers)
    assert "timeout tunnel 1h" in lines  # a quiet websocket is not cut after the client timeout


def test_the_cookie_secret_is_made_once_and_private(tmp_path):
    first = rc.cookie_secret(tmp_path)
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert stat.S_IMODE(os.stat(tmp_path / "cookie_secret").st_mode) == 0o600
    assert rc.cookie_secret(tmp_path) == first


def test_the_database_is_created_once_in_byte_order(pg_server):
    import psycopg

    name = f"gongkai_deploy_{os.getpid()}"
    try:
        assert rc.ensure_database(pg_server.admin_url, name) is True
        assert rc.ensure_database(pg_server.admin_url, name) is False
        with psycopg.connect(pg_server.admin_url) as c:
            assert c.execute("SELECT pg_encoding_to_char(encoding), datcollate FROM pg_database WHERE datname = %s",
                             (name,)).fetchone() == ("UTF8", "C")
    finally:
        pg_server.drop_database(name)


def test_without_haproxy_it_says_how_to_install_it_and_starts_nothing(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(rc, "find_haproxy", lambda: None)
    assert rc.main(["--dir", str(tmp_path / "c")]) == rc.EXIT_FAILED
    assert "apt-get install haproxy" in capsys.readouterr().out
    assert not (tmp_path / "c").exists()


def test_without_the_postgresql_backend_it_says_so(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(rc, "find_haproxy", lambda: "/usr/sbin/haproxy")
    monkeypatch.setattr(rc, "backend_supports_postgresql", lambda: False)
    assert rc.main(["--dir", str(tmp_path / "c")]) == rc.EXIT_FAILED
    assert "不支持 PostgreSQL" in capsys.readouterr().out
