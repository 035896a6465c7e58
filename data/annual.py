"""The optional sheet 年报数据: tables 三 and 四 of the unit's published
政府信息公开工作年度报告, copied in their published layout (annual-report.md).

One definition of the layout serves the reader (:func:`read_annual_report`),
the template writer and the test workbook factory (:func:`published_layout`).

Reading rules (annual-report.md):

- tables are found by their title cell (normalised, leading numbering ignored);
- a column of table 三 is identified by the *lowest* header cell above it, a
  vertically merged cell counting for every row it spans;
- a row is identified by its label: the text of every cell left of the first
  number column, merged cells included, each part normalised (white space,
  full-width forms, a trailing parenthesised note, leading numbering such as
  ``一、`` ``（一）`` ``(1)`` ``1.`` ``1、`` and quotes removed) and joined;
  it matches a canonical row on its ending, so the parent prefix of a merged
  group cell may be present or not;
- every canonical row of the edition used (2019 or 2021 national format) must
  be present once; cells are whole numbers ≥ 0, an empty cell is 0.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from core.errors import Issue, error
from core.normalize import addr, cell_text, is_blank, norm_key, to_halfwidth
from data.reader import CLOSING_PREFIXES, Sheet

S_ANNUAL = "年报数据"
SHEET_ALIASES = ("年度报告数据", "年报统计表")

TITLE_3 = "收到和处理政府信息公开申请情况"
TITLE_4 = "政府信息公开行政复议、行政诉讼情况"

#: editions of the national format: 2019 (国办公开办函〔2019〕60号), 2021 (〔2021〕30号)
EDITIONS = (2019, 2021)


def edition_for_year(year: int) -> int:
    """The edition the county's template prints for a report on ``year`` (2021 format from 2021 on)."""
    return 2021 if year >= 2021 else 2019


# --------------------------------------------------------------------------- table 三: columns

@dataclass(frozen=True)
class Col:
    code: str
    name: str
    aliases: tuple[str, ...] = ()

    def keys(self) -> set[str]:
        return {norm_key(self.name), *(norm_key(a) for a in self.aliases)}


COLUMNS_3 = (
    Col("natural", "自然人"),
    Col("business", "商业企业"),
    Col("research", "科研机构"),
    Col("social", "社会公益组织"),
    Col("legal", "法律服务机构"),
    Col("other", "其他"),
    Col("total", "总计", ("合计",)),
)
COL3 = {c.code: c for c in COLUMNS_3}
#: applicant columns (every column but total), in the published order
APPLICANT_COLS = tuple(c.code for c in COLUMNS_3 if c.code != "total")


# --------------------------------------------------------------------------- table 三: rows

@dataclass(frozen=True)
class Line:
    """One canonical row of table 三: its code, the printed label (with the
    report's numbering) and its parent group (None at the top level)."""
    code: str
    number: str          # printed numbering, e.g. "一、" "（一）" "1."
    label: str           # printed text (may carry the report's note in brackets)
    parent: str | None   # code of the group heading
    editions: tuple[int, ...] = EDITIONS

    @property
    def key(self) -> str:
        return label_key(self.label)


@dataclass(frozen=True)
class Group:
    code: str
    number: str
    label: str
    parent: str | None

    @property
    def key(self) -> str:
        return label_key(self.label)


GROUPS = (
    Group("results", "三、", "本年度办理结果", None),
    Group("deny", "（三）", "不予公开", "results"),
    Group("unable", "（四）", "无法提供", "results"),
    Group("noproc", "（五）", "不予处理", "results"),
    Group("other_group", "（六）", "其他处理", "results"),
)
GROUP = {g.code: g for g in GROUPS}

DENY = ("属于国家秘密", "其他法律行政法规禁止公开", "危及“三安全一稳定”", "保护第三方合法权益",
        "属于三类内部事务信息", "属于四类过程性信息", "属于行政执法案卷", "属于行政查询事项")
UNABLE = ("本机关不掌握相关政府信息", "没有现成信息需要另行制作", "补正后申请内容仍不明确")
NOPROC = ("信访举报投诉类申请", "重复申请", "要求提供公开出版物", "无正当理由大量反复申请",
          "要求行政机关确认或重新出具已获取信息")
OTHER_2021 = ("申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请",
              "申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请", "其他")

