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
from decimal import Decimal
from typing import Callable

from data import closing as dc
from data.ingest import ACCEPTED, ingest_bytes
from data.review import approve, current_submission, get_original_file, workflow_state
from core.vocab import Status
from metrics import closing as mc
from metrics.calendar import add_workdays
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
    for u in units:
        st = workflow_state(con, u, year)["status"]
        if st == Status.RETURNED and _resubmit(con, u, year, day):
            st = workflow_state(con, u, year)["status"]
        if st == Status.PENDING:
            approve(con, u, year, actor=REVIEWER["name"])


def _appeal_target(con, snapshot_id: int, unit: str, year: int) -> tuple[str, Decimal, Decimal] | None:
    """A self-scored indicator of ``unit`` below its maximum: (code, points, max)."""
    s = scheme_for(year)
    pts = dc.snapshot_points(con, snapshot_id, unit).set_index("code")["points"]
    for ind in s.self_indicators:
        if ind.type == "self" and ind.code in pts and pts[ind.code] is not None and Decimal(pts[ind.code]) < ind.max:
            return ind.code, Decimal(pts[ind.code]), ind.max
    return None


def close_demo_years(con, progress: Callable[[str], None] | None = None, today: dt.date | None = None) -> dict:
    """Run the closing step; returns counts for the summary line."""
    today = today or dt.date.today()
    ys = [y for y in years() if con.execute("SELECT count(*) FROM submissions WHERE year = ?", [y]).fetchone()[0]]
    if not ys:
        return {"final": [], "publicity": None, "appeals": 0}
    *past, newest = ys
    for y in past:
        s = scheme_for(y)
        late_end = mc.late_window_end(con, s)
        review_day = add_workdays(con, late_end, 1)
        _approve_all(con, y, review_day)
        if dc.stage_of(con, y) == dc.FILING:
            mc.start_review(con, y, REVIEWER, today=review_day)
        publish_day = add_workdays(con, late_end, 25)
        mc.publish(con, y, REVIEWER, today=publish_day)
        end = dc.get_stage(con, y)["publicity_end"]
        mc.finalize(con, y, ADMIN, today=add_workdays(con, end, 3))
        if progress:
            progress(f"{y}年度：已发布公示稿并定稿")
    s = scheme_for(newest)
    late_end = mc.late_window_end(con, s)
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
    out = close_demo_years(con, progress=ctx.say)
    ctx.summary["steps"].append(
        f"年度流程：{len(out['final'])} 个年度已定稿，{out['publicity']} 年度公示中，申诉 {out['appeals']} 条")
