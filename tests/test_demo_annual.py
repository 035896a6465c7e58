"""The demonstration county's 年报数据 (demo.annual and its rendering): the report
follows the unit's own ledger, the planted mistakes break exactly one rule, and
every format the clerks use (official template, home-made .xlsx, legacy .xls)
reads back to the same numbers. No demo build here (see test_demo.py)."""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace

import pytest

from core.scheme import scheme_for
from data.annual import SHEET_ALIASES, S_ANNUAL, read_annual_report
from data.reader import read_workbook
from data.validate import RequestRow, Submission
from demo import annual as da
from demo.generate import _profile, units
from demo.render import render

D = dt.date.fromisoformat


def req(applicant, received, answered=None, result="", review=""):
    return RequestRow(0, "x", applicant, D(received), None, False, D(answered) if answered else None, result, review)


#: 2022: two answered in the year, one answered in January 2023, one not answered when sent
LEDGER = [
    req("自然人", "2022-03-01", "2022-03-10", "予以公开", "维持"),
    req("商业企业", "2022-05-04", "2022-05-20", "不予公开"),
    req("自然人", "2022-12-20", "2023-01-05", "部分公开"),
    req("其他", "2022-12-28"),
]
#: open at the end of 2021: one answered 无法提供 in 2022 (known), one whose result the ledger never had
CARRIED = [("法律服务机构", "无法提供"), ("自然人", "予以公开")]


def s(v, prefix, col="total"):
    return sum(n for (r, c), n in v.items() if r.startswith(prefix) and c == col)


def test_report_follows_the_ledger():
    v = da.report_values(random.Random(1), 2022, LEDGER, CARRIED)
    # 本年新收 by 申请人类型: 自然人 2, 商业企业 1, 其他 1
    assert [v[("new", c)] for c in ("natural", "business", "research", "social", "legal", "other", "total")] == \
        [2, 1, 0, 0, 0, 1, 4]
    assert (v[("carried_in", "legal")], v[("carried_in", "natural")], v[("carried_in", "total")]) == (1, 1, 2)
    # answered in 2022: the two of the ledger and the two carried in
    assert v[("r_open", "natural")] == 2 and v[("r_open", "total")] == 2
    assert s(v, "r_deny_", "business") == 1 and s(v, "r_deny_") == 1
    assert s(v, "r_unable_", "legal") == 1 and s(v, "r_partial") == 0
    assert v[("r_total", "total")] == 4 and v[("r_total", "natural")] == 2
    # not answered by 31 December: 自然人 (answered 2023-01-05) and 其他
    assert (v[("carried_out", "natural")], v[("carried_out", "other")], v[("carried_out", "total")]) == (1, 1, 2)
    # T1 in 总计: 4 + 2 = 4 + 2; T3 on every row
    assert v[("new", "total")] + v[("carried_in", "total")] == v[("r_total", "total")] + v[("carried_out", "total")]
    for (r, c), n in v.items():
        if c == "total" and not r.startswith("rv_"):
            assert n == sum(v[(r, k)] for k in ("natural", "business", "research", "social", "legal", "other")), r
    # table 四: the one 维持 of the ledger, in 行政复议 or 直接起诉
    assert v[("rv_review", "upheld")] + v[("rv_direct", "upheld")] == 1
    assert v[("rv_review", "total")] + v[("rv_direct", "total")] == 1 and v[("rv_after", "total")] == 0
    # every input cell of the 2021 format, zeros included
    assert len(v) == len(da.published_layout(2021).inputs)


def test_open_at_year_end():
    assert da.open_at_year_end(LEDGER, 2022) == [("自然人", "部分公开"), ("其他", "")]
    assert da.open_at_year_end(LEDGER, 2021) == []


def test_a_carried_request_without_result_gets_one():
    v = da.report_values(random.Random(3), 2022, [], [("自然人", "")])
    assert v[("carried_in", "total")] == 1 and v[("r_total", "total")] == 1 and v[("new", "total")] == 0


def test_planted_t1_off_by_one_in_one_column_and_total():
    v = da.report_values(random.Random(1), 2022, LEDGER, CARRIED)
    before = dict(v)
    col = da.plant_t1(random.Random(2), v)
    changed = {k for k in v if v[k] != before[k]}
    assert changed == {("carried_in", col), ("carried_in", "total")}
    assert all(v[k] == before[k] + 1 for k in changed)


