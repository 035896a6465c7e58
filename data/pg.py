"""PostgreSQL as the shared system of record, DuckDB as the engine in every process.

``GONGKAI_DB`` (or ``--db``) may name a PostgreSQL database
(``postgresql://user@host:port/db``) instead of a DuckDB file. Then:

* **Every write goes to PostgreSQL**, through the same data-layer functions as
  on the file: :class:`PgConnection` speaks the small DuckDB dialect they use
  (``?``, ``$1`` and ``$name`` parameters, ``BLOB``/``DOUBLE``/``[]`` in the
  schema, ``string_split``/``list_contains``, Arrow tables registered by name
  and used in ``INSERT … SELECT``), so the schema versions and migrations are
  the same on both backends. Raw workbook bytes are stored as ``bytea``.
* **Every read runs in DuckDB**, on a per-process in-memory copy of the
  database (:class:`Mirror`), refreshed from PostgreSQL through ADBC into Arrow
  when the data version changed: the scoring engine's SQL (``arg_max``,
  ``* EXCLUDE``, list ``unnest``, registered parameter tables) stays one
  definition, unchanged. Submissions and their rows are append-only, so a
  refresh fetches only the submissions the copy lacks and re-reads the small
  mutable tables.
* :class:`HybridConnection` routes each statement: inside a transaction
  (``BEGIN`` … ``COMMIT``) and for every write, to PostgreSQL; a read outside
  a transaction, to the DuckDB copy (brought up to date first). Reads of the
  stored file bytes (``content``) go to PostgreSQL (the copy does not hold
  them). After a write is committed the data version (a sequence, so writers
  never wait on one another) is advanced and announced with ``NOTIFY``.
* A long-running process (the dashboard) also listens (:class:`Listener`): an
  announced write of any process refreshes the copy in the background, so that
  pages find it fresh; the version check before an action's reads stays the
  guarantee.
* Errors of PostgreSQL are raised as the DuckDB exception of the same kind
  (a unique violation as ``duckdb.ConstraintException`` …), so the data
  layer's handling is the same on both backends.

Nothing above the data layer knows which backend it runs on.
"""
from __future__ import annotations

import atexit
import functools
import logging
import re
import threading
import time
import weakref
from typing import Any

import duckdb
import pyarrow as pa

log = logging.getLogger(__name__)

URL_PREFIXES = ("postgresql://", "postgres://")
#: the data version: advanced after every committed write (a sequence: writers never wait on each other)
VERSION_SEQ = "gongkai_data_version"
#: advanced after a write that changed rows the copies hold as append-only (rows added to an
#: existing submission, rows updated or deleted): every copy then re-reads those tables whole
EPOCH_SEQ = "gongkai_copy_epoch"
#: the channel on which committed writes are announced
CHANNEL = "gongkai_data"


def table_seq(table: str) -> str:
    """The sequence counting committed writes to ``table`` (so a copy re-reads only what changed)."""
    return f"gongkai_w_{table}"


def is_url(target) -> bool:
    return isinstance(target, str) and target.startswith(URL_PREFIXES)


def redact(url: str) -> str:
    """The URL without its password (for messages and logs)."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


# --------------------------------------------------------------------------- the dialect

#: functions of DuckDB the data layer uses in writes, defined in PostgreSQL
COMPAT_SQL = f"""
CREATE OR REPLACE FUNCTION string_split(text, text) RETURNS text[]
    LANGUAGE sql IMMUTABLE AS 'SELECT string_to_array($1, $2)';
CREATE OR REPLACE FUNCTION list_contains(anycompatiblearray, anycompatible) RETURNS boolean
    LANGUAGE sql IMMUTABLE AS 'SELECT $2 = ANY($1)';
CREATE OR REPLACE FUNCTION year(date) RETURNS integer
    LANGUAGE sql IMMUTABLE AS 'SELECT extract(year FROM $1)::integer';
CREATE OR REPLACE FUNCTION year(timestamp) RETURNS integer
    LANGUAGE sql IMMUTABLE AS 'SELECT extract(year FROM $1)::integer';
CREATE OR REPLACE FUNCTION range(bigint) RETURNS SETOF bigint
    LANGUAGE sql IMMUTABLE AS 'SELECT generate_series(0, $1 - 1)';
