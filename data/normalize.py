"""Text normalisation and tolerant parsing of dates and numbers (workbook.md)."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

_WS = re.compile(r"\s+", re.UNICODE)
_TRAIL_PAREN = re.compile(r"\([^()]*\)$")
EXCEL_EPOCH = dt.date(1899, 12, 30)


def to_halfwidth(s: str) -> str:
    out = []
    for ch in s:
        o = ord(ch)
        if 0xFF01 <= o <= 0xFF5E:
            out.append(chr(o - 0xFEE0))
        elif o == 0x3000:
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


def cell_text(v) -> str:
    """A cell value as text, as a person would read it (8.0 -> '8')."""
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%d %H:%M") if (v.hour or v.minute) else v.strftime("%Y-%m-%d")
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


def norm_key(v, label: bool = True) -> str:
    """Normalise a sheet name, header, label or enumerated value.

    White space (incl. U+3000 and line breaks) removed, full-width forms made
    half-width; for headers and labels (``label=True``) a trailing
    parenthesised part and a trailing colon are dropped.
    """
    s = _WS.sub("", to_halfwidth(cell_text(v)))
    if label:
        prev = None
        while prev != s:
            prev = s
            s = s.rstrip(":")
            s = _TRAIL_PAREN.sub("", s) if s.endswith(")") and "(" in s else s
    return s


def is_blank(v) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def clean_text(v) -> str:
    """A free-text value: leading/trailing white space dropped, inner kept."""
    return cell_text(v).strip()


_DATE_PATTERNS = [
    re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})[日号]?(?:\s*\d{1,2}[:时]\d{2}分?(?::\d{2})?)?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
]


class ParseError(ValueError):
    pass


def parse_date(v) -> dt.date:
    """Read a date cell: real date/datetime, Excel serial number, or text.

    Raises :class:`ParseError` when the value is not a date.
    """
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    if isinstance(v, bool):
        raise ParseError(str(v))
    if isinstance(v, (int, float)):
        f = float(v)
        if f.is_integer() and 19000101 <= f <= 29991231:
            return parse_date(str(int(f)))
        if 1 <= f < 2958466:
            return EXCEL_EPOCH + dt.timedelta(days=int(f))
        raise ParseError(cell_text(v))
    s = to_halfwidth(str(v)).strip()
    s = _WS.sub(" ", s)
    for pat in _DATE_PATTERNS:
        m = pat.match(s)
        if m:
            y, mo, d = (int(x) for x in m.groups()[:3])
            try:
                return dt.date(y, mo, d)
            except ValueError as e:
                raise ParseError(s) from e
    raise ParseError(s)


_NUM = re.compile(r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+))分?$")


def parse_number(v) -> Decimal:
    """Read a number cell: numeric, or text like '8', '8.5', '８', ' 8 ', '8分'."""
    if isinstance(v, bool) or v is None:
        raise ParseError(cell_text(v))
    if isinstance(v, int):
        return Decimal(v)
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            raise ParseError(cell_text(v))
        # the shortest repr is what the person typed (8.5, not 8.4999…)
        return Decimal(repr(v))
    s = _WS.sub("", to_halfwidth(str(v)))
    m = _NUM.match(s)
    if not m:
        raise ParseError(str(v).strip())
    try:
        return Decimal(m.group(1))
    except InvalidOperation as e:  # pragma: no cover - regex guards it
        raise ParseError(s) from e


def col_letter(idx: int) -> str:
    """0-based column index -> A1 letters."""
    s = ""
    n = idx + 1
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


def addr(row0: int, col0: int) -> str:
    return f"{col_letter(col0)}{row0 + 1}"
