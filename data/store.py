"""The DuckDB store: connection, schema and its migrations.

The database is an embedded DuckDB file: ``--db PATH``, else the environment
variable ``GONGKAI_DB``, else ``var/gongkai.duckdb`` under the project.
The schema is created and migrated by :func:`migrate` (table ``schema_version``).
"""
from __future__ import annotations

import datetime as dt
import json
import os
from contextvars import ContextVar
from contextlib import contextmanager
from pathlib import Path

import logging

import duckdb

from data import pg
from data.db import (RESTORE_HINT, Database, DatabaseBusy, DatabaseMissing,  # noqa: F401 - re-exported
                     DatabaseProblem, DatabaseReplaced, DatabaseUnusable, describe_failure, is_memory,
                     open_connection)

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DB = PROJECT_DIR / "var" / "gongkai.duckdb"
log = logging.getLogger(__name__)


def db_path(path: str | os.PathLike | None = None):
    """The database to use: ``path``, else ``GONGKAI_DB``, else the project's default file.
    A DuckDB file as a :class:`~pathlib.Path`; a PostgreSQL URL (``postgresql://…``) as it is."""
    target = path or os.environ.get("GONGKAI_DB")
    if not target:
        return DEFAULT_DB
    if pg.is_url(str(target)):
        return str(target)
    return Path(target)


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
    # 2: year closing (issue 11): stages, upload permits, frozen result snapshots, appeals
    """
    CREATE TABLE year_stages (
        year INTEGER PRIMARY KEY,
        stage VARCHAR NOT NULL,            -- 填报 / 审核 / 公示 / 定稿 (no row: 填报)
        publicity_start DATE,              -- 公示期 of the current 公示稿
        publicity_end DATE,
        updated_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
        updated_by VARCHAR,
        reason VARCHAR
    );
    -- a unit allowed to upload for a year past 填报 (granted by a reviewer)
    CREATE TABLE upload_permits (
        unit VARCHAR NOT NULL,
        year INTEGER NOT NULL,
        reason VARCHAR NOT NULL,
        granted_by VARCHAR,
        granted_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
        PRIMARY KEY (unit, year)
    );
    CREATE SEQUENCE snapshot_id_seq START 1;
    CREATE TABLE snapshots (
        id INTEGER PRIMARY KEY DEFAULT nextval('snapshot_id_seq'),
        year INTEGER NOT NULL,
        kind VARCHAR NOT NULL,             -- 公示稿 / 定稿
        created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
        created_by VARCHAR,
        made_on DATE NOT NULL,             -- the day it was published / finalised
        publicity_start DATE,
        publicity_end DATE,
        based_on INTEGER,                  -- 定稿: the 公示稿 it was made from
        early_reason VARCHAR,              -- 定稿 before the 公示期 ended
        scheme_file VARCHAR NOT NULL,
        scheme_sha256 VARCHAR NOT NULL,
        scheme_text VARCHAR NOT NULL,
        codes VARCHAR[] NOT NULL,          -- indicator codes in scheme order
        withdrawn_at TIMESTAMP,            -- set when the stage goes back past it
        withdrawn_by VARCHAR,
        withdrawn_reason VARCHAR
    );
    CREATE TABLE snapshot_units (
        snapshot_id INTEGER NOT NULL,
        ord INTEGER NOT NULL,
        unit VARCHAR NOT NULL,
        unit_type VARCHAR NOT NULL,
        year INTEGER NOT NULL,
        status VARCHAR NOT NULL,
        total DECIMAL(18,2),
        grade VARCHAR,
        rank BIGINT,
        self_total DECIMAL(18,2),
        proactive_counted BIGINT,
        proactive_on_time BIGINT,
        proactive_pending BIGINT,
        proactive_rate DECIMAL(18,4),
        requests_counted BIGINT,
        requests_on_time BIGINT,
        request_rate DECIMAL(18,4),
        required_categories BIGINT,
        covered_categories BIGINT,
        coverage_rate DECIMAL(18,4),
        missing_categories VARCHAR,
        max_total DECIMAL(18,2),
        score_rate DECIMAL(18,4),
        provisional BOOLEAN,
        provisional_reason VARCHAR,
        k1_count BIGINT,
        k1_points DECIMAL(18,2),
        k2_veto BOOLEAN,
        late_submission BOOLEAN,
        received DATE,
        submission_id INTEGER,
        version INTEGER,
        sha256 VARCHAR,
        requests_pending BIGINT,
        requests_corrected BIGINT,
        PRIMARY KEY (snapshot_id, unit)
    );
    CREATE TABLE snapshot_points (
        snapshot_id INTEGER NOT NULL,
        unit VARCHAR NOT NULL,
        code VARCHAR NOT NULL,
        ord INTEGER NOT NULL,
        points DECIMAL(18,2),
        appeal_id INTEGER,                 -- 定稿: the answered appeal that changed it
        points_before DECIMAL(18,2),       -- 定稿: the 公示稿 points it replaced
        PRIMARY KEY (snapshot_id, unit, code)
    );
    -- the working-day calendar used: every day of the years the scores depend on
    -- whose kind differs from Monday–Friday, and each year's source
    CREATE TABLE snapshot_calendar (
        snapshot_id INTEGER NOT NULL,
        day DATE NOT NULL,
        is_workday BOOLEAN NOT NULL,
        PRIMARY KEY (snapshot_id, day)
    );
    CREATE TABLE snapshot_calendar_years (
        snapshot_id INTEGER NOT NULL,
        year INTEGER NOT NULL,
        source VARCHAR NOT NULL,
        PRIMARY KEY (snapshot_id, year)
    );
    CREATE SEQUENCE appeal_id_seq START 1;
    CREATE TABLE appeals (
        id INTEGER PRIMARY KEY DEFAULT nextval('appeal_id_seq'),
        year INTEGER NOT NULL,
        unit VARCHAR NOT NULL,
        code VARCHAR NOT NULL,             -- indicator code, K1 or K2
        snapshot_id INTEGER NOT NULL,      -- the 公示稿 appealed against
        old_score DECIMAL(18,2),           -- points (K1: deduction) in that 公示稿
        reason VARCHAR NOT NULL,
        filed_by VARCHAR,
        filed_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
        filed_on DATE NOT NULL,
        status VARCHAR NOT NULL,           -- 待答复 / 维持 / 调整
        answer VARCHAR,
        new_score DECIMAL(18,2),
        answered_by VARCHAR,
        answered_at TIMESTAMP
    );
    CREATE SEQUENCE appeal_file_id_seq START 1;
    CREATE TABLE appeal_files (
        id INTEGER PRIMARY KEY DEFAULT nextval('appeal_file_id_seq'),
        appeal_id INTEGER NOT NULL,
        file_name VARCHAR NOT NULL,
        size BIGINT NOT NULL,
        sha256 VARCHAR NOT NULL,
        content BLOB NOT NULL
    );
    """,
    # 3: 年报数据 — tables 三 and 四 of the unit's annual report, and the 勾稽 findings (annual-report.md)
    """
    CREATE TABLE annual_reports (
        submission_id INTEGER PRIMARY KEY,
        edition INTEGER NOT NULL              -- 2019 or 2021 national format
    );
    CREATE TABLE annual_report_cells (
        submission_id INTEGER NOT NULL,
        row_code VARCHAR NOT NULL,            -- new, carried_in, r_open … carried_out; rv_review, rv_direct, rv_after
        col_code VARCHAR NOT NULL,            -- natural … total; upheld, corrected, other, pending, total
        value BIGINT NOT NULL,
        sheet_row INTEGER NOT NULL,
        cell VARCHAR NOT NULL,                -- A1 address in the sheet 年报数据
        PRIMARY KEY (submission_id, row_code, col_code)
    );
    CREATE TABLE reconcile_findings (
        submission_id INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        rule VARCHAR NOT NULL,                -- T1 … T4, L1 … L4
        cell VARCHAR NOT NULL,
        expected BIGINT NOT NULL,
        actual BIGINT NOT NULL,
        message VARCHAR NOT NULL,
        PRIMARY KEY (submission_id, seq)
    );
    """,
    # 4: facts about the database itself, e.g. ('demo', 'true') for the demonstration county
    """
    CREATE TABLE meta (
        key VARCHAR PRIMARY KEY,
        value VARCHAR NOT NULL
    );
    """,
    # 5: the details behind a snapshot (issue 11), stored when it is published: every
    # indicator with its self score, reviewer score and reason, the penalties, the
    # ledger items and requests as scored, the category coverage and the item counts
    # of the timeliness charts. A 定稿 reads the details of the 公示稿 it was made
    # from (``source_id``); a snapshot without a row here (published before this
    # migration) has no stored details.
    """
    CREATE TABLE snapshot_details (
        snapshot_id INTEGER PRIMARY KEY,
        source_id INTEGER NOT NULL         -- the snapshot whose detail rows apply
    );
    CREATE TABLE snapshot_indicators (
        snapshot_id INTEGER NOT NULL,
        unit VARCHAR NOT NULL,
        code VARCHAR NOT NULL,
        ord INTEGER NOT NULL,
        grp VARCHAR,
        text VARCHAR,
        max DECIMAL(18,2),
        type VARCHAR,
        self_score DECIMAL(18,2),
        review_score DECIMAL(18,2),
        review_reason VARCHAR,
        reviewer VARCHAR,
        self_note VARCHAR,
        points DECIMAL(18,2),              -- as published in the 公示稿
        PRIMARY KEY (snapshot_id, unit, code)
    );
    CREATE TABLE snapshot_penalties (
        snapshot_id INTEGER NOT NULL,
        unit VARCHAR NOT NULL,
        k1_count INTEGER NOT NULL,
        k2_veto BOOLEAN NOT NULL,
        reason VARCHAR,
        reviewer VARCHAR,
        updated_at TIMESTAMP,
        PRIMARY KEY (snapshot_id, unit)
    );
    CREATE TABLE snapshot_items (
        snapshot_id INTEGER NOT NULL,
        ord INTEGER NOT NULL,
        unit VARCHAR NOT NULL,
        unit_type VARCHAR,
        year INTEGER,
        submission_id INTEGER,
        sheet_row INTEGER,
        seq VARCHAR,
        title VARCHAR,
        category VARCHAR,
        category_name VARCHAR,
        formed DATE,
        published DATE,
        url VARCHAR,
        deadline DATE,
        state VARCHAR,
        days_late INTEGER,
        counted BOOLEAN
    );
    CREATE TABLE snapshot_item_months (
        snapshot_id INTEGER NOT NULL,
        ord INTEGER NOT NULL,
        unit VARCHAR NOT NULL,
        unit_type VARCHAR,
        month INTEGER,
        state VARCHAR,
        published BOOLEAN,
        n BIGINT NOT NULL
    );
    CREATE TABLE snapshot_item_late_days (
        snapshot_id INTEGER NOT NULL,
        ord INTEGER NOT NULL,
        unit VARCHAR NOT NULL,
        unit_type VARCHAR,
        days_late INTEGER,
        n BIGINT NOT NULL
    );
    CREATE TABLE snapshot_requests (
        snapshot_id INTEGER NOT NULL,
        ord INTEGER NOT NULL,
        unit VARCHAR NOT NULL,
        unit_type VARCHAR,
        year INTEGER,
        submission_id INTEGER,
        sheet_row INTEGER,
        request_no VARCHAR,
        applicant_type VARCHAR,
        received DATE,
        corrected DATE,
        clock_start DATE,
        extended BOOLEAN,
        answered DATE,
        result VARCHAR,
        review_result VARCHAR,
        rule_basis VARCHAR,
        days_allowed INTEGER,
        deadline DATE,
        state VARCHAR,
        days_taken INTEGER,
        days_late INTEGER,
        counted BOOLEAN
    );
    CREATE TABLE snapshot_coverage (
        snapshot_id INTEGER NOT NULL,
        ord INTEGER NOT NULL,
        unit VARCHAR NOT NULL,
        unit_type VARCHAR,
        code VARCHAR NOT NULL,
        name VARCHAR,
        required BOOLEAN,
        covered BOOLEAN,
        items BIGINT,
        published BIGINT
    );
    """,
    # 6: accounts and sessions; who wrote the reviewer's comment; a change counter per unit-year
    """
    ALTER TABLE workflow ADD COLUMN comment_by VARCHAR;      -- account that wrote the comment
    ALTER TABLE workflow ADD COLUMN comment_at TIMESTAMP;
    UPDATE workflow SET
        comment_by = (SELECT a.actor FROM audit a WHERE a.unit = workflow.unit
                      AND a.year = workflow.year AND a.action IN ('审核通过', '退回', '重新打开')
                      ORDER BY a.id DESC LIMIT 1),
        comment_at = (SELECT max(a.at_time) FROM audit a WHERE a.unit = workflow.unit
                      AND a.year = workflow.year AND a.action IN ('审核通过', '退回', '重新打开'))
    WHERE comment IS NOT NULL;
    -- bumped by every write that changes what a reviewer sees of a unit-year
    CREATE TABLE revisions (
        unit VARCHAR NOT NULL,
        year INTEGER NOT NULL,
        counter INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (unit, year)
    );
    CREATE TABLE settings (
        key VARCHAR PRIMARY KEY,
        value VARCHAR NOT NULL
    );
    -- signed-in sessions (the browser keeps a signed token naming one of them)
    CREATE TABLE sessions (
        id VARCHAR PRIMARY KEY,
        name VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL,
        last_seen TIMESTAMP NOT NULL,
        revoked_at TIMESTAMP,
        revoked_reason VARCHAR
    );
    -- failed sign-ins per typed (normalised) user name, known or not
    CREATE TABLE login_throttle (
        name VARCHAR PRIMARY KEY,
        failures INTEGER NOT NULL,
        first_failure TIMESTAMP NOT NULL,
        locked_until TIMESTAMP
    );
    """,
    # 7: stored scores, kept current on write (written by metrics after each change:
    # one row per unit-year and its indicator points; the newest row of a unit-year wins,
    # and ``fp`` names the inputs it was computed from, so a row that no longer matches
    # them is never used)
    """
    CREATE SEQUENCE unit_score_id_seq START 1;
    CREATE TABLE unit_scores (
        id BIGINT PRIMARY KEY DEFAULT nextval('unit_score_id_seq'),
        unit VARCHAR NOT NULL,
        year INTEGER NOT NULL,
        ykey VARCHAR NOT NULL,            -- the year's scheme, catalogue and calendar
        fp VARCHAR NOT NULL,              -- the unit-year's inputs (version, scores, penalties, status …)
        computed_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
        sid INTEGER, version INTEGER, first_received DATE, status VARCHAR,
        total_c BIGINT, reconcile_failed BIGINT, self_total_c BIGINT, k1_count INTEGER, k2_veto BOOLEAN,
        p_on_time BIGINT, p_late BIGINT, p_pending BIGINT,
        r_on_time BIGINT, r_late BIGINT, r_pending BIGINT, r_corrected BIGINT,
        required BIGINT, covered BIGINT, missing VARCHAR,
        h1_c BIGINT, h2_c BIGINT, g1_c BIGINT, g3_c BIGINT, i1_c BIGINT, grade VARCHAR
    );
    CREATE SEQUENCE score_point_id_seq START 1;
    CREATE TABLE score_points (
        id BIGINT PRIMARY KEY DEFAULT nextval('score_point_id_seq'),
        score_id BIGINT NOT NULL,         -- unit_scores.id
        code VARCHAR NOT NULL,
        points_c BIGINT
    );
    """,
    # 8: stored ledger figures of each accepted version (written by metrics with the stored
    # scores): the counted items per month/state, per days late and per category, for the
    # timeliness and coverage pages.  A version's ledger never changes, so a row names its
    # version (``sid``) and the year's scheme, catalogue and calendar (``ykey``); a ``done``
    # row marks a version whose figures are all stored (one without counted items has no other row)
    """
    CREATE SEQUENCE item_stat_id_seq START 1;
    CREATE TABLE item_stats (
        id BIGINT PRIMARY KEY DEFAULT nextval('item_stat_id_seq'),
        sid BIGINT NOT NULL,              -- submissions.id
        year INTEGER NOT NULL,
        ykey VARCHAR NOT NULL,
        batch BIGINT NOT NULL,            -- the id of the batch's ``done`` row: a version's newest batch is read
        kind VARCHAR NOT NULL,            -- month | late | category | done
        month INTEGER, state VARCHAR, published BOOLEAN, days_late INTEGER, category VARCHAR,
        n BIGINT NOT NULL,                -- counted items
        n_published BIGINT                -- of them published by the cut-off (kind category)
    );
    """,
]


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The schema version of the open database: 0 for a new (empty) one.  Reads only."""
    tables = _tables(con)
    if "schema_version" not in tables:
        return 0
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    if getattr(con, "dialect", "duckdb") == "postgres":
        return {r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()").fetchall()}
    return {r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main'"
    ).fetchall()}


def check_schema(con: duckdb.DuckDBPyConnection, path=None) -> int:
    """Refuse a database that is not one of this product (DuckDB without our
    ``schema_version``) or that a newer version of the product has written.
    Returns the schema version (0 = a new, empty database)."""
    where = f" {path}" if path else ""
    try:
        tables = _tables(con)
        if "schema_version" not in tables:
            if tables:
                raise DatabaseUnusable(f"文件{where} 是 DuckDB 数据库，但不是本系统的数据库（没有 schema_version 表）。"
                                       f"请检查 --db / GONGKAI_DB 指向的文件；{RESTORE_HINT}")
            return 0
        v = schema_version(con)
    except duckdb.Error as e:
        raise DatabaseUnusable(describe_failure(e, path)) from e
    if v > len(MIGRATIONS):
        raise DatabaseUnusable(f"数据库{where} 的结构版本为 {v}，比本程序认识的版本（{len(MIGRATIONS)}）新："
                               "请使用更新版本的程序")
    if v < 1:
        raise DatabaseUnusable(f"数据库{where} 的 schema_version 表没有版本记录，不是完整的本系统数据库。{RESTORE_HINT}")
    return v


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Apply the migrations this database lacks, each in its own transaction."""
    con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
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


