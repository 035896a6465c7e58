"""The official blank workbook (data.template): structure, and a fill → ingest round trip."""
import datetime as dt
import io
from decimal import Decimal

import openpyxl
import pytest

from data.ingest import ingest_bytes
from data.reader import read_workbook
from data.registry import Unit
from data.template import (AUTO_TEXT, LEDGER_HEADERS, REQUEST_HEADERS, SCORE_HEADERS, build_template,
                           title_of)
from core.vocab import APPLICANT_TYPES, CHANNELS, RESULTS, REVIEW_RESULTS, YES_NO
from core.scheme import load_catalogue, scheme_for

DEPT = Unit("方正县审计局", "部门", ())
TOWN = Unit("方正镇", "乡镇", ())


def _open(data: bytes):
    return openpyxl.load_workbook(io.BytesIO(data))


@pytest.fixture(scope="module")
def wb2019():
    return _open(build_template(scheme_for(2019), DEPT))


def test_sheets_and_hidden_options(wb2019):
    assert wb2019.sheetnames == ["填报说明", "单位信息", "自评打分", "主动公开台账", "依申请公开台账", "年报数据", "选项"]
    assert wb2019["选项"].sheet_state == "hidden"
    for name in wb2019.sheetnames[:-1]:
        assert wb2019[name].sheet_state == "visible"


def test_headers_title_and_freeze(wb2019):
    for name, headers in (("自评打分", SCORE_HEADERS), ("主动公开台账", LEDGER_HEADERS),
                          ("依申请公开台账", REQUEST_HEADERS)):
        ws = wb2019[name]
        assert tuple(c.value for c in ws[2][: len(headers)]) == headers
        assert ws.freeze_panes == "A3"
        assert "2019" in ws["A1"].value
        assert any(str(r).startswith("A1:") for r in ws.merged_cells.ranges)  # title merged across
        assert ws.page_setup.orientation == "landscape"
        assert ws.page_setup.fitToWidth == 1
        assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert wb2019["自评打分"]["A1"].value == "方正县2019年政务公开工作自评表" == title_of(scheme_for(2019))
    assert wb2019["主动公开台账"].column_dimensions["B"].width >= 30


@pytest.mark.parametrize("year", [2019, 2022])
def test_indicator_rows_match_scheme(year):
    scheme = scheme_for(year)
    ws = _open(build_template(scheme, DEPT))["自评打分"]
    rows = list(ws.iter_rows(min_row=3, max_row=2 + len(scheme.indicators), values_only=True))
    assert ws.cell(3 + len(scheme.indicators), 1).value is None  # nothing after the last indicator
    merged = {str(r) for r in ws.merged_cells.ranges}
    for ind, row in zip(scheme.indicators, rows):
        code, group, text, mx, score, note, evidence = row[:7]
        assert code == ind.code
        assert Decimal(str(mx)) == ind.max
        assert text == ind.text
        assert score is None  # blank template: nothing pre-scored, and never a score in an automatic row
        if ind.type == "auto":
            assert note == AUTO_TEXT
    # 一级指标 vertically merged per group: one B range per group of more than one row
    groups = scheme.groups
    b_ranges = [r for r in merged if r.startswith("B")]
    multi = [g for g in groups if sum(1 for i in scheme.indicators if i.group == g) > 1]
    assert len(b_ranges) == len(multi)
    # grey fill on automatic rows
    for n, ind in enumerate(scheme.indicators, start=3):
        fill = ws.cell(n, 5).fill.fgColor.rgb
        assert (fill == "00D9D9D9") == (ind.type == "auto"), (ind.code, fill)
    if year == 2022:
        a1 = next(r for r in rows if r[0] == "A1")
        h1 = next(r for r in rows if r[0] == "H1")
        assert (a1[3], h1[3]) == (2, 12)


def test_score_validation_uses_each_max():
    scheme = scheme_for(2022)
    ws = _open(build_template(scheme, DEPT))["自评打分"]
    by_cell = {}
    for dv in ws.data_validations.dataValidation:
        for rng in dv.sqref.ranges:
            for row in ws[rng.coord] if ":" in rng.coord else [[ws[rng.coord]]]:
                for cell in row:
                    by_cell[cell.coordinate] = dv
    for n, ind in enumerate(scheme.indicators, start=3):
        dv = by_cell[f"E{n}"]
        if ind.type == "auto":
            assert dv.type == "textLength"
        else:
            assert dv.type == "decimal" and dv.operator == "between"
            assert (Decimal(dv.formula1), Decimal(dv.formula2)) == (0, ind.max)


def test_prefilled_unit_info():
    ws = _open(build_template(scheme_for(2021), TOWN))["单位信息"]
    vals = {ws.cell(r, 1).value: ws.cell(r, 2).value for r in range(2, 8)}
    assert vals["单位名称"] == "方正镇"
    assert vals["单位类型"] == "乡镇"
    assert vals["考核年度"] == 2021
    assert vals["填报人"] is None and vals["联系电话"] is None and vals["填报日期"] is None
    assert list(vals) == ["单位名称", "单位类型", "考核年度", "填报人", "联系电话", "填报日期"]
    blank = _open(build_template(scheme_for(2021)))["单位信息"]
    assert blank["B2"].value is None and blank["B4"].value == 2021


