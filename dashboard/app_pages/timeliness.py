"""及时性 — how fast units publish (H1) and answer requests (G1).

On-time rate per unit against the county average, how many working days the
late items were late, items by month of 形成日期 split by outcome, request
answer times against their deadlines, and the list of overdue and pending
items and requests (exportable).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.vocab import UNIT_TYPE_RANK, ItemState
from dashboard import queries as q
from dashboard import viz
from dashboard.text import md
from metrics import summary as msum
from core.scheme import load_catalogue

year, scheme = viz.start_analytics_page("及时性", lambda scheme: f"主动公开：形成之日起 {scheme.proactive_days} 个工作日内公开；统计截止日 "
                                     f"{scheme.cutoff:%Y-%m-%d}，截止日前尚未到期的事项不计入及时率。", show_changes=False)

sc = q.scores(year)
sub = sc[sc["submitted"]]
f1, f2 = st.columns([2, 3])
with f1:
    utype = viz.type_filter("timeliness_type")
with f2:
    pool = sub if not utype else sub[sub["unit_type"] == utype]
    ordered = pool.assign(_t=pool["unit_type"].map(UNIT_TYPE_RANK)).sort_values(["_t", "unit"])
    unit_opt = st.selectbox("单位", ["全部单位"] + ordered["unit"].tolist(), key="timeliness_unit")
unit = None if unit_opt == "全部单位" else unit_opt
scope = unit or (utype or "全县")
SCATTER_CAP = 3000

# --------------------------------------------------------------------------- H1 tiles
summ = q.item_summary(year, utype, unit)
cnt = summ["counts"]
on_time = cnt["按时公开"]
late = cnt["逾期公开"] + cnt["逾期未公开"]
rate = summ["rate"]
st.subheader(f"主动公开及时率（{scope}）")
t = st.columns(5)
t[0].metric("计入事项", f"{summ['n']} 条", help=f"形成日期在{year}年内的台账事项", border=True)
t[1].metric("按时公开", f"{on_time} 条", border=True)
t[2].metric("逾期", f"{late} 条", help=f"其中逾期公开 {cnt['逾期公开']} 条，逾期未公开 {cnt['逾期未公开']} 条",
            border=True)
t[3].metric("未到期", f"{cnt['未到期未公开']} 条", help="截止日时尚未到公开期限、也未公开的事项，不计入及时率",
            border=True)
t[4].metric("及时率" if unit else "总体及时率", viz.pct(rate), border=True,
            help="按时 ÷（按时 + 逾期）" + ("" if unit else "，按所选范围内全部事项合计"))

# units without an accepted submission: grey 未报送 bars at the end (no ledger, no rate; not in the averages)
missing = sc[~sc["submitted"]]
if utype:
    missing = missing[missing["unit_type"] == utype]
units_n = q.summary(year, utype)  # registered and not submitted units of the scope (metrics.summary)
if not unit and units_n["not_submitted"]:
    st.warning(f"{scope}共 {units_n['registered']} 个单位，其中未报送 {units_n['not_submitted']} 个："
               + "、".join(md(n) for n in missing["unit"])
               + "。未报送的单位没有台账，不计及时率，也不计入平均；下图以灰色“未报送”列出。", icon=":material/mail:")
if not unit:
    st.caption("“总体及时率”把所选范围内全部事项合在一起算；下图虚线“全县平均”是各单位及时率的平均值"
               "（与总览页“平均及时率”相同），两者口径不同，数值可能略有差别。")
if summ["n"] == 0:
    viz.empty(f"{scope}{year}年度没有计入的主动公开事项。")

# --------------------------------------------------------------------------- per unit bars
rates = pool[["unit", "unit_type", "proactive_rate", "proactive_counted", "proactive_on_time"]].copy()
no_items = rates[rates["proactive_rate"].isna()]["unit"].tolist()
rates = rates.dropna(subset=["proactive_rate"]).sort_values(["proactive_rate", "unit"], ascending=[False, True])
county_avg = q.summary(year)["mean_proactive"]  # the mean of the units' rates, as on 总览
miss_names = [] if unit else missing["unit"].tolist()
if not rates.empty:
    shown, capped = viz.cap_units(rates)
    colors = ["#2f80ed" if unit is None or u == unit else "#c9d3de" for u in shown["unit"]]
    if unit is None:
        colors = ["#2f80ed" if r >= county_avg else "#f28e2b" for r in shown["proactive_rate"]]
    fig = go.Figure()
    fig.add_bar(x=shown["unit"].tolist(), y=[round(float(v), 4) for v in shown["proactive_rate"]],
                marker_color=colors, name="及时率", showlegend=False,
                text=[viz.pct(v, 0) for v in shown["proactive_rate"]] if len(shown) <= 25 else None,
                textposition="outside",
                customdata=[[int(a), int(b)] for a, b in zip(shown["proactive_on_time"], shown["proactive_counted"])],
                hovertemplate="%{x}<br>及时率 %{y:.1%}<br>按时 %{customdata[0]} / 计入 %{customdata[1]}<extra></extra>")
    if miss_names:
        fig.add_bar(x=miss_names, y=[0.04] * len(miss_names), marker_color="#c4cad1", name="未报送", showlegend=False,
                    text=["未报送"] * len(miss_names), textposition="outside", textfont=dict(color="#6b7785"),
                    hovertemplate="%{x}<br>未报送自评材料，没有台账，不计及时率<extra></extra>")
    fig.add_hline(y=round(float(county_avg), 4), line_dash="dash", line_color="#1f2933",
                  annotation_text=f"全县平均 {viz.pct(county_avg)}", annotation_position="top right")
    if utype:
        tavg = q.summary(year, utype)["mean_proactive"]
        fig.add_hline(y=round(float(tavg), 4), line_dash="dot", line_color=viz.TYPE_COLORS[utype],
                      annotation_text=f"{utype}平均 {viz.pct(tavg)}", annotation_position="bottom right")
    fig.update_yaxes(tickformat=".0%", range=[0, 1.12], title="及时率")
    labels, dropped = viz.short_names(shown["unit"].tolist() + miss_names)
    fig.update_xaxes(tickangle=-45, title=None, tickmode="array", tickvals=shown["unit"].tolist() + miss_names,
                     ticktext=labels)
    viz.layout(fig, height=440, showlegend=False, title=dict(text="各单位主动公开及时率（从高到低）"
                                                + ("，仅显示首尾各30个" if capped else ""), font=dict(size=15)))
    viz.show(fig, key="timeliness_rates")
    st.caption(("蓝色：不低于全县平均；橙色：低于全县平均。" if unit is None else f"已突出显示 {md(unit)}。")
               + (f"灰色“未报送”：{'、'.join(md(n) for n in miss_names)}（没有台账，不计入平均）。" if miss_names else "")
               + (f"图中单位名称省略了开头的“{dropped}”。" if dropped else ""))
if no_items:
    st.caption("没有计入事项、无法计算及时率的单位：" + "、".join(md(u) for u in no_items))

# --------------------------------------------------------------------------- histogram + monthly
c1, c2 = st.columns(2)
with c1:
    hist = summ["days_late"]
    if hist.empty:
        viz.empty(f"{scope}没有逾期事项，全部按时公开。" if summ["n"] else "没有可统计的事项。", icon=":material/check_circle:")
    else:
        binned = msum.late_day_bins(hist)
        labels, counts = binned["label"].tolist(), binned["n"].tolist()
        fig = go.Figure()
        fig.add_bar(x=labels, y=counts, marker_color="#f28e2b", name="逾期事项", text=counts, textposition="outside",
                    cliponaxis=False, hovertemplate="逾期 %{x} 个工作日：%{y} 条<extra></extra>")
        fig.update_xaxes(title="逾期工作日数（已公开的算到公开日期，未公开的算到统计截止日）", type="category")
        fig.update_yaxes(title="事项数")
        viz.layout(fig, height=380, bargap=0.15, showlegend=False,
                   title=dict(text=f"逾期天数分布（共 {summ['late_n']} 条，中位数 {summ['late_median']:g} 个工作日）",
                              font=dict(size=15)))
        viz.show(fig, key="timeliness_hist")
with c2:
    mon = summ["monthly"]
    if summ["n"] == 0:
        viz.empty("没有可按月份统计的事项。")
    else:
        fig = go.Figure()
        months = list(range(1, 13))
        for s4 in q.ITEM_STATES:
            part = mon[mon["state4"] == s4].set_index("month")["n"].reindex(months, fill_value=0)
            fig.add_bar(x=[f"{m}月" for m in months], y=[int(v) for v in part], name=s4,
                        marker_color=viz.STATE_COLORS[s4], hovertemplate="%{x} " + s4 + "：%{y} 条<extra></extra>")
        fig.update_yaxes(title="事项数")
        viz.layout(fig, height=380, barmode="stack", legend_traceorder="normal",
                   title=dict(text="按形成月份：公开是否及时", font=dict(size=15)))
        viz.show(fig, key="timeliness_monthly")

# --------------------------------------------------------------------------- requests
st.subheader(f"依申请公开答复（{scope}）")
rq = q.requests(year)
if utype:
    rq = rq[rq["unit_type"] == utype]
if unit:
    rq = rq[rq["unit"] == unit]
if rq.empty:
    if unit:
        viz.empty(f"{md(unit)}{year}年度没有收到依申请公开申请，G1 按期答复率按满分计。")
    else:
        viz.empty(f"{scope}{year}年度没有收到依申请公开申请。")
else:
    rc = msum.request_counts(rq)
    r = st.columns(5)
    r[0].metric("计入申请", f"{rc['n']} 件", border=True)
    r[1].metric("按期答复", f"{rc['on_time']} 件", border=True)
    r[2].metric("逾期答复", f"{rc['late']} 件", border=True)
    r[3].metric("未到答复期限", f"{rc['not_due']} 件", border=True)
    r[4].metric("按期答复率", viz.pct(rc["rate"]) if rc["rate"] is not None else "—", border=True)
    ans = rq.dropna(subset=["days_taken"])
    sampled = len(ans) > SCATTER_CAP
    if sampled:
        ans = ans.sample(SCATTER_CAP, random_state=1)
    if ans.empty:
        viz.empty("所选范围内的申请都还没有答复。")
    else:
        rng = np.random.default_rng(7)
        jitter = rng.uniform(-0.6, 0.6, len(ans))
        fig = go.Figure()
        top = float(max(ans["days_taken"].max(), ans["days_allowed"].max())) + 3
        fig.add_scatter(x=[0, top], y=[0, top], mode="lines", name="期限线（用时 = 期限）",
                        line=dict(dash="dash", color="#888"), hoverinfo="skip")
        for state, color in viz.REQUEST_STATE_COLORS.items():
            m = (ans["state"] == state).to_numpy()
            if not m.any():
                continue
            part = ans[m]
            # numpy arrays: plotly checks a list of thousands of points value by value
            fig.add_scatter(
                x=np.round(part["days_allowed"].to_numpy(dtype="float64") + jitter[m], 2),
                y=part["days_taken"].to_numpy(dtype="int64"), mode="markers", name=f"{state}答复",
                marker=dict(color=color, size=9, opacity=0.8, line=dict(width=0.5, color="#fff")),
                customdata=np.column_stack([part["unit"].to_numpy(dtype=object),
                                            part["request_no"].to_numpy(dtype=object),
                                            part["days_allowed"].to_numpy(dtype="int64").astype(object)]),
                hovertemplate="%{customdata[0]} %{customdata[1]}<br>用时 %{y} 个工作日 / 期限 %{customdata[2]} 个工作日"
                              "<extra></extra>")
        fig.update_xaxes(title="答复期限（工作日；延期的为延长后的期限）", range=[0, top])
        fig.update_yaxes(title="实际用时（工作日）", range=[0, top])
        viz.layout(fig, height=420, title=dict(text="答复用时与期限：点在虚线上方即为超期", font=dict(size=15)))
        viz.show(fig, key="timeliness_requests")
    if sampled:
        st.caption(f"申请较多，图中随机抽取 {SCATTER_CAP} 件显示；统计数字按全部申请计算。")
    unanswered = rc["unanswered"]
    if unanswered:
        st.caption(f"尚未答复的申请 {unanswered} 件（图中未画出），见下方清单。")

# --------------------------------------------------------------------------- lists
st.subheader("逾期和未到期清单")
tab_items, tab_req = st.tabs(["主动公开事项", "依申请公开"])
with tab_items:
    a, b = st.columns(2)
    states = a.multiselect("状态", [ItemState.LATE, ItemState.NOT_DUE], default=[ItemState.LATE, ItemState.NOT_DUE], key="timeliness_states",
                           placeholder="请选择状态")
    cats = b.multiselect("公开类别（不选为全部）", [c.name for c in load_catalogue().categories],
                         key="timeliness_cats", placeholder="全部类别")

    def item_listing(frame):
        return pd.DataFrame({
            "单位": frame["unit"].astype(str), "类型": frame["unit_type"].astype(str),
            "台账行号": frame["sheet_row"], "信息名称": frame["title"],
            "公开类别": frame["category_name"].astype(str), "形成日期": frame["formed"].dt.date,
            "公开期限": frame["deadline"].dt.date, "公开日期": frame["published"].dt.date,
            "状态": frame["state4"].astype(str), "逾期工作日": frame["days_late"],
        })

    def exceptions():
        ex = q.item_exceptions(year, utype, unit, states=states, categories=cats)
        return ex.sort_values(["state4", "days_late", "unit"], ascending=[True, False, True])

    # a province (no unit chosen): hundreds of thousands of items, read only for the download (on click)
    ex = None if unit is None and len(pool) > viz.LIST_MAX_UNITS else exceptions()
    if ex is None:
        n_ex = late + cnt["未到期未公开"]
        st.info(f"所选范围有 {len(pool)} 个已报送单位、逾期和未到期事项 {n_ex} 条，不在页面上逐条列出："
                "请在上方“单位”中选择一个单位查看其清单，或下载所选状态和类别的全部清单（点击后生成，需要一些时间）。",
                icon=":material/filter_alt:")
        viz.download_table(None, f"{year}年度逾期和未到期事项（{scope}）", "timeliness_items_dl", xlsx=True,
                           build=lambda: item_listing(exceptions()), rows=max(n_ex, viz.LAZY_ROWS + 1))
    elif ex.empty:
        viz.empty("没有符合条件的逾期或未到期事项。" if states else "请至少选择一种状态。", icon=":material/check_circle:")
    else:
        more = len(ex) > viz.TABLE_ROW_CAP
        st.caption(f"共 {len(ex)} 条" + (f"，下表显示逾期最久的前 {viz.TABLE_ROW_CAP} 条，下载可得全部" if more else "")
                   + "。逾期工作日：已公开的算到公开日期，未公开的算到统计截止日。")
        st.dataframe(item_listing(ex.head(viz.TABLE_ROW_CAP)), hide_index=True, placeholder="",
                     key="timeliness_items")
        viz.download_table(None, f"{year}年度逾期和未到期事项（{scope}）", "timeliness_items_dl", xlsx=True,
                           build=lambda e=ex: item_listing(e), rows=len(ex))
with tab_req:
    rx = rq[rq["state"] != ItemState.ON_TIME] if not rq.empty else rq
    if rx.empty:
        viz.empty("没有逾期或未到期的依申请公开申请。", icon=":material/check_circle:")
    else:
        # overdue first (what needs chasing), then pending; longest overdue first
        rx = rx.sort_values(["state", "days_late", "unit"], ascending=[True, False, True],
                            key=lambda c: c.map({ItemState.LATE: 0, ItemState.NOT_DUE: 1}) if c.name == "state" else c)

        def request_listing(frame):
            return pd.DataFrame({
                "单位": frame["unit"], "类型": frame["unit_type"], "申请编号": frame["request_no"],
                "收到日期": frame["received"], "补正日期": frame["corrected"],
                "是否延期": frame["extended"].map({True: "是", False: "否"}), "答复期限": frame["deadline"],
                "答复日期": frame["answered"], "状态": frame["state"], "期限（工作日）": frame["days_allowed"],
                "逾期工作日": frame["days_late"], "适用条款": frame["rule_basis"],
            })

        st.caption(f"共 {len(rx)} 件" + (f"，下表显示前 {viz.TABLE_ROW_CAP} 件，下载可得全部" if len(rx) > viz.TABLE_ROW_CAP
                                         else "") + "。")
        st.dataframe(request_listing(rx.head(viz.TABLE_ROW_CAP)), hide_index=True, placeholder="",
                     key="timeliness_req_list")
        viz.download_table(None, f"{year}年度逾期和未到期申请（{scope}）", "timeliness_req_dl", xlsx=True,
                           build=lambda f=rx: request_listing(f), rows=len(rx))
