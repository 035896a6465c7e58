"""年报勾稽 (county): for the chosen year, units × rules (通过 / 未通过 / 未填报),
drill-down to a unit's messages, the share of consistent reports year over
year, and the findings as CSV (the same file as ``python -m metrics reconcile``)."""
from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from dashboard.common import ANALYTICS_ROLES, data_version, db, require_role, selected_year
from dashboard.reconcile_ui import findings_table, matrix_table, unit_section
from data.reconcile import RULES
from metrics import reconcile
from core.scheme import scheme_for

require_role(*ANALYTICS_ROLES)
con = db()
year = selected_year()
scheme = scheme_for(year)


@st.cache_data(show_spinner=False, max_entries=32)
def _data(year: int, version: int):
    cur = db()
    try:
        return (reconcile.matrix(cur, year), reconcile.findings(cur, year), reconcile.share_by_year(cur),
                reconcile.year_counts(cur, year))
    finally:
        cur.close()


st.title("年报勾稽")
st.caption("各单位照抄的政府信息公开工作年度报告表三、表四：表内是否相加相等（T1–T4），与本单位依申请公开台账是否一致（L1–L4）。"
           "发现的问题是警告，不影响自评表被接收"
           + (f"；本年度每有一条规则未通过扣 {scheme.reconcile_points} 分。" if scheme.reconcile_points else "，也不扣分。"))
mode = {"required": "必须填报", "optional": "可选填报", "none": "不填报"}[scheme.annual_report]
if scheme.annual_report == "none":
    st.info(f"{year}年度的考核指标体系不使用年报数据，没有勾稽结果。")
    st.stop()

m, f, share, n = _data(year, data_version())
filled = n["filled"]
c = st.columns(4)
c[0].metric("填报年报数据的单位", f"{filled} 个", help=f"{year}年度年报数据：{mode}")
c[1].metric("勾稽一致", f"{n['consistent']} 个")
c[2].metric("有问题", f"{n['inconsistent']} 个")
c[3].metric("一致率", f"{n['share']:.1%}" if filled else "—")

if not filled:
    st.info(f"{year}年度还没有单位填报年报数据（当前版本中有“年报数据”工作表的单位）。")
else:
    st.subheader("单位 × 规则")
    flt = st.columns([1, 1, 2])
    typ = flt[0].selectbox("单位类型", ["全部", "乡镇", "部门"], key="reconcile_type")
    only = flt[1].selectbox("显示", ["全部单位", "有问题的", "未填报的"], key="reconcile_only")
    view = m if typ == "全部" else m[m["unit_type"] == typ]
    if only == "有问题的":
        view = view[view["status"] == reconcile.INCONSISTENT]
    elif only == "未填报的":
        view = view[view["status"].isin([reconcile.NOT_FILLED, reconcile.NOT_SUBMITTED])]
    matrix_table(view, key="reconcile_matrix")
    st.caption("规则：" + "；".join(f"{k} {v}" for k, v in RULES.items()))

    st.subheader("查看单位的勾稽问题")
    bad = list(m.loc[m["status"] == reconcile.INCONSISTENT, "unit"])
    names = bad + [u for u in m["unit"] if u not in bad]
    if st.session_state.get("reconcile_unit") not in names:
        st.session_state["reconcile_unit"] = names[0]
    unit = st.selectbox("单位（有问题的排在前面）", names, key="reconcile_unit")
    unit_section(con, year, unit, key="reconcile_unit_view")

    st.subheader("全部问题")
    if len(f):
        findings_table(f, key="reconcile_all", with_unit=True)
    else:
        st.caption("没有发现问题。")
    st.download_button("下载勾稽问题清单（CSV）", reconcile.findings_csv(f), file_name=f"{year}年度年报勾稽问题.csv",
                       mime="text/csv", icon=":material/download:", key="reconcile_csv")

st.subheader("历年一致率")
have = share[share["filled"] > 0]
if len(have) < 1:
    st.caption("还没有任何年度的年报数据。")
else:
    fig = go.Figure(go.Bar(
        x=[f"{y}年度" for y in have["year"]], y=[float(s) * 100 for s in have["share"]],
        text=[f"{s:.0%}（{c}/{n}）" for s, c, n in zip(have["share"], have["consistent"], have["filled"])],
        textposition="outside", marker_color="#4e79a7",
        hovertemplate="%{x}：一致率 %{y:.1f}%<extra></extra>"))
    fig.update_layout(yaxis=dict(title="勾稽一致的单位占填报单位的比例（%）", range=[0, 110]), xaxis=dict(type="category"),
                      height=320, margin=dict(t=20, b=40, l=60, r=20))
    st.plotly_chart(fig, width="stretch", config={"displaylogo": False}, key="reconcile_share")
    st.dataframe(have.rename(columns={"year": "年度", "submitted": "已报送", "filled": "填报年报数据",
                                      "consistent": "一致", "share": "一致率"})
                 .assign(一致率=lambda d: d["一致率"].map(lambda s: f"{s:.1%}")),
                 hide_index=True, key="reconcile_share_table")
