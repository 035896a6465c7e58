"""Tiny-but-enormous workbooks, built in code: a few kilobytes that describe a huge sheet.

Each is an otherwise valid workbook whose 主动公开台账 reaches far: a reader that
allocates the sheet's used range densely would need gigabytes for it.
"""
from __future__ import annotations

import io
import re
import zipfile

from tests.wbfactory import build_ods, build_xlsx, valid_sheets

LEDGER = "主动公开台账"


def far_xlsx(ref: str = "XFD1048576") -> bytes:
    """An .xlsx whose ledger holds one more value in the cell ``ref``."""
    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(build_xlsx(valid_sheets())))
    wb[LEDGER][ref] = "x"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def declared_xlsx(ref: str = "A1:XFD1048576") -> bytes:
    """A valid .xlsx whose ledger *declares* (``<dimension>``) a huge range but holds nothing there."""
    src = zipfile.ZipFile(io.BytesIO(build_xlsx(valid_sheets())))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/worksheets/sheet3.xml":  # the third sheet: the ledger
                data = re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="' + ref.encode() + b'"', data)
            z.writestr(info, data)
    return out.getvalue()


def repeated_ods(rows: int = 99_995, cols: int = 499) -> bytes:
    """An .ods whose ledger ends with one cell repeated ``cols`` columns wide in a row repeated
    ``rows`` times (with the ledger's own 4 rows: 99,999 × 499)."""
    src = zipfile.ZipFile(io.BytesIO(build_ods(valid_sheets())))
    out = io.BytesIO()
    row = (f'<table:table-row table:number-rows-repeated="{rows}">'
           f'<table:table-cell table:number-columns-repeated="{cols}" office:value-type="string">'
           f'<text:p>x</text:p></table:table-cell></table:table-row>').encode()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "content.xml":
                start = data.index(f'table:name="{LEDGER}"'.encode())
                end = data.index(b"</table:table>", start)
                data = data[:end] + row + data[end:]
            z.writestr(info, data)
    return out.getvalue()


def far_xls(row: int = 65535, col: int = 255) -> bytes:
    """An .xls (BIFF8, written by xlwt) whose ledger holds one more value at 0-based (row, col): IV65536."""
    import xlwt

    from tests import wbfactory

    sheets = valid_sheets()
    orig = xlwt.Workbook.save

    def save(self, stream):
        self.get_sheet(list(sheets).index(LEDGER)).write(row, col, "x")
        return orig(self, stream)

    xlwt.Workbook.save = save
    try:
        return wbfactory.build_xls(sheets)
    finally:
        xlwt.Workbook.save = orig
