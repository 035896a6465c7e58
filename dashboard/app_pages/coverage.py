"""覆盖缺口 — which required disclosure categories each unit has not covered.

A heatmap unit × category (covered / missing / not required), the coverage
rate of each category across the units that must cover it, and each unit's
gap list in catalogue order (exportable).
"""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard import queries as q
from dashboard import viz
from core.scheme import load_catalogue

year, scheme = viz.start_analytics_page("覆盖缺口", lambda scheme: "必公开类别：按单位类型确定，另加单位名录中登记的附加类别。某类别在本年度至少有一条"
                                      f"形成于本年、并在统计截止日（{scheme.cutoff:%Y-%m-%d}）前公开的事项，即为已覆盖。")

sc = q.scores(year)
sub = sc[sc["submitted"]]
cov = q.coverage(year)
cat_order = {c.code: n for n, c in enumerate(load_catalogue().categories)}

f1, f2 = st.columns([2, 3])
with f1:
    utype = viz.type_filter("coverage_type")
with f2:
    only_gaps = st.checkbox("只看有缺口的单位", key="coverage_only_gaps")
    all_cats = st.checkbox("显示全部类别（含所选单位都不要求的类别）", key="coverage_all_cats")

units = sub if not utype else sub[sub["unit_type"] == utype]
if only_gaps:
    units = units[units["covered_categories"] < units["required_categories"]]
cv = cov[cov["unit"].isin(units["unit"])]

# --------------------------------------------------------------------------- tiles
t = st.columns(4)
req = int(units["required_categories"].sum()) if len(units) else 0
covd = int(units["covered_categories"].sum()) if len(units) else 0
t[0].metric("单位数", f"{len(units)} 个", border=True)
t[1].metric("平均覆盖率", viz.pct(units["coverage_rate"].mean()) if len(units) else "—", border=True,
            help="各单位覆盖率（已覆盖 ÷ 必公开类别数）的平均值")
t[2].metric("有缺口的单位", f"{int((units['covered_categories'] < units['required_categories']).sum())} 个",
            border=True)
t[3].metric("缺失类别合计", f"{req - covd} 项", border=True, help=f"必公开 {req} 项，已覆盖 {covd} 项")

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
order = units.sort_values(["unit_type", "coverage_rate", "unit"], ascending=[True, True, True],
                          key=lambda s: s.map({"乡镇": 0, "部门": 1}) if s.name == "unit_type" else s)
shown, capped = viz.cap_units(order, 150)
unit_list = shown["unit"].tolist()
g = cv[cv["code"].isin(codes) & cv["unit"].isin(unit_list)].assign(
    z=lambda d: (d["required"].astype(int) * (1 + d["covered"].astype(int))))


def _pivot(col, fill):
    return (g.pivot(index="unit", columns="code", values=col).reindex(index=unit_list, columns=codes)
            .fillna(fill).astype(int).to_numpy())


zm, im, pm = _pivot("z", 0), _pivot("items", 0), _pivot("published", 0)


def _label(v, n_items, n_pub):
    if v == 2:
        return f"已覆盖（已公开 {n_pub} 条）"
    if v == 1:
        return "缺失" + (f"（有 {n_items} 条事项但截止日前未公开）" if n_items else "（无事项）")
    return "不要求" + (f"（已公开 {n_pub} 条）" if n_pub else "")


z = zm.tolist()
text = [["✕" if v == 1 else "" for v in row] for row in z]
hover = [[_label(v, a, b) for v, a, b in zip(zr, ir, pr)] for zr, ir, pr in zip(z, im.tolist(), pm.tolist())]
xlabels = [f"{names.get(c, c)}" for c in codes]
colorscale = [[0, viz.COVER_COLORS["不要求"]], [0.3333, viz.COVER_COLORS["不要求"]],
              [0.3334, viz.COVER_COLORS["缺失"]], [0.6666, viz.COVER_COLORS["缺失"]],
              [0.6667, viz.COVER_COLORS["已覆盖"]], [1, viz.COVER_COLORS["已覆盖"]]]