def _preparer(path, read_only: bool, locked: bool = False):
    def prepare(con):
        if locked:  # replicas starting together: one migrates, the others wait and find it done
            con.execute("SELECT pg_advisory_lock(4242001)")
            try:
                return _prepare(con)
            finally:
                con.execute("SELECT pg_advisory_unlock(4242001)")
        return _prepare(con)

    def _prepare(con):
        v = check_schema(con, path)
        if read_only:
            if v == 0:
                raise DatabaseUnusable(f"数据库 {path} 是空的（还没有本系统的数据）")
            return
        from data.calendar import prepare_calendar  # calendar imports this module

        try:
            migrate(con)
            prepare_calendar(con)  # built on opening for writing: reads never write
        except duckdb.Error as e:
            raise DatabaseUnusable(describe_failure(e, path)) from e
    return prepare


def connect(path: str | os.PathLike | None = None, read_only: bool = False, *, create: bool = True,
            wait: float | None = None) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed, unless ``create=False``) and migrate the database.

    Waits at most ``wait`` seconds (default ``GONGKAI_DB_WAIT``, 10) while another
    program holds the file; raises :class:`DatabaseBusy` after that, and
    :class:`DatabaseUnusable` for a file that is not a database of this product,
    is newer or is damaged (see :mod:`data.db`)."""
    p = db_path(path)
    if isinstance(p, str):
        return pg_store(p, read_only=read_only).cursor(owner=True)
    if not is_memory(p):
        p.parent.mkdir(parents=True, exist_ok=True)
    return open_connection(p, read_only=read_only, create=create, wait=wait,
                           prepare=_preparer(p, read_only))


#: values of ``GONGKAI_PG_LISTEN`` that switch the background listener off
LISTEN_OFF = ("0", "false", "no", "off")


def listening() -> bool:
    """Whether the dashboard's manager of a PostgreSQL database listens for other processes'
    writes (:class:`data.pg.Listener`): yes, unless ``GONGKAI_PG_LISTEN`` is 0 / false / no / off."""
    return os.environ.get("GONGKAI_PG_LISTEN", "1").strip().lower() not in LISTEN_OFF


def manager(path: str | os.PathLike | None = None, *, on_open=None, wait: float | None = None) -> Database:
    """A :class:`data.db.Database` (connection manager) for the configured file,
    checking and migrating the schema on every open."""
    p = db_path(path)
    if isinstance(p, str):
        from data.db import PgDatabase
        # the dashboard's copy is kept fresh by a background listener (one more connection and a
        # daemon thread per process, stopped by close()); GONGKAI_PG_LISTEN=0 switches it off
        return PgDatabase(p, opener=lambda: pg_store(p, listen=listening()), on_open=on_open)
    if not is_memory(p):
        p.parent.mkdir(parents=True, exist_ok=True)
    return Database(p, prepare=_preparer(p, False), on_open=on_open, wait=wait)


def _duck_schema(con) -> None:
    """The schema of the DuckDB copy a PostgreSQL process reads from (the same migrations)."""
    migrate(con)


def pg_store(url: str, *, read_only: bool = False, listen: bool = False) -> "pg.Store":
    """The PostgreSQL database at ``url`` for this process: schema checked and migrated
    (every replica runs the same migrations; the first one to start applies them), the
    DuckDB copy the reads run on (``listen=True``: kept fresh in the background on every
    announced write, see :class:`data.pg.Listener`). Raises :class:`DatabaseUnusable` with a Chinese message
    when the server cannot be reached or the database is not one of this product."""
    shown = pg.redact(url)
    try:
        return pg.Store(url, prepare_pg=_preparer(shown, read_only, locked=True), prepare_duck=_duck_schema,
                        listen=listen)
    except DatabaseProblem:
        raise
    except duckdb.IOException as e:
        raise DatabaseUnusable(f"无法连接 PostgreSQL 数据库 {shown}：{e}。请检查 GONGKAI_DB、数据库服务是否运行、"
                               "用户名和密码") from e
    except duckdb.Error as e:
        raise DatabaseUnusable(describe_failure(e, shown)) from e


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection):
    """All or nothing: a failure inside rolls back every statement.

    After the commit, the unit-years the transaction changed (:func:`touch`) are
    handed to the functions registered with :func:`on_commit` (the stored scores),
    unless inside :func:`deferred`."""
    touched: set = set()
    token = _TOUCHED.set(touched)
    try:
        con.execute("BEGIN TRANSACTION")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        else:
            con.execute("COMMIT")
    finally:
        _TOUCHED.reset(token)
    if touched:
        _after_commit(con, touched)


# --------------------------------------------------------------------------- after-commit work

#: (unit, year) pairs changed by the running transaction; (None, year): the whole year,
#: (None, None): every year
_TOUCHED: ContextVar[set | None] = ContextVar("gongkai_touched", default=None)
_DEFERRED: ContextVar[set | None] = ContextVar("gongkai_deferred", default=None)
_ON_COMMIT: list = []


def on_commit(fn) -> None:
    """Register ``fn(con, touched)`` to run after each committed transaction that
    changed unit-years (``touched``: a set of ``(unit, year)``; ``unit`` None = the
    whole year, ``(None, None)`` = every year). Its failures are logged, never raised:
    the write has been committed."""
    if fn not in _ON_COMMIT:
        _ON_COMMIT.append(fn)


def touch(unit: str | None, year: int | None) -> None:
    """Inside a :func:`transaction`: record that ``unit``'s ``year`` (None: all) changed."""
    t = _TOUCHED.get()
    if t is not None:
        t.add((unit, None if year is None else int(year)))


