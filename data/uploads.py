"""Uploads from the pages: files ingested on behalf of the signed-in user (a
unit only for itself), and the per-file results and issues as tables."""
from __future__ import annotations

import datetime as dt
from typing import Callable, ContextManager, Iterable

import duckdb
import pandas as pd

from core.vocab import Role
from data.access import PermissionDenied, resolve_actor
from data.ingest import IngestResult, ingest_many
from data.review import ReviewError

def submit_files(con: duckdb.DuckDBPyConnection, files: Iterable[tuple[str, bytes]], *, user: dict,
                 received: dt.date, unit: str | None = None, today: dt.date | None = None,
                 progress: Callable[[int, int, str], None] | None = None,
                 write_lock: Callable[[], ContextManager] | None = None) -> list[IngestResult]:
    """Ingest uploaded files on behalf of ``user`` (``{"name", "role", "unit"}``).

    A unit account (role ``unit``) can only submit its own unit's workbook:
    ``unit`` must be empty or its own unit, and every file is checked with
    ``only_unit`` = its unit. A reviewer or administrator may name ``unit``
    (the workbook must then be that unit's) or leave it empty (batch import).
    Leaders cannot upload. One file failing never stops the others. The
    role and unit are those of the ``users`` table (:func:`data.access.resolve_actor`),
    never the ones the caller's dict claims.
    """
    try:
        who = resolve_actor(con, user)
    except PermissionDenied as e:
        raise ReviewError(str(e)) from e
    role = who.role
    if role == Role.UNIT:
        own = who.unit
        if not own:
            raise ReviewError("此填报单位账号没有对应的单位，请联系管理员")
        if unit is not None and unit != own:
            raise ReviewError(f"本账号只能上报“{own}”的自评材料")
        only = own
    elif role in (Role.REVIEWER, Role.ADMIN):
        only = unit or None
    else:
        raise ReviewError("当前账号没有上传自评表的权限")
    files = list(files)
    results: list[IngestResult] = []
    if progress:
        progress(0, len(files), files[0][0] if files else "")
    # read and validated in worker processes; ``write_lock`` is held only while one file is stored
    for n, res in enumerate(ingest_many(con, files, received=received, actor=who.name, today=today,
                                        only_unit=only, write_lock=write_lock), start=1):
        results.append(res)
        if progress and n < len(files):
            progress(n, len(files), files[n][0])
    if progress:
        progress(len(files), len(files), "")
    return results


RESULT_COLUMNS = ["文件", "结果", "单位", "年度", "版本", "错误数", "警告数"]
ISSUE_COLUMNS = ["文件", "位置", "级别", "问题"]


def results_frame(results: Iterable[IngestResult]) -> pd.DataFrame:
    rows = [[r.file_name, r.label, r.unit or "", r.year, r.version, len(r.report.errors), len(r.report.warnings)]
            for r in results]
    df = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    for c in ("年度", "版本"):
        df[c] = df[c].astype("Int64")
    return df


def issues_frame(results: Iterable[IngestResult]) -> pd.DataFrame:
    """Every issue of every file: 文件, 位置, 级别, 问题 — errors before warnings within a file."""
    rows = []
    for r in results:
        for i in r.report.rows():
            rows.append([r.file_name, i["位置"], i["级别"], i["问题"]])
    return pd.DataFrame(rows, columns=ISSUE_COLUMNS)