fig = go.Figure(go.Heatmap(
    z=z, x=xlabels, y=unit_list, zmin=0, zmax=2, colorscale=colorscale, text=text, texttemplate="%{text}",
    textfont=dict(color="#ffffff", size=11), customdata=hover, xgap=2, ygap=2,
    hovertemplate="%{y} · %{x}<br>%{customdata}<extra></extra>",
    showscale=False))
fig.update_yaxes(autorange="reversed", title=None)
fig.update_xaxes(side="top", tickangle=-45, title=None)
viz.layout(fig, height=max(320, 24 * len(unit_list) + 180), margin=dict(l=10, r=10, t=150, b=10))
st.markdown(viz.legend_html([(k, v) for k, v in viz.COVER_COLORS.items()]), unsafe_allow_html=True)
viz.show(fig, key="coverage_heatmap")
st.caption("先乡镇后部门，各自按覆盖率从低到高排列" + ("；单位较多，仅显示首尾各75个，完整情况见下方缺口清单" if capped else "")
           + "。灰色为该单位不要求的类别，红色✕为缺失，绿色为已覆盖。")

# --------------------------------------------------------------------------- per category
st.subheader("各类别覆盖率")
rq_ = cv[cv["required"]]
per_cat = (rq_.groupby("code").agg(required=("unit", "size"), covered=("covered", "sum")).reset_index())
per_cat["rate"] = per_cat["covered"] / per_cat["required"]
per_cat["name"] = per_cat["code"].map(names)
per_cat = per_cat.sort_values(["rate", "code"], ascending=[True, True])
if per_cat.empty:
    viz.empty("所选单位没有必公开类别。")
else:
    fig = go.Figure()
    fig.add_bar(y=per_cat["name"].tolist(), x=[round(float(v), 4) for v in per_cat["rate"]], orientation="h",
                marker_color=["#1a7f37" if v >= 1 else ("#e6a700" if v >= 0.8 else "#d64545") for v in per_cat["rate"]],
                text=[f"{viz.pct(v, 0)}（{int(c)}/{int(r)}）" for v, c, r in
                      zip(per_cat["rate"], per_cat["covered"], per_cat["required"])],
                textposition="outside", showlegend=False,
                hovertemplate="%{y}<br>覆盖率 %{x:.1%}<extra></extra>")
    fig.update_xaxes(tickformat=".0%", range=[0, 1.25], title="已覆盖的单位 ÷ 要求该类别的单位")
    fig.update_yaxes(title=None, autorange="reversed")
    viz.layout(fig, height=max(300, 26 * len(per_cat) + 100), showlegend=False,
               title=dict(text="覆盖率最低的类别排在最上", font=dict(size=15)))
    viz.show(fig, key="coverage_by_category")
    st.caption("绿色：全部覆盖；黄色：≥ 80%；红色：< 80%。")

# --------------------------------------------------------------------------- gap list
st.subheader("各单位缺口清单")
gaps = units.sort_values(["unit_type", "coverage_rate", "unit"], ascending=[True, True, True],
                         key=lambda s: s.map({"乡镇": 0, "部门": 1}) if s.name == "unit_type" else s)
gap_table = pd.DataFrame({
    "单位": gaps["unit"], "类型": gaps["unit_type"],
    "必公开类别数": gaps["required_categories"].astype("Int64"), "已覆盖": gaps["covered_categories"].astype("Int64"),
    "覆盖率": gaps["coverage_rate"].map(lambda v: viz.pct(v)),
    "缺失数": (gaps["required_categories"] - gaps["covered_categories"]).astype("Int64"),
    "缺失类别": gaps["missing_categories"].fillna(""),
})
if int(gap_table["缺失数"].sum()) == 0:
    st.success("所选单位均已覆盖全部必公开类别。", icon=":material/check_circle:")
st.dataframe(gap_table, hide_index=True, placeholder="", key="coverage_gaps",
             column_config={"缺失类别": st.column_config.TextColumn(width="large")})
viz.download_table(gap_table, f"{year}年度必公开类别缺口清单" + (f"（{utype}）" if utype else ""), "coverage_dl",
                   xlsx=True)
