"""The results notice (考核结果通报) as a Word document, with python-docx.

Laid out as an official document (GB/T 9704 style): A4, margins 37/35/28/26
mm, title in 方正小标宋简体 22 pt (二号), body in 仿宋 16 pt (三号) with a
two-character first-line indent and 28 pt line spacing, headings in 黑体,
ranking tables in 仿宋 14 pt. The fixed wording (issuer, addressee, closing
paragraph) lives in ``metrics/notice.toml`` so the office can edit it.

Built from the chosen results (:func:`metrics.closing.results`; by default
the newest snapshot) and marked 公示稿, 定稿 or 草稿（实时数据）.
"""
from __future__ import annotations

import datetime as dt
import io
import tomllib
from collections import Counter
from decimal import Decimal
from pathlib import Path

import duckdb

from metrics.closing import DRAFT, FINAL_KIND, results
from core.scheme import scheme_for
from core.vocab import UNIT_TYPES, Status

NOTICE_FILE = Path(__file__).resolve().parent / "notice.toml"
BODY_FONT, HEADING_FONT, TITLE_FONT = "仿宋", "黑体", "方正小标宋简体"
BODY_PT, TITLE_PT, TABLE_PT = 16, 22, 14
TIMELINESS_LINE = Decimal("0.8")
NUMERALS = "一二三四五六七八九十"


def load_texts(path: Path | None = None) -> dict:
    d = tomllib.loads((path or NOTICE_FILE).read_text(encoding="utf-8"))
    return {"issuer": str(d.get("issuer", "")).strip(), "addressee": str(d.get("addressee", "")).strip(),
            "closing": [p.strip() for p in str(d.get("closing", "")).split("\n\n") if p.strip()]}


def title_of(year: int) -> str:
    return f"关于{year}年度政务公开工作考核结果的通报"


def _pct(v) -> str:
    return "—" if v is None else f"{(Decimal(v) * 100).quantize(Decimal('0.1'))}%"


def notice_facts(con: duckdb.DuckDBPyConnection, year: int, which: str | None = None) -> dict:
    """Everything the notice says, as data (the tests check these against the document)."""
    df = results(con, year, which)
    snap = df.attrs.get("snapshot")
    sub = df[df["status"] != Status.MISSING]
    on_time = sub[sub["late_submission"] == False]  # noqa: E712 (object column)
    types = [t for t in UNIT_TYPES if (df["unit_type"] == t).any()]
    names = scheme_for(int(year)).grade_names  # a renamed grade is listed under its new name, never dropped
    grades = {t: {g: list(sub[(sub["unit_type"] == t) & (sub["grade"] == g)]["unit"]) for g in names} for t in types}
    ranking = {t: [(r["rank"], r["unit"], r["total"], r["grade"]) for _, r in sub[sub["unit_type"] == t].iterrows()]
               for t in types}
    missed = Counter()
    for m in sub["missing_categories"]:
        for c in (m or "").split("、"):
            if c:
                missed[c] += 1
    slow = [(r["unit"], r["proactive_rate"]) for _, r in sub.iterrows()
            if r["proactive_rate"] is not None and Decimal(r["proactive_rate"]) < TIMELINESS_LINE]
    marker = ("草稿（实时数据，尚未发布）" if snap is None else (DRAFT if snap["kind"] == DRAFT else FINAL_KIND))
    return {
        "year": int(year), "marker": marker, "snapshot": snap,
        "assessed": int(len(df)), "submitted": int(len(sub)), "on_time": int(len(on_time)),
        "late": list(sub[sub["late_submission"] == True]["unit"]),  # noqa: E712
        "missing": list(df[df["status"] == Status.MISSING]["unit"]),
        "grades": grades, "ranking": ranking,
        "missed_categories": sorted(missed.items(), key=lambda kv: (-kv[1], kv[0]))[:5],
        "slow_units": slow,
    }


def _set_font(run, name: str, size: int, bold: bool = False) -> None:
    from docx.oxml.ns import qn
    from docx.shared import Pt

    run.font.name = name
    run.font.size = Pt(size)
    run.font.bold = bold
    rpr = run._element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.insert(0, fonts)
    for k in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(k), name)