def test_options_and_dropdowns(wb2019):
    opts = wb2019["选项"]
    cols = {opts.cell(1, c).value: [opts.cell(r, c).value for r in range(2, opts.max_row + 1)
                                    if opts.cell(r, c).value is not None]
            for c in range(1, opts.max_column + 1)}
    assert cols["公开类别"] == [c.name for c in load_catalogue().categories]
    assert cols["公开渠道"] == list(CHANNELS)
    assert cols["申请人类型"] == list(APPLICANT_TYPES)
    assert cols["是否延期"] == list(YES_NO)
    assert cols["办理结果"] == list(RESULTS)
    assert cols["复议诉讼结果"] == list(REVIEW_RESULTS)

    def validations(ws):
        out = {}
        for dv in ws.data_validations.dataValidation:
            for r in dv.sqref.ranges:
                out[r.coord] = dv
        return out

    led = validations(wb2019["主动公开台账"])
    assert "选项" in led["C3:C1002"].formula1 and led["C3:C1002"].type == "list"
    assert led["F3:F1002"].type == "list" and not led["F3:F1002"].showErrorMessage  # several channels may be typed
    assert led["D3:D1002"].type == "date" and led["E3:E1002"].type == "date"
    assert wb2019["主动公开台账"].column_dimensions["D"].number_format == "yyyy-mm-dd"
    req = validations(wb2019["依申请公开台账"])
    for col in "BEGH":
        key = next(k for k in req if k.startswith(col))
        assert req[key].type == "list" and "选项" in req[key].formula1
    for col in "CDF":
        key = next(k for k in req if k.startswith(col))
        assert req[key].type == "date"
        assert wb2019["依申请公开台账"].column_dimensions[col].number_format == "yyyy-mm-dd"


def test_instructions_mention_deadline_and_format(wb2019):
    text = "\n".join(str(c.value) for c in wb2019["填报说明"]["A"] if c.value)
    assert "2020年1月10日" in text  # the 2019 cutoff
    assert ".xlsx" in text and ".xls" in text
    assert "系统" in text and "自动计算" in text
    assert "审计局" in text  # the unit's own required categories are listed
    for v in (*RESULTS, *APPLICANT_TYPES):
        assert v in text


def test_blank_template_is_read_but_incomplete(con):
    """The reader finds every sheet and header of the blank template; what is missing is only what the unit fills in."""
    from data.ingest import check_workbook

    data = build_template(scheme_for(2019), DEPT)
    wb = read_workbook("t.xlsx", data)
    assert {"单位信息", "自评打分", "主动公开台账", "依申请公开台账"} <= set(wb.sheets)
    _, report = check_workbook(con, "t.xlsx", data, today=dt.date(2020, 1, 8))
    codes = {i.code for i in report.errors}
    assert codes == {"info_empty", "score_empty"}
    assert not report.warnings  # nothing typed in automatic rows, 分值 as in the scheme


