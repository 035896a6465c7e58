"""年报勾稽 on the pages: one unit's findings and report (上报自评, 单位审核), and
the pieces of the county page. Users' text (unit names, messages) is shown in
tables, never as Markdown."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from data.reconcile import RULES
from metrics import reconcile

STATUS_BADGE = {reconcile.CONSISTENT: ":green-badge[一致]", reconcile.INCONSISTENT: ":red-badge[有问题]",
                reconcile.NOT_FILLED: ":gray-badge[未填报]", reconcile.NOT_SUBMITTED: ":gray-badge[未报送]"}
CELL_BG = {reconcile.PASSED: "background-color: #e3f4e1", reconcile.FAILED: "background-color: #fbe0dd",
           reconcile.NOT_FILLED: "color: #8a8a8a", reconcile.NOT_SUBMITTED: "color: #8a8a8a",
           reconcile.CONSISTENT: "background-color: #e3f4e1", reconcile.INCONSISTENT: "background-color: #fbe0dd"}


def findings_table(df: pd.DataFrame, *, key: str, with_unit: bool = False) -> None:
    """位置, 规则, 年报中的数, 应为, 说明 (and 单位)."""
    cols = {"location": "位置", "rule": "规则", "actual": "年报数", "expected": "对照数", "message": "说明"}
    if with_unit:
        cols = {"unit": "单位", **cols}
    view = df[list(cols)].rename(columns=cols)
    view["规则"] = view["规则"].map(lambda r: f"{r} {RULES.get(r, '')}")
    st.dataframe(view, hide_index=True, width="stretch", key=key,
                 column_config={"说明": st.column_config.TextColumn(width="large"),
                                "规则": st.column_config.TextColumn(width="medium")})


def unit_section(con, year: int, unit: str, *, key: str, for_unit: bool = False) -> None:
    """A unit's 年报勾稽: status, the findings with both numbers and the cell, the tables as read."""
    rep = reconcile.unit_report(con, year, unit)
    status = rep["status"]
    st.markdown(f"**年报勾稽**　{STATUS_BADGE[status]}")
    if status == reconcile.NOT_SUBMITTED:
        st.caption("尚未报送本年度自评材料。")
        return
    if status == reconcile.NOT_FILLED:
        st.caption("当前版本没有填报“年报数据”工作表（年度报告表三、表四），未作勾稽。")
        return
    f = rep["findings"]
    if len(f):
        st.warning(f"年度报告表三、表四的数字有 {len(f)} 处不一致（警告，不影响接收）。"
                   + ("年度报告已公布的，请按规定程序更正，本表仍应照抄已公布的数字。" if for_unit else
                      "“对照数”为同一规则另一边的合计或台账中的件数。"), icon=":material/rule:")
        findings_table(f, key=f"{key}_findings")
    else:
        st.success(f"表内勾稽（T1–T4）和与依申请公开台账的核对（L1–L4）全部通过（{rep['edition']}年版格式）。",
                   icon=":material/check_circle:")
    with st.expander("年报表三、表四（按上报的数字）"):
        st.caption(f"表三 收到和处理政府信息公开申请情况（{rep['edition']}年版格式）")
        st.dataframe(rep["table3"], hide_index=True, width="stretch", key=f"{key}_t3")
        st.caption("表四 政府信息公开行政复议、行政诉讼情况")
        st.dataframe(rep["table4"], hide_index=True, width="stretch", key=f"{key}_t4")


def matrix_table(m: pd.DataFrame, *, key: str) -> None:
    rules = list(reconcile.RULE_CODES)
    view = m[["unit", "unit_type", "status", "findings", *rules]].rename(
        columns={"unit": "单位", "unit_type": "类型", "status": "勾稽结果", "findings": "问题数"})
    styled = view.style.map(lambda v: CELL_BG.get(v, ""), subset=rules + ["勾稽结果"])
    st.dataframe(styled, hide_index=True, width="stretch", key=key,
                 column_config={r: st.column_config.TextColumn(r, help=RULES[r], width="small") for r in rules})
