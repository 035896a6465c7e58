"""The official blank self-assessment workbook (自检自评表), format 2019.

:func:`build_template` writes the workbook ``workbook.md`` describes: an
instruction sheet, 单位信息 (pre-filled when a unit is given), 自评打分 with
one row per indicator of the year's scheme, and the two empty ledgers with
drop-down lists (from a hidden sheet 选项) and date validation.

The layout constants below (sheet names, headers, rows) are also used by the
demonstration county (:mod:`demo.render`) to fill the template.
"""
from __future__ import annotations

import datetime as dt
import io
import re
import weakref
import zipfile
from copy import copy
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.cell.cell import MergedCell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.cell_range import CellRange, MultiCellRange
from openpyxl.worksheet.merge import MergedCellRange
from openpyxl.worksheet.datavalidation import DataValidation

from data.annual import S_ANNUAL, TITLE_3, TITLE_4, edition_for_year, published_layout
from data.registry import Unit
from core.scheme import Catalogue, Scheme, load_catalogue
from core.vocab import APPLICANT_TYPES, CHANNELS, RESULTS, REVIEW_RESULTS, YES_NO
from core.workbook import (ENUMERATIONS, INFO_NAMES, LEDGER_HEADERS, REQUEST_HEADERS, SCORE_HEADERS, SHEET_HELP,
                           SHEET_INFO, SHEET_LEDGER, SHEET_OPTIONS, SHEET_REQUESTS, SHEET_SCORES)

SHEET_ANNUAL = S_ANNUAL

AUTO_TEXT = "系统自动计算"
#: 0-based row numbers of the template: title in row 1, header in row 2, data from row 3
TITLE_ROW, HEADER_ROW, FIRST_DATA_ROW = 1, 2, 3
#: data rows prepared (validation, date format) in the ledgers
LEDGER_ROWS = 1000
REQUEST_ROWS = 300
DATE_FORMAT = "yyyy-mm-dd"

_GREY = PatternFill("solid", fgColor="D9D9D9")
_HEAD = PatternFill("solid", fgColor="DDEBF7")
_LABEL = PatternFill("solid", fgColor="F2F2F2")
_THIN = Side(style="thin", color="808080")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
_WRAP = Alignment(vertical="center", wrap_text=True)
_TITLE_FONT = Font(name="宋体", size=16, bold=True)
_BOLD = Font(bold=True)
#: cells the unit fills in on 年报数据
_INPUT = PatternFill("solid", fgColor="FFF2CC")
_MIDDLE = Alignment(horizontal="center", vertical="center")
_LEFT = Alignment(horizontal="left", vertical="center")
_TOP_WRAP = Alignment(wrap_text=True, vertical="top")
_HINT_FONT = Font(color="808080", size=9)
_AUTO_FONT = Font(color="595959", italic=True)
_HEADING_FONT = Font(name="黑体", size=12, bold=True)

# Excel serial numbers bounding "any plausible date" for the date validation
_DATE_MIN = (dt.date(2000, 1, 1) - dt.date(1899, 12, 30)).days
_DATE_MAX = (dt.date(2099, 12, 31) - dt.date(1899, 12, 30)).days


def county_of(scheme: Scheme) -> str:
    """The county's name as printed in the scheme's name ("方正县2019年…" -> "方正县")."""
    head = scheme.name.split(str(scheme.year), 1)[0]
    return head if head and head != scheme.name else ""


def title_of(scheme: Scheme) -> str:
    return f"{county_of(scheme)}{scheme.year}年政务公开工作自评表"


