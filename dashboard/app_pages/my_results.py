"""我的得分 (right of reply): once its submission is reviewed, a unit sees its
full scorecard — each indicator's self score, reviewer score, reason and
reviewer, K1/K2 with the reason, and the items behind every automatic
indicator — and during 公示 files an appeal (申诉) with evidence files; the
answers are shown here."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from dashboard.common import after_write, db, db_lock, md_escape, require_role, selected_year, \
    show_flash
from dashboard.text import md
from dashboard.ui import fit_height, fmt2, score_text, show_error
from data import closing as dc
from metrics import closing as mc
from core.scheme import scheme_for

user = require_role("unit")
con = db()
year = selected_year()
unit = user["unit"]
scheme = scheme_for(year)

st.title("我的得分")
st.caption(f"{md_escape(unit)} · {year}年度")
show_flash("my_flash")
v = mc.unit_view(con, year, unit)
if not v["visible"]:
    st.info(f"本单位{year}年度自评材料的审核状态为“{v['status']}”。审核通过后，这里会显示每项指标的自评分、"
            "审核分、调整理由和扣分说明。", icon=":material/hourglass_top:")
    st.stop()

snap = v["snapshot"]
if snap is not None:
    st.success(f"已发布的结果：{mc.snapshot_label(snap)}", icon=":material/verified:")
    if v.get("details_note"):
        st.info(v["details_note"] + "。", icon=":material/info:")
c = st.columns(3)
c[0].metric("最终得分", fmt2(v["total"]) if v["total"] is not None else "—")
c[1].metric("等次", v["grade"] or "—")
c[2].metric("排名（同类单位）", str(v["rank"]) if v["rank"] is not None else "—")

st.subheader("各项指标得分")
ind = v["indicators"]
TYPE = {"self": "自评", "auto": "自动计算", "bonus": "加分"}


def _text(v) -> str:
    """Users' text of a cell; "" for none (pandas gives NaN, Streamlit would print "None")."""
    return v if isinstance(v, str) else ""


# the figures right after the code: a phone (about 360 px for the table) shows them without swiping
table = pd.DataFrame({
    "编号": ind["code"], "满分": [score_text(x) for x in ind["max"]],
    "自评分": [score_text(x, "") for x in ind["self_score"]],
    "审核分": [score_text(x, "") for x in ind["review_score"]],
    "得分": [score_text(x) for x in (ind["published"] if snap is not None else ind["points"])],
    "指标": ind["text"], "类型": [TYPE.get(t, t) for t in ind["type"]],
    "调整理由": [_text(r) for r in ind["review_reason"]],
    "审核人": [_text(r) for r in ind["reviewer"]],
})
_num = {"width": 64, "alignment": "right"}
# every row without an inner scroll bar; the reasons in full below (a table cell cuts long text)
st.dataframe(table, hide_index=True, width="stretch", key="my_indicators", height=fit_height(len(table)),
             column_config={"编号": st.column_config.TextColumn(width=44),  # not pinned: drawn faded grey
                            "指标": st.column_config.TextColumn(width="large"),
                            "满分": st.column_config.TextColumn(**_num), "类型": st.column_config.TextColumn(width=72),
                            "自评分": st.column_config.TextColumn(**_num), "审核分": st.column_config.TextColumn(**_num),
                            "调整理由": st.column_config.TextColumn(width="medium"),
                            "审核人": st.column_config.TextColumn(width=72), "得分": st.column_config.TextColumn(**_num)})
st.caption("得分：" + ("已发布结果中的得分。" if snap is not None else "按当前审核结果计算。")
           + "自评指标以审核分（如有）为准；自动计算指标由系统根据台账计算，依据见下方明细。")
adjusted = [r for r in ind.itertuples(index=False)
            if r.type != "auto" and r.review_score is not None and r.review_score == r.review_score]
if adjusted:
    with st.container(border=True):
        st.markdown(f"**考核组调整了 {len(adjusted)} 项指标的得分**")
        for r in adjusted:
            st.markdown(f"**{md(r.code)}** {md(r.text)}：自评分 {score_text(r.self_score).strip()} → 审核分 "
                        f"**{score_text(r.review_score).strip()}**  \n理由：{md(_text(r.review_reason)) or '（未填写）'}"
                        + (f"（审核人 {md(r.reviewer)}）" if _text(r.reviewer) else ""))