#: the canonical rows in published order (both editions; ``editions`` says which)
LINES: tuple[Line, ...] = (
    Line("new", "一、", "本年新收政府信息公开申请数量", None),
    Line("carried_in", "二、", "上年结转政府信息公开申请数量", None),
    Line("r_open", "（一）", "予以公开", "results"),
    Line("r_partial", "（二）", "部分公开（区分处理的，只计这一情形，不计其他情形）", "results"),
    *(Line(f"r_deny_{k}", f"{k}.", t, "deny") for k, t in enumerate(DENY, 1)),
    *(Line(f"r_unable_{k}", f"{k}.", t, "unable") for k, t in enumerate(UNABLE, 1)),
    *(Line(f"r_noproc_{k}", f"{k}.", t, "noproc") for k, t in enumerate(NOPROC, 1)),
    Line("r_other", "（六）", "其他处理", "results", (2019,)),
    *(Line(f"r_other_{k}", f"{k}.", t, "other_group", (2021,)) for k, t in enumerate(OTHER_2021, 1)),
    Line("r_total", "（七）", "总计", "results"),
    Line("carried_out", "四、", "结转下年度继续办理", None),
)
LINE = {ln.code: ln for ln in LINES}


def lines_of(edition: int) -> tuple[Line, ...]:
    return tuple(ln for ln in LINES if edition in ln.editions)


#: result groups of the ledger's 办理结果 -> the rows of table 三 that count them
RESULT_ROWS = {
    "予以公开": ("r_open",),
    "部分公开": ("r_partial",),
    "不予公开": tuple(f"r_deny_{k}" for k in range(1, len(DENY) + 1)),
    "无法提供": tuple(f"r_unable_{k}" for k in range(1, len(UNABLE) + 1)),
    "不予处理": tuple(f"r_noproc_{k}" for k in range(1, len(NOPROC) + 1)),
    "其他处理": ("r_other", *(f"r_other_{k}" for k in range(1, len(OTHER_2021) + 1))),
}


# --------------------------------------------------------------------------- table 四

REVIEW_GROUPS = (("rv_review", "行政复议"), ("rv_direct", "未经复议直接起诉"), ("rv_after", "复议后起诉"))
SUIT = "行政诉讼"
#: the lowest header row of each group: code, printed name, aliases
REVIEW_COLS = (("upheld", "结果维持", ("维持",)), ("corrected", "结果纠正", ("纠正",)),
               ("other", "其他结果", ()), ("pending", "尚未审结", ()), ("total", "总计", ("合计",)))
#: the ledger's 复议诉讼结果 value -> the column of table 四 that counts it
REVIEW_RESULT_COL = {"维持": "upheld", "纠正": "corrected", "其他结果": "other", "尚未审结": "pending"}


# --------------------------------------------------------------------------- normalisation

_NUMBERING = re.compile(
    r"^(?:[一二三四五六七八九十]+[、.]|\([一二三四五六七八九十\d]+\)|\d+[、.)]|[①-⑳])")
_QUOTES = str.maketrans("", "", "“”\"‘’'「」『』")


def label_key(v) -> str:
    """A label part normalised (workbook.md), its leading numbering and quotes removed."""
    s = norm_key(v)
    prev = None
    while prev != s:
        prev = s
        s = _NUMBERING.sub("", s)
    s = s.translate(_QUOTES)
    return norm_key(s) if s.endswith(")") or s.endswith(":") else s


def _suffixes(ln: Line) -> list[str]:
    """The endings a label of ``ln`` may have, longest first: full path, …, item alone."""
    parts = [ln.key]
    p = ln.parent
    while p:
        parts.insert(0, GROUP[p].key)
        p = GROUP[p].parent
    return ["".join(parts[i:]) for i in range(len(parts))]


_SUFFIXES = {ln.code: _suffixes(ln) for ln in LINES}


def match_line(label: str) -> str | None:
    """The canonical row whose ending ``label`` (normalised, joined) has; the
    longest matching ending wins (so ``…其他处理其他`` is r_other_3, not r_other)."""
    best, best_len = None, 0
    for code, sufs in _SUFFIXES.items():
        for s in sufs:
            if len(s) > best_len and label.endswith(s):
                best, best_len = code, len(s)
                break
    return best


def _is_heading(label: str) -> bool:
    """A group heading written as its own row (e.g. ``（三）不予公开`` above its items)."""
    return any(label.endswith(g.key) for g in GROUPS)


def _is_closing(text: str) -> bool:
    return norm_key(text, label=False).startswith(CLOSING_PREFIXES)


# --------------------------------------------------------------------------- result

