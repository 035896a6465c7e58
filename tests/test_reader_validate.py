"""Reading and validating workbooks (workbook.md): every tolerance of "Must be
tolerated", every error and warning of "Errors and warnings" with its exact
location, and the refusal of files that are not readable spreadsheets.

Workbooks are built in code (tests/wbfactory.py); nothing is stored here:
``check_workbook`` reads and validates only.
"""
from __future__ import annotations

import datetime as dt
import io
import struct
import zipfile

import pytest
from openpyxl.utils.cell import column_index_from_string, coordinate_from_string

from data.access import SYSTEM
from data.ingest import check_workbook
from core.normalize import EXCEL_EPOCH
from data.reader import ColumnSpec, ReadError, find_labels, find_table, read_workbook
from data.validate import INFO_LABELS, LEDGER_COLUMNS, REQUEST_COLUMNS, SCORE_COLUMNS
from core.scheme import scheme_for
from tests.wbfactory import (LEDGER_HEADER, REQUEST_HEADER, TOWN, UNIT, SheetSpec, build, ledger_sheet, requests_sheet, valid_sheets)

INFO, SCORES, LEDGER, REQS = "单位信息", "自评打分", "主动公开台账", "依申请公开台账"
RECEIVED = dt.date(2020, 1, 8)
SCHEME = scheme_for(2019)
FORMATS = ["xlsx", "xls"]
D = dt.date(2019, 6, 3)
SERIAL = (D - EXCEL_EPOCH).days  # 43619


# ---------------------------------------------------------------- helpers

@pytest.fixture(scope="module")
def con(tmp_path_factory):
    """One registry database for the module: nothing here writes to it."""
    from data.registry import load_units, parse_registry
    from data.store import connect
    from tests.conftest import REGISTRY_TEXT

    c = connect(tmp_path_factory.mktemp("rv") / "t.duckdb")
    load_units(c, parse_registry(REGISTRY_TEXT), actor=SYSTEM)
    yield c
    c.close()


def run(con, sheets, fmt="xlsx", today=RECEIVED):
    sub, report = check_workbook(con, f"t.{fmt}", build(sheets, fmt), today=today)
    return sub, report


def errors(report) -> set[tuple[str, str]]:
    return {(i.code, i.location) for i in report.errors}


def warnings(report) -> set[tuple[str, str]]:
    return {(i.code, i.location) for i in report.warnings}


def assert_accepted(report):
    assert report.ok, "\n".join(f"{i.location}: {i.message}" for i in report.errors)


def score_row(code: str) -> int:
    """Excel row of an indicator in valid_sheets(): title, header, then the scheme's indicators."""
    return 3 + SCHEME.codes.index(code)


def set_cell(sheets, sheet: str, a1: str, value):
    col, row = coordinate_from_string(a1)
    c = column_index_from_string(col) - 1
    rows = sheets[sheet].rows
    while len(rows) < row:
        rows.append([])
    r = rows[row - 1]
    while len(r) <= c:
        r.append("")
    r[c] = value


def drop_column(sheets, sheet: str, index: int):
    for r in sheets[sheet].rows:
        if len(r) > index:
            del r[index]


def scores_of(sub) -> dict:
    return {s.code: s.score for s in sub.scores}


def read_sheet(sheets, name, fmt="xlsx"):
    return read_workbook(f"t.{fmt}", build(sheets, fmt)).sheet(name)


def test_the_valid_workbook_is_accepted(con):
    for fmt in FORMATS:
        sub, report = run(con, valid_sheets(), fmt)
        assert_accepted(report)
        assert report.warnings == []
        assert (sub.unit, sub.unit_type, sub.year) == (UNIT, "部门", 2019)
        assert (sub.reporter, sub.phone, sub.report_date) == ("张三", "0451-7123456", dt.date(2020, 1, 5))
        assert [s.code for s in sub.scores] == [i.code for i in SCHEME.self_indicators]
        assert scores_of(sub)["A1"] == 4 and scores_of(sub)["J1"] == 0
        assert sub.scores[0].evidence == ["http://example.gov.cn/a"] and sub.scores[0].sheet_row == 3
        first = sub.items[0]
        assert (first.sheet_row, first.seq, first.title, first.category, first.formed, first.published,
                first.channels, first.url) == (3, "1", "2019年部门预算", "C07", dt.date(2019, 3, 1),
                                               dt.date(2019, 3, 10), ["政府网站"], "http://x/1")
        assert sub.items[1].channels == ["政府网站", "公开栏"] and sub.items[1].url == ""
        r = sub.requests[0]
        assert (r.sheet_row, r.request_no, r.applicant_type, r.received, r.corrected, r.extended, r.answered,
                r.result, r.review_result) == (3, "SQ-001", "自然人", D, None, False, dt.date(2019, 6, 20),
                                               "予以公开", "")


# ================================================================ Must be tolerated

@pytest.mark.parametrize("fmt", FORMATS)
def test_title_rows_above_the_header_including_a_merged_title(con, fmt):
    s = valid_sheets()
    # three title rows, the first merged across the table and over two rows
    s[LEDGER] = SheetSpec([["方正县2019年政务公开工作主动公开台账"], [], ["填报单位：方正县审计局", "", "", "单位：条"],
                           list(LEDGER_HEADER), *ledger_sheet().rows[2:]], ["A1:G2"])
    s[SCORES].rows.insert(1, ["（本表由各单位如实填写）"])
    sub, report = run(con, s, fmt)
    assert_accepted(report)
    assert [i.sheet_row for i in sub.items] == [5, 6]
    assert len(sub.scores) == len(SCHEME.self_indicators)
    assert sub.scores[0].sheet_row == 4


@pytest.mark.parametrize("fmt", FORMATS)
def test_header_anywhere_in_the_first_ten_rows(con, fmt):
    s = valid_sheets()
    s[REQS] = SheetSpec([["依申请公开台账"]] + [[]] * 8 + [list(REQUEST_HEADER)] + requests_sheet().rows[2:], ["A1:H1"])
    sub, report = run(con, s, fmt)
    assert_accepted(report)
    assert [r.sheet_row for r in sub.requests] == [11]


@pytest.mark.parametrize("fmt", FORMATS)
def test_header_in_row_eleven_is_not_found(con, fmt):
    s = valid_sheets()
    s[REQS] = SheetSpec([["依申请公开台账"]] + [[]] * 9 + [list(REQUEST_HEADER)] + requests_sheet().rows[2:], ["A1:H1"])
    _, report = run(con, s, fmt)
    assert errors(report) == {("header_missing", REQS)}
    assert {i.message.split("”")[0] for i in report.errors} == {"缺少必填列“申请编号", "缺少必填列“收到日期"}
    assert all("前10行" in i.message for i in report.errors)


