"""The year-closing step of the demonstration county: every year before the
newest is taken 填报 → 审核 → 公示 → 定稿, the newest year is published and
left in 公示 with two appeals (one answered 调整, one open).

Everything goes through the application's own functions (review decisions,
stage moves, publish, appeals, finalise) as the demo accounts would do it in
the browser; nothing is written with SQL here.
"""
from __future__ import annotations

import datetime as dt
import io
from contextlib import nullcontext
from decimal import Decimal
from typing import Callable

from data import closing as dc
from data.ingest import ACCEPTED, ingest_bytes
from data.review import approve, current_submission, snapshot, workflow_state
from data.history import get_original_file
from data.store import as_of
from core.vocab import Status
from metrics import closing as mc
from data.calendar import add_workdays
from core.scheme import scheme_for, years

REVIEWER = {"name": "shenhe", "role": "reviewer", "unit": None}
ADMIN = {"name": "admin", "role": "admin", "unit": None}


def _unit_user(con, unit: str) -> dict:
    row = con.execute("SELECT name FROM users WHERE role = 'unit' AND unit = ? ORDER BY name LIMIT 1",
                      [unit]).fetchone()
    return {"name": row[0] if row else unit, "role": "unit", "unit": unit}


def _resubmit(con, unit: str, year: int, day: dt.date) -> bool:
    """A returned unit uploads its corrected workbook (the current .xlsx saved
    again with the 填报日期 of ``day``); False when that is not possible."""
    from openpyxl import load_workbook

    sub = current_submission(con, unit, year)
    name, content = get_original_file(con, sub.id)
    if not name.lower().endswith(".xlsx"):
        return False
    wb = load_workbook(io.BytesIO(content))
    for ws in wb.worksheets:
        if "单位信息" not in ws.title.replace(" ", ""):
            continue
        for row in ws.iter_rows():
            for n, c in enumerate(row[:-1]):
                if isinstance(c.value, str) and "填报日期" in c.value:
                    row[n + 1].value = day
    wb.properties.modified = dt.datetime.combine(day, dt.time(9))
    buf = io.BytesIO()
    wb.save(buf)
    if buf.getvalue() == content:
        return False
    res = ingest_bytes(con, name.rsplit(".", 1)[0] + "（修改后）.xlsx", buf.getvalue(), received=day,
                       actor=_unit_user(con, unit)["name"], today=day)
    return res.outcome == ACCEPTED


def _approve_all(con, year: int, day: dt.date) -> None:
    units = [r[0] for r in con.execute("SELECT DISTINCT unit FROM submissions WHERE year = ? ORDER BY unit",
                                       [year]).fetchall()]
    # each unit's status, read once for the year (as workflow_state reads it: a submission without a
    # workflow row is 待审核); only this loop changes them
    status = dict(con.execute("SELECT unit, status FROM workflow WHERE year = ?", [year]).fetchall())
    for u in units:
        st = status.get(u, Status.PENDING)
        if st == Status.RETURNED and _resubmit(con, u, year, day):
            st = workflow_state(con, u, year)["status"]
        if st == Status.PENDING:
            approve(con, u, year, actor=REVIEWER["name"], seen=snapshot(con, u, year))


def _appeal_target(con, snapshot_id: int, unit: str, year: int) -> tuple[str, Decimal, Decimal] | None:
    """A self-scored indicator of ``unit`` below its maximum: (code, points, max)."""
    s = scheme_for(year)
    pts = dc.snapshot_points(con, snapshot_id, unit).set_index("code")["points"]
    for ind in s.self_indicators:
        if ind.type == "self" and ind.code in pts and pts[ind.code] is not None and Decimal(pts[ind.code]) < ind.max:
            return ind.code, Decimal(pts[ind.code]), ind.max
    return None


def _office_hours(day: dt.date):
    return as_of(dt.datetime.combine(day, dt.time(10, 0)))


