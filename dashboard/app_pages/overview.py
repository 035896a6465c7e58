"""总览 — the year at a glance for the county leadership.

Tiles (with the change against the previous scheme year), notes on
provisional scores and scheme changes, ranking charts of 乡镇 and 部门
coloured by grade, the units that have not submitted, and the downloads
(考核结果 workbook, CSV of the ranking table).
"""
from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from core.vocab import UNIT_TYPE_RANK, UNIT_TYPES
from dashboard import queries as q
from dashboard import viz
from dashboard.common import data_version
from dashboard.text import md

year, scheme = viz.start_analytics_page("总览")

sm = q.summary(year)
prev = q.previous_year(year)
psm = q.summary(prev) if prev is not None else None
if psm is not None and psm["submitted"] == 0:
    psm = None


def _p(key):
    return psm[key] if psm else None


# --------------------------------------------------------------------------- tiles
c = st.columns(5)
viz.metric(c[0], "报送率", viz.pct(sm["submit_rate"]), sm["submit_rate"], _p("submit_rate"),
           help=f"已报送单位数 ÷ 登记单位数 = {sm['submitted']} / {sm['registered']}")
viz.metric(c[1], "按时报送率", viz.pct(sm["on_time_rate"]), sm["on_time_rate"], _p("on_time_rate"),
           help=f"截止日（{scheme.cutoff:%Y-%m-%d}）前报送的单位数 ÷ 登记单位数 = {sm['on_time']} / {sm['registered']}")
viz.metric(c[2], "平均分", viz.pts(sm["mean_total"]), sm["mean_total"], _p("mean_total"), "num",
           help="已报送单位最终得分的平均值（含加分、扣分）")
viz.metric(c[3], "平均及时率", viz.pct(sm["mean_proactive"]), sm["mean_proactive"], _p("mean_proactive"),
           help="各单位主动公开及时率（H1）的平均值；没有计入事项的单位不参与平均")
viz.metric(c[4], "平均覆盖率", viz.pct(sm["mean_coverage"]), sm["mean_coverage"], _p("mean_coverage"),
           help="各单位必公开类别覆盖率（H2）的平均值")

grades = scheme.grade_names  # best first, the fail grade last
g = st.columns(len(grades) + 1)
g[0].markdown("**等次分布**  \n" + (f"与{prev}年对比" if psm else "（无上年数据可比）"))
for n, grade in enumerate(grades, start=1):
    # more of the best grades is better, of the fail grade worse; the lowest pass grade is neutral
    better = "down" if grade == scheme.fail_grade else "none" if n == len(grades) - 1 and n > 1 else "up"
    viz.metric(g[n], f"等次 · :{viz.md_color(scheme.grade_color(grade))}[{grade}]", f"{sm['grades'].get(grade, 0)} 个",
               sm["grades"].get(grade, 0), psm["grades"].get(grade, 0) if psm else None, "count", better=better)

notes = [f"已报送 {sm['submitted']} / {sm['registered']} 个单位，其中按时报送 {sm['on_time']} 个。"]
if sm["pending_review"]:
    notes.append(f"其中 {sm['pending_review']} 个单位尚未审核通过（待审核或已退回），分数可能随审核调整。")
if psm:
    notes.append(f"箭头为与{prev}年相比的变化。")
elif prev is not None:
    notes.append(f"{prev}年没有报送数据，无法对比。")
st.caption(" ".join(notes))

# --------------------------------------------------------------------------- rankings
df = q.scores(year)


def ranking_figure(part, unit_type: str, units: int) -> go.Figure:
    part = part.sort_values(["rank", "unit"])
    shown, capped = viz.cap_units(part)
    order = shown["unit"].tolist()
    fig = go.Figure()
    for grade in scheme.grade_names:
        gp = shown[shown["grade"] == grade]
        if gp.empty:
            continue
        fig.add_bar(
            x=[round(float(v), 2) for v in gp["total"]], y=gp["unit"].tolist(), orientation="h", name=grade,
            marker_color=scheme.grade_color(grade), text=[viz.pts(v) for v in gp["total"]], textposition="inside",
            insidetextanchor="end", textfont=dict(color="#ffffff"),
            customdata=[[int(r), viz.pct(s)] for r, s in zip(gp["rank"], gp["score_rate"])],
            hovertemplate="%{y}<br>第%{customdata[0]}名 · %{x:.2f}分 · " + grade
                          + "<br>得分率 %{customdata[1]}<extra></extra>")
    # value labels inside the bars (never clipped, e.g. 100.71) and grade lines behind them
    xmax = max(100.0, float(shown["total"].max())) + 2
    lines = sorted(float(low) for _, low in scheme.grades)
    # the shapes add_vline would make, set at once (add_vline costs ~10 ms a line)
    fig.update_layout(shapes=[dict(type="line", x0=float(low), x1=float(low), xref="x", y0=0, y1=1, yref="y domain",
                                   layer="below", line=dict(dash="dot", color=scheme.grade_color(name), width=1))
                              for name, low in scheme.grades])
    fig.update_yaxes(categoryorder="array", categoryarray=list(reversed(order)), title=None)
    fig.update_xaxes(range=[0, xmax], title="最终得分", tickvals=viz.score_ticks(lines))
    fig.update_traces(cliponaxis=False, constraintext="none")
    viz.layout(fig, height=max(260, 26 * len(order) + 110), barmode="overlay", showlegend=False,
               title=dict(text=f"{unit_type}排名（共 {units} 个）" + ("，仅显示首尾各30名" if capped else ""),
                          font=dict(size=15)))
    return fig


