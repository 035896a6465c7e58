"""Reading the sheet 年报数据 (annual-report.md): tables found by title, columns by
their lowest header cell, rows by their joined normalised label, every label
and header variant real copies of published reports show, and every error
located at 年报数据!cell.

Workbooks are built in code; nothing is stored (check_workbook reads and validates).
"""
from __future__ import annotations

from data.access import SYSTEM

import datetime as dt

import pytest

from data.annual import (APPLICANT_COLS, COLUMNS_3, LINES, REVIEW_COLS, REVIEW_GROUPS, label_key, lines_of,
                         match_line, parse_count, read_annual_report)
from data.ingest import check_workbook
from data.reader import read_workbook
from tests.wbfactory import SheetSpec, annual_cells, annual_sheet, build, valid_sheets

RECEIVED = dt.date(2020, 1, 8)
S = "年报数据"


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    from data.registry import load_units, parse_registry
    from data.store import connect
    from tests.conftest import REGISTRY_TEXT

    c = connect(tmp_path_factory.mktemp("ar") / "t.duckdb")
    load_units(c, parse_registry(REGISTRY_TEXT), actor=SYSTEM)
    yield c
    c.close()


def read(spec: SheetSpec, fmt="xlsx"):
    wb = read_workbook(f"t.{fmt}", build({S: spec}, fmt))
    return read_annual_report(wb.sheet(S))


def numbered(edition=2021):
    """Every input cell a distinct number (so a wrong column or row shows)."""
    return {k: n for n, k in enumerate(annual_cells(edition), start=1)}


def errs(issues):
    return {(i.code, i.location) for i in issues}


# ---------------------------------------------------------------- label normalisation

@pytest.mark.parametrize("raw, key", [
    ("一、本年新收政府信息公开申请数量", "本年新收政府信息公开申请数量"),
    ("（三）不予公开", "不予公开"),
    ("(三)不予公开", "不予公开"),
    ("1.属于国家秘密", "属于国家秘密"),
    ("1．属于国家秘密", "属于国家秘密"),
    ("1、属于国家秘密", "属于国家秘密"),
    ("(1)属于国家秘密", "属于国家秘密"),
    ("（1）属于国家秘密", "属于国家秘密"),
    ("①属于国家秘密", "属于国家秘密"),
    ("3.危及“三安全一稳定”", "危及三安全一稳定"),
    ("3.危及\"三安全一稳定\"", "危及三安全一稳定"),
    ("危及三安全一稳定", "危及三安全一稳定"),
    ("3.危及「三安全一稳定」", "危及三安全一稳定"),
    ("（二）部分公开（区分处理的，只计这一情形，不计其他情形）", "部分公开"),
    ("（二）部分公开", "部分公开"),
    ("（七） 总 计", "总计"),
    ("四、结转下年度继续办理：", "结转下年度继续办理"),
])
def test_label_key(raw, key):
    assert label_key(raw) == key


@pytest.mark.parametrize("label, code", [
    ("本年度办理结果不予公开属于国家秘密", "r_deny_1"),
    ("不予公开属于国家秘密", "r_deny_1"),
    ("属于国家秘密", "r_deny_1"),
    ("本年度办理结果其他处理", "r_other"),
    ("其他处理", "r_other"),
    ("本年度办理结果其他处理其他", "r_other_3"),   # longest ending wins: not r_other
    ("其他处理其他", "r_other_3"),
    ("本年度办理结果总计", "r_total"),
    ("本年度办理结果予以公开", "r_open"),
    ("本年度办理结果不予公开", None),                # a group heading, not a row
    ("本年度办理结果", None),
    ("合计", None),
])
def test_match_line(label, code):
    assert match_line(label) == code


@pytest.mark.parametrize("v, n", [("", 0), (None, 0), ("  ", 0), (3, 3), (3.0, 3), ("3", 3), ("3.0", 3), ("３", 3),
                                  (" 12 ", 12), (0, 0)])
