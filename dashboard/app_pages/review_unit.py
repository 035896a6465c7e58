"""单位审核: one unit-year in full — indicators with self score, note and
evidence, the reviewer's score and reason; the ledgers with deadlines and
states; 通过 / 退回 / 重新打开; penalties K1/K2; the audit trail; the original
file. The total and grade at the top are recomputed after every change."""
from __future__ import annotations


import streamlit as st

from dashboard.common import (REVIEW_ROLES, after_write, db, db_lock, require_role,
                              selected_year, show_flash)
from dashboard.reconcile_ui import unit_section as reconcile_section
from dashboard.ui import (audit_viewer, badge, coverage_section, dstr, fmt2, history_table, show_error,
                          timeliness_section)
from dashboard.review_editor import auto_table, indicator_form, indicator_table, proposal_panel
from dashboard.text import md
from data.proposals import drop_proposal, proposals
from data.registry import get_units
from data.access import PermissionDenied
from data.review import ReviewError, StaleReview, apply_review_scores, current_submission, get_penalties, set_penalties, set_status, snapshot, workflow_state
from data.history import get_original_file, submission_history, versions
from core.vocab import Status
from metrics.readouts import indicator_sheet
from metrics.engine import score_year
from core.scheme import scheme_for

user = require_role(*REVIEW_ROLES)
con = db()
year = selected_year()
scheme = scheme_for(year)
units = get_units(con)
names = list(units)

st.title("单位审核")
if not names:
    st.info("单位名录为空，请管理员先在“管理”页导入单位名录。")
    st.stop()

# the unit: handed over by 审核队列 in review_unit, or picked here
if st.session_state.get("review_unit") not in names:
    st.session_state["review_unit"] = names[0]
st.session_state["review_unit_select"] = st.session_state["review_unit"]


def _pick() -> None:
    st.session_state["review_unit"] = st.session_state["review_unit_select"]


st.selectbox("单位", names, key="review_unit_select", on_change=_pick,
             format_func=lambda n: f"{n}（{units[n].unit_type}）")
unit = st.session_state["review_unit"]

show_flash("review_flash")
# what this page shows is checked again at every write: the version and change counter the reviewer
# had on screen (kept from the previous run) go with the write, and a change since refuses it
SEEN_KEY = f"review_seen_{unit}_{year}"
seen_now = snapshot(con, unit, year)
on_screen = st.session_state.get(SEEN_KEY) or seen_now
st.session_state[SEEN_KEY] = seen_now
sub = current_submission(con, unit, year)
state = workflow_state(con, unit, year)
card_df = score_year(con, year, unit=unit)
card = card_df.iloc[0]
if card_df.attrs.get("provisional"):
    st.warning("暂定结果：" + card_df.attrs.get("provisional_reason", ""), icon=":material/warning:")

# ---- header: status and the score as it stands now
h = st.columns([1.3, 1, 1, 1, 1.6])
h[0].markdown(f"**审核状态**  \n{badge(state['status'])}")
h[1].metric("最终得分", fmt2(card["total"]) if sub else "—")
h[2].metric("等次", (card["grade"] or "—") if sub else "—")
h[3].metric("自评总分", fmt2(card["self_total"]) if sub else "—")
if sub:
    late = bool(card["late_submission"])
    h[4].markdown(f"**当前版本**：第{sub.version}版（共{card['version']}版） · 修改计数 {seen_now.counter}  \n"
                  f"首次报送收到日期：{dstr(card['received'])}　"
                  + (":red-badge[逾期报送]" if late else ":green-badge[按时报送]")
                  + (f"  \n本版收到日期：{dstr(sub.received)}" if sub.received != card["received"] else ""))
