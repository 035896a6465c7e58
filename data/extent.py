"""The extent of a sheet, measured cheaply before the sheet is loaded.

A reader library allocates a sheet's used range densely: one stray value in a
far cell (``XFD1048576``), an OpenDocument cell repeated 499 columns wide in a
row repeated 99,999 times, or an .xls cell at ``IV65536`` turns a file of a
few kilobytes into gigabytes. This module looks at the file itself — the
``<dimension>`` and the cell references of an .xlsx sheet streamed from the
zip, the repeat attributes of an .ods table, the DIMENSIONS record and the
cell records of an .xls sheet — without building any grid, so that a sheet
beyond the limits is refused by name before it is allocated.

Everything here reads at most the (already size-checked) file in small
pieces; nothing depends on the reader library.
"""
from __future__ import annotations

import io
import posixpath
import re
import zipfile
from dataclasses import dataclass
from xml.etree import ElementTree as ET

#: limits of one sheet: rows, columns and the dense area (rows × columns) the reader may allocate.
#: A large county department's ledger has a few thousand rows of about ten columns; 100,000 rows of
#: 20 columns is still readable, a stray value 99,999 rows × 499 columns away is not.
MAX_SHEET_ROWS, MAX_SHEET_COLS = 100_000, 500
MAX_SHEET_CELLS = 2_000_000

_CHUNK = 1 << 20


@dataclass(frozen=True)
class Extent:
    """Rows and columns from A1 to the farthest cell (declared or with content)."""
    rows: int
    cols: int

    @property
    def cells(self) -> int:
        return self.rows * self.cols

    def too_large(self, max_rows: int = MAX_SHEET_ROWS, max_cols: int = MAX_SHEET_COLS,
                  max_cells: int = MAX_SHEET_CELLS) -> bool:
        return self.rows > max_rows or self.cols > max_cols or self.cells > max_cells

    def union(self, other: "Extent") -> "Extent":
        return Extent(max(self.rows, other.rows), max(self.cols, other.cols))


EMPTY = Extent(0, 0)


def col_number(letters: str) -> int:
    """``A`` → 1, ``XFD`` → 16384."""
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


_REF = re.compile(r"\$?([A-Za-z]{1,3})\$?(\d{1,7})")


def _ref_extent(ref: str) -> Extent:
    """``A1:XFD1048576`` (or a single ``B7``) → its far corner as an extent."""
    far = ref.split(":")[-1]
    m = _REF.fullmatch(far.strip())
    if not m:
        return EMPTY
    return Extent(int(m.group(2)), col_number(m.group(1)))


# --------------------------------------------------------------------------- .xlsx

_NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_NS_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\b[^>]*?\bref=\"([^\"]*)\"")
#: cell and row elements (a self-closing ``<c r="X9" s="1"/>`` only carries a style, no content)
_TAG = re.compile(rb"<(?:\w+:)?(row|c)\b([^>]*?)(/?)>")
_CELL_R = re.compile(rb"\br=\"\$?([A-Za-z]{1,3})\$?(\d{1,7})\"")
_ROW_R = re.compile(rb"\br=\"(\d{1,7})\"")