def test_parse_count_accepts(v, n):
    assert parse_count(v) == n


@pytest.mark.parametrize("v", [-1, -1.0, 2.5, "2.5", "三", "3件", "-1", True, dt.date(2020, 1, 1), "1,000"])
def test_parse_count_refuses(v):
    assert parse_count(v) is None


# ---------------------------------------------------------------- the published layout

@pytest.mark.parametrize("edition", [2019, 2021])
@pytest.mark.parametrize("fmt", ["xlsx", "xls"])
def test_published_layout_read_back(edition, fmt):
    vals = numbered(edition)
    rep, issues = read(annual_sheet(vals, edition, heading="方正县审计局2021年政府信息公开工作年度报告数据"), fmt)
    assert issues == []
    assert rep.edition == edition
    got = {(c.row_code, c.col_code): c.value for c in rep.cells}
    assert got == vals
    # located: the cell of (new, natural) is D under the header (row 7 with the heading)
    cell = {(c.row_code, c.col_code): c.cell for c in rep.cells}
    assert cell[("new", "natural")] == "D7"
    assert cell[("new", "total")] == "J7"


def test_empty_cells_are_zero():
    rep, issues = read(annual_sheet({}, 2021))
    assert issues == []
    assert {c.value for c in rep.cells} == {0}
    assert len(rep.cells) == len(lines_of(2021)) * 7 + 15


def test_text_and_full_width_numbers():
    cells = annual_cells(2021)
    rep, issues = read(annual_sheet({("new", "natural"): "３", ("new", "total"): "3.0", ("r_open", "natural"): 2.0}))
    assert issues == []
    assert rep.value("new", "natural") == 3 and rep.value("new", "total") == 3 and rep.value("r_open", "natural") == 2
    assert cells


# ---------------------------------------------------------------- label variants: one or two label columns

def _table4(start_row: int, two_rows: bool = False, values: dict | None = None) -> tuple[list[list], list[str]]:
    """Table 四 starting at 1-based ``start_row``: title, header (3 rows, or 2 without 行政诉讼), data."""
    values = values or {}
    r = start_row
    rows: list[list] = [["四、政府信息公开行政复议、行政诉讼情况"]]
    merges = [f"A{r}:O{r}"]
    if two_rows:
        rows.append(["行政复议", "", "", "", "", "未经复议直接起诉", "", "", "", "", "复议后起诉"])
        merges += [f"A{r + 1}:E{r + 1}", f"F{r + 1}:J{r + 1}", f"K{r + 1}:O{r + 1}"]
    else:
        rows.append(["行政复议", "", "", "", "", "行政诉讼"])
        rows.append(["", "", "", "", "", "未经复议直接起诉", "", "", "", "", "复议后起诉"])
        merges += [f"A{r + 1}:E{r + 2}", f"F{r + 1}:O{r + 1}", f"F{r + 2}:J{r + 2}", f"K{r + 2}:O{r + 2}"]
    rows.append([name for _ in REVIEW_GROUPS for _, name, _ in REVIEW_COLS])
    rows.append([values.get((g, c), "") for g, _ in REVIEW_GROUPS for c, _, _ in REVIEW_COLS])
    return rows, merges


def _one_column(label_of, edition=2021, header="two", values=None, extra_rows=()):
    """Table 三 with every label in column A (no merges), numbers in B–H, then table 四."""
    values = values or {}
    rows: list[list] = [["三、收到和处理政府信息公开申请情况"]]
    if header == "two":
        rows.append(["", "申请人情况"])
        rows.append(["", "自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", "总计"])
    else:  # one row, 合计 for 总计
        rows.append(["项目", "自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", "合计"])
    for ln in lines_of(edition):
        rows.append([label_of(ln), *(values.get((ln.code, c.code), "") for c in COLUMNS_3)])
    rows.extend(list(r) for r in extra_rows)
    rows.append([])
    t4, m4 = _table4(len(rows) + 1)
    return SheetSpec(rows + t4, m4)


