"""年报勾稽: the checks T1–T4 and L1–L4 of annual-report.md, as one set-based
SQL query over the stored report cells (``annual_report_cells``) and ledger
rows (``requests``).

This module is the one definition of the checks. It lives in ``data``
because ingest runs it inside the transaction that stores an accepted
workbook (the findings are stored with the submission and printed by
``python -m data ingest``, and ``data`` never imports ``metrics``);
``metrics.reconcile`` reuses it (re-checking stored submissions) and holds the
read side (units × rules, year-over-year share, the CSV of ``python -m
metrics reconcile``).

A finding is a warning located at the cell that states the total being
checked, with both numbers: ``expected`` is the figure the cell should agree
with (the other side of the rule, or the ledger's count), ``actual`` the
report's figure.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from data.annual import (APPLICANT_COLS, COL3, COLUMNS_3, LINES, RESULT_ROWS, REVIEW_COLS, REVIEW_GROUPS,
                         REVIEW_RESULT_COL, S_ANNUAL, printed_label)
from core.errors import Issue, warning

#: rule -> short statement (pages, CSV readers, the county matrix)
RULES: dict[str, str] = {
    "T1": "本年新收+上年结转 = 办理结果总计+结转下年度",
    "T2": "办理结果总计 = 各项办理结果之和",
    "T3": "每行：总计 = 各类申请人之和",
    "T4": "表四每组：总计 = 维持+纠正+其他结果+尚未审结",
    "L1": "本年新收 = 台账本年收到的申请数（按申请人类型）",
    "L2": "各类办理结果 ≥ 台账本年办结数（上年无结转时相等）",
    "L3": "结转下年度 ≥ 台账年末未办结数（上年无结转时相等）",
    "L4": "表四各结果合计 ≥ 台账复议诉讼结果数",
}
RULE_CODES = tuple(RULES)
#: issue code of a finding (the rule in lower case after it: annual_t1 …)
ISSUE_PREFIX = "annual_"

APPLICANT_NAME = {code: COL3[code].name for code in APPLICANT_COLS}


def _q(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _in(codes) -> str:
    return "(" + ", ".join(_q(c) for c in codes) + ")"


def _values(rows: list[tuple]) -> str:
    return "VALUES " + ", ".join("(" + ", ".join(_q(v) if isinstance(v, str) else str(v) for v in r) + ")"
                                 for r in rows)


_ITEMS = [c for rows in RESULT_ROWS.values() for c in rows]
_COLS = _values([(c.code, c.name, n) for n, c in enumerate(COLUMNS_3)])
_ROWS = _values([(ln.code, printed_label(ln.code), n) for n, ln in enumerate(LINES)])
_GROUPS = _values([(g, name, n) for n, (g, name) in enumerate(REVIEW_GROUPS)])
_RESULTS = _values([(name, n, name) for n, (name, rows) in enumerate(RESULT_ROWS.items())])
#: result group -> the rows of table 三 that count it (one row per pair)
_RESULT_ROWS = _values([(name, code) for name, rows in RESULT_ROWS.items() for code in dict.fromkeys(rows)])
_REVIEW = _values([(v, col, n, dict((c, nm) for c, nm, _ in REVIEW_COLS)[col])
                   for n, (v, col) in enumerate(REVIEW_RESULT_COL.items())])
_APPL = _values([(COL3[c].name, c) for c in APPLICANT_COLS])
_T4_PARTS = [c for c, _, _ in REVIEW_COLS if c != "total"]


def _s(expr: str) -> str:
    """SQL: an integer as text."""
    return f"CAST({expr} AS VARCHAR)"


#: The checks. Parameter ``$ids``: the submission ids to check (INTEGER[]).
#: Rows: submission_id, rule, ord (rule order), k (order within the rule),
#: cell, expected, actual, message.
CHECK_SQL = f"""
WITH
t AS (
    SELECT s.id AS sid, make_date(s.year, 1, 1) AS y0, make_date(s.year, 12, 31) AS y1
    FROM submissions s JOIN annual_reports a ON a.submission_id = s.id
    WHERE s.id IN (SELECT unnest($ids::INTEGER[]))
),
cols(col_code, col_name, ord) AS ({_COLS}),
rownames(row_code, row_name, ord) AS ({_ROWS}),
grps(grp, grp_name, ord) AS ({_GROUPS}),
res(result, ord, res_name) AS ({_RESULTS}),
res_rows(result, row_code) AS ({_RESULT_ROWS}),
rev(review, col_code, ord, col_name) AS ({_REVIEW}),
appl(applicant_type, col_code) AS ({_APPL}),
c AS (SELECT c.* FROM annual_report_cells c JOIN t ON c.submission_id = t.sid),
-- table 三, one row per submission and column
p AS (
    SELECT submission_id AS sid, col_code,
           sum(value) FILTER (WHERE row_code = 'new') AS new_,
           sum(value) FILTER (WHERE row_code = 'carried_in') AS cin,
           sum(value) FILTER (WHERE row_code = 'r_total') AS rtot,
           sum(value) FILTER (WHERE row_code = 'carried_out') AS cout,
           coalesce(sum(value) FILTER (WHERE row_code IN {_in(_ITEMS)}), 0) AS items,
           any_value(cell) FILTER (WHERE row_code = 'r_total') AS total_cell,
           any_value(cell) FILTER (WHERE row_code = 'new') AS new_cell,
           any_value(cell) FILTER (WHERE row_code = 'carried_out') AS cout_cell
    FROM c WHERE row_code IN {_in([ln.code for ln in LINES])}
    GROUP BY submission_id, col_code
),
cin0 AS (SELECT sid, cin = 0 AS no_carry FROM p WHERE col_code = 'total'),
-- table 三, one row per submission and row: total against the six applicant columns
rowsum AS (
    SELECT submission_id AS sid, row_code,
           sum(value) FILTER (WHERE col_code IN {_in(APPLICANT_COLS)}) AS parts,
           any_value(value) FILTER (WHERE col_code = 'total') AS total,
           any_value(cell) FILTER (WHERE col_code = 'total') AS total_cell
    FROM c WHERE row_code IN {_in([ln.code for ln in LINES])}
    GROUP BY submission_id, row_code
),
-- table 四, one row per submission and group
g4 AS (
    SELECT submission_id AS sid, row_code AS grp,
           sum(value) FILTER (WHERE col_code IN {_in(_T4_PARTS)}) AS parts,
           any_value(value) FILTER (WHERE col_code = 'total') AS total,
           any_value(cell) FILTER (WHERE col_code = 'total') AS total_cell
    FROM c WHERE row_code IN {_in([g for g, _ in REVIEW_GROUPS])}
    GROUP BY submission_id, row_code
),
-- the ledger: requests received in the assessment year (1 January – 31 December)
req AS (
    SELECT t.sid, r.applicant_type, r.result, r.review_result,
           r.answered IS NOT NULL AND r.answered <= t.y1 AS answered_in_year
    FROM requests r JOIN t ON r.submission_id = t.sid
    WHERE r.received BETWEEN t.y0 AND t.y1
),
led AS (
    SELECT t.sid, count(req.sid) AS n_new,
           count(req.sid) FILTER (WHERE NOT req.answered_in_year) AS n_open,
           coalesce(bool_and(req.applicant_type IN (SELECT applicant_type FROM appl)), true) AS typed
    FROM t LEFT JOIN req ON req.sid = t.sid
    GROUP BY t.sid
),
-- L2: per result group, the ledger's count and the report's (column 总计); a sum of no rows is 0,
-- the cell range of no rows stays NULL
l2rep AS (
    SELECT c.submission_id AS sid, rr.result, sum(c.value) AS n_rep, min(c.cell) AS cell0,
           min(c.sheet_row) AS row0, max(c.sheet_row) AS row1
    FROM c JOIN res_rows rr ON rr.row_code = c.row_code
    WHERE c.col_code = 'total'
    GROUP BY c.submission_id, rr.result
),
l2led AS (
    SELECT sid, result, count(*) AS n FROM req WHERE answered_in_year GROUP BY sid, result
),
l2 AS (
    SELECT t.sid, res.result, res.ord, res.res_name, coalesce(l.n, 0) AS n_led, coalesce(r.n_rep, 0) AS n_rep,
           regexp_extract(r.cell0, '^[A-Z]+') || r.row0
               || CASE WHEN r.row0 < r.row1 THEN ':' || regexp_extract(r.cell0, '^[A-Z]+') || r.row1 ELSE '' END AS cell
    FROM t CROSS JOIN res
         LEFT JOIN l2rep r ON r.sid = t.sid AND r.result = res.result
         LEFT JOIN l2led l ON l.sid = t.sid AND l.result = res.result
),
-- L4: per 复议诉讼结果, the ledger's count and the sum over the three groups of table 四
l4rep AS (
    SELECT submission_id AS sid, col_code, sum(value) AS n_rep,
           string_agg(cell, '、' ORDER BY sheet_row, cell) AS cells,
           any_value(cell) FILTER (WHERE row_code = {_q(REVIEW_GROUPS[0][0])}) AS cell
    FROM c WHERE row_code IN {_in([g for g, _ in REVIEW_GROUPS])}
    GROUP BY submission_id, col_code
),
l4led AS (
    SELECT sid, review_result, count(*) AS n FROM req GROUP BY sid, review_result
),
l4 AS (
    SELECT t.sid, rev.review, rev.ord, rev.col_name, coalesce(l.n, 0) AS n_led, coalesce(r.n_rep, 0) AS n_rep,
           r.cells, r.cell
    FROM t CROSS JOIN rev
         LEFT JOIN l4rep r ON r.sid = t.sid AND r.col_code = rev.col_code
         LEFT JOIN l4led l ON l.sid = t.sid AND l.review_result = rev.review
),
f AS (
    SELECT sid, 'T1' AS rule, 1 AS ord, cols.ord AS k, total_cell AS cell,
           new_ + cin AS expected, rtot + cout AS actual,
           cols.col_name || '列：“本年新收+上年结转”（' || {_s('new_ + cin')} || '）应等于“办理结果总计+结转下年度”（'
               || {_s('rtot + cout')} || '）' AS message
    FROM p JOIN cols USING (col_code) WHERE new_ + cin <> rtot + cout
    UNION ALL
    SELECT sid, 'T2', 2, cols.ord, total_cell, items, rtot,
           cols.col_name || '列：“办理结果总计”（' || {_s('rtot')} || '）应等于各项办理结果之和（' || {_s('items')} || '）'
    FROM p JOIN cols USING (col_code) WHERE items <> rtot
    UNION ALL
    SELECT sid, 'T3', 3, rownames.ord, total_cell, parts, total,
           '“' || rownames.row_name || '”一行：“总计”（' || {_s('total')} || '）应等于各类申请人之和（' || {_s('parts')} || '）'
    FROM rowsum JOIN rownames USING (row_code) WHERE parts <> total
    UNION ALL
    SELECT sid, 'T4', 4, grps.ord, total_cell, parts, total,
           '表四“' || grps.grp_name || '”：“总计”（' || {_s('total')} || '）应等于 结果维持+结果纠正+其他结果+尚未审结（'
               || {_s('parts')} || '）'
    FROM g4 JOIN grps USING (grp) WHERE parts <> total
    UNION ALL
    SELECT p.sid, 'L1', 5, 0, p.new_cell, led.n_new, p.new_,
           '“本年新收政府信息公开申请数量”总计（' || {_s('p.new_')} || '）应等于依申请公开台账中本年收到的申请数（'
               || {_s('led.n_new')} || '）'
    FROM p JOIN led USING (sid) WHERE p.col_code = 'total' AND p.new_ <> led.n_new
    UNION ALL
    SELECT p.sid, 'L1', 5, cols.ord + 1, p.new_cell, coalesce(n.n, 0), p.new_,
           '“本年新收政府信息公开申请数量”' || cols.col_name || '（' || {_s('p.new_')} || '）应等于台账中申请人类型为“'
               || cols.col_name || '”的本年申请数（' || {_s('coalesce(n.n, 0)')} || '）'
    FROM p JOIN led USING (sid) JOIN cols USING (col_code)
         LEFT JOIN (SELECT req.sid, appl.col_code, count(*) AS n FROM req JOIN appl USING (applicant_type)
                    GROUP BY ALL) n ON n.sid = p.sid AND n.col_code = p.col_code
    WHERE led.typed AND p.col_code IN {_in(APPLICANT_COLS)} AND p.new_ <> coalesce(n.n, 0)
    UNION ALL
    SELECT l2.sid, 'L2', 6, l2.ord, l2.cell, l2.n_led, l2.n_rep,
           CASE WHEN cin0.no_carry
                THEN '上年无结转，“' || l2.res_name || '”总计（' || {_s('l2.n_rep')} || '）应等于台账中本年收到并答复、办理结果为“'
                     || l2.result || '”的申请数（' || {_s('l2.n_led')} || '）'
                ELSE '“' || l2.res_name || '”总计（' || {_s('l2.n_rep')} || '）不应少于台账中本年收到并答复、办理结果为“'
                     || l2.result || '”的申请数（' || {_s('l2.n_led')} || '）' END
    FROM l2 JOIN cin0 USING (sid)
    WHERE l2.n_led > l2.n_rep OR (cin0.no_carry AND l2.n_led <> l2.n_rep)
    UNION ALL
    SELECT p.sid, 'L3', 7, 0, p.cout_cell, led.n_open, p.cout,
           CASE WHEN cin0.no_carry
                THEN '上年无结转，“结转下年度继续办理”总计（' || {_s('p.cout')} || '）应等于台账中本年收到、至12月31日尚未答复的申请数（'
                     || {_s('led.n_open')} || '）'
                ELSE '“结转下年度继续办理”总计（' || {_s('p.cout')} || '）不应少于台账中本年收到、至12月31日尚未答复的申请数（'
                     || {_s('led.n_open')} || '）' END
    FROM p JOIN led USING (sid) JOIN cin0 USING (sid)
    WHERE p.col_code = 'total' AND (led.n_open > p.cout OR (cin0.no_carry AND led.n_open <> p.cout))
    UNION ALL
    SELECT sid, 'L4', 8, ord, cell, n_led, n_rep,
           '表四三组“' || col_name || '”合计（' || {_s('n_rep')} || '，' || cells || '）不应少于台账中复议诉讼结果为“'
               || review || '”的本年申请数（' || {_s('n_led')} || '）'
    FROM l4 WHERE n_led > n_rep
)
SELECT sid AS submission_id, rule, ord, k, cell, expected, actual, message
FROM f ORDER BY sid, ord, k, cell
"""


@dataclass(frozen=True)
class Finding:
    submission_id: int
    rule: str
    cell: str
    expected: int
    actual: int
    message: str

    @property
    def location(self) -> str:
        return f"{S_ANNUAL}!{self.cell}"

    def issue(self) -> Issue:
        return warning(ISSUE_PREFIX + self.rule.lower(), f"年报勾稽{self.rule}：{self.message}", S_ANNUAL, self.cell)


#: the tables the checks read, each with the column naming its submission
CHECK_TABLES = {"submissions": "id", "annual_reports": "submission_id", "annual_report_cells": "submission_id",
                "requests": "submission_id"}
_SCRATCH = threading.local()


def _scratch() -> duckdb.DuckDBPyConnection:
    """This thread's in-memory DuckDB with the product's schema (for checks over PostgreSQL rows)."""
    if getattr(_SCRATCH, "con", None) is None:
        from data.store import migrate

        c = duckdb.connect(":memory:")
        migrate(c)
        c.execute("ALTER TABLE submissions ALTER COLUMN content DROP NOT NULL")
        _SCRATCH.con = c
    return _SCRATCH.con


def _in_server_transaction(con) -> bool:
    return getattr(con, "dialect", "duckdb") == "postgres" and bool(getattr(con, "in_transaction", False))


def _check_rows(con, ids: list[int]) -> list[tuple]:
    """The rows of CHECK_SQL for ``ids``. The checks are DuckDB SQL: on PostgreSQL they run
    in-process over the rows of these submissions as the caller's transaction sees them."""
    if not _in_server_transaction(con):
        return con.execute(CHECK_SQL, {"ids": ids}).fetchall()
    scratch = _scratch()
    scratch.execute("BEGIN TRANSACTION")
    try:
        for table, key in CHECK_TABLES.items():
            cols = [r[0] for r in scratch.execute(
                "SELECT column_name FROM duckdb_columns() WHERE table_name = ? AND schema_name = 'main' "
                "ORDER BY column_index", [table]).fetchall() if r[0] != "content"]
            names = ", ".join(cols)
            rows = con.execute(f"SELECT {names} FROM {table} WHERE {key} = ANY(?)", [ids]).arrow()
            if rows.num_rows:
                scratch.register("_check_rows", rows)
                scratch.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM _check_rows")
                scratch.unregister("_check_rows")
        return scratch.execute(CHECK_SQL, {"ids": ids}).fetchall()
    finally:
        scratch.execute("ROLLBACK")