def build_notice(con: duckdb.DuckDBPyConnection, year: int, which: str | None = None,
                 texts: dict | None = None, today: dt.date | None = None) -> bytes:
    """The 通报 of ``year`` as .docx bytes."""
    from docx import Document
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
    from docx.shared import Mm, Pt

    f = notice_facts(con, year, which)
    s = scheme_for(year)
    texts = texts or load_texts()
    today = today or dt.date.today()
    doc = Document()
    sec = doc.sections[0]
    sec.page_height, sec.page_width = Mm(297), Mm(210)
    sec.top_margin, sec.bottom_margin, sec.left_margin, sec.right_margin = Mm(37), Mm(35), Mm(28), Mm(26)
    normal = doc.styles["Normal"]
    normal.font.name, normal.font.size = BODY_FONT, Pt(BODY_PT)

    def para(text: str = "", *, font=BODY_FONT, size=BODY_PT, bold=False, align=None, indent=True):
        p = doc.add_paragraph()
        pf = p.paragraph_format
        pf.line_spacing_rule, pf.line_spacing = WD_LINE_SPACING.EXACTLY, Pt(28)
        pf.space_before = pf.space_after = Pt(0)
        if indent:
            pf.first_line_indent = Pt(size * 2)
        if align is not None:
            p.alignment = align
        if text:
            _set_font(p.add_run(text), font, size, bold)
        return p

    def heading(text: str):
        return para(text, font=HEADING_FONT)

    # marker line, title, addressee
    para(f"【{f['marker']}】", font=HEADING_FONT, size=BODY_PT, align=WD_ALIGN_PARAGRAPH.RIGHT, indent=False)
    t = para(title_of(year), font=TITLE_FONT, size=TITLE_PT, align=WD_ALIGN_PARAGRAPH.CENTER, indent=False)
    t.paragraph_format.line_spacing = Pt(36)
    para()
    para(texts["addressee"], indent=False)
    intro = (f"根据《{s.name if s else f'{year}年度政务公开工作考核指标体系'}》，县政务公开工作考核组对全县"
             f"{f['assessed']}个单位{year}年度政务公开工作进行了考核。")
    if f["snapshot"] is not None and f["snapshot"]["kind"] == DRAFT:
        intro += (f"考核结果自{f['snapshot']['publicity_start']:%Y年%m月%d日}起公示至"
                  f"{f['snapshot']['publicity_end']:%Y年%m月%d日}。")
    para(intro + "现将考核结果通报如下。")

    n = iter(NUMERALS)
    heading(f"{next(n)}、基本情况")
    para(f"本年度参加考核单位{f['assessed']}个，报送自检自评材料{f['submitted']}个，"
         f"其中按时报送{f['on_time']}个、逾期报送{len(f['late'])}个，未报送{len(f['missing'])}个。")

    heading(f"{next(n)}、考核等次")
    for k, (ut, by_grade) in enumerate(f["grades"].items()):
        para(f"（{NUMERALS[k]}）{ut}", font=HEADING_FONT)
        for g, names in by_grade.items():
            para(f"{g}（{len(names)}个）：{'、'.join(names) if names else '无'}。")

    heading(f"{next(n)}、考核排名")
    for k, (ut, rows) in enumerate(f["ranking"].items()):
        para(f"（{NUMERALS[k]}）{ut}考核得分及排名", font=HEADING_FONT)
        tbl = doc.add_table(rows=1, cols=4)
        tbl.style = "Table Grid"
        tbl.alignment = WD_TABLE_ALIGNMENT.CENTER
        for c, h in zip(tbl.rows[0].cells, ("排名", "单位名称", "得分", "等次")):
            c.text = ""
            _set_font(c.paragraphs[0].add_run(h), HEADING_FONT, TABLE_PT)
            c.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER
        for rank, unit, total, grade in rows:
            cells = tbl.add_row().cells
            for c, v in zip(cells, (str(rank), unit, f"{Decimal(total):.2f}", grade or "")):
                _set_font(c.paragraphs[0].add_run(v), BODY_FONT, TABLE_PT)
                c.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER
        for row in tbl.rows:
            for c, w in zip(row.cells, (Mm(18), Mm(86), Mm(26), Mm(26))):
                c.width = w

    heading(f"{next(n)}、存在的主要问题")
    k = iter(NUMERALS)
    if f["missed_categories"]:
        para(f"（{next(k)}）必公开类别公开不全。" + "；".join(f"{c}类信息有{m}个单位未公开" for c, m in f["missed_categories"])
             + "。")
    if f["slow_units"]:
        para(f"（{next(k)}）主动公开不及时。主动公开及时率低于{_pct(TIMELINESS_LINE)}的单位有{len(f['slow_units'])}个："
             + "、".join(f"{u}（{_pct(r)}）" for u, r in f["slow_units"]) + "。")
    if f["late"] or f["missing"]:
        parts = []
        if f["late"]:
            parts.append(f"逾期报送的单位有{len(f['late'])}个：{'、'.join(f['late'])}")
        if f["missing"]:
            parts.append(f"未报送的单位有{len(f['missing'])}个：{'、'.join(f['missing'])}")
        para(f"（{next(k)}）材料报送不及时。" + "；".join(parts) + "。")
    if not (f["missed_categories"] or f["slow_units"] or f["late"] or f["missing"]):
        para("本年度考核未发现共性问题。")

    heading(f"{next(n)}、工作要求")
    for p in texts["closing"]:
        para(p)
    para()
    para(texts["issuer"], align=WD_ALIGN_PARAGRAPH.RIGHT, indent=False)
    para(f"{today.year}年{today.month}月{today.day}日", align=WD_ALIGN_PARAGRAPH.RIGHT, indent=False)
    buf = io.BytesIO()
    doc.core_properties.title = title_of(year)
    doc.save(buf)
    return buf.getvalue()
