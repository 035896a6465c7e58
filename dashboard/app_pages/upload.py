"""上报自评: a unit downloads its pre-filled template, uploads its workbook(s),
sees each file's validation report, its submission history and its current
scorecard. A unit account only ever sees and acts on its own unit; a reviewer
or administrator may pick a unit (代为上报)."""
from __future__ import annotations

import datetime as dt

import streamlit as st

from dashboard.common import (UPLOAD_ROLES, db, require_role, selected_year,
                              show_flash, show_todo)
from core.workbook import UPLOAD_TYPES
from dashboard.reconcile_ui import unit_section as reconcile_section
from dashboard.ui import history_table, show_results, status_banner, submit_with_progress, unit_scorecard
from dashboard.text import md
from data.registry import Unit, get_units
from data.review import current_submission
from data.history import get_original_file, submission_history
from core.vocab import Status
from core.scheme import scheme_for


user = require_role(*UPLOAD_ROLES)
con = db()
year = selected_year()
scheme = scheme_for(year)
units = get_units(con)

st.title("上报自评")
if user["role"] == "unit":
    show_todo(con, user, key="upload")
if user["role"] == "unit":
    unit = user["unit"]  # never from the session: a unit account acts on its own unit only
    if unit not in units:
        st.error("此账号对应的单位不在单位名录中，请联系管理员。")
        st.stop()
else:
    if not units:
        st.warning("单位名录为空，请管理员先在“管理”页导入单位名录。")
        st.stop()
    names = list(units)
    if st.session_state.get("upload_unit") not in names:
        st.session_state["upload_unit"] = names[0]
    unit = st.selectbox("代为上报的单位", names, key="upload_unit",
                        help="考核组或管理员可以替单位上传自评表（例如单位通过邮件报送的文件）")

show_flash("upload_flash")
state = status_banner(con, year, unit)
deadline = scheme.cutoff
st.caption(f"{year}年度自评材料报送截止日：{deadline.isoformat()}（以系统收到文件的日期为准；逾期报送影响“按时报送”指标得分）")
if state["status"] == Status.MISSING and dt.date.today() > deadline:
    st.warning(f"{year}年度报送截止日（{deadline.isoformat()}）已过，现在上传将按逾期报送计分（“按时报送”指标按收到日期扣分）。"
               "如材料此前已通过其他方式按时报送，请联系考核组按实际收到日期批量导入。", icon=":material/schedule:")


@st.cache_data(show_spinner=False, max_entries=64)
def _template(name: str, unit_type: str, extras: tuple, year: int) -> bytes:
    from data.template import build_template

    return build_template(scheme_for(year), Unit(name, unit_type, extras))


st.subheader("① 下载自评表模板")
u = units[unit]
try:
    tpl = _template(u.name, u.unit_type, tuple(u.extra_categories), year)
except Exception as e:  # the template writer must never break the page
    st.error(f"模板生成失败：{md(e)}")
else:
    from data.template import template_file_name

    st.download_button(f"下载 {md(unit)} {year}年度自评表模板", tpl, file_name=template_file_name(scheme, u),
                       mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                       icon=":material/download:", key="upload_template")
    st.caption("模板已填好单位名称、单位类型和考核年度；“自评打分”列出本年度全部指标及分值，"
               "两张台账带有下拉选项。请用 Excel 或 WPS 填写后保存为 .xlsx（或 .xls）上传。")

st.subheader("② 上传填好的自评表")
locked = state["status"] == Status.APPROVED
if locked:
    st.info("本年度材料已审核通过，不能再上传。")
nonce = st.session_state.setdefault("upload_nonce", 0)
files = st.file_uploader("选择自评表文件（可多选）", type=UPLOAD_TYPES, accept_multiple_files=True,
                         key=f"upload_files_{nonce}", disabled=locked,
                         help="支持 .xlsx、.xlsm、.xls、.ods，单个文件不超过 20 MB；WPS 格式（.et）请先另存为 .xlsx")
if st.button("上传并校验", type="primary", disabled=locked or not files, key="upload_submit",
             icon=":material/upload:"):
    submit_with_progress(con, files, user=user, received=dt.date.today(), prefix="upload", verb="校验", unit=unit)

stored = st.session_state.get("upload_results")
if stored and stored.get("unit") == unit:
    show_results(stored["results"], key="upload_result", title="本次上传结果")

st.subheader("③ 上报记录")
history_table(submission_history(con, unit, year), key="upload_history")
cur = current_submission(con, unit, year)
if cur is not None:
    name, content = get_original_file(con, cur.id, unit=unit)
    st.download_button(f"下载当前版本（第{cur.version}版）原文件", content, file_name=name,
                       icon=":material/download:", key="upload_original")

st.subheader("④ 本单位当前得分")
unit_scorecard(con, year, unit, key="upload_card")

if scheme.annual_report != "none" and cur is not None:
    st.subheader("⑤ 年报勾稽")
    reconcile_section(con, year, unit, key="upload_reconcile", for_unit=True)