CREATE SEQUENCE IF NOT EXISTS {VERSION_SEQ};
CREATE SEQUENCE IF NOT EXISTS {EPOCH_SEQ};
"""

_DDL = re.compile(r"^\s*(CREATE|ALTER)\b", re.I)
_TYPE_FIXES = [
    (re.compile(r"\bBLOB\b", re.I), "BYTEA"),
    (re.compile(r"\bDOUBLE\b(?!\s+PRECISION)", re.I), "DOUBLE PRECISION"),
    (re.compile(r"\bDEFAULT\s+\[\s*\]", re.I), "DEFAULT '{}'"),
]


_TYPE_WORDS = re.compile(r"\b(BLOB|DOUBLE)\b", re.I)


_TOKENS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*")


@functools.lru_cache(maxsize=4096)
def _scan(sql: str) -> tuple:
    """Split ``sql`` into (kind, text) pieces: 'code', 'string' ('…'), 'ident' ("…"), comments dropped."""
    out = []
    pos = 0
    for m in _TOKENS.finditer(sql):
        if m.start() > pos:
            out.append(("code", sql[pos:m.start()]))
        t = m.group(0)
        if t[0] == "'":
            out.append(("string", t))
        elif t[0] == '"':
            out.append(("ident", t))
        pos = m.end()
    if pos < len(sql):
        out.append(("code", sql[pos:]))
    return tuple(out)


@functools.lru_cache(maxsize=4096)
def _code(sql: str) -> str:
    """The statement without its strings and comments (for routing decisions)."""
    return "".join(t for k, t in _scan(sql) if k == "code")


_PARAM = re.compile(r"\?|\$(\d+)|\$([A-Za-z_][A-Za-z0-9_]*)|%")


def translate(sql: str, params=None) -> tuple[str, Any]:
    """DuckDB's statement and parameters → psycopg's (``%s`` / ``%(name)s`` placeholders)."""
    pieces = _scan(sql)
    code = _code(sql)
    if _DDL.match(code) or _TYPE_WORDS.search(code):
        fixed = []
        for k, t in pieces:
            if k == "code":
                for rx, rep in _TYPE_FIXES:
                    t = rx.sub(rep, t)
            fixed.append((k, t))
        pieces = fixed
    if params is None or (not isinstance(params, dict) and len(params) == 0 and "?" not in code):
        return "".join(t for _k, t in pieces), None
    positional = isinstance(params, (list, tuple))
    numbered = positional and re.search(r"\$\d+", code) is not None
    out = []
    for k, t in pieces:
        if k != "code":
            out.append(t.replace("%", "%%") if k == "string" else t)
            continue

        def rep(m):
            if m.group(0) == "%":
                return "%%"
            if m.group(0) == "?":
                return "%s"
            if m.group(1):
                return f"%(p{m.group(1)})s"
            return f"%({m.group(2)})s"
        out.append(_PARAM.sub(rep, t))
    q = "".join(out)
    if numbered:
        params = {f"p{i}": v for i, v in enumerate(params, start=1)}
    return q, (dict(params) if isinstance(params, dict) else list(params))


_ARROW_PG = [
    (pa.types.is_boolean, "boolean"), (pa.types.is_int8, "smallint"), (pa.types.is_int16, "smallint"),
    (pa.types.is_int32, "integer"), (pa.types.is_int64, "bigint"), (pa.types.is_floating, "double precision"),
    (pa.types.is_decimal, "numeric"), (pa.types.is_date, "date"), (pa.types.is_timestamp, "timestamp"),
    (pa.types.is_binary, "bytea"), (pa.types.is_large_binary, "bytea"),
]


def _pg_type(t: pa.DataType) -> str:
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return _pg_type(t.value_type) + "[]"
    for test, name in _ARROW_PG:
        if test(t):
            return name
    return "text"


# --------------------------------------------------------------------------- errors as DuckDB's

def _as_duckdb_error(e: Exception) -> duckdb.Error:
    import psycopg.errors as pe

    msg = f"{type(e).__name__}: {str(e).strip()}"
    if isinstance(e, pe.IntegrityError):
        cls = duckdb.ConstraintException
    elif isinstance(e, (pe.UndefinedTable, pe.UndefinedObject, pe.InvalidSchemaName)):
        cls = duckdb.CatalogException
    elif isinstance(e, (pe.UndefinedColumn, pe.UndefinedFunction, pe.AmbiguousColumn, pe.DatatypeMismatch)):
        cls = duckdb.BinderException
    elif isinstance(e, (pe.SerializationFailure, pe.DeadlockDetected, pe.InFailedSqlTransaction,
                        pe.LockNotAvailable)):
        cls = duckdb.TransactionException
    elif isinstance(e, pe.DataError):
        cls = duckdb.ConversionException
    elif isinstance(e, pe.SyntaxError):
        cls = duckdb.ParserException
    elif isinstance(e, (pe.OperationalError, pe.InterfaceError)):
        cls = duckdb.IOException   # the server is gone or refuses: the store is unusable right now
    else:
        cls = duckdb.InvalidInputException
    return cls(msg)


# --------------------------------------------------------------------------- PostgreSQL connection

def _duckdb_timezone() -> str:
    try:
        return duckdb.connect().execute("SELECT current_setting('TimeZone')").fetchone()[0]
    except Exception:  # pragma: no cover
        return "UTC"


_TZ: list[str] = []


class PgConnection:
    """One PostgreSQL connection with the DuckDB connection's interface (as the data layer uses it)."""

    dialect = "postgres"

    def __init__(self, url: str, *, connect_timeout: float = 10.0):
        import psycopg
        from psycopg.types.string import TextLoader

        if not _TZ:
            _TZ.append(_duckdb_timezone())
        self.url = url
        try:
            self._conn = psycopg.connect(url, autocommit=True, cursor_factory=psycopg.ClientCursor,
                                         connect_timeout=max(1, int(connect_timeout)),
                                         options=f"-c TimeZone={_TZ[0]} -c client_min_messages=warning")
        except psycopg.Error as e:
            raise _as_duckdb_error(e) from e
        for name in ("json", "jsonb"):   # JSON columns read as text, as DuckDB gives them
            self._conn.adapters.register_loader(name, TextLoader)
        self._cur = None
        self._registered: dict[str, pa.Table] = {}
        self._materialised: set[str] = set()

    # DuckDB's interface --------------------------------------------------
    def execute(self, sql: str, params=None):
        import psycopg

        stripped = _code(sql).strip().rstrip(";").strip()
        if stripped.upper() == "CHECKPOINT":
            return self  # PostgreSQL writes its log itself
        self._materialise(stripped)
        q, p = translate(sql, params)
        cur = self._conn.cursor()
        try:
            cur.execute(q, p) if p is not None else cur.execute(q)
        except psycopg.Error as e:
            raise _as_duckdb_error(e) from e
        self._cur = cur
        return self

    def _target_types(self, code: str) -> dict[str, str]:
        """The column types of the table an ``INSERT INTO`` statement fills (empty otherwise)."""
        m = re.match(r"^\s*INSERT\s+INTO\s+\"?(\w+)", code, re.I)
        if not m:
            return {}
        with self._conn.cursor() as cur:
            rows = cur.execute("SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
                               "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped",
                               [m.group(1)]).fetchall()
        return dict(rows)

    def _materialise(self, code: str) -> None:
        """Create the registered Arrow tables a statement names as temporary tables (once each).
        A column named as a column of the table being filled gets that column's type (as
        DuckDB casts on insert: a decimal passed as text, a column of nulls)."""
        for name, tbl in self._registered.items():
            if name in self._materialised or not re.search(rf"\b{re.escape(name)}\b", code):
                continue
            target = self._target_types(code)
            cols = ", ".join(f'"{f.name}" {target.get(f.name) or _pg_type(f.type)}' for f in tbl.schema)
            with self._conn.cursor() as cur:
                cur.execute(f'DROP TABLE IF EXISTS pg_temp."{name}"')
                cur.execute(f'CREATE TEMP TABLE "{name}" ({cols})')
                names = ", ".join(f'"{f}"' for f in tbl.column_names)
                with cur.copy(f'COPY "{name}" ({names}) FROM STDIN') as cp:
                    for row in tbl.to_pylist():
                        cp.write_row(list(row.values()))
            self._materialised.add(name)

    def register(self, name: str, table) -> None:
        if not isinstance(table, pa.Table):
            table = pa.Table.from_pandas(table, preserve_index=False)
        self._registered[name] = table
        self._materialised.discard(name)

    def unregister(self, name: str) -> None:
        self._registered.pop(name, None)
        if name in self._materialised:
            self._materialised.discard(name)
            try:
                with self._conn.cursor() as cur:
                    cur.execute(f'DROP TABLE IF EXISTS pg_temp."{name}"')
            except Exception:  # an aborted transaction: the table goes with it
                pass

    @property
    def description(self):
        return None if self._cur is None else self._cur.description

    def fetchall(self):
        return [] if self._cur is None or self._cur.description is None else self._cur.fetchall()

    def fetchone(self):
        return None if self._cur is None or self._cur.description is None else self._cur.fetchone()

    def fetchmany(self, size: int = 1):
        return self._cur.fetchmany(size)

    def _columns(self):
        return [d.name for d in self._cur.description]

    def df(self):
        import pandas as pd

        rows = self.fetchall()
        return pd.DataFrame.from_records(rows, columns=self._columns())

    fetchdf = fetch_df = df

    def arrow(self):
        rows = self.fetchall()
        cols = self._columns()
        return pa.table({c: [r[i] for r in rows] for i, c in enumerate(cols)})

    fetch_arrow_table = to_arrow_table = arrow

    def close(self) -> None:
        try:
            self._conn.close()
        except Exception:  # pragma: no cover
            pass

    @property
    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus
        return self._conn.info.transaction_status != TransactionStatus.IDLE

    def prepare_compat(self) -> None:
        for stmt in COMPAT_SQL.split(";\n"):
            if stmt.strip():
                try:
                    self.execute(stmt)
                except duckdb.ConstraintException:  # another replica created it at the same moment
                    pass

    def data_version(self) -> tuple[int, int]:
        """(data version, copy epoch): read without touching the caller's result."""
        import psycopg

        try:
            with self._conn.cursor() as cur:
                row = cur.execute(
                    f"SELECT (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {VERSION_SEQ}), "
                    f"(SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {EPOCH_SEQ})").fetchone()
        except psycopg.Error as e:
            raise _as_duckdb_error(e) from e
        return int(row[0]), int(row[1])

    def announce(self, epoch: bool = False, tables=()) -> int:
        """Advance the data version after a committed write (and the change counter of
        each table written) and tell the other processes."""
        import psycopg

        seqs = [table_seq(t) for t in sorted(tables)] + ([EPOCH_SEQ] if epoch else []) + [VERSION_SEQ]
        try:   # on a cursor of its own: the caller's result (e.g. INSERT … RETURNING) stays readable
            with self._conn.cursor() as cur:
                row = cur.execute("SELECT " + ", ".join(f"nextval('{q}')" for q in seqs)).fetchone()
                v = int(row[-1])
                cur.execute(f"NOTIFY {CHANNEL}, '{v}'")
        except psycopg.Error as e:
            raise _as_duckdb_error(e) from e
        return v