def _after_commit(con, touched: set) -> None:
    pending = _DEFERRED.get()
    if pending is not None:
        pending.update(touched)
        return
    for fn in list(_ON_COMMIT):
        try:
            fn(con, touched)
        except Exception:  # the write stands; readers recompute what is not stored
            log.exception("after-commit work failed")


@contextmanager
def deferred(con: duckdb.DuckDBPyConnection):
    """Collect the after-commit work of many transactions (a batch import, the
    demonstration county) and run it once at the end."""
    if _DEFERRED.get() is not None:
        yield
        return
    pending: set = set()
    token = _DEFERRED.set(pending)
    try:
        yield
    finally:
        _DEFERRED.reset(token)
    if pending:
        _after_commit(con, pending)


# --------------------------------------------------------------------------- recorded time

_AS_OF: ContextVar[dt.datetime | None] = ContextVar("gongkai_as_of", default=None)


@contextmanager
def as_of(when: dt.datetime):
    """Record the writes made inside the block (audit rows, upload, review and
    account times) as having happened at ``when`` instead of now.

    For loading a historical record through the normal code paths (the
    demonstration county's five years); the live application never uses it.
    """
    token = _AS_OF.set(when)
    try:
        yield
    finally:
        _AS_OF.reset(token)


def recorded_at() -> dt.datetime | None:
    """The time set by :func:`as_of`, else None (SQL: ``coalesce(?, now())``)."""
    return _AS_OF.get()


