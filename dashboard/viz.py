"""Shared look of the analytics pages: colours, number formats, banners,
empty states, downloads and a few plotly helpers.

Figures are built with ``plotly.graph_objects`` from plain Python lists, so
the spec Streamlit sends (and the tests read) holds readable values.
"""
from __future__ import annotations

import io
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.vocab import UNIT_TYPES
from dashboard import queries as q
from core.scheme import scheme_for

#: Streamlit's named Markdown colours (``:green[text]``), for the grade colours of the scheme
MD_COLORS = {"red": "#ff4b4b", "orange": "#ffa421", "green": "#21c354", "blue": "#1c83e1", "violet": "#803df5",
             "gray": "#808495"}
#: ledger item states on the timeliness page
STATE_COLORS = {"按时公开": "#1a7f37", "逾期公开": "#f28e2b", "逾期未公开": "#d64545", "未到期未公开": "#9aa5b1"}
REQUEST_STATE_COLORS = {"按时": "#1a7f37", "逾期": "#d64545", "未到期": "#9aa5b1"}
#: coverage heatmap: not required / missing / covered
COVER_COLORS = {"不要求": "#e4e7eb", "缺失": "#d64545", "已覆盖": "#1a7f37"}
TYPE_COLORS = {"全县": "#1f2933", "乡镇": "#2f80ed", "部门": "#f28e2b"}

#: default 得分率 bands of the scorecard: lower bounds of green, light green, amber (below: red)
DEFAULT_BANDS = (0.90, 0.75, 0.60)
BAND_COLORS = ("#1a9850", "#a6d96a", "#fdae61", "#d73027")
BAND_TEXT = ("#ffffff", "#1f2933", "#1f2933", "#ffffff")

FONT = "WenQuanYi Micro Hei, Microsoft YaHei, PingFang SC, Noto Sans CJK SC, sans-serif"
#: beyond this many units a per-unit chart shows the first and last ones only
CHART_UNIT_CAP = 60
TABLE_ROW_CAP = 2000


# --------------------------------------------------------------------------- formats

def isnum(v) -> bool:
    if v is None or isinstance(v, str):
        return False
    try:
        return not bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def pct(v, digits: int = 1) -> str:
    """0.9234 → '92.3%'; empty → '—'. Rounded half up, as the methodology rounds
    (0.8125 → '81.3%', not the '81.2%' of binary floats and Python's half-to-even)."""
    if not isnum(v):
        return "—"
    d = (Decimal(str(v)) * 100).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    return f"{d}%"


def pct_texts(s: pd.Series, digits: int = 1) -> pd.Series:
    """:func:`pct` of every value of ``s``, each distinct value formatted once (a province's
    column of 6,000 rates has a few hundred)."""
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    texts = np.array([pct(v, digits) for v in uniques] + [pct(None)], dtype=object)
    return pd.Series(texts[codes], index=s.index, dtype=object)


