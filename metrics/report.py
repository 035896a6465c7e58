"""Printable Excel workbooks of the results (openpyxl).

* :func:`build_report` – the county's 考核结果 workbook: one sheet per unit type
  (乡镇, 部门), ranked, with totals, grades, first-level subtotals, timeliness
  and coverage, formatted for printing (landscape, fit to page width, header
  row repeated on every page).
* :func:`build_unit_scorecard` – one unit's scorecard: every indicator with
  self / reviewer score and final points, and the item-level facts behind the
  automatic indicators.

Both return the ``.xlsx`` bytes (the dashboard offers them as downloads).
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import duckdb
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from data.exports import workbook_bytes
from metrics import engine, summary
from core.vocab import UNIT_TYPES, ItemState, Status

def _mix(color: str, toward: int, t: float) -> str:
    """``#rrggbb`` moved a fraction ``t`` toward white (255) or black (0), as openpyxl ``RRGGBB``."""
    rgb = [int(color[i:i + 2], 16) for i in (1, 3, 5)]
    return "".join(f"{round(c + (toward - c) * t):02X}" for c in rgb)


#: print-friendly (fill, text) of the default grade colours (Excel's good/neutral/bad styles);
#: any other colour of a scheme gets a light tint and a dark shade of itself
PRINT_STYLE = {"#1a7f37": ("C6EFCE", "006100"), "#2f80ed": ("DDEBF7", "1F4E79"),
               "#e6a700": ("FFEB9C", "7F6000"), "#d64545": ("FFC7CE", "9C0006")}


def grade_fill(s, grade: str) -> PatternFill:
    """Light fill of a grade's cell, from the scheme's grade colour."""
    c = s.grade_color(grade)
    return PatternFill("solid", fgColor=PRINT_STYLE[c][0] if c in PRINT_STYLE else _mix(c, 255, 0.78))


def grade_font(s, grade: str) -> Font:
    """Bold, dark text of a grade, from the scheme's grade colour."""
    c = s.grade_color(grade)
    return Font(bold=True, color=PRINT_STYLE[c][1] if c in PRINT_STYLE else _mix(c, 0, 0.45))


HEADER_FILL = PatternFill("solid", fgColor="D9D9D9")
MISSING_FONT = Font(color="808080")
THIN = Side(style="thin", color="A6A6A6")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
LEFT = Alignment(horizontal="left", vertical="center", wrap_text=True)
RIGHT = Alignment(horizontal="right", vertical="center")
TITLE_ROW, NOTE_ROW, HEADER_ROW = 1, 2, 3
STATE_FILL = {ItemState.ON_TIME: PatternFill("solid", fgColor="C6EFCE"),
              ItemState.LATE: PatternFill("solid", fgColor="FFC7CE"),
              ItemState.NOT_DUE: PatternFill("solid", fgColor="FFEB9C")}


def _title(scheme) -> str:
    name = scheme.name or ""
    if "指标体系" in name:
        return name.replace("指标体系", "结果")
    return f"{scheme.year}年度政务公开工作考核结果"


def _print_setup(ws, header_row: int, landscape: bool = True) -> None:
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.print_title_rows = f"{header_row}:{header_row}"
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top = ws.page_margins.bottom = 0.6
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"
    ws.freeze_panes = ws.cell(row=header_row + 1, column=3)


def _write_header(ws, headers: list[str], widths: list[float], row: int = HEADER_ROW) -> None:
    for c, (h, w) in enumerate(zip(headers, widths), start=1):
        cell = ws.cell(row=row, column=c, value=h)
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = CENTER
        cell.border = BORDER
        ws.column_dimensions[get_column_letter(c)].width = w
    ws.row_dimensions[row].height = 32


def _title_rows(ws, title: str, note: str, ncols: int, warn: str = "") -> None:
    ws.cell(row=TITLE_ROW, column=1, value=title).font = Font(bold=True, size=16)
    ws.cell(row=TITLE_ROW, column=1).alignment = CENTER
    ws.merge_cells(start_row=TITLE_ROW, start_column=1, end_row=TITLE_ROW, end_column=ncols)
    ws.row_dimensions[TITLE_ROW].height = 30
    text = note + (f"　【暂定】{warn}" if warn else "")
    c = ws.cell(row=NOTE_ROW, column=1, value=text)
    c.alignment = LEFT
    c.font = Font(size=9, color="C00000" if warn else "595959")
    ws.merge_cells(start_row=NOTE_ROW, start_column=1, end_row=NOTE_ROW, end_column=ncols)
    ws.row_dimensions[NOTE_ROW].height = 30 if warn else 18


