"""Reading workbooks (.xlsx/.xlsm/.xls/.ods) with python-calamine.

The reader knows nothing of indicators or units: it checks that the file is a
readable spreadsheet, applies merged ranges to every cell they span, finds
sheets by normalised name, finds the header row of a table and the labels of
a key–value sheet. Every problem is an :class:`~core.errors.Issue`.
"""
from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from pathlib import PurePath

import python_calamine as pc

from core.errors import GongkaiError, Issue, error
from core.workbook import ACCEPTED_EXTENSIONS, WPS_NATIVE_EXTENSIONS, ColumnSpec
from core.normalize import addr, is_blank, norm_key
from data.extent import MAX_SHEET_CELLS, MAX_SHEET_COLS, MAX_SHEET_ROWS, Extent, sheet_extents

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_UNZIPPED_BYTES = 200 * 1024 * 1024
MAX_ZIP_RATIO = 200
#: the largest used range read from one sheet (MAX_SHEET_ROWS, MAX_SHEET_COLS, MAX_SHEET_CELLS, see
#: data.extent): a stray value in a far cell would otherwise make a 5 KB file expand to billions of cells
HEADER_SCAN_ROWS = 10
KV_SCAN_ROWS, KV_SCAN_COLS = 20, 6
CLOSING_PREFIXES = ("合计", "总计", "小计", "备注", "注:", "说明", "填表说明")

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
ACCEPTED_EXT = ACCEPTED_EXTENSIONS
#: what python-calamine (and the zip/OLE layers under it) raise on a damaged file;
#: anything else is a bug of ours and propagates
PARSE_ERRORS = (pc.CalamineError, pc.XmlError, pc.ZipError, ValueError, OSError, EOFError, KeyError, IndexError,
                UnicodeError, zipfile.BadZipFile)
WPS_NATIVE_EXT = WPS_NATIVE_EXTENSIONS


class ReadError(GongkaiError):
    """The file cannot be read as a workbook; ``issues`` say why, in Chinese."""

    code = "file_unreadable"


@dataclass
class Sheet:
    name: str
    grid: list[list]
    merged: list[tuple[tuple[int, int], tuple[int, int]]] = field(default_factory=list)
    #: row -> columns whose value was copied from a merged range's top-left cell
    #: (in the file these cells are empty)
    spilled: dict[int, set[int]] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        return len(self.grid)

    def value(self, r: int, c: int):
        if 0 <= r < len(self.grid) and 0 <= c < len(self.grid[r]):
            return self.grid[r][c]
        return ""

    def merged_end_col(self, r: int, c: int) -> int:
        for (r0, c0), (r1, c1) in self.merged:
            if r0 <= r <= r1 and c0 <= c <= c1:
                return c1
        return c


@dataclass
class Row:
    """One data row of a table: 0-based sheet row and values by canonical column."""
    row0: int
    values: dict[str, object]
    cols: dict[str, int]

    @property
    def number(self) -> int:
        return self.row0 + 1

    def cell(self, column: str) -> str:
        return addr(self.row0, self.cols[column])

    def get(self, column: str):
        return self.values.get(column, "")


@dataclass
class Table:
    sheet: str
    header_row0: int
    cols: dict[str, int]
    rows: list[Row]


class Workbook:
    """A readable workbook; sheets are found by normalised name and loaded on
    first use (extra sheets — instructions, scratch, charts — are never read)."""

    def __init__(self, file_name: str, names: dict[str, str], loader=None, sheets: dict[str, Sheet] | None = None):
        self.file_name = file_name
        self.names = names  # normalised name -> name as in the file (first of duplicates)
        self._loader = loader
        self._sheets: dict[str, Sheet] = dict(sheets or {})

    def sheet(self, name: str) -> Sheet | None:
        """The sheet of that (normalised) name, or None; :class:`ReadError` if it cannot be read."""
        key = norm_key(name, label=False)
        if key in self._sheets:
            return self._sheets[key]
        if key not in self.names or self._loader is None:
            return None
        sh = self._sheets[key] = self._loader(self.names[key])
        return sh

    @property
    def sheet_names(self) -> list[str]:
        return list(self.names.values())

    @property
    def sheets(self) -> dict[str, Sheet]:
        """Every sheet by normalised name (loads them all)."""
        return {k: self.sheet(k) for k in self.names}