# --------------------------------------------------------------------------- the DuckDB copy

#: append-only tables, fetched by the key of the rows the copy lacks
APPEND_BY_SUBMISSION = ("self_scores", "ledger_items", "requests", "annual_reports", "annual_report_cells",
                        "reconcile_findings")
APPEND_BY_SNAPSHOT = ("snapshot_units", "snapshot_points", "snapshot_calendar", "snapshot_calendar_years",
                      "snapshot_details", "snapshot_indicators", "snapshot_penalties", "snapshot_items",
                      "snapshot_item_months", "snapshot_item_late_days", "snapshot_requests", "snapshot_coverage")
#: append-only tables with their own id: the window of recent ids is compared (a slow transaction commits late)
APPEND_BY_ID = ("audit", "rejections", "unit_scores", "score_points", "item_stats")
ID_WINDOW = 2000
APPEND_TABLES = frozenset(("submissions", "snapshots", *APPEND_BY_SUBMISSION, *APPEND_BY_SNAPSHOT, *APPEND_BY_ID))
#: the parent whose insertion in the same transaction makes rows of a child table new rows of a new parent
PARENT = {**{t: "submissions" for t in APPEND_BY_SUBMISSION}, **{t: "snapshots" for t in APPEND_BY_SNAPSHOT}}
#: columns the copy does not hold (file bytes): read from PostgreSQL
NOT_COPIED = {"submissions": ("content",), "appeal_files": ("content",)}
_READS_CONTENT = re.compile(r"\bcontent\b", re.I)


