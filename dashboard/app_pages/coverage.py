"""覆盖缺口 — which required disclosure categories each unit has not covered.

A heatmap unit × category (covered / missing / not required), the coverage
rate of each category across the units that must cover it, and each unit's
gap list in catalogue order (exportable).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard import queries as q
from dashboard import viz
from dashboard.text import md
from core.scheme import load_catalogue

year, scheme = viz.start_analytics_page("覆盖缺口", lambda scheme: "必公开类别：按单位类型确定，另加单位名录中登记的附加类别。某类别在本年度至少有一条"
                                      f"形成于本年、并在统计截止日（{scheme.cutoff:%Y-%m-%d}）前公开的事项，即为已覆盖。")

sc = q.scores(year)
cov = q.coverage(year)
cat_order = {c.code: n for n, c in enumerate(load_catalogue().categories)}

f1, f2 = st.columns([2, 3])
with f1:
    utype = viz.type_filter("coverage_type")
with f2:
    only_gaps = st.checkbox("只看有缺口的单位", key="coverage_only_gaps")
    all_cats = st.checkbox("显示全部类别（含所选单位都不要求的类别）", key="coverage_all_cats")

# the gap list and its totals (metrics.summary.coverage_gaps): the submitted units in the order shown
# (乡镇 first, lowest coverage first), then the units without an accepted submission: no ledger, no score
# (methodology: listed as 未报送, no score, no rank); they stay on the page as grey rows so that nobody is
# left out of the picture
gaps, tot = q.coverage_gaps(year, utype, only_gaps)
units = gaps[gaps["submitted"]]
missing = gaps[~gaps["submitted"]]
cv = cov[cov["unit"].isin(units["unit"])]

# --------------------------------------------------------------------------- tiles
t = st.columns(4)
t[0].metric("单位数", f"{tot['units'] + tot['not_submitted']} 个", border=True,
            help=f"已报送 {tot['units']} 个，未报送 {tot['not_submitted']} 个；未报送的单位没有台账，不计得分，"
                 "不计入平均覆盖率和缺失类别合计" if tot["not_submitted"] else "所选单位均已报送")
t[1].metric("平均覆盖率", viz.pct(tot["mean_coverage"]) if tot["units"] else "—", border=True,
            help="各单位覆盖率（已覆盖 ÷ 必公开类别数）的平均值")
t[2].metric("有缺口的单位", f"{tot['with_gaps']} 个", border=True)
t[3].metric("缺失类别合计", f"{tot['missing']} 项", border=True,
            help=f"必公开 {tot['required']} 项，已覆盖 {tot['covered']} 项")
if tot["not_submitted"]:
    st.warning(f"未报送（{tot['not_submitted']} 个）：" + "、".join(md(n) for n in missing["unit"]) + "。这些单位没有台账，无法判断覆盖情况，"
               "在下方热力图和缺口清单中以灰色“未报送”行列出。", icon=":material/mail:")
if units.empty:
    viz.empty("所有单位均已覆盖全部必公开类别。" if only_gaps else "所选范围内没有已报送的单位。", icon=":material/check_circle:")
    st.stop()

# --------------------------------------------------------------------------- heatmap
st.subheader("单位 × 类别")
codes = sorted(cv["code"].unique(), key=lambda c: cat_order.get(c, 999))
if not all_cats:
    needed = set(cv[cv["required"]]["code"])
    codes = [c for c in codes if c in needed]
names = cv.drop_duplicates("code").set_index("code")["name"].to_dict()
MISSING_GREY = "#9aa5b1"
shown, capped = viz.cap_units(units, 150)
unit_list = shown["unit"].tolist()
g = cv[cv["code"].isin(codes) & cv["unit"].isin(unit_list)].assign(
    z=lambda d: (d["required"].astype(int) * (1 + d["covered"].astype(int))))


def _pivot(col, fill):
    return (g.pivot(index="unit", columns="code", values=col).reindex(index=unit_list, columns=codes)
            .fillna(fill).astype(int).to_numpy())


zm, im, pm = _pivot("z", 0), _pivot("items", 0), _pivot("published", 0)
miss_names = missing["unit"].tolist()


def _label(v, n_items, n_pub):
    if v == 2:
        return f"已覆盖（已公开 {n_pub} 条）"
    if v == 1:
        return "缺失" + (f"（有 {n_items} 条事项但截止日前未公开）" if n_items else "（无事项）")
    return "不要求" + (f"（已公开 {n_pub} 条）" if n_pub else "")


# numpy arrays: plotly checks nested lists cell by cell (a province's 150 × 30 cells: 0.2 s)
z = np.vstack([zm, np.full((len(miss_names), len(codes)), -1)]).astype("int64")
text = np.where(z == 1, "✕", "").astype(object)
hover = np.full(z.shape, "未报送，没有台账", dtype=object)
for i, (zr, ir, pr) in enumerate(zip(zm.tolist(), im.tolist(), pm.tolist())):
    hover[i, :] = [_label(v, a, b) for v, a, b in zip(zr, ir, pr)]
unit_list = unit_list + miss_names
xlabels = [f"{names.get(c, c)}" for c in codes]
colorscale = [[0, MISSING_GREY], [0.2499, MISSING_GREY],
              [0.25, viz.COVER_COLORS["不要求"]], [0.4999, viz.COVER_COLORS["不要求"]],
              [0.5, viz.COVER_COLORS["缺失"]], [0.7499, viz.COVER_COLORS["缺失"]],
              [0.75, viz.COVER_COLORS["已覆盖"]], [1, viz.COVER_COLORS["已覆盖"]]]
fig = go.Figure(go.Heatmap(
    z=z, x=xlabels, y=unit_list, zmin=-1, zmax=2, colorscale=colorscale, text=text, texttemplate="%{text}",
    textfont=dict(color="#ffffff", size=11), customdata=hover, xgap=2, ygap=2,
    hovertemplate="%{y} · %{x}<br>%{customdata}<extra></extra>",
    showscale=False))
short, _ = viz.short_names(unit_list)
short = [f"{n}（未报送）" if u in miss_names else n for n, u in zip(short, unit_list)]  # "方正县财政局" → "财政局": room for the cells on a phone
fig.update_yaxes(autorange="reversed", title=None, tickmode="array", tickvals=unit_list, ticktext=short)
fig.update_xaxes(side="top", tickangle=-45, title=None)
viz.layout(fig, height=max(320, 24 * (len(unit_list)) + 180), margin=dict(l=10, r=10, t=150, b=10))
st.markdown(viz.legend_html([(k, v) for k, v in viz.COVER_COLORS.items()]
                            + ([("未报送", MISSING_GREY)] if miss_names else [])), unsafe_allow_html=True)
viz.show(fig, key="coverage_heatmap", min_width=max(560, 24 * len(codes) + 200))  # a phone scrolls sideways
st.caption("先乡镇后部门，各自按覆盖率从低到高排列" + ("；单位较多，仅显示首尾各75个，完整情况见下方缺口清单" if capped else "")
           + "。灰色为该单位不要求的类别，红色✕为缺失，绿色为已覆盖。")

# --------------------------------------------------------------------------- per category
st.subheader("各类别覆盖率")
per_cat = q.category_coverage(year, utype, only_gaps)  # of the submitted units listed above; lowest rate first
if per_cat.empty:
    viz.empty("所选单位没有必公开类别。")
else:
    fig = go.Figure()
    fig.add_bar(y=per_cat["name"].tolist(), x=[round(float(v), 4) for v in per_cat["rate"]], orientation="h",
                marker_color=["#1a7f37" if v >= 1 else ("#e6a700" if v >= 0.8 else "#d64545") for v in per_cat["rate"]],
                text=[f"{viz.pct(v, 0)}（{int(c)}/{int(r)}）" for v, c, r in
                      zip(per_cat["rate"], per_cat["covered"], per_cat["required"])],
                textposition="outside", cliponaxis=False, showlegend=False,
                hovertemplate="%{y}<br>覆盖率 %{x:.1%}<extra></extra>")
    fig.update_xaxes(tickformat=".0%", range=[0, 1.3], title="已覆盖的单位 ÷ 要求该类别的单位")
    fig.update_yaxes(title=None, autorange="reversed")
    viz.layout(fig, height=max(300, 26 * len(per_cat) + 100), showlegend=False,
               title=dict(text="覆盖率最低的类别排在最上", font=dict(size=15)))
    viz.show(fig, key="coverage_by_category", min_width=0)
    st.caption("绿色：全部覆盖；黄色：≥ 80%；红色：< 80%。")

# --------------------------------------------------------------------------- gap list
st.subheader("各单位缺口清单")
gap_table = pd.DataFrame({
    "单位": gaps["unit"], "类型": gaps["unit_type"], "状态": gaps["submitted"].map({True: "已报送", False: "未报送"}),
    "必公开类别数": gaps["required_categories"], "已覆盖": gaps["covered_categories"],
    "覆盖率": [viz.pct(v) if s else "—" for v, s in zip(gaps["coverage_rate"], gaps["submitted"])],
    "缺失数": gaps["missing"],
    "缺失类别": [(c or "") if s else "未报送自评材料，没有台账，无法判断"
                 for c, s in zip(gaps["missing_categories"], gaps["submitted"])],
}).reset_index(drop=True)
if tot["all_covered"]:
    st.success("所选单位均已覆盖全部必公开类别。", icon=":material/check_circle:")
GREY = "color: #8a8a8a; background-color: #f1f3f4"
if len(gap_table) <= viz.STYLE_MAX_ROWS:  # 未报送 rows grey
    shown_table = gap_table.style.apply(lambda r: [GREY if r["状态"] == "未报送" else ""] * len(r), axis=1)
else:  # a province: styling thousands of rows took seconds on every rerun; the 状态 column says 未报送
    shown_table = gap_table
    st.caption(f"共 {len(gap_table)} 个单位，未报送的单位排在最后（“状态”列为“未报送”）。")
st.dataframe(shown_table,
             hide_index=True, placeholder="—", key="coverage_gaps", width="stretch",
             column_config={"单位": st.column_config.TextColumn(pinned=True, width=190),
                            "类型": st.column_config.TextColumn(width=48), "状态": st.column_config.TextColumn(width=64),
                            "必公开类别数": st.column_config.NumberColumn("必公开", width=60),
                            "已覆盖": st.column_config.NumberColumn(width=60),
                            "覆盖率": st.column_config.TextColumn(width=72, alignment="right"),
                            "缺失数": st.column_config.NumberColumn(width=60),
                            "缺失类别": st.column_config.TextColumn(width="large")})
viz.download_table(gap_table, f"{year}年度必公开类别缺口清单" + (f"（{utype}）" if utype else ""), "coverage_dl",
                   xlsx=True)