@pytest.mark.parametrize("fmt", FORMATS)
def test_columns_in_another_order_extra_columns_missing_optional_columns(con, fmt):
    s = valid_sheets()
    # ledger: reversed order, an extra column, no 序号 / 公开渠道 / 链接
    s[LEDGER] = SheetSpec([["公开日期", "备用列", "形成日期", "公开类别", "信息名称"],
                           ["2019-03-10", "请忽略", "2019-03-01", "财政预决算", "2019年部门预算"],
                           ["", "", "2019-02-11", "机构职能", "机构职能介绍"]])
    # requests: only the required columns, shuffled, plus an extra one
    s[REQS] = SheetSpec([["收到日期", "经办人", "申请编号"], ["2019-06-03", "李四", "SQ-9"]])
    # scores: only the required columns, swapped
    s[SCORES] = SheetSpec([["自评得分", "指标编号"]] +
                          [[float(i.max) if i.type == "self" else (0 if i.type == "bonus" else ""), i.code]
                           for i in SCHEME.indicators])
    sub, report = run(con, s, fmt)
    assert_accepted(report)
    assert [(i.title, i.category, i.formed, i.published, i.channels, i.url, i.seq) for i in sub.items] == [
        ("2019年部门预算", "C07", dt.date(2019, 3, 1), dt.date(2019, 3, 10), [], "", ""),
        ("机构职能介绍", "C01", dt.date(2019, 2, 11), None, [], "", "")]
    r = sub.requests[0]
    assert (r.request_no, r.received, r.answered, r.result, r.extended, r.applicant_type) == \
        ("SQ-9", D, None, "", False, "")
    assert scores_of(sub)["B1"] == 5 and sub.scores[0].note == "" and sub.scores[0].evidence == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_error_locations_follow_the_real_column_order(con, fmt):
    s = valid_sheets()
    s[LEDGER] = SheetSpec([["公开日期", "备用列", "形成日期", "公开类别", "信息名称"],
                           ["2019-02-10", "", "2019-03-01", "八卦", "2019年部门预算"]])
    _, report = run(con, s, fmt)
    assert errors(report) == {("published_before_formed", f"{LEDGER}!A2"), ("category_unknown", f"{LEDGER}!D2")}


@pytest.mark.parametrize("fmt", FORMATS)
def test_vertically_merged_cells_apply_to_every_spanned_row(con, fmt):
    s = valid_sheets()
    # 自评打分: 一级指标 written once per group and merged over the group's rows
    rows = s[SCORES].rows
    merges = list(s[SCORES].merges)
    first = {}
    for n, ind in enumerate(SCHEME.indicators):
        first.setdefault(ind.group, []).append(n + 3)
    for group, excel_rows in first.items():
        for r in excel_rows[1:]:
            rows[r - 1][1] = ""
        if len(excel_rows) > 1:
            merges.append(f"B{excel_rows[0]}:B{excel_rows[-1]}")
    s[SCORES] = SheetSpec(rows, merges)
    # 主动公开台账: 公开类别 and 公开渠道 merged over three items
    s[LEDGER] = SheetSpec([["主动公开台账"], list(LEDGER_HEADER),
                           [1, "2019年部门预算", "财政预决算", "2019-03-01", "2019-03-10", "政府网站、公开栏", ""],
                           [2, "2019年部门决算", "", "2019-08-01", "2019-08-05", "", ""],
                           [3, "2019年三公经费", "", "2019-08-01", "2019-08-06", "", ""],
                           [4, "机构职能介绍", "机构职能", "2019-02-11", "2019-02-12", "政府网站", ""]],
                          ["A1:G1", "C3:C5", "F3:F5"])
    sub, report = run(con, s, fmt)
    assert_accepted(report)
    assert [(i.category, i.channels) for i in sub.items] == [
        ("C07", ["政府网站", "公开栏"]), ("C07", ["政府网站", "公开栏"]), ("C07", ["政府网站", "公开栏"]),
        ("C01", ["政府网站"])]
    table, _ = find_table(read_sheet(s, SCORES, fmt), SCORE_COLUMNS)
    assert [r.get("一级指标") for r in table.rows] == [i.group for i in SCHEME.indicators]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_merged_range_over_empty_rows_does_not_make_them_data(con, fmt):
    s = valid_sheets()
    # 公开类别 of the last item merged two rows further down, over rows that are otherwise empty
    s[LEDGER] = SheetSpec(ledger_sheet().rows + [[], []], ["A1:G1", "C4:C6"])
    sub, report = run(con, s, fmt)
    assert_accepted(report)
    assert [i.sheet_row for i in sub.items] == [3, 4]


@pytest.mark.parametrize("fmt", FORMATS)
def test_blank_rows_inside_and_after_the_table_are_skipped(con, fmt):
    s = valid_sheets()
    items = ledger_sheet().rows[2:]
    s[LEDGER] = SheetSpec([["主动公开台账"], list(LEDGER_HEADER), items[0], [], ["  ", "\u3000", "\t"], items[1],
                           [], [" "], []], ["A1:G1"])
    s[REQS].rows[3:3] = [[], ["", " "], ["SQ-002", "自然人", "2019-07-01", "", "否", "", "", ""], [], []]
    s[SCORES].rows.insert(10, [])
    s[SCORES].rows.append(["", "  "])
    sub, report = run(con, s, fmt)
    assert_accepted(report)
    assert [i.sheet_row for i in sub.items] == [3, 6]
    assert [r.sheet_row for r in sub.requests] == [3, 6]
    assert len(sub.scores) == len(SCHEME.self_indicators)


CLOSING = ["合计", "总计", "小计", "备注", "注：", "注:", "说明", "填表说明"]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("word", CLOSING)
def test_closing_rows_are_not_data(con, fmt, word):
    s = valid_sheets()
    s[LEDGER].rows += [[f"{word}：共2条" if not word.endswith(("：", ":")) else f"{word}日期按形成日填写"],
                       ["", f" {word} 本表由办公室填写"]]
    s[REQS].rows += [[word, "1件"]]
    s[SCORES].rows += [[f"{word}", "", "", "100", "98"]]
    sub, report = run(con, s, fmt)
    assert_accepted(report)
    assert len(sub.items) == 2 and len(sub.requests) == 1 and len(sub.scores) == len(SCHEME.self_indicators)


def test_a_row_starting_with_another_word_is_data(con):
    s = valid_sheets()
    s[REQS].rows += [["统计", "1件"]]  # not a closing word: a data row with errors
    _, report = run(con, s)
    assert ("date_empty", f"{REQS}!C4") in errors(report)


DATE_FORMS = [
    D, dt.datetime(2019, 6, 3, 14, 20), SERIAL, float(SERIAL) + 0.5, "2019-06-03", "2019/6/3", "2019.6.3",
    "2019年6月3日", "20190603", "2019-06-03 14:20", "２０１９－０６－０３", "２０１９年６月３日", " 2019-06-03 ",
    "\u30002019/06/03\u3000", 20190603,
]