class Mirror:
    """The per-process DuckDB copy of a PostgreSQL database, refreshed when its data version moves."""

    def __init__(self, url: str, prepare_duck):
        self.url = url
        self.duck = duckdb.connect(":memory:")
        prepare_duck(self.duck)
        for table, cols in NOT_COPIED.items():
            for c in cols:
                self.duck.execute(f"ALTER TABLE {table} ALTER COLUMN {c} DROP NOT NULL")
        self.duck.execute("SELECT 1").fetchall()
        self.version: tuple = (-1, -1)
        self._lock = threading.Lock()
        self._adbc = None
        self.tables = [r[0] for r in self.duck.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' ORDER BY table_name").fetchall()]
        self.columns = {t: [r[0] for r in self.duck.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = ? AND schema_name = 'main' "
            "ORDER BY column_index", [t]).fetchall()] for t in self.tables}
        self.syncs = 0
        self.last_sync_seconds = 0.0
        self.table_versions: dict[str, int] = {}
        self._versions_sql = " UNION ALL ".join(
            f"SELECT '{t}' AS t, CASE WHEN is_called THEN last_value ELSE 0 END AS v FROM {table_seq(t)}"
            for t in self.tables)

    def create_counters(self, pg_con) -> None:
        """The per-table change counters on the server (idempotent; every replica may run it)."""
        pg_con.execute("; ".join(f"CREATE SEQUENCE IF NOT EXISTS {table_seq(t)}" for t in self.tables))

    def _source(self):
        if self._adbc is None:
            import adbc_driver_postgresql.dbapi as adbc
            self._adbc = adbc.connect(self.url, autocommit=True)
        return self._adbc

    def cursor(self):
        return self.duck.cursor()

    def holds(self, version: tuple) -> bool:
        """Whether the copy is at least as new as ``version`` (both counters only grow, and the
        copy's own version was read before the data it holds: the data are never older)."""
        return version[0] <= self.version[0] and version[1] <= self.version[1]

    def refresh(self, version: tuple, *, newer_only: bool = False) -> None:
        """Bring the copy up to ``version`` (data version, copy epoch; read just before:
        a later commit shows in the next check). Thread-safe: one refresh at a time (the
        page runs' reads and this process's :class:`Listener` call it). ``newer_only``
        (the listener): nothing to do for a version the copy already holds (a page read
        refreshed meanwhile); else any other version than the copy's is read (also a lower
        one: a database restored from a dump under the same name)."""
        def done() -> bool:
            return self.holds(version) if newer_only else version == self.version

        if done():
            return
        with self._lock:
            if done():
                return
            t0 = time.perf_counter()
            try:
                self._refresh(whole=version[1] != self.version[1] or self.version[0] < 0)
            except Exception:
                if self._adbc is not None:
                    try:
                        self._adbc.close()
                    except Exception:  # pragma: no cover
                        pass
                    self._adbc = None
                raise
            self.version = version
            self.syncs += 1
            self.last_sync_seconds = time.perf_counter() - t0

    def _fetch(self, cur, sql: str, params=None) -> pa.Table:
        cur.execute(sql, params)
        return cur.fetch_arrow_table()

    @staticmethod
    def _diff(d, table: str, ids: pa.Table, low: int = -1) -> tuple[bool, list[int]]:
        """(whether the copy holds ids the server no longer has, the ids the copy lacks), for the
        ids above ``low``: compared in DuckDB, not in Python."""
        d.register("_pg_ids", ids)
        try:
            gone = d.execute(f"SELECT count(*) FROM (SELECT id FROM {table} WHERE id > ? "
                             "EXCEPT SELECT id FROM _pg_ids)", [low]).fetchall()[0][0]
            new = [r[0] for r in d.execute(f"SELECT id FROM _pg_ids EXCEPT SELECT id FROM {table} WHERE id > ? "
                                           "ORDER BY 1", [low]).fetchall()]
        finally:
            d.unregister("_pg_ids")
        return bool(gone), new

    def _select(self, table: str) -> str:
        skip = NOT_COPIED.get(table, ())
        return ", ".join(f'"{c}"' for c in self.columns[table] if c not in skip)

    def _refresh(self, whole: bool = False) -> None:
        src = self._source()
        d = self.duck.cursor()
        with src.cursor() as cur:
            # the change counters are read BEFORE the snapshot is taken: a counter is advanced
            # after its write has committed, so every write it counts is in the snapshot. (Read
            # inside, a sequence shows its value at the moment of reading, later than the
            # snapshot: a write committed just after the snapshot and counted just before the
            # read was marked copied without its rows, and the copy missed it until the table's
            # next write — e.g. a session row just written, seen as "please sign in again".)
            now = dict(zip(*self._fetch(cur, self._versions_sql).to_pydict().values()))
            cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                changed = {t for t in self.tables if now.get(t) != self.table_versions.get(t)}
                if changed & {"submissions", *APPEND_BY_SUBMISSION}:
                    changed |= {"submissions", *APPEND_BY_SUBMISSION}
                if changed & {"snapshots", *APPEND_BY_SNAPSHOT}:
                    changed |= {"snapshots", *APPEND_BY_SNAPSHOT}
                loads: list[tuple[str, str, pa.Table]] = []   # (table, mode, rows)
                full: set[str] = set(APPEND_TABLES) if whole else set()
                for parent, children, key in (("submissions", APPEND_BY_SUBMISSION, "submission_id"),
                                              ("snapshots", APPEND_BY_SNAPSHOT, "snapshot_id")):
                    if whole or parent not in changed:
                        continue
                    ids = self._fetch(cur, f"SELECT id FROM {parent}")
                    gone, new = self._diff(d, parent, ids)
                    if gone:  # rows were deleted (never in normal use): copy these tables whole
                        full.update((parent, *children))
                        continue
                    if new:
                        if parent == "submissions":
                            loads.append((parent, "append", self._fetch(
                                cur, f"SELECT {self._select(parent)} FROM {parent} WHERE id = ANY($1)", [new])))
                        for t in children:
                            loads.append((t, "append", self._fetch(
                                cur, f"SELECT {self._select(t)} FROM {t} WHERE {key} = ANY($1)", [new])))
                for t in APPEND_BY_ID:
                    if whole or t not in changed:
                        continue
                    top, count = d.execute(f"SELECT coalesce(max(id), 0), count(*) FROM {t}").fetchall()[0]
                    low = max(0, int(top) - ID_WINDOW)
                    got = self._fetch(cur, f"SELECT id FROM {t} WHERE id > $1", [low])
                    gone, missing = self._diff(d, t, got, low)
                    total = self._fetch(cur, f"SELECT count(*) AS n FROM {t}").column("n")[0].as_py()
                    if gone or total != int(count) + len(missing):
                        full.add(t)  # deleted rows, or a transaction that committed very late
                    elif missing:
                        loads.append((t, "append", self._fetch(
                            cur, f"SELECT {self._select(t)} FROM {t} WHERE id = ANY($1)", [missing])))
                loads = [x for x in loads if x[0] not in full]
                for t in self.tables:
                    if (t not in APPEND_TABLES and t in changed) or t in full:
                        loads.append((t, "replace", self._fetch(cur, f"SELECT {self._select(t)} FROM {t}")))
                if "snapshots" not in full and "snapshots" in changed:  # withdrawals change rows: re-read (small)
                    loads.append(("snapshots", "replace", self._fetch(cur, f"SELECT {self._select('snapshots')} FROM snapshots")))
            finally:
                cur.execute("ROLLBACK")
        self._pending_versions = now
        d.execute("BEGIN TRANSACTION")
        try:
            for t, mode, rows in loads:
                if mode == "replace":
                    d.execute(f"DELETE FROM {t}")
                if rows.num_rows:
                    d.register("_pg_rows", rows)
                    names = ", ".join(f'"{c}"' for c in rows.column_names)
                    d.execute(f"INSERT INTO {t} ({names}) SELECT {names} FROM _pg_rows")
                    d.unregister("_pg_rows")
            d.execute("COMMIT")
        except BaseException:
            d.execute("ROLLBACK")
            raise
        finally:
            d.close()
        self.table_versions = self._pending_versions

    def close(self, wait: float = 30.0) -> None:
        """Close the copy; a refresh under way (a page's, the listener's) is let finish first
        (at most ``wait`` seconds)."""
        locked = self._lock.acquire(timeout=wait)
        try:
            for c in (self._adbc, self.duck):
                try:
                    if c is not None:
                        c.close()
                except Exception:  # pragma: no cover
                    pass
            self._adbc = None
        finally:
            if locked:
                self._lock.release()


