"""data/pg.py: the DuckDB dialect spoken to PostgreSQL, and two servers (replicas) on one database.

Each ``connect(url)`` below has its own DuckDB copy, as a separate dashboard process would:
what one writes, the other reads at its next statement; a sign-in made on one is
accepted by the other; two reviewers on two servers cannot both act on the same screen.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import duckdb
import pytest

from data import pg
from data import review as rv
from data import sessions
from data.access import SYSTEM
from data.ingest import ingest_bytes
from data.registry import load_units, parse_registry
from data.store import connect, manager
from data.users import create_user
from metrics.engine import score_year
from tests.conftest import REGISTRY_TEXT
from tests.wbfactory import UNIT, build, valid_sheets

RECEIVED = dt.date(2020, 1, 8)


# --------------------------------------------------------------------------- the dialect

@pytest.mark.parametrize("sql, params, want, want_params", [
    ("SELECT * FROM t WHERE a = ? AND b = ?", [1, 2], "SELECT * FROM t WHERE a = %s AND b = %s", [1, 2]),
    # a ? or % inside a string is text, not a parameter; % is doubled for psycopg
    ("SELECT '?%' || a FROM t WHERE a LIKE '%x' AND b = ?", [1],
     "SELECT '?%%' || a FROM t WHERE a LIKE '%%x' AND b = %s", [1]),
    # DuckDB's $1 may be used twice: named parameters
    ("SELECT $1, $2, $1", ["u", 2019], "SELECT %(p1)s, %(p2)s, %(p1)s", {"p1": "u", "p2": 2019}),
    ("SELECT * FROM t WHERE unit = $u AND year = $y", {"u": "x", "y": 1},
     "SELECT * FROM t WHERE unit = %(u)s AND year = %(y)s", {"u": "x", "y": 1}),
    # comments are dropped (a quote in a comment is not a string)
    ("SELECT 1 -- the unit's row\n, ?", [5], "SELECT 1 \n, %s", [5]),
    # no parameters: the statement as it is (several statements allowed)
    ("SELECT 1; SELECT '%'", None, "SELECT 1; SELECT '%'", None),
])
def test_placeholders_and_strings(sql, params, want, want_params):
    assert pg.translate(sql, params) == (want, want_params)


def test_schema_types_become_postgresqls():
    q, _ = pg.translate("CREATE TABLE x (a BLOB NOT NULL, b DOUBLE, c DOUBLE PRECISION, d VARCHAR[] NOT NULL DEFAULT [])")
    assert q == ("CREATE TABLE x (a BYTEA NOT NULL, b DOUBLE PRECISION, c DOUBLE PRECISION, "
                 "d VARCHAR[] NOT NULL DEFAULT '{}')")
    assert pg.translate("SELECT ''::BLOB", None)[0] == "SELECT ''::BYTEA"
    assert pg.translate("SELECT 'a BLOB'", None)[0] == "SELECT 'a BLOB'"  # text is left alone


def test_url_detection_and_password_never_shown():
    assert pg.is_url("postgresql://u:secret@h:5432/db") and pg.is_url("postgres://h/db")
    assert not pg.is_url("var/gongkai.duckdb") and not pg.is_url(None)
    assert pg.redact("postgresql://u:secret@h:5432/db") == "postgresql://u:***@h:5432/db"


# --------------------------------------------------------------------------- one database, two servers

def wb(unit: str = UNIT, reporter: str = "张三") -> bytes:
    return build(valid_sheets(unit=unit, reporter=reporter))


@pytest.fixture
def pair(migrated_pg_url):
    """Two connections with their own DuckDB copies (two dashboard processes) on one database."""
    pg_url = migrated_pg_url
    a = connect(pg_url)
    load_units(a, parse_registry(REGISTRY_TEXT), actor=SYSTEM)
    create_user(a, "shenhe", "reviewer", "shenhe123", actor=SYSTEM)
    create_user(a, "fuhe", "reviewer", "fuhe12345", actor=SYSTEM)
    b = connect(pg_url)
    assert a.mirror is not b.mirror
    yield a, b
    a.close()
    b.close()


def test_what_one_server_writes_the_other_reads_at_once(pair):
    a, b = pair
    assert b.execute("SELECT count(*) FROM submissions").fetchone() == (0,)
    r = ingest_bytes(a, "审计局.xlsx", wb(), received=RECEIVED, actor="shenhe")
    assert r.outcome == "accepted"
    assert b.execute("SELECT unit, version FROM submissions").fetchall() == [(UNIT, 1)]
    # the raw file bytes are on the server (bytea) with their SHA-256, read back exactly
    content, sha = b.execute("SELECT content, sha256 FROM submissions WHERE id = ?", [r.submission_id]).fetchone()
    assert bytes(content) == wb() and sha == r.sha256
    # the scoring engine (DuckDB SQL) runs on the other server's copy
    card = score_year(b, 2019, unit=UNIT)
    assert card.loc[0, "status"] == "待审核" and card.loc[0, "total"] is not None


def test_a_reviewers_save_on_one_server_moves_the_score_on_the_other(pair):
    a, b = pair
    r = ingest_bytes(a, "审计局.xlsx", wb(), received=RECEIVED)
    before = score_year(b, 2019, unit=UNIT).loc[0, "total"]
    rv.set_review_score(a, r.submission_id, "A1", "1", "材料不全", "shenhe", seen=rv.snapshot(a, UNIT, 2019))
    after = score_year(b, 2019, unit=UNIT).loc[0, "total"]
    assert Decimal(str(before)) - Decimal(str(after)) > 0


def test_a_sign_in_on_one_server_is_accepted_by_the_other(pair):
    a, b = pair
    sid, token = sessions.start_session(a, "shenhe")
    user, resumed = sessions.resume(b, token)
    assert resumed == sid and user["name"] == "shenhe" and user["role"] == "reviewer"
    # signing out on one server ends the session on the other
    sessions.end_session(a, sid, "退出登录")
    assert sessions.resume(b, token) == (None, None)


def test_two_reviewers_on_two_servers_cannot_both_act_on_one_screen(pair):
    a, b = pair
    r = ingest_bytes(a, "审计局.xlsx", wb(), received=RECEIVED)
    seen = rv.snapshot(b, UNIT, 2019)       # both screens show the same version and counter
    assert rv.snapshot(a, UNIT, 2019) == seen
    rv.set_review_score(a, r.submission_id, "A1", "1", "材料不全", "shenhe", seen=seen)
    with pytest.raises(rv.StaleReview):
        rv.set_review_score(b, r.submission_id, "A1", "2", "另一个意见", "fuhe", seen=seen)
    assert b.execute("SELECT score, reviewer FROM review_scores").fetchall() == [(Decimal("1.00"), "shenhe")]


def test_a_copy_rereads_only_the_tables_that_changed(pair):
    a, b = pair
    ingest_bytes(a, "审计局.xlsx", wb(), received=RECEIVED)
    b.execute("SELECT 1 FROM units").fetchall()
    seen = dict(b.mirror.table_versions)
    a.execute("UPDATE users SET active = false WHERE name = 'fuhe'")
    assert b.execute("SELECT active FROM users WHERE name = 'fuhe'").fetchone() == (False,)
    now = b.mirror.table_versions
    assert [t for t in now if now[t] != seen.get(t)] == ["users"]


def test_rows_added_to_a_submission_a_copy_already_holds_are_found(pair):
    """Append-only tables are fetched by new submission; a later change to one a copy holds
    (never in normal use: tests, repairs) makes every copy re-read them whole."""
    a, b = pair
    r = ingest_bytes(a, "审计局.xlsx", wb(), received=RECEIVED)
    n = b.execute("SELECT count(*) FROM ledger_items").fetchone()[0]
    a.execute("INSERT INTO ledger_items (submission_id, sheet_row, title, category, formed) VALUES (?, 99, 'x', 'C01', ?)",
              [r.submission_id, dt.date(2019, 5, 6)])
    assert b.execute("SELECT count(*) FROM ledger_items").fetchone()[0] == n + 1
    a.execute("DELETE FROM ledger_items WHERE sheet_row = 99")
    assert b.execute("SELECT count(*) FROM ledger_items").fetchone()[0] == n


def test_errors_are_raised_as_duckdbs_and_a_failed_transaction_changes_nothing(pair):
    a, b = pair
    with pytest.raises(duckdb.ConstraintException):
        a.execute("INSERT INTO users (name, role, password_hash) VALUES ('shenhe', 'admin', 'x')")
    with pytest.raises(duckdb.CatalogException):
        a.execute("INSERT INTO no_such_table VALUES (1)")
    a.execute("BEGIN TRANSACTION")
    a.execute("INSERT INTO meta (key, value) VALUES ('k', 'v')")
    with pytest.raises(duckdb.ConstraintException):
        a.execute("INSERT INTO meta (key, value) VALUES ('k', 'w')")
    a.execute("ROLLBACK")
    assert b.execute("SELECT count(*) FROM meta WHERE key = 'k'").fetchone() == (0,)
    with pytest.raises(duckdb.TransactionException):
        a.execute("COMMIT")  # as DuckDB: no transaction is open


def test_the_dashboards_manager_on_postgresql(pg_url):
    """The connection manager the dashboard keeps: the cache key moves with every write,
    from any server; the store stays open between actions."""
    m1, m2 = manager(pg_url), manager(pg_url)
    try:
        with m1.connection() as c:
            load_units(c, parse_registry(REGISTRY_TEXT), actor=SYSTEM)
        v = m2.version()
        with m1.writing() as c:
            c.execute("INSERT INTO meta (key, value) VALUES ('x', '1')")
        assert m2.version() != v
        with m2.connection() as c:
            assert c.execute("SELECT value FROM meta WHERE key = 'x'").fetchone() == ("1",)
        assert m1.is_open and m1.backend == "postgres"
    finally:
        m1.close()
        m2.close()


def test_a_server_that_cannot_be_reached_is_a_clear_chinese_error():
    from data.store import DatabaseUnusable

    with pytest.raises(DatabaseUnusable, match="无法连接 PostgreSQL 数据库") as e:
        connect("postgresql://nobody:secret@127.0.0.1:1/none")
    assert "secret" not in str(e.value)


def test_backup_and_restore_of_a_server_database_point_to_its_own_tools(pg_url, tmp_path):
    from data.backup import BackupRefused, backup, restore

    with pytest.raises(BackupRefused, match="pg_dump"):
        backup(pg_url, tmp_path)
    with pytest.raises(BackupRefused, match="pg_restore"):
        restore(pg_url, tmp_path / "x.duckdb")


def test_the_demo_county_is_never_written_into_a_real_postgresql_database(pair, migrated_pg_url):
    """A database with data and no demo mark is refused, with or without --reset, and stays as it was."""
    from demo.database import DemoRefused, create_demo_database

    a, _b = pair
    before = a.execute("SELECT count(*) FROM units").fetchone()[0]
    for options in ({}, {"reset": True}, {"if_missing": True}):
        with pytest.raises(DemoRefused, match="不是演示数据库"):
            create_demo_database(migrated_pg_url, **options)
    assert a.execute("SELECT count(*) FROM units").fetchone()[0] == before > 0
    assert a.execute("SELECT count(*) FROM meta WHERE key = 'demo'").fetchone() == (0,)
