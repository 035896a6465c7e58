"""单位审核 → 指标评分: the reviewer's editor.

The grid only shows the indicators (self score, review score, reason, final
points, evidence). A score and its reason are typed in a form for one
indicator at a time, the reason in a text area, so that nothing typed is lost
to a grid cell. After 退回 and a re-upload, the adjustments of the last
reviewed version are offered as proposals (accept as they were, edit first, or
drop), each with its reason and with what the unit changed in its self score.

The page passes ``save(changes, message)`` and ``drop(code, message)``: the
writes go through the page (its lock, its version checks, its messages).
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

import pandas as pd
import streamlit as st

from dashboard.text import md, md_link
from dashboard.ui import fit_height, fmt2, num
from data.history import evidence_links


def two(v) -> str:
    """Points as text with two decimals ("" for none)."""
    return "" if v is None or (isinstance(v, float) and v != v) else fmt2(v)


def dec(text) -> Decimal | None:
    """A typed score as Decimal (2 dp); None when empty or not a number."""
    try:
        t = str(text or "").strip().rstrip("分").strip()
        return Decimal(t).quantize(Decimal("0.01")) if t else None
    except (InvalidOperation, ValueError):
        return None


def proposal_panel(own: pd.DataFrame, props: pd.DataFrame, *, key: str, save, drop, locked: bool) -> None:
    """The earlier version's adjustments offered on this version: 采用 / 修改 / 不采用 per indicator."""
    if props.empty or locked:
        return
    text = dict(zip(own["code"], own["text"]))
    with st.container(border=True):
        st.markdown(f"**第{int(props['from_version'].iloc[0])}版的审核调整（共 {len(props)} 项）：建议沿用到本版**")
        st.caption("每项可以“采用”（按原审核分和理由保存到本版）、“修改”（在下方编辑后保存）或“不采用”（本版按自评分计分）。"
                   "单位在新版本中改过自评分的，请先核对。全部处理完才能“通过”。")
        for r in props.itertuples(index=False):
            c = st.columns([3.2, 2.6, 1, 1, 1], vertical_alignment="center")
            c[0].markdown(f"**{md(r.code)}** {md(text.get(r.code, ''))}  \n理由：{md(r.reason) or '（无）'}")
            change = (f"自评分 {two(r.prev_self)} → **{two(r.cur_self)}**（单位已修改）" if r.self_changed
                      else f"自评分 {two(r.cur_self)}（未变）")
            c[1].markdown(f"{change}  \n建议审核分：**{two(r.prev_review)}**")
            if c[2].button("采用", key=f"{key}_accept_{r.code}", type="primary"):
                if not str(r.reason or "").strip():
                    st.session_state[f"{key}_pick"] = r.code
                    st.session_state[f"{key}_prefill"] = {"code": r.code, "score": two(r.prev_review), "reason": ""}
                    st.error(f"{r.code} 上一版没有调整理由，请在下方填写理由后保存。")
                else:
                    save([{"code": r.code, "score": str(r.prev_review), "reason": str(r.reason)}],
                         f"{r.code}：已沿用第{int(r.from_version)}版的审核分 {two(r.prev_review)}")
            if c[3].button("修改", key=f"{key}_edit_{r.code}"):
                st.session_state[f"{key}_pick"] = r.code
                st.session_state[f"{key}_prefill"] = {"code": r.code, "score": two(r.prev_review),
                                                      "reason": str(r.reason or "")}
                st.rerun()
            if c[4].button("不采用", key=f"{key}_drop_{r.code}"):
                drop(r.code, f"{r.code}：不沿用第{int(r.from_version)}版的调整，本版按自评分计分")


def _adjusted(row):
    r, own = row.get("审核分"), row.get("自评分")
    return ["background-color: #e8f0fe" if r and r != own else ""] * len(row)