# --------------------------------------------------------------------------- the listener

#: the listening thread wakes at least this often to see whether it is to stop (``Store.close()`` waits about this long)
LISTEN_SLICE = 0.25
#: the data version is read anyway this often (seconds) when nothing was announced: a NOTIFY that
#: never came (a write made outside the application, a notification lost with a connection)
BACKSTOP_SECONDS = 3.0
#: seconds between two background refreshes at least (and at least as long as the last refresh took,
#: so that on a busy machine the listener holds the copy's lock at most half the time): the
#: announcements of a burst of writes arriving meanwhile are caught up by one refresh
REFRESH_GAP = 0.1
#: seconds to wait before reconnecting a lost listening connection: doubled after each failure, up to the second
RECONNECT_BACKOFF = (0.1, 30.0)


class Listener:
    """Keeps this process's copy (:class:`Mirror`) fresh in the background, so that a page
    finds it up to date instead of paying the refresh, and a write of another replica shows
    within a second without any action here.

    A daemon thread holds a PostgreSQL connection of its own (autocommit) doing
    ``LISTEN gongkai_data``. An announcement of a version the copy does not hold yet
    refreshes it at once (under the copy's lock, as a page read does); announcements
    arriving during a refresh or within :data:`REFRESH_GAP` after it (or as long as the
    refresh took, if longer) are caught up by one more refresh (a burst of writes costs
    two refreshes, not one each). Every
    :data:`BACKSTOP_SECONDS` without an announcement, and after every (re)connection, the
    data version is read anyway. A lost connection is re-made with growing waits (logged
    as a warning). :meth:`stop` ends the thread within about :data:`LISTEN_SLICE`.

    An accelerator only: every action still reads the data version before its first read
    (:meth:`HybridConnection.refresh`), so a read after one's own write sees it, listener or not.
    """

    def __init__(self, url: str, mirror: Mirror, *, backstop: float | None = None, gap: float | None = None):
        self.url, self.mirror = url, mirror
        self.backstop = BACKSTOP_SECONDS if backstop is None else backstop
        self.gap = REFRESH_GAP if gap is None else gap
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pg: PgConnection | None = None
        self._delay = RECONNECT_BACKOFF[0]
        self.connects = 0      # listening connections made (the first and every reconnection)
        self.notices = 0       # announcements received
        self.refreshes = 0     # background refreshes that brought the copy to a newer version
        self.listening = threading.Event()   # set while a connection is listening

    def start(self) -> "Listener":
        # a daemon thread (never keeps the process alive), and stopped before the interpreter
        # shuts down (see _stop_listeners): not cut off inside a refresh or with its connection open
        self._thread = threading.Thread(target=self._run, name="gongkai-pg-listener", daemon=True)
        self._thread.start()
        _RUNNING.add(self)
        return self

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def backend_pid(self) -> int | None:
        """The server process of the listening connection (None while not connected)."""
        pg = self._pg
        try:
            return None if pg is None or pg._conn.closed else pg._conn.info.backend_pid
        except Exception:  # pragma: no cover - closed meanwhile
            return None

    def stop(self, timeout: float = 2.0) -> bool:
        """Ask the thread to end and wait for it (at most ``timeout`` seconds: a refresh or a
        connection attempt under way is finished first); True when it has ended."""
        self._stop.set()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout)
        if not self.alive:
            _RUNNING.discard(self)
        return not self.alive

    # the thread ------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except Exception as e:
                if self._stop.is_set():
                    break
                cause = e.__cause__ or e
                self.listening.clear()
                if getattr(cause, "sqlstate", None) == "3D000" or re.search(r'database "[^"]*" does not exist', str(e)):
                    log.warning("listening for data changes on %s ended: the database is gone (%s)",
                                redact(self.url), str(e).strip().splitlines()[0] if str(e).strip() else "")
                    break
                log.warning("listening for data changes on %s failed (%s: %s); reconnecting in %.1f s",
                            redact(self.url), type(cause).__name__, (str(cause).strip().splitlines() or [""])[0],
                            self._delay)
                if self._stop.wait(self._delay):
                    break
                self._delay = min(self._delay * 2, RECONNECT_BACKOFF[1])
            finally:
                pg, self._pg = self._pg, None
                if pg is not None:
                    pg.close()
        self.listening.clear()

    def _listen(self) -> None:
        """Listen until asked to stop (returns) or the connection fails (raises)."""
        import psycopg

        self._pg = pg = PgConnection(self.url, connect_timeout=5)
        conn = pg._conn
        conn.execute(f"LISTEN {CHANNEL}")
        self.connects += 1
        self._delay = RECONNECT_BACKOFF[0]
        self.listening.set()
        self._catch_up(pg)   # what was written while nobody listened
        pending = False      # an announcement of a version the copy does not hold yet
        quiet_until = 0.0    # no refresh before this moment (the gap after the last one)
        next_poll = time.monotonic() + self.backstop
        while not self._stop.is_set():
            now = time.monotonic()
            if (pending and now >= quiet_until) or now >= next_poll:
                pending = False
                self._catch_up(pg)
                done = time.monotonic()
                quiet_until = done + max(self.gap, done - now)
                next_poll = done + self.backstop
                continue
            wait = min(LISTEN_SLICE, next_poll - now, quiet_until - now if pending else LISTEN_SLICE)
            try:
                # while nothing is pending: back at the first announcement (refreshed at once);
                # while one is: collect the others until the gap has passed
                for n in conn.notifies(timeout=max(wait, 0.0), stop_after=None if pending else 1):
                    self.notices += 1
                    try:
                        v = int(n.payload)
                    except ValueError:
                        v = None
                    if v is None or v > self.mirror.version[0]:
                        pending = True
            except psycopg.Error as e:
                raise _as_duckdb_error(e) from e

    def _catch_up(self, pg: PgConnection) -> None:
        version = pg.data_version()   # a failure here is the connection's: raised (reconnect)
        if self.mirror.holds(version):
            return
        try:
            self.mirror.refresh(version, newer_only=True)
            self.refreshes += 1
        except Exception as e:   # the next announcement or the backstop tries again; pages refresh themselves
            if not self._stop.is_set():
                log.warning("refreshing the copy of %s in the background failed: %s: %s", redact(self.url),
                            type(e).__name__, (str(e).strip().splitlines() or [""])[0])


