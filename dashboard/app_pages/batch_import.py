"""批量导入: many workbooks at once (e.g. a folder received by e-mail), with the
day they reached the county as their received date; a result per file."""
from __future__ import annotations

import datetime as dt

import streamlit as st

from dashboard.common import REVIEW_ROLES, db, require_role
from core.workbook import UPLOAD_TYPES
from dashboard.ui import show_results, submit_with_progress

user = require_role(*REVIEW_ROLES)
con = db()

st.title("批量导入")
st.caption("一次选择多个单位的自评表文件（例如通过邮件收到的一批文件）。每个文件单独校验：合格的保存为该单位的新版本，"
           "有错误的整份拒收（不保存任何数据），互不影响。")
received = st.date_input("收到日期（文件送达县里的日期，作为这批文件的报送日期）", value=dt.date.today(),
                         max_value=dt.date.today(), key="batch_received", format="YYYY-MM-DD")
nonce = st.session_state.setdefault("batch_nonce", 0)
files = st.file_uploader("选择自评表文件（可多选）", type=UPLOAD_TYPES,
                         accept_multiple_files=True, key=f"batch_files_{nonce}")
if files:
    st.caption(f"已选择 {len(files)} 个文件。")
if st.button("开始导入", type="primary", disabled=not files, key="batch_submit", icon=":material/upload:"):
    submit_with_progress(con, files, user=user, received=received, prefix="batch", verb="导入")

stored = st.session_state.get("batch_results")
if stored:
    res = stored["results"]
    ok = sum(r.outcome == "accepted" for r in res)
    same = sum(r.outcome == "unchanged" for r in res)
    bad = sum(r.outcome == "rejected" for r in res)
    st.markdown(f"**导入结果**（收到日期 {stored['received'].isoformat()}）：共 {len(res)} 个文件，"
                f":green[已接收 {ok}]，:gray[未变化 {same}]，:red[已拒收 {bad}]")
    show_results(res, key="batch_result")
