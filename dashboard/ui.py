"""Streamlit building blocks shared by the write-path pages (上报自评, 单位审核,
批量导入): status badges, ingest results with their validation reports, and a
unit's own scorecard (indicators, timeliness, coverage)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import streamlit as st

from data.review import ReviewError, workflow_state
from data.exports import csv_bytes, xlsx_bytes
from data.history import evidence_links
from data.uploads import issues_frame, results_frame, submit_files
from core.errors import GongkaiError
from core.vocab import Status
from dashboard.text import md, web_url
from metrics.readouts import indicator_sheet
from metrics.summary import fact_counts

STATUS_COLOR = {Status.MISSING: "gray", Status.PENDING: "orange", Status.RETURNED: "red", Status.APPROVED: "green"}
TYPE_LABEL = {"self": "自评", "bonus": "加分项", "auto": "自动计算"}
LATE_BG, PENDING_BG = "background-color: #fde2e1", "background-color: #fff4ce"


def show_error(e: GongkaiError, title: str | None = None, *, key: str | None = None) -> None:
    """The one way a page shows an error of ours (:class:`core.errors.GongkaiError`):
    without a title and without located issues, one error line per issue;
    otherwise ``title`` (default "共 n 处问题：") over a table of the issues
    (位置 and 问题; 问题 alone when no issue has a location)."""
    issues = e.issues
    located = any(i.location for i in issues)
    if title is None and not located:
        for i in issues:
            st.error(md(i.message))  # messages may quote users' text
        return
    st.error(md(title or f"共 {len(issues)} 处问题："))
    rows = [({"位置": i.location or "（整个文件）"} if located else {}) | {"问题": i.message} for i in issues]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key=key)


def badge(status: str) -> str:
    """Markdown for a coloured status badge."""
    return f":{STATUS_COLOR.get(status, 'gray')}-badge[{status}]"


def num(v):
    """Decimal/None → float/None for display."""
    if v is None:
        return None
    if isinstance(v, float) and v != v:
        return None
    return float(v) if isinstance(v, (Decimal, int, float)) else v


def score_text(v, empty: str = "—") -> str:
    """A score as right-aligned-friendly text: fixed width (" 98.38", "100.00") so that sorting the
    text column sorts the numbers; ``empty`` for none (Streamlit would print "None")."""
    if v is None or (isinstance(v, float) and v != v):
        return empty
    return f"{Decimal(str(v)):6.2f}"


def int_text(v) -> str:
    return "" if v is None or v is pd.NA or (isinstance(v, float) and v != v) else str(int(v))


RIGHT = {"alignment": "right"}


def fmt2(v) -> str:
    return "—" if v is None or (isinstance(v, float) and v != v) else f"{Decimal(str(v)):.2f}"


def pct(v) -> str:
    return "—" if v is None or (isinstance(v, float) and v != v) else f"{float(v) * 100:.2f}%"


def dstr(v) -> str:
    if v is None or v is pd.NaT or (isinstance(v, float) and v != v):
        return ""
    if isinstance(v, (dt.datetime, pd.Timestamp)):
        return v.strftime("%Y-%m-%d %H:%M")
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


# --------------------------------------------------------------------------- ingest results

def show_results(results, key: str, *, title: str | None = None) -> None:
    """Per-file outcome and validation report (位置, 级别, 问题; errors first),
    plus the error list as CSV (with BOM) and xlsx downloads."""
    if not results:
        return
    if title:
        st.subheader(title)
    table = results_frame(results)
    for c in ("年度", "版本"):
        table[c] = table[c].map(int_text)
    st.dataframe(table, hide_index=True, width="stretch", key=f"{key}_table",
                 column_config={c: st.column_config.TextColumn(c, **RIGHT) for c in ("年度", "版本")})
    for n, r in enumerate(results):
        icon = {"accepted": ":material/check_circle:", "unchanged": ":material/remove:", "rejected": ":material/cancel:"}[r.outcome]
        rows = r.report.rows()
        with st.expander(f"{icon} {md(r.summary())}", expanded=(r.outcome == "rejected" and len(results) <= 3)):
            if r.outcome == "accepted":
                st.success(f"已接收：{md(r.unit)} {r.year}年度 第{r.version}版。" + ("请留意下列警告。" if rows else ""))
            elif r.outcome == "unchanged":
                st.info("与当前版本完全相同，未作任何更改。")
            else:
                st.error(f"已拒收：共 {len(r.report.errors)} 个错误，文件中的数据均未保存。请按下表逐条修改后重新上传。")
            if rows:
                df = pd.DataFrame(rows)[["位置", "级别", "问题"]]
                st.dataframe(df.style.apply(
                    lambda row: [LATE_BG if row["级别"] == "错误" else PENDING_BG] * len(row), axis=1),
                    hide_index=True, width="stretch")
    issues = issues_frame(results)
    if len(issues):
        c1, c2, _ = st.columns([2, 2, 3])
        c1.download_button("下载问题清单（CSV）", csv_bytes(issues), file_name="问题清单.csv", mime="text/csv",
                           key=f"{key}_csv", icon=":material/download:")
        c2.download_button("下载问题清单（Excel）", xlsx_bytes(issues), file_name="问题清单.xlsx",
                           mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                           key=f"{key}_xlsx", icon=":material/download:")


# --------------------------------------------------------------------------- fact tables

ITEM_COLUMNS = {"sheet_row": "行号", "seq": "序号", "title": "信息名称", "category_name": "公开类别",
                "formed": "形成日期", "published": "公开日期", "deadline": "公开期限", "state": "状态",
                "days_late": "逾期工作日", "url": "链接"}
REQUEST_COLUMNS = {"sheet_row": "行号", "request_no": "申请编号", "received": "收到日期", "corrected": "补正日期",
                   "extended": "是否延期", "days_allowed": "期限（工作日）", "deadline": "答复期限",
                   "answered": "答复日期", "state": "状态", "days_late": "逾期工作日", "result": "办理结果",
                   "review_result": "复议诉讼结果", "rule_basis": "依据"}


def _highlight_state(row):
    if row.get("计入本年度") == "否":
        return ["color: #8a8a8a"] * len(row)
    s = row.get("状态")
    return [LATE_BG if s == "逾期" else PENDING_BG if s == "未到期" else ""] * len(row)


def facts_table(df: pd.DataFrame, columns: dict, *, key: str, empty: str) -> None:
    """A ledger (items or requests) with deadline and state; late rows red, pending yellow."""
    if df is None or not len(df):
        st.caption(empty)
        return
    view = df[[c for c in columns if c in df.columns]].rename(columns=columns).copy()
    if "counted" in df.columns and not bool(df["counted"].all()):
        view["计入本年度"] = df["counted"].map(lambda v: "是" if v else "否").to_numpy()
    if "是否延期" in view.columns:
        view["是否延期"] = view["是否延期"].map(lambda v: "是" if v is True else "否")
    for c in ("形成日期", "公开日期", "公开期限", "收到日期", "补正日期", "答复期限", "答复日期"):
        if c in view.columns:
            view[c] = view[c].map(dstr)
    for c in ("逾期工作日", "行号", "期限（工作日）"):
        if c in view.columns:
            view[c] = view[c].map(int_text)
    # widths chosen so that every column, 链接 included, is on a 1440 px screen
    config = {c: st.column_config.TextColumn(c, width=56, **RIGHT) for c in ("行号", "期限（工作日）")}
    config["逾期工作日"] = st.column_config.TextColumn("逾期工作日", width=80, **RIGHT)
    config.update({c: st.column_config.TextColumn(c, width=92) for c in
                   ("形成日期", "公开日期", "公开期限", "收到日期", "补正日期", "答复期限", "答复日期")})
    config.update({"序号": st.column_config.TextColumn("序号", width=48), "状态": st.column_config.TextColumn("状态", width=64),
                   "公开类别": st.column_config.TextColumn("公开类别", width=120),
                   "信息名称": st.column_config.TextColumn("信息名称", width="large"),
                   "是否延期": st.column_config.TextColumn("是否延期", width=64)})
    if "链接" in view.columns:
        view["链接"] = view["链接"].map(web_url)
        config["链接"] = st.column_config.LinkColumn("链接", display_text="打开", width=56)
    view = view.fillna("")
    st.dataframe(view.style.apply(_highlight_state, axis=1), hide_index=True, width="stretch", placeholder="",
                 column_config=config, key=key, height=fit_height(len(view), max_rows=15))


# --------------------------------------------------------------------------- a unit's own scorecard

def indicator_view(sheet: pd.DataFrame) -> pd.DataFrame:
    """Display frame of :func:`metrics.readouts.indicator_sheet`."""
    rows = []
    for r in sheet.itertuples(index=False):
        auto = r.type == "auto"
        rows.append({
            "编号": r.code, "一级指标": r.group, "二级指标": r.text, "满分": num(r.max),
            "类型": TYPE_LABEL.get(r.type, r.type),
            "自评分": None if auto else num(r.self_score),
            "审核分": None if auto else num(r.review_score),
            "调整理由": "" if auto else (r.review_reason or ""),
            "调整人": "" if auto else (getattr(r, "review_by", None) or ""),
            "最终得分": num(r.points),
            "自评说明": "" if auto else (r.self_note or ""),
            "佐证材料": "\n".join(t for t, _ in evidence_links(r.evidence)),
        })
    df = pd.DataFrame(rows)
    for c in ("满分", "自评分", "审核分", "最终得分"):
        if c in df.columns:
            df[c] = df[c].map(lambda v, c=c: score_text(v, "—" if c != "审核分" else ""))
    return df


SCORE_COLUMNS = {c: st.column_config.TextColumn(c, width=64, **RIGHT) for c in ("满分", "自评分", "审核分", "最终得分")}
SCORE_COLUMNS.update({"编号": st.column_config.TextColumn("编号", width=44),
                      "一级指标": st.column_config.TextColumn("一级指标", width=100),
                      "二级指标": st.column_config.TextColumn("二级指标", width=330),
                      "类型": st.column_config.TextColumn("类型", width=64),
                      "调整理由": st.column_config.TextColumn("调整理由", width="medium"),
                      "自评说明": st.column_config.TextColumn("自评说明", width="medium"),
                      "佐证材料": st.column_config.TextColumn("佐证材料", width="medium")})
#: the unit's score table at 1440 px (44 + 330 + 4 × 64 + 2 × 200 px fit the 1,070 px beside the sidebar);
#: 一级指标 and 自评说明 behind the toggle beside it. The figures come right after the code, so that a
#: phone (about 360 px for the table) shows code and scores without swiping; nothing is pinned (a pinned
#: column is drawn faded grey, and a table this narrow needs none)
SCORE_ORDER = ["编号", "满分", "自评分", "审核分", "最终得分", "二级指标", "调整理由", "佐证材料"]


def fit_height(n: int, *, max_rows: int = 40) -> int:
    """Pixel height showing ``n`` rows of a dataframe without an inner scroll bar (up to ``max_rows``)."""
    return 38 + 35 * max(1, min(n, max_rows))


def _adjusted(row):
    r, own = row.get("审核分"), row.get("自评分")
    return ["background-color: #e8f0fe" if r and r != own else ""] * len(row)


def score_header(card: pd.Series) -> None:
    """Total, grade, self total and share of the maximum of one scorecard row."""
    cols = st.columns(4)
    submitted = card is not None and card.get("submission_id") is not None
    cols[0].metric("最终得分", fmt2(card["total"]) if submitted else "—",
                   help="自评指标按审核分（如有）否则自评分，加上自动计算指标，减去扣分")
    cols[1].metric("等次", (card["grade"] or "—") if submitted else "—")
    cols[2].metric("自评总分", fmt2(card["self_total"]) if submitted else "—", help="只按本单位自评分计算，不含扣分")
    cols[3].metric("得分率", pct(card["score_rate"]) if submitted else "—", help="最终得分 ÷ 基础满分")


def unit_scorecard(con, year: int, unit: str, *, key: str) -> None:
    """The unit's current scorecard: every indicator (self, reviewer, final),
    timeliness with its late/pending items, coverage with the missing
    categories. Shows nothing but a note when the unit has not submitted."""
    from metrics.engine import score_year

    card_df = score_year(con, year, unit=unit)
    if not len(card_df) or card_df.iloc[0]["submission_id"] is None:
        st.info(f"{md(unit)} 尚未报送 {year} 年度自评材料，暂无得分。")
        return
    card = card_df.iloc[0]
    if card_df.attrs.get("provisional"):
        st.warning("暂定结果：" + card_df.attrs.get("provisional_reason", ""), icon=":material/warning:")
    score_header(card)
    tabs = st.tabs(["指标得分", "公开及时性", "必公开类别覆盖"])
    with tabs[0]:
        sheet = indicator_sheet(con, year, unit)
        view = indicator_view(sheet)
        k1, k2 = int(card["k1_count"] or 0), bool(card["k2_veto"])
        if k1 or k2:
            from core.scheme import scheme_for

            parts = []
            if k1:
                parts.append(f"K1 被上级通报批评 {k1} 次（扣 {fmt2(scheme_for(year).k1_points * k1)} 分）")
            if k2:
                parts.append(f"K2 一票否决（等次为{scheme_for(year).fail_grade}）")
            st.warning("扣分：" + "；".join(parts))
        cap, more = st.columns([4, 1], vertical_alignment="center")
        cap.caption("蓝色底纹的行为考核组调整过的指标；最终得分 = 审核分（如有）否则自评分；自动计算指标由系统根据台账计算。")
        order = list(SCORE_ORDER)
        if more.toggle("显示全部列", key=f"{key}_ind_all", help="另外显示“一级指标”“类型”和“自评说明”"):
            order[order.index("二级指标"):order.index("二级指标")] = ["类型", "一级指标"]
            order.append("自评说明")
        st.dataframe(view.style.apply(_adjusted, axis=1), column_config=SCORE_COLUMNS, column_order=order,
                     hide_index=True, width="stretch", key=f"{key}_ind", height=fit_height(len(view)))
    with tabs[1]:
        timeliness_section(con, year, unit, card, key=key, only_problems=True)
    with tabs[2]:
        coverage_section(con, year, unit, card, key=key)


def timeliness_section(con, year: int, unit: str, card, *, key: str, only_problems: bool) -> None:
    """H1 / G1 / I1 figures and the ledgers with deadline and state (late red,
    pending yellow); ``only_problems`` keeps only late and pending rows."""
    from metrics.engine import item_facts, request_facts

    c = st.columns(4)
    c[0].metric("主动公开及时率（H1）", pct(card["proactive_rate"]))
    c[1].metric("按时 / 计入", f"{card['proactive_on_time']} / {card['proactive_counted']}")
    c[2].metric("未到期（不计入）", f"{card['proactive_pending']}")
    c[3].metric("依申请按期答复率（G1）",
                pct(card["request_rate"]) if card["request_rate"] is not None else "无计入的申请")
    late = bool(card["late_submission"])
    st.markdown(f"首次报送收到日期：**{dstr(card['received'])}**"
                + ("　:red-badge[逾期报送]" if late else "　:green-badge[按时报送]"))
    items = item_facts(con, year, unit=unit, include_uncounted=not only_problems)
    reqs = request_facts(con, year, unit=unit, include_uncounted=not only_problems)
    if only_problems:
        items = items[items["state"].isin(["逾期", "未到期"])] if len(items) else items
        reqs = reqs[reqs["state"].isin(["逾期", "未到期"])] if len(reqs) else reqs
        st.markdown(f"**主动公开：逾期或未到期的信息**（{len(items)} 条；红色为逾期，黄色为未到期）")
        facts_table(items, ITEM_COLUMNS, key=f"{key}_items", empty="没有逾期或未到期的主动公开信息。")
        st.markdown(f"**依申请公开：逾期或未到期的申请**（{len(reqs)} 件）")
        facts_table(reqs, REQUEST_COLUMNS, key=f"{key}_reqs", empty="没有逾期或未到期的依申请公开。")
        return
    for label, df, cols, what in (("主动公开台账", items, ITEM_COLUMNS, "信息"),
                                  ("依申请公开台账", reqs, REQUEST_COLUMNS, "申请")):
        st.markdown(f"**{label}**（共 {len(df)} 条；红色为逾期，黄色为未到期，灰字为不计入本年度）")
        if len(df):
            counts = fact_counts(df)
            st.caption("计入本年度：" + "，".join(f"{s} {counts[s]}" for s in ("按时", "逾期", "未到期"))
                       + f"；不计入（日期不在{year}年内）：{counts['uncounted']}")
            pick = st.segmented_control("筛选", ["全部", "逾期", "未到期", "按时", "不计入"], default="全部",
                                        key=f"{key}_{what}_filter", label_visibility="collapsed")
            if pick == "不计入":
                df = df[~df["counted"]]
            elif pick in ("逾期", "未到期", "按时"):
                df = df[df["counted"] & (df["state"] == pick)]
        facts_table(df, cols, key=f"{key}_{what}", empty=f"没有{what}。")


def coverage_section(con, year: int, unit: str, card, *, key: str) -> None:
    """H2: the required categories, covered or missing."""
    from metrics.engine import coverage_matrix
    from metrics.summary import coverage_gaps

    c = st.columns(3)
    c[0].metric("必公开类别覆盖率（H2）", pct(card["coverage_rate"]))
    c[1].metric("已覆盖 / 必公开", f"{card['covered_categories']} / {card['required_categories']}")
    missing = card["missing_categories"] or ""
    gaps, _ = coverage_gaps(pd.DataFrame([card]))  # 缺失 = required − covered, as on 覆盖缺口
    c[2].metric("缺失类别", f"{gaps['missing'].iloc[0]} 个")
    if missing:
        st.error("尚未覆盖的必公开类别：" + missing)
    else:
        st.success("所有必公开类别均已覆盖。")
    cov = coverage_matrix(con, year, unit=unit)
    req = cov[cov["required"]] if len(cov) else cov
    if len(req):
        view = pd.DataFrame({"类别": req["name"],
                             "是否覆盖": req["covered"].map(lambda v: "已覆盖" if v else "缺失"),
                             "计入信息数": req["items"].astype(int), "截止日前已公开": req["published"].astype(int)})
        st.dataframe(view.style.apply(lambda r: [LATE_BG if r["是否覆盖"] == "缺失" else ""] * len(r), axis=1),
                     hide_index=True, width="stretch", key=f"{key}_cov", height=fit_height(len(view)))


def status_banner(con, year: int, unit: str) -> dict:
    """The workflow state line the unit sees: status, reviewer comment."""
    state = workflow_state(con, unit, year)
    st.markdown(f"**{md(unit)}** · {year}年度 · 审核状态：{badge(state['status'])}")
    by = f"（{md(state.get('comment_by') or '考核组')} {dstr(state.get('comment_at'))}）" if state["comment"] else ""
    if state["status"] == Status.RETURNED and state["comment"]:
        st.error(f"考核组退回意见{by}：{md(state['comment'])}　（请按意见修改后重新上传）")
    elif state["status"] == Status.APPROVED:
        st.success("已审核通过，结果已锁定；如需修改，请联系考核组“重新打开”。"
                   + (f"　审核意见{by}：{md(state['comment'])}" if state["comment"] else ""))
    elif state["status"] == Status.PENDING:
        st.info("已报送，等待考核组审核。" + (f"　上次意见{by}：{md(state['comment'])}" if state["comment"] else ""))
    return state


def history_table(df: pd.DataFrame, *, key: str) -> None:
    if not len(df):
        st.caption("暂无上报记录。")
        return
    view = df.copy()
    view["时间"] = view["时间"].map(dstr)
    view["收到日期"] = view["收到日期"].map(dstr)
    view["版本"] = view["版本"].map(int_text)

    def color(row):
        e = row["事件"]
        return [LATE_BG if "拒收" in e or "退回" in e else "background-color: #e6f4ea" if "通过" in e else ""] * len(row)

    # the file's SHA-256 stays in the data (identical re-uploads are recognised by it) but is not shown:
    # a hex digest means nothing to a county official
    st.dataframe(view.style.apply(color, axis=1), hide_index=True, width="stretch", key=key,
                 height=fit_height(len(view), max_rows=10), column_order=[c for c in view.columns if c != "SHA-256"],
                 column_config={"说明": st.column_config.TextColumn("说明", width="large"),
                                "版本": st.column_config.TextColumn("版本", **RIGHT)})


def submit_with_progress(con, files, *, user: dict, received: dt.date, prefix: str, verb: str,
                         unit: str | None = None) -> None:
    """Ingest the uploaded ``files`` with a progress bar, then keep the results in
    ``st.session_state[f"{prefix}_results"]`` (with ``unit`` and ``received``),
    clear the uploader (``{prefix}_nonce``), refresh cached figures and rerun.
    A refusal of the whole batch (:class:`ReviewError`) is shown as an error."""
    from dashboard.common import after_write, db_lock

    bar = st.progress(0.0, text=f"正在{verb}……")

    def _progress(done: int, total: int, name: str) -> None:
        bar.progress(done / max(total, 1), text=f"正在{verb} {name}（{done + 1}/{total}）" if name else f"{verb}完成")

    try:
        # files are read in worker processes; the write lock is held only while each one is stored
        results = submit_files(con, [(f.name, f.getvalue()) for f in files], user=user, unit=unit,
                               received=received, progress=_progress, write_lock=db_lock)
    except ReviewError as e:
        show_error(e)
        return
    st.session_state[f"{prefix}_results"] = {"unit": unit, "received": received, "results": results}
    st.session_state[f"{prefix}_nonce"] = st.session_state.get(f"{prefix}_nonce", 0) + 1
    after_write()


# --------------------------------------------------------------------------- audit log

AUDIT_PAGE_SIZE = 50


def audit_viewer(con, *, key: str, unit: str | None = None, year: int | None = None) -> None:
    """The 操作日志 with filters (单位, 操作人, 操作, 日期) and pages of 50 rows, newest first.
    ``unit``/``year`` fix the scope (单位审核 shows one unit-year); otherwise the whole log (管理)."""
    from data.audit import PERIODS, audit_facets, audit_search, period_days

    facets = audit_facets(con, unit=unit, year=year)
    if facets["first"] is None:
        st.caption("暂无操作记录。")
        return
    cols = st.columns([2, 1.3, 2, 1.3] if unit is None else [1.3, 2, 1.3])
    c = iter(cols)
    pick_unit = unit
    if unit is None:
        pick_unit = next(c).selectbox("单位", ["全部单位", *facets["units"]], key=f"{key}_unit")
        pick_unit = None if pick_unit == "全部单位" else pick_unit
    actor = next(c).selectbox("操作人", ["全部", *facets["actors"]], key=f"{key}_actor")
    actions = next(c).multiselect("操作", facets["actions"], key=f"{key}_actions", placeholder="全部操作")
    # a choice of ranges and, on request, two single days (Streamlit's range picker shows English)
    period = next(c).selectbox("日期", PERIODS, key=f"{key}_period", help="选“指定日期”可填写起止日期")
    start = end = None
    if period == "指定日期":
        d = st.columns([1, 1, 3])
        scope = f"{unit or ''}_{year or ''}"
        start = d[0].date_input("起始日期", value=facets["first"], format="YYYY-MM-DD", key=f"{key}_from_{scope}")
        end = d[1].date_input("截止日期", value=facets["last"], format="YYYY-MM-DD", key=f"{key}_to_{scope}")
    try:
        d_from, d_to = period_days(period, dt.date.today(), start=start, end=end)
    except ValueError as e:
        st.error(str(e))
        return
    filters = dict(unit=pick_unit, actor=None if actor == "全部" else actor, actions=actions,
                   date_from=d_from, date_to=d_to, year=year)
    _, total = audit_search(con, limit=1, **filters)
    pages = max(1, -(-total // AUDIT_PAGE_SIZE))
    pk = f"{key}_page"
    if st.session_state.get(pk, 1) > pages:
        st.session_state[pk] = 1
    row = st.columns([1, 1, 3], vertical_alignment="bottom")
    page = row[0].number_input(f"页码（共 {pages} 页）", min_value=1, max_value=pages, step=1, key=pk)
    row[1].caption(f"共 {total} 条，每页 {AUDIT_PAGE_SIZE} 条")
    df, _ = audit_search(con, limit=AUDIT_PAGE_SIZE, offset=(int(page) - 1) * AUDIT_PAGE_SIZE, **filters)
    df["时间"] = df["时间"].map(dstr)
    df["年度"] = df["年度"].map(int_text)
    order = ["时间", "操作人", "单位", "年度", "操作", "内容", "修改前", "修改后"]
    if unit is not None:
        order = [c_ for c_ in order if c_ not in ("单位", "年度")]
    st.dataframe(df, hide_index=True, width="stretch", key=f"{key}_table", column_order=order,
                 height=fit_height(len(df), max_rows=20),
                 column_config={"时间": st.column_config.TextColumn(width=128),
                                "操作人": st.column_config.TextColumn(width=80),
                                "单位": st.column_config.TextColumn(width=170),
                                "年度": st.column_config.TextColumn(width=50),
                                "操作": st.column_config.TextColumn(width=100),
                                "内容": st.column_config.TextColumn(width="large")})
    if total:
        full, _ = audit_search(con, limit=20000, **filters)
        full["时间"] = full["时间"].map(dstr)
        st.download_button(f"下载筛选结果（CSV，{min(total, 20000)} 条）", csv_bytes(full[order]),
                           file_name="操作日志.csv", mime="text/csv", key=f"{key}_csv", icon=":material/download:",
                           on_click="ignore")


def file_size(n: int) -> str:
    """A file's size for people: "320 字节", "12 KB", "3.4 MB" (never "0 KB" for a small file)."""
    n = int(n or 0)
    if n < 1024:
        return f"{n} 字节"
    if n < 1024 * 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n / 1024 / 1024:.1f} MB"