def close_demo_years(con, progress: Callable[[str], None] | None = None, today: dt.date | None = None,
                     at: Callable | None = None) -> dict:
    """Run the closing step; returns counts for the summary line.

    Each action is recorded on its day through ``at(day)`` (a context manager,
    default: 10:00 that day via :func:`data.store.as_of`); actions on ``today``
    (or later) keep the real time, never a time still to come."""
    today = today or dt.date.today()
    stamp = at or _office_hours

    def on(day: dt.date):
        return nullcontext() if day >= dt.date.today() else stamp(day)

    ys = [y for y in years() if con.execute("SELECT count(*) FROM submissions WHERE year = ?", [y]).fetchone()[0]]
    if not ys:
        return {"final": [], "publicity": None, "appeals": 0}
    *past, newest = ys
    for y in past:
        s = scheme_for(y)
        late_end = mc.late_window_end(con, s)
        review_day = add_workdays(con, late_end, 1)
        with on(review_day):
            _approve_all(con, y, review_day)
            if dc.stage_of(con, y) == dc.FILING:
                mc.start_review(con, y, REVIEWER, today=review_day)
        publish_day = add_workdays(con, late_end, 25)
        with on(publish_day):
            mc.publish(con, y, REVIEWER, today=publish_day)
        end = dc.get_stage(con, y)["publicity_end"]
        final_day = add_workdays(con, end, 3)
        with on(final_day):
            mc.finalize(con, y, ADMIN, today=final_day)
        if progress:
            progress(f"{y}年度：已发布公示稿并定稿")
    s = scheme_for(newest)
    late_end = mc.late_window_end(con, s)
    with on(today):
        _approve_all(con, newest, today)
        if dc.stage_of(con, newest) == dc.FILING:
            mc.start_review(con, newest, REVIEWER, today=max(today, add_workdays(con, late_end, 1)))
        sid = mc.publish(con, newest, REVIEWER, today=today)
    units = mc.results(con, newest)
    submitted = [u for u, st in zip(units["unit"], units["status"]) if st == Status.APPROVED]
    filed = []
    for u in submitted:
        t = _appeal_target(con, sid, u, newest)
        if t is not None:
            filed.append((u, t))
        if len(filed) == 2:
            break
    n = 0
    texts = [("本单位年度工作方案已于当年3月经党组会议审议并印发，考核时漏传印发文件，现补充提供，请予复核。",
              "经核对补充的印发文件，情况属实，予以调整。"),
             ("该项工作已按要求完成，相关佐证材料已在政府网站公开，请复核得分。", None)]
    for (u, (code, pts, mx)), (reason, answer) in zip(filed, texts):
        with on(today):
            aid = dc.file_appeal(con, newest, u, code, reason, [("佐证说明.txt", reason.encode("utf-8"))],
                                 user=_unit_user(con, u), today=today)
            n += 1
            if answer:
                mc.answer_appeal(con, aid, dc.ADJUSTED, answer, min(mx, pts + 1), user=REVIEWER)
    if progress:
        progress(f"{newest}年度：已发布公示稿，公示期至 {dc.get_stage(con, newest)['publicity_end']}，申诉 {n} 条（1 条已答复）")
    return {"final": past, "publicity": newest, "appeals": n}


def closing_step(con, ctx) -> None:
    """The :data:`demo.steps.AFTER_LOAD` step: close the earlier years, leave the newest in 公示."""
    out = close_demo_years(con, progress=ctx.say, at=ctx.at)
    ctx.summary["steps"].append(
        f"年度流程：{len(out['final'])} 个年度已定稿，{out['publicity']} 年度公示中，申诉 {out['appeals']} 条")


def final_state(con) -> dict:
    """The county as the build leaves it, for the summary line: per scheme year
    with submissions its stage (and 公示期 end), submissions by status; appeals
    by status."""
    per_year = {}
    for y in years():
        counts = dict(con.execute("SELECT status, count(*) FROM workflow w WHERE year = ? AND EXISTS "
                                  "(SELECT 1 FROM submissions s WHERE s.unit = w.unit AND s.year = w.year) "
                                  "GROUP BY status", [y]).fetchall())
        if not counts:
            continue
        st = dc.get_stage(con, y)
        per_year[y] = {"stage": st["stage"], "publicity_end": st["publicity_end"], "status": counts}
    ap = dict(con.execute("SELECT status, count(*) FROM appeals GROUP BY status").fetchall())
    return {"years": per_year, "appeals": ap}


def state_text(state: dict) -> str:
    """``final_state`` in one Chinese sentence."""
    parts = []
    by_stage: dict[str, list[int]] = {}
    for y, v in state["years"].items():
        by_stage.setdefault(v["stage"], []).append(y)
    for stage, ys in sorted(by_stage.items(), key=lambda kv: kv[1][0]):  # in year order
        span = f"{ys[0]}–{ys[-1]}" if len(ys) > 1 and ys[-1] - ys[0] == len(ys) - 1 else "、".join(map(str, ys))
        extra = ""
        if stage == dc.PUBLICITY:
            ends = {state["years"][y]["publicity_end"] for y in ys} - {None}
            extra = f"（公示期至 {min(ends):%Y-%m-%d}）" if ends else ""
        parts.append(f"{span} 年度{'处于' if stage in (dc.FILING, dc.REVIEW) else ''}{stage}{extra}")
    total = {k: sum(v["status"].get(k, 0) for v in state["years"].values())
             for k in (Status.APPROVED, Status.PENDING, Status.RETURNED)}
    reviewed = f"已审核 {total[Status.APPROVED]} 份"
    if total[Status.PENDING] or total[Status.RETURNED]:
        reviewed += f"、待审核 {total[Status.PENDING]} 份、已退回 {total[Status.RETURNED]} 份"
    ap = state["appeals"]
    n = sum(ap.values())
    appeals = (f"申诉 {n} 条（" + "、".join(f"{k} {ap[k]} 条" for k in (dc.ADJUSTED, dc.UPHELD, dc.OPEN) if ap.get(k))
               + "）") if n else "无申诉"
    return f"{reviewed}；" + "，".join(parts) + f"；{appeals}"