pen = v["penalties"]
st.subheader("扣分与一票否决")
if pen["k1_count"] or pen["k2_veto"]:
    rows = []
    if pen["k1_count"]:
        rows.append({"项目": "K1 被上级通报批评", "情况": f"{pen['k1_count']} 次，扣 {fmt2(pen['k1_points'])} 分",
                     "理由": pen["reason"] or "", "审核人": pen["reviewer"] or ""})
    if pen["k2_veto"]:
        rows.append({"项目": "K2 一票否决", "情况": f"是（等次为{scheme.fail_grade}）", "理由": pen["reason"] or "",
                     "审核人": pen["reviewer"] or ""})
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="my_penalties")
else:
    st.caption("无扣分，无一票否决。")

st.subheader("自动计算指标的依据")
t1, t2, t3 = st.tabs([f"逾期公开的信息（{len(v['late_items'])}）", f"缺失的必公开类别（{len(v['missing_categories'])}）",
                      f"逾期答复的申请（{len(v['late_requests'])}）"])
with t1:
    li = v["late_items"]
    if len(li):
        st.dataframe(li.rename(columns={"sheet_row": "台账行号", "seq": "序号", "title": "信息名称", "category_name": "类别",
                                        "formed": "形成日期", "deadline": "应公开日期", "published": "公开日期",
                                        "days_late": "逾期工作日"}), hide_index=True, width="stretch", key="my_late_items")
    else:
        st.caption("没有逾期公开的信息。")
with t2:
    if v["missing_categories"]:
        st.write("截止日前没有公开任何信息的必公开类别：" + "、".join(v["missing_categories"]))
    else:
        st.caption("必公开类别全部覆盖。")
with t3:
    lr = v["late_requests"]
    if len(lr):
        st.dataframe(lr.rename(columns={"sheet_row": "台账行号", "request_no": "申请编号", "received": "收到日期",
                                        "deadline": "答复期限", "answered": "答复日期", "days_late": "逾期工作日"}),
                     hide_index=True, width="stretch", key="my_late_requests")
    else:
        st.caption("没有逾期答复的申请。")

st.subheader("申诉")
ap = v["appeals"]
if len(ap):
    rows = [{"编号": r.id, "指标": r.code, "提出日期": r.filed_on, "申诉理由": r.reason,
             "证明材料": "、".join(f["file_name"] for f in r.files), "状态": r.status,
             "调整后": score_text(r.new_score, "") if r.new_score is not None else "",
             "答复理由": r.answer or "", "答复人": r.answered_by or ""} for r in ap.itertuples()]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="my_appeals")
else:
    st.caption("本单位本年度没有提出申诉。")

end = v["publicity_end"]
if v["can_appeal"] and end is not None and dt.date.today() <= end:
    open_codes = set(ap[ap["status"] == dc.OPEN]["code"]) if len(ap) else set()
    targets = {k: x for k, x in v["appeal_targets"].items() if k not in open_codes}
    texts = dict(zip(ind["code"], ind["text"]))
    texts.update({"K1": "被上级通报批评扣分", "K2": "一票否决"})
    st.info(f"公示期至 {end:%Y年%m月%d日}。对某项指标或扣分有异议，可在此前提出申诉（每项指标同时只能有一条待答复的申诉）。",
            icon=":material/gavel:")
    with st.form("my_appeal_form", clear_on_submit=True):
        code = st.selectbox("申诉的指标或扣分项", list(targets), key="my_appeal_code",
                            format_func=lambda k: f"{k} {texts.get(k, '')}（公示得分 {score_text(targets[k])}）"
                            if k not in ("K1", "K2") else f"{k} {texts[k]}")
        reason = st.text_area("申诉理由", key="my_appeal_reason", max_chars=dc.MAX_REASON,
                              placeholder="说明认为得分有误的理由，以及可以证明的材料")
        files = st.file_uploader(f"证明材料（可选，最多 {dc.MAX_APPEAL_FILES} 个，每个不超过 "
                                 f"{dc.MAX_APPEAL_FILE_BYTES // 1048576} MB）", accept_multiple_files=True,
                                 key="my_appeal_files", max_upload_size=dc.MAX_APPEAL_FILE_BYTES // 1048576)
        if st.form_submit_button("提交申诉", type="primary"):
            try:
                with db_lock():
                    aid = dc.file_appeal(con, year, unit, code or "", reason,
                                         [(f.name, f.getvalue()) for f in files or []], user=user,
                                         today=dt.date.today())
            except dc.ClosingError as e:
                show_error(e)
            else:
                after_write("my_flash", f"申诉已提交（第{aid}号），考核组答复后会在这里显示")
elif v["stage"] == dc.PUBLICITY and end is not None and dt.date.today() > end:
    st.caption(f"公示期已于 {end:%Y年%m月%d日} 结束，不再受理申诉。")