if state["comment"]:
    vs = versions(con, unit, year) if sub else None
    if (state["status"] == Status.PENDING and vs is not None and len(vs) > 1
            and state["updated_by"] == vs.iloc[0]["uploaded_by"]):
        # the status was last set by the unit's re-upload: the comment is still the reviewer's 退回意见
        st.caption(f"上次退回意见（{md(state['comment_by'] or '')} {dstr(state['comment_at'])}）：{md(state['comment'])}"
                   f"（单位已于 {dstr(state['updated_at'])} 上传第{sub.version}版）")
    else:
        st.caption(f"最近审核意见（{md(state['comment_by'] or '')} {dstr(state['comment_at'])}）：{md(state['comment'])}")
k1, k2 = int(card["k1_count"] or 0), bool(card["k2_veto"])
if k1 or k2:
    st.warning(f"扣分：K1 被上级通报批评 {k1} 次（−{fmt2(scheme.k1_points * k1)} 分）"
               + (f"；K2 一票否决，等次为{scheme.fail_grade}" if k2 else ""))

if sub is None:
    st.info(f"{md(unit)} 尚未报送 {year} 年度自评材料。")
    with st.expander("上报记录与操作日志", expanded=True):
        history_table(submission_history(con, unit, year), key="review_history_missing")
        audit_viewer(con, key="review_audit_missing", unit=unit, year=year)
    st.stop()

locked = state["status"] == Status.APPROVED






def _write(fn, ok_message: str, unchanged_message: str | None = None) -> None:
    """Run one write; on success flash, refresh caches and rerun (the header updates).
    With ``unchanged_message``, a write that reports False (nothing changed) says so instead."""
    try:
        with db_lock():
            changed = fn()
    except StaleReview as e:
        st.error(str(e), icon=":material/sync_problem:")
        return
    except PermissionDenied as e:
        st.error(str(e))
        return
    except ReviewError as e:
        show_error(e)
        return
    if unchanged_message is not None and changed is False:
        st.info(unchanged_message)
        return
    after_write("review_flash", ok_message)


# ---- the indicators (needed by the decision too: approving with unsaved edits would drop them)
sheet = indicator_sheet(con, year, unit)
own = sheet[sheet["type"] != "auto"].reset_index(drop=True)
auto = sheet[sheet["type"] == "auto"].reset_index(drop=True)
props = proposals(con, unit, year) if state["status"] == Status.PENDING else proposals(con, unit, year).iloc[0:0]


def _save(changes, message):
    _write(lambda: apply_review_scores(con, sub.id, changes, user, seen=on_screen), message)


def _drop(code, message):
    _write(lambda: drop_proposal(con, unit, year, code, user, seen=on_screen), message)


# ---- decision
st.subheader("审核决定")
if state["status"] == Status.PENDING:
    a, b = st.columns(2)
    with a.form(f"review_approve_{unit}_{year}"):
        note = st.text_input("审核意见（可不填）", key="review_approve_note")
        if st.form_submit_button("通过", type="primary", icon=":material/check_circle:"):
            if len(props):
                st.error(f"上一版的 {len(props)} 项审核调整（{'、'.join(props['code'])}）还没有处理：请在“指标评分”中"
                         "逐项“采用”“修改”或“不采用”后再点“通过”。")
            else:
                _write(lambda: set_status(con, unit, year, "approve", note, user, seen=on_screen), f"{unit}：已审核通过")
    with b.form(f"review_return_{unit}_{year}"):
        reason = st.text_area("退回意见（必填，单位会看到）", key="review_return_note", height=68,
                              placeholder="例如：B1 缺少征求意见的佐证材料，请补充后重新上传")
        if st.form_submit_button("退回", icon=":material/undo:"):
            _write(lambda: set_status(con, unit, year, "return", reason, user, seen=on_screen),
                   f"{unit}：已退回，单位将看到退回意见")
elif state["status"] == Status.RETURNED:
    st.info("已退回，等待单位修改后重新上传（新版本上传后状态自动变为“待审核”）。")
    with st.form(f"review_unreturn_{unit}_{year}"):
        st.caption("如果是误退回，可以撤销退回：状态回到“待审核”，单位无需重新上传。")
        why = st.text_area("撤销退回的原因（必填，记入操作日志）", key="review_unreturn_note", height=68,
                           placeholder="例如：误退回，材料无需修改")
        if st.form_submit_button("撤销退回", icon=":material/undo:"):
            _write(lambda: set_status(con, unit, year, "unreturn", why, user, seen=on_screen),
                   f"{md(unit)}：已撤销退回，状态为待审核")