@dataclass(frozen=True)
class ReportCell:
    row_code: str
    col_code: str
    value: int
    row: int      # 1-based sheet row
    col: int      # 0-based column

    @property
    def cell(self) -> str:
        return addr(self.row - 1, self.col)


@dataclass
class AnnualReport:
    edition: int
    cells: list[ReportCell] = field(default_factory=list)
    #: False when every number cell of both tables is empty (the template's sheet left untouched)
    filled: bool = True

    def value(self, row_code: str, col_code: str) -> int:
        for c in self.cells:
            if c.row_code == row_code and c.col_code == col_code:
                return c.value
        raise KeyError((row_code, col_code))


_INT = re.compile(r"^\d+(?:\.0*)?$")


def parse_count(v) -> int | None:
    """A report cell: empty -> 0; a whole number ≥ 0 (3, 3.0, '3', '３', '3.0'); else None."""
    if is_blank(v):
        return 0
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v if v >= 0 else None
    if isinstance(v, float):
        if v != v or v < 0 or not v.is_integer():
            return None
        return int(v)
    if isinstance(v, str):
        s = to_halfwidth(v).strip()
        if _INT.match(s):
            return int(s.split(".")[0])
    return None


def _count_issue(v, where: str, cell: str) -> Issue:
    text = cell_text(v).strip()
    neg = False
    try:
        neg = float(to_halfwidth(text)) < 0
    except ValueError:
        pass
    why = "不能为负数" if neg else "应为不小于 0 的整数（如 3），没有的留空或填 0"
    return error("annual_value_invalid", f"{where}“{text}”{why}", S_ANNUAL, cell)


# --------------------------------------------------------------------------- reading

def _own(sheet: Sheet, r: int, c: int) -> bool:
    """The cell holds a value of its own (not a merged-range copy) that is not blank."""
    return not is_blank(sheet.value(r, c)) and c not in sheet.spilled.get(r, ())


def _row_blank(sheet: Sheet, r: int) -> bool:
    return not any(_own(sheet, r, c) for c in range(len(sheet.grid[r])))


def _find_titles(sheet: Sheet) -> dict[str, int]:
    """Title -> 0-based row of its first cell (merged copies ignored)."""
    want = {label_key(TITLE_3): "三", label_key(TITLE_4): "四"}
    found: dict[str, int] = {}
    for r, row in enumerate(sheet.grid):
        for c, v in enumerate(row):
            if not isinstance(v, str) or c in sheet.spilled.get(r, ()):
                continue
            t = want.get(label_key(v))
            if t and t not in found:
                found[t] = r
    return found


def _next_nonblank(sheet: Sheet, r: int, end: int) -> int | None:
    while r < end:
        if not _row_blank(sheet, r):
            return r
        r += 1
    return None


def _lowest(sheet: Sheet, top: int, bottom: int, c: int):
    """The lowest non-blank header cell of column ``c`` in rows top..bottom (merged copies count)."""
    for r in range(bottom, top - 1, -1):
        v = sheet.value(r, c)
        if not is_blank(v):
            return v, r
    return None, None


def _header_3(sheet: Sheet, start: int, end: int) -> tuple[dict[str, int], int, list[str]]:
    """Columns of table 三 (code -> 0-based column), the last header row, the missing columns."""
    lookup = {k: col.code for col in COLUMNS_3 for k in col.keys()}
    best: tuple[dict[str, int], int] = ({}, start)
    width = max((len(r) for r in sheet.grid), default=0)
    for h in range(start, min(start + 3, end)):
        cols: dict[str, int] = {}
        for c in range(width):
            v, _ = _lowest(sheet, start, h, c)
            code = lookup.get(norm_key(v)) if v is not None else None
            if code and code not in cols:
                cols[code] = c
        if len(cols) == len(COLUMNS_3):
            return cols, h, []
        if len(cols) > len(best[0]):
            best = (cols, h)
    return best[0], best[1], [c.name for c in COLUMNS_3 if c.code not in best[0]]


def _label(sheet: Sheet, r: int, first_num: int) -> tuple[str, int | None, str | None]:
    """(normalised joined label, column of its first non-blank cell, first own text) of row ``r``."""
    parts: list[str] = []
    first_col = None
    first_own = None
    for c in range(first_num):
        v = sheet.value(r, c)
        if is_blank(v):
            continue
        if first_col is None:
            first_col = c
        if first_own is None and c not in sheet.spilled.get(r, ()):
            first_own = cell_text(v)
        # a range merged across columns is one part, not one per column it spans
        if c in sheet.spilled.get(r, ()) and c > 0 and sheet.value(r, c - 1) == v and _same_range(sheet, r, c - 1, c):
            continue
        k = label_key(v)
        if k and (not parts or parts[-1] != k):
            parts.append(k)
    return "".join(parts), first_col, first_own