@pytest.mark.parametrize("fmt", FORMATS)
def test_dates_as_date_cells_datetime_cells_serials_and_text(con, fmt):
    s = valid_sheets()
    s[LEDGER] = SheetSpec([list(LEDGER_HEADER)] + [[n + 1, f"信息{n}", "机构职能", form, form, "", ""]
                                             for n, form in enumerate(DATE_FORMS)])
    s[REQS] = SheetSpec([list(REQUEST_HEADER)] + [[f"SQ-{n}", "自然人", form, form, "否", form, "予以公开", ""]
                                            for n, form in enumerate(DATE_FORMS)])
    sub, report = run(con, s, fmt)
    assert_accepted(report)
    assert [(i.formed, i.published) for i in sub.items] == [(D, D)] * len(DATE_FORMS)
    assert [(r.received, r.corrected, r.answered) for r in sub.requests] == [(D, D, D)] * len(DATE_FORMS)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("form", [dt.date(2020, 1, 5), dt.datetime(2020, 1, 5, 9, 30), 43835, "2020年1月5日",
                                  "２０２０．１．５", "20200105"])
def test_report_date_in_any_form(con, fmt, form):
    sub, report = run(con, valid_sheets(date=form), fmt)
    assert_accepted(report)
    assert sub.report_date == dt.date(2020, 1, 5)


@pytest.mark.parametrize("fmt", FORMATS)
def test_numbers_as_numeric_cells_or_text(con, fmt):
    s = valid_sheets()
    typed = {"A1": "4", "A2": "2.5", "A3": "３", "B1": " 5 ", "B2": "3分", "B3": 1.5, "B4": 2, "C1": "３．５",
             "C2": "\u30002\u3000", "C3": " 2.5分 ", "J1": "0"}
    for code, v in typed.items():
        set_cell(s, SCORES, f"E{score_row(code)}", v)
    sub, report = run(con, s, fmt)
    assert_accepted(report)
    got = scores_of(sub)
    assert {c: got[c] for c in typed} == {"A1": 4, "A2": 2.5, "A3": 3, "B1": 5, "B2": 3, "B3": 1.5, "B4": 2,
                                          "C1": 3.5, "C2": 2, "C3": 2.5, "J1": 0}
    assert str(got["A2"]) == "2.5"  # exact decimals, not binary floats


@pytest.mark.parametrize("fmt", FORMATS)
def test_printed_max_points_as_text_agreeing_with_the_scheme_give_no_warning(con, fmt):
    s = valid_sheets()
    set_cell(s, SCORES, f"D{score_row('A1')}", "4分")
    set_cell(s, SCORES, f"D{score_row('A2')}", "３")
    _, report = run(con, s, fmt)
    assert_accepted(report)
    assert report.warnings == []


HEADER_FORMS = {
    SCORES: [("指标编号", "指标\n编号"), ("自评得分", "自评\n得分"), ("自评得分", "自评得分(分)"),
             ("自评得分", "自评得分（分）"), ("分值", "分值（分）"), ("自评得分", " 自评得分 ")],
    LEDGER: [("形成日期", "形成日期（格式：2019-01-01）"), ("公开日期", "公开日期(格式:2019-01-01)"),
             ("信息名称", "信息\u3000名称"), ("公开类别", "公开类别\n（从下拉列表选择）")],
    REQS: [("收到日期", "收到日期\r\n(收到申请之日)"), ("申请编号", "申请编号："), ("办理结果", "办理\n结果")],
}


def _alias_cases():
    cases = []
    for sheet, specs in ((SCORES, SCORE_COLUMNS), (LEDGER, LEDGER_COLUMNS), (REQS, REQUEST_COLUMNS)):
        for spec in specs:
            for alias in spec.aliases:
                cases.append((sheet, spec.name, alias))
        for canonical, form in HEADER_FORMS[sheet]:
            cases.append((sheet, canonical, form))
    return cases


HEADER_ROW = {SCORES: 2, LEDGER: 2, REQS: 2}


@pytest.mark.parametrize("sheet, canonical, alias", _alias_cases())
def test_header_aliases_and_normalised_headers(con, sheet, canonical, alias):
    s = valid_sheets()
    header = s[sheet].rows[HEADER_ROW[sheet] - 1]
    col = header.index(canonical)
    header[col] = alias
    sub, report = run(con, s)
    assert_accepted(report)
    assert report.warnings == []
    table, issues = find_table(read_sheet(s, sheet), {SCORES: SCORE_COLUMNS, LEDGER: LEDGER_COLUMNS,
                                                      REQS: REQUEST_COLUMNS}[sheet])
    assert issues == [] and table.cols[canonical] == col


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("label, form", [("单位名称", "单位名称："), ("单位名称", "填报单位"), ("单位名称", "单位名称:"),
                                         ("考核年度", "年度"), ("考核年度", "考核年度（年）"), ("填报日期", "填报日期\n(2020-01-05)"),
                                         ("联系电话", "联系\u3000电话"), ("填报人", " 填报人 ：")])
def test_info_label_aliases_and_normalised_labels(con, fmt, label, form):
    s = valid_sheets()
    for row in s[INFO].rows:
        if row[0] == label:
            row[0] = form
    sub, report = run(con, s, fmt)
    assert_accepted(report)
    assert (sub.unit, sub.year, sub.reporter, sub.phone, sub.report_date) == \
        (UNIT, 2019, "张三", "0451-7123456", dt.date(2020, 1, 5))


@pytest.mark.parametrize("fmt", FORMATS)
def test_info_labels_anywhere_in_the_first_20_rows_and_6_columns(con, fmt):
    rows = [["方正县政务公开自评表 单位信息"]] + [[]] * 5
    rows += [["", "", "", "考核年度", 2019], ["", "", "", "单位名称", UNIT], [], ["", "", "", "", "", "填报日期", "2020-01-05"],
             ["填报人", "张三", "", "联系电话", "0451-7123456"], [], ["单位类型", "", "部门"]]
    s = valid_sheets()
    s[INFO] = SheetSpec(rows, ["A1:F1", "A13:B13"])  # a label merged over two columns: its value is right of the range
    sub, report = run(con, s, fmt)
    assert_accepted(report)
    assert (sub.unit, sub.unit_type, sub.year, sub.report_date) == (UNIT, "部门", 2019, dt.date(2020, 1, 5))
    # outside the first 20 rows / 6 columns a label is not seen
    rows[12] = ["", "", "", "", "", "", "单位类型", "部门"]
    s[INFO] = SheetSpec(rows, ["A1:F1"])
    _, report = run(con, s, fmt)
    assert errors(report) == {("info_label_missing", INFO)}
    assert "单位类型" in report.errors[0].message


@pytest.mark.parametrize("fmt", FORMATS)
def test_sheet_names_with_spaces_or_full_width_order_irrelevant_extra_sheets_ignored(con, fmt):
    v = valid_sheets()
    s = {"填报说明": SheetSpec([["填报说明"], ["1. 日期请按 2019-06-03 填写"], ["合计", "x"]]),
         "依申请公开台账 ": v[REQS],
         "草稿": SheetSpec([["指标编号", "自评得分"], ["Z9", "abc"]]),
         "自评\u3000打分": v[SCORES],
         " 主动 公开台账": v[LEDGER],
         "\u3000单位信息": v[INFO]}
    sub, report = run(con, s, fmt)
    assert_accepted(report)
    assert len(sub.items) == 2 and len(sub.requests) == 1 and sub.unit == UNIT