ITEM_STYLES = {
    "dot": lambda ln: f"{ln.number}{ln.label}",
    "dunhao": lambda ln: f"{ln.number.replace('.', '、')}{ln.label}",
    "paren": lambda ln: (f"({ln.number[:-1]}){ln.label}" if ln.number.endswith(".") else f"{ln.number}{ln.label}"),
    "fullwidth": lambda ln: (f"（{ln.number[:-1]}）{ln.label}" if ln.number.endswith(".") else
                             f"{ln.number.replace('(', '（').replace(')', '）')}{ln.label}"),
    "circled": lambda ln: (f"{'①②③④⑤⑥⑦⑧'[int(ln.number[:-1]) - 1]}{ln.label}" if ln.number.endswith(".")
                           else f"{ln.number}{ln.label}"),
    "none": lambda ln: ln.label,
    "no_quotes": lambda ln: ln.label.replace("“", "").replace("”", ""),
    "no_note": lambda ln: ln.label.split("（")[0],
    "half_brackets": lambda ln: f"{ln.number}{ln.label}".replace("（", "(").replace("）", ")"),
    "spaces": lambda ln: f" {ln.number} {ln.label}\n",
}


@pytest.mark.parametrize("style", sorted(ITEM_STYLES))
def test_label_styles_one_column(style):
    vals = {(ln.code, c.code): n % 9 for n, (ln, c) in enumerate((ln, c) for ln in lines_of(2021) for c in COLUMNS_3)}
    rep, issues = read(_one_column(ITEM_STYLES[style], values=vals))
    assert issues == []
    assert rep.edition == 2021
    assert {(c.row_code, c.col_code): c.value for c in rep.cells if not c.row_code.startswith("rv_")} == vals


def test_one_column_with_parent_in_the_cell():
    """"（三）不予公开 1.属于国家秘密" in one cell: the parent prefix may be present."""
    def label(ln):
        if ln.parent and ln.parent != "results":
            from data.annual import GROUP
            g = GROUP[ln.parent]
            return f"{g.number}{g.label} {ln.number}{ln.label}"
        return f"{ln.number}{ln.label}"
    rep, issues = read(_one_column(label, values={("r_deny_3", "natural"): 4}))
    assert issues == []
    assert rep.value("r_deny_3", "natural") == 4


def test_one_row_header_with_heji():
    rep, issues = read(_one_column(ITEM_STYLES["dot"], header="one", values={("new", "total"): 7}))
    assert issues == []
    assert rep.value("new", "total") == 7


