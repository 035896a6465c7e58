"""The unit registry (单位名录): loading the registry CSV and looking units up."""
from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import GongkaiError, Issue, error
from core.normalize import norm_key
from data.access import ADMINS, require_actor
from core.scheme import load_catalogue
from core.vocab import UNIT_TYPES

if TYPE_CHECKING:  # the workers that read uploaded files import this module without the database
    import duckdb

HEADER = ["单位名称", "单位类型", "附加必公开类别"]


class RegistryError(GongkaiError, ValueError):
    """A registry CSV that cannot be loaded; ``issues`` name the lines."""


@dataclass(frozen=True)
class Unit:
    name: str
    unit_type: str
    extra_categories: tuple[str, ...] = ()


def parse_registry(text: str, source: str = "registry.csv") -> list[Unit]:
    """Parse the registry CSV; raise :class:`RegistryError` naming every bad line."""
    if text.startswith("\ufeff"):
        text = text[1:]
    reader = csv.reader(io.StringIO(text))
    rows: list[list[str]] = []
    lines: list[int] = []  # the file line each record starts on (a quoted field may span lines)
    last = 0
    for rec in reader:
        rows.append(rec)
        lines.append(last + 1)
        last = reader.line_num
    issues: list[Issue] = []
    if not rows or [norm_key(h) for h in rows[0]][:3] != HEADER:
        raise RegistryError([error("registry_header", f"表头应为“{','.join(HEADER)}”，实为“{','.join(rows[0]) if rows else '（空文件）'}”",
                                   sheet=source, row=1)])
    lookup = load_catalogue().lookup()
    units: list[Unit] = []
    seen: dict[str, int] = {}
    for n, row in zip(lines[1:], rows[1:]):
        if not any(c.strip() for c in row):
            continue
        if any(c.strip() for c in row[3:]):
            issues.append(error("registry_columns", f"有{len(row)}列，应为3列（附加必公开类别之间请用“、”分隔，不要用英文逗号）",
                                sheet=source, row=n))
            continue
        row = (row + ["", "", ""])[:3]
        name = norm_key(row[0], label=False)
        typ = norm_key(row[1], label=False)
        if not name:
            issues.append(error("registry_name", "单位名称为空", sheet=source, row=n))
            continue
        if any(unicodedata.category(ch) == "Cc" and not ch.isspace() for ch in "".join(row)):
            issues.append(error("registry_control_char", "含有不可见的控制字符（多半是从别处复制来的）：请删除后重新导入",
                                sheet=source, row=n))
            continue
        if name in seen:
            issues.append(error("registry_duplicate", f"单位“{name}”重复（第{seen[name]}行已有）", sheet=source, row=n))
        seen.setdefault(name, n)
        if not typ:
            issues.append(error("registry_type", "单位类型为空，应为“乡镇”或“部门”", sheet=source, row=n))
        elif typ not in UNIT_TYPES:
            issues.append(error("registry_type", f"单位类型“{row[1].strip()}”应为“乡镇”或“部门”", sheet=source, row=n))
        extras = []
        for part in (p for p in row[2].replace("，", "、").replace(",", "、").split("、") if p.strip()):
            code = lookup.get(norm_key(part, label=False))
            if code is None:
                issues.append(error("registry_category", f"附加必公开类别“{part.strip()}”不是目录中的类别", sheet=source, row=n))
            elif code not in extras:
                extras.append(code)
        units.append(Unit(name, typ, tuple(extras)))
    if issues:
        raise RegistryError(issues)
    return units


def load_units(con: duckdb.DuckDBPyConnection, units: list[Unit], *, actor) -> tuple[int, int]:
    """Add or update units in one transaction (administrators only, see
    :mod:`data.access`). Returns (added, updated)."""
    who = require_actor(con, actor, ADMINS, what="导入单位名录")
    from data.store import audit, touch, transaction

    existing = {r[0] for r in con.execute("SELECT name FROM units").fetchall()}
    start = con.execute("SELECT coalesce(max(sort_order), 0) FROM units").fetchone()[0]
    added = updated = 0
    with transaction(con):
        for i, u in enumerate(units, start=1):
            if u.name in existing:
                con.execute("UPDATE units SET unit_type = ?, extra_categories = ? WHERE name = ?",
                            [u.unit_type, list(u.extra_categories), u.name])
                touch(u.name, None)
                updated += 1
            else:
                con.execute("INSERT INTO units VALUES (?, ?, ?, ?)",
                            [u.name, u.unit_type, list(u.extra_categories), start + i])
                touch(u.name, None)
                added += 1
        audit(con, "单位名录导入", actor=who.name, detail=f"新增 {added} 个，更新 {updated} 个")
    return added, updated


def load_registry_file(con: duckdb.DuckDBPyConnection, path: str | Path, *, actor) -> tuple[int, int]:
    p = Path(path)
    content = p.read_bytes()
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as e:
        line = content[:e.start].count(b"\n") + 1
        raise RegistryError([error("registry_encoding",
                                   "文件不是 UTF-8 编码的 CSV（多半是 GBK/ANSI 编码）："
                                   "请在 Excel 中另存为“CSV UTF-8（逗号分隔）”后重新导入", sheet=p.name, row=line)])
    return load_units(con, parse_registry(text, p.name), actor=actor)


def get_units(con: duckdb.DuckDBPyConnection) -> dict[str, Unit]:
    rows = con.execute("SELECT name, unit_type, extra_categories, sort_order FROM units").fetchall()
    rows.sort(key=lambda r: (r[3], r[0]))  # registry order (sorting here is cheaper than ORDER BY)
    return {r[0]: Unit(r[0], r[1], tuple(r[2] or ())) for r in rows}
