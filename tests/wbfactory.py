"""Workbooks built in code for the tests: .xlsx with openpyxl, legacy .xls with xlwt.

A workbook is described as ``{sheet name: SheetSpec}``; :func:`valid_sheets`
gives a small valid 2019 workbook that a test changes in one place.
"""
from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field

import openpyxl

from core.scheme import scheme_for
from core.workbook import (INFO_NAMES, LEDGER_HEADERS, REQUEST_HEADERS, SCORE_HEADERS, SHEET_INFO, SHEET_LEDGER,
                           SHEET_REQUESTS, SHEET_SCORES)

UNIT = "方正县审计局"
TOWN = "方正镇"


@dataclass
class SheetSpec:
    rows: list[list]
    merges: list[str] = field(default_factory=list)  # A1 ranges, e.g. "A1:G1"

    def copy(self) -> "SheetSpec":
        return SheetSpec([list(r) for r in self.rows], list(self.merges))


def info_sheet(unit=UNIT, unit_type="部门", year=2019, reporter="张三", phone="0451-7123456",
               date="2020-01-05") -> SheetSpec:
    values = dict(zip(INFO_NAMES, (unit, unit_type, year, reporter, phone, date)))
    return SheetSpec([[SHEET_INFO], *([k, v] for k, v in values.items())])


def scores_sheet(year=2019, overrides: dict | None = None, title=True) -> SheetSpec:
    scheme = scheme_for(year)
    overrides = overrides or {}
    rows = [["方正县2019年政务公开工作自评表"]] if title else []
    rows.append(list(SCORE_HEADERS))
    for ind in scheme.indicators:
        if ind.type == "auto":
            score = overrides.get(ind.code, "")
        elif ind.type == "bonus":
            score = overrides.get(ind.code, 0)
        else:
            score = overrides.get(ind.code, float(ind.max))
        rows.append([ind.code, ind.group, ind.text, float(ind.max), score, "", "http://example.gov.cn/a"])
    return SheetSpec(rows, ["A1:G1"] if title else [])


LEDGER_HEADER = list(LEDGER_HEADERS)
REQUEST_HEADER = list(REQUEST_HEADERS)


def ledger_sheet(items: list[list] | None = None) -> SheetSpec:
    if items is None:
        items = [[1, "2019年部门预算", "财政预决算", "2019-03-01", "2019-03-10", "政府网站", "http://x/1"],
                 [2, "机构职能介绍", "机构职能", "2019-02-11", "2019-02-12", "政府网站、公开栏", ""]]
    return SheetSpec([[SHEET_LEDGER], list(LEDGER_HEADER), *items], ["A1:G1"])


def requests_sheet(reqs: list[list] | None = None) -> SheetSpec:
    if reqs is None:
        reqs = [["SQ-001", "自然人", "2019-06-03", "", "否", "2019-06-20", "予以公开", ""]]
    return SheetSpec([[SHEET_REQUESTS], list(REQUEST_HEADER), *reqs], ["A1:H1"])


def valid_sheets(**info) -> dict[str, SheetSpec]:
    return {
        SHEET_INFO: info_sheet(**info),
        SHEET_SCORES: scores_sheet(info.get("year", 2019)),
        SHEET_LEDGER: ledger_sheet(),
        SHEET_REQUESTS: requests_sheet(),
    }


def _cell_value(v):
    return v


def build_xlsx(sheets: dict[str, SheetSpec]) -> bytes:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, spec in sheets.items():
        ws = wb.create_sheet(name)
        for r, row in enumerate(spec.rows, start=1):
            for c, v in enumerate(row, start=1):
                if v is None or v == "":
                    continue
                cell = ws.cell(row=r, column=c, value=v)
                if isinstance(v, (dt.date, dt.datetime)):
                    cell.number_format = "yyyy-mm-dd hh:mm" if isinstance(v, dt.datetime) else "yyyy-mm-dd"
        for m in spec.merges:
            ws.merge_cells(m)
    buf = io.BytesIO()
    wb.save(buf)
    # fixed timestamps: the same sheets always give the same bytes (tests of byte-identical re-sends)
    from data.template import stable_xlsx

    return stable_xlsx(buf.getvalue(), dt.datetime(2020, 1, 5, 9, 0), "tests")