def _same_range(sheet: Sheet, r: int, c0: int, c1: int) -> bool:
    for (a, b), (y, x) in sheet.merged:
        if a <= r <= y and b <= c0 <= x and b <= c1 <= x:
            return True
    return False


def _read_3(sheet: Sheet, title: int, end: int) -> tuple[AnnualReport | None, list[Issue]]:
    issues: list[Issue] = []
    start = _next_nonblank(sheet, title + 1, end)
    if start is None:
        return None, [error("annual_header_missing", f"表三“{TITLE_3}”标题下没有表头和数据", S_ANNUAL)]
    cols, last_header, missing = _header_3(sheet, start, end)
    if missing:
        return None, [error("annual_header_missing",
                            f"表三“{TITLE_3}”的表头（标题下三行内）中未找到“{n}”列", S_ANNUAL) for n in missing]
    first_num = min(cols.values())
    found: dict[str, tuple[int, dict[str, int]]] = {}   # code -> (0-based row, values by column)
    typed = False  # any number cell not empty
    for r in range(last_header + 1, end):
        if _row_blank(sheet, r):
            continue
        label, label_col, own = _label(sheet, r, first_num)
        raw = {code: sheet.value(r, c) for code, c in cols.items()}
        numbers_blank = all(is_blank(raw[k]) or cols[k] in sheet.spilled.get(r, ()) for k in cols)
        code = match_line(label) if label else None
        if code is None:
            if own is not None and _is_closing(own):
                continue
            if numbers_blank and (not label or _is_heading(label)):
                continue  # a group heading on a row of its own, or only merged copies
            where = addr(r, label_col if label_col is not None else 0)
            text = "、".join(filter(None, (cell_text(sheet.value(r, c)).strip() for c in range(first_num))))
            issues.append(error("annual_row_unknown",
                                f"表三中的行“{text or '（无行名称）'}”不是年度报告表三的项目，请按已公布的年度报告原样填写行名称",
                                S_ANNUAL, where))
            continue
        if code in found:
            if numbers_blank and code == "r_other":
                continue
            where = addr(r, label_col if label_col is not None else 0)
            issues.append(error("annual_row_duplicate",
                                f"表三中“{printed_label(code)}”一行重复出现（第{found[code][0] + 1}行已有）",
                                S_ANNUAL, where))
            continue
        values: dict[str, int] = {}
        for ccode, c in cols.items():
            v = raw[ccode]
            if c in sheet.spilled.get(r, ()):
                v = ""  # a number merged across cells counts once, in its own cell
            typed = typed or not is_blank(v)
            n = parse_count(v)
            if n is None:
                issues.append(_count_issue(v, f"“{printed_label(code)}”的“{COL3[ccode].name}”", addr(r, c)))
                continue
            values[ccode] = n
        found[code] = (r, values)
    has21 = any(f"r_other_{k}" in found for k in range(1, len(OTHER_2021) + 1))
    if has21 and "r_other" in found:
        r, values = found["r_other"]
        if any(values.values()):
            issues.append(error("annual_edition_mixed",
                                "表三按2021年版格式将“其他处理”分为三项填写，“其他处理”一行本身不应再填数字"
                                "（请把数字填在下面三项中）", S_ANNUAL, addr(r, first_num)))
        del found["r_other"]
    edition = 2021 if has21 else 2019
    for ln in lines_of(edition):
        if ln.code not in found:
            issues.append(error("annual_row_missing",
                                f"表三缺少“{printed_label(ln.code)}”一行（{edition}年版年度报告格式）", S_ANNUAL))
    if issues:
        return None, issues
    rep = AnnualReport(edition, filled=typed)
    for ln in lines_of(edition):
        r, values = found[ln.code]
        for ccode, c in cols.items():
            rep.cells.append(ReportCell(ln.code, ccode, values[ccode], r + 1, c))
    return rep, []


def printed_label(code: str) -> str:
    """A row as a person finds it in the report: numbering and label (the group for items)."""
    ln = LINE[code]
    label = ln.label.split("（")[0]
    if ln.parent and GROUP[ln.parent].parent:
        return f"{GROUP[ln.parent].label}·{ln.number}{label}"
    return f"{ln.number}{label}"


