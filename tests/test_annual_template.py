"""The template's sheet 年报数据 (annual-report.md): published layout, input cells
marked, no formulas, a note in 填报说明; it reads back through the one reader."""
from __future__ import annotations

import dataclasses
import io

import openpyxl
import pytest

from data.annual import lines_of, published_layout, read_annual_report
from data.reader import read_workbook
from data.registry import Unit
from data.template import build_template
from core.scheme import scheme_for

UNIT = Unit("方正县审计局", "部门", ())


def _wb(year=2021, mode=None):
    s = scheme_for(year)
    if mode:
        s = dataclasses.replace(s, annual_report=mode)
    return build_template(s, UNIT)


@pytest.mark.parametrize("year, edition", [(2019, 2019), (2021, 2021)])
def test_sheet_in_published_layout(year, edition):
    data = _wb(year)
    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb["年报数据"]
    lay = published_layout(edition)
    merges = {str(r) for r in ws.merged_cells.ranges}
    # the three-row header of table 三 and the label merges, as published
    for m in ("A4:C6", "D4:J4", "D5:D6", "E5:I5", "J5:J6"):
        assert m in merges
    labels = [ws.cell(r, c).value for r in range(1, ws.max_row + 1) for c in (1, 2, 3) if ws.cell(r, c).value]
    for ln in lines_of(edition):
        assert f"{ln.number}{ln.label}" in labels
    assert "三、收到和处理政府信息公开申请情况" in labels and "四、政府信息公开行政复议、行政诉讼情况" in labels
    assert [ws.cell(ws.max_row - 1, c).value for c in range(1, 6)] == ["结果维持", "结果纠正", "其他结果", "尚未审结", "总计"]
    # input cells: marked in yellow, empty, whole numbers ≥ 0 only; no formula anywhere
    n_inputs = len(lines_of(edition)) * 7 + 15
    yellow = [c for row in ws.iter_rows() for c in row if c.fill.fgColor.rgb == "00FFF2CC"]
    assert len(yellow) == n_inputs and all(c.value is None for c in yellow)
    assert not any(isinstance(c.value, str) and c.value.startswith("=") for row in ws.iter_rows() for c in row)
    dv = ws.data_validations.dataValidation
    assert any(v.type == "whole" and v.formula1 == "0" for v in dv)
    assert "方正县审计局" in ws["A1"].value
    # it reads back through the one reader: blank, i.e. not filled
    rep, issues = read_annual_report(read_workbook("t.xlsx", data).sheet("年报数据"))
    assert issues == [] and rep.edition == edition and not rep.filled
    assert {(c.row_code, c.col_code) for c in rep.cells} == set(lay.inputs)


def test_help_sheet_says_copy_do_not_correct():
    wb = openpyxl.load_workbook(io.BytesIO(_wb(2021, "required")))
    text = "\n".join(r[0] for r in wb["填报说明"].iter_rows(values_only=True) if r[0])
    assert "六、年报数据" in text and "七、其他" in text
    assert "照抄已公布的数字" in text and "不要在本表中更正" in text and "本年度必须填报" in text


def test_no_sheet_when_the_scheme_does_not_use_it():
    wb = openpyxl.load_workbook(io.BytesIO(_wb(2021, "none")))
    assert "年报数据" not in wb.sheetnames
    text = "\n".join(r[0] for r in wb["填报说明"].iter_rows(values_only=True) if r[0])
    assert "年报数据" not in text and "六、其他" in text