def _sniff(file_name: str, content: bytes) -> list[Issue]:
    ext = PurePath(file_name).suffix.lower()
    if ext in WPS_NATIVE_EXT:
        return [error("file_wps_native", f"“{file_name}”是 WPS 专用格式（{ext}），系统无法读取：请在WPS中另存为 .xlsx 后上传")]
    if len(content) > MAX_FILE_BYTES:
        mb = len(content) / 1024 / 1024
        return [error("file_too_large", f"文件大小 {mb:.1f} MB，超过 20 MB 上限：请删除无关工作表、图片后重新保存上传")]
    if not content:
        return [error("file_empty", "文件是空的（0 字节），请重新保存后上传")]
    head = content[:8]
    if head.startswith(ZIP_MAGIC):
        try:
            zf = zipfile.ZipFile(io.BytesIO(content))
            infos = zf.infolist()
        except Exception:  # BadZipFile, but also struct/Value/OSError on mangled directories
            return [error("file_unreadable", "文件已损坏，无法打开：请在 Excel 或 WPS 中重新保存后上传")]
        total = sum(i.file_size for i in infos)
        packed = max(1, sum(i.compress_size for i in infos))
        if total > MAX_UNZIPPED_BYTES or (total > 10 * 1024 * 1024 and total / packed > MAX_ZIP_RATIO):
            return [error("file_archive_too_large",
                          f"文件解压后将达 {total / 1024 / 1024:.0f} MB，异常过大（可能是损坏或恶意文件），已拒收："
                          f"请在 Excel 或 WPS 中打开，删除无关的工作表和图片后重新保存上传")]
        names = {i.filename for i in infos}
        if "xl/workbook.xml" in names or "xl/workbook.bin" in names:
            if "xl/workbook.bin" in names:
                return [error("file_xlsb", "不支持 .xlsb（二进制工作簿）格式：请另存为 .xlsx 后上传")]
            return []
        if "mimetype" in names:
            try:
                mimetype = zf.read("mimetype")
            except Exception:
                return [error("file_unreadable", "文件已损坏，无法打开：请在 Excel 或 WPS 中重新保存后上传")]
            if mimetype.startswith(b"application/vnd.oasis.opendocument.spreadsheet"):
                return []
        return [error("file_not_spreadsheet", f"“{file_name}”不是电子表格文件（可能是 Word 文档或压缩包）：请上传自检自评表 .xlsx 或 .xls 文件")]
    if head == OLE_MAGIC:
        return _sniff_ole(file_name, content)
    return [error("file_not_spreadsheet",
                  f"“{file_name}”不是 Excel 工作簿（可能是网页、文本或其他文件改了扩展名）："
                  f"请在 Excel 或 WPS 中打开后另存为 .xlsx 再上传；若不是自检自评表，请上传正确的文件")]


def _sniff_ole(file_name: str, content: bytes) -> list[Issue]:
    import olefile

    try:
        ole = olefile.OleFileIO(io.BytesIO(content))
    except Exception:
        return [error("file_unreadable", "文件已损坏，无法打开：请在 Excel 或 WPS 中重新保存后上传")]
    streams = {"/".join(s) for s in ole.listdir()}
    if "EncryptedPackage" in streams or "EncryptionInfo" in streams:
        return [error("file_encrypted", "文件设置了打开密码（已加密），系统无法读取：请取消密码保护后重新上传")]
    book = "Workbook" if "Workbook" in streams else ("Book" if "Book" in streams else None)
    if book is None:
        return [error("file_not_spreadsheet", f"“{file_name}”不是电子表格文件（可能是 Word 文档或 WPS 专用格式）：请另存为 .xlsx 后上传")]
    data = ole.openstream(book).read(64 * 1024)
    pos = 0
    # BIFF records: type (2 bytes), length (2 bytes). FILEPASS (0x2F) marks an encrypted workbook.
    while pos + 4 <= len(data):
        rtype = int.from_bytes(data[pos:pos + 2], "little")
        rlen = int.from_bytes(data[pos + 2:pos + 4], "little")
        if rtype == 0x002F:
            return [error("file_encrypted", "文件设置了打开密码（已加密），系统无法读取：请取消密码保护后重新上传")]
        if rtype == 0x000A:  # EOF of the globals substream
            break
        pos += 4 + rlen
    return []