def test_round_trip_fill_and_ingest(con):
    scheme = scheme_for(2019)
    wb = _open(build_template(scheme, DEPT))
    info = wb["单位信息"]
    info["B5"], info["B6"], info["B7"] = "张三", "0451-57123456", dt.date(2020, 1, 7)
    ws = wb["自评打分"]
    expected = {}
    for r in range(3, 3 + len(scheme.indicators)):
        code = ws.cell(r, 1).value
        ind = scheme.indicator(code)
        if ind.type == "auto":
            continue
        score = {"B1": Decimal(3), "C3": Decimal("2.5"), "J1": Decimal(1)}.get(code, ind.max if ind.type == "self" else 0)
        ws.cell(r, 5).value = float(score) if score != int(score) else int(score)
        ws.cell(r, 7).value = "http://www.fangzheng.gov.cn/a.html\n方案.pdf" if code == "A2" else None
        expected[code] = score
    led = wb["主动公开台账"]
    rows = [
        (1, "县审计局2019年部门预算", "财政预决算", dt.date(2019, 3, 1), dt.date(2019, 3, 8), "政府网站、政务新媒体",
         "http://www.fangzheng.gov.cn/b.html"),
        (2, "县审计局权责清单", "权力清单", dt.date(2019, 6, 3), dt.date(2019, 7, 30), "政府网站", None),
        (3, "关于《征求意见稿》的公告", "重大决策预公开", dt.date(2019, 12, 27), None, None, None),
    ]
    for i, row in enumerate(rows, start=3):
        for c, v in enumerate(row, start=1):
            led.cell(i, c).value = v
    req = wb["依申请公开台账"]
    for c, v in enumerate(["SJ-2019-001", "自然人", dt.date(2019, 8, 1), dt.date(2019, 8, 5), "否",
                           dt.date(2019, 8, 20), "部分公开", "维持"], start=1):
        req.cell(3, c).value = v
    buf = io.BytesIO()
    wb.save(buf)

    res = ingest_bytes(con, "审计局2019.xlsx", buf.getvalue(), received=dt.date(2020, 1, 8))
    assert res.outcome == "accepted", [(i.location, i.message) for i in res.report.errors]
    assert not res.report.warnings
    assert (res.unit, res.year, res.version) == ("方正县审计局", 2019, 1)
    sid = res.submission_id
    stored = dict(con.execute("SELECT code, score FROM self_scores WHERE submission_id = ?", [sid]).fetchall())
    assert stored == expected
    assert not {"G1", "G3", "H1", "H2", "I1"} & set(stored)
    ev = con.execute("SELECT evidence FROM self_scores WHERE submission_id = ? AND code = 'A2'", [sid]).fetchone()[0]
    assert ev == ["http://www.fangzheng.gov.cn/a.html", "方案.pdf"]
    items = con.execute("SELECT title, category, formed, published, channels FROM ledger_items WHERE submission_id = ? "
                        "ORDER BY sheet_row", [sid]).fetchall()
    assert [(i[1], i[2], i[3]) for i in items] == [("C07", dt.date(2019, 3, 1), dt.date(2019, 3, 8)),
                                                  ("C16", dt.date(2019, 6, 3), dt.date(2019, 7, 30)),
                                                  ("C15", dt.date(2019, 12, 27), None)]
    assert items[0][4] == ["政府网站", "政务新媒体"]
    r = con.execute("SELECT request_no, applicant_type, received, corrected, extended, answered, result, review_result "
                    "FROM requests WHERE submission_id = ?", [sid]).fetchall()
    assert r == [("SJ-2019-001", "自然人", dt.date(2019, 8, 1), dt.date(2019, 8, 5), False, dt.date(2019, 8, 20),
                  "部分公开", "维持")]
    info_row = con.execute("SELECT reporter, phone, report_date FROM submissions WHERE id = ?", [sid]).fetchone()
    assert info_row == ("张三", "0451-57123456", dt.date(2020, 1, 7))


def test_hints_and_instructions_agree_with_the_year_and_the_reader():
    wb = _open(build_template(scheme_for(2022), DEPT))
    hint = wb["单位信息"]["C7"].value
    assert "2023-01" in hint  # a 填报日期 example in the year after the assessment year, not a fixed 2020 date
    text = "\n".join(str(r[0]) for r in wb["填报说明"].iter_rows(values_only=True) if r[0])
    assert "两位小数" in text  # the reader accepts two decimals (more are rounded with a warning)


# --------------------------------------------------------------------------- merge_cells: openpyxl's result, cheaper

def _openpyxl_merge(ws, range_string=None, **kw):
    ws.merge_cells(range_string, **kw)


def _merged_sheets(merge) -> bytes:
    """A workbook exercising every path of a merge: borders on the top-left, on the bottom-right
    only, on neither, a value inside the range, a range over cells never touched, one cell
    protected, the same merges again on a second sheet (the memo's copies)."""
    from openpyxl import Workbook
    from openpyxl.styles import Border, Font, Protection, Side

    from data.template import stable_xlsx, workbook_bytes

    thin, thick = Side(style="thin"), Side(style="thick", color="FF0000")
    wb = Workbook()
    for n in range(2):
        ws = wb.active if n == 0 else wb.create_sheet("二")
        ws["A1"] = "标题"
        ws["A1"].border = Border(left=thin, top=thin)
        ws["C2"].border = Border(right=thick, bottom=thick)
        merge(ws, "A1:C2")
        ws["E1"] = "无边框"
        ws["F3"] = "被合并的值"
        merge(ws, start_row=1, start_column=5, end_row=3, end_column=6)
        ws["B5"].border = Border(left=thick, right=thin, top=thin, bottom=thick)
        ws["B5"].protection = Protection(locked=False)
        ws["B5"].font = Font(bold=True)
        merge(ws, "B5:B9")
        merge(ws, "D10:H12")  # nothing there yet
        ws["A14"].border = Border(bottom=thin)
        merge(ws, "A14:A14")
    return stable_xlsx(workbook_bytes(wb), dt.datetime(2020, 1, 5, 9, 0), "tests")


def test_merge_cells_gives_openpyxls_bytes():
    from data.template import merge_cells

    assert _merged_sheets(merge_cells) == _merged_sheets(_openpyxl_merge)


@pytest.mark.parametrize("year", [2019, 2022])
def test_template_with_openpyxls_merges_is_byte_identical(year, monkeypatch):
    """The template (merged titles, 一级指标 groups, the 年报数据 layout) is the same file with
    openpyxl's own merge_cells."""
    import data.template as t

    when = dt.datetime(2020, 1, 5, 9, 0)
    fast = t.stable_xlsx(build_template(scheme_for(year), DEPT), when, "tests")
    monkeypatch.setattr(t, "merge_cells", _openpyxl_merge)
    slow = t.stable_xlsx(build_template(scheme_for(year), DEPT), when, "tests")
    assert fast == slow