def test_planted_l1_keeps_the_report_adding_up():
    v = da.report_values(random.Random(1), 2022, LEDGER, CARRIED)
    before = dict(v)
    da.plant_l1(v, "natural")
    assert {k for k in v if v[k] != before[k]} == {(r, c) for r in ("new", "r_open", "r_total")
                                                  for c in ("natural", "total")}
    assert v[("new", "total")] == 5  # the ledger has 4


def test_2019_edition_other_is_one_row():
    v = {k: 0 for k in da.published_layout(2021).inputs}
    v[("r_other_1", "natural")], v[("r_other_3", "natural")], v[("r_other_3", "total")] = 1, 2, 2
    old = da.as_2019_edition(v)
    assert set(old) == set(da.published_layout(2019).inputs)
    assert old[("r_other", "natural")] == 3 and old[("r_other", "total")] == 2


# --------------------------------------------------------------------------- rendered and read back

def _read(content: bytes, name: str):
    wb = read_workbook(name, content)
    sheet = next(sh for sh in (wb.sheet(n) for n in (S_ANNUAL, *SHEET_ALIASES)) if sh is not None)
    rep, issues = read_annual_report(sheet)
    assert issues == [] and rep is not None
    return rep, sheet


@pytest.mark.parametrize("fmt,index,year", [("template", 1, 2022), ("custom", 1, 2022), ("xls", 2, 2023),
                                            ("xls", 4, 2022), ("custom", 5, 2021)])
def test_rendered_sheet_reads_back(fmt, index, year):
    """The numbers a clerk copied come back from every format: merges in place (.xls too), the
    sheet named 年报统计表 by one in five clerks, the 2019 format copied by one in six in 2021."""
    unit = units()[10]
    prof = replace(_profile(random.Random(7), unit, index), fmt=fmt, fullwidth=True)
    v = da.report_values(random.Random(1), year, [replace(r, received=r.received.replace(year=year),
                                                          answered=r.answered and r.answered.replace(year=year))
                                                  for r in LEDGER[:2]], CARRIED)
    v[("new", "natural")] += 11  # a full-width number where the clerk types them (≥ 10)
    sub = Submission(unit=unit.name, unit_type=unit.unit_type, year=year, reporter="张三", phone="0451-5700000",
                     report_date=D(f"{year + 1}-01-05"), annual=da.as_report(v))
    content, ext = render(random.Random(5), prof, sub, scheme_for(year), fmt)
    rep, sheet = _read(content, "x" + ext)
    got = {(c.row_code, c.col_code): c.value for c in rep.cells}
    want = da.as_2019_edition(v) if (fmt != "template" and year == 2021 and index % 6 == 5) else v
    assert rep.edition == (2019 if want is not v else 2021)
    assert got == want and rep.filled
    # the published layout's merges: 三、本年度办理结果 down column A over every result row
    assert any(c0 == 0 and c1 == 0 and r1 - r0 > 10 for (r0, c0), (r1, c1) in sheet.merged)
    names = read_workbook("x" + ext, content).sheet_names
    assert (SHEET_ALIASES[1] in names) == (fmt != "template" and index % 5 == 4)


# --------------------------------------------------------------------------- the schemes

@pytest.mark.parametrize("year, outcome", [(2021, "note"), (2022, "error"), (2023, "error")])
def test_2022_and_2023_require_the_sheet(tmp_path, year, outcome):
    """2019–2021 optional (absent: an information note), 2022–2023 required (absent: refused)."""
    from data.ingest import ingest_bytes
    from data.access import SYSTEM
    from data.registry import load_units, parse_registry
    from data.store import connect
    from tests import wbfactory as wf
    from tests.conftest import REGISTRY_TEXT

    con = connect(tmp_path / "t.duckdb")
    load_units(con, parse_registry(REGISTRY_TEXT), actor=SYSTEM)
    sheets = wf.valid_sheets(year=year, date=f"{year + 1}-01-05")
    r = ingest_bytes(con, "t.xlsx", wf.build(sheets), received=dt.date(year + 1, 1, 8))
    rows = [x for x in r.report.rows() if x["位置"].startswith(S_ANNUAL)]
    if outcome == "note":
        assert r.outcome == "accepted" and [x["代码"] for x in rows] == ["annual_absent"]
    else:
        assert r.outcome != "accepted" and [x["代码"] for x in rows] == ["sheet_missing"]
        assert f"{year}年度要求照抄年度报告表三、表四" in rows[0]["问题"]
        assert con.execute("SELECT count(*) FROM submissions").fetchone()[0] == 0
    con.close()