def cn_date(d: dt.date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def num(v: Decimal | float | int):
    """A Decimal as the int or float Excel should show (4 -> 4, 2.5 -> 2.5)."""
    d = Decimal(str(v))
    return int(d) if d == d.to_integral_value() else float(d)


def template_file_name(scheme: Scheme, unit: Unit | None = None) -> str:
    who = unit.name if unit else ""
    return f"{who}{scheme.year}年政务公开自检自评表.xlsx"


# --------------------------------------------------------------------------- helpers

class Styler:
    """Gives cells fonts, fills, borders, alignments and number formats, each combination at the
    cost of one: openpyxl hashes every style object on every assignment (most of the time spent
    building a template), so a combination already applied in this workbook is copied instead.

    Keyed by the cell's current style and the identities of the style objects, which the cache
    keeps alive (an identity is never reused while the cache exists). One per workbook."""

    def __init__(self) -> None:
        self._seen: dict[tuple, tuple] = {}

    def __call__(self, cell, **styles):
        now = cell._style
        key = (None if now is None else tuple(now), *((k, id(v)) for k, v in styles.items()))
        hit = self._seen.get(key)
        if hit is None:
            for k, v in styles.items():
                setattr(cell, k, v)
            self._seen[key] = (copy(cell._style), tuple(styles.values()))
        else:
            cell._style = copy(hit[0])
        return cell


#: per workbook: the style arrays :func:`merge_cells` produced for a (cell style, operation) before
_MERGE_MEMO: "weakref.WeakKeyDictionary[Workbook, dict]" = weakref.WeakKeyDictionary()


def _styled(memo: dict, cell, key: tuple, apply) -> None:
    """``apply(cell)`` (a style change whose result depends only on the cell's style and ``key``),
    or, when the same change was made to a cell of the same style in this workbook before, the
    style it gave then (openpyxl hashes the style objects on every change; this skips that)."""
    now = cell._style
    k = (None if now is None else tuple(now), key)
    hit = memo.get(k)
    if hit is None:
        apply(cell)
        memo[k] = StyleArray(cell._style)
    else:
        cell._style = StyleArray(hit)


def merge_cells(ws, range_string: str | None = None, *, start_row: int | None = None, start_column: int | None = None,
                end_row: int | None = None, end_column: int | None = None) -> None:
    """``ws.merge_cells(...)`` with the same result, cell for cell and style for style (so the same
    file bytes), at a fraction of the cost: openpyxl re-creates and hashes a border and a protection
    object for every cell of every merged range; here a change already made to a cell of the same
    style in this workbook is copied (see :func:`_styled`). Follows openpyxl 3.1's
    ``Worksheet.merge_cells`` / ``MergedCellRange`` step by step (a test compares the two)."""
    memo = _MERGE_MEMO.setdefault(ws.parent, {})
    if range_string is None:
        range_string = CellRange(min_col=start_column, min_row=start_row, max_col=end_column, max_row=end_row).coord
    mcr = MergedCellRange.__new__(MergedCellRange)
    mcr.ws = ws
    CellRange.__init__(mcr, range_string=range_string)
    cells = ws._cells
    # MergedCellRange._get_borders: the top-left cell takes the right and bottom border of the bottom-right one
    start = cells.get((mcr.min_row, mcr.min_col))
    if start is None:
        start = ws.cell(row=mcr.min_row, column=mcr.min_col)
    mcr.start_cell = start
    end = cells.get((mcr.max_row, mcr.max_col))
    if end is not None:
        end_style = None if end._style is None else tuple(end._style)

        def corner(c):
            c.border += Border(right=end.border.right, bottom=end.border.bottom)
        _styled(memo, start, ("corner", end_style), corner)
        if end._style is None:  # as reading end.border in openpyxl does
            end._style = StyleArray()
    ws.merged_cells.add(mcr)
    # Worksheet._clean_merge_range: every other cell becomes a MergedCell, then MergedCellRange.format
    it = mcr.cells
    next(it)
    for row, col in it:
        cells[row, col] = MergedCell(ws, row, col)
    for name in ("top", "left", "right", "bottom"):
        side = getattr(start.border, name)  # (gives the cell a style array when it has none)
        bid = start._style.borderId
        if side and side.style is None:
            continue
        border = Border(**{name: side})

        def edge(c, border=border):
            c.border += border
        for coord in getattr(mcr, name):
            cell = cells.get(coord)
            if cell is None:
                cell = cells[coord] = MergedCell(ws, row=coord[0], column=coord[1])
            _styled(memo, cell, ("edge", name, bid), edge)
    pid = start._style.protectionId  # (start has a style array: its border was read above)
    protection = []

    def protect(c):
        if not protection:
            protection.append(copy(start.protection))
        c.protection = protection[0]
    for coord in mcr.cells:
        cell = cells.get(coord)
        if cell is None:
            cell = cells[coord] = MergedCell(ws, row=coord[0], column=coord[1])
        _styled(memo, cell, ("protection", pid), protect)


def _add_cells(dv: DataValidation, cells: list[str]) -> None:
    """Add single cells (all different) to a validation at once (``dv.add`` checks each against all)."""
    dv.sqref = MultiCellRange(" ".join([*(str(r) for r in dv.sqref.ranges), *cells]))


def _title(ws, text: str, ncols: int) -> None:
    ws.cell(TITLE_ROW, 1, text).font = _TITLE_FONT
    ws.cell(TITLE_ROW, 1).alignment = Alignment(horizontal="center", vertical="center")
    if ncols > 1:
        merge_cells(ws, start_row=TITLE_ROW, start_column=1, end_row=TITLE_ROW, end_column=ncols)
    ws.row_dimensions[TITLE_ROW].height = 30


def _header(ws, headers, widths) -> None:
    st = Styler()
    for c, (h, w) in enumerate(zip(headers, widths), start=1):
        st(ws.cell(HEADER_ROW, c, h), font=_BOLD, fill=_HEAD, border=_BORDER, alignment=_CENTER)
        ws.column_dimensions[get_column_letter(c)].width = w
    ws.row_dimensions[HEADER_ROW].height = 24
    ws.freeze_panes = ws.cell(FIRST_DATA_ROW, 1)
    ws.print_title_rows = f"{TITLE_ROW}:{HEADER_ROW}"


def _print_setup(ws) -> None:
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.4


def _list_validation(ref: str, prompt: str, strict: bool = True) -> DataValidation:
    dv = DataValidation(type="list", formula1=ref, allow_blank=True, showDropDown=False)
    dv.promptTitle, dv.prompt = "请选择", prompt
    dv.showInputMessage = True
    if strict:
        dv.showErrorMessage = True
        dv.errorTitle, dv.error = "取值不对", f"请从下拉列表中选择。{prompt}"
    else:
        # several values may be typed (e.g. 政府网站、政务新媒体): offer the list, do not refuse
        dv.showErrorMessage = False
    return dv


def _date_validation(what: str) -> DataValidation:
    dv = DataValidation(type="date", operator="between", formula1=str(_DATE_MIN), formula2=str(_DATE_MAX),
                        allow_blank=True)
    dv.showErrorMessage = True
    dv.errorTitle, dv.error = "日期格式不对", f"{what}请填写日期，格式如 2019-06-03"
    dv.showInputMessage = True
    dv.promptTitle, dv.prompt = what, "日期，格式如 2019-06-03"
    return dv


def _rng(col: int, first: int, last: int) -> str:
    L = get_column_letter(col)
    return f"{L}{first}:{L}{last}"


# --------------------------------------------------------------------------- sheets

def _options_sheet(wb: Workbook, catalogue: Catalogue) -> dict[str, str]:
    """Hidden sheet 选项 with one column per enumerated list; returns header -> formula reference."""
    ws = wb.create_sheet(SHEET_OPTIONS)
    lists = {"公开类别": [c.name for c in catalogue.categories]} | {k: list(v) for k, v in ENUMERATIONS.items()}
    refs = {}
    for c, (head, values) in enumerate(lists.items(), start=1):
        ws.cell(1, c, head).font = _BOLD
        for r, v in enumerate(values, start=2):
            ws.cell(r, c, v)
        L = get_column_letter(c)
        ws.column_dimensions[L].width = 22
        refs[head] = f"'{SHEET_OPTIONS}'!${L}$2:${L}${len(values) + 1}"
    ws.sheet_state = "hidden"
    return refs


def _help_sheet(wb: Workbook, scheme: Scheme, unit: Unit | None, catalogue: Catalogue) -> None:
    ws = wb.active
    ws.title = SHEET_HELP
    ws.column_dimensions["A"].width = 110
    auto = [i for i in scheme.indicators if i.type == "auto"]
    bonus = [i for i in scheme.indicators if i.type == "bonus"]
    y = scheme.year
    lines: list[tuple[str, bool]] = [
        (f"{title_of(scheme)} · 填报说明", True),
        ("", False),
        ("一、总体要求", True),
        (f"1. 本表用于{y}年度政务公开工作自检自评（考核年度 {cn_date(scheme.year_start)} 至 {cn_date(scheme.year_end)}）。"
         f"请如实填写“单位信息”“自评打分”“主动公开台账”“依申请公开台账”四个工作表，不要修改工作表名称和表头。", False),
        (f"2. 报送截止日期：{cn_date(scheme.cutoff)}（同时为统计截止日）。逾期报送将影响“按时报送”指标得分。", False),
        ("3. 请保存为 .xlsx 格式（Excel 或 WPS“另存为 Excel 工作簿”）；使用旧版 Excel 的也可保存为 .xls。"
         "不要保存为 WPS 专用的 .et 格式，不要设置打开密码。", False),
        ("4. 日期一律填写为日期，格式如 2019-06-03（也可写作 2019/6/3 或 2019年6月3日）；日期不得晚于报送当日。", False),
        ("5. 分数填写数字（如 4 或 3.5），最多保留两位小数，不要带其他文字。", False),
        ("", False),
        ("二、单位信息", True),
        ("单位名称、单位类型须与县政务公开办下发的单位名录一致（模板已预填的请勿改动）；填报人、联系电话、填报日期必须填写。", False),
        ("", False),
        ("三、自评打分", True),
        ("1. 每个指标一行，在“自评得分”列填写本单位自评分，不得为空，不得超过“分值”，不得为负数；"
         "在“自评说明”列写明扣分理由或得分依据；在“佐证材料”列填写网址或文件名称，多项之间用换行或“；”分隔。", False),
        (f"2. 灰色行为系统自动计算的指标（{'、'.join(f'{i.code} {i.text}' for i in auto)}），"
         "由系统根据两本台账和报送日期计算，无需也不能自评，请勿在“自评得分”列填写。", False),
    ]
    if bonus:
        b = bonus[0]
        lines.append((f"3. {b.code} {b.text}：最高 {num(b.max)} 分，没有的填 0，有的请在佐证材料中列明表彰或推广文件。", False))
    lines += [
        ("", False),
        ("四、主动公开台账", True),
        ("1. 本年度主动公开的每条信息填一行：信息名称、公开类别、形成日期必填；已公开的填写公开日期、公开渠道和链接，尚未公开的公开日期留空。", False),
        (f"2. 形成日期为信息形成或变更之日；应自形成之日起 {scheme.proactive_days} 个工作日内公开（条例第二十六条）。", False),
        ("3. 公开类别请从下拉列表选择（规范名称）。公开渠道可填：" + "、".join(CHANNELS) + "，多个渠道之间用“、”分隔。", False),
    ]
    if unit is not None:
        req = list(scheme.required.get(unit.unit_type, ()))
        req += [c for c in unit.extra_categories if c not in req]
        order = catalogue.order
        names = [catalogue.by_code(c).name for c in sorted(req, key=lambda c: order.get(c, 999))]
        lines.append((f"4. 本单位（{unit.name}）必公开类别 {len(names)} 类：{'、'.join(names)}。"
                      "每类至少应有一条本年度形成并在统计截止日前公开的信息。", False))
    else:
        for t, codes in scheme.required.items():
            names = "、".join(catalogue.by_code(c).name for c in codes)
            lines.append((f"· {t}必公开类别：{names}（另加单位名录中本单位的附加类别）。", False))
    lines += [
        ("", False),
        ("五、依申请公开台账", True),
        ("1. 本年度收到的每件政府信息公开申请填一行；没有收到申请的，保留表头即可。申请编号必填且不得重复。", False),
        ("2. 收到日期为收到申请之日（条例第三十一条）；需要补正的，填写补正后收到申请的日期（补正日期），答复期限自补正日期起算。", False),
        ("3. 是否延期：" + " / ".join(YES_NO) + "（经批准延长答复期限的填“是”）。", False),
        ("4. 已答复的须填写答复日期和办理结果。办理结果可填：" + "、".join(RESULTS) + "。", False),
        ("5. 申请人类型可填：" + "、".join(APPLICANT_TYPES) + "；复议诉讼结果可填：" + "、".join(REVIEW_RESULTS) + "，没有复议诉讼的留空。", False),
    ]
    if scheme.annual_report != "none":
        need = ("本年度必须填报" if scheme.annual_report == "required"
                else "本年度可选填报；未填报的不作勾稽，也不影响得分")
        lines += [
            ("", False),
            ("六、年报数据", True),
            (f"1. 将本单位已公布的《{y}年政府信息公开工作年度报告》中表三“{TITLE_3}”和表四“{TITLE_4}”的数字，"
             f"按原表位置抄录到“{SHEET_ANNUAL}”工作表的黄色单元格中；没有的填 0 或留空"
             f"（整张表都留空视为未填报）。{need}。", False),
            ("2. 请照抄已公布的数字，即使发现有误也不要在本表中更正：系统会自动勾稽（表内各项是否相加相等、"
             "与依申请公开台账是否一致），发现的问题作为警告列出，不影响本表被接收。年度报告的更正请按规定另行办理。", False),
            (f"3. 表格格式为{edition_for_year(y)}年版年度报告格式"
             + ("（“其他处理”分为三项）" if edition_for_year(y) >= 2021 else "（“其他处理”为一行）")
             + "；不要增删行列，不要修改行名称和表头。", False),
        ]
    lines += [
        ("", False),
        ("七、其他" if scheme.annual_report != "none" else "六、其他", True),
        ("有错误的表格将被整体退回并列明错误所在的单元格，修改后重新报送即可；审核通过前可多次报送，以最后一次为准。", False),
    ]
    st = Styler()
    for r, (text, bold) in enumerate(lines, start=1):
        c = st(ws.cell(r, 1, text), alignment=_TOP_WRAP)
        if bold:
            st(c, font=_TITLE_FONT if r == 1 else _BOLD)
    _print_setup(ws)
    ws.page_setup.orientation = "portrait"


def _info_sheet(wb: Workbook, scheme: Scheme, unit: Unit | None) -> None:
    ws = wb.create_sheet(SHEET_INFO)
    _title(ws, title_of(scheme), 3)
    hints = {
        "单位名称": "与单位名录一致",
        "单位类型": "乡镇 或 部门",
        "考核年度": "如 2019",
        "填报人": "必填",
        "联系电话": "必填",
        "填报日期": f"日期，如 {scheme.year + 1}-01-08",
    }
    values = {"考核年度": scheme.year}
    if unit is not None:
        values["单位名称"] = unit.name
        values["单位类型"] = unit.unit_type
    st = Styler()
    for r, label in enumerate(INFO_NAMES, start=HEADER_ROW):
        st(ws.cell(r, 1, label), font=_BOLD, fill=_LABEL, border=_BORDER, alignment=_CENTER)
        st(ws.cell(r, 2, values.get(label)), border=_BORDER, alignment=_LEFT)
        st(ws.cell(r, 3, hints[label]), font=_HINT_FONT)
        ws.row_dimensions[r].height = 22
    date_row = HEADER_ROW + INFO_NAMES.index("填报日期")
    ws.cell(date_row, 2).number_format = DATE_FORMAT
    dv = _date_validation("填报日期")
    dv.add(f"B{date_row}")
    ws.add_data_validation(dv)
    tv = _list_validation('"乡镇,部门"', "乡镇 或 部门")
    tv.add(f"B{HEADER_ROW + INFO_NAMES.index('单位类型')}")
    ws.add_data_validation(tv)
    ws.column_dimensions["A"].width = 16
    ws.column_dimensions["B"].width = 40
    ws.column_dimensions["C"].width = 24
    _print_setup(ws)
    ws.page_setup.orientation = "portrait"


def _scores_sheet(wb: Workbook, scheme: Scheme) -> None:
    ws = wb.create_sheet(SHEET_SCORES)
    n = len(SCORE_HEADERS)
    _title(ws, title_of(scheme), n)
    _header(ws, SCORE_HEADERS, (10, 14, 52, 8, 10, 36, 40))
    by_max: dict[Decimal, list[str]] = {}
    auto_cells: list[str] = []
    start_of_group: tuple[int, str] | None = None
    r = FIRST_DATA_ROW
    st = Styler()
    for ind in scheme.indicators:
        auto = ind.type == "auto"
        row = [ind.code, ind.group, ind.text, num(ind.max), None, AUTO_TEXT if auto else None, None]
        for c, v in enumerate(row, start=1):
            cell = ws.cell(r, c, v)
            if auto:
                st(cell, border=_BORDER, alignment=_CENTER if c in (1, 2, 4, 5) else _WRAP, fill=_GREY)
            else:
                st(cell, border=_BORDER, alignment=_CENTER if c in (1, 2, 4, 5) else _WRAP)
        if auto:
            st(ws.cell(r, 6), font=_AUTO_FONT)
            auto_cells.append(f"E{r}")
        else:
            by_max.setdefault(ind.max, []).append(f"E{r}")
        if start_of_group is None or start_of_group[1] != ind.group:
            if start_of_group is not None and r - 1 > start_of_group[0]:
                merge_cells(ws, start_row=start_of_group[0], start_column=2, end_row=r - 1, end_column=2)
            start_of_group = (r, ind.group)
        r += 1
    if start_of_group is not None and r - 1 > start_of_group[0]:
        merge_cells(ws, start_row=start_of_group[0], start_column=2, end_row=r - 1, end_column=2)
    for mx, cells in by_max.items():
        dv = DataValidation(type="decimal", operator="between", formula1="0", formula2=str(num(mx)), allow_blank=True)
        dv.showErrorMessage = True
        dv.errorTitle, dv.error = "分数超出范围", f"自评得分应为 0 至 {num(mx)} 之间的数字"
        dv.showInputMessage = True
        dv.promptTitle, dv.prompt = "自评得分", f"填写 0 至 {num(mx)} 的数字"
        _add_cells(dv, cells)
        ws.add_data_validation(dv)
    if auto_cells:
        dv = DataValidation(type="textLength", operator="equal", formula1="0", allow_blank=True)
        dv.showErrorMessage = True
        dv.errorTitle, dv.error = AUTO_TEXT, "该指标由系统根据台账和报送日期自动计算，无需填写自评得分"
        dv.showInputMessage = True
        dv.promptTitle, dv.prompt = AUTO_TEXT, "该指标由系统自动计算，无需填写"
        _add_cells(dv, auto_cells)
        ws.add_data_validation(dv)
    _print_setup(ws)


def _ledger_sheet(wb: Workbook, scheme: Scheme, refs: dict[str, str]) -> None:
    ws = wb.create_sheet(SHEET_LEDGER)
    _title(ws, f"{county_of(scheme)}{scheme.year}年主动公开信息台账", len(LEDGER_HEADERS))
    _header(ws, LEDGER_HEADERS, (7, 48, 18, 13, 13, 22, 46))
    first, last = FIRST_DATA_ROW, FIRST_DATA_ROW + LEDGER_ROWS - 1
    cat = _list_validation(refs["公开类别"], "公开类别，从下拉列表选择")
    cat.add(_rng(3, first, last))
    ch = _list_validation(refs["公开渠道"], "公开渠道：" + "、".join(CHANNELS) + "，多个用“、”分隔", strict=False)
    ch.add(_rng(6, first, last))
    dv = _date_validation("形成日期 / 公开日期")
    dv.add(_rng(4, first, last))
    dv.add(_rng(5, first, last))
    for v in (cat, ch, dv):
        ws.add_data_validation(v)
    # a column style: every cell typed into the column shows as yyyy-mm-dd (cheaper than 2000 styled empty cells)
    for col in ("D", "E"):
        ws.column_dimensions[col].number_format = DATE_FORMAT
    _print_setup(ws)


def _requests_sheet(wb: Workbook, scheme: Scheme, refs: dict[str, str]) -> None:
    ws = wb.create_sheet(SHEET_REQUESTS)
    _title(ws, f"{county_of(scheme)}{scheme.year}年政府信息公开申请办理台账", len(REQUEST_HEADERS))
    _header(ws, REQUEST_HEADERS, (16, 14, 13, 13, 10, 13, 14, 14))
    first, last = FIRST_DATA_ROW, FIRST_DATA_ROW + REQUEST_ROWS - 1
    for col, head in ((2, "申请人类型"), (5, "是否延期"), (7, "办理结果"), (8, "复议诉讼结果")):
        dv = _list_validation(refs[head], head + "，从下拉列表选择")
        dv.add(_rng(col, first, last))
        ws.add_data_validation(dv)
    dv = _date_validation("收到日期 / 补正日期 / 答复日期")
    for col in (3, 4, 6):
        dv.add(_rng(col, first, last))
    ws.add_data_validation(dv)
    ws.column_dimensions["A"].number_format = "@"  # request numbers stay text (2019-001, not a date)
    for col in ("C", "D", "F"):
        ws.column_dimensions[col].number_format = DATE_FORMAT
    _print_setup(ws)


def annual_layout(scheme: Scheme, unit: Unit | None = None, edition: int | None = None):
    """The sheet 年报数据 as the template prints it (:func:`data.annual.published_layout` under the
    template's heading): the one layout the template, and whoever fills it, use."""
    who = unit.name if unit else ""
    return published_layout(edition or edition_for_year(scheme.year),
                            f"{who}{scheme.year}年政府信息公开工作年度报告数据（照抄已公布的年度报告表三、表四）")


def _annual_sheet(wb: Workbook, scheme: Scheme, unit: Unit | None) -> None:
    """年报数据: tables 三 and 四 in the published layout (annual-report.md), input cells in yellow."""
    ws = wb.create_sheet(SHEET_ANNUAL)
    lay = annual_layout(scheme, unit)
    for r, row in enumerate(lay.rows, start=1):
        for c, v in enumerate(row, start=1):
            if v is not None:
                ws.cell(r, c, v)
    for m in lay.merges:
        merge_cells(ws, m)
    heading = 1
    ws.cell(heading, 1).font = _TITLE_FONT
    ws.cell(heading, 1).alignment = _MIDDLE
    ws.row_dimensions[heading].height = 30
    st = Styler()
    for r in lay.titles:
        st(ws.cell(r, 1), font=_HEADING_FONT)
        ws.row_dimensions[r].height = 22
    input_rows = {r for r, _ in lay.inputs.values()}
    width = max(len(row) for row in lay.rows)
    for r in lay.headers:
        for c in range(1, 16):
            cell = ws.cell(r, c)
            if c <= (10 if r < lay.titles[1] else 15):
                st(cell, font=_BOLD, fill=_HEAD, border=_BORDER, alignment=_CENTER)
    for r in input_rows:
        for c in range(1, lay.label_cols + 1):
            if r < lay.titles[1]:
                st(ws.cell(r, c), fill=_LABEL, border=_BORDER, alignment=_WRAP)
    dv = DataValidation(type="whole", operator="greaterThanOrEqual", formula1="0", allow_blank=True)
    dv.showErrorMessage = True
    dv.errorTitle, dv.error = "应为整数", "请照抄年度报告中的数字：不小于 0 的整数，没有的填 0 或留空"
    dv.showInputMessage = True
    dv.promptTitle, dv.prompt = "照抄年度报告", "填写已公布的年度报告中的数字（不小于 0 的整数），不要更正"
    coords = []
    for (r, c) in lay.inputs.values():
        coords.append(st(ws.cell(r, c), fill=_INPUT, border=_BORDER, alignment=_MIDDLE).coordinate)
    _add_cells(dv, list(dict.fromkeys(coords)))
    ws.add_data_validation(dv)
    ws.column_dimensions["A"].width = 14
    ws.column_dimensions["B"].width = 16
    ws.column_dimensions["C"].width = 40
    for c in range(4, max(width, 15) + 1):
        ws.column_dimensions[get_column_letter(c)].width = 11
    for r in range(lay.headers[0], lay.headers[2] + 1):
        ws.row_dimensions[r].height = 30
    _print_setup(ws)
    ws.page_setup.orientation = "portrait"


def build_workbook(scheme: Scheme, unit: Unit | None = None, catalogue: Catalogue | None = None) -> Workbook:
    """The template as an openpyxl :class:`Workbook` (to be filled before saving)."""
    cat = catalogue or load_catalogue()
    wb = Workbook()
    wb.properties.title = title_of(scheme)
    wb.properties.creator = f"{county_of(scheme)}政务公开办"
    _help_sheet(wb, scheme, unit, cat)
    _info_sheet(wb, scheme, unit)
    _scores_sheet(wb, scheme)
    refs = _options_sheet(wb, cat)
    _ledger_sheet(wb, scheme, refs)
    _requests_sheet(wb, scheme, refs)
    if scheme.annual_report != "none":
        _annual_sheet(wb, scheme, unit)
    # the hidden options sheet last
    wb.move_sheet(SHEET_OPTIONS, offset=len(wb.sheetnames) - 1 - wb.sheetnames.index(SHEET_OPTIONS))
    return wb


def workbook_bytes(wb: Workbook) -> bytes:
    """Unit names and other text as text cells, never formulas (see :mod:`data.exports`)."""
    from data.exports import workbook_bytes as safe_bytes

    return safe_bytes(wb)


def build_template(scheme: Scheme, unit: Unit | None = None, catalogue: Catalogue | None = None) -> bytes:
    """The official blank workbook (.xlsx bytes) for ``scheme``'s year, pre-filled for ``unit``."""
    return workbook_bytes(build_workbook(scheme, unit, catalogue))


def stable_workbook_bytes(wb: Workbook, when: dt.datetime, author: str) -> bytes:
    """``stable_xlsx(workbook_bytes(wb), when, author)`` (the same bytes), each part compressed
    once: the workbook is saved uncompressed, as ``Workbook.save`` does otherwise, and only the
    re-packed file is compressed."""
    from openpyxl.writer.excel import ExcelWriter

    from data.exports import defuse_workbook

    defuse_workbook(wb)  # as workbook_bytes: users' text stays text
    buf = io.BytesIO()
    wb.properties.modified = dt.datetime.now(tz=dt.timezone.utc).replace(tzinfo=None)
    ExcelWriter(wb, zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED, allowZip64=True)).save()
    return stable_xlsx(buf.getvalue(), when, author)


def stable_xlsx(data: bytes, when: dt.datetime, author: str) -> bytes:
    """Re-pack an .xlsx with fixed timestamps (zip entries, document properties) so that the
    same seed gives byte-identical files, and the properties look like the clerk's last save."""
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            body = zin.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(rb"(<dcterms:(created|modified)\b[^>]*>)[^<]*(</dcterms:\2>)",
                              lambda m: m.group(1) + stamp + m.group(3), body)
                body = body.replace(b"<dc:creator>openpyxl</dc:creator>", b"<dc:creator>" + author.encode() + b"</dc:creator>")
                body = re.sub(rb"<cp:lastModifiedBy>[^<]*</cp:lastModifiedBy>", b"", body)
                body = body.replace(b"</cp:coreProperties>",
                                    b"<cp:lastModifiedBy>" + author.encode() + b"</cp:lastModifiedBy></cp:coreProperties>")
            zi = zipfile.ZipInfo(info.filename, date_time=when.timetuple()[:6])
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = info.external_attr
            zout.writestr(zi, body)
    return out.getvalue()