elif locked:
    with st.form(f"review_reopen_{unit}_{year}"):
        st.caption("已审核通过，结果已锁定。重新打开后可以调整得分、扣分，单位也可以重新上传。")
        note = st.text_input("重新打开的原因（可不填）", key="review_reopen_note")
        if st.form_submit_button("重新打开", icon=":material/lock_open:"):
            _write(lambda: set_status(con, unit, year, "reopen", note, user, seen=on_screen),
                   f"{unit}：已重新打开，状态为待审核")

tabs = st.tabs(["指标评分", "台账与及时性", "必公开类别覆盖", "年报勾稽", "扣分", "上报记录与日志"])

# ---- indicators
with tabs[0]:
    if locked:
        st.info("已审核通过，得分已锁定；如需调整请先“重新打开”。")
    proposal_panel(own, props, key="review_ed", save=_save, drop=_drop, locked=locked)
    st.caption("点选表中一行（或在下方选择指标），在下面的表单里填写审核分和调整理由，再点“保存调整”。"
               "蓝色底纹为已调整的指标；留空审核分 = 按自评分计分。")
    indicator_table(own, props, key="review_ed")
    indicator_form(own, key="review_ed", save=_save, locked=locked)
    auto_table(auto)

with tabs[1]:
    timeliness_section(con, year, unit, card, key="review", only_problems=False)

with tabs[2]:
    coverage_section(con, year, unit, card, key="review")

with tabs[3]:
    reconcile_section(con, year, unit, key="review_reconcile")

# ---- penalties
with tabs[4]:
    pen = get_penalties(con, unit, year)
    if pen["reviewer"]:
        st.caption(f"上次设置：{md(pen['reviewer'])} {dstr(pen['updated_at'])}；理由：{md(pen['reason'] or '')}")
    if locked:
        st.info("已审核通过，扣分已锁定；如需修改请先“重新打开”。")
    with st.form(f"review_penalty_{unit}_{year}"):
        k1_in = st.number_input(f"K1 被上级通报批评次数（每次扣 {fmt2(scheme.k1_points)} 分）", min_value=0,
                                max_value=33, step=1, value=pen["k1_count"], disabled=locked)
        k2_in = st.checkbox(f"K2 发生泄密或违规公开并造成不良影响（一票否决：等次为{scheme.fail_grade}）", value=pen["k2_veto"],
                            disabled=locked)
        p_reason = st.text_area("理由（必填，如通报文件名称、文号）", value=pen["reason"] or "", disabled=locked)
        if st.form_submit_button("保存扣分", disabled=locked, icon=":material/gavel:"):
            _write(lambda: set_penalties(con, unit, year, int(k1_in), bool(k2_in), p_reason, user, seen=on_screen),
                   "扣分已保存", unchanged_message="扣分与理由都没有变化，未作修改。")

# ---- history, audit, original files
with tabs[5]:
    st.markdown("**上报记录**")
    history_table(submission_history(con, unit, year), key="review_history")
    vs = versions(con, unit, year)
    c1, c2 = st.columns([2, 1], vertical_alignment="bottom")
    vid = c1.selectbox("原始文件", list(vs["id"]), key=f"review_file_{unit}_{year}",
                       format_func=lambda i: (lambda r: f"第{r['version']}版 · {r['file_name']} · 收到 {dstr(r['received'])}")(
                           vs[vs["id"] == i].iloc[0]))
    fname, content = get_original_file(con, int(vid))
    c2.download_button("下载原始文件", content, file_name=fname, icon=":material/download:", key="review_download")
    st.markdown("**操作日志**（谁、何时、改了什么）")
    audit_viewer(con, key="review_audit", unit=unit, year=year)