def _remark(r, scheme) -> str:
    parts = []
    if r["k2_veto"]:
        parts.append("一票否决（K2）")
    if r["k1_count"]:
        parts.append(f"通报批评 {r['k1_count']} 次，扣 {r['k1_count'] * scheme.k1_points} 分")
    if r["late_submission"]:
        parts.append(f"逾期报送（{r['received'].isoformat()}）")
    return "；".join(parts)


def build_report(con: duckdb.DuckDBPyConnection, year: int, which: str | None = None) -> bytes:
    """The 考核结果 workbook of ``year`` (sheets 乡镇 and 部门) as ``.xlsx`` bytes,
    from the newest snapshot (公示稿/定稿, named in the note) unless ``which``
    says otherwise (see :func:`metrics.closing.results`)."""
    from metrics.closing import results

    s = engine._scheme(year)
    df = results(con, year, which)
    groups = s.groups
    group_max = s.group_max
    subtotals = summary.group_subtotals_from_scores(df, s).set_index("unit")
    headers = (["排名", "单位名称", "报送状态", "总分", "等次"]
               + [f"{g}\n({group_max[g].normalize():f})" for g in groups]
               + ["扣分", "自评分", "主动公开\n及时率", "按时/计入\n(未到期)", "必公开类别\n覆盖率",
                  "缺失的必公开类别", "依申请公开\n按期答复率", "报送日期", "备注"])
    widths = [6, 24, 9, 8, 8] + [9] * len(groups) + [7, 8, 10, 11, 11, 36, 11, 11, 24]
    note = (f"考核年度 {s.year_start.isoformat()} 至 {s.year_end.isoformat()}；统计截止日 {s.cutoff.isoformat()}；"
            f"基础分满分 {s.base_max.normalize():f} 分，另有加分项；等次："
            + "、".join(f"{n} ≥{low.normalize():f}" for n, low in s.grades)
            + f"；生成日期 {dt.date.today().isoformat()}"
            + (f"；结果来源：{df.attrs['label']}" if df.attrs.get("label") else ""))
    warn = df.attrs.get("provisional_reason", "")
    wb = Workbook()
    wb.remove(wb.active)
    for t in UNIT_TYPES:
        ws = wb.create_sheet(t)
        _title_rows(ws, f"{_title(s)}（{t}）", note, len(headers), warn)
        _write_header(ws, headers, widths)
        rows = df[df["unit_type"] == t]
        r_no = HEADER_ROW
        for r in rows.to_dict("records"):
            r_no += 1
            submitted = r["status"] != Status.MISSING
            subtotal = [subtotals.at[r["unit"], f"{g}|得分"] if submitted else None for g in groups]
            penalty = (r["k1_count"] * s.k1_points).quantize(Decimal("0.01")) if submitted and r["k1_count"] else None
            counts = (f"{r['proactive_on_time']}/{r['proactive_counted']}({r['proactive_pending']})"
                      if submitted else None)
            values = ([r["rank"], r["unit"], r["status"], r["total"], r["grade"]] + subtotal
                      + [penalty, r["self_total"], r["proactive_rate"], counts, r["coverage_rate"],
                         r["missing_categories"] if submitted else None, r["request_rate"],
                         r["received"], _remark(r, s) if submitted else None])
            for c, v in enumerate(values, start=1):
                cell = ws.cell(row=r_no, column=c, value=v)
                cell.border = BORDER
                cell.alignment = LEFT if c in (2, len(headers) - 3, len(headers)) else CENTER
                if isinstance(v, Decimal):
                    cell.number_format = "0.00"
                if isinstance(v, dt.date):
                    cell.number_format = "yyyy-mm-dd"
                if not submitted:
                    cell.font = MISSING_FONT
            for c in (headers.index("主动公开\n及时率") + 1, headers.index("必公开类别\n覆盖率") + 1,
                      headers.index("依申请公开\n按期答复率") + 1):
                ws.cell(row=r_no, column=c).number_format = "0.00%"
            g = r["grade"]
            if g in s.grade_colors:
                for c in (4, 5):
                    ws.cell(row=r_no, column=c).fill = grade_fill(s, g)
                ws.cell(row=r_no, column=5).font = grade_font(s, g)
        if r_no == HEADER_ROW:
            ws.cell(row=HEADER_ROW + 1, column=1, value="（无此类单位）")
            r_no += 1
        _print_setup(ws, HEADER_ROW)
        ws.print_area = f"A1:{get_column_letter(len(headers))}{r_no}"
        ws.auto_filter.ref = f"A{HEADER_ROW}:{get_column_letter(len(headers))}{r_no}"
    return workbook_bytes(wb)