#: the listeners started in this process and not yet stopped
_RUNNING: "weakref.WeakSet[Listener]" = weakref.WeakSet()


@atexit.register
def _stop_listeners() -> None:
    """At interpreter exit (a store nobody closed: a server stopped with Ctrl-C), stop every
    listener first: its thread ends and closes its connection instead of being cut off."""
    running = list(_RUNNING)
    for listener in running:
        listener._stop.set()   # all asked at once, then each awaited
    for listener in running:
        listener.stop()


# --------------------------------------------------------------------------- the connection the data layer gets

_READ = re.compile(r"^\s*\(?\s*(SELECT|WITH|FROM|SHOW|DESCRIBE|SUMMARIZE|PRAGMA|EXPLAIN|VALUES|TABLE)\b", re.I)
_WRITE_IN = re.compile(r"\b(INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)\b", re.I)
_TX = re.compile(r"^\s*(BEGIN|START\s+TRANSACTION|COMMIT|ROLLBACK|ABORT|END)\b", re.I)
_TARGET = re.compile(r"^\s*(?:WITH\b.*?\)\s*)?(INSERT\s+INTO|UPDATE|DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?)\s+\"?(\w+)", re.I | re.S)


class HybridConnection:
    """The data layer's connection on PostgreSQL: writes and transactions to PostgreSQL,
    reads to the DuckDB copy (refreshed first when the data version moved)."""

    dialect = "postgres"

    def __init__(self, pg: PgConnection, mirror: Mirror, *, on_close=None, strict: bool = True):
        self.pg = pg
        self.mirror = mirror
        # strict: the data version is checked before every read (a command, a test); else once per
        # action (a page run of the dashboard: one consistent state per page) and after own writes
        self.strict = strict
        self._fresh = False
        self._duck = mirror.cursor()
        self._last = None
        self._in_tx = False
        self._wrote = False
        self._epoch = False          # the write changed rows the copies treat as append-only
        self._parents: set[str] = set()   # parents inserted in the open transaction
        self._touched: set[str] = set()   # tables written since the last announcement
        self._on_close = on_close
        self.closed = False

    # routing -------------------------------------------------------------
    def execute(self, sql: str, params=None):
        code = _code(sql)
        tx = _TX.match(code)
        if tx:
            word = tx.group(1).upper()
            if word in ("BEGIN", "START"):
                self.pg.execute("BEGIN")
                self._in_tx, self._wrote, self._epoch = True, False, False
                self._parents, self._touched = set(), set()
            else:
                if not self._in_tx:  # as DuckDB: ending a transaction that is not open is an error
                    raise duckdb.TransactionException(
                        f"TransactionContext Error: cannot {word.lower()} - no transaction is active")
                wrote = self._wrote
                self._in_tx, self._wrote = False, False
                self.pg.execute("ROLLBACK" if word in ("ROLLBACK", "ABORT") else "COMMIT")
                if wrote and word not in ("ROLLBACK", "ABORT"):
                    self._committed()
                else:
                    self._epoch, self._parents, self._touched = False, set(), set()
            self._last = self.pg
            return self
        is_read = _READ.match(code) is not None and not _WRITE_IN.search(code)
        if self._in_tx or not is_read or _READS_CONTENT.search(code) and self._names_uncopied(code):
            try:
                self.pg.execute(sql, params)
            except duckdb.Error:
                if self._in_tx:
                    self._wrote = True  # the caller rolls back
                raise
            if not is_read:
                self._note_target(code)
                if self._in_tx:
                    self._wrote = True
                else:
                    self._committed()
            self._last = self.pg
            return self
        self.refresh()
        if params is None:
            self._duck.execute(sql)
        else:
            self._duck.execute(sql, params)
        self._last = self._duck
        return self

    @property
    def in_transaction(self) -> bool:
        return self._in_tx

    @staticmethod
    def _names_uncopied(code: str) -> bool:
        return any(re.search(rf"\b{t}\b", code) for t in NOT_COPIED)

    def _note_target(self, code: str) -> None:
        m = _TARGET.match(code)
        if not m:
            self._touched.update(self.mirror.tables)  # DDL or a statement not understood: every table
            return
        verb, table = m.group(1).split()[0].upper(), m.group(2).lower()
        if table in self.mirror.columns:
            self._touched.add(table)
        if table not in APPEND_TABLES or table == "snapshots":  # snapshots: re-read at every refresh
            return
        family = PARENT.get(table, table)
        if verb == "INSERT" and table in ("submissions", "snapshots"):
            self._parents.add(table)
        elif verb == "INSERT" and table in APPEND_BY_ID:
            return  # new ids: found by the id window
        elif family not in self._parents:
            # rows added to, changed in or deleted from what the copies may already hold
            self._epoch = True

    def _committed(self) -> None:
        self._fresh = False
        epoch, self._epoch = self._epoch, False
        touched, self._touched = self._touched, set()
        self._parents = set()
        try:
            self.pg.announce(epoch=epoch, tables=touched)
        except duckdb.Error:  # pragma: no cover - the next check reads the version anyway
            log.exception("announcing a write failed")

    def refresh(self) -> None:
        """Bring this process's copy up to the database's current data version."""
        if self._fresh and not self.strict:
            return
        self.mirror.refresh(self.pg.data_version())
        self._fresh = True

    # DuckDB's interface --------------------------------------------------
    def sql(self, query: str, params=None):
        if self._in_tx:
            raise duckdb.InvalidInputException("relational reads are not available inside a PostgreSQL transaction")
        self.refresh()
        return self._duck.sql(query, params=params)

    def _settle(self) -> None:
        """End a read of the copy that a later statement (sent to PostgreSQL) has superseded."""
        if self._last is not self._duck:
            try:
                self._duck.abort()
            except duckdb.Error:  # pragma: no cover - nothing pending
                pass

    def register(self, name: str, table) -> None:
        self._settle()
        self._duck.register(name, table)
        self.pg.register(name, table)

    def unregister(self, name: str) -> None:
        self._settle()
        try:
            self._duck.unregister(name)
        except duckdb.Error:  # pragma: no cover
            pass
        self.pg.unregister(name)

    @property
    def description(self):
        return None if self._last is None else self._last.description

    def fetchall(self):
        return self._last.fetchall()

    def fetchone(self):
        return self._last.fetchone()

    def fetchmany(self, size: int = 1):
        return self._last.fetchmany(size)

    def df(self):
        return self._last.df()

    fetchdf = fetch_df = df

    def arrow(self):
        return self._last.fetch_arrow_table() if self._last is self._duck else self._last.arrow()

    fetch_arrow_table = arrow

    def cursor(self):
        """Another handle on this action's connection (its own cursor of the copy, the same
        PostgreSQL connection: the dashboard hands each page run one of these)."""
        return HybridConnection(self.pg, self.mirror, on_close=None, strict=self.strict)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self._duck.close()
        except Exception:  # pragma: no cover
            pass
        if self._in_tx:
            try:
                self.pg.execute("ROLLBACK")
            except duckdb.Error:
                pass
            self._in_tx = False
        if self._on_close is not None:
            self._on_close(self.pg)


