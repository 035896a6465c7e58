"""年度流程: the year's stage (填报 → 审核 → 公示 → 定稿) and its moves —
start the review, publish the 公示稿, finalise (early with a reason, admins),
go back a stage (admins, reason required) — upload permits during 审核, the
催报名单 and the list of result snapshots."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from dashboard.common import REVIEW_ROLES, after_write, db, db_lock, md_escape, require_role, \
    selected_year, show_flash
from dashboard.ui import show_error
from data import closing as dc
from metrics import closing as mc
from core.scheme import scheme_for

user = require_role(*REVIEW_ROLES)
con = db()
year = selected_year()
scheme = scheme_for(year)
is_admin = user["role"] == "admin"

st.title("年度流程")
show_flash("yc_flash")
stage = dc.get_stage(con, year)
cur = stage["stage"]
steps = "　→　".join(f"**【{s}】**" if s == cur else s for s in dc.STAGES)
st.markdown(f"{year}年度当前阶段：{steps}")
if cur == dc.PUBLICITY and stage["publicity_end"]:
    st.info(f"公示期：{stage['publicity_start']:%Y年%m月%d日} 至 {stage['publicity_end']:%Y年%m月%d日}"
            f"（{mc.publicity_days(scheme)} 个工作日），期内各单位可提出申诉。", icon=":material/campaign:")
if stage["reason"]:
    st.caption("上次阶段变更说明：" + md_escape(stage["reason"]))


def _do(fn, ok: str) -> None:
    try:
        with db_lock():
            fn()
    except dc.ClosingError as e:
        show_error(e)
        return
    after_write("yc_flash", ok)


today = dt.date.today()
st.subheader("本阶段的操作")
if cur == dc.FILING:
    end = mc.late_window_end(con, scheme)
    st.write(f"报送截止日 {scheme.cutoff:%Y-%m-%d}，逾期报送期限至 {end:%Y-%m-%d}。之后可结束填报、开始审核："
             "此后只有被退回或经考核组重新开放报送的单位可以上传。")
    if st.button("结束填报，开始审核", type="primary", key="yc_start_review", icon=":material/fact_check:"):
        _do(lambda: mc.start_review(con, year, user), f"{year}年度已进入审核阶段")
elif cur == dc.REVIEW:
    bad = mc.not_approved(con, year)
    if len(bad):
        st.warning(f"还有 {len(bad)} 个已报送单位未审核通过，全部审核通过后才能发布：", icon=":material/pending:")
        st.dataframe(bad.rename(columns={"unit": "单位", "unit_type": "类型", "status": "状态"}), hide_index=True,
                     key="yc_not_approved")
    else:
        st.success("已报送单位全部审核通过，可以发布考核结果。")
    st.caption(f"发布后生成公示稿（冻结全部得分、等次、排名），公示期为 {mc.publicity_days(scheme)} 个工作日，从发布当天起算。")
    if st.button("发布考核结果（进入公示）", type="primary", disabled=bool(len(bad)), key="yc_publish",
                 icon=":material/campaign:"):
        _do(lambda: mc.publish(con, year, user), f"{year}年度考核结果已发布（公示稿）")
    with st.expander("重新开放报送（补报）"):
        q = mc.chase_list(con, year)
        missing = [u for u, s in zip(q["单位名称"], q["状态"]) if s == "未报送"]
        if not missing:
            st.caption("没有未报送的单位。被退回的单位无需重新开放，可直接重新上传。")
        else:
            with st.form("yc_permit_form"):
                unit = st.selectbox("单位", missing, key="yc_permit_unit")
                why = st.text_input("理由（记入审计日志）", key="yc_permit_reason", placeholder="例如：系统故障未能按时上传")
                if st.form_submit_button("允许该单位上传"):
                    _do(lambda: dc.permit_upload(con, unit, year, why, user), f"已允许 {md_escape(unit)} 上传 {year}年度自评表")
        permits = dc.upload_permits(con, year)
        if len(permits):
            st.dataframe(permits.rename(columns={"unit": "单位", "reason": "理由", "granted_by": "操作人",
                                                 "granted_at": "时间"}), hide_index=True, key="yc_permits")
elif cur == dc.PUBLICITY:
    open_ = dc.appeals(con, year, status=dc.OPEN)
    all_ = dc.appeals(con, year)
    st.write(f"申诉：共 {len(all_)} 条，待答复 {len(open_)} 条（在“申诉处理”页答复）。")
    ended = stage["publicity_end"] is not None and today > stage["publicity_end"]
    if ended and not len(open_):
        st.success("公示期已结束，申诉均已答复，可以定稿。")
    if st.button("定稿", type="primary", disabled=not (ended and not len(open_)), key="yc_finalize",
                 icon=":material/verified:"):
        _do(lambda: mc.finalize(con, year, user), f"{year}年度考核结果已定稿")
    if is_admin and not (ended and not len(open_)):
        with st.form("yc_early_form"):
            st.caption("公示期未结束或仍有未答复申诉时，管理员可以填写理由提前定稿（记入审计日志和定稿）。")
            why = st.text_area("提前定稿的理由", key="yc_early_reason")
            if st.form_submit_button("提前定稿"):
                _do(lambda: mc.finalize(con, year, user, early=True, reason=why), f"{year}年度考核结果已提前定稿")
else:
    st.success(f"{year}年度考核结果已定稿，结果已锁定。")

if is_admin and cur != dc.FILING:
    with st.expander("退回上一阶段（管理员）"):
        prev = dc.STAGES[dc.STAGES.index(cur) - 1]
        st.caption(f"将{year}年度从“{cur}”退回“{prev}”。" + ("当前的结果稿将标记为已撤回（保留可查）。"
                                                            if cur in (dc.PUBLICITY, dc.FINAL) else ""))
        with st.form("yc_back_form"):
            why = st.text_area("退回理由（必填）", key="yc_back_reason")
            if st.form_submit_button(f"退回到“{prev}”"):
                _do(lambda: mc.go_back(con, year, user, why), f"{year}年度已退回“{prev}”阶段")

st.subheader("催报名单")
chase = mc.chase_list(con, year)
if len(chase):
    st.caption(f"未报送或被退回的单位 {len(chase)} 个，附最近一次报送的填报人和联系电话。")
    st.dataframe(chase, hide_index=True, key="yc_chase")
    st.download_button("下载催报名单（Excel）", mc.chase_list_xlsx(con, year), file_name=f"{year}年度催报名单.xlsx",
                       mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                       icon=":material/download:", key="yc_chase_xlsx", on_click="ignore")
else:
    st.caption("所有单位均已报送且未被退回。")

st.subheader("结果稿")
snaps = dc.snapshots(con, year)
if not snaps:
    st.caption("尚未发布考核结果。")
else:
    rows = [{"编号": s["id"], "类别": s["kind"], "日期": s["made_on"],
             "公示期": f"{s['publicity_start']} 至 {s['publicity_end']}" if s["publicity_start"] else "",
             "操作人": s["created_by"] or "", "提前定稿理由": s["early_reason"] or "",
             "状态": f"已撤回：{s['withdrawn_reason']}" if s["withdrawn_at"] else "有效"} for s in snaps]
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="yc_snapshots")
