"""Rendering: one unit-year (a :class:`data.validate.Submission`) as the bytes of a
workbook a real clerk would send — the official template filled in, or a
home-made table (title rows, other column orders and names, text dates,
full-width digits, merged 公开类别 cells, closing rows), or a legacy ``.xls``.
"""
from __future__ import annotations

import datetime as dt
import io
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from data.template import (AUTO_TEXT, FIRST_DATA_ROW, LEDGER_HEADERS, REQUEST_HEADERS, SHEET_ANNUAL, SHEET_INFO,
                           SHEET_LEDGER, SHEET_REQUESTS, SHEET_SCORES, Styler, annual_layout, build_workbook, county_of,
                           merge_cells, num, stable_workbook_bytes)
from data.annual import SHEET_ALIASES
from data.validate import Submission
from demo.generate import Profile
from core.scheme import Scheme, load_catalogue


def _fullwidth(s: str) -> str:
    return "".join(chr(ord(ch) + 0xFEE0) if "0" <= ch <= "9" else ch for ch in s)


class _FormRow(NamedTuple):
    """One row of the 自评打分 sheet as printed: the indicator (from the form the unit
    used) and what the unit wrote (from the submission)."""
    code: str
    group: str
    text: str
    printed_max: Decimal
    auto: bool
    score: Decimal | None
    note: str
    evidence: list


def _form_rows(sub: Submission, scheme: Scheme, printed: Scheme) -> list[_FormRow]:
    by_code = {s.code: s for s in sub.scores}
    weights = printed.weights()
    out = []
    for ind in scheme.indicators:
        s = by_code.get(ind.code)
        out.append(_FormRow(ind.code, ind.group, ind.text, weights.get(ind.code, ind.max), ind.type == "auto",
                            None if s is None else s.score, AUTO_TEXT if ind.type == "auto" else (s.note if s else ""),
                            list(s.evidence) if s else []))
    return out


def _label(rng: random.Random, prof: Profile, code: str) -> str:
    """The category as the clerk writes it: its name, sometimes one of its aliases."""
    c = load_catalogue().by_code(code)
    if c.aliases and prof.alias_rate and rng.random() < prof.alias_rate:
        return rng.choice(c.aliases)
    return c.name


# =========================================================================== rendering: a neutral grid

@dataclass
class Grid:
    name: str
    cells: dict[tuple[int, int], object] = field(default_factory=dict)
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)  # r0, c0, r1, c1 (0-based)
    widths: dict[int, int] = field(default_factory=dict)
    bold: set[int] = field(default_factory=set)
    date_format: str = "yyyy-mm-dd"

    def row(self, r: int, values: list) -> None:
        for c, v in enumerate(values):
            if v is not None and v != "":
                self.cells[(r, c)] = v


def _date_value(d: dt.date | None, style: str, rng: random.Random, fullwidth: bool):
    if d is None:
        return None
    if style == "mixed":
        style = rng.choice(["date", "date", "iso", "slash", "cn", "datetime"])
    if style == "date":
        return d
    if style == "datetime":
        return dt.datetime(d.year, d.month, d.day, rng.randint(8, 17), rng.choice([0, 10, 20, 30, 45]))
    s = {"iso": f"{d:%Y-%m-%d}", "slash": f"{d.year}/{d.month}/{d.day}", "cn": f"{d.year}年{d.month}月{d.day}日",
         "dot": f"{d.year}.{d.month}.{d.day}", "compact": f"{d:%Y%m%d}"}[style]
    if fullwidth and style == "cn":
        s = _fullwidth(s)
    return s


def _score_value(v: Decimal | None, prof: Profile, rng: random.Random):
    if v is None:
        return None
    if prof.fullwidth and rng.random() < 0.3:
        return _fullwidth(str(num(v)))
    if prof.date_style in ("cn", "mixed") and rng.random() < 0.2:
        return f"{num(v)}分"
    return num(v)


