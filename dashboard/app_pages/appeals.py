"""申诉处理: reviewers see the open appeals of the year with the 公示期
deadline, download the evidence, and answer each with 维持 (reason) or 调整
(new score and reason); answered appeals are listed below."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.common import REVIEW_ROLES, after_write, db, db_lock, md_escape, require_role, \
    selected_year, show_flash
from dashboard.ui import file_size, show_error, score_text
from data import closing as dc
from metrics import closing as mc
from core.scheme import scheme_for

user = require_role(*REVIEW_ROLES)
con = db()
year = selected_year()
scheme = scheme_for(year)

st.title("申诉处理")
show_flash("ap_flash")
stage = dc.get_stage(con, year)
if stage["publicity_end"]:
    st.caption(f"{year}年度当前阶段：{stage['stage']}；公示期 {stage['publicity_start']:%Y-%m-%d} 至 "
               f"{stage['publicity_end']:%Y-%m-%d}（申诉须在公示期内提出）。")
else:
    st.caption(f"{year}年度当前阶段：{stage['stage']}。考核结果发布（公示）后，单位可以提出申诉。")

texts = {i.code: i.text for i in scheme.indicators}
texts.update({"K1": "被上级通报批评扣分", "K2": "一票否决"})
all_ap = dc.appeals(con, year)
open_ap = all_ap[all_ap["status"] == dc.OPEN]
st.subheader(f"待答复（{len(open_ap)}）")
if not len(open_ap):
    st.caption("没有待答复的申诉。")
for r in open_ap.itertuples():
    with st.expander(f"第{r.id}号　{md_escape(r.unit)}　{r.code} {texts.get(r.code, '')}　{r.filed_on:%Y-%m-%d} 提出", expanded=True):
        st.markdown(f"**公示稿得分**：{score_text(r.old_score)}" + ("（扣分）" if r.code == "K1" else ""))
        st.markdown("**申诉理由**：" + md_escape(r.reason))
        st.caption(f"提出人：{md_escape(r.filed_by or '')}；答复期限：定稿前（公示期至 {stage['publicity_end']}）")
        for f in r.files:
            name, content = dc.appeal_file(con, f["id"], user)
            st.download_button(f"下载证明材料：{md_escape(name)}（{file_size(f['size'])}）", content, file_name=name,
                               key=f"ap_file_{f['id']}", icon=":material/download:", on_click="ignore")
        if stage["stage"] != dc.PUBLICITY:
            st.caption("只有公示阶段可以答复。")
            continue
        with st.form(f"ap_form_{r.id}"):
            decision = st.radio("答复结论", [dc.UPHELD, dc.ADJUSTED], horizontal=True, key=f"ap_decision_{r.id}",
                                help="维持：不改变得分；调整：填写调整后的分值" + ("（K1 为调整后的扣分）" if r.code == "K1" else ""))
            if r.code == "K2":
                st.caption("K2 选择“调整”即取消一票否决。")
                new = None
            else:
                hi = r.old_score if r.code == "K1" else mc.indicator_max(year, r.code)
                new = st.text_input("调整后的" + ("扣分" if r.code == "K1" else "分值")
                                    + f"（0 到 {score_text(hi)}，选择“调整”时填写）", key=f"ap_new_{r.id}")
            why = st.text_area("答复理由（必填，单位可见）", key=f"ap_reason_{r.id}")
            if st.form_submit_button("提交答复", type="primary"):
                try:
                    with db_lock():
                        mc.answer_appeal(con, r.id, decision, why, new if decision == dc.ADJUSTED else None, user=user)
                except dc.ClosingError as e:
                    show_error(e)
                else:
                    after_write("ap_flash", f"第{r.id}号申诉已答复：{decision}")

done = all_ap[all_ap["status"] != dc.OPEN]
st.subheader(f"已答复（{len(done)}）")
if len(done):
    rows = [{"编号": r.id, "单位": r.unit, "指标": r.code, "公示稿得分": score_text(r.old_score), "申诉理由": r.reason,
             "结论": r.status, "调整后": score_text(r.new_score, "") if r.new_score is not None else "",
             "答复理由": r.answer or "", "答复人": r.answered_by or "",
             "答复时间": r.answered_at} for r in done.itertuples()]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="ap_done")
else:
    st.caption("暂无。")