def build_xls(sheets: dict[str, SheetSpec]) -> bytes:
    import xlwt
    from openpyxl.utils.cell import range_boundaries

    wb = xlwt.Workbook(encoding="utf-8")
    date_style = xlwt.easyxf(num_format_str="yyyy-mm-dd")
    for name, spec in sheets.items():
        ws = wb.add_sheet(name)
        merged_cells = set()
        for m in spec.merges:
            c0, r0, c1, r1 = range_boundaries(m)
            v = spec.rows[r0 - 1][c0 - 1] if r0 - 1 < len(spec.rows) and c0 - 1 < len(spec.rows[r0 - 1]) else ""
            ws.write_merge(r0 - 1, r1 - 1, c0 - 1, c1 - 1, v)
            merged_cells |= {(r, c) for r in range(r0 - 1, r1) for c in range(c0 - 1, c1)}
        for r, row in enumerate(spec.rows):
            for c, v in enumerate(row):
                if (r, c) in merged_cells or v is None or v == "":
                    continue
                if isinstance(v, (dt.date, dt.datetime)):
                    ws.write(r, c, v, date_style)
                else:
                    ws.write(r, c, v)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def build_ods(sheets: dict[str, SheetSpec]) -> bytes:
    """OpenDocument spreadsheet (values only, no merged ranges), written by pandas with odfpy."""
    import pandas as pd

    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="odf") as w:
        for name, spec in sheets.items():
            width = max((len(r) for r in spec.rows), default=1)
            rows = [[None if v == "" else v for v in r] + [None] * (width - len(r)) for r in spec.rows]
            pd.DataFrame(rows).to_excel(w, sheet_name=name, header=False, index=False)
    return buf.getvalue()


def build(sheets: dict[str, SheetSpec], fmt: str = "xlsx") -> bytes:
    return {"xls": build_xls, "ods": build_ods}.get(fmt, build_xlsx)(sheets)


# ---------------------------------------------------------------- 年报数据 (annual-report.md)

def annual_sheet(values: dict | None = None, edition: int = 2021, heading: str | None = None) -> SheetSpec:
    """The sheet 年报数据 in the published layout (data.annual.published_layout), with
    ``values`` {(row_code, col_code): value} written into the input cells (others empty)."""
    from data.annual import published_layout

    lay = published_layout(edition, heading)
    rows = [["" if v is None else v for v in r] for r in lay.rows]
    for (rc, cc), v in (values or {}).items():
        r, c = lay.inputs[(rc, cc)]
        row = rows[r - 1]
        while len(row) < c:
            row.append("")
        row[c - 1] = v
    return SheetSpec(rows, list(lay.merges))


def annual_cells(edition: int = 2021) -> dict[tuple[str, str], tuple[int, int]]:
    """(row_code, col_code) -> (1-based row, 1-based column) of the input cells of :func:`annual_sheet`."""
    from data.annual import published_layout

    return dict(published_layout(edition).inputs)


def annual_values(new: dict | None = None, **rows) -> dict:
    """A report consistent in itself (T1–T4): ``rows`` maps row codes to {column: n} for the
    applicant columns; the 总计 column is their sum; r_total is the sum of the result rows."""
    from data.annual import APPLICANT_COLS, RESULT_ROWS

    vals: dict[tuple[str, str], int] = {}
    spec = dict(rows)
    if new is not None:
        spec["new"] = new
    items = [c for rs in RESULT_ROWS.values() for c in rs]
    tot = {c: 0 for c in APPLICANT_COLS}
    for code, by_col in spec.items():
        for c in APPLICANT_COLS:
            n = by_col.get(c, 0)
            vals[(code, c)] = n
        vals[(code, "total")] = sum(by_col.get(c, 0) for c in APPLICANT_COLS)
        if code in items:
            for c in APPLICANT_COLS:
                tot[c] += by_col.get(c, 0)
    for c in APPLICANT_COLS:
        vals[("r_total", c)] = tot[c]
    vals[("r_total", "total")] = sum(tot.values())
    return vals
