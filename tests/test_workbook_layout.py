"""One workbook layout (core.workbook) for the template, the validator, the
reader, the upload pages and the test factory."""
from __future__ import annotations

import io

import openpyxl

from core import workbook as wl
from core.scheme import scheme_for
from data import reader, template, validate
from tests import wbfactory as wf


def test_validator_and_reader_use_the_declared_layout():
    assert validate.INFO_LABELS is wl.INFO_LABELS and validate.SCORE_COLUMNS is wl.SCORE_COLUMNS
    assert validate.LEDGER_COLUMNS is wl.LEDGER_COLUMNS and validate.REQUEST_COLUMNS is wl.REQUEST_COLUMNS
    assert (validate.S_INFO, validate.S_SCORES, validate.S_LEDGER, validate.S_REQUESTS) == wl.REQUIRED_SHEETS
    assert reader.ColumnSpec is wl.ColumnSpec and reader.ACCEPTED_EXT == wl.ACCEPTED_EXTENSIONS
    # the uploaders accept every readable format and let WPS's own formats through to be refused clearly
    assert wl.UPLOAD_TYPES == ["xlsx", "xlsm", "xls", "ods", "et", "wps"]


def test_template_writes_the_declared_headers_and_lists():
    wb = openpyxl.load_workbook(io.BytesIO(template.build_template(scheme_for(2019))))
    for sheet, headers in ((wl.SHEET_SCORES, wl.SCORE_HEADERS), (wl.SHEET_LEDGER, wl.LEDGER_HEADERS),
                           (wl.SHEET_REQUESTS, wl.REQUEST_HEADERS)):
        row = [c.value for c in wb[sheet][template.HEADER_ROW]][:len(headers)]
        assert tuple(row) == headers, sheet
    info = [wb[wl.SHEET_INFO].cell(r, 1).value for r in range(template.HEADER_ROW, template.HEADER_ROW + 6)]
    assert tuple(info) == wl.INFO_NAMES
    opts = wb[wl.SHEET_OPTIONS]
    assert [c.value for c in opts[1]] == ["公开类别", *wl.ENUMERATIONS]
    assert [c.value for c in opts["B"][1:] if c.value] == list(wl.ENUMERATIONS["公开渠道"])


def test_factory_builds_the_declared_layout():
    sheets = wf.valid_sheets()
    assert tuple(sheets) == wl.REQUIRED_SHEETS
    assert tuple(sheets[wl.SHEET_LEDGER].rows[1]) == wl.LEDGER_HEADERS
    assert tuple(sheets[wl.SHEET_REQUESTS].rows[1]) == wl.REQUEST_HEADERS
    assert tuple(sheets[wl.SHEET_SCORES].rows[1]) == wl.SCORE_HEADERS
    assert tuple(r[0] for r in sheets[wl.SHEET_INFO].rows[1:]) == wl.INFO_NAMES
