"""The demonstration county's annual reports (sheet 年报数据, annual-report.md).

From 2021 on every unit copies tables 三 and 四 of its published
政府信息公开工作年度报告 into its workbook. The numbers here are derived from
the unit's own 依申请公开台账, so that the checks T1–T4 and L1–L4 pass — except
for the two mistakes the story plants (:class:`demo.generate.Story`):

* ``annual_t1`` (unit, year): the clerk copied 上年结转 one too high in one
  applicant column and in 总计 — T1 fails in those two columns, by one each;
* ``annual_l1`` (unit, year): the report counts a request (received and
  answered in the year, 予以公开) that was never entered in the ledger — L1
  fails on 总计 and on the request's applicant column. The unit had a request
  carried over from the year before, so the result and carry-over rules
  (L2, L3) compare with ≤ and still pass.

How the report follows the ledger (the year is 1 January – 31 December):
本年新收 counts the ledger's requests by 申请人类型; 上年结转 is what was still
open at the end of the year before (from that year's ledger); the result rows
count the requests answered in the year, the carried-in ones included, each
result group spread over its items (不予公开 1–8 …); 结转下年度 counts the
requests not answered by 31 December. Table 四 counts the ledger's
复议诉讼结果, most under 行政复议, some 未经复议直接起诉.

Deterministic: each report uses its own generator (seed, unit, year), so the
rest of the county does not change when the reports do.
"""
from __future__ import annotations

import datetime as dt
import random
from typing import Iterable

from data.annual import (APPLICANT_COLS, RESULT_ROWS, REVIEW_COLS, REVIEW_GROUPS, REVIEW_RESULT_COL, AnnualReport, ReportCell,
                         lines_of, published_layout)
from core.vocab import APPLICANT_TYPES, RESULTS

#: the first year the county's units fill 年报数据 (2019–2020: not filled)
ANNUAL_FROM = 2021
#: the edition of the national format the demonstration units copy (2021 format from 2021 on)
EDITION = 2021

#: 申请人类型 -> column of table 三
APPLICANT_COL = dict(zip(APPLICANT_TYPES, APPLICANT_COLS))
#: how a result group is spread over its items (weights, in the published order)
ITEM_WEIGHTS = {
    "不予公开": (1, 2, 1, 6, 5, 8, 2, 3),
    "无法提供": (12, 4, 1),
    "不予处理": (5, 3, 1, 1, 2),
    "其他处理": (3, 1, 2),
}
#: 复议诉讼结果 recorded in a ledger: which group of table 四 (行政复议 mostly)
REVIEW_GROUP_WEIGHTS = (("rv_review", 8), ("rv_direct", 2))

Values = dict  # (row_code, col_code) -> int


def open_at_year_end(requests: Iterable, year: int) -> list[tuple[str, str]]:
    """(申请人类型, 办理结果) of the ledger's requests received in ``year`` and not answered
    by 31 December (办理结果 empty when not answered yet): the report's 结转下年度."""
    end = dt.date(year, 12, 31)
    return [(r.applicant_type, r.result if r.answered else "") for r in requests
            if dt.date(year, 1, 1) <= r.received <= end and (r.answered is None or r.answered > end)]


def report_values(rng: random.Random, year: int, requests: list, carried_in: list[tuple[str, str]],
                  edition: int = EDITION) -> Values:
    """Tables 三 and 四 as the unit's ledger for ``year`` gives them (every input cell, zeros
    included). ``carried_in``: :func:`open_at_year_end` of the year before; a carried-in
    request whose result the ledger does not know yet gets one here (it was answered in
    ``year``)."""
    y0, y1 = dt.date(year, 1, 1), dt.date(year, 12, 31)
    v: Values = {}
    codes = [ln.code for ln in lines_of(edition)]
    for code in codes:
        for c in (*APPLICANT_COLS, "total"):
            v[(code, c)] = 0

    def add(code: str, col: str, n: int = 1) -> None:
        v[(code, col)] += n
        v[(code, "total")] += n

    def answered(col: str, result: str) -> None:
        rows = RESULT_ROWS[result]
        if result == "其他处理":
            rows = ("r_other",) if edition == 2019 else rows[1:]
        weights = ITEM_WEIGHTS.get(result)
        item = rng.choices(rows, weights=weights)[0] if weights and len(rows) > 1 else rows[0]
        add(item, col)
        add("r_total", col)

    for applicant, result in carried_in:
        col = APPLICANT_COL.get(applicant, "other")
        add("carried_in", col)
        answered(col, result or rng.choices(RESULTS, weights=[45, 12, 8, 22, 8, 5])[0])
    for r in requests:
        if not y0 <= r.received <= y1:
            continue
        col = APPLICANT_COL.get(r.applicant_type, "other")
        add("new", col)
        if r.answered is not None and r.answered <= y1 and r.result:
            answered(col, r.result)
        else:
            add("carried_out", col)
    for g, _ in REVIEW_GROUPS:
        for c, _, _ in REVIEW_COLS:
            v[(g, c)] = 0
    for r in requests:
        col = REVIEW_RESULT_COL.get(r.review_result)
        if col is None:
            continue
        g = rng.choices([g for g, _ in REVIEW_GROUP_WEIGHTS], weights=[w for _, w in REVIEW_GROUP_WEIGHTS])[0]
        v[(g, col)] += 1
        v[(g, "total")] += 1
    return v


def plant_t1(rng: random.Random, v: Values) -> str:
    """上年结转 copied one too high in one applicant column (and so in 总计): T1 fails in
    both columns by one, every other rule still holds. Returns the column."""
    col = rng.choice(("natural", "natural", "business", "other"))
    v[("carried_in", col)] += 1
    v[("carried_in", "total")] += 1
    return col


def plant_l1(v: Values, col: str = "natural") -> None:
    """A request received and answered in the year (予以公开) counted in the report but
    missing from the ledger: 本年新收 one more than the ledger, the report still adds up."""
    for code in ("new", "r_open", "r_total"):
        v[(code, col)] += 1
        v[(code, "total")] += 1


def as_report(v: Values, edition: int = EDITION) -> AnnualReport:
    """The values as the validator's :class:`AnnualReport`, cells where the official template puts them."""
    lay = published_layout(edition, "年报数据")
    cells = [ReportCell(rc, cc, n, *_at(lay.inputs[(rc, cc)])) for (rc, cc), n in v.items()]
    return AnnualReport(edition, cells, filled=True)


def _at(rc: tuple[int, int]) -> tuple[int, int]:
    return rc[0], rc[1] - 1


def values_of(report: AnnualReport) -> Values:
    return {(c.row_code, c.col_code): c.value for c in report.cells}


def as_2019_edition(v: Values) -> Values:
    """The same report copied into the 2019 format: 其他处理 one row (the sum of its three items)."""
    out = {k: n for k, n in v.items() if not k[0].startswith("r_other_")}
    for c in (*APPLICANT_COLS, "total"):
        out[("r_other", c)] = sum(v.get((f"r_other_{k}", c), 0) for k in (1, 2, 3))
    return out