def xlsx_sheet_paths(zf: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name → path of its XML part inside the zip (from workbook.xml and its relationships)."""
    wb = ET.fromstring(zf.read("xl/workbook.xml"))
    try:
        rels = ET.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
    except KeyError:
        rels = None
    targets: dict[str, str] = {}
    if rels is not None:
        for rel in rels.iter(f"{{{_NS_PKG_REL}}}Relationship"):
            target = rel.get("Target", "")
            if target.startswith("/"):
                path = target.lstrip("/")
            else:
                path = posixpath.normpath(posixpath.join("xl", target))
            targets[rel.get("Id", "")] = path
    out: dict[str, str] = {}
    for sh in wb.iter(f"{{{_NS_MAIN}}}sheet"):
        rid = sh.get(f"{{{_NS_REL}}}id") or ""
        if rid in targets:
            out[sh.get("name", "")] = targets[rid]
    return out


_PREFIXED_CELL = re.compile(rb"<\w+:c[\s/>]")
#: a cell with its reference as first attribute and content (not self-closing), as Excel, WPS and openpyxl write it
_FAST_CELL = re.compile(rb'<c r="([A-Z]{1,3})([0-9]{1,7})"[^>]*?(?<!/)>')


def _fast_cells(buf: bytes) -> Extent | None:
    """The farthest cell with content in ``buf`` when every cell in it starts with its reference
    (the common case, measured with C-speed scans); None when the slow, general scan is needed."""
    n_cells = buf.count(b"<c ") + buf.count(b"<c>") + buf.count(b"<c/>")
    if n_cells != buf.count(b'<c r="') or _PREFIXED_CELL.search(buf):
        return None
    found = _FAST_CELL.findall(buf)
    if not found:
        return EMPTY
    rows = max(map(int, (d for _, d in found)))
    letters = {c for c, _ in found}
    far = max(letters, key=lambda c: (len(c), c))
    return Extent(rows, col_number(far.decode()))


def xlsx_extent(zf: zipfile.ZipFile, part: str) -> Extent:
    """Declared ``<dimension>`` and farthest cell with content of one sheet part, streamed."""
    ext = EMPTY
    row = col = 0  # position when cells or rows carry no reference (allowed by the format)
    tail = b""
    dim_seen = False
    with zf.open(part) as fh:
        while True:
            chunk = fh.read(_CHUNK)
            if not chunk:
                break
            buf = tail + chunk
            # keep an incomplete tag for the next round
            cut = buf.rfind(b"<")
            if cut > 0 and buf.find(b">", cut) < 0:
                buf, tail = buf[:cut], buf[cut:]
            else:
                tail = b""
            if len(tail) > _CHUNK:  # one tag longer than a chunk: not a spreadsheet
                raise ValueError("tag too long")
            if not dim_seen:
                m = _DIMENSION.search(buf)
                if m:
                    dim_seen = True
                    ext = ext.union(_ref_extent(m.group(1).decode("ascii", "replace")))
            fast = _fast_cells(buf)
            if fast is not None:
                ext = ext.union(fast)
                row, col = max(row, fast.rows), 0
                continue
            for m in _TAG.finditer(buf):
                kind, attrs, empty = m.group(1), m.group(2), m.group(3)
                if kind == b"row":
                    r = _ROW_R.search(attrs)
                    row = int(r.group(1)) if r else row + 1
                    col = 0
                    continue
                r = _CELL_R.search(attrs)
                if r:
                    col = col_number(r.group(1).decode())
                    row = int(r.group(2))
                else:
                    col += 1
                if not empty:
                    ext = ext.union(Extent(row, col))
    return ext


# --------------------------------------------------------------------------- .ods

_T = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_O = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
_TABLE, _ROWTAG, _CELLTAG, _COVERED = f"{{{_T}}}table", f"{{{_T}}}table-row", f"{{{_T}}}table-cell", f"{{{_T}}}covered-table-cell"
_NAME, _ROWS_REP, _COLS_REP = f"{{{_T}}}name", f"{{{_T}}}number-rows-repeated", f"{{{_T}}}number-columns-repeated"
_VTYPE = f"{{{_O}}}value-type"


def _repeat(el, attr: str) -> int:
    try:
        return max(1, int(el.get(attr, "1")))
    except ValueError:
        return 1


def ods_extents(zf: zipfile.ZipFile) -> dict[str, Extent]:
    """Table name → farthest cell with content, counting repeated rows and cells, streamed."""
    out: dict[str, Extent] = {}
    name = None
    row = 0  # rows before the current one
    row_rep = 1
    col = 0
    row_cols = 0  # farthest column with content in the current row
    depth = 0  # nesting of tables (sub-tables are part of their cell)
    with zf.open("content.xml") as fh:
        for event, el in ET.iterparse(fh, events=("start", "end")):
            tag = el.tag
            if event == "start":
                if tag == _TABLE:
                    depth += 1
                    if depth == 1:
                        name, row = el.get(_NAME, ""), 0
                        out.setdefault(name, EMPTY)
                elif depth == 1 and tag == _ROWTAG:
                    row_rep, col, row_cols = _repeat(el, _ROWS_REP), 0, 0
                continue
            if tag == _TABLE:
                depth -= 1
                el.clear()
            elif depth == 1 and tag in (_CELLTAG, _COVERED):
                rep = _repeat(el, _COLS_REP)
                if tag == _CELLTAG and (el.get(_VTYPE) or len(el)):
                    row_cols = col + rep
                col += rep
                el.clear()
            elif depth == 1 and tag == _ROWTAG:
                if row_cols:
                    out[name] = out[name].union(Extent(row + row_rep, row_cols))
                row += row_rep
                el.clear()
    return out


# --------------------------------------------------------------------------- .xls (BIFF)

_BOF, _EOF, _BOUNDSHEET, _DIMENSIONS, _CODEPAGE = 0x0809, 0x000A, 0x0085, 0x0200, 0x0042
#: cell records: row (2 bytes), column (2 bytes) first; MULRK/MULBLANK end with the last column
_CELL_RECORDS = {0x0006, 0x00FD, 0x0203, 0x0204, 0x0205, 0x027E, 0x0201, 0x00D6, 0x0406, 0x0004, 0x0003,
                 0x0002, 0x0005, 0x0007}
_MUL_RECORDS = {0x00BD, 0x00BE}


def _records(data: bytes, pos: int):
    n = len(data)
    while pos + 4 <= n:
        rtype = int.from_bytes(data[pos:pos + 2], "little")
        rlen = int.from_bytes(data[pos + 2:pos + 4], "little")
        yield pos, rtype, data[pos + 4:pos + 4 + rlen]
        pos += 4 + rlen


def _sheet_name(body: bytes, biff8: bool, codepage: str) -> str:
    if biff8:
        cch, flags = body[6], body[7] if len(body) > 7 else 0
        raw = body[8:]
        return raw[:cch * 2].decode("utf-16-le", "replace") if flags & 1 else raw[:cch].decode("latin-1")
    cch = body[6]
    return body[7:7 + cch].decode(codepage, "replace")


def xls_extents(workbook_stream: bytes) -> dict[str, Extent]:
    """Sheet name → declared DIMENSIONS and farthest cell record of each worksheet, from the BIFF stream."""
    data = workbook_stream
    sheets: list[tuple[str, int]] = []
    biff8 = True
    codepage = "cp936"
    for pos, rtype, body in _records(data, 0):
        if rtype == _BOF and pos == 0 and len(body) >= 2:
            biff8 = int.from_bytes(body[:2], "little") == 0x0600
        elif rtype == _CODEPAGE and len(body) >= 2:
            cp = int.from_bytes(body[:2], "little")
            codepage = {1200: "utf-16-le", 1252: "cp1252", 936: "cp936", 950: "cp950"}.get(cp, "cp936")
        elif rtype == _BOUNDSHEET and len(body) >= 7:
            if len(body) > 5 and body[5] != 0:  # not a worksheet (chart, macro sheet)
                continue
            sheets.append((_sheet_name(body, biff8, codepage), int.from_bytes(body[:4], "little")))
        elif rtype == _EOF:
            break
    out: dict[str, Extent] = {}
    for name, offset in sheets:
        ext = EMPTY
        for pos, rtype, body in _records(data, offset):
            if rtype == _EOF:
                break
            if rtype == _DIMENSIONS:
                if biff8 and len(body) >= 12:
                    rows = int.from_bytes(body[4:8], "little")
                    cols = int.from_bytes(body[10:12], "little")
                elif len(body) >= 8:
                    rows = int.from_bytes(body[2:4], "little")
                    cols = int.from_bytes(body[6:8], "little")
                else:
                    continue
                ext = ext.union(Extent(rows, cols))  # rwMac, colMac: one past the last
            elif rtype in _CELL_RECORDS and len(body) >= 4:
                ext = ext.union(Extent(int.from_bytes(body[0:2], "little") + 1,
                                       int.from_bytes(body[2:4], "little") + 1))
            elif rtype in _MUL_RECORDS and len(body) >= 6:
                ext = ext.union(Extent(int.from_bytes(body[0:2], "little") + 1,
                                       int.from_bytes(body[-2:], "little") + 1))
        out.setdefault(name, ext)
    return out


# --------------------------------------------------------------------------- any workbook

def sheet_extents(content: bytes) -> dict[str, Extent]:
    """Sheet name → extent for an .xlsx/.xlsm, .ods or .xls file; ``{}`` when the format
    is not recognised (the reader then refuses the file on its own)."""
    if content[:4] == b"PK\x03\x04":
        zf = zipfile.ZipFile(io.BytesIO(content))
        names = set(zf.namelist())
        if "xl/workbook.xml" in names:
            return {name: (xlsx_extent(zf, part) if part in names else EMPTY)
                    for name, part in xlsx_sheet_paths(zf).items()}
        if "content.xml" in names:
            return ods_extents(zf)
        return {}
    if content[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        import olefile

        ole = olefile.OleFileIO(io.BytesIO(content))
        streams = {"/".join(s) for s in ole.listdir()}
        book = "Workbook" if "Workbook" in streams else ("Book" if "Book" in streams else None)
        if book is None:
            return {}
        return xls_extents(ole.openstream(book).read())
    return {}
