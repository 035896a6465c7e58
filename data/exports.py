"""Exports are data: text from users never becomes a formula.

Units, reviewers and uploaders control much of the text the product writes
into workbooks and CSV files — unit names, ledger titles, request numbers,
reasons, comments, file names. A value such as ``=HYPERLINK("http://…")``
must reach the reader as that text, never as a formula that Excel or WPS
evaluates when the file is opened.

* :func:`workbook_bytes` saves an openpyxl workbook with every text cell
  stored as a string (openpyxl otherwise turns any text beginning with ``=``
  into a formula) and without ``fullCalcOnLoad`` (the product writes no
  formulas of its own). Every workbook the product writes is saved through it
  (pandas writers call :func:`defuse_workbook` on their book).
* :func:`csv_cell` / :func:`csv_frame` / :func:`csv_bytes` neutralise CSV
  cells as OWASP recommends: text beginning with ``=``, ``+``, ``-``, ``@``,
  a tab or a carriage return gets a leading single quote; numbers (and text
  that is just a number, such as ``-3.5``) stay numbers.
"""
from __future__ import annotations

import io
import re

#: the characters with which a spreadsheet program starts a formula (OWASP "CSV injection")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?%?")
#: characters a sheet title may not contain, and its length limit
_TITLE_BAD = re.compile(r"[\[\]:*?/\\]")
MAX_TITLE = 31


# --------------------------------------------------------------------------- workbooks

def defuse_workbook(wb, *, keep_formulas: bool = False) -> None:
    """Make every formula cell of ``wb`` a text cell holding the same characters, and switch off
    recalculation on load (unless ``keep_formulas``: a workbook whose formulas the product wrote)."""
    if not keep_formulas:
        for ws in wb.worksheets:
            for row in ws.iter_rows():
                for cell in row:
                    if cell.data_type == "f":
                        cell.data_type = "s"
    calc = getattr(wb, "calculation", None)
    if calc is not None:
        calc.fullCalcOnLoad = bool(keep_formulas)


def workbook_bytes(wb, *, keep_formulas: bool = False) -> bytes:
    """The ``.xlsx`` bytes of an openpyxl workbook, with users' text as text (see :func:`defuse_workbook`)."""
    defuse_workbook(wb, keep_formulas=keep_formulas)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def sheet_title(text: str, fallback: str = "工作表") -> str:
    """A valid sheet title made from any text: no ``[]:*?/\\``, at most 31 characters, not empty,
    and no leading or trailing apostrophe (Excel refuses those)."""
    t = _TITLE_BAD.sub("_", str(text or "")).strip().strip("'")
    return t[:MAX_TITLE] or fallback


# --------------------------------------------------------------------------- CSV

def csv_cell(v):
    """One CSV value: text that a spreadsheet would take for a formula gets a leading ``'``;
    numbers, dates and text that is only a number are left as they are."""
    if isinstance(v, str) and v.startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(v):
        return "'" + v
    return v


def csv_frame(df):
    """A copy of a DataFrame whose text cells (and column names) are neutralised with :func:`csv_cell`."""
    import pandas as pd

    out = df.copy()
    for c in out.columns:
        col = out[c]
        if col.dtype == object or pd.api.types.is_string_dtype(col):
            out[c] = col.map(csv_cell)
    out.columns = [csv_cell(c) for c in out.columns]
    return out


def csv_bytes(df) -> bytes:
    """UTF-8 CSV with BOM (Excel opens it with the Chinese intact), CRLF line ends, cells neutralised."""
    return "\ufeff".encode("utf-8") + csv_frame(df).to_csv(index=False, lineterminator="\r\n").encode("utf-8")


def xlsx_bytes(df, sheet: str = "问题清单") -> bytes:
    """A table as a one-sheet workbook (bold frozen header, widths to fit, wrapped text); users' text never a formula."""
    import pandas as pd
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    buf = io.BytesIO()
    sheet = sheet_title(sheet)
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        df.to_excel(xw, index=False, sheet_name=sheet)
        ws = xw.sheets[sheet]
        for n, col in enumerate(df.columns, start=1):
            width = max([len(str(col))] + [len(str(v)) for v in df[col].head(500)]) * 2 + 2
            ws.column_dimensions[get_column_letter(n)].width = min(max(width, 8), 80)
            ws.cell(1, n).font = Font(bold=True)
        for row in ws.iter_rows(min_row=2):
            for c in row:
                c.alignment = Alignment(wrap_text=True, vertical="top")
        ws.freeze_panes = "A2"
        defuse_workbook(xw.book)  # file names and messages are users' text: never formulas
    return buf.getvalue()
