"""The story of a unit-year as the review and upload pages show it: the audit
trail, accepted versions and refused attempts with reviewer decisions, the
original files, and evidence entries as links. Reads only."""
from __future__ import annotations

import json
import re
from typing import Iterable

import duckdb
import pandas as pd

from data.review import DECISION_ACTIONS, ReviewError

AUDIT_COLUMNS = ["时间", "操作人", "操作", "内容", "修改前", "修改后"]


def audit_log(con: duckdb.DuckDBPyConnection, unit: str, year: int) -> pd.DataFrame:
    """Every audit row of a unit-year, newest first: 时间, 操作人, 操作, 内容, 修改前, 修改后."""
    rows = con.execute("""SELECT at_time, coalesce(actor, ''), action, coalesce(detail, ''),
                                 coalesce(before, ''), coalesce(after, '')
                          FROM audit WHERE unit = ? AND year = ? ORDER BY id DESC""", [unit, int(year)]).fetchall()
    return pd.DataFrame(rows, columns=AUDIT_COLUMNS)


HISTORY_COLUMNS = ["时间", "事件", "版本", "收到日期", "文件名", "SHA-256", "操作人", "说明"]


def submission_history(con: duckdb.DuckDBPyConnection, unit: str, year: int) -> pd.DataFrame:
    """The unit-year's story, newest first: accepted versions (with received
    date, file name, SHA-256), rejected attempts (table ``rejections``, also
    those of the unit's own accounts whose file named no readable unit), and
    reviewer decisions with their comments (通过 / 退回 / 重新打开).

    Columns: 时间, 事件, 版本, 收到日期, 文件名, SHA-256, 操作人, 说明.
    """
    year = int(year)
    out = []
    subs = con.execute("""SELECT uploaded_at, version, received, file_name, sha256, uploaded_by, warnings,
                                 version = max(version) OVER () AS is_current
                          FROM submissions WHERE unit = ? AND year = ?""", [unit, year]).fetchall()
    for at, ver, rec, fn, sha, by, warns, is_cur in subs:
        n_warn = len(json.loads(warns)) if warns else 0
        note = ("当前版本；" if is_cur else "") + (f"{n_warn}条警告" if n_warn else "无警告")
        out.append([at, "上传·已接收", int(ver), rec, fn, sha, by or "", note])
    rej = con.execute("""SELECT attempted_at, received, file_name, sha256, uploaded_by, issues FROM rejections
                         WHERE (unit = ? AND (year = ? OR year IS NULL))
                            OR (unit IS NULL AND uploaded_by IN (SELECT name FROM users WHERE unit = ?))""",
                      [unit, year, unit]).fetchall()
    for at, rec, fn, sha, by, issues in rej:
        errs = [i for i in json.loads(issues or "[]") if i.get("severity") == "error"]
        first = errs[0]["message"] if errs else ""
        note = f"共{len(errs)}个错误，第一个：{first}" if len(errs) > 1 else first
        out.append([at, "上传·已拒收", None, rec, fn, sha or "", by or "", note])
    for at, action, by, detail in con.execute(
            f"""SELECT at_time, action, actor, detail FROM audit WHERE unit = ? AND year = ?
                AND action IN ({", ".join("?" for _ in DECISION_ACTIONS)})""",
            [unit, year, *DECISION_ACTIONS]).fetchall():
        out.append([at, f"审核·{action}", None, None, "", "", by or "", detail or ""])
    df = pd.DataFrame(out, columns=HISTORY_COLUMNS)
    if len(df):
        df = df.sort_values("时间", ascending=False, kind="stable").reset_index(drop=True)
    df["版本"] = df["版本"].astype("Int64")
    return df


def versions(con: duckdb.DuckDBPyConnection, unit: str, year: int) -> pd.DataFrame:
    """Accepted versions, newest first: id, version, received, uploaded_at, file_name, sha256, uploaded_by."""
    cols = ["id", "version", "received", "uploaded_at", "file_name", "sha256", "uploaded_by"]
    rows = con.execute(f"""SELECT {", ".join(cols)} FROM submissions WHERE unit = ? AND year = ?
                           ORDER BY version DESC""", [unit, int(year)]).fetchall()
    return pd.DataFrame(rows, columns=cols)


def get_original_file(con: duckdb.DuckDBPyConnection, submission_id: int, unit: str | None = None) -> tuple[str, bytes]:
    """(file name, original bytes) of an accepted version. With ``unit``, a
    version of another unit is refused (a unit account sees only its own)."""
    row = con.execute("SELECT file_name, content, unit FROM submissions WHERE id = ?", [int(submission_id)]).fetchone()
    if row is None or (unit is not None and row[2] != unit):
        raise ReviewError(f"找不到编号为 {submission_id} 的上报材料")
    name = re.split(r"[\\/]", row[0])[-1] or "自评表.xlsx"
    return name, bytes(row[1])


_URL = re.compile(r"^(https?://|www\.)\S+$", re.I)


def evidence_links(items: Iterable[str]) -> list[tuple[str, str | None]]:
    """(text, url or None) for each evidence entry: URLs become links, document names stay text."""
    out = []
    for e in items or []:
        e = str(e).strip()
        if not e:
            continue
        url = e if _URL.match(e) else None
        if url and url.lower().startswith("www."):
            url = "http://" + url
        out.append((e, url))
    return out