def test_two_label_columns_with_merged_groups():
    """Labels over two columns: the group merged down column A over its items (column B);
    rows without a group merged across A:B."""
    rows: list[list] = [["三、收到和处理政府信息公开申请情况"]]
    merges = ["A1:I1"]
    rows.append(["本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和", "", "申请人情况"])
    rows.append(["", "", "自然人", "法人或其他组织", "", "", "", "", "总计"])
    rows.append(["", "", "", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", ""])
    merges += ["A2:B4", "C2:I2", "C3:C4", "D3:H3", "I3:I4"]
    group_rows: dict[str, list[int]] = {}
    from data.annual import GROUP
    for ln in lines_of(2021):
        r = len(rows) + 1
        if ln.parent in (None, "results"):
            rows.append([f"{ln.number}{ln.label}", ""])
            merges.append(f"A{r}:B{r}")
        else:
            g = GROUP[ln.parent]
            rows.append([f"{g.number}{g.label}" if ln.parent not in group_rows else "", f"{ln.number}{ln.label}"])
            group_rows.setdefault(ln.parent, []).append(r)
        rows[-1] += [""] * 7
        if ln.code == "r_noproc_4":
            rows[-1][2:9] = [1, 0, 0, 1, 0, 0, 2]
    for rs in group_rows.values():
        merges.append(f"A{rs[0]}:A{rs[-1]}")
    rows.append([])
    t4, m4 = _table4(len(rows) + 1, values={("rv_direct", "pending"): 2})
    for fmt in ("xlsx", "xls"):
        rep, issues = read(SheetSpec(rows + t4, merges + m4), fmt)
        assert issues == []
        assert rep.value("r_noproc_4", "natural") == 1 and rep.value("r_noproc_4", "social") == 1
        assert rep.value("r_noproc_4", "total") == 2
        assert rep.value("rv_direct", "pending") == 2 and rep.value("rv_review", "pending") == 0


def test_group_heading_on_its_own_row_is_skipped():
    """"（三）不予公开" as a row of its own above unprefixed items, with no numbers."""
    base = _one_column(ITEM_STYLES["dot"], values={("r_deny_1", "natural"): 1})
    rows = base.rows
    i = next(n for n, r in enumerate(rows) if r and r[0] == "1.属于国家秘密")
    rows.insert(i, ["（三）不予公开"])
    # shift table 四's merges one row down
    from openpyxl.utils.cell import range_boundaries, get_column_letter
    merges = []
    for m in base.merges:
        c0, r0, c1, r1 = range_boundaries(m)
        merges.append(f"{get_column_letter(c0)}{r0 + 1}:{get_column_letter(c1)}{r1 + 1}")
    rep, issues = read(SheetSpec(rows, merges))
    assert issues == []
    assert rep.value("r_deny_1", "natural") == 1


def test_blank_and_closing_rows_skipped():
    spec = _one_column(ITEM_STYLES["dot"], extra_rows=[[""], ["注：本表数据摘自本单位2021年度报告"]])
    rep, issues = read(spec)
    assert issues == []


def test_2019_edition_other_single_row():
    rep, issues = read(_one_column(ITEM_STYLES["dot"], edition=2019, values={("r_other", "natural"): 3}))
    assert issues == []
    assert rep.edition == 2019 and rep.value("r_other", "natural") == 3


def test_2021_other_heading_row_without_numbers_is_skipped():
    spec = _one_column(ITEM_STYLES["dot"], edition=2021)
    i = next(n for n, r in enumerate(spec.rows) if r and r[0].startswith("1.申请人无正当理由"))
    spec.rows.insert(i, ["（六）其他处理"])
    spec.merges = _shift(spec.merges, 1)
    rep, issues = read(spec)
    assert issues == []
    assert rep.edition == 2021


def _shift(merges, n):
    from openpyxl.utils.cell import get_column_letter, range_boundaries
    out = []
    for m in merges:
        c0, r0, c1, r1 = range_boundaries(m)
        out.append(f"{get_column_letter(c0)}{r0 + n}:{get_column_letter(c1)}{r1 + n}")
    return out


def test_2021_other_heading_with_numbers_is_an_error():
    spec = _one_column(ITEM_STYLES["dot"], edition=2021)
    i = next(n for n, r in enumerate(spec.rows) if r and r[0].startswith("1.申请人无正当理由"))
    spec.rows.insert(i, ["（六）其他处理", 1])
    spec.merges = _shift(spec.merges, 1)
    rep, issues = read(spec)
    assert rep is None
    assert errs(issues) == {("annual_edition_mixed", f"{S}!B{i + 1}")}


# ---------------------------------------------------------------- header variants

def test_columns_in_another_order_and_extra_column():
    rows = [["三、收到和处理政府信息公开申请情况"],
            ["项目", "总计", "其他", "法律服务机构", "社会公益组织", "科研机构", "商业企业", "自然人", "备注"]]
    for ln in lines_of(2021):
        rows.append([f"{ln.number}{ln.label}", 3, 0, 0, 0, 0, 1, 2, "见年报"] if ln.code == "new" else
                    [f"{ln.number}{ln.label}"])
    rows.append([])
    t4, m4 = _table4(len(rows) + 1, two_rows=True, values={("rv_after", "total"): 5})
    rep, issues = read(SheetSpec(rows + t4, m4))
    assert issues == []
    assert rep.value("new", "natural") == 2 and rep.value("new", "business") == 1 and rep.value("new", "total") == 3
    assert rep.value("rv_after", "total") == 5
    assert next(c.cell for c in rep.cells if (c.row_code, c.col_code) == ("new", "total")) == "B3"


def test_header_without_vertical_merges():
    """自然人 and 总计 typed in the lowest header row themselves (no merges)."""
    rows = [["三、收到和处理政府信息公开申请情况"],
            ["", "申请人情况"],
            ["", "", "法人或其他组织"],
            ["", "自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", "总计"]]
    for ln in lines_of(2021):
        rows.append([f"{ln.number}{ln.label}"])
    rows[4] += [1, 0, 0, 0, 0, 0, 1]
    t4, m4 = _table4(len(rows) + 1)
    rep, issues = read(SheetSpec(rows + t4, m4))
    assert issues == []
    assert rep.value("new", "natural") == 1


def test_table_four_before_table_three_and_titles_without_numbering():
    t4, m4 = _table4(1, values={("rv_review", "upheld"): 1, ("rv_review", "total"): 1})
    t4[0] = ["政府信息公开行政复议、行政诉讼情况"]
    body = _one_column(ITEM_STYLES["none"], values={("new", "natural"): 2})
    three = [r for r in body.rows[:body.rows.index([])]]
    three[0] = ["收到和处理政府信息公开申请情况（单位：件）"]
    rep, issues = read(SheetSpec(t4 + [[]] + three, m4))
    assert issues == []
    assert rep.value("rv_review", "upheld") == 1 and rep.value("new", "natural") == 2


# ---------------------------------------------------------------- errors, each located

def test_missing_titles():
    rep, issues = read(SheetSpec([["本单位年度报告数据"], ["自然人"]]))
    assert rep is None
    assert {i.code for i in issues} == {"annual_table_missing"}
    assert len(issues) == 2 and all(i.location == S for i in issues)


def test_missing_column():
    spec = _one_column(ITEM_STYLES["dot"])
    spec.rows[2][3] = "科研院所"
    rep, issues = read(spec)
    assert rep is None
    assert errs(issues) == {("annual_header_missing", S)}
    assert "科研机构" in issues[0].message


def test_missing_and_duplicate_and_unknown_rows():
    spec = _one_column(ITEM_STYLES["dot"])
    i_del = next(n for n, r in enumerate(spec.rows) if r and r[0] == "2.重复申请")
    spec.rows[i_del] = ["2.重复申请的"]                    # unknown label: error at its cell
    i_dup = next(n for n, r in enumerate(spec.rows) if r and r[0] == "（一）予以公开")
    spec.rows.insert(i_dup + 1, ["（一）予以公开", 1])     # duplicate
    spec.merges = _shift(spec.merges, 1)
    rep, issues = read(spec)
    assert rep is None
    got = errs(issues)
    assert ("annual_row_unknown", f"{S}!A{i_del + 2}") in got
    assert ("annual_row_duplicate", f"{S}!A{i_dup + 2}") in got
    missing = [i for i in issues if i.code == "annual_row_missing"]
    assert len(missing) == 1 and missing[0].location == S and "重复申请" in missing[0].message


@pytest.mark.parametrize("bad, why", [("三", "整数"), (-1, "负数"), (2.5, "整数"), ("2件", "整数")])
def test_bad_value_located(bad, why):
    cells = annual_cells(2021)
    r, c = cells[("r_deny_3", "legal")]
    rep, issues = read(annual_sheet({("r_deny_3", "legal"): bad}))
    assert rep is None
    from core.normalize import addr
    assert errs(issues) == {("annual_value_invalid", f"{S}!{addr(r - 1, c - 1)}")}
    assert why in issues[0].message


def test_bad_value_in_table_four_located():
    r, c = annual_cells(2021)[("rv_after", "pending")]
    rep, issues = read(annual_sheet({("rv_after", "pending"): "一"}))
    from core.normalize import addr
    assert errs(issues) == {("annual_value_invalid", f"{S}!{addr(r - 1, c - 1)}")}


def test_table_four_header_missing_group():
    spec = _one_column(ITEM_STYLES["dot"])
    i = next(n for n, r in enumerate(spec.rows) if r and r[0] == "行政复议")
    spec.rows[i + 1][10] = "复议后"
    rep, issues = read(spec)
    assert rep is None and {i.code for i in issues} == {"annual_header_missing"}
    assert "复议后起诉·结果维持" in issues[0].message


# ---------------------------------------------------------------- the sheet in the workbook

def _run(con, sheets, mode=None):
    """Read and validate (in a worker); with ``mode``, in this process under a 2019 scheme
    whose ``annual_report`` is ``mode``."""
    if mode is None:
        return check_workbook(con, "t.xlsx", build(sheets), today=RECEIVED)
    import dataclasses

    from core.scheme import load_catalogue, load_schemes
    from data.registry import get_units
    from data.validate import Context, validate
    schemes = dict(load_schemes())
    schemes[2019] = dataclasses.replace(schemes[2019], annual_report=mode)
    return validate(read_workbook("t.xlsx", build(sheets)), Context(get_units(con), schemes, load_catalogue(), RECEIVED))


def test_workbook_without_sheet_optional_gives_a_note(con):
    sub, report = _run(con, valid_sheets())
    assert report.ok and sub.annual is None
    assert [(i.code, i.severity, i.message) for i in report.notes] == [
        ("annual_absent", "info", "未填报年报数据，未作勾稽")]
    assert report.warnings == []


def test_workbook_without_sheet_required_is_an_error(con):
    sub, report = _run(con, valid_sheets(), mode="required")
    assert ("sheet_missing", S) in errs(report.errors)


def test_workbook_sheet_none_mode_ignores_the_sheet(con):
    sheets = valid_sheets()
    sheets[S] = annual_sheet({("new", "natural"): "x"})
    sub, report = _run(con, sheets, mode="none")
    assert report.ok and sub.annual is None and report.notes == []


@pytest.mark.parametrize("name", ["年报数据", "年度报告数据", "年报统计表", " 年报数据 "])
def test_sheet_aliases(con, name):
    sheets = valid_sheets()
    sheets[name] = annual_sheet({("new", "natural"): 1})
    sub, report = _run(con, sheets)
    assert report.ok, report.rows()
    assert sub.annual is not None and sub.annual.value("new", "natural") == 1


def test_sheet_errors_reject_the_workbook(con):
    sheets = valid_sheets()
    sheets[S] = annual_sheet({("new", "natural"): -2})
    sub, report = _run(con, sheets)
    assert not report.ok
    r, c = annual_cells(2021)[("new", "natural")]
    from core.normalize import addr
    assert ("annual_value_invalid", f"{S}!{addr(r - 1, c - 1)}") in errs(report.errors)


def test_every_line_code_unique_and_canonical_columns():
    assert len({ln.code for ln in LINES}) == len(LINES)
    assert APPLICANT_COLS == ("natural", "business", "research", "social", "legal", "other")


def test_untouched_sheet_counts_as_not_filled(con):
    sheets = valid_sheets()
    sheets[S] = annual_sheet({})
    sub, report = _run(con, sheets)
    assert report.ok and sub.annual is None
    assert [i.code for i in report.notes] == ["annual_absent"]
    sub, report = _run(con, sheets, mode="required")
    assert errs(report.errors) == {("annual_empty", S)}
    sheets[S] = annual_sheet({("new", "total"): 0})    # one 0 typed: filled, and all zero
    sub, report = _run(con, sheets, mode="required")
    assert report.ok and sub.annual is not None and sub.annual.filled