class Store:
    """A PostgreSQL database for this process: one DuckDB copy, a pool of connections.

    ``cursor()`` gives a :class:`HybridConnection` (a pooled PostgreSQL connection
    and a cursor of the copy); ``close()`` closes them all. ``listen=True`` (a
    long-running process: the dashboard's connection manager) also starts a
    :class:`Listener` keeping the copy fresh in the background; a command does not
    (it reads the data version before every read anyway, and would only pay for a
    connection and a thread)."""

    def __init__(self, url: str, *, prepare_pg, prepare_duck, pool_size: int = 8, listen: bool = False):
        self.url = url
        self.listener: Listener | None = None
        first = PgConnection(url)
        try:
            # processes starting together (replicas, parallel uploaders) define the compatibility
            # functions and change counters one at a time: concurrent CREATE OR REPLACE of one
            # function fails on the server ("tuple concurrently updated")
            first.execute("SELECT pg_advisory_lock(4242002)")
            try:
                first.prepare_compat()
                prepare_pg(first)
                self.mirror = Mirror(url, prepare_duck)
                self.mirror.create_counters(first)
            finally:
                first.execute("SELECT pg_advisory_unlock(4242002)")
        except BaseException:
            first.close()
            raise
        self._idle: list[PgConnection] = [first]
        self._mu = threading.Lock()
        self.pool_size = pool_size
        if listen:  # a long-running process (the dashboard): the copy kept fresh in the background
            self.listener = Listener(url, self.mirror).start()

    def _take(self) -> PgConnection:
        with self._mu:
            while self._idle:
                pg = self._idle.pop()
                if not pg._conn.closed:
                    return pg
        return PgConnection(self.url)

    def _give(self, pg: PgConnection) -> None:
        if pg.in_transaction:
            try:
                pg.execute("ROLLBACK")
            except duckdb.Error:
                pg.close()
                return
        pg._registered.clear()
        pg._materialised.clear()
        with self._mu:
            if len(self._idle) < self.pool_size and not pg._conn.closed:
                self._idle.append(pg)
                return
        pg.close()

    def cursor(self, owner: bool = False, strict: bool = True) -> HybridConnection:
        """A connection for one action; ``owner=True``: closing it closes this store too
        (a command line's single connection); ``strict=False``: the data version is read
        once (and after the action's own writes), not before every read."""
        if owner:
            def done(pg: PgConnection) -> None:
                self._give(pg)
                self.close()
            return HybridConnection(self._take(), self.mirror, on_close=done)
        return HybridConnection(self._take(), self.mirror, on_close=self._give, strict=strict)

    def data_version(self) -> int:
        pg = self._take()
        try:
            return pg.data_version()
        finally:
            self._give(pg)

    def close(self) -> None:
        if self.listener is not None:
            if not self.listener.stop():
                log.warning("the listener of %s is still finishing a refresh or a connection attempt", redact(self.url))
        with self._mu:
            idle, self._idle = self._idle, []
        for pg in idle:
            pg.close()
        self.mirror.close()