def _read_4(sheet: Sheet, title: int, end: int) -> tuple[list[ReportCell], list[Issue], bool]:
    start = _next_nonblank(sheet, title + 1, end)
    if start is None:
        return [], [error("annual_header_missing", f"表四“{TITLE_4}”标题下没有表头", S_ANNUAL)], False
    group_key = {norm_key(n): g for g, n in REVIEW_GROUPS}
    col_key = {norm_key(k): code for code, name, al in REVIEW_COLS for k in (name, *al)}
    width = max((len(r) for r in sheet.grid), default=0)
    best: tuple[dict, int] = ({}, start)
    for h in range(start + 1, min(start + 3, end)):
        cols: dict[tuple[str, str], int] = {}
        for c in range(width):
            v, vr = _lowest(sheet, start, h, c)
            ccode = col_key.get(norm_key(v)) if v is not None else None
            if ccode is None or vr != h:
                continue
            g = None
            for rr in range(h - 1, start - 1, -1):
                g = group_key.get(norm_key(sheet.value(rr, c)))
                if g:
                    break
            if g and (g, ccode) not in cols:
                cols[(g, ccode)] = c
        if len(cols) == len(REVIEW_GROUPS) * len(REVIEW_COLS):
            best = (cols, h)
            break
        if len(cols) > len(best[0]):
            best = (cols, h)
    cols, h = best
    if len(cols) < len(REVIEW_GROUPS) * len(REVIEW_COLS):
        miss = [f"{gn}·{cn}" for g, gn in REVIEW_GROUPS for c, cn, _ in REVIEW_COLS if (g, c) not in cols]
        return [], [error("annual_header_missing",
                          f"表四“{TITLE_4}”的表头（标题下两至三行，上行为 行政复议、未经复议直接起诉、复议后起诉，"
                          f"下行为 结果维持、结果纠正、其他结果、尚未审结、总计）中未找到：{'、'.join(miss)}", S_ANNUAL)], False
    data = _next_nonblank(sheet, h + 1, end)
    if data is not None:
        own = next((sheet.value(data, c) for c in range(len(sheet.grid[data])) if _own(sheet, data, c)), "")
        if isinstance(own, str) and _is_closing(own):
            data = None
    row = data if data is not None else h + 1
    out: list[ReportCell] = []
    issues: list[Issue] = []
    typed = False
    for g, gn in REVIEW_GROUPS:
        for ccode, cn, _ in REVIEW_COLS:
            c = cols[(g, ccode)]
            v = sheet.value(row, c) if data is not None else ""
            typed = typed or not is_blank(v)
            n = parse_count(v)
            if n is None:
                issues.append(_count_issue(v, f"表四“{gn}·{cn}”", addr(row, c)))
                continue
            out.append(ReportCell(g, ccode, n, row + 1, c))
    return out, issues, typed


def read_annual_report(sheet: Sheet) -> tuple[AnnualReport | None, list[Issue]]:
    """Read the sheet: (the report, []) or (None, the errors, each located).

    A sheet whose number cells are all empty gives a report with ``filled`` False."""
    titles = _find_titles(sheet)
    issues: list[Issue] = []
    for t, name in (("三", TITLE_3), ("四", TITLE_4)):
        if t not in titles:
            issues.append(error("annual_table_missing",
                                f"未找到表{t}的标题“{name}”：请按已公布的年度报告，保留表格标题（如“{t}、{name}”）", S_ANNUAL))
    if issues:
        return None, issues
    r3, r4 = titles["三"], titles["四"]
    end3 = r4 if r4 > r3 else sheet.n_rows
    end4 = r3 if r3 > r4 else sheet.n_rows
    rep, issues3 = _read_3(sheet, r3, end3)
    cells4, issues4, typed4 = _read_4(sheet, r4, end4)
    issues = issues3 + issues4
    if issues or rep is None:
        return None, issues
    rep.cells.extend(cells4)
    rep.filled = rep.filled or typed4
    return rep, []


# --------------------------------------------------------------------------- the published layout

@dataclass
class Layout:
    """The sheet as printed: rows of values (None = empty), merged ranges (A1),
    the input cells (row_code, col_code) -> (1-based row, 1-based column), and
    the rows that are titles and headers (1-based) for styling."""
    rows: list[list]
    merges: list[str]
    inputs: dict[tuple[str, str], tuple[int, int]]
    titles: list[int]
    headers: list[int]
    label_cols: int = 3


