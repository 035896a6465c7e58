"""The DuckDB store: connection, schema and its migrations.

The database is an embedded DuckDB file: ``--db PATH``, else the environment
variable ``GONGKAI_DB``, else ``var/gongkai.duckdb`` under the project.
The schema is created and migrated by :func:`migrate` (table ``schema_version``).
"""
from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path

import duckdb

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DB = PROJECT_DIR / "var" / "gongkai.duckdb"


def db_path(path: str | os.PathLike | None = None) -> Path:
    if path:
        return Path(path)
    env = os.environ.get("GONGKAI_DB")
    return Path(env) if env else DEFAULT_DB


MIGRATIONS: list[str] = [
    # 1: initial schema
    """
    CREATE TABLE units (
        name VARCHAR PRIMARY KEY,
        unit_type VARCHAR NOT NULL,
        extra_categories VARCHAR[] NOT NULL DEFAULT [],   -- category codes
        sort_order INTEGER NOT NULL DEFAULT 0
    );
    CREATE SEQUENCE submission_id_seq START 1;
    CREATE TABLE submissions (
        id INTEGER PRIMARY KEY DEFAULT nextval('submission_id_seq'),
        unit VARCHAR NOT NULL,
        year INTEGER NOT NULL,
        version INTEGER NOT NULL,
        received DATE NOT NULL,            -- 收到日期 (upload day or batch date)
        uploaded_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
        uploaded_by VARCHAR,
        file_name VARCHAR NOT NULL,
        sha256 VARCHAR NOT NULL,
        content BLOB NOT NULL,             -- original file bytes
        reporter VARCHAR,                  -- 填报人
        phone VARCHAR,                     -- 联系电话
        report_date DATE,                  -- 填报日期
        warnings JSON,                     -- warnings of the accepted file
        UNIQUE (unit, year, version)
    );
    -- workflow state of a unit's submission for a year
    CREATE TABLE workflow (
        unit VARCHAR NOT NULL,
        year INTEGER NOT NULL,
        status VARCHAR NOT NULL,           -- 待审核 / 已退回 / 已审核
        comment VARCHAR,                   -- reviewer comment the unit sees
        updated_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
        updated_by VARCHAR,
        PRIMARY KEY (unit, year)
    );
    CREATE TABLE self_scores (
        submission_id INTEGER NOT NULL,
        code VARCHAR NOT NULL,
        score DECIMAL(8,2) NOT NULL,
        note VARCHAR,
        evidence VARCHAR[],
        sheet_row INTEGER,
        PRIMARY KEY (submission_id, code)
    );
    -- reviewer adjustments, attached to one submission version
    CREATE TABLE review_scores (
        submission_id INTEGER NOT NULL,
        code VARCHAR NOT NULL,
        score DECIMAL(8,2) NOT NULL,
        reason VARCHAR,
        reviewer VARCHAR,
        updated_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
        PRIMARY KEY (submission_id, code)
    );
    -- penalties entered by reviewers, per unit and year
    CREATE TABLE penalties (
        unit VARCHAR NOT NULL,
        year INTEGER NOT NULL,
        k1_count INTEGER NOT NULL DEFAULT 0,
        k2_veto BOOLEAN NOT NULL DEFAULT false,
        reason VARCHAR,
        reviewer VARCHAR,
        updated_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
        PRIMARY KEY (unit, year)
    );
    CREATE TABLE ledger_items (
        submission_id INTEGER NOT NULL,
        sheet_row INTEGER NOT NULL,        -- Excel row number
        seq VARCHAR,                       -- 序号 as typed
        title VARCHAR NOT NULL,
        category VARCHAR NOT NULL,         -- category code
        formed DATE NOT NULL,
        published DATE,
        channels VARCHAR[],
        url VARCHAR
    );
    CREATE TABLE requests (
        submission_id INTEGER NOT NULL,
        sheet_row INTEGER NOT NULL,
        request_no VARCHAR NOT NULL,
        applicant_type VARCHAR,
        received DATE NOT NULL,
        corrected DATE,
        extended BOOLEAN NOT NULL DEFAULT false,
        answered DATE,
        result VARCHAR,
        review_result VARCHAR
    );
    CREATE SEQUENCE rejection_id_seq START 1;
    CREATE TABLE rejections (
        id INTEGER PRIMARY KEY DEFAULT nextval('rejection_id_seq'),
        unit VARCHAR,
        year INTEGER,
        file_name VARCHAR NOT NULL,
        sha256 VARCHAR,
        attempted_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
        received DATE,
        uploaded_by VARCHAR,
        issues JSON NOT NULL
    );
    CREATE SEQUENCE audit_id_seq START 1;
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY DEFAULT nextval('audit_id_seq'),
        at_time TIMESTAMP NOT NULL DEFAULT current_timestamp,
        actor VARCHAR,
        unit VARCHAR,
        year INTEGER,
        action VARCHAR NOT NULL,
        detail VARCHAR,
        before VARCHAR,
        after VARCHAR
    );
    CREATE TABLE users (
        name VARCHAR PRIMARY KEY,
        role VARCHAR NOT NULL,             -- admin / reviewer / leader / unit
        unit VARCHAR,
        password_hash VARCHAR NOT NULL,
        active BOOLEAN NOT NULL DEFAULT true,
        demo BOOLEAN NOT NULL DEFAULT false,
        created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
    );
    -- working-day calendar: one row per day
    CREATE TABLE calendar (
        day DATE PRIMARY KEY,
        is_workday BOOLEAN NOT NULL,
        source VARCHAR NOT NULL             -- official / admin / fallback
    );
    -- which years have an official (or admin-loaded) calendar
    CREATE TABLE calendar_years (
        year INTEGER PRIMARY KEY,
        source VARCHAR NOT NULL,           -- official / admin
        loaded_at TIMESTAMP NOT NULL DEFAULT current_timestamp
    );
    CREATE TABLE calendar_overrides (
        day DATE PRIMARY KEY,
        is_workday BOOLEAN NOT NULL,
        note VARCHAR,
        loaded_by VARCHAR,
        loaded_at TIMESTAMP NOT NULL DEFAULT current_timestamp
    );
    """,
]


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Apply the migrations this database lacks, each in its own transaction."""
    current = schema_version(con)
    for n, sql in enumerate(MIGRATIONS, start=1):
        if n <= current:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(sql)
            con.execute("INSERT INTO schema_version VALUES (?)", [n])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    return len(MIGRATIONS)


class DatabaseBusy(RuntimeError):
    """The database file is locked by another process (DuckDB allows one writer process)."""


def connect(path: str | os.PathLike | None = None, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) and migrate the database."""
    p = db_path(path)
    if str(p) != ":memory:":
        p.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(p), read_only=read_only)
    except duckdb.IOException as e:
        if "lock" in str(e).lower():
            raise DatabaseBusy(f"数据库 {p} 正被另一个程序（例如正在运行的看板）使用，请先关闭它，"
                               f"或在看板的“批量导入”页面中操作") from e
        raise
    if not read_only:
        migrate(con)
    return con


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection):
    """All or nothing: a failure inside rolls back every statement."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    else:
        con.execute("COMMIT")


def audit(con: duckdb.DuckDBPyConnection, action: str, *, actor: str | None = None, unit: str | None = None,
          year: int | None = None, detail: str | None = None, before=None, after=None) -> None:
    def _s(v):
        if v is None or isinstance(v, str):
            return v
        return json.dumps(v, ensure_ascii=False, default=str)

    con.execute("INSERT INTO audit (actor, unit, year, action, detail, before, after) VALUES (?,?,?,?,?,?,?)",
                [actor, unit, year, action, detail, _s(before), _s(after)])


def is_empty(con: duckdb.DuckDBPyConnection) -> bool:
    return con.execute("SELECT count(*) FROM units").fetchone()[0] == 0
