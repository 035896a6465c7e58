"""评分卡 — every unit against every 一级指标, and one unit in detail.

The table shows, per unit, the 得分率 of each 一级指标 (subtotal ÷ the
group's maximum in this year's scheme), coloured by configurable bands, with
total, grade, rank and the change against the previous year.  Below it one
unit can be opened: its 一级指标 得分率 against the county average and every
indicator with the unit's own score, the reviewer's score and the final points.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.vocab import UNIT_TYPE_RANK
from dashboard import queries as q
from dashboard import viz
from dashboard.common import data_version
from dashboard.text import md
from metrics import summary as msum

year, scheme = viz.start_analytics_page("评分卡")

gmax = q.group_maxima(year)
groups = list(gmax)
prev = q.previous_year(year)

# --------------------------------------------------------------------------- bands
with st.expander("色阶设置（得分率分档）", expanded=False):
    st.caption("按一级指标得分率（得分 ÷ 该项满分）给单元格着色。调整下限后表格立即更新。")
    b = st.columns(3)
    hi = b[0].number_input("绿色下限（%）", 0, 100, int(viz.DEFAULT_BANDS[0] * 100), step=1, key="scorecard_band_hi")
    mid = b[1].number_input("浅绿下限（%）", 0, 100, int(viz.DEFAULT_BANDS[1] * 100), step=1, key="scorecard_band_mid")
    lo = b[2].number_input("黄色下限（%）", 0, 100, int(viz.DEFAULT_BANDS[2] * 100), step=1, key="scorecard_band_lo")
    if not hi >= mid >= lo:
        st.warning("下限应从左到右依次减小，已按从大到小重新排列。")
    hi, mid, lo = sorted((hi, mid, lo), reverse=True)
bands = (hi / 100, mid / 100, lo / 100)
st.markdown(viz.legend_html(list(zip(viz.band_labels(bands), viz.BAND_COLORS)) + [("未报送", "#ffffff")]),
            unsafe_allow_html=True)

# --------------------------------------------------------------------------- table
f1, f2 = st.columns([2, 3])
with f1:
    utype = viz.type_filter("scorecard_type")
with f2:
    search = st.text_input("查找单位", key="scorecard_search", placeholder="输入单位名称中的字，如“镇”或“财政”")

sc = q.scores(year)
gr = q.group_rates(year).set_index("unit")
base = sc[["unit", "unit_type", "status", "rank", "total", "grade", "score_rate", "submitted"]].copy()
for g in groups:
    base[g] = base["unit"].map(gr[g])
# each unit's 得分率 against the previous year (metrics.summary.rate_change), in the scorecard's order
change = msum.rate_change(sc, q.scores(prev) if prev is not None else None)
ARROWS = {1: "↑", -1: "↓", 0: "→", None: "—"}
base["prev_rate"] = change["prev_rate"].to_numpy()
base["trend"] = [ARROWS[d] for d in change["direction"]]
base["delta_pp"] = change["delta_pp"].to_numpy()
if utype:
    base = base[base["unit_type"] == utype]
if search.strip():
    base = base[base["unit"].str.contains(search.strip(), regex=False)]
base = base.sort_values(["unit_type", "submitted", "rank", "unit"], ascending=[True, False, True, True],
                        key=lambda s: s.map(UNIT_TYPE_RANK) if s.name == "unit_type" else s)

gcol = {g: f"{g}（{viz.pts(gmax[g])}分）" for g in groups}
prev_label = f"较{prev}年" if prev is not None else "较上年"
# total and grade right after the name: with ten 一级指标 columns they would otherwise sit off screen
table = pd.DataFrame({
    "排名": base["rank"].astype("Int64"), "单位": base["unit"],
    "总分": base["total"].astype(float), "等次": base["grade"], "得分率": base["score_rate"].astype(float),
    prev_label: base["trend"], "变化（百分点）": base["delta_pp"].round(1),
    "类型": base["unit_type"], "状态": base["status"],
    **{gcol[g]: base[g].astype(float) for g in groups},
})

BONUS = {g for g in groups if all(i.type == "bonus" for i in scheme.indicators if i.group == g)}


def band_scale(bands) -> list:
    """A stepped plotly colour scale on 0…1: the four 得分率 bands of the legend."""
    hi_, mid_, lo_ = (min(max(float(b), 0.0), 1.0) for b in bands)
    c = viz.BAND_COLORS
    return [[0, c[3]], [lo_, c[3]], [lo_, c[2]], [mid_, c[2]], [mid_, c[1]], [hi_, c[1]], [hi_, c[0]], [1, c[0]]]


#: units shown in one heatmap (a row is 26 px; more is a page no one scrolls through)
HEATMAP_MAX = 120


def heatmap(rows: pd.DataFrame, cols: list[str], rate, label, hover, title: str, key: str, on_select=False):
    """Units (rows, in table order) × columns, coloured by 得分率 band, the value in each cell
    (at most :data:`HEATMAP_MAX` units: a province narrows the table first)."""
    if len(rows) > HEATMAP_MAX:
        st.caption(f"所选范围共 {len(rows)} 个已报送单位，此图只显示表中前 {HEATMAP_MAX} 个；"
                   "请用上方“单位类型”或“查找单位”缩小范围后查看其余单位（下方表格列出全部单位）。")
        rows = rows.head(HEATMAP_MAX)
    units_y = rows["unit"].tolist()
    short, _ = viz.short_names(units_y)
    ylab = [f"{int(r)}. {n}" if viz.isnum(r) else n for r, n in zip(rows["rank"], short)]
    # 加分项 is extra credit, not a shortfall: its cells show the value uncoloured
    # numpy arrays: plotly checks nested lists cell by cell
    z = np.full((len(units_y), len(cols)), None, dtype=object)
    text = np.full(z.shape, "", dtype=object)
    custom = np.full(z.shape, "", dtype=object)
    for i, u in enumerate(units_y):
        for j, c in enumerate(cols):
            r = rate(u, c)
            if viz.isnum(r) and c not in BONUS:
                z[i, j] = min(max(float(r), 0.0), 1.0)
            text[i, j] = label(u, c)
            custom[i, j] = hover(u, c)
    fig = go.Figure(go.Heatmap(
        z=z, x=cols, y=ylab, zmin=0, zmax=1, colorscale=band_scale(bands), showscale=False, xgap=2, ygap=2,
        text=text, texttemplate="%{text}", textfont=dict(size=11),
        customdata=custom, hovertemplate="%{customdata}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", title=None, tickfont=dict(size=12))
    fig.update_xaxes(side="top", title=None, tickangle=0 if len(cols) <= 8 else -30)
    viz.layout(fig, height=max(260, 26 * len(units_y) + 120), margin=dict(l=10, r=10, t=70, b=10),
               title=dict(text=title, font=dict(size=15)))
    return viz.show(fig, key=key, min_width=max(560, 64 * len(cols) + 160), on_select=on_select)


if table.empty:
    viz.empty("没有符合条件的单位。")
else:
    sub_rows = base[base["submitted"]]
    # ---- the matrix as a heatmap: one column per 一级指标 (fits a 1440 px screen), drill-down to 二级指标
    st.subheader("一级指标得分率")
    if sub_rows.empty:
        viz.empty("所选范围内没有已报送的单位。")
    else:
        st.caption("每格为该单位该一级指标的得分率（得分 ÷ 该项满分），颜色按上方色阶（加分项不着色）；先乡镇后部门，各按名次排列。"
                   "点击某一格（或在下方选择一级指标）查看其二级指标。")
        # the shown units' rates as plain dicts: a cell looks up three values (pandas .loc: ~10 µs each)
        grd = gr[gr.index.isin(sub_rows["unit"].head(HEATMAP_MAX))].to_dict("index")
        ev = heatmap(sub_rows, groups, lambda u, g: grd[u][g] if u in grd else None,
                     lambda u, g: viz.pct(grd[u][g], 0) if u in grd else "",
                     lambda u, g: f"{u} · {g}<br>得分 {viz.pts(grd[u][f'{g}|得分'])} / 满分 {viz.pts(gmax[g])}"
                                  f"（{viz.pct(grd[u][g])}）" if u in grd else "",
                     f"各单位一级指标得分率（{year}年度）", "scorecard_heatmap", on_select=True)
        pts_sel = (ev or {}).get("selection", {}).get("points", []) if ev is not None else []
        if pts_sel and pts_sel[0].get("x") in groups:
            st.session_state["scorecard_group"] = pts_sel[0]["x"]
        group = st.selectbox("查看一级指标的二级指标", ["（不展开）", *groups], key="scorecard_group",
                             format_func=lambda g: g if g == "（不展开）" else f"{g}（满分 {viz.pts(gmax[g])} 分）")
        if group != "（不展开）":
            codes = scheme.group_codes[group]
            ind = {i.code: i for i in scheme.indicators}
            pts_by = q.scores(year, points=True).set_index("unit")  # a column per indicator

            def _pts(u, c):
                v = pts_by.loc[u, c] if c in pts_by.columns else None
                return float(v) if viz.isnum(v) else None

            heatmap(sub_rows, [f"{c} {ind[c].text[:8]}" for c in codes],
                    lambda u, cx: (_pts(u, cx.split()[0]) / float(ind[cx.split()[0]].max))
                    if _pts(u, cx.split()[0]) is not None and ind[cx.split()[0]].max else None,
                    lambda u, cx: viz.pts(_pts(u, cx.split()[0])) if _pts(u, cx.split()[0]) is not None else "",
                    lambda u, cx: f"{u} · {cx.split()[0]} {ind[cx.split()[0]].text}<br>得分 "
                                  f"{viz.pts(_pts(u, cx.split()[0]))} / 满分 {viz.pts(ind[cx.split()[0]].max)}",
                    f"{group}：各二级指标得分（格中为得分，颜色为得分率）", "scorecard_drill")
    missing_units = base[~base["submitted"]]["unit"].tolist()
    if missing_units:
        st.caption("未报送（无得分、不排名）：" + "、".join(md(n) for n in missing_units))

    # ---- the ranking table: what a reader needs at 1440 px; the 一级指标 columns behind a toggle
    st.subheader("总分与排名")
    wide = st.toggle("表中也显示各一级指标得分率", key="scorecard_wide")
    st.caption(f"共 {len(table)} 个单位；点击列名可排序。"
               f"“{prev_label}”比较得分率：↑ 上升、↓ 下降、→ 持平、— 无可比数据。")
    rate_cols = [gcol[g] for g in groups] + ["得分率"]
    order = ["排名", "单位", "类型", "总分", "等次", "得分率", prev_label, "变化（百分点）", "状态"]
    if wide:
        order += [gcol[g] for g in groups]

    def colour(v):
        i = viz.band_index(v, bands)
        if i is None:
            return ""
        return f"background-color: {viz.BAND_COLORS[i]}; color: {viz.BAND_TEXT[i]}"

    def arrow_colour(v):
        return {"↑": "color: #1a7f37; font-weight: 700", "↓": "color: #d64545; font-weight: 700"}.get(v, "color: #888")

    pin = {"排名": st.column_config.NumberColumn(pinned=True, width=48),
           "单位": st.column_config.TextColumn(pinned=True, width=200),
           "类型": st.column_config.TextColumn(width=52),
           "总分": st.column_config.NumberColumn(pinned=wide, width=72),
           "等次": st.column_config.TextColumn(pinned=wide, width=60),
           "得分率": st.column_config.TextColumn(width=72),
           prev_label: st.column_config.TextColumn(width=64),
           "变化（百分点）": st.column_config.TextColumn(width=110),
           "状态": st.column_config.TextColumn(width=64)}
    if len(table) <= viz.TABLE_ROW_CAP:
        fmt = {c: (lambda v: viz.pct(v) if viz.isnum(v) else "") for c in rate_cols}
        fmt.update({"总分": lambda v: viz.pts(v) if viz.isnum(v) else "",
                    "变化（百分点）": lambda v: f"{v:+.1f}" if viz.isnum(v) else ""})
        styled = (table.style.map(colour, subset=rate_cols).map(arrow_colour, subset=[prev_label])
                  .format(fmt))
        st.dataframe(styled, hide_index=True, placeholder="", key="scorecard_table", column_order=order,
                     height=min(38 + 35 * len(table), 640), column_config=pin)
    else:  # a province: colouring thousands of rows costs more than it helps
        st.dataframe(table, hide_index=True, placeholder="", key="scorecard_table", height=640, column_order=order,
                     column_config=pin | {c: st.column_config.ProgressColumn(c, format="percent", min_value=0,
                                                                             max_value=1) for c in rate_cols})
    def export(t=table):
        out = t.copy()
        for c in rate_cols:
            out[c] = viz.pct_texts(out[c])
        out["总分"] = out["总分"].map(lambda v: viz.pts(v) if viz.isnum(v) else "")
        return out
    viz.download_table(None, f"{year}年度评分卡" + (f"（{utype}）" if utype else ""), "scorecard_dl",
                       build=export, rows=len(table))

# --------------------------------------------------------------------------- drill-down
st.divider()
st.subheader("单位详情")
choices = base[base["submitted"]]["unit"].tolist()
if not choices:
    viz.empty("所选范围内没有已报送的单位。")
    st.stop()
unit = st.selectbox("选择单位", choices, key="scorecard_unit")
row = sc[sc["unit"] == unit].iloc[0]
peers = q.summary(year, row["unit_type"])["submitted"]  # the submitted units of its type (metrics.summary)

m = st.columns(5)
m[0].metric("最终得分", viz.pts(row["total"]), border=True, help=f"满分 {viz.pts(row['max_total'])}（另有加分项）")
m[1].metric("等次", row["grade"] or "—", border=True)
m[2].metric("排名", f"第 {int(row['rank'])} 名", border=True, help=f"在 {peers} 个已报送的{row['unit_type']}中")
m[3].metric("得分率", viz.pct(row["score_rate"]), border=True)
m[4].metric("审核状态", row["status"], border=True)

notes = []
if row["status"] in ("待审核", "已退回"):
    notes.append("该单位材料尚未审核通过，分数可能随审核调整。")
if viz.isnum(row["k1_count"]) and int(row["k1_count"]) > 0:
    k1_pts = (row["k1_points"] if "k1_points" in row.index and viz.isnum(row["k1_points"])
              else int(row["k1_count"]) * scheme.k1_points)  # a snapshot keeps its own deduction (定稿: after appeals)
    notes.append(f"被上级通报批评 {int(row['k1_count'])} 次，已扣 {viz.pts(k1_pts)} 分。")
if row["k2_veto"] is True:
    notes.append(f"发生泄密或违规公开（一票否决），等次为{scheme.fail_grade}。")
if row["late_submission"] is True:
    notes.append(f"材料逾期报送（收到日期 {row['received']}）。")
if notes:
    st.warning(" ".join(notes))

avg_all = q.group_means(year).set_index("group")["mean_rate"].to_dict()
avg_type = q.group_means(year, row["unit_type"]).set_index("group")["mean_rate"].to_dict()
mine = {g: float(gr.loc[unit, g]) for g in groups}
fig = go.Figure()
fig.add_bar(x=groups, y=[round(mine[g], 4) for g in groups], name=unit, marker_color="#2f80ed",
            text=[viz.pct(mine[g], 0) for g in groups], textposition="outside", textfont=dict(size=11),
            customdata=[[viz.pts(gr.loc[unit, f"{g}|得分"]), viz.pts(gmax[g])] for g in groups],
            hovertemplate="%{x}<br>得分率 %{y:.1%}<br>得分 %{customdata[0]} / %{customdata[1]}<extra>" + unit
                          + "</extra>")
fig.add_bar(x=groups, y=[round(avg_all[g], 4) for g in groups], name="全县平均", marker_color="#b8c2cc",
            hovertemplate="%{x}<br>全县平均得分率 %{y:.1%}<extra></extra>")
fig.add_scatter(x=groups, y=[round(avg_type[g], 4) for g in groups], name=f"{row['unit_type']}平均", mode="markers",
                marker=dict(symbol="diamond", size=10, color="#f28e2b"),
                hovertemplate="%{x}<br>" + row["unit_type"] + "平均得分率 %{y:.1%}<extra></extra>")
fig.update_yaxes(tickformat=".0%", range=[0, 1.15], title="得分率")
viz.layout(fig, height=400, barmode="group",
           title=dict(text=f"{unit} 各一级指标得分率与全县平均", font=dict(size=15)))
viz.show(fig, key="scorecard_unit_chart")

pts_df = q.unit_points(year, unit)
TYPE_LABEL = {"self": "自评", "auto": "自动计算", "bonus": "加分"}
ind = pd.DataFrame({
    "指标": pts_df["code"], "一级指标": pts_df["group"], "二级指标": pts_df["text"],
    "满分": pts_df["max"].astype(float), "方式": pts_df["type"].map(TYPE_LABEL).fillna(pts_df["type"]),
    "自评分": pts_df["self_score"].astype(float), "审核分": pts_df["review_score"].astype(float),
    "审核意见": pts_df["review_reason"].fillna(""), "最终得分": pts_df["points"].astype(float),
})
appealed = pts_df[pts_df["appeal_id"].notna()] if "appeal_id" in pts_df.columns else pts_df.iloc[0:0]
if len(appealed):
    st.info("定稿中经申诉调整的指标：" + "；".join(
        f"{md(c)}（公示稿 {viz.pts(b)} 分 → {viz.pts(a)} 分）"
        for c, b, a in zip(appealed["code"], appealed["points_before"], appealed["points"])) + "。",
        icon=":material/gavel:")
if viz.isnum(row["requests_counted"]) and int(row["requests_counted"]) == 0:
    st.info("该单位本年度没有计入的依申请公开申请，G1 按期答复率按满分计（无人被延误答复）。", icon=":material/inbox:")


def changed(r):
    if viz.isnum(r["审核分"]) and r["审核分"] != r["自评分"]:
        return ["background-color: #fff4e5"] * len(r)
    return [""] * len(r)


st.markdown(f"**逐项得分**（{len(ind)} 项；审核分与自评分不同的行以浅橙色标出；自动计算项由系统根据台账计算）")
num2 = (lambda v: viz.pts(v) if viz.isnum(v) else "")
st.dataframe(ind.style.apply(changed, axis=1).format(
    {"满分": num2, "自评分": num2, "审核分": num2, "最终得分": num2}),
    hide_index=True, placeholder="", key="scorecard_points", height=38 + 35 * len(ind),
    column_config={"二级指标": st.column_config.TextColumn(width="large")})
row = st.container(horizontal=True)
try:
    # a province: the workbook (which ranks the unit among thousands) is written when clicked
    data = (q.unit_scorecard_bytes(year, unit, data_version()) if len(sc) <= viz.LIST_MAX_UNITS
            else (lambda y=year, u=unit, v=data_version(): q.unit_scorecard_bytes(y, u, v)))
    row.download_button("下载该单位评分卡（Excel）", icon=":material/download:", data=data,
                        file_name=f"{year}年度{unit}评分卡.xlsx", type="primary", on_click="ignore",
                        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        key="scorecard_unit_xlsx")
except Exception as e:  # pragma: no cover - shown to the user
    st.error(f"评分卡生成失败：{md(e)}")
row.download_button("下载逐项得分（CSV）", icon=":material/download:", data=viz.csv_bytes(ind),
                    file_name=f"{year}年度{unit}逐项得分.csv", mime="text/csv", key="scorecard_points_csv",
                    on_click="ignore")
