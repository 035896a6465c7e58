"""Small helpers for the metrics tests: rows inserted straight into DuckDB
(no workbook reader involved)."""
from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

from data.store import connect
from core.scheme import scheme_for

D = dt.date.fromisoformat

TOWN_REQUIRED = ["C01", "C03", "C07", "C15", "C20", "C21", "C22", "C23", "C24", "C25", "C26", "C27", "C28"]
DEPT_REQUIRED = ["C01", "C03", "C07", "C15", "C16", "C18", "C19", "C20"]


#: set by the tests' conftest while a test runs on PostgreSQL: makes a fresh database, returns its URL
FRESH_DATABASE: list = [None]


def new_db(path=None):
    """A new empty database: ``path``, else one of the test's backend (in memory on DuckDB)."""
    if path is None:
        path = FRESH_DATABASE[0]() if FRESH_DATABASE[0] is not None else ":memory:"
    return connect(path)


def add_unit(con, name, unit_type="部门", extras=(), sort_order=None):
    if sort_order is None:
        sort_order = con.execute("SELECT coalesce(max(sort_order), 0) + 1 FROM units").fetchone()[0]
    con.execute("INSERT INTO units VALUES (?, ?, ?, ?)", [name, unit_type, list(extras), sort_order])


def max_scores(year=2019, **override):
    """Self scores at max for every self-scored indicator (incl. the bonus J1),
    with keyword overrides, e.g. ``max_scores(B1=3)``."""
    s = scheme_for(year)
    out = {i.code: i.max for i in s.self_indicators}
    out.update({k: Decimal(str(v)) for k, v in override.items()})
    return out


def submit(con, unit, year=2019, received="2020-01-10", scores=None, status="待审核", version=None):
    """Store an accepted version (the next one unless ``version``); returns its id."""
    if version is None:
        version = con.execute("SELECT coalesce(max(version), 0) + 1 FROM submissions WHERE unit = ? AND year = ?",
                              [unit, year]).fetchone()[0]
    content = f"{unit}-{year}-{version}".encode()
    sid = con.execute(
        "INSERT INTO submissions (unit, year, version, received, file_name, sha256, content) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        [unit, year, version, D(received) if isinstance(received, str) else received,
         f"{unit}.xlsx", hashlib.sha256(content).hexdigest(), content]).fetchone()[0]
    if scores is None:
        scores = max_scores(year)
    for n, (code, score) in enumerate(scores.items(), start=4):
        con.execute("INSERT INTO self_scores (submission_id, code, score, sheet_row) VALUES (?, ?, ?, ?)",
                    [sid, code, Decimal(str(score)), n])
    con.execute("INSERT INTO workflow (unit, year, status) VALUES (?, ?, ?) "
                "ON CONFLICT (unit, year) DO UPDATE SET status = excluded.status", [unit, year, status])
    return sid


def _row(con, table, sid):
    return con.execute(f"SELECT coalesce(max(sheet_row), 3) + 1 FROM {table} WHERE submission_id = ?",
                       [sid]).fetchone()[0]


def item(con, sid, formed, published=None, category="C01", title=None):
    row = _row(con, "ledger_items", sid)
    con.execute("INSERT INTO ledger_items (submission_id, sheet_row, seq, title, category, formed, published) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [sid, row, str(row - 3), title or f"信息{row}", category, D(formed) if isinstance(formed, str) else formed,
                 (D(published) if isinstance(published, str) else published)])
    return row


def request(con, sid, received, answered=None, corrected=None, extended=False, review_result=None, no=None,
            result=None):
    row = _row(con, "requests", sid)

    def d(v):
        return D(v) if isinstance(v, str) else v

    con.execute("INSERT INTO requests (submission_id, sheet_row, request_no, received, corrected, extended, answered, "
                "result, review_result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [sid, row, no or f"YSQ-{row}", d(received), d(corrected), extended, d(answered),
                 result or ("予以公开" if answered else None), review_result])
    return row


def cover(con, sid, categories, formed="2019-03-01", published="2019-03-05"):
    """One on-time published item per category."""
    for c in categories:
        item(con, sid, formed, published, category=c)


def row_of(df, unit):
    r = df[df["unit"] == unit]
    assert len(r) == 1, f"{unit} rows: {len(r)}"
    return r.iloc[0]


def add_account(con, name, role, unit=None):
    """An account row (the closing and review functions read the acting user's role and unit from it)."""
    con.execute("INSERT INTO users (name, role, unit, password_hash) VALUES (?, ?, ?, 'x')", [name, role, unit])