def _a1(r: int, c: int) -> str:
    return addr(r - 1, c - 1)


def published_layout(edition: int, heading: str | None = None) -> Layout:
    """Tables 三 and 四 in the layout of the national format (``edition`` 2019 or 2021).

    Table 三: labels in columns A–C (``三、本年度办理结果`` merged down column A,
    each group merged down column B, items in column C), numbers in D–J under a
    three-row header (申请人情况 / 自然人, 法人或其他组织, 总计 / the five kinds).
    Table 四 below it: a three-row header over 15 columns and one data row.
    """
    rows: list[list] = []
    merges: list[str] = []
    inputs: dict[tuple[str, str], tuple[int, int]] = {}
    titles: list[int] = []
    headers: list[int] = []

    def add(values: list) -> int:
        rows.append(list(values))
        return len(rows)

    if heading:
        r = add([heading])
        merges.append(f"A{r}:J{r}")
        add([])
    # ---- table 三
    r = add([f"三、{TITLE_3}"])
    titles.append(r)
    merges.append(f"A{r}:J{r}")
    h1 = add(["（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）", None, None, "申请人情况"])
    h2 = add([None, None, None, "自然人", "法人或其他组织", None, None, None, None, "总计"])
    h3 = add([None, None, None, None, "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他"])
    headers += [h1, h2, h3]
    merges += [f"A{h1}:C{h3}", f"D{h1}:J{h1}", f"D{h2}:D{h3}", f"E{h2}:I{h2}", f"J{h2}:J{h3}"]
    lines = lines_of(edition)
    first_result = None
    group_start: dict[str, int] = {}
    group_end: dict[str, int] = {}
    for ln in lines:
        if ln.parent is None:
            r = add([f"{ln.number}{ln.label}"])
            merges.append(f"A{r}:C{r}")
        elif ln.parent == "results":
            r = add([GROUP["results"].number + GROUP["results"].label, f"{ln.number}{ln.label}"])
            merges.append(f"B{r}:C{r}")
        else:
            g = GROUP[ln.parent]
            r = add([GROUP["results"].number + GROUP["results"].label, f"{g.number}{g.label}", f"{ln.number}{ln.label}"])
            group_start.setdefault(ln.parent, r)
            group_end[ln.parent] = r
        if ln.parent is not None and first_result is None:
            first_result = r
        if ln.code == "r_total":
            last_result = r
        for k, col in enumerate(COLUMNS_3):
            inputs[(ln.code, col.code)] = (r, 4 + k)
    merges.append(f"A{first_result}:A{last_result}")
    for g, a in group_start.items():
        if group_end[g] > a:
            merges.append(f"B{a}:B{group_end[g]}")
    # merged copies live only in the top-left cell
    for m in merges:
        _clear_merged(rows, m)
    add([])
    # ---- table 四
    r = add([f"四、{TITLE_4}"])
    titles.append(r)
    merges.append(f"A{r}:O{r}")
    h1 = add(["行政复议", None, None, None, None, SUIT])
    h2 = add([None] * 5 + [REVIEW_GROUPS[1][1], None, None, None, None, REVIEW_GROUPS[2][1]])
    h3 = add([name for _ in REVIEW_GROUPS for _, name, _ in REVIEW_COLS])
    headers += [h1, h2, h3]
    merges += [f"A{h1}:E{h2}", f"F{h1}:O{h1}", f"F{h2}:J{h2}", f"K{h2}:O{h2}"]
    d = add([None] * 15)
    for gi, (g, _) in enumerate(REVIEW_GROUPS):
        for ci, (ccode, _, _) in enumerate(REVIEW_COLS):
            inputs[(g, ccode)] = (d, 1 + gi * 5 + ci)
    return Layout(rows, merges, inputs, titles, headers)


def _clear_merged(rows: list[list], rng: str) -> None:
    m = re.match(r"([A-Z]+)(\d+):([A-Z]+)(\d+)$", rng)
    c0, r0, c1, r1 = _col_index(m[1]), int(m[2]), _col_index(m[3]), int(m[4])
    for r in range(r0, r1 + 1):
        row = rows[r - 1]
        for c in range(c0, c1 + 1):
            if (r, c) != (r0, c0) and c - 1 < len(row):
                row[c - 1] = None


def _col_index(letters: str) -> int:
    """A1 column letters -> 1-based index."""
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n