def read_workbook(file_name: str, content: bytes) -> Workbook:
    """Open a workbook; raise :class:`ReadError` for files that cannot be read."""
    issues = _sniff(file_name, content)
    if issues:
        raise ReadError(issues)
    try:
        extents = sheet_extents(content)
    except Exception:  # parts the measurement cannot parse: the reader could not either
        raise ReadError([error("file_unreadable", "文件无法读取（格式损坏或不是 Excel/WPS 表格）：请在 Excel 或 WPS 中另存为 .xlsx 后上传")])
    if content[:4] != ZIP_MAGIC or "xl/workbook.xml" not in _zip_names(content):
        # .xls and .ods are read whole when opened: every sheet must fit before the reader starts
        for name, ext in extents.items():
            if ext.too_large():
                raise ReadError([sheet_too_large(name, ext)])
    try:
        wb = pc.CalamineWorkbook.from_filelike(io.BytesIO(content))
    except pc.PasswordError:
        raise ReadError([error("file_encrypted", "文件设置了打开密码（已加密），系统无法读取：请取消密码保护后重新上传")])
    except PARSE_ERRORS:
        raise ReadError([error("file_unreadable", "文件无法读取（格式损坏或不是 Excel/WPS 表格）：请在 Excel 或 WPS 中另存为 .xlsx 后上传")])
    names: dict[str, str] = {}
    try:
        for name in wb.sheet_names:
            names.setdefault(norm_key(name, label=False), name)
    except PARSE_ERRORS:
        raise ReadError([error("file_unreadable", "文件中的工作表无法读取（格式损坏）：请在 Excel 或 WPS 中另存为 .xlsx 后上传")])

    def declared(name: str) -> Extent | None:
        """The sheet's extent measured in the file itself, before the reader allocates anything."""
        if name in extents:
            return extents[name]
        # a name spelt differently by the measurement (an old .xls code page): the largest sheet stands for it
        return max(extents.values(), key=lambda e: e.cells, default=None)

    def load(name: str) -> Sheet:
        ext = declared(name)
        if ext is not None and ext.too_large():
            raise ReadError([sheet_too_large(name, ext)])
        # only the parsing by python-calamine is guarded: a failure there means a damaged
        # file; an exception in our own code below is a bug and must not be reported as one
        try:
            sh = wb.get_sheet_by_name(name)
            end = sh.end
            if end is not None and Extent(end[0] + 1, end[1] + 1).too_large():
                raise ReadError([sheet_too_large(name, Extent(end[0] + 1, end[1] + 1))])
            rows = sh.to_python(skip_empty_area=False)
            try:
                merged = list(sh.merged_cell_ranges or [])
            except PARSE_ERRORS:  # formats without merge information
                merged = []
        except pc.PasswordError:
            raise ReadError([error("file_encrypted", "文件设置了打开密码（已加密），系统无法读取：请取消密码保护后重新上传")])
        except PARSE_ERRORS:
            raise ReadError([error("sheet_unreadable", f"工作表“{name}”无法读取（格式损坏）：请在 Excel 或 WPS 中另存为 .xlsx 后上传",
                                   sheet=name)])
        return _load_sheet(name, rows, merged)

    return Workbook(file_name, names, load)


def _zip_names(content: bytes) -> set[str]:
    try:
        return set(zipfile.ZipFile(io.BytesIO(content)).namelist())
    except Exception:
        return set()


def sheet_too_large(name: str, ext: Extent) -> Issue:
    return error("sheet_too_large",
                 f"工作表“{name}”的内容区域达 {ext.rows} 行 × {ext.cols} 列，超出可读取的上限"
                 f"（{MAX_SHEET_ROWS} 行、{MAX_SHEET_COLS} 列、共 {MAX_SHEET_CELLS} 个单元格），"
                 f"多半是表格以外远处的单元格里有内容或空格：请删除表格以外的行和列后重新保存上传", sheet=name)


def _load_sheet(name: str, rows, merged: list) -> Sheet:
    grid = [list(r) for r in rows]
    width = max((len(r) for r in grid), default=0)
    # merged ranges are clipped to the used range: beyond it there are no values
    # to copy, and a range over a whole column must not blow the grid up
    merged = [((r0, c0), (min(r1, len(grid) - 1), min(c1, width - 1)))
              for (r0, c0), (r1, c1) in merged if r0 < len(grid) and c0 < width]
    for r in grid:
        if len(r) < width:
            r.extend([""] * (width - len(r)))
    spilled: dict[int, set[int]] = {}
    for (r0, c0), (r1, c1) in merged:
        v = grid[r0][c0]
        for r in range(r0, r1 + 1):
            row = grid[r]
            cols = spilled.setdefault(r, set())
            for c in range(c0, c1 + 1):
                if (r, c) != (r0, c0):
                    row[c] = v
                    cols.add(c)
    return Sheet(name, grid, merged, spilled)


def _first_value(values: list, spilled: set[int] | None):
    """The first cell of a row that is not empty, white space or a merged-range copy; None for a blank row."""
    for c, v in enumerate(values):
        if v is None or v == "":
            continue
        if isinstance(v, str) and not v.strip():
            continue
        if spilled and c in spilled:
            continue
        return v
    return None


