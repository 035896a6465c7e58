"""Ingest: read, validate and store one workbook as a new submission version.

A rejected workbook changes no data (only the attempt and its report are
logged); an accepted one is written in one transaction, so a crash half-way
leaves the database as it was.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ContextManager, Iterable, Iterator

import duckdb
import pyarrow as pa

from core.errors import GongkaiError, Issue, Report, error
from data.closing import upload_refusal
from data.reconcile import store_findings, store_report
from core.vocab import Status
from data.registry import get_units
from data.store import as_of, audit, bump_revision, lock_unit_year, recorded_at, transaction
from data.validate import Submission
from data.worker import Task, WorkerPool, default_pool

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
                   today: dt.date, pool: WorkerPool | None = None) -> tuple[Submission | None, Report]:
    """Read and validate without storing anything (in a worker process with memory and time limits)."""
    c = (pool or default_pool()).check(Task(file_name, content, get_units(con), today))
    return c.sub, c.report


def _approved_error(unit: str, year: int, cell: str | None = None):
    return error("submission_approved",
                 f"{unit} {year}年度的自评材料已审核通过（已审核），不能再上传新版本；"
                 f"如需修改，请联系考核组“重新打开”后再上传", "单位信息", cell)


def _state(con, unit: str, year: int) -> tuple[int | None, int, str | None, str | None]:
    """(current id, current version or 0, its sha256, workflow status)."""
    # two plain lookups (the newest of a few versions picked here) cost DuckDB less than one
    # statement with a subquery and ORDER BY … LIMIT 1
    versions = con.execute("SELECT id, version, sha256 FROM submissions WHERE unit = ? AND year = ?",
                           [unit, year]).fetchall()
    status = con.execute("SELECT status FROM workflow WHERE unit = ? AND year = ?", [unit, year]).fetchall()
    sid, version, sha = max(versions, key=lambda r: r[1]) if versions else (None, 0, None)
    return sid, int(version), sha, status[0][0] if status else None


def ingest_bytes(con: duckdb.DuckDBPyConnection, file_name: str, content: bytes, *, received: dt.date,
                 actor: str | None = None, today: dt.date | None = None,
                 only_unit: str | None = None, pool: WorkerPool | None = None,
                 write_lock: Callable[[], ContextManager] | None = None) -> IngestResult:
    """Validate and store one workbook.

    ``received`` is the day the file reached the county (the submission's
    received date); no date in the workbook may be later than ``today``
    (default: ``received``). ``only_unit`` restricts a unit account to its own unit.
    """
    return next(ingest_many(con, [(file_name, content)], received=received, actor=actor, today=today,
                            only_unit=only_unit, pool=pool, write_lock=write_lock, raise_store_errors=True))


def ingest_many(con: duckdb.DuckDBPyConnection,
                files: Iterable[tuple[str, bytes | Issue | Callable[[], bytes | Issue]]], *, received: dt.date,
                actor: str | None = None, today: dt.date | None = None, only_unit: str | None = None,
                pool: WorkerPool | None = None, write_lock: Callable[[], ContextManager] | None = None,
                raise_store_errors: bool = False) -> Iterator[IngestResult]:
    """Validate and store a batch, yielding one result per file in the files' order.

    The files are read and validated in the worker pool (all cores, each file
    with a memory and a time limit, nothing touched meanwhile); this thread
    alone stores the results, in order, several files per transaction
    (:data:`GROUP_COMMIT`), so that a result is yielded only after its rows
    are committed and no file is ever partly stored. ``write_lock`` (a context manager factory) is held only
    while a file is stored, never while files are read. A content may be a
    function returning it (read when the workers need it: a long batch is not
    held in memory). A content that is an :class:`Issue` (a file that could not
    be opened) rejects that file with it.
    A file whose store fails is rejected with ``store_failed`` (its transaction rolled back), or
    :class:`StoreError` is raised with ``raise_store_errors``.
    """
    return ingest_uploads(con, (Upload(name, content, received, actor, today) for name, content in files),
                          only_unit=only_unit, pool=pool, write_lock=write_lock,
                          raise_store_errors=raise_store_errors)


@dataclass(frozen=True)
class Upload:
    """One file of :func:`ingest_uploads`: what :func:`ingest_many` gives a whole batch, per file.

    ``received`` is the day it reached the county, ``actor`` who sent it, ``today`` the day no
    date in it may be after (default ``received``); ``at``, for loading a historical record
    only, the time its writes are recorded at (:func:`data.store.as_of`; default: now)."""
    file_name: str
    content: bytes | Issue | Callable[[], bytes | Issue]
    received: dt.date
    actor: str | None = None
    today: dt.date | None = None
    at: dt.datetime | None = None


def ingest_uploads(con: duckdb.DuckDBPyConnection, uploads: Iterable[Upload], *, only_unit: str | None = None,
                   pool: WorkerPool | None = None, write_lock: Callable[[], ContextManager] | None = None,
                   raise_store_errors: bool = False) -> Iterator[IngestResult]:
    """:func:`ingest_many` for files that each have their own received day, sender and
    recorded time (:class:`Upload`): the same checks, refusals and grouped storing."""
    lock = write_lock or nullcontext
    units = get_units(con)
    items = list(uploads)
    loaded: dict[int, bytes | Issue] = {}  # contents are read when first needed and dropped once stored

    def content_of(i: int) -> bytes | Issue:
        if i not in loaded:
            c = items[i].content
            loaded[i] = c() if callable(c) else c
        return loaded[i]

    def tasks():
        for i, u in enumerate(items):
            c = content_of(i)
            if isinstance(c, (bytes, bytearray)):
                yield Task(u.file_name, bytes(c), units, u.today or u.received)

    checked = (pool or default_pool()).check_many(tasks())
    group: list[tuple[Upload, bytes, Submission | None, Report]] = []

    def flush():
        with lock():
            done = _write_group(con, group, only_unit=only_unit, raise_store_errors=raise_store_errors)
        group.clear()
        return done

    for i, u in enumerate(items):
        content = content_of(i)
        if not isinstance(content, (bytes, bytearray)):
            loaded.pop(i, None)
            if group:
                yield from flush()
            yield IngestResult(u.file_name, REJECTED, Report([content]))  # never opened: nothing to log
            continue
        c = next(checked)  # the workers have taken this file (and the next ones) by now
        loaded.pop(i, None)
        group.append((u, bytes(content), c.sub, c.report))
        if len(group) >= GROUP_COMMIT:
            yield from flush()
    if group:
        yield from flush()


#: validated files stored in one transaction (a commit costs far more than the rows of a typical file)
GROUP_COMMIT = 16


def _write_group(con, group: list[tuple[Upload, bytes, Submission | None, Report]], *, only_unit: str | None,
                 raise_store_errors: bool) -> list[IngestResult]:
    """Store (or log the rejection of) every file of ``group`` in one transaction; if that fails,
    roll it back and store the files one by one, so that one bad file never takes the others with it."""

    def decide(u: Upload, content: bytes, sub: Submission | None, report: Report, rows: _Rows) -> IngestResult:
        with as_of(u.at) if u.at is not None else nullcontext():
            return _decide(con, u.file_name, content, sub, Report(list(report.issues)), received=u.received,
                           actor=u.actor, only_unit=only_unit, rows=rows)

    def attempt(members):
        with transaction(con):
            rows = _Rows()
            results = [decide(*m, rows) for m in members]
            rows.insert(con)  # before the checks, which read the requests
            _store_group_findings(con, [res for res, (_, _, sub, _) in zip(results, members)
                                        if res.outcome == ACCEPTED and sub.annual is not None])
            return results

    try:
        return attempt(group)
    except duckdb.Error as e:
        if len(group) == 1:
            if raise_store_errors:
                raise StoreError(f"保存失败，数据库未作任何更改：{e}") from e
            return [_store_failed(group[0][0].file_name, f"保存失败，数据库未作任何更改：{e}")]
    except Exception:
        if len(group) == 1:
            raise
    out = []
    for member in group:
        try:
            out.extend(attempt([member]))
        except duckdb.Error as e:
            out.append(_store_failed(member[0].file_name, f"保存失败，数据库未作任何更改：{e}"))
        except Exception as e:  # noqa: BLE001 - the other files of the batch go on
            out.append(_store_failed(member[0].file_name, f"保存失败（程序内部错误），数据库未作任何更改：{type(e).__name__}: {e}"))
    return out


def _store_group_findings(con, accepted: list[IngestResult]) -> None:
    """年报勾稽 of the versions just stored with a 年报数据 sheet (inside the group's transaction): the
    findings are computed once for all of them (the check costs the same for one submission or many)
    and added to each file's report and its stored warnings (annual-report.md)."""
    if not accepted:
        return
    by_sid: dict[int, list] = {}
    for f in store_findings(con, [res.submission_id for res in accepted]):
        by_sid.setdefault(f.submission_id, []).append(f)
    for res in accepted:
        findings = by_sid.get(res.submission_id)
        if findings:
            res.report.extend(f.issue() for f in findings)
            con.execute("UPDATE submissions SET warnings = ? WHERE id = ?",
                        [json.dumps([i.to_dict() for i in res.report.warnings], ensure_ascii=False),
                         res.submission_id])


def _store_failed(file_name: str, message: str) -> IngestResult:
    return IngestResult(file_name, REJECTED, Report([error("store_failed", message)]))


def _decide(con, file_name: str, content: bytes, sub: Submission | None, report: Report, *,
            received: dt.date, actor: str | None, only_unit: str | None, rows: _Rows) -> IngestResult:
    """The writer's part of an ingest, inside the caller's transaction: unit-account and workflow
    checks, then store the new version or log the rejection. The current version and the workflow
    state are read in the transaction that writes the new version."""
    sha = hashlib.sha256(content).hexdigest()
    res = IngestResult(file_name, REJECTED, report, sha256=sha)
    if sub is not None:
        res.unit, res.year = sub.unit, sub.year
    foreign = only_unit is not None and sub is not None and sub.unit is not None and sub.unit != only_unit
    if foreign:
        report.add(error("unit_not_allowed", f"本账号只能上报“{only_unit}”的自评表，此文件是“{sub.unit}”的", "单位信息",
                         sub.unit_cell))
    if only_unit is not None and (foreign or res.unit is None):
        # a unit account's attempt belongs to its own unit's history, never to another unit's
        res.unit = only_unit
    if not foreign and sub is not None and sub.unit and sub.year:
        closed = upload_refusal(con, sub.unit, sub.year)
        if closed:
            report.add(error("stage_closed", closed, "单位信息"))
    if not report.ok and not foreign and sub is not None and sub.unit and sub.year:
        # everything wrong is reported at once: a unit fixing its errors should not learn
        # only afterwards that the submission is locked
        if _state(con, sub.unit, sub.year)[3] == Status.APPROVED:
            report.add(_approved_error(sub.unit, sub.year, sub.unit_cell))
    if report.ok:
        lock_unit_year(con, sub.unit, sub.year)  # two servers storing the same unit: versions n and n+1
        cur_id, cur_version, cur_sha, status = _state(con, sub.unit, sub.year)
        if cur_sha == sha:
            res.outcome, res.version, res.submission_id = UNCHANGED, cur_version, cur_id
        elif status == Status.APPROVED:
            report.add(_approved_error(sub.unit, sub.year, sub.unit_cell))
        else:
            sid = _store(con, sub, file_name, content, sha, received, actor, report, cur_version + 1, status, rows)
            res.outcome, res.version, res.submission_id = ACCEPTED, cur_version + 1, sid
    if res.outcome == REJECTED:
        _log_rejection(con, res, received, actor)
    return res


class StoreError(GongkaiError, RuntimeError):
    """Writing an accepted workbook failed; the transaction was rolled back."""

    code = "store_failed"


def _log_rejection(con, res: IngestResult, received: dt.date, actor: str | None) -> None:
    """The attempt and its report (inside the caller's transaction)."""
    issues = json.dumps([i.to_dict() for i in res.report.issues], ensure_ascii=False)
    con.execute("INSERT INTO rejections (unit, year, file_name, sha256, received, uploaded_by, issues, attempted_at) "
                "VALUES (?,?,?,?,?,?,?, coalesce(?, now()))",
                [res.unit, res.year, res.file_name, res.sha256, received, actor, issues, recorded_at()])
    audit(con, "上传被拒收", actor=actor, unit=res.unit, year=res.year,
          detail=f"{res.file_name}：{len(res.report.errors)}个错误")


def _insert_rows(con, table: str, columns: dict[str, pa.Array], select: str | None = None) -> None:
    """Bulk insert: one Arrow table, one INSERT … SELECT."""
    con.register("_ingest_rows", pa.table(columns))
    try:
        names = ", ".join(columns)
        con.execute(f"INSERT INTO {table} ({names}) SELECT {select or names} FROM _ingest_rows")
    finally:
        con.unregister("_ingest_rows")


class _Rows:
    """The typed rows of a group's accepted versions, inserted together (one INSERT per table,
    the files' rows in the files' order) once every file of the group is decided, inside the
    group's transaction."""

    def __init__(self) -> None:
        self._tables: dict[str, tuple[str | None, list[dict[str, pa.Array]]]] = {}

    def add(self, table: str, columns: dict[str, pa.Array], select: str | None = None) -> None:
        self._tables.setdefault(table, (select, []))[1].append(columns)

    def insert(self, con) -> None:
        for table, (select, parts) in self._tables.items():
            _insert_rows(con, table, {name: pa.concat_arrays([p[name] for p in parts]) for name in parts[0]},
                         select)
        self._tables.clear()


def _store(con, sub: Submission, file_name: str, content: bytes, sha: str, received: dt.date,
           actor: str | None, report: Report, version: int, before: str | None, rows: _Rows) -> int:
    """Write one accepted version (inside the caller's transaction; its scores, ledger and requests
    are added to ``rows``, which the caller inserts); return its id."""
    warnings = json.dumps([i.to_dict() for i in report.warnings], ensure_ascii=False)
    sid = con.execute(
        """INSERT INTO submissions (unit, year, version, received, uploaded_by, file_name, sha256, content,
                                    reporter, phone, report_date, warnings, uploaded_at)
           VALUES (?,?,?,?,?,?,?,?,?,?,?,?, coalesce(?, now())) RETURNING id""",
        [sub.unit, sub.year, version, received, actor, file_name, sha, content, sub.reporter, sub.phone,
         sub.report_date, warnings, recorded_at()]).fetchone()[0]
    if sub.scores:
        n = len(sub.scores)
        rows.add("self_scores", {
            "submission_id": pa.array([sid] * n, pa.int32()),
            "code": pa.array([s.code for s in sub.scores], pa.string()),
            "score": pa.array([str(s.score) for s in sub.scores], pa.string()),
            "note": pa.array([s.note for s in sub.scores], pa.string()),
            "evidence": pa.array([s.evidence for s in sub.scores], pa.list_(pa.string())),
            "sheet_row": pa.array([s.sheet_row for s in sub.scores], pa.int32()),
        }, "submission_id, code, CAST(score AS DECIMAL(8,2)), note, evidence, sheet_row")
    if sub.items:
        items = sub.items
        rows.add("ledger_items", {
            "submission_id": pa.array([sid] * len(items), pa.int32()),
            "sheet_row": pa.array([i.sheet_row for i in items], pa.int32()),
            "seq": pa.array([i.seq for i in items], pa.string()),
            "title": pa.array([i.title for i in items], pa.string()),
            "category": pa.array([i.category for i in items], pa.string()),
            "formed": pa.array([i.formed for i in items], pa.date32()),
            "published": pa.array([i.published for i in items], pa.date32()),
            "channels": pa.array([i.channels for i in items], pa.list_(pa.string())),
            "url": pa.array([i.url for i in items], pa.string()),
        })
    if sub.requests:
        reqs = sub.requests
        rows.add("requests", {
            "submission_id": pa.array([sid] * len(reqs), pa.int32()),
            "sheet_row": pa.array([r.sheet_row for r in reqs], pa.int32()),
            "request_no": pa.array([r.request_no for r in reqs], pa.string()),
            "applicant_type": pa.array([r.applicant_type for r in reqs], pa.string()),
            "received": pa.array([r.received for r in reqs], pa.date32()),
            "corrected": pa.array([r.corrected for r in reqs], pa.date32()),
            "extended": pa.array([r.extended for r in reqs], pa.bool_()),
            "answered": pa.array([r.answered for r in reqs], pa.date32()),
            "result": pa.array([r.result for r in reqs], pa.string()),
            "review_result": pa.array([r.review_result for r in reqs], pa.string()),
        })
    if sub.annual is not None:
        # 年报勾稽: its findings are computed for the whole group once every file of it is stored
        # (_store_group_findings, same transaction)
        store_report(con, sid, sub.annual)
    if before is None:
        con.execute("INSERT INTO workflow (unit, year, status, comment, updated_by, updated_at) "
                    "VALUES (?,?,?,NULL,?, coalesce(?, now()))", [sub.unit, sub.year, Status.PENDING, actor, recorded_at()])
    else:
        con.execute("UPDATE workflow SET status = ?, updated_at = coalesce(?, now()), updated_by = ? "
                    "WHERE unit = ? AND year = ?", [Status.PENDING, recorded_at(), actor, sub.unit, sub.year])
    bump_revision(con, sub.unit, sub.year)
    audit(con, "上传自评表", actor=actor, unit=sub.unit, year=sub.year,
          detail=f"{file_name} → 第{version}版（收到日期 {received}，{len(sub.items)}条主动公开，{len(sub.requests)}条依申请）",
          before=before, after=Status.PENDING)
    return sid


def read_input(path: str | Path) -> bytes | Issue:
    """The bytes of a file named on the command line, or the Chinese reason it cannot be opened."""
    p = Path(path)
    try:
        return p.read_bytes()
    except OSError as e:
        if isinstance(e, FileNotFoundError):
            msg = "文件不存在，请检查文件名和路径"
        elif isinstance(e, IsADirectoryError):
            msg = "这是一个文件夹，不是文件：请给出自评表文件"
        elif isinstance(e, PermissionError):
            msg = "没有读取该文件的权限"
        else:
            msg = f"无法打开文件：{e.strerror or e}"
        return error("file_unreadable", msg)


def ingest_file(con: duckdb.DuckDBPyConnection, path: str | Path, *, received: dt.date, actor: str | None = None,
                today: dt.date | None = None, pool: WorkerPool | None = None) -> IngestResult:
    content = read_input(path)
    if not isinstance(content, bytes):
        return IngestResult(str(path), REJECTED, Report([content]))
    return ingest_bytes(con, str(path), content, received=received, actor=actor, today=today, pool=pool)