st.subheader("排名")
st.markdown(viz.legend_html([(g_, scheme.grade_color(g_)) for g_ in scheme.grade_names]), unsafe_allow_html=True)
st.caption("各类型分别排名，总分相同的名次并列。竖虚线为等次分数线：" + "、".join(
    f"{name} ≥ {float(low):g}" for name, low in scheme.grades) + "。")
cols = st.columns(2)
for col, t in zip(cols, UNIT_TYPES):
    part = df[(df["unit_type"] == t) & df["submitted"]]
    n = q.summary(year, t)  # registered / submitted / not submitted units of the type (metrics.summary)
    with col:
        if part.empty:
            viz.empty(f"本年度还没有{t}报送。")
        else:
            viz.show(ranking_figure(part, t, n["submitted"]), key=f"overview_rank_{t}", min_width=0)
        missing = df[(df["unit_type"] == t) & ~df["submitted"]]["unit"].tolist()
        if missing:
            names = "、".join(md(n) for n in missing[:60]) + (" 等（完整名单见下方明细表）" if len(missing) > 60 else "")
            st.warning(f"**{t}未报送（{n['not_submitted']} 个）：** " + names, icon=":material/mail:")
        elif n["registered"]:
            st.success(f"{t}全部报送。", icon=":material/check_circle:")

# --------------------------------------------------------------------------- table + downloads
st.subheader("排名明细")
table = df.sort_values(["unit_type", "submitted", "rank", "unit"], ascending=[True, False, True, True],
                       key=lambda s: s.map(UNIT_TYPE_RANK) if s.name == "unit_type" else s)
view = table.assign(
    得分率=viz.pct_texts(table["score_rate"]),
    及时率=viz.pct_texts(table["proactive_rate"]),
    覆盖率=viz.pct_texts(table["coverage_rate"]),
    按时报送=table["late_submission"].map({False: "是", True: "否"}),
)[["unit", "unit_type", "status", "rank", "total", "grade", "得分率", "及时率", "覆盖率", "按时报送"]].rename(
    columns={"unit": "单位", "unit_type": "类型", "status": "状态", "rank": "排名", "total": "总分", "grade": "等次"})
with st.expander(f"全部 {len(view)} 个单位的得分、等次和排名", expanded=False):
    st.dataframe(view, hide_index=True, placeholder="", key="overview_table",
                 column_config={"总分": st.column_config.NumberColumn(format="%.2f")})
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
dv = data_version()
if sm["registered"] <= 300:
    try:
        report = q.report_bytes(year, dv)
    except Exception as e:  # pragma: no cover - shown to the user
        report = None
        st.error(f"考核结果工作簿生成失败：{md(e)}")
else:  # a province: the workbook takes seconds, so it is generated when the button is clicked
    report = (lambda y=year, v=dv: q.report_bytes(y, v))
row = st.container(horizontal=True)
if report is not None:
    row.download_button("下载考核结果工作簿（Excel，可打印）", icon=":material/download:", data=report,
                        file_name=f"{year}年度政务公开考核结果.xlsx", type="primary", mime=XLSX,
                        key="overview_report", on_click="ignore")
ranking_csv = (lambda v=view: viz.csv_bytes(v)) if len(view) > viz.LAZY_ROWS else viz.csv_bytes(view)  # a province: on click
row.download_button("下载排名明细（CSV）", icon=":material/download:", data=ranking_csv,
                    file_name=f"{year}年度排名明细.csv", mime="text/csv", key="overview_csv", on_click="ignore")
row.download_button("下载考核结果通报（Word）", icon=":material/description:", data=lambda y=year: q.notice_bytes(y),
                    file_name=f"关于{year}年度政务公开工作考核结果的通报.docx", key="overview_notice", on_click="ignore",
                    mime="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                    help="按当前显示的结果（公示稿、定稿或实时数据）生成通报草稿，可在 Word 中修改后印发")
