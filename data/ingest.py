"""Ingest: read, validate and store one workbook as a new submission version.

A rejected workbook changes no data (only the attempt and its report are
logged); an accepted one is written in one transaction, so a crash half-way
leaves the database as it was.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from data.issues import Report, error
from data.reader import ReadError, read_workbook
from data.registry import get_units
from data.store import APPROVED, PENDING, audit, transaction
from data.validate import Context, Submission, validate
from metrics.scheme import load_catalogue, load_schemes

ACCEPTED, UNCHANGED, REJECTED = "accepted", "unchanged", "rejected"
OUTCOME_LABEL = {ACCEPTED: "已接收", UNCHANGED: "未变化", REJECTED: "已拒收"}


@dataclass
class IngestResult:
    file_name: str
    outcome: str
    report: Report = field(default_factory=Report)
    unit: str | None = None
    year: int | None = None
    version: int | None = None
    submission_id: int | None = None
    sha256: str = ""

    @property
    def label(self) -> str:
        return OUTCOME_LABEL[self.outcome]

    def summary(self) -> str:
        """One Chinese line, as the CLI prints it."""
        if self.outcome == ACCEPTED:
            return f"{self.file_name}: 已接收 — {self.unit} {self.year}年度 第{self.version}版（{len(self.report.warnings)}条警告）"
        if self.outcome == UNCHANGED:
            return f"{self.file_name}: 未变化 — 与 {self.unit} {self.year}年度 当前版本（第{self.version}版）完全相同，未作任何更改"
        return f"{self.file_name}: 已拒收 — {len(self.report.errors)}个错误，未保存任何数据"


def check_workbook(con: duckdb.DuckDBPyConnection, file_name: str, content: bytes, *,
                   today: dt.date) -> tuple[Submission | None, Report]:
    """Read and validate without storing anything."""
    try:
        wb = read_workbook(file_name, content)
    except ReadError as e:
        return None, Report(list(e.issues))
    ctx = Context(get_units(con), load_schemes(), load_catalogue(), today)
    sub, report = validate(wb, ctx)
    return sub, report


def _current(con, unit: str, year: int):
    return con.execute("SELECT id, version, sha256 FROM submissions WHERE unit = ? AND year = ? ORDER BY version DESC LIMIT 1",
                       [unit, year]).fetchone()


def ingest_bytes(con: duckdb.DuckDBPyConnection, file_name: str, content: bytes, *, received: dt.date,
                 actor: str | None = None, today: dt.date | None = None,
                 only_unit: str | None = None) -> IngestResult:
    """Validate and store one workbook.

    ``received`` is the day the file reached the county (the submission's
    received date); no date in the workbook may be later than ``today``
    (default: ``received``). ``only_unit`` restricts a unit account to its own unit.
    """
    sha = hashlib.sha256(content).hexdigest()
    today = today or received
    sub, report = check_workbook(con, file_name, content, today=today)
    res = IngestResult(file_name, REJECTED, report, sha256=sha)
    if sub is not None:
        res.unit, res.year = sub.unit, sub.year
    if report.ok and only_unit is not None and sub.unit != only_unit:
        report.add(error("unit_not_allowed", f"本账号只能上报“{only_unit}”的自评表，此文件是“{sub.unit}”的", "单位信息"))
    if report.ok:
        cur = _current(con, sub.unit, sub.year)
        if cur is not None and cur[2] == sha:
            res.outcome, res.version, res.submission_id = UNCHANGED, cur[1], cur[0]
            return res
        status = con.execute("SELECT status FROM workflow WHERE unit = ? AND year = ?", [sub.unit, sub.year]).fetchone()
        if status and status[0] == APPROVED:
            report.add(error("submission_approved",
                             f"{sub.unit} {sub.year}年度的自评材料已审核通过，不能再上传；如需修改，请联系考核组“重新打开”", "单位信息"))
    if not report.ok:
        _log_rejection(con, res, received, actor)
        return res
    try:
        with transaction(con):
            sid, version = _store(con, sub, file_name, content, sha, received, actor, report)
    except duckdb.Error as e:
        raise StoreError(f"保存失败，数据库未作任何更改：{e}") from e
    res.outcome, res.version, res.submission_id = ACCEPTED, version, sid
    return res


class StoreError(RuntimeError):
    """Writing an accepted workbook failed; the transaction was rolled back."""


def _log_rejection(con, res: IngestResult, received: dt.date, actor: str | None) -> None:
    issues = json.dumps([i.to_dict() for i in res.report.issues], ensure_ascii=False)
    with transaction(con):
        con.execute("INSERT INTO rejections (unit, year, file_name, sha256, received, uploaded_by, issues) VALUES (?,?,?,?,?,?,?)",
                    [res.unit, res.year, res.file_name, res.sha256, received, actor, issues])
        audit(con, "上传被拒收", actor=actor, unit=res.unit, year=res.year,
              detail=f"{res.file_name}：{len(res.report.errors)}个错误")


def _store(con, sub: Submission, file_name: str, content: bytes, sha: str, received: dt.date,
           actor: str | None, report: Report) -> tuple[int, int]:
    cur = _current(con, sub.unit, sub.year)
    version = 1 if cur is None else cur[1] + 1
    warnings = json.dumps([i.to_dict() for i in report.warnings], ensure_ascii=False)
    sid = con.execute(
        """INSERT INTO submissions (unit, year, version, received, uploaded_by, file_name, sha256, content,
                                    reporter, phone, report_date, warnings)
           VALUES (?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id""",
        [sub.unit, sub.year, version, received, actor, file_name, sha, content, sub.reporter, sub.phone,
         sub.report_date, warnings]).fetchone()[0]
    if sub.scores:
        df = pd.DataFrame({
            "submission_id": sid,
            "code": [s.code for s in sub.scores],
            "score": [str(s.score) for s in sub.scores],
            "note": [s.note for s in sub.scores],
            "evidence": [s.evidence for s in sub.scores],
            "sheet_row": [s.sheet_row for s in sub.scores],
        })
        con.register("_new_scores", df)
        con.execute("""INSERT INTO self_scores SELECT submission_id, code, CAST(score AS DECIMAL(8,2)), note,
                       CAST(evidence AS VARCHAR[]), sheet_row FROM _new_scores""")
        con.unregister("_new_scores")
    if sub.items:
        df = pd.DataFrame({
            "submission_id": sid,
            "sheet_row": [i.sheet_row for i in sub.items],
            "seq": [i.seq for i in sub.items],
            "title": [i.title for i in sub.items],
            "category": [i.category for i in sub.items],
            "formed": [i.formed for i in sub.items],
            "published": [i.published for i in sub.items],
            "channels": [i.channels for i in sub.items],
            "url": [i.url for i in sub.items],
        })
        con.register("_new_items", df)
        con.execute("""INSERT INTO ledger_items SELECT submission_id, sheet_row, seq, title, category,
                       CAST(formed AS DATE), CAST(published AS DATE), CAST(channels AS VARCHAR[]), url FROM _new_items""")
        con.unregister("_new_items")
    if sub.requests:
        df = pd.DataFrame({
            "submission_id": sid,
            "sheet_row": [r.sheet_row for r in sub.requests],
            "request_no": [r.request_no for r in sub.requests],
            "applicant_type": [r.applicant_type for r in sub.requests],
            "received": [r.received for r in sub.requests],
            "corrected": [r.corrected for r in sub.requests],
            "extended": [r.extended for r in sub.requests],
            "answered": [r.answered for r in sub.requests],
            "result": [r.result for r in sub.requests],
            "review_result": [r.review_result for r in sub.requests],
        })
        con.register("_new_requests", df)
        con.execute("""INSERT INTO requests SELECT submission_id, sheet_row, request_no, applicant_type,
                       CAST(received AS DATE), CAST(corrected AS DATE), extended, CAST(answered AS DATE),
                       result, review_result FROM _new_requests""")
        con.unregister("_new_requests")
    before = con.execute("SELECT status FROM workflow WHERE unit = ? AND year = ?", [sub.unit, sub.year]).fetchone()
    con.execute("""INSERT INTO workflow (unit, year, status, comment, updated_by) VALUES (?,?,?,NULL,?)
                   ON CONFLICT (unit, year) DO UPDATE SET status = excluded.status, updated_at = now(),
                   updated_by = excluded.updated_by""", [sub.unit, sub.year, PENDING, actor])
    audit(con, "上传自评表", actor=actor, unit=sub.unit, year=sub.year,
          detail=f"{file_name} → 第{version}版（收到日期 {received}，{len(sub.items)}条主动公开，{len(sub.requests)}条依申请）",
          before=before[0] if before else None, after=PENDING)
    return sid, version


def ingest_file(con: duckdb.DuckDBPyConnection, path: str | Path, *, received: dt.date, actor: str | None = None,
                today: dt.date | None = None) -> IngestResult:
    p = Path(path)
    try:
        content = p.read_bytes()
    except OSError as e:
        res = IngestResult(str(path), REJECTED)
        res.report.add(error("file_unreadable", f"无法打开文件：{e.strerror or e}"))
        return res
    return ingest_bytes(con, str(path), content, received=received, actor=actor, today=today)
