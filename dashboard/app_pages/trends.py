"""趋势 — every scheme year side by side.

得分率 (score ÷ maximum) of the county average, of each unit type and of chosen
units across years; timeliness, coverage and request answering across years;
years whose indicator scheme differs from the previous one are marked on the
charts; the 一级指标 are compared on 得分率 because their maxima change.
"""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.vocab import UNIT_TYPE_RANK, UNIT_TYPES, Status
from dashboard import queries as q
from dashboard import viz
from metrics.summary import COUNTY
from dashboard.common import require_role, selected_year
from core.scheme import scheme_for
from core.scheme import years as scheme_years

require_role("admin", "reviewer", "leader")
year = selected_year()
all_years = scheme_years()

st.title("趋势 · 历年对比")
st.caption(f"{all_years[0]}–{all_years[-1]}年度，每年按当年的指标体系计分。各年满分和各项分值可能不同，"
           f"因此统一用得分率（得分 ÷ 满分）比较。浅色竖条为当前选择的{year}年度。")

changes = q.all_scheme_changes()
tr = q.trend()
sub = tr[tr["status"] != Status.MISSING]
if sub.empty:
    viz.empty("还没有任何年度的报送数据，暂无趋势可看。")
    st.stop()

if changes:
    st.info("**指标体系调整的年度**（图中以紫色虚线标出）：  \n" + "  \n".join(
        f"- {y}年：" + "；".join(ch) + (f"（{scheme_for(y).note}）" if scheme_for(y).note else "")
        for y, ch in changes.items()), icon=":material/info:")

prov_years = sorted({int(y) for y, p in zip(tr["year"], tr["provisional"]) if p is True})
if prov_years:
    st.warning("以下年度缺少官方节假日安排，分数为暂定结果：" + "、".join(f"{y}年" for y in prov_years)
               + "。请管理员导入这些年度的节假日和调休上班日。", icon=":material/warning:")

SCOPES = (COUNTY, *UNIT_TYPES)
METRICS = {"score_rate": "得分率", "proactive_rate": "主动公开及时率", "coverage_rate": "必公开类别覆盖率",
           "request_rate": "依申请按期答复率"}
agg = q.trend_summary()
first = sub.drop_duplicates("unit").assign(_t=lambda d: d["unit_type"].map(UNIT_TYPE_RANK))
unit_names = first.sort_values(["_t", "unit"])["unit"].tolist()
chosen = st.multiselect("加入对比的单位（可多选）", unit_names, key="trends_units", max_selections=8,
                        placeholder="选择单位，与全县和同类平均一起比较")
PALETTE = ["#6f42c1", "#17a2b8", "#e83e8c", "#20c997", "#795548", "#ff5722", "#607d8b", "#8bc34a"]


def _year_marks() -> tuple:
    """The chosen year's band and the scheme-change lines with their notes, made once for every
    chart of the page (add_vline/add_vrect cost ~10 ms a call and figure)."""
    fig = go.Figure()
    fig.add_vrect(x0=year - 0.4, x1=year + 0.4, fillcolor="#2f80ed", opacity=0.07, line_width=0, layer="below")
    for y, ch in changes.items():
        fig.add_vline(x=y, line_dash="dot", line_color="#8e44ad", line_width=1.5,
                      annotation=dict(text="指标体系调整 ⓘ", hovertext=f"{y}年指标体系调整：<br>" + "<br>".join(ch),
                                      font=dict(color="#8e44ad", size=11)),
                      annotation_position="top left")
    return fig.layout.shapes, fig.layout.annotations


YEAR_MARKS = _year_marks()


def mark_years(fig: go.Figure) -> None:
    fig.update_layout(shapes=YEAR_MARKS[0], annotations=YEAR_MARKS[1])
    fig.update_xaxes(tickmode="array", tickvals=all_years, ticktext=[f"{y}年" for y in all_years],
                     range=[all_years[0] - 0.5, all_years[-1] + 0.5], title=None)


def metric_figure(col: str, title: str, height: int = 400) -> go.Figure:
    fig = go.Figure()
    for scope in SCOPES:
        a = agg[agg["scope"] == scope]
        fig.add_scatter(x=a["year"].tolist(), y=[None if pd.isna(v) else round(float(v), 4) for v in a[col]],
                        mode="lines+markers", name=f"{scope}平均", connectgaps=False,
                        line=dict(color=viz.TYPE_COLORS[scope], width=3.5 if scope == "全县" else 2),
                        hovertemplate=f"%{{x}}年 {scope}平均 %{{y:.1%}}<extra></extra>")
    for n, u in enumerate(chosen):
        ut = sub[sub["unit"] == u].set_index("year")[col].reindex(all_years)
        fig.add_scatter(x=all_years, y=[None if pd.isna(v) else round(float(v), 4) for v in ut], mode="lines+markers",
                        name=u, line=dict(dash="dash", color=PALETTE[n % len(PALETTE)], width=2),
                        hovertemplate=f"%{{x}}年 {u} %{{y:.1%}}<extra></extra>")
    vals = pd.concat([agg[col], sub[sub["unit"].isin(chosen)][col]]).dropna()
    lo = max(0.0, float(vals.min()) - 0.05) if len(vals) else 0.0
    mark_years(fig)
    fig.update_yaxes(tickformat=".0%", range=[lo, 1.03], title=None)
    viz.layout(fig, height=height, title=dict(text=title, font=dict(size=15)),
               legend=dict(orientation="h", yanchor="top", y=-0.08, xanchor="left", x=0))
    return fig