def _custom_grids(rng: random.Random, prof: Profile, f: Submission, scheme: Scheme, printed: Scheme) -> list[Grid]:
    county = county_of(scheme)
    y = f.year
    title = f"{county}{y}年政务公开工作自评表"
    unit = prof.unit
    grids = []

    # ---- 单位信息
    g = Grid(rng.choice([SHEET_INFO, SHEET_INFO, "单位信息 "]))
    typ = unit.unit_type
    if rng.random() < 0.4:
        typ = ("镇" if unit.name.endswith("镇") else "乡") if typ == "乡镇" else rng.choice(["县直部门", "县直单位", "部门"])
    year_v = rng.choice([y, y, f"{y}年", float(y)] + ([_fullwidth(str(y))] if prof.fullwidth else []))
    date_v = _date_value(f.report_date, prof.date_style if prof.date_style != "mixed" else "cn", rng, prof.fullwidth)
    pairs = [("单位名称", unit.name), ("单位类型", typ), ("考核年度", year_v), ("填报人", f.reporter),
             ("联系电话", f.phone), ("填报日期", date_v)]
    layout = prof.index % 3
    g.row(0, [title])
    if layout == 0:  # labels in A, values in B
        for r, (k, v) in enumerate(pairs, start=1):
            g.row(r, [k, v])
        g.merges.append((0, 0, 0, 1))
        g.widths = {0: 14, 1: 36}
    elif layout == 1:  # a blank row, labels with a colon in B, values in C; 填报单位 for 单位名称
        g.row(1, [])
        for r, (k, v) in enumerate(pairs, start=2):
            k = {"单位名称": "填报单位", "考核年度": "年度"}.get(k, k) if r % 2 == 0 else k
            g.row(r, [None, k + "：", v])
        g.merges.append((0, 0, 0, 3))
        g.widths = {0: 4, 1: 14, 2: 36}
    else:  # two pairs per row
        for i in range(0, 6, 2):
            (k1, v1), (k2, v2) = pairs[i], pairs[i + 1]
            g.row(1 + i // 2, [k1, v1, None, k2, v2])
        g.merges.append((0, 0, 0, 4))
        g.widths = {0: 12, 1: 30, 2: 3, 3: 12, 4: 22}
    g.bold.add(0)
    grids.append(g)

    # ---- 自评打分
    g = Grid(SHEET_SCORES)
    variant = rng.randint(0, 2)
    if variant == 0:
        heads = ["指标编号", "一级指标", "二级指标", "分值", "自评得分", "自评说明", "佐证材料"]
    elif variant == 1:
        heads = ["序号", "编号", "考核项目", "考核内容", "标准分", "自评分", "得分说明", "佐证材料链接"]
    else:
        heads = ["指标编号", "考核项目", "考核指标", "满分", "自评\n得分", "说明", "佐证"]
    keys = {"指标编号": "code", "编号": "code", "一级指标": "group", "考核项目": "group", "二级指标": "text",
            "考核内容": "text", "考核指标": "text", "分值": "max", "标准分": "max", "满分": "max",
            "自评得分": "score", "自评分": "score", "自评\n得分": "score", "自评说明": "note", "得分说明": "note",
            "说明": "note", "佐证材料": "ev", "佐证材料链接": "ev", "佐证": "ev", "序号": "seq"}
    r = 0
    g.row(r, [title])
    g.merges.append((0, 0, 0, len(heads) - 1))
    g.bold.add(0)
    r += 1
    if rng.random() < 0.5:
        g.row(r, [f"填报单位（盖章）：{unit.name}", None, None, None, f"填报日期：{f.report_date.year}年{f.report_date.month}月{f.report_date.day}日"])
        r += 1
    g.row(r, heads)
    g.bold.add(r)
    r += 1
    include_auto = rng.random() < 0.7
    typed_auto = rng.random() < 0.08
    seq = 0
    group_start: tuple[int, str] | None = None
    gcol = next((i for i, h in enumerate(heads) if keys[h] == "group"), None)
    total = Decimal(0)
    for s in _form_rows(f, scheme, printed):
        if s.auto and not include_auto:
            continue
        seq += 1
        vals = {"code": s.code, "group": s.group, "text": s.text, "max": num(s.printed_max), "seq": seq,
                "score": _score_value(s.score, prof, rng), "note": s.note,
                "ev": prof.evidence_sep.join(s.evidence)}
        if s.auto:
            vals["score"] = num(s.printed_max) if typed_auto and s.code in ("H1", "I1") else None
        if s.score is not None:
            total += s.score
        g.row(r, [vals[keys[h]] for h in heads])
        if gcol is not None:
            if group_start is None or group_start[1] != s.group:
                if group_start is not None and r - 1 > group_start[0]:
                    g.merges.append((group_start[0], gcol, r - 1, gcol))
                group_start = (r, s.group)
        r += 1
    if gcol is not None and group_start is not None and r - 1 > group_start[0]:
        g.merges.append((group_start[0], gcol, r - 1, gcol))
    if rng.random() < 0.6:
        sc = next(i for i, h in enumerate(heads) if keys[h] == "score")
        g.row(r, ["合计"] + [None] * (sc - 1) + [num(total), "自评得分合计（不含自动计算指标）"])
        r += 1
    if rng.random() < 0.3:
        g.row(r, ["备注：灰色为系统自动计算指标，不需自评。"])
    g.widths = {i: {"text": 46, "note": 30, "ev": 40, "group": 12}.get(keys[h], 9) for i, h in enumerate(heads)}
    grids.append(g)

    # ---- 主动公开台账
    g = Grid(rng.choice([SHEET_LEDGER, SHEET_LEDGER, "主动公开 台账"]))
    v = rng.randint(0, 3)
    if v == 0:
        heads = list(LEDGER_HEADERS)
    elif v == 1:
        heads = ["序号", "公开类别", "信息名称", "形成日期", "公开日期", "公开渠道", "链接", "责任股室"]
    elif v == 2:
        heads = ["序号", "公开事项", "信息类别", "成文日期", "发布日期", "发布渠道", "网址"]
    else:
        heads = ["信息标题", "类别", "形成日期\n（格式：2019-01-01）", "公开日期", "渠道", "备注"]
    lk = {"序号": "seq", "信息名称": "title", "公开事项": "title", "信息标题": "title", "公开类别": "cat",
          "信息类别": "cat", "类别": "cat", "形成日期": "formed", "成文日期": "formed",
          "形成日期\n（格式：2019-01-01）": "formed", "公开日期": "pub", "发布日期": "pub", "公开渠道": "ch",
          "发布渠道": "ch", "渠道": "ch", "链接": "url", "网址": "url", "责任股室": "dept", "备注": "remark"}
    merge_cats = prof.index % 4 == 1 or (v == 1 and rng.random() < 0.5)
    items = [(it, _label(rng, prof, it.category)) for it in f.items]
    if merge_cats:
        order = load_catalogue().order
        items.sort(key=lambda p: (order[p[0].category], p[0].formed))
    r = 0
    g.row(r, [f"{unit.name}{y}年主动公开信息台账"])
    g.merges.append((0, 0, 0, len(heads) - 1))
    g.bold.add(0)
    r += 1
    g.row(r, heads)
    g.bold.add(r)
    r += 1
    ccol = next(i for i, h in enumerate(heads) if lk[h] == "cat")
    run: tuple[int, str] | None = None
    for n, (it, label) in enumerate(items, start=1):
        seq = _fullwidth(str(n)) if prof.fullwidth and n % 7 == 0 else n
        vals = {"seq": seq, "title": it.title, "cat": label, "formed": _date_value(it.formed, prof.date_style, rng, prof.fullwidth),
                "pub": _date_value(it.published, prof.date_style, rng, prof.fullwidth),
                "ch": prof.channel_sep.join(it.channels), "url": it.url,
                "dept": rng.choice(["办公室", "综合股", "业务股", ""]), "remark": "" if it.published else rng.choice(["", "待公开"])}
        row = [vals[lk[h]] for h in heads]
        if merge_cats:
            if run is not None and run[1] == label:
                row[ccol] = None
            else:
                if run is not None and r - 1 > run[0]:
                    g.merges.append((run[0], ccol, r - 1, ccol))
                run = (r, label)
        g.row(r, row)
        r += 1
        if n == len(items) // 2 and not merge_cats and rng.random() < 0.15:
            r += 1  # a blank row inside the table
    if merge_cats and run is not None and r - 1 > run[0]:
        g.merges.append((run[0], ccol, r - 1, ccol))
    closing = rng.random()
    if closing < 0.35:
        g.row(r, ["合计", f"共{len(items)}条"] if heads[0] == "序号" else [f"合计：共{len(items)}条"])
    elif closing < 0.55:
        g.row(r, [f"备注：本台账由{unit.name}办公室填写，统计截至{y}年12月31日。"])
    g.widths = {i: {"title": 46, "cat": 16, "formed": 13, "pub": 13, "ch": 18, "url": 44, "seq": 6}.get(lk[h], 10)
                for i, h in enumerate(heads)}
    grids.append(g)

    # ---- 依申请公开台账
    g = Grid(SHEET_REQUESTS)
    v = rng.randint(0, 2)
    if v == 0:
        heads = list(REQUEST_HEADERS)
    elif v == 1:
        heads = ["序号", "申请编号", "申请人类型", "收到申请日期", "补正后收到日期", "延期", "答复时间", "答复结果", "复议诉讼情况"]
    else:
        heads = ["申请编号", "收到日期", "答复日期", "办理结果", "是否延期", "补正日期", "申请人类型", "复议诉讼结果"]
    rk = {"序号": "seq", "申请编号": "no", "申请人类型": "app", "收到日期": "rec", "收到申请日期": "rec",
          "补正日期": "cor", "补正后收到日期": "cor", "是否延期": "ext", "延期": "ext", "答复日期": "ans",
          "答复时间": "ans", "办理结果": "res", "答复结果": "res", "复议诉讼结果": "rev", "复议诉讼情况": "rev"}
    yes, no = ("√", "") if prof.index % 5 == 2 else ("是", "否")
    g.row(0, [f"{unit.name}{y}年政府信息公开申请办理情况登记表"])
    g.merges.append((0, 0, 0, len(heads) - 1))
    g.row(1, heads)
    g.bold.update({0, 1})
    r = 2
    for n, q in enumerate(f.requests, start=1):
        vals = {"seq": n, "no": q.request_no, "app": q.applicant_type, "rec": _date_value(q.received, prof.date_style, rng, prof.fullwidth),
                "cor": _date_value(q.corrected, prof.date_style, rng, prof.fullwidth), "ext": yes if q.extended else no,
                "ans": _date_value(q.answered, prof.date_style, rng, prof.fullwidth), "res": q.result, "rev": q.review_result}
        g.row(r, [vals[rk[h]] for h in heads])
        r += 1
    if not f.requests and rng.random() < 0.5:
        g.row(r, [f"备注：{y}年度未收到政府信息公开申请。"])
    elif f.requests and rng.random() < 0.3:
        g.row(r, ["合计", f"{len(f.requests)}件"])
    g.widths = {i: 14 for i in range(len(heads))}
    grids.append(g)

    order = [0, 1, 2, 3]
    if rng.random() < 0.3:
        order = [1, 0, 2, 3]
    out = [grids[i] for i in order]
    if f.annual is not None:
        out.append(_annual_grid(prof, f, scheme))
    if rng.random() < 0.2:
        out.append(Grid("Sheet1"))
    for name, rows in _extra_sheets(rng, prof, f, scheme):
        g = Grid(name)
        for r, values in enumerate(rows):
            g.row(r, list(values))
        out.append(g)
    return out


def _annual_grid(prof: Profile, f: Submission, scheme: Scheme) -> Grid:
    """年报数据 in a home-made workbook: the published layout (the template's, merges and all),
    every number copied, zeros included. Some clerks name the sheet 年报统计表, one in six
    copied the 2019 format in 2021 (其他处理 one row), full-width digits where the clerk
    types them."""
    from openpyxl.utils.cell import range_boundaries

    from demo.annual import as_2019_edition, values_of

    values = values_of(f.annual)
    edition = f.annual.edition
    if edition == 2021 and f.year == 2021 and prof.index % 6 == 5:
        values, edition = as_2019_edition(values), 2019
    lay = annual_layout(scheme, prof.unit, edition)
    g = Grid(SHEET_ALIASES[1] if prof.index % 5 == 4 else SHEET_ANNUAL)
    for r, row in enumerate(lay.rows):
        g.row(r, row)
    for (rc, cc), (r, c) in lay.inputs.items():
        n = values[(rc, cc)]
        g.cells[(r - 1, c - 1)] = _fullwidth(str(n)) if prof.fullwidth and n >= 10 else n
    for m in lay.merges:
        c0, r0, c1, r1 = range_boundaries(m)
        g.merges.append((r0 - 1, c0 - 1, r1 - 1, c1 - 1))
    g.bold.update(r - 1 for r in (*lay.titles, *lay.headers))
    g.bold.add(0)
    g.widths = {0: 14, 1: 16, 2: 40, **{c: 11 for c in range(3, 15)}}
    return g


def _grids_to_xlsx(grids: list[Grid]):
    """The grids as an openpyxl workbook (saved by :func:`render`)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    bold = Font(bold=True)
    wrap = Alignment(wrap_text=True, vertical="center")
    st = Styler()
    for g in grids:
        ws = wb.create_sheet(g.name)
        inside = {(r, c) for r0, c0, r1, c1 in g.merges for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)
                  if (r, c) != (r0, c0)}
        for (r, c), v in g.cells.items():
            if (r, c) in inside:
                continue
            cell = ws.cell(r + 1, c + 1, v)
            if isinstance(v, dt.datetime):
                st(cell, number_format="yyyy-mm-dd hh:mm")
            elif isinstance(v, dt.date):
                st(cell, number_format=g.date_format)
            elif isinstance(v, str) and "\n" in v:
                st(cell, alignment=wrap)
            if r in g.bold:
                st(cell, font=bold)
        for r0, c0, r1, c1 in g.merges:
            merge_cells(ws, start_row=r0 + 1, start_column=c0 + 1, end_row=r1 + 1, end_column=c1 + 1)
        for c, w in g.widths.items():
            ws.column_dimensions[get_column_letter(c + 1)].width = w
    return wb


def _grids_to_xls(grids: list[Grid]) -> bytes:
    import xlwt

    wb = xlwt.Workbook(encoding="utf-8")
    plain = xlwt.easyxf("align: vert centre, wrap on")
    bold = xlwt.easyxf("font: bold on; align: vert centre, horiz centre")
    date_styles: dict[str, xlwt.XFStyle] = {}

    def dstyle(fmt: str) -> xlwt.XFStyle:
        if fmt not in date_styles:
            date_styles[fmt] = xlwt.easyxf("align: vert centre", num_format_str=fmt)
        return date_styles[fmt]

    def style(r, v, fmt):
        if isinstance(v, dt.datetime):
            return dstyle("yyyy-mm-dd hh:mm")
        if isinstance(v, dt.date):
            return dstyle(fmt)
        return bold if r in g.bold else plain

    for g in grids:
        ws = wb.add_sheet(g.name, cell_overwrite_ok=True)
        starts = {(r0, c0): (r1, c1) for r0, c0, r1, c1 in g.merges}
        inside = {(r, c) for r0, c0, r1, c1 in g.merges for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)
                  if (r, c) != (r0, c0)}
        for (r0, c0), (r1, c1) in starts.items():
            v = g.cells.get((r0, c0), "")
            ws.write_merge(r0, r1, c0, c1, v, style(r0, v, g.date_format))
        for (r, c), v in g.cells.items():
            if (r, c) in inside or (r, c) in starts:
                continue
            ws.write(r, c, v, style(r, v, g.date_format))
        for c, w in g.widths.items():
            ws.col(c).width = 256 * w
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _template_xlsx(rng: random.Random, prof: Profile, f: Submission, scheme: Scheme):
    """The official template, filled in (mostly as intended: real dates, one value per cell), as an
    openpyxl workbook (saved by :func:`render`)."""
    from openpyxl.styles import Alignment

    unit = prof.unit
    wb = build_workbook(scheme, unit)
    ws = wb[SHEET_INFO]
    vals = {"单位名称": unit.name, "单位类型": unit.unit_type, "考核年度": f.year, "填报人": f.reporter,
            "联系电话": f.phone, "填报日期": f.report_date}
    for r in range(2, 10):
        label = ws.cell(r, 1).value
        if label in vals:
            ws.cell(r, 2).value = vals[label]
    ws = wb[SHEET_SCORES]
    by_code = {s.code: s for s in _form_rows(f, scheme, scheme)}
    wrap = Alignment(wrap_text=True, vertical="center")
    st = Styler()
    for r in range(FIRST_DATA_ROW, ws.max_row + 1):
        s = by_code.get(ws.cell(r, 1).value)
        if s is None or s.auto or s.score is None:
            continue
        ws.cell(r, 5).value = num(s.score)
        ws.cell(r, 6).value = s.note or None
        ws.cell(r, 7).value = prof.evidence_sep.join(s.evidence) or None
        st(ws.cell(r, 7), alignment=wrap)
    text_dates = prof.date_style in ("slash", "cn") and rng.random() < 0.5  # pasted from another table
    style = prof.date_style if text_dates else "date"
    ws = wb[SHEET_LEDGER]
    for n, it in enumerate(f.items, start=1):
        r = FIRST_DATA_ROW + n - 1
        row = [n, it.title, _label(rng, prof, it.category), _date_value(it.formed, style, rng, False),
               _date_value(it.published, style, rng, False), "、".join(it.channels) or None, it.url or None]
        for c, v in enumerate(row, start=1):
            ws.cell(r, c).value = v
    for name, rows in _extra_sheets(rng, prof, f, scheme):
        at = len(wb.sheetnames)
        if name in wb.sheetnames:
            at = wb.sheetnames.index(name)
            wb.remove(wb[name])
        extra = wb.create_sheet(name, at)
        for values in rows:
            extra.append(list(values))
    ws = wb[SHEET_REQUESTS]
    for n, q in enumerate(f.requests, start=1):
        r = FIRST_DATA_ROW + n - 1
        row = [q.request_no, q.applicant_type, q.received, q.corrected, "是" if q.extended else "否", q.answered,
               q.result or None, q.review_result or None]
        for c, v in enumerate(row, start=1):
            ws.cell(r, c).value = v
    if f.annual is not None:  # the template's own 年报数据: every input cell copied, zeros included
        ws = wb[SHEET_ANNUAL]
        inputs = annual_layout(scheme, unit, f.annual.edition).inputs
        for c in f.annual.cells:
            ws.cell(*inputs[(c.row_code, c.col_code)]).value = c.value
    return wb


def _extra_sheets(rng: random.Random, prof: Profile, sub: Submission, scheme: Scheme) -> list[tuple[str, list]]:
    """The sheets of :data:`demo.steps.EXTRA_SHEETS` for this workbook (each function with its own
    generator, drawn from ``rng`` only when there are such functions)."""
    from demo.steps import EXTRA_SHEETS

    out = []
    for fn in EXTRA_SHEETS:
        got = fn(random.Random(rng.getrandbits(64)), prof.unit, sub, scheme)
        if got is not None:
            out.append(got)
    return out


def render(rng: random.Random, prof: Profile, sub: Submission, scheme: Scheme, fmt: str,
           printed: Scheme | None = None) -> tuple[bytes, str]:
    """The workbook bytes and extension of one unit-year.

    ``fmt``: ``template`` (the official form, .xlsx), ``custom`` (a home-made .xlsx) or
    ``xls`` (a home-made legacy .xls). ``printed`` is the scheme whose 分值 the unit's
    form shows (last year's when it used an old form; default ``scheme``).
    """
    saved = dt.datetime.combine(sub.report_date, dt.time(9 + prof.index % 8, (prof.index * 7) % 60))
    if fmt == "template":
        return stable_workbook_bytes(_template_xlsx(rng, prof, sub, scheme), saved, sub.reporter), ".xlsx"
    grids = _custom_grids(rng, prof, sub, scheme, printed or scheme)
    if fmt == "xls":
        return _grids_to_xls(grids), ".xls"
    return stable_workbook_bytes(_grids_to_xlsx(grids), saved, sub.reporter), ".xlsx"
