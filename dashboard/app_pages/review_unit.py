"""单位审核: one unit-year in full — indicators with self score, note and
evidence, the reviewer's score and reason; the ledgers with deadlines and
states; 通过 / 退回 / 重新打开; penalties K1/K2; the audit trail; the original
file. The total and grade at the top are recomputed after every change."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

import pandas as pd
import streamlit as st

from dashboard.common import (REVIEW_ROLES, bump_data_version, db, db_lock, flash, require_role,
                              selected_year, show_flash)
from dashboard.ui import (audit_viewer, badge, coverage_section, dstr, fit_height, fmt2, history_table, num,
                          timeliness_section)
from dashboard.text import md, md_link
from data.registry import get_units
from data.review import (ReviewError, apply_review_scores, current_submission, evidence_links,
                         get_original_file, get_penalties, set_penalties, set_status,
                         submission_history, versions, workflow_state)
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
    h[4].markdown(f"**当前版本**：第{sub.version}版（共{card['version']}版）  \n"
                  f"首次报送收到日期：{dstr(card['received'])}　"
                  + (":red-badge[逾期报送]" if late else ":green-badge[按时报送]")
                  + (f"  \n本版收到日期：{dstr(sub.received)}" if sub.received != card["received"] else ""))
if state["comment"]:
    st.caption(f"最近审核意见（{md(state['updated_by'])} {dstr(state['updated_at'])}）：{md(state['comment'])}")
k1, k2 = int(card["k1_count"] or 0), bool(card["k2_veto"])
if k1 or k2:
    st.warning(f"扣分：K1 被上级通报批评 {k1} 次（−{fmt2(scheme.k1_points * k1)} 分）"
               + ("；K2 一票否决，等次为不合格" if k2 else ""))

if sub is None:
    st.info(f"{md(unit)} 尚未报送 {year} 年度自评材料。")
    with st.expander("上报记录与操作日志", expanded=True):
        history_table(submission_history(con, unit, year), key="review_history_missing")
        audit_viewer(con, key="review_audit_missing", unit=unit, year=year)
    st.stop()

locked = state["status"] == Status.APPROVED


def _fmt(v) -> str:
    return format(Decimal(str(v)).quantize(Decimal("0.01")), "f")  # points always with two decimals


def _dec(text):
    """A typed score as Decimal (2 dp), None when empty or not a number (the save reports it)."""
    try:
        t = str(text).strip().rstrip("分").strip()
        return Decimal(t).quantize(Decimal("0.01")) if t else None
    except (InvalidOperation, ValueError):
        return None


def _write(fn, ok_message: str, unchanged_message: str | None = None) -> None:
    """Run one write; on success flash, refresh caches and rerun (the header updates).
    With ``unchanged_message``, a write that reports False (nothing changed) says so instead."""
    try:
        with db_lock():
            changed = fn()
    except ReviewError as e:
        for p in e.problems:
            st.error(md(p))
        return
    if unchanged_message is not None and changed is False:
        st.info(unchanged_message)
        return
    flash("review_flash", ok_message)
    bump_data_version()
    st.rerun()


# ---- the indicators (needed by the decision too: approving with unsaved edits would drop them)
sheet = indicator_sheet(con, year, unit)
own = sheet[sheet["type"] != "auto"].reset_index(drop=True)
auto = sheet[sheet["type"] == "auto"].reset_index(drop=True)
base = pd.DataFrame({
    "编号": own["code"], "二级指标": own["text"],
    "满分": own["max"].map(num), "自评分": own["self_score"].map(num),
    "审核分": own["review_score"].map(lambda v: "" if v is None else _fmt(v)),
    "调整理由": own["review_reason"].fillna(""),
    "最终得分": own["points"].map(num),
    "自评说明": own["self_note"].fillna(""),
    "佐证": [next((u for _, u in evidence_links(e) if u), "") for e in own["evidence"]],
})
nonce = st.session_state.setdefault("review_editor_nonce", 0)
EDITOR_KEY = f"review_editor_{sub.id}_{nonce}"


def _text(v) -> str:
    return "" if v is None or (isinstance(v, float) and v != v) else str(v).strip()


def unsaved_codes() -> list[str]:
    """Indicators whose 审核分 or 调整理由 was edited in the table but not saved."""
    edits = (st.session_state.get(EDITOR_KEY) or {}).get("edited_rows") or {}
    out = []
    for i, change in edits.items():
        i = int(i)
        if not 0 <= i < len(base):
            continue
        old = base.iloc[i]
        new_score = _text(change.get("审核分", old["审核分"]))
        new_reason = _text(change.get("调整理由", old["调整理由"]))
        if (_dec(new_score) != _dec(old["审核分"]) or (new_score and _dec(new_score) is None)
                or new_reason != _text(old["调整理由"])):
            out.append(old["编号"])
    return out


# ---- decision
st.subheader("审核决定")
if state["status"] == Status.PENDING:
    a, b = st.columns(2)
    with a.form(f"review_approve_{unit}_{year}"):
        note = st.text_input("审核意见（可不填）", key="review_approve_note")
        if st.form_submit_button("通过", type="primary", icon=":material/check_circle:"):
            pending = unsaved_codes()
            if pending:
                st.error(f"“指标评分”中 {'、'.join(pending)} 的审核分或调整理由还没有保存。请先点“保存审核分”"
                         "（或把改动改回原值），再点“通过”；否则这些调整不会计入得分。")
            else:
                _write(lambda: set_status(con, unit, year, "approve", note, user["name"]), f"{unit}：已审核通过")
    with b.form(f"review_return_{unit}_{year}"):
        reason = st.text_area("退回意见（必填，单位会看到）", key="review_return_note", height=68,
                              placeholder="例如：B1 缺少征求意见的佐证材料，请补充后重新上传")
        if st.form_submit_button("退回", icon=":material/undo:"):
            _write(lambda: set_status(con, unit, year, "return", reason, user["name"]), f"{unit}：已退回，单位将看到退回意见")
elif state["status"] == Status.RETURNED:
    st.info("已退回，等待单位修改后重新上传（新版本上传后状态自动变为“待审核”）。")
    with st.form(f"review_unreturn_{unit}_{year}"):
        st.caption("如果是误退回，可以撤销退回：状态回到“待审核”，单位无需重新上传。")
        why = st.text_area("撤销退回的原因（必填，记入操作日志）", key="review_unreturn_note", height=68,
                           placeholder="例如：误退回，材料无需修改")
        if st.form_submit_button("撤销退回", icon=":material/undo:"):
            _write(lambda: set_status(con, unit, year, "unreturn", why, user["name"]),
                   f"{md(unit)}：已撤销退回，状态为待审核")
elif locked:
    with st.form(f"review_reopen_{unit}_{year}"):
        st.caption("已审核通过，结果已锁定。重新打开后可以调整得分、扣分，单位也可以重新上传。")
        note = st.text_input("重新打开的原因（可不填）", key="review_reopen_note")
        if st.form_submit_button("重新打开", icon=":material/lock_open:"):
            _write(lambda: set_status(con, unit, year, "reopen", note, user["name"]), f"{unit}：已重新打开，状态为待审核")

tabs = st.tabs(["指标评分", "台账与及时性", "必公开类别覆盖", "扣分", "上报记录与日志"])

# ---- indicators
with tabs[0]:
    prev_adj = con.execute("""SELECT count(*) FROM review_scores r JOIN submissions s ON s.id = r.submission_id
                              WHERE s.unit = ? AND s.year = ? AND s.id <> ?""", [unit, year, sub.id]).fetchone()[0]
    if prev_adj:
        st.caption(f"提示：此前版本有 {prev_adj} 项审核调整；审核调整只作用于当时的版本，当前第{sub.version}版需重新审核。")
    if locked:
        st.info("已审核通过，得分已锁定；如需调整请先“重新打开”。")
    st.caption("在“审核分”一列（可编辑，表头带铅笔标记）填写调整后的分数（留空 = 按自评分计分），与自评分不同时必须填写调整理由；"
               "改完后点“保存审核分”。")
    edited = st.data_editor(
        base, hide_index=True, width="stretch", num_rows="fixed", height=fit_height(len(base)),
        disabled=locked or ["编号", "二级指标", "满分", "自评分", "最终得分", "自评说明", "佐证"],
        column_config={
            "编号": st.column_config.TextColumn(width=45),
            "二级指标": st.column_config.TextColumn(width="large"),
            "满分": st.column_config.NumberColumn(format="%.2f", width=60),
            "自评分": st.column_config.NumberColumn(format="%.2f", width=60),
            "审核分": st.column_config.TextColumn("审核分", width=80, help="留空表示按自评分计分；填 0 到满分之间的数"),
            "调整理由": st.column_config.TextColumn("调整理由", width="medium",
                                                 help="审核分与自评分不同时必填"),
            "最终得分": st.column_config.NumberColumn(format="%.2f", width=70),
            "自评说明": st.column_config.TextColumn(width="small"),
            "佐证": st.column_config.LinkColumn("佐证链接", display_text="打开", width=70),
        },
        key=EDITOR_KEY)
    if st.button("保存审核分", type="primary", disabled=locked, key="review_save_scores", icon=":material/save:"):
        changes = []
        for (_, old), (_, new) in zip(base.iterrows(), edited.iterrows()):
            o_s = _dec(old["审核分"])
            n_raw = new["审核分"] if isinstance(new["审核分"], str) else ("" if new["审核分"] is None else str(new["审核分"]))
            n_raw = n_raw.strip()
            n_reason = new["调整理由"].strip() if isinstance(new["调整理由"], str) else ""
            n_s = _dec(n_raw)
            if not n_raw:
                if o_s is not None:
                    changes.append({"code": old["编号"], "score": None, "reason": ""})
            elif n_s is None or n_s != o_s or n_reason != (old["调整理由"] or ""):
                changes.append({"code": old["编号"], "score": n_raw, "reason": n_reason})
        if not changes:
            st.info("没有需要保存的修改。")
        else:
            def _save():
                n = apply_review_scores(con, sub.id, changes, user["name"])
                st.session_state["review_editor_nonce"] = nonce + 1
                return n
            _write(_save, f"已保存 {len(changes)} 项审核分")
    with st.expander("佐证材料（全部链接）"):
        lines = []
        for r in own.itertuples(index=False):
            ev = evidence_links(r.evidence)
            if ev:
                parts = [md_link(t, u) for t, u in ev]
                lines.append(f"- **{md(r.code)}** {md(r.text)}：" + "；".join(parts))
        st.markdown("\n".join(lines) if lines else "单位未填写佐证材料。")
    st.markdown("**自动计算指标**（由系统根据台账和报送日期计算，不能人工调整）")
    st.dataframe(pd.DataFrame({"编号": auto["code"], "一级指标": auto["group"], "二级指标": auto["text"],
                               "满分": auto["max"].map(num), "得分": auto["points"].map(num)}),
                 hide_index=True, width="stretch", key="review_auto",
                 column_config={"满分": st.column_config.NumberColumn(format="%.2f"),
                                "得分": st.column_config.NumberColumn(format="%.2f")})

with tabs[1]:
    timeliness_section(con, year, unit, card, key="review", only_problems=False)

with tabs[2]:
    coverage_section(con, year, unit, card, key="review")

# ---- penalties
with tabs[3]:
    pen = get_penalties(con, unit, year)
    if pen["reviewer"]:
        st.caption(f"上次设置：{md(pen['reviewer'])} {dstr(pen['updated_at'])}；理由：{md(pen['reason'])}")
    if locked:
        st.info("已审核通过，扣分已锁定；如需修改请先“重新打开”。")
    with st.form(f"review_penalty_{unit}_{year}"):
        k1_in = st.number_input(f"K1 被上级通报批评次数（每次扣 {fmt2(scheme.k1_points)} 分）", min_value=0,
                                max_value=33, step=1, value=pen["k1_count"], disabled=locked)
        k2_in = st.checkbox("K2 发生泄密或违规公开并造成不良影响（一票否决：等次为不合格）", value=pen["k2_veto"],
                            disabled=locked)
        p_reason = st.text_area("理由（必填，如通报文件名称、文号）", value=pen["reason"] or "", disabled=locked)
        if st.form_submit_button("保存扣分", disabled=locked, icon=":material/gavel:"):
            _write(lambda: set_penalties(con, unit, year, int(k1_in), bool(k2_in), p_reason, user["name"]),
                   "扣分已保存", unchanged_message="扣分与理由都没有变化，未作修改。")

# ---- history, audit, original files
with tabs[4]:
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