# --------------------------------------------------------------------------- demo marker

def is_demo(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether this database is marked as the demonstration county (table ``meta``)."""
    try:
        row = con.execute("SELECT value FROM meta WHERE key = 'demo'").fetchone()
    except duckdb.CatalogException:  # a database older than the marker: never a demo
        return False
    return row is not None and row[0] == "true"


def mark_demo(con: duckdb.DuckDBPyConnection) -> None:
    """Mark the database as a demonstration database (only the demo builder calls this)."""
    con.execute("INSERT INTO meta (key, value) VALUES ('demo', 'true') ON CONFLICT (key) DO UPDATE SET value = 'true'")


def audit(con: duckdb.DuckDBPyConnection, action: str, *, actor: str | None = None, unit: str | None = None,
          year: int | None = None, detail: str | None = None, before=None, after=None) -> None:
    def _s(v):
        if v is None or isinstance(v, str):
            return v
        return json.dumps(v, ensure_ascii=False, default=str)

    con.execute("INSERT INTO audit (at_time, actor, unit, year, action, detail, before, after) "
                "VALUES (coalesce(?, now()),?,?,?,?,?,?,?)",
                [recorded_at(), actor, unit, year, action, detail, _s(before), _s(after)])


def bump_revision(con: duckdb.DuckDBPyConnection, unit: str, year: int) -> int:
    """Count one change of what a reviewer sees of ``unit``'s ``year`` (a new
    version, a review score, a penalty, a decision); returns the new counter.
    Call it inside the write's transaction."""
    touch(unit, year)
    if getattr(con, "dialect", "duckdb") == "duckdb":
        # one writer per file: an UPDATE, and an INSERT the first time, cost DuckDB a
        # third of an upsert with RETURNING (which the demo county runs hundreds of times)
        row = con.execute("UPDATE revisions SET counter = counter + 1 WHERE unit = ? AND year = ? RETURNING counter",
                          [unit, int(year)]).fetchall()
        if row:
            return row[0][0]
        con.execute("INSERT INTO revisions (unit, year, counter) VALUES (?, ?, 1)", [unit, int(year)])
        return 1
    return con.execute("""INSERT INTO revisions (unit, year, counter) VALUES (?, ?, 1)
                          ON CONFLICT (unit, year) DO UPDATE SET counter = revisions.counter + 1
                          RETURNING counter""", [unit, int(year)]).fetchone()[0]


def lock_unit_year(con: duckdb.DuckDBPyConnection, unit: str, year: int) -> None:
    """Inside a write's transaction: wait until no other writer is changing ``unit``'s
    ``year`` (its version numbers, its workflow). On the DuckDB file there is one writer
    anyway; on PostgreSQL, several servers write at once: a lock held until the
    transaction ends (``pg_advisory_xact_lock``)."""
    if getattr(con, "dialect", "duckdb") == "postgres":
        con.execute("SELECT pg_advisory_xact_lock(hashtext(?))", [f"{unit}\x1f{int(year)}"])


def revision(con: duckdb.DuckDBPyConnection, unit: str, year: int) -> int:
    """The change counter of ``unit``'s ``year`` (0 before any change)."""
    row = con.execute("SELECT counter FROM revisions WHERE unit = ? AND year = ?", [unit, int(year)]).fetchone()
    return int(row[0]) if row else 0


def is_empty(con: duckdb.DuckDBPyConnection) -> bool:
    return con.execute("SELECT count(*) FROM units").fetchone()[0] == 0
