"""Text normalisation and tolerant parsing of dates and numbers (workbook.md)."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache

_WS = re.compile(r"\s+", re.UNICODE)
_TRAIL_PAREN = re.compile(r"\([^()]*\)$")
EXCEL_EPOCH = dt.date(1899, 12, 30)


#: full-width ASCII forms (U+FF01–U+FF5E) -> half-width; ideographic space U+3000 -> space
_HALFWIDTH = {o: o - 0xFEE0 for o in range(0xFF01, 0xFF5F)}
_HALFWIDTH[0x3000] = 0x20


def to_halfwidth(s: str) -> str:
    return s.translate(_HALFWIDTH)


def cell_text(v) -> str:
    """A cell value as text, as a person would read it (8.0 -> '8')."""
    if type(v) is str:
        return v
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
    try:
        return _norm_key_cached(v, label)
    except TypeError:  # an unhashable value
        return _norm_key(v, label)


def _norm_key(v, label: bool) -> str:
    s = _WS.sub("", to_halfwidth(cell_text(v)))
    if label:
        prev = None
        while prev != s:
            prev = s
            s = s.rstrip(":")
            s = _TRAIL_PAREN.sub("", s) if s.endswith(")") and "(" in s else s
    return s


# the same few headers, categories and enumerated values recur on every row
_norm_key_cached = lru_cache(maxsize=8192, typed=True)(_norm_key)


def is_blank(v) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def clean_text(v) -> str:
    """A free-text value: leading/trailing white space dropped, inner kept."""
    if type(v) is str:
        return v.strip()
    return cell_text(v).strip()


_TIME = r"\d{1,2}[:时]\d{2}分?(?::\d{2}(?:\.\d+)?)?"
_DATE_PATTERNS = [
    # 2019-06-03, 2019/6/3, 2019.6.3, optionally with a time: 2019-06-03 14:20
    re.compile(r"^(?P<y>\d{4})\s*(?P<sep>[-/.])\s*(?P<m>\d{1,2})\s*(?P=sep)\s*(?P<d>\d{1,2})(?:[ T]+" + _TIME + ")?$"),
    # 2019年6月3日, 2019年6月3日 14:20
    re.compile(r"^(?P<y>\d{4})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*[日号]?(?:\s*" + _TIME + ")?$"),
    # 20190603
    re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$"),
]
#: Excel serial numbers accepted as dates: 1920-01-01 … 9999-12-31. Smaller
#: numbers (a year such as 2019, a score, a row number typed into a date
#: column) are not dates.
MIN_SERIAL, MAX_SERIAL = (dt.date(1920, 1, 1) - EXCEL_EPOCH).days, 2958465


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
        if MIN_SERIAL <= f < MAX_SERIAL + 1:
            return EXCEL_EPOCH + dt.timedelta(days=int(f))
        raise ParseError(cell_text(v))
    return _parse_text_date(str(v))


@lru_cache(maxsize=4096)
def _parse_text_date(text: str) -> dt.date:
    """A date typed as text (the same few dates recur in a ledger: cached)."""
    s = to_halfwidth(text).strip()
    s = _WS.sub(" ", s)
    for pat in _DATE_PATTERNS:
        m = pat.match(s)
        if m:
            y, mo, d = int(m["y"]), int(m["m"]), int(m["d"])
            try:
                return dt.date(y, mo, d)
            except ValueError as e:
                raise ParseError(s) from e
    raise ParseError(s)


_NUM = re.compile(r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*分?$")


def parse_number(v) -> Decimal:
    """Read a number cell: numeric, or text like '8', '8.5', '８', ' 8 ', '8分'."""
    if isinstance(v, bool) or v is None:
        raise ParseError(cell_text(v))
    if isinstance(v, int):
        return Decimal(v)
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            raise ParseError(cell_text(v))
        if v.is_integer():  # 8.0 in the cell is the 8 the person typed
            return Decimal(int(v))
        # the shortest repr is what the person typed (8.5, not 8.4999…)
        return Decimal(repr(v))
    # leading and trailing white space is ignored; inside, "8 5" is not a number
    s = to_halfwidth(str(v)).strip()
    m = _NUM.match(s)
    if not m:
        raise ParseError(str(v).strip())
    try:
        return Decimal(m.group(1))
    except InvalidOperation as e:  # pragma: no cover - regex guards it
        raise ParseError(s) from e


_CENT = Decimal("0.01")


class ScoreError(ParseError):
    """A typed score that cannot be used; ``str(e)`` is the Chinese message."""


def score_text(v) -> str:
    """A score for messages and audit rows: 4 → "4", 2.5 → "2.5", 2.25 → "2.25"; None → "—"."""
    if v is None:
        return "—"
    d = Decimal(str(v)).quantize(_CENT)
    return format(d, "f").rstrip("0").rstrip(".") or "0"


def parse_score(v, what: str, high: Decimal | None = None) -> Decimal:
    """A score typed by a reviewer (审核分, an appeal's new score): a number as
    :func:`parse_number` reads it (``8``, ``8.5``, ``８``, ``8分``, a Decimal),
    at most two decimal places (more are refused, never rounded), from 0 to
    ``high`` when given.  Returns it with two places; raises :class:`ScoreError`
    naming ``what`` (e.g. "A1：审核分", "调整后的分值")."""
    if v is None or (isinstance(v, str) and not v.strip()):
        raise ScoreError(f"{what}未填写")
    try:
        d = v if isinstance(v, Decimal) else parse_number(v)
    except ParseError:
        raise ScoreError(f"{what}“{v}”不是数字") from None
    if not d.is_finite():
        raise ScoreError(f"{what}“{v}”不是数字")
    if d != d.quantize(_CENT):
        raise ScoreError(f"{what} {v} 最多保留两位小数")
    d = d.quantize(_CENT)
    if d < 0 or (high is not None and d > high):
        rng = f"应在 0 到 {score_text(high)} 分之间" if high is not None else "不能为负数"
        raise ScoreError(f"{what} {score_text(d)} 超出范围，{rng}")
    return d


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
