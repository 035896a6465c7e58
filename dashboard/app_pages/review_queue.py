"""审核队列: every registered unit for the year with its status, late
submission mark, version count, self total and final total; filters; a unit
is opened in 单位审核."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.common import REVIEW_ROLES, db, require_role, selected_year, show_todo
from dashboard.ui import dstr, fit_height, score_text
from data.registry import get_units
from metrics.readouts import review_queue
from metrics.summary import queue_counts
from core.vocab import STATUSES, UNIT_TYPES, Status

user = require_role(*REVIEW_ROLES)
con = db()
year = selected_year()

st.title("审核队列")
show_todo(con, user, key="review_queue")
q = review_queue(con, year)
if q.attrs.get("provisional"):
    st.warning("暂定结果：" + q.attrs.get("provisional_reason", ""), icon=":material/warning:")
if not len(q):
    st.info("单位名录为空，请管理员先在“管理”页导入单位名录。")
    st.stop()

counts = queue_counts(q)
cols = st.columns(5)
cols[0].metric("单位总数", counts["units"])
for c, s in zip(cols[1:], (Status.PENDING, Status.RETURNED, Status.APPROVED, Status.MISSING)):
    c.metric(s, counts["statuses"][s])
late_n = counts["late"]
if late_n:
    st.caption(f"其中 {late_n} 个单位逾期报送（首次收到日期晚于截止日）。")

f1, f2, f3 = st.columns([3, 2, 2])
status_sel = f1.multiselect("状态", list(STATUSES), default=[Status.PENDING, Status.RETURNED, Status.APPROVED, Status.MISSING],
                            key="review_queue_status", placeholder="请选择要显示的状态")
type_sel = f2.multiselect("单位类型", list(UNIT_TYPES), default=list(UNIT_TYPES), key="review_queue_type",
                          placeholder="请选择单位类型")
only_late = f3.toggle("只看逾期报送", key="review_queue_late")

view = q[q["status"].isin(status_sel) & q["unit_type"].isin(type_sel)]
if only_late:
    view = view[view["late_submission"]]
# work to do first (待审核, 已退回, 已审核, 未报送), within a status in the order of the unit registry
order = {Status.PENDING: 0, Status.RETURNED: 1, Status.APPROVED: 2, Status.MISSING: 3}
registry = {name: n for n, name in enumerate(get_units(con))}
view = view.assign(_o=view["status"].map(order), _r=view["unit"].map(registry)).sort_values(["_o", "_r"], kind="stable")

table = pd.DataFrame({
    "单位": view["unit"], "类型": view["unit_type"], "状态": view["status"],
    "报送": view.apply(lambda r: "逾期报送" if r["late_submission"] else ("按时" if r["versions"] else ""), axis=1),
    "版本数": view["versions"], "首次收到": view["received"].map(dstr),
    "最近上传": view["last_upload"].map(dstr),
    "自评总分": view["self_total"].map(score_text), "最终得分": view["total"].map(score_text),
    "等次": view["grade"].fillna(""),
    "被拒收次数": view["rejected_attempts"], "审核意见": [f"{c}（{b or '考核组'}）" if isinstance(c, str) and c else "" for c, b in zip(view["comment"], view["comment_by"])],
}).reset_index(drop=True)


def _style(row):
    out = [""] * len(row)
    colors = {Status.PENDING: "#fff4ce", Status.RETURNED: "#fde2e1", Status.APPROVED: "#e6f4ea", Status.MISSING: "#f1f3f4"}
    i = list(row.index).index("状态")
    out[i] = f"background-color: {colors.get(row['状态'], '')}"
    if row["报送"] == "逾期报送":
        out[list(row.index).index("报送")] = "background-color: #fde2e1; color: #b3261e; font-weight: bold"
    return out


if not len(table):
    st.info("没有符合筛选条件的单位。" + ("请在上方“状态”和“单位类型”中至少各选一项。" if not status_sel or not type_sel else ""))
cap, more = st.columns([4, 1], vertical_alignment="center")
cap.caption(f"共 {len(table)} 个单位。点选一行或在下方选择单位，进入“单位审核”。")
all_cols = more.toggle("显示全部列", key="review_queue_all_cols", help="另外显示“首次收到”和“被拒收次数”")
# at 1440 px every column a reviewer needs is on screen, 审核意见 included; the rest behind the toggle
shown = ["单位", "类型", "状态", "报送", "版本数", "最近上传", "自评总分", "最终得分", "等次", "审核意见"]
if all_cols:
    shown[5:5] = ["首次收到"]
    shown[-1:-1] = ["被拒收次数"]
event = st.dataframe(table.style.apply(_style, axis=1), column_order=shown,
                     column_config={"单位": st.column_config.TextColumn("单位", pinned=True, width=190),
                                    "类型": st.column_config.TextColumn("类型", width=48),
                                    "状态": st.column_config.TextColumn("状态", width=64),
                                    "报送": st.column_config.TextColumn("报送", width=72),
                                    "版本数": st.column_config.NumberColumn("版本", width=48),
                                    "首次收到": st.column_config.TextColumn("首次收到", width=92),
                                    "最近上传": st.column_config.TextColumn("最近上传", width=128),
                                    "自评总分": st.column_config.TextColumn("自评总分", alignment="right", width=72),
                                    "最终得分": st.column_config.TextColumn("最终得分", alignment="right", width=72),
                                    "等次": st.column_config.TextColumn("等次", width=56),
                                    "被拒收次数": st.column_config.NumberColumn("被拒收", width=56),
                                    "审核意见": st.column_config.TextColumn("审核意见", width="large")},
                     hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row",
                     key="review_queue_table", height=fit_height(len(table), max_rows=60))


def _open(unit: str) -> None:
    st.session_state["review_unit"] = unit
    st.switch_page("app_pages/review_unit.py")


rows = event.selection.rows if event is not None and hasattr(event, "selection") else []
if rows:
    _open(table.iloc[rows[0]]["单位"])

c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
names = list(table["单位"]) or list(q["unit"])
pick = c1.selectbox("选择单位", names, key="review_queue_pick")
if c2.button("审核该单位", type="primary", key="review_queue_open", icon=":material/fact_check:"):
    _open(pick)