def check(con: duckdb.DuckDBPyConnection, submission_ids: list[int]) -> list[Finding]:
    """Run the checks over stored submissions (those without a report give nothing)."""
    if not submission_ids:
        return []
    rows = _check_rows(con, [int(i) for i in submission_ids])
    return [Finding(int(sid), rule, cell, int(exp), int(act), msg) for sid, rule, _o, _k, cell, exp, act, msg in rows]


def store_findings(con: duckdb.DuckDBPyConnection, submission_ids: list[int]) -> list[Finding]:
    """(Re)compute and store the findings of these submissions (inside the caller's transaction)."""
    if not submission_ids:
        return []
    ids = [int(i) for i in submission_ids]
    con.execute("DELETE FROM reconcile_findings WHERE submission_id IN (SELECT unnest($ids::INTEGER[]))", {"ids": ids})
    if _in_server_transaction(con):
        rows = _check_rows(con, ids)
        seq: dict[int, int] = {}
        for sid, rule, _o, _k, cell, exp, act, msg in sorted(rows, key=lambda r: (r[0], r[2], r[3], r[4])):
            seq[sid] = seq.get(sid, 0) + 1
            con.execute("INSERT INTO reconcile_findings (submission_id, seq, rule, cell, expected, actual, message) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)", [sid, seq[sid], rule, cell, exp, act, msg])
    else:
        con.execute(f"""INSERT INTO reconcile_findings (submission_id, seq, rule, cell, expected, actual, message)
                        SELECT submission_id, row_number() OVER (PARTITION BY submission_id ORDER BY ord, k, cell),
                               rule, cell, expected, actual, message
                        FROM ({CHECK_SQL})""", {"ids": ids})
    return [Finding(int(r[0]), r[1], r[2], int(r[3]), int(r[4]), r[5]) for r in con.execute(
        """SELECT submission_id, rule, cell, expected, actual, message FROM reconcile_findings
           WHERE submission_id IN (SELECT unnest($ids::INTEGER[])) ORDER BY submission_id, seq""",
        {"ids": ids}).fetchall()]


def store_report(con: duckdb.DuckDBPyConnection, submission_id: int, report) -> None:
    """Store the cells of an :class:`~data.annual.AnnualReport` read from a workbook."""
    con.execute("INSERT INTO annual_reports (submission_id, edition) VALUES (?, ?)", [submission_id, report.edition])
    cells = report.cells
    con.register("_annual_cells", pa.table({
        "submission_id": pa.array([submission_id] * len(cells), pa.int32()),
        "row_code": pa.array([c.row_code for c in cells], pa.string()),
        "col_code": pa.array([c.col_code for c in cells], pa.string()),
        "value": pa.array([c.value for c in cells], pa.int64()),
        "sheet_row": pa.array([c.row for c in cells], pa.int32()),
        "cell": pa.array([c.cell for c in cells], pa.string()),
    }))
    try:
        con.execute("INSERT INTO annual_report_cells (submission_id, row_code, col_code, value, sheet_row, cell) "
                    "SELECT * FROM _annual_cells")
    finally:
        con.unregister("_annual_cells")


def findings_json(findings: list[Finding]) -> str:
    return json.dumps([f.issue().to_dict() for f in findings], ensure_ascii=False)