def build_unit_scorecard(con: duckdb.DuckDBPyConnection, year: int, unit: str, which: str | None = None) -> bytes:
    """One unit's scorecard of ``year`` as ``.xlsx`` bytes: sheet 得分表 (every
    indicator), 主动公开台账核算, 依申请公开核算, 必公开类别覆盖 — from the
    newest snapshot (its stored details) unless ``which`` says otherwise (see
    :func:`metrics.closing.results`; ``closing.LIVE`` scores the database now).
    Every part is read with the same ``which``, so it picks the same snapshot."""
    from metrics import closing

    s = engine._scheme(year)
    known = con.execute("SELECT unit_type FROM units WHERE name = ?", [unit]).fetchall()
    if not known:
        raise ValueError(f"单位“{unit}”不在单位名录中")
    full = closing.results(con, year, which)
    card = full[full["unit"] == unit].reset_index(drop=True)
    card.attrs.update(full.attrs)
    label = full.attrs.get("label") or ""
    r = card.iloc[0]
    k1_points = (r["k1_points"] if "k1_points" in card.columns and r["k1_points"] is not None
                 else (r["k1_count"] or 0) * s.k1_points)
    submitted = r["status"] != Status.MISSING
    wb = Workbook()
    ws = wb.active
    ws.title = "得分表"
    headers = ["一级指标", "指标编号", "二级指标", "分值", "类型", "自评得分", "审核得分", "审核说明", "得分"]
    widths = [12, 8, 48, 7, 8, 9, 9, 24, 8]
    note_lines = [f"单位：{unit}（{r['unit_type']}）　报送状态：{r['status']}" + (f"　结果来源：{label}" if label else "")]
    if submitted:
        note_lines.append(f"总分 {r['total']}　等次 {r['grade']}　{r['unit_type']}排名 {r['rank']}　"
                          f"自评分 {r['self_total']}　报送日期 {r['received'].isoformat()}（第 {r['version']} 版为当前版本）")
    warn = card.attrs.get("provisional_reason", "")
    _title_rows(ws, f"{s.year}年度政务公开工作考核得分表", "\n".join(note_lines), len(headers), warn)
    ws.row_dimensions[NOTE_ROW].height = 36 if not warn else 48
    _write_header(ws, headers, widths)
    row = HEADER_ROW
    if submitted:
        pts = closing.indicator_points(con, year, unit=unit, which=which)
        type_label = {"self": "自评", "auto": "自动计算", "bonus": "加分"}
        for p in pts.to_dict("records"):
            row += 1
            vals = [p["group"], p["code"], p["text"], p["max"], type_label.get(p["type"], p["type"]),
                    p["self_score"], p["review_score"], p["review_reason"], p["points"]]
            for c, v in enumerate(vals, start=1):
                cell = ws.cell(row=row, column=c, value=v)
                cell.border = BORDER
                cell.alignment = LEFT if c in (1, 3, 8) else CENTER
                if isinstance(v, Decimal):
                    cell.number_format = "0.00"
        auto_notes = [
            ("主动公开及时率", f"按时 {r['proactive_on_time']} / 计入 {r['proactive_counted']}，未到期 {r['proactive_pending']}，"
                         f"及时率 {_fmt_rate(r['proactive_rate'])}"),
            ("必公开类别覆盖", f"覆盖 {r['covered_categories']} / 应覆盖 {r['required_categories']}，"
                        f"覆盖率 {_fmt_rate(r['coverage_rate'])}；缺失：{r['missing_categories'] or '无'}"),
            ("依申请公开", f"按期 {r['requests_on_time']} / 计入 {r['requests_counted']}，"
                      f"按期答复率 {_fmt_rate(r['request_rate'])}"),
        ]
        if r["k1_count"]:
            auto_notes.append(("扣分（K1）", f"通报批评 {r['k1_count']} 次，扣 {k1_points} 分"))
        if r["k2_veto"]:
            auto_notes.append(("一票否决（K2）", f"等次为{s.fail_grade}"))
        auto_notes.append(("总分", f"{r['total']}（等次 {r['grade']}）"))
        row += 1
        for label, text in auto_notes:
            row += 1
            ws.cell(row=row, column=1, value=label).font = Font(bold=True)
            ws.cell(row=row, column=2, value=text)
            ws.merge_cells(start_row=row, start_column=2, end_row=row, end_column=len(headers))
        g = r["grade"]
        if g in s.grade_colors:
            ws.cell(row=row, column=1).fill = grade_fill(s, g)
    else:
        row += 1
        ws.cell(row=row, column=1, value="该单位本年度未报送自检自评材料，无得分、无排名。")
        ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=len(headers))
    _print_setup(ws, HEADER_ROW, landscape=False)

    if submitted:
        _fact_sheet(wb, "主动公开台账核算",
                    closing.item_facts(con, year, unit=unit, include_uncounted=True, which=which),
                    [("sheet_row", "行号", 6), ("title", "信息名称", 36), ("category_name", "公开类别", 14),
                     ("formed", "形成日期", 11), ("published", "公开日期", 11), ("deadline", "公开期限", 11),
                     ("state", "状态", 8), ("days_late", "逾期工作日", 9), ("counted", "计入本年度", 9)],
                    f"{unit} · 主动公开台账核算（期限 = 形成日期起第 {s.proactive_days} 个工作日）")
        _fact_sheet(wb, "依申请公开核算",
                    closing.request_facts(con, year, unit=unit, include_uncounted=True, which=which),
                    [("sheet_row", "行号", 6), ("request_no", "申请编号", 14), ("received", "收到日期", 11),
                     ("corrected", "补正日期", 11), ("extended", "延期", 6), ("rule_basis", "适用规定", 20),
                     ("days_allowed", "期限(工作日)", 10), ("deadline", "答复期限", 11), ("answered", "答复日期", 11),
                     ("state", "状态", 8), ("days_taken", "用时(工作日)", 10), ("days_late", "逾期工作日", 9),
                     ("review_result", "复议诉讼结果", 11), ("counted", "计入本年度", 9)],
                    f"{unit} · 依申请公开答复核算")
        cov = closing.coverage_matrix(con, year, unit=unit, which=which)
        cov = cov[cov["required"].astype(bool) | cov["covered"].astype(bool)]
        _fact_sheet(wb, "必公开类别覆盖", cov,
                    [("code", "类别编码", 9), ("name", "类别名称", 20), ("required", "必公开", 8),
                     ("covered", "已覆盖", 8), ("items", "计入条数", 9), ("published", "截止日前已公开", 12)],
                    f"{unit} · 必公开类别覆盖（截止日 {s.cutoff.isoformat()} 前已公开）")
    return workbook_bytes(wb)


def _fmt_rate(v) -> str:
    if v is None:
        return "—（无计入事项）"
    return f"{(v * 100).quantize(Decimal('0.01'))}%"


def _cell_value(v):
    if v is None:
        return None
    try:
        import pandas as pd
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(v, bool) or type(v).__name__ == "bool_":
        return "是" if v else "否"
    if hasattr(v, "item") and not isinstance(v, (str, Decimal)):
        return v.item()
    return v


def _fact_sheet(wb, title: str, df, cols, heading: str) -> None:
    ws = wb.create_sheet(title)
    _title_rows(ws, heading, f"共 {len(df)} 条", len(cols))
    _write_header(ws, [c[1] for c in cols], [c[2] for c in cols])
    for n, r in enumerate(df.to_dict("records"), start=HEADER_ROW + 1):
        for c, (key, _, _) in enumerate(cols, start=1):
            v = _cell_value(r[key])
            cell = ws.cell(row=n, column=c, value=v)
            cell.border = BORDER
            if isinstance(v, dt.date):
                cell.number_format = "yyyy-mm-dd"
            if key == "state" and v in STATE_FILL:
                cell.fill = STATE_FILL[v]
    _print_setup(ws, HEADER_ROW)