def _is_closing(first) -> bool:
    return isinstance(first, str) and norm_key(first, label=False).startswith(CLOSING_PREFIXES)


def find_table(sheet: Sheet, columns: list[ColumnSpec]) -> tuple[Table | None, list[Issue]]:
    """Locate the header row (first row within the first 10 that has every
    required header) and return the data rows, blank and closing rows skipped."""
    lookup: dict[str, str] = {}
    for spec in columns:
        for k in spec.keys():
            lookup.setdefault(k, spec.name)
    canonical = {norm_key(spec.name) for spec in columns}
    required = [c.name for c in columns if c.required]
    best: tuple[int, set[str]] = (-1, set())
    for r in range(min(HEADER_SCAN_ROWS, sheet.n_rows)):
        cols: dict[str, int] = {}
        exact: set[str] = set()
        for c, v in enumerate(sheet.grid[r]):
            key = norm_key(v)
            name = lookup.get(key)
            if not name:
                continue
            # the canonical header wins over an alias in the same row (a row-number 编号
            # next to 申请编号); otherwise the leftmost column wins
            if name not in cols or (key in canonical and name not in exact):
                cols[name] = c
                if key in canonical:
                    exact.add(name)
        if all(n in cols for n in required):
            return _table_rows(sheet, r, _header_block_end(sheet, r, cols, lookup), cols), []
        if len(set(cols) & set(required)) > len(best[1]):
            best = (r, set(cols) & set(required))
    missing = [n for n in required if n not in best[1]]
    where = f"（在前{HEADER_SCAN_ROWS}行中未找到同时包含所有必填列的表头行）"
    return None, [error("header_missing", f"缺少必填列“{n}”{where}", sheet=sheet.name) for n in missing]


def _header_block_end(sheet: Sheet, r: int, cols: dict[str, int], lookup: dict[str, str]) -> int:
    """Last row of a header that spans several rows: header cells merged
    vertically below the header row (a two-row header with sub-headers such as
    答复情况 → 答复日期, 办理结果). Sub-headers found there are added to ``cols``."""
    end = r
    for (r0, c0), (r1, _c1) in sheet.merged:
        if r0 <= r < r1 and lookup.get(norm_key(sheet.grid[r0][c0])):
            end = max(end, r1)
    for rr in range(r + 1, end + 1):
        for c, v in enumerate(sheet.grid[rr]):
            if c in sheet.spilled.get(rr, ()):
                continue
            name = lookup.get(norm_key(v))
            if name and name not in cols and c not in cols.values():
                cols[name] = c
    return end


def _table_rows(sheet: Sheet, header_row0: int, last_header_row0: int, cols: dict[str, int]) -> Table:
    rows = []
    items = list(cols.items())
    data_cols = [c for n, c in items if n != "序号"]
    for r in range(last_header_row0 + 1, sheet.n_rows):
        raw = sheet.grid[r]
        spilled = sheet.spilled.get(r)
        first = _first_value(raw, spilled)
        if first is None:  # blank (merged-range copies do not count: in the file those cells are empty)
            continue
        if _is_closing(first):
            continue
        if all(is_blank(raw[c]) or (spilled and c in spilled) for c in data_cols):
            # nothing but a pre-printed 序号, or values only in ignored extra columns: not data
            continue
        rows.append(Row(r, {name: raw[c] for name, c in items}, cols))
    return Table(sheet.name, header_row0, cols, rows)


def find_labels(sheet: Sheet, labels: list[ColumnSpec]) -> dict[str, tuple[object, str]]:
    """Key–value sheet: label -> (value, A1 address of the value cell).

    Labels are searched in the first 20 rows and 6 columns; the value is the
    cell right of the label (right of the label's merged range)."""
    lookup: dict[str, str] = {}
    for spec in labels:
        for k in spec.keys():
            lookup.setdefault(k, spec.name)
    canonical = {norm_key(spec.name) for spec in labels}
    found: dict[str, tuple[object, str]] = {}
    exact: set[str] = set()
    for r in range(min(KV_SCAN_ROWS, sheet.n_rows)):
        for c in range(min(KV_SCAN_COLS, len(sheet.grid[r]))):
            key = norm_key(sheet.grid[r][c])
            name = lookup.get(key)
            if not name:
                continue
            # the first occurrence wins, but the canonical label wins over an alias (单位名称 over 填报单位)
            if name not in found or (key in canonical and name not in exact):
                vc = sheet.merged_end_col(r, c) + 1
                found[name] = (sheet.value(r, vc), addr(r, vc))
                if key in canonical:
                    exact.add(name)
    return found