def indicator_table(own: pd.DataFrame, props: pd.DataFrame, *, key: str):
    """The read-only grid; a selected row opens that indicator in the editor."""
    proposed = dict(zip(props["code"], props["prev_review"])) if len(props) else {}
    view = pd.DataFrame({
        "编号": own["code"], "二级指标": own["text"], "满分": own["max"].map(two), "自评分": own["self_score"].map(two),
        "审核分": own["review_score"].map(two), "最终得分": own["points"].map(two),
        "调整理由": own["review_reason"].fillna(""),
        "上版建议": [two(proposed[c]) if c in proposed else "" for c in own["code"]],
        "佐证": [next((u for _, u in evidence_links(e) if u), None) for e in own["evidence"]],
    })
    # the figures right after the code: a phone (about 360 px for the grid) shows them without swiping
    order = ["编号", "满分", "自评分", "审核分", "最终得分", "二级指标", "调整理由", "佐证"]
    if proposed:
        order.insert(order.index("最终得分"), "上版建议")
    right = {"alignment": "right"}
    ev = st.dataframe(
        view.style.apply(_adjusted, axis=1), hide_index=True, width="stretch", key=f"{key}_grid", placeholder="",
        column_order=order, on_select="rerun", selection_mode="single-row", height=fit_height(len(view)),
        column_config={"编号": st.column_config.TextColumn(width=44),  # not pinned: drawn faded grey
                       "二级指标": st.column_config.TextColumn(width="large"),
                       "满分": st.column_config.TextColumn(width=56, **right),
                       "自评分": st.column_config.TextColumn(width=60, **right),
                       "审核分": st.column_config.TextColumn(width=60, **right),
                       "上版建议": st.column_config.TextColumn(width=70, **right, help="上一版的审核分，见上方“建议沿用”"),
                       "最终得分": st.column_config.TextColumn(width=70, **right),
                       "调整理由": st.column_config.TextColumn(width="medium"),
                       "佐证": st.column_config.LinkColumn("佐证", display_text="打开", width=52)})
    rows = ev.selection.rows if ev is not None and hasattr(ev, "selection") else []
    if rows:
        code = view.iloc[rows[0]]["编号"]
        if st.session_state.get(f"{key}_last_row") != code:
            st.session_state[f"{key}_last_row"] = code
            st.session_state[f"{key}_pick"] = code


def indicator_form(own: pd.DataFrame, *, key: str, save, locked: bool) -> None:
    """One indicator: its self score, note and evidence, and the review score with the reason in a text area."""
    codes = list(own["code"])
    if not codes:
        return
    if st.session_state.get(f"{key}_pick") not in codes:
        st.session_state[f"{key}_pick"] = codes[0]
    text = dict(zip(own["code"], own["text"]))
    code = st.selectbox("调整哪一项指标（也可在上表点选一行）", codes, key=f"{key}_pick",
                        format_func=lambda c: f"{c} {text.get(c, '')}")
    r = own[own["code"] == code].iloc[0]
    prefill = st.session_state.get(f"{key}_prefill") or {}
    if prefill.get("code") != code:
        prefill = {}
    score0 = prefill.get("score", two(r["review_score"]))
    reason0 = prefill.get("reason", r["review_reason"] or "")
    with st.form(f"{key}_form_{code}", border=True):
        st.markdown(f"**{md(code)} {md(r['text'])}**（满分 {two(r['max'])}）")
        c = st.columns(3)
        c[0].metric("自评分", two(r["self_score"]))
        c[1].metric("审核分", two(r["review_score"]) or "—")
        c[2].metric("最终得分", two(r["points"]))
        if r["self_note"]:
            st.markdown(f"自评说明：{md(r['self_note'])}")
        links = evidence_links(r["evidence"])
        st.markdown("佐证材料：" + ("；".join(md_link(t, u) for t, u in links) if links else "（未填写）"))
        if prefill:
            st.info("已按上一版的调整预填，请核对后保存。", icon=":material/history:")
        score = st.text_input("审核分（留空 = 按自评分计分）", value=score0, key=f"{key}_score_{code}_{bool(prefill)}",
                              disabled=locked, placeholder=f"0 到 {two(r['max'])} 之间")
        reason = st.text_area("调整理由（审核分与自评分不同时必填，单位会看到）", value=reason0, height=96,
                              key=f"{key}_reason_{code}_{bool(prefill)}", disabled=locked,
                              placeholder="例如：征求意见的佐证材料只有通知，没有意见采纳情况说明")
        b = st.columns([1, 1, 3])
        ok = b[0].form_submit_button("保存调整", type="primary", disabled=locked, icon=":material/save:")
        clear = b[1].form_submit_button("清除调整", disabled=locked or r["review_score"] is None,
                                        help="删除审核分，按自评分计分")
    if ok:
        raw = (score or "").strip()
        if not raw and r["review_score"] is None:
            st.info("审核分为空：按自评分计分，无需保存。")
            return
        st.session_state.pop(f"{key}_prefill", None)
        save([{"code": code, "score": raw or None, "reason": (reason or "").strip()}],
             f"{code}：审核分已保存" if raw else f"{code}：已清除审核分，按自评分计分")
    if clear:
        st.session_state.pop(f"{key}_prefill", None)
        save([{"code": code, "score": None, "reason": ""}], f"{code}：已清除审核分，按自评分计分")


def auto_table(auto: pd.DataFrame) -> None:
    st.markdown("**自动计算指标**（由系统根据台账和报送日期计算，不能人工调整）")
    st.dataframe(pd.DataFrame({"编号": auto["code"], "一级指标": auto["group"], "二级指标": auto["text"],
                               "满分": auto["max"].map(two), "得分": auto["points"].map(two)}),
                 hide_index=True, width="stretch", key="review_auto",
                 column_config={"满分": st.column_config.TextColumn(alignment="right"),
                                "得分": st.column_config.TextColumn(alignment="right")})


__all__ = ["auto_table", "dec", "indicator_form", "indicator_table", "num", "proposal_panel", "two"]