def pts(v, digits: int = 2) -> str:
    """Points with ``digits`` decimals, rounded half up; empty → '—'."""
    if not isnum(v):
        return "—"
    return str(Decimal(str(v)).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def metric(col, label: str, value: str, cur=None, prev=None, kind: str = "pp", *, better: str = "up",
           help: str | None = None) -> None:
    """A tile with its change against the previous year.

    ``kind``: ``pp`` (rate, shown in percentage points), ``num`` (points) or
    ``count``.  ``better``: ``up``, ``down`` (a rise is bad) or ``none``
    (neutral).  A zero change shows 持平 in grey; no previous value, no delta."""
    delta, color, arrow = None, "normal", "auto"
    if isnum(cur) and isnum(prev):
        d = float(cur) - float(prev)
        if kind == "pp":
            d = round(d * 100, 1)
            text = f"{d:+.1f} 个百分点"
        elif kind == "count":
            d = int(round(d))
            text = f"{d:+d} 个"
        else:
            d = round(d, 2)
            text = f"{d:+.2f} 分"
        if d == 0:
            delta, color, arrow = "持平", "off", "off"
        else:
            delta = text
            color = {"up": "normal", "down": "inverse"}.get(better, "off")
    col.metric(label, value, delta, delta_color=color, delta_arrow=arrow, help=help, border=True)


def band_index(rate, bands=DEFAULT_BANDS) -> int | None:
    if not isnum(rate):
        return None
    for n, low in enumerate(bands):
        if float(rate) >= low - 1e-12:
            return n
    return len(bands)


def band_labels(bands=DEFAULT_BANDS) -> list[str]:
    b = [f"{x * 100:g}%" for x in bands]
    return [f"≥ {b[0]}", f"{b[1]} – {b[0]}", f"{b[2]} – {b[1]}", f"< {b[2]}"]


def md_color(color: str) -> str:
    """The Streamlit Markdown colour name nearest to ``#rrggbb``."""
    rgb = [int(color[i:i + 2], 16) for i in (1, 3, 5)]
    return min(MD_COLORS, key=lambda n: sum((a - int(MD_COLORS[n][i:i + 2], 16)) ** 2
                                            for a, i in zip(rgb, (1, 3, 5))))


def legend_html(items: list[tuple[str, str]]) -> str:
    """Colour chips for a legend: [(label, colour)]."""
    chips = "".join(
        f'<span style="display:inline-flex;align-items:center;margin-right:1.1em;white-space:nowrap">'
        f'<span style="display:inline-block;width:0.95em;height:0.95em;border-radius:3px;'
        f'background:{c};margin-right:0.35em;border:1px solid rgba(0,0,0,.15)"></span>{lbl}</span>'
        for lbl, c in items)
    return f'<div style="font-size:0.9rem;line-height:1.9">{chips}</div>'


# --------------------------------------------------------------------------- page furniture

def page_header(title: str, year: int, subtitle: str | None = None) -> None:
    s = scheme_for(year)
    st.title(f"{title} · {year}年度")
    st.caption(subtitle or (s.name if s else ""))


def snapshot_marker(year: int) -> None:
    """Which results the page shows (公示稿 / 定稿 with its date, or the live
    state) and, where the live state differs, a switch to see it."""
    info = q.snapshot_info(year)
    snap = info["snapshot"]
    if snap is None:
        return
    live = bool(st.session_state.get(q.LIVE_KEY))
    if live:
        st.warning(f"**当前显示实时数据**（尚未发布、可能变动）。已发布的结果为：{info['label']}。",
                   icon=":material/sync:")
    else:
        kind = snap["kind"]
        st.success(f"**当前显示{kind}**：{info['label']}。各项明细（逐项得分、逾期事项、缺失类别等）均取自该结果稿。",
                   icon=":material/verified:")
        note = q.details_note(year)
        if note:
            st.info(note + "。", icon=":material/info:")
    if info["differs"] or live:
        n = len(info["differs"])
        st.toggle("查看实时数据" + (f"（与已发布结果不同的单位：{n} 个）" if n else ""), key=q.LIVE_KEY,
                  help="默认显示已发布的结果稿；打开后显示按当前数据实时计算的结果")


def year_banners(year: int, show_changes: bool = True) -> None:
    """Provisional scores (calendar missing) and scheme changes vs last year."""
    sm = q.summary(year)
    if sm and sm["provisional"]:
        st.warning("**本年度分数为暂定结果。** " + (sm["provisional_reason"] or "缺少官方节假日安排。"), icon=":material/warning:")
    if show_changes:
        ch = q.changes_vs_previous(year)
        if ch:
            prev = q.previous_year(year)
            s = scheme_for(year)
            note = f"（{s.note}）" if s and s.note else ""
            st.info(f"**{year}年考核指标体系较{prev}年有调整**{note}：" + "；".join(ch)
                    + "。本年分数按本年指标体系计算；与往年比较时请看得分率（得分 ÷ 满分）。", icon=":material/info:")


def empty(message: str, icon: str = ":material/inbox:") -> None:
    """A friendly empty state."""
    st.info(message, icon=icon)


def no_submissions(year: int) -> bool:
    """Show the empty state and return True when nobody has submitted for ``year``."""
    sm = q.summary(year)
    if sm is None or sm["registered"] == 0:
        empty("尚未登记任何考核单位。请管理员先导入单位名录。")
        return True
    if sm["submitted"] == 0:
        empty(f"{year}年度还没有单位报送自检自评材料，暂无可分析的数据。"
              f"已登记 {sm['registered']} 个单位，单位报送后这里会自动显示结果。")
        return True
    return False


def type_filter(key: str, label: str = "单位类型", include_all: bool = True) -> str | None:
    opts = (["全部"] if include_all else []) + list(UNIT_TYPES)
    v = st.radio(label, opts, horizontal=True, key=key)
    return None if v == "全部" else v


# --------------------------------------------------------------------------- downloads

def csv_bytes(df: pd.DataFrame) -> bytes:
    """UTF-8 with BOM, so that Excel opens the Chinese text correctly; users' text never a formula."""
    from data.exports import csv_bytes as safe_csv

    return safe_csv(df)


def xlsx_bytes(df: pd.DataFrame, sheet: str = "数据") -> bytes:
    from openpyxl.utils import get_column_letter

    from data.exports import defuse_workbook, sheet_title

    out = io.BytesIO()
    sheet = sheet_title(sheet)
    clean = df.copy()
    for c in clean.columns:
        if pd.api.types.is_datetime64_any_dtype(clean[c]):
            clean[c] = clean[c].dt.date
    with pd.ExcelWriter(out, engine="openpyxl") as xw:
        clean.to_excel(xw, index=False, sheet_name=sheet)
        ws = xw.sheets[sheet]
        ws.freeze_panes = "A2"
        for n, c in enumerate(clean.columns, start=1):
            width = max([len(str(c))] + [len(str(v)) for v in clean[c].head(200).tolist()])
            ws.column_dimensions[get_column_letter(n)].width = min(max(8, width * 1.6 + 2), 60)
        defuse_workbook(xw.book)  # names, titles and reasons are users' text: never formulas
    return out.getvalue()


#: tables longer than this are written only when their download button is clicked
LAZY_ROWS = 1000
#: tables longer than this are shown without colouring row by row (a province's thousands of
#: rows took seconds to style on every rerun)
STYLE_MAX_ROWS = 1000
#: more submitted units in scope than this: 及时性 reads its item list only for the download
#: (or for one chosen unit) — a province's list is hundreds of thousands of items
LIST_MAX_UNITS = 300


def download_table(df: pd.DataFrame | None, base_name: str, key: str, xlsx: bool = False,
                   label: str = "下载本表", build=None, rows: int | None = None) -> None:
    """CSV (UTF-8 with BOM) and optionally .xlsx of the table shown on screen.

    ``build`` (a function returning the frame, with ``rows`` its row count)
    may replace ``df``.  Tables over :data:`LAZY_ROWS` rows are generated on
    click (deferred) instead of on every rerun: a province's 6,000-row table
    took 0.4 s to write as CSV, on every rerun of the page."""
    n = rows if rows is not None else (len(df) if df is not None else 0)
    make = build if build is not None else (lambda d=df: d)
    lazy = n > LAZY_ROWS
    if not lazy and df is None:
        df = make()
    row = st.container(horizontal=True)
    csv_data = (lambda: csv_bytes(make())) if lazy else csv_bytes(df)
    row.download_button(f"{label}（CSV）", icon=":material/download:", data=csv_data, file_name=f"{base_name}.csv",
                        mime="text/csv", key=f"{key}_csv", on_click="ignore")
    if xlsx:
        x_data = (lambda: xlsx_bytes(make())) if lazy else xlsx_bytes(df)
        row.download_button(f"{label}（Excel）", icon=":material/download:", data=x_data,
                            file_name=f"{base_name}.xlsx",
                            mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                            key=f"{key}_xlsx", on_click="ignore", disabled=n > 1_000_000,
                            help="超过一百万行，请下载 CSV" if n > 1_000_000 else None)


# --------------------------------------------------------------------------- plotly

def layout(fig: go.Figure, height: int = 420, **kw) -> go.Figure:
    if "title" in kw:  # title on its own line, the legend between it and the plot
        t = kw["title"] if isinstance(kw["title"], dict) else dict(text=kw["title"])
        kw["title"] = dict(t, x=0, xanchor="left", y=0.995, yanchor="top", yref="container")
        below = isinstance(kw.get("legend"), dict) and kw["legend"].get("y", 1) < 0
        kw.setdefault("margin", dict(l=10, r=10, t=56 if below or kw.get("showlegend") is False else 78, b=10))
    kw.setdefault("margin", dict(l=10, r=10, t=40, b=10))
    kw.setdefault("legend", dict(orientation="h", yanchor="bottom", y=1.01, xanchor="left", x=0))
    fig.update_layout(height=height, font=dict(family=FONT), hoverlabel=dict(font_family=FONT), **kw)
    return fig


def score_ticks(lines: list[float], top: float = 100, step: float = 20, gap: float = 12) -> list[float]:
    """Ticks of a 0…``top`` points axis: the grade lines, and the round numbers every ``step`` that are
    at least ``gap`` points from every grade line (on a phone "90" and "100" side by side touch)."""
    round_ = [float(step * k) for k in range(int(top // step) + 1)]
    if round_[-1] != top:
        round_.append(top)
    return sorted(set(lines) | {t for t in round_ if t in lines or all(abs(t - x) >= gap for x in lines)})


def cap_units(df: pd.DataFrame, n: int = CHART_UNIT_CAP) -> tuple[pd.DataFrame, bool]:
    """First and last n/2 rows of an ordered frame when it is longer than n."""
    if len(df) <= n:
        return df, False
    h = n // 2
    return pd.concat([df.head(h), df.tail(h)]), True


#: Chinese texts of the plotly tool bar (plotly.js ships no zh-CN locale in Streamlit's bundle, so
#: without this dictionary the buttons' tooltips read "Zoom", "Pan", "Download plot as a PNG" …)
PLOTLY_ZH = {
    "Autoscale": "自动缩放", "Box Select": "框选", "Lasso Select": "套索选择", "Compare data on hover": "悬停时比较数据",
    "Download plot as a PNG": "下载图片（PNG）", "Download plot as a png": "下载图片（PNG）", "Download plot": "下载图片",
    "Download plot as JSON": "下载图表数据（JSON）",
    "Pan": "平移", "Zoom": "框选放大", "Zoom in": "放大", "Zoom out": "缩小", "Reset": "还原", "Reset axes": "还原坐标轴",
    "Reset view": "还原视图", "Reset views": "还原视图", "Show closest data on hover": "悬停时显示最近的数据",
    "Toggle Spike Lines": "显示/隐藏辅助线", "Toggle show closest data on hover": "切换悬停显示方式",
    "Preparing image - this may take a few seconds": "正在生成图片，请稍候……", "Image download succeeded": "图片已下载",
    "Sorry, there was a problem downloading your image!": "抱歉，图片下载失败！",
    "Taking snapshot - this may take a few seconds": "正在生成图片，请稍候……", "Snapshot succeeded": "图片已生成",
    "Double-click to zoom back out": "双击还原", "Double-click on legend to isolate one trace": "双击图例可只显示该项",
    "Produced with Plotly.js": "由 Plotly.js 生成", "Share chart...": "分享图表……",
}
PLOTLY_CONFIG = {
    "displaylogo": False, "locale": "zh-CN",
    "locales": {"zh-CN": {"dictionary": PLOTLY_ZH, "format": {
        "days": ["星期日", "星期一", "星期二", "星期三", "星期四", "星期五", "星期六"],
        "shortDays": ["周日", "周一", "周二", "周三", "周四", "周五", "周六"],
        "months": [f"{m}月" for m in range(1, 13)], "shortMonths": [f"{m}月" for m in range(1, 13)],
        "date": "%Y-%m-%d", "decimal": ".", "thousands": ","}}},
    # box/lasso selection means nothing on these charts
    "modeBarButtonsToRemove": ["select2d", "lasso2d", "toggleSpikelines", "hoverClosestCartesian",
                               "hoverCompareCartesian"],
}


def short_names(names: list[str]) -> tuple[list[str], str | None]:
    """Axis labels without the county prefix most names share ("方正县人力资源和社会保障局" →
    "人力资源和社会保障局"), so thirty rotated labels do not run into each other; returns the labels
    and the prefix dropped (None when there is none). Hover texts keep the full names."""
    import re
    from collections import Counter

    pre = Counter(m.group(1) for n in names if (m := re.match(r"^(.{1,6}?[县市区旗])(.{2,})$", str(n))))
    if not pre:
        return list(names), None
    prefix, count = pre.most_common(1)[0]
    if count < 2:
        return list(names), None
    return [str(n)[len(prefix):] if str(n).startswith(prefix) and len(str(n)) - len(prefix) >= 2 else str(n)
            for n in names], prefix


def show(fig: go.Figure, key: str, min_width: int = 560, on_select: bool = False):
    """The chart with Chinese tool bar; on a narrow screen (a phone) it keeps at least ``min_width``
    pixels and scrolls sideways instead of squeezing labels into slivers (style in dashboard/zh.py);
    ``min_width=0``: the chart takes the screen's width (a ranking whose labels sit inside its bars)."""
    config = dict(PLOTLY_CONFIG)
    title = fig.layout.title.text if fig.layout.title and fig.layout.title.text else None
    config["toImageButtonOptions"] = {"format": "png", "filename": (title or "图表").replace("/", "-")[:60], "scale": 2}
    box = st.container(key=f"gkwide_{key}" if min_width else None)
    if min_width and min_width != 560:
        st.html(f"<style>@media (max-width: 700px) {{ .st-key-gkwide_{key} > div {{ min-width: {int(min_width)}px; }} }}"
                "</style>")
    with box:
        if on_select:  # a click selects the point; the page reads it from the returned event
            return st.plotly_chart(fig, key=key, config=config, on_select="rerun", selection_mode="points")
        st.plotly_chart(fig, key=key, config=config)
    return None


def start_analytics_page(title: str, subtitle=None, show_changes: bool = True):
    """The common start of an analytics page: role check, the year chosen in
    the sidebar and its scheme, the header and banners. Stops the page (with
    the empty state) when nobody has submitted for the year.

    ``subtitle`` is text, or a function of the scheme giving the text.
    Returns ``(year, scheme)``.
    """
    from dashboard.common import require_role, selected_year

    require_role("admin", "reviewer", "leader")
    year = selected_year()
    scheme = scheme_for(year)
    page_header(title, year, subtitle(scheme) if callable(subtitle) else subtitle)
    snapshot_marker(year)
    year_banners(year, show_changes=show_changes)
    if no_submissions(year):
        st.stop()
    return year, scheme