st.subheader("得分率")
viz.show(metric_figure("score_rate", "平均得分率（得分 ÷ 满分）", 440), key="trends_score")

st.subheader("及时性与覆盖")
c1, c2 = st.columns(2)
with c1:
    viz.show(metric_figure("proactive_rate", "主动公开及时率（H1）"), key="trends_timeliness")
with c2:
    viz.show(metric_figure("coverage_rate", "必公开类别覆盖率（H2）"), key="trends_coverage")
with st.expander("依申请公开按期答复率（G1）"):
    viz.show(metric_figure("request_rate", "依申请公开按期答复率（只计有申请的单位）"), key="trends_requests")

# --------------------------------------------------------------------------- groups on 得分率
st.subheader("一级指标得分率（各年满分不同，按得分率比较）")
scope_g = st.radio("范围", SCOPES, horizontal=True, key="trends_group_scope")
gt = q.group_trend()
gt = gt[(gt["scope"] == scope_g)]
groups = list(dict.fromkeys(gt["group"]))
rate_tbl = gt.pivot(index="group", columns="year", values="mean_rate").reindex(groups)
max_tbl = gt.pivot(index="group", columns="year", values="max").reindex(groups)
changed = {(g, int(y)) for g, y, c in zip(gt["group"], gt["year"], gt["max_changed"]) if c}  # metrics.summary
show_tbl = pd.DataFrame({"一级指标": groups})
for y in all_years:
    show_tbl[f"{y}年"] = [
        (viz.pct(rate_tbl.loc[g, y]) if viz.isnum(rate_tbl.loc[g, y]) else "—") + f"（满分{max_tbl.loc[g, y]:g}）"
        + (" ★" if (g, y) in changed else "") for g in groups]


def _hl(col):
    y = int(col.name[:4]) if col.name != "一级指标" else None
    return ["background-color: #f3e8fd; font-weight: 600" if y and (g, y) in changed else "" for g in groups]


st.dataframe(show_tbl.style.apply(_hl, axis=0), hide_index=True, placeholder="", key="trends_groups",
             height=38 + 35 * len(show_tbl))
st.caption("单元格为已报送单位该项得分率的平均值，括号内为当年该项满分；★ 表示该项分值较上一年度有调整。")
fig = go.Figure()
changed_groups = {g for g, _ in changed}
line_groups = [g for g in groups if g != q.BONUS_GROUP]
for g in line_groups:
    vals = [None if pd.isna(rate_tbl.loc[g, y]) else round(float(rate_tbl.loc[g, y]), 4) for y in all_years]
    fig.add_scatter(x=all_years, y=vals, mode="lines+markers", name=g + (" ★" if g in changed_groups else ""),
                    line=dict(width=4 if g in changed_groups else 1.5),
                    customdata=[[max_tbl.loc[g, y]] for y in all_years],
                    hovertemplate=f"%{{x}}年 {g}<br>得分率 %{{y:.1%}}（满分 %{{customdata[0]}}）<extra></extra>")
mark_years(fig)
lows = rate_tbl.loc[line_groups].min().min() if line_groups else 0
fig.update_yaxes(tickformat=".0%", title=None, range=[max(0.0, float(lows) - 0.05) if viz.isnum(lows) else 0, 1.02])
viz.layout(fig, height=460, title=dict(text=f"{scope_g}各一级指标平均得分率（粗线 ★ 为分值调整过的指标；不含加分项）",
                                       font=dict(size=15)),
           legend=dict(orientation="h", yanchor="top", y=-0.08, xanchor="left", x=0))
viz.show(fig, key="trends_groups_chart")

# --------------------------------------------------------------------------- table + export
st.subheader("历年汇总")
a = agg[agg["scope"] == "全县"].set_index("year")
summary = pd.DataFrame({
    "年度": all_years,
    "登记单位": [int(a.loc[y, "registered"]) for y in all_years],
    "报送单位": [int(a.loc[y, "submitted"]) for y in all_years],
    "平均分": [viz.pts(a.loc[y, "mean_total"]) if viz.isnum(a.loc[y, "mean_total"]) else "—" for y in all_years],
    **{label: [viz.pct(a.loc[y, k]) for y in all_years] for k, label in METRICS.items()},
    "指标体系调整": ["；".join(changes.get(y, [])) or "—" for y in all_years],
})
st.dataframe(summary, hide_index=True, placeholder="", key="trends_table",
             column_config={"指标体系调整": st.column_config.TextColumn(width="large")})
viz.download_table(summary, "历年汇总", "trends_dl")
if chosen:
    st.markdown("**所选单位历年情况**")
    us = sub[sub["unit"].isin(chosen)].sort_values(["unit", "year"])
    utbl = pd.DataFrame({
        "单位": us["unit"], "年度": us["year"], "总分": us["total"].map(viz.pts),
        "满分": us["max_total"].map(viz.pts),
        "得分率": viz.pct_texts(us["score_rate"]), "等次": us["grade"], "排名": us["rank"],
        "及时率": viz.pct_texts(us["proactive_rate"]), "覆盖率": viz.pct_texts(us["coverage_rate"]),
    })
    st.dataframe(utbl, hide_index=True, placeholder="", key="trends_units_table")
    viz.download_table(utbl, "所选单位历年情况", "trends_units_dl")