@pytest.mark.parametrize("fmt", FORMATS)
def test_indicator_codes_case_insensitive_and_full_width(con, fmt):
    s = valid_sheets()
    for code, form in {"A1": "a1", "A2": "Ａ２", "A3": "ａ３", "B1": " b1 ", "J1": "ｊ1"}.items():
        set_cell(s, SCORES, f"A{score_row(code)}", form)
    sub, report = run(con, s, fmt)
    assert_accepted(report)
    assert [x.code for x in sub.scores] == [i.code for i in SCHEME.self_indicators]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("unit, form, canonical", [(UNIT, "部门", "部门"), (UNIT, "县直部门", "部门"),
                                                   (UNIT, "县直单位", "部门"), (UNIT, " 县直单位 ", "部门"),
                                                   (TOWN, "乡镇", "乡镇"), (TOWN, "乡", "乡镇"), (TOWN, "镇", "乡镇")])
def test_unit_type_aliases(con, fmt, unit, form, canonical):
    sub, report = run(con, valid_sheets(unit=unit, unit_type=form), fmt)
    assert_accepted(report)
    assert (sub.unit, sub.unit_type) == (unit, canonical)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("form", [2019, 2019.0, "2019", "2019年", "２０１９", "２０１９年", " 2019 ", "2019年度"])
def test_assessment_year_forms(con, fmt, form):
    s = valid_sheets()
    set_cell(s, INFO, "B4", form)
    sub, report = run(con, s, fmt)
    assert_accepted(report)
    assert sub.year == 2019


@pytest.mark.parametrize("fmt", FORMATS)
def test_unit_name_normalised(con, fmt):
    sub, report = run(con, valid_sheets(unit=" 方正县\u3000审计局\n"), fmt)
    assert_accepted(report)
    assert sub.unit == UNIT


@pytest.mark.parametrize("fmt", FORMATS)
def test_enumerated_values_normalised(con, fmt):
    s = valid_sheets()
    s[REQS].rows[2] = ["SQ-001", " 自然人 ", "2019-06-03", "", "y", "2019-06-20", "予以\n公开", " 维持 "]
    s[REQS].rows.append(["SQ-002", "商业企业", "2019-06-04", "", "√", "2019-06-30", "部分公开", ""])
    s[REQS].rows.append(["SQ-003", "", "2019-06-05", "", "", "", "", ""])
    s[LEDGER].rows[2][2] = " 部门预决算 "  # an alias of 财政预决算
    s[LEDGER].rows[2][5] = "政府网站，政务新媒体;公开栏"
    sub, report = run(con, s, fmt)
    assert_accepted(report)
    assert [(r.applicant_type, r.extended, r.result, r.review_result) for r in sub.requests] == [
        ("自然人", True, "予以公开", "维持"), ("商业企业", True, "部分公开", ""), ("", False, "", "")]
    assert sub.items[0].category == "C07" and sub.items[0].channels == ["政府网站", "政务新媒体", "公开栏"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_evidence_split_on_newlines_and_semicolons(con, fmt):
    s = valid_sheets()
    set_cell(s, SCORES, f"G{score_row('A1')}", "http://a/1\nhttp://a/2；会议纪要.pdf; 方案.docx ")
    set_cell(s, SCORES, f"F{score_row('A1')}", "  已按要求 落实  ")
    sub, report = run(con, s, fmt)
    assert_accepted(report)
    assert sub.scores[0].evidence == ["http://a/1", "http://a/2", "会议纪要.pdf", "方案.docx"]
    assert sub.scores[0].note == "已按要求 落实"


@pytest.mark.parametrize("fmt", FORMATS)
def test_two_row_header_with_sub_headers(con, fmt):
    s = valid_sheets()
    s[REQS] = SheetSpec([["依申请公开台账"],
                         ["申请编号", "收到日期", "答复情况", "", "复议诉讼结果"],
                         ["", "", "答复日期", "办理结果", ""],
                         ["SQ-1", "2019-06-03", "2019-06-20", "予以公开", ""]],
                        ["A1:E1", "A2:A3", "B2:B3", "C2:D2", "E2:E3"])
    sub, report = run(con, s, fmt)
    assert_accepted(report)
    r = sub.requests[0]
    assert (r.sheet_row, r.request_no, r.received, r.answered, r.result) == (4, "SQ-1", D, dt.date(2019, 6, 20),
                                                                              "予以公开")


def test_find_labels_value_right_of_a_merged_label():
    from data.reader import Sheet
    sh = Sheet("单位信息", [["单位名称", "单位名称", "方正镇"]], [((0, 0), (0, 1))])
    assert find_labels(sh, [ColumnSpec("单位名称")]) == {"单位名称": ("方正镇", "C1")}


def test_xlsm_is_read_like_xlsx(con):
    _, report = check_workbook(con, "t.xlsm", build(valid_sheets()), today=RECEIVED)
    assert_accepted(report)


# ================================================================ Errors and warnings

def _m(*cells):
    """A mutation setting cells: ("sheet", "A1", value), ..."""
    def apply(s):
        for sheet, a1, v in cells:
            set_cell(s, sheet, a1, v)
    return apply


def _append_score_row(code, score):
    def apply(s):
        s[SCORES].rows.append([code, "", "", "", score])
    return apply


def _delete_score_row(code):
    def apply(s):
        del s[SCORES].rows[score_row(code) - 1]
    return apply


def _add_request(row):
    def apply(s):
        s[REQS].rows.append(row)
    return apply


def _drop_result_column(s):
    drop_column(s, REQS, REQUEST_HEADER.index("办理结果"))
    set_cell(s, REQS, "F3", "2019-06-20")


LAST_SCORE_ROW = 2 + len(SCHEME.indicators)
A1, G1 = score_row("A1"), score_row("G1")

# (name, mutation, expected errors {(code, location)})
ERROR_CASES = [
    ("unit unknown", _m((INFO, "B2", "方正县不存在局")), {("unit_unknown", "单位信息!B2")}),
    ("unit type disagrees", _m((INFO, "B3", "乡镇")), {("unit_type_mismatch", "单位信息!B3")}),
    ("unit type invalid", _m((INFO, "B3", "街道")), {("unit_type_invalid", "单位信息!B3")}),
    ("year without scheme", _m((INFO, "B4", 2018)), {("year_no_scheme", "单位信息!B4")}),
    ("year not a year", _m((INFO, "B4", "二〇一九")), {("year_invalid", "单位信息!B4")}),
    ("year fraction", _m((INFO, "B4", 2019.5)), {("year_invalid", "单位信息!B4")}),
    ("reporter empty", _m((INFO, "B5", "")), {("info_empty", "单位信息!B5")}),
    ("unit name empty", _m((INFO, "B2", " ")), {("info_empty", "单位信息!B2")}),
    ("phone empty", _m((INFO, "B6", "")), {("info_empty", "单位信息!B6")}),
    ("phone invalid", _m((INFO, "B6", "电话0451")), {("phone_invalid", "单位信息!B6")}),
    ("report date empty", _m((INFO, "B7", "")), {("info_empty", "单位信息!B7")}),
    ("report date unreadable", _m((INFO, "B7", "去年年底")), {("date_invalid", "单位信息!B7")}),
    ("report date after received", _m((INFO, "B7", "2020-01-09")), {("date_future", "单位信息!B7")}),
    ("code unknown", _append_score_row("Z9", 1), {("score_code_unknown", f"自评打分!A{LAST_SCORE_ROW + 1}")}),
    ("code twice", _append_score_row("a1", 1), {("score_code_duplicate", f"自评打分!A{LAST_SCORE_ROW + 1}")}),
    ("self-scored indicator missing", _delete_score_row("A2"), {("score_code_missing", "自评打分")}),
    ("bonus indicator missing", _delete_score_row("J1"), {("score_code_missing", "自评打分")}),
    ("score empty", _m((SCORES, f"E{A1}", "")), {("score_empty", f"自评打分!E{A1}")}),
    ("score blank text", _m((SCORES, f"E{A1}", "  ")), {("score_empty", f"自评打分!E{A1}")}),
    ("score not a number", _m((SCORES, f"E{A1}", "四分")), {("score_not_number", f"自评打分!E{A1}")}),
    ("score negative", _m((SCORES, f"E{A1}", -1)), {("score_negative", f"自评打分!E{A1}")}),
    ("score negative text", _m((SCORES, f"E{A1}", "-0.5")), {("score_negative", f"自评打分!E{A1}")}),
    ("score above max", _m((SCORES, f"E{A1}", 4.5)), {("score_above_max", f"自评打分!E{A1}")}),
    ("score without code", _m((SCORES, f"A{A1}", ""), (SCORES, f"E{A1}", 3)),
     {("score_code_empty", f"自评打分!A{A1}"), ("score_code_missing", "自评打分")}),
    ("formed unreadable", _m((LEDGER, "D3", "2019-02-30")), {("date_invalid", "主动公开台账!D3")}),
    ("formed a bare number", _m((LEDGER, "D3", 2019)), {("date_invalid", "主动公开台账!D3")}),
    ("formed empty", _m((LEDGER, "D3", "")), {("date_empty", "主动公开台账!D3")}),
    ("published unreadable", _m((LEDGER, "E3", "下月")), {("date_invalid", "主动公开台账!E3")}),
    ("published before formed", _m((LEDGER, "E3", "2019-02-28")),
     {("published_before_formed", "主动公开台账!E3")}),
    ("title empty", _m((LEDGER, "B3", "")), {("title_empty", "主动公开台账!B3")}),
    ("category empty", _m((LEDGER, "C3", "")), {("category_empty", "主动公开台账!C3")}),
    ("category unknown", _m((LEDGER, "C3", "八卦新闻")), {("category_unknown", "主动公开台账!C3")}),
    ("formed after received", _m((LEDGER, "D3", "2020-01-09"), (LEDGER, "E3", "")),
     {("date_future", "主动公开台账!D3")}),
    ("published after received", _m((LEDGER, "E3", dt.date(2020, 2, 1))), {("date_future", "主动公开台账!E3")}),
    ("received unreadable", _m((REQS, "C3", "六月三日")), {("date_invalid", "依申请公开台账!C3")}),
    ("received empty", _m((REQS, "C3", "")), {("date_empty", "依申请公开台账!C3")}),
    ("corrected unreadable", _m((REQS, "D3", "补正过")), {("date_invalid", "依申请公开台账!D3")}),
    ("answered unreadable", _m((REQS, "F3", "已答复")), {("date_invalid", "依申请公开台账!F3")}),
    ("answered before received", _m((REQS, "F3", "2019-06-01")),
     {("answered_before_received", "依申请公开台账!F3")}),
    ("answered before corrected", _m((REQS, "D3", "2019-06-10"), (REQS, "F3", "2019-06-05")),
     {("answered_before_corrected", "依申请公开台账!F3")}),
    ("corrected before received", _m((REQS, "D3", "2019-06-01")),
     {("corrected_before_received", "依申请公开台账!D3")}),
    ("request number empty", _m((REQS, "A3", "")), {("request_no_empty", "依申请公开台账!A3")}),
    ("request number repeated", _add_request([" SQ-001 ", "自然人", "2019-07-01", "", "否", "", "", ""]),
     {("request_no_duplicate", "依申请公开台账!A4")}),
    ("extended invalid", _m((REQS, "E3", "可能")), {("extended_invalid", "依申请公开台账!E3")}),
    ("result invalid", _m((REQS, "G3", "已答复")), {("result_invalid", "依申请公开台账!G3")}),
    ("review result invalid", _m((REQS, "H3", "撤诉")), {("review_result_invalid", "依申请公开台账!H3")}),
    ("answered without result", _m((REQS, "G3", "")), {("result_missing", "依申请公开台账!G3")}),
    ("answered without a result column: the row", _drop_result_column, {("result_missing", "依申请公开台账!3")}),
    ("received after received day", _m((REQS, "C3", "2020-01-09"), (REQS, "F3", ""), (REQS, "G3", "")),
     {("date_future", "依申请公开台账!C3")}),
    ("corrected after received day", _m((REQS, "D3", "2020-01-09"), (REQS, "F3", ""), (REQS, "G3", "")),
     {("date_future", "依申请公开台账!D3")}),
    ("answered after received day", _m((REQS, "F3", "2020-01-10")), {("date_future", "依申请公开台账!F3")}),
]


@pytest.mark.parametrize("name, mutate, expected", ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_each_error_with_its_exact_location(con, name, mutate, expected):
    s = valid_sheets()
    mutate(s)
    _, report = run(con, s)
    assert errors(report) == expected
    for i in report.errors:
        assert i.is_error and i.severity_label == "错误"
        assert any("\u4e00" <= ch <= "\u9fff" for ch in i.message), i.message  # Chinese


def test_error_messages_say_what_was_found_and_what_is_expected(con):
    s = valid_sheets()
    _m((SCORES, f"E{A1}", 4.5), (LEDGER, "C3", "八卦新闻"), (REQS, "E3", "可能"), (INFO, "B3", "街道"),
       (LEDGER, "D4", "2019-02-30"))(s)
    _, report = run(con, s)
    by = {i.code: i.message for i in report.errors}
    assert "4.5" in by["score_above_max"] and "4" in by["score_above_max"]
    assert "八卦新闻" in by["category_unknown"] and "目录" in by["category_unknown"]
    assert "可能" in by["extended_invalid"] and "是" in by["extended_invalid"] and "否" in by["extended_invalid"]
    assert "街道" in by["unit_type_invalid"] and "乡镇" in by["unit_type_invalid"]
    assert "2019-02-30" in by["date_invalid"] and "2019-06-03" in by["date_invalid"]


@pytest.mark.parametrize("sheet", [INFO, SCORES, LEDGER, REQS])
def test_required_sheet_missing(con, sheet):
    s = valid_sheets()
    del s[sheet]
    _, report = run(con, s)
    assert errors(report) == {("sheet_missing", sheet)}
    assert sheet in report.errors[0].message


def _required_headers():
    out = []
    for sheet, specs in ((SCORES, SCORE_COLUMNS), (LEDGER, LEDGER_COLUMNS), (REQS, REQUEST_COLUMNS)):
        out += [(sheet, c.name) for c in specs if c.required]
    return out


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("sheet, header", _required_headers())
def test_required_header_missing(con, fmt, sheet, header):
    s = valid_sheets()
    row = s[sheet].rows[HEADER_ROW[sheet] - 1]
    row[row.index(header)] = "备用"
    _, report = run(con, s, fmt)
    assert errors(report) == {("header_missing", sheet)}
    assert len(report.errors) == 1 and f"“{header}”" in report.errors[0].message


@pytest.mark.parametrize("label", [c.name for c in INFO_LABELS])
def test_info_label_missing(con, label):
    s = valid_sheets()
    for row in s[INFO].rows:
        if row[0] == label:
            row[0] = "其他"
    _, report = run(con, s)
    assert errors(report) == {("info_label_missing", INFO)}
    assert f"“{label}”" in report.errors[0].message


WARNING_CASES = [
    ("printed max differs", _m((SCORES, f"D{A1}", 5)), {("max_differs", f"自评打分!D{A1}")}),
    ("printed max not a number", _m((SCORES, f"D{A1}", "四")), {("max_differs", f"自评打分!D{A1}")}),
    ("score in an automatic row", _m((SCORES, f"E{G1}", 6)), {("auto_score_ignored", f"自评打分!E{G1}")}),
    ("ledger item outside the year", _m((LEDGER, "D3", "2018-12-20"), (LEDGER, "E3", "2019-01-05")),
     {("item_outside_year", "主动公开台账!D3")}),
    ("request outside the year", _m((REQS, "C3", "2018-12-28")), {("request_outside_year", "依申请公开台账!C3")}),
    ("unknown channel", _m((LEDGER, "F3", "政府网站、微信群")), {("channel_unknown", "主动公开台账!F3")}),
    ("unknown applicant type", _m((REQS, "B3", "外星人")), {("applicant_type_unknown", "依申请公开台账!B3")}),
]


@pytest.mark.parametrize("name, mutate, expected", WARNING_CASES, ids=[c[0] for c in WARNING_CASES])
def test_each_warning_with_its_exact_location(con, name, mutate, expected):
    s = valid_sheets()
    mutate(s)
    sub, report = run(con, s)
    assert_accepted(report)
    assert warnings(report) == expected
    assert report.warnings[0].severity_label == "警告"
    # warned rows are still kept
    assert len(sub.items) == 2 and len(sub.requests) == 1


def test_outside_year_rows_are_kept_with_their_dates(con):
    s = valid_sheets()
    _m((LEDGER, "D3", "2018-12-20"), (LEDGER, "E3", "2019-01-05"), (REQS, "C3", "2018-12-28"),
       (REQS, "F3", "2019-01-10"))(s)
    sub, report = run(con, s)
    assert_accepted(report)
    assert sub.items[0].formed == dt.date(2018, 12, 20) and sub.requests[0].received == dt.date(2018, 12, 28)
    assert "2019" in report.warnings[0].message and "不计入" in report.warnings[0].message


def test_max_differs_the_scheme_wins(con):
    s = valid_sheets()
    _m((SCORES, f"D{A1}", 10), (SCORES, f"E{A1}", 8))(s)  # the printed 10 is wrong: the scheme says 4
    _, report = run(con, s)
    assert errors(report) == {("score_above_max", f"自评打分!E{A1}")}
    assert warnings(report) == {("max_differs", f"自评打分!D{A1}")}


def test_a_date_on_the_received_day_is_fine(con):
    s = valid_sheets(date=RECEIVED.isoformat())
    _m((REQS, "C3", "2019-12-30"), (REQS, "F3", RECEIVED))(s)
    _, report = run(con, s)
    assert_accepted(report)
    _, report = run(con, s, today=RECEIVED - dt.timedelta(days=1))
    assert errors(report) == {("date_future", "单位信息!B7"), ("date_future", "依申请公开台账!F3")}


@pytest.mark.parametrize("fmt", FORMATS)
def test_all_problems_of_a_workbook_are_reported_at_once(con, fmt):
    s = valid_sheets()
    _m((INFO, "B3", "乡镇"), (INFO, "B6", "电话"),
       (SCORES, f"E{A1}", "四分"), (SCORES, f"E{score_row('B1')}", 9), (SCORES, f"D{score_row('A2')}", 9),
       (LEDGER, "C3", "八卦"), (LEDGER, "D4", "2019-02-30"), (LEDGER, "E4", "2019-01-01"),
       (REQS, "E3", "可能"), (REQS, "H3", "撤诉"), (REQS, "C3", "2018-12-01"))(s)
    _delete_score_row("I4")(s)
    _add_request(["SQ-001", "", "2019-07-01", "", "", "2019-07-02", "", ""])(s)
    _, report = run(con, s, fmt)
    b1 = score_row("B1")
    assert errors(report) == {
        ("unit_type_mismatch", "单位信息!B3"), ("phone_invalid", "单位信息!B6"),
        ("score_not_number", f"自评打分!E{A1}"), ("score_above_max", f"自评打分!E{b1}"),
        ("score_code_missing", "自评打分"),
        ("category_unknown", "主动公开台账!C3"), ("date_invalid", "主动公开台账!D4"),
        ("extended_invalid", "依申请公开台账!E3"), ("review_result_invalid", "依申请公开台账!H3"),
        ("request_no_duplicate", "依申请公开台账!A4"), ("result_missing", "依申请公开台账!G4"),
    }
    assert warnings(report) == {("max_differs", f"自评打分!D{score_row('A2')}"),
                                ("request_outside_year", "依申请公开台账!C3")}


def test_missing_sheets_and_bad_cells_are_reported_together(con):
    s = valid_sheets()
    del s[REQS]
    _m((LEDGER, "C3", "八卦"), (INFO, "B2", "不存在局"))(s)
    _, report = run(con, s)
    assert errors(report) == {("sheet_missing", REQS), ("category_unknown", "主动公开台账!C3"),
                              ("unit_unknown", "单位信息!B2")}


# ================================================================ file refusals

def _refused(con, name, content) -> set[str]:
    sub, report = check_workbook(con, name, content, today=RECEIVED)
    assert sub is None and not report.ok
    for i in report.errors:
        assert i.sheet is None and i.location == ""
        assert any("\u4e00" <= ch <= "\u9fff" for ch in i.message)
    return {i.code for i in report.errors}


@pytest.mark.parametrize("name", ["自评表.et", "自评表.wps", "自评表.ET"])
def test_wps_native_files_are_refused_with_what_to_do(con, name):
    assert _refused(con, name, build(valid_sheets())) == {"file_wps_native"}
    _, report = check_workbook(con, name, b"anything", today=RECEIVED)
    assert "请在WPS中另存为 .xlsx 后上传" in report.errors[0].message


@pytest.mark.parametrize("content", [
    b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
    "单位名称,方正县审计局\n考核年度,2019\n".encode("utf-8"),
    b"<html><body><table><tr><td>x</td></tr></table></body></html>",
    b"\x89PNG\r\n\x1a\n" + b"\x00" * 50,
], ids=["pdf", "text", "html", "png"])
def test_files_that_are_not_spreadsheets_are_refused(con, content):
    assert _refused(con, "自评表.xlsx", content) == {"file_not_spreadsheet"}


def test_a_word_document_renamed_xlsx_is_refused(con):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    assert _refused(con, "自评表.xlsx", buf.getvalue()) == {"file_not_spreadsheet"}
    _, report = check_workbook(con, "自评表.xlsx", buf.getvalue(), today=RECEIVED)
    assert "不是电子表格" in report.errors[0].message


def test_an_encrypted_xlsx_is_refused(con):
    from msoffcrypto.format.ooxml import OOXMLFile

    out = io.BytesIO()
    OOXMLFile(io.BytesIO(build(valid_sheets()))).encrypt("123456", out)
    assert _refused(con, "自评表.xlsx", out.getvalue()) == {"file_encrypted"}
    _, report = check_workbook(con, "自评表.xlsx", out.getvalue(), today=RECEIVED)
    assert "密码" in report.errors[0].message


def test_an_encrypted_xls_is_refused(con, tmp_path):
    import olefile

    p = tmp_path / "enc.xls"
    p.write_bytes(build(valid_sheets(), "xls"))
    with olefile.OleFileIO(str(p), write_mode=True) as ole:
        stream = bytearray(ole.openstream("Workbook").read())
        bof_len = struct.unpack_from("<H", stream, 2)[0]
        assert struct.unpack_from("<H", stream, 0)[0] == 0x0809  # BOF
        struct.pack_into("<H", stream, 4 + bof_len, 0x002F)      # the next record becomes FILEPASS
        ole.write_stream("Workbook", bytes(stream))
    assert _refused(con, "自评表.xls", p.read_bytes()) == {"file_encrypted"}


def test_a_file_over_20_mb_is_refused(con):
    content = build(valid_sheets()) + b"\0" * (20 * 1024 * 1024)
    assert _refused(con, "自评表.xlsx", content) == {"file_too_large"}
    _, report = check_workbook(con, "自评表.xlsx", content, today=RECEIVED)
    assert "20 MB" in report.errors[0].message


def _bomb() -> bytes:
    """A real workbook whose first sheet expands to 300 MB of white space (0.3 MB packed)."""
    good = zipfile.ZipFile(io.BytesIO(build(valid_sheets())))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for info in good.infolist():
            data = good.read(info)
            if info.filename != "xl/worksheets/sheet1.xml":
                z.writestr(info.filename, data)
                continue
            zi = zipfile.ZipInfo(info.filename)
            zi.compress_type = zipfile.ZIP_DEFLATED
            with z.open(zi, "w") as f:
                f.write(data[:-20])
                block = b" " * (1 << 20)
                for _ in range(300):
                    f.write(block)
                f.write(data[-20:])
    return buf.getvalue()


@pytest.fixture(scope="module")
def bomb():
    return _bomb()


def test_an_archive_that_would_expand_too_far_is_refused(con, bomb):
    assert len(bomb) < 2 * 1024 * 1024
    assert _refused(con, "自评表.xlsx", bomb) == {"file_archive_too_large"}


def test_an_archive_lying_about_its_size_is_not_read_beyond_it(con, bomb):
    liar = bytearray(bomb)
    name = b"xl/worksheets/sheet1.xml"
    p = liar.find(b"PK\x01\x02")
    while p != -1:
        n = struct.unpack_from("<H", liar, p + 28)[0]
        if bytes(liar[p + 46:p + 46 + n]) == name:
            struct.pack_into("<I", liar, p + 24, 5000)
            struct.pack_into("<I", liar, struct.unpack_from("<I", liar, p + 42)[0] + 22, 5000)
        p = liar.find(b"PK\x01\x02", p + 4)
    sub, report = check_workbook(con, "自评表.xlsx", bytes(liar), today=RECEIVED)
    assert not report.ok
    assert {i.code for i in report.errors} <= {"file_unreadable", "sheet_unreadable"}


def test_an_empty_file_is_refused(con):
    assert _refused(con, "自评表.xlsx", b"") == {"file_empty"}


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_a_truncated_xlsx_is_refused(con, cut):
    good = build(valid_sheets())
    assert _refused(con, "自评表.xlsx", good[:int(len(good) * cut)]) == {"file_unreadable"}


def test_an_xlsx_with_a_corrupted_part_is_refused(con):
    good = zipfile.ZipFile(io.BytesIO(build(valid_sheets())))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for info in good.infolist():
            data = good.read(info)
            if info.filename == "xl/workbook.xml":
                data = b"<workbook><sheets><sheet name="
            z.writestr(info.filename, data)
    assert _refused(con, "自评表.xlsx", buf.getvalue()) == {"file_unreadable"}


def test_a_truncated_xls_is_refused(con):
    good = build(valid_sheets(), "xls")
    codes = _refused(con, "自评表.xls", good[:len(good) // 3])
    assert codes <= {"file_unreadable", "file_not_spreadsheet"} and codes


def test_a_corrupted_sheet_is_reported_for_that_sheet(con):
    good = zipfile.ZipFile(io.BytesIO(build(valid_sheets())))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for info in good.infolist():
            data = good.read(info)
            if info.filename == "xl/worksheets/sheet3.xml":  # 主动公开台账
                data = data[:len(data) // 2]
            z.writestr(info.filename, data)
    sub, report = check_workbook(con, "自评表.xlsx", buf.getvalue(), today=RECEIVED)
    assert not report.ok
    assert any(i.code in ("sheet_unreadable", "file_unreadable") for i in report.errors)


def _patch_part(content: bytes, part: str, edit) -> bytes:
    """Rewrite one XML part of an .xlsx (for shapes openpyxl is too slow to make)."""
    src = zipfile.ZipFile(io.BytesIO(content))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            data = src.read(info)
            z.writestr(info.filename, edit(data.decode()).encode() if info.filename == part else data)
    return buf.getvalue()


STRAY = '<row r="200000"><c r="H200000" t="inlineStr"><is><t> </t></is></c></row></sheetData>'


def test_a_stray_far_cell_in_a_required_sheet_is_reported_not_read(con):
    # 主动公开台账 is sheet3.xml: a blank typed 200 000 rows down
    content = _patch_part(build(valid_sheets()), "xl/worksheets/sheet3.xml", lambda x: x.replace("</sheetData>", STRAY))
    _, report = check_workbook(con, "t.xlsx", content, today=RECEIVED)
    assert errors(report) == {("sheet_too_large", LEDGER)}
    assert "200000 行" in report.errors[0].message and "删除" in report.errors[0].message


def test_a_stray_far_cell_in_an_extra_sheet_is_ignored(con):
    s = valid_sheets()
    s["草稿"] = SheetSpec([["随便写写"]])  # sheet5.xml
    content = _patch_part(build(s), "xl/worksheets/sheet5.xml", lambda x: x.replace("</sheetData>", STRAY))
    _, report = check_workbook(con, "t.xlsx", content, today=RECEIVED)
    assert_accepted(report)


def test_merged_ranges_over_whole_columns_and_rows_are_clipped(con):
    def edit(x):
        return x.replace('<mergeCell ref="A1:G1" />',
                         '<mergeCell ref="A1:G1" /><mergeCell ref="K1:K1048576" /><mergeCell ref="A40:XFD40" />')
    content = _patch_part(build(valid_sheets()), "xl/worksheets/sheet3.xml", edit)
    sub, report = check_workbook(con, "t.xlsx", content, today=RECEIVED)
    assert_accepted(report)
    assert len(sub.items) == 2
    sheet = read_workbook("t.xlsx", content).sheet(LEDGER)
    assert sheet.n_rows == 4 and len(sheet.grid[0]) == 7


def test_the_read_error_lists_issues():
    with pytest.raises(ReadError) as e:
        read_workbook("x.xlsx", b"")
    assert e.value.issues[0].code == "file_empty" and "0 字节" in str(e.value)


# ================================================================ audit: deviations found and fixed

def test_a_canonical_header_wins_over_an_alias_in_the_same_row(con):
    # 编号 is an alias of 申请编号; a sheet with a plain row number 编号 *and* a 申请编号 column
    # must read the request numbers from 申请编号, not from the leftmost alias
    s = valid_sheets()
    s[REQS] = SheetSpec([["依申请公开台账"], ["编号", *REQUEST_HEADER],
                         [1, "SQ-001", "自然人", "2019-06-03", "", "否", "2019-06-20", "予以公开", ""],
                         [2, "SQ-002", "自然人", "2019-06-04", "", "否", "2019-06-21", "予以公开", ""]])
    sub, report = run(con, s)
    assert_accepted(report)
    assert [r.request_no for r in sub.requests] == ["SQ-001", "SQ-002"]
    # and in 自评打分: 说明 (alias) left of 自评说明 (canonical)
    s = valid_sheets()
    for r in s[SCORES].rows[1:]:
        r.insert(0, "说明" if r is s[SCORES].rows[1] else "备用")
    s[SCORES].rows[1][6] = "自评说明"
    set_cell(s, SCORES, f"G{A1}", "已落实")
    sub, report = run(con, s)
    assert_accepted(report)
    assert sub.scores[0].note == "已落实"


def test_a_future_date_is_an_error_and_not_also_an_outside_year_warning(con):
    s = valid_sheets()
    _m((REQS, "C3", "2020-01-09"), (REQS, "F3", ""), (REQS, "G3", ""),
       (LEDGER, "D3", "2020-01-09"), (LEDGER, "E3", ""))(s)
    _, report = run(con, s)
    assert errors(report) == {("date_future", "依申请公开台账!C3"), ("date_future", "主动公开台账!D3")}
    # "予以保存" would be false: the row is not stored
    assert warnings(report) == set()


def test_a_ledger_item_titled_with_a_closing_word_is_data_when_its_row_number_comes_first(con):
    s = valid_sheets()
    s[LEDGER].rows.append([3, "说明会召开情况", "重大决策预公开", "2019-03-01", "2019-03-02", "", ""])
    sub, report = run(con, s)
    assert_accepted(report)
    assert [i.title for i in sub.items][-1] == "说明会召开情况"


def test_every_error_message_says_what_is_expected(con):
    s = valid_sheets()
    _m((SCORES, f"E{A1}", "满分"), (SCORES, f"E{score_row('A2')}", -1), (LEDGER, "B3", ""),
       (LEDGER, "C4", "八卦新闻"), (LEDGER, "E4", "2019-02-01"), (REQS, "G3", ""),
       (INFO, "B6", "（0451）7123456"))(s)
    s[SCORES].rows.append(["Z9", "", "", "", 1])
    s[SCORES].rows.append(["B1", "", "", "", 1])
    s[SCORES].rows.append(["", "", "", "", 1])
    s[REQS].rows.append(["SQ-001", "自然人", "2019-06-03", "2019-06-01", "否", "", "", ""])
    s[REQS].rows.append(["", "自然人", "2019-06-03", "", "否", "", "", ""])
    _, report = run(con, s)
    by = {i.code: i.message for i in report.errors}
    assert "0 至 4" in by["score_not_number"]
    assert "0 至 3" in by["score_negative"]
    assert "请填写" in by["title_empty"]
    assert "下拉" in by["category_unknown"] and "目录" in by["category_unknown"]
    assert "不能早于" in by["published_before_formed"]
    assert "请填写办理结果" in by["result_missing"]
    assert "模板" in by["score_code_unknown"]
    assert "只能填一行" in by["score_code_duplicate"]
    assert "请填写指标编号" in by["score_code_empty"]
    assert "不得重复" in by["request_no_duplicate"]
    assert "请填写" in by["request_no_empty"]
    assert "不能早于" in by["corrected_before_received"]
    assert "（0451）7123456" in by["phone_invalid"]  # as typed, not as normalised


def test_a_canonical_label_wins_over_an_alias(con):
    s = valid_sheets()
    s[INFO].rows.insert(1, ["填报单位", "（盖章）"])
    sub, report = run(con, s)
    assert_accepted(report)
    assert sub.unit == UNIT


def test_every_refused_file_message_says_what_to_do(con, bomb):
    _, report = check_workbook(con, "自评表.xlsx", bomb, today=RECEIVED)
    assert "请" in report.errors[0].message and "保存" in report.errors[0].message


@pytest.mark.parametrize("content", [
    b"<html><body><table><tr><td>x</td></tr></table></body></html>",  # a web page saved as .xls by an export
    "单位名称,方正县审计局\n".encode("utf-8"),
])
def test_a_disguised_xls_is_refused_with_how_to_convert_it(con, content):
    _, report = check_workbook(con, "自评表.xls", content, today=RECEIVED)
    assert report.errors[0].code == "file_not_spreadsheet"
    assert "另存为 .xlsx" in report.errors[0].message
