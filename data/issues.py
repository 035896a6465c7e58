"""One issue type for the reader, the validator, the CLI and the UI.

An :class:`Issue` says what is wrong and where: the sheet, the A1-style cell
when one cell is at fault, else the row when a row is at fault, else the sheet
alone. Rules *yield* issues; a :class:`Report` collects them.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Iterable

ERROR = "error"
WARNING = "warning"
SEVERITY_LABEL = {ERROR: "错误", WARNING: "警告"}


@dataclass(frozen=True)
class Issue:
    code: str
    severity: str
    message: str
    sheet: str | None = None
    cell: str | None = None
    row: int | None = None

    @property
    def location(self) -> str:
        if not self.sheet:
            return ""
        if self.cell:
            return f"{self.sheet}!{self.cell}"
        if self.row:
            return f"{self.sheet}!{self.row}"
        return self.sheet

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    @property
    def severity_label(self) -> str:
        return SEVERITY_LABEL.get(self.severity, self.severity)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["location"] = self.location
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Issue":
        return cls(d["code"], d["severity"], d["message"], d.get("sheet"), d.get("cell"), d.get("row"))


def error(code: str, message: str, sheet: str | None = None, cell: str | None = None,
          row: int | None = None) -> Issue:
    return Issue(code, ERROR, message, sheet, cell, row)


def warning(code: str, message: str, sheet: str | None = None, cell: str | None = None,
            row: int | None = None) -> Issue:
    return Issue(code, WARNING, message, sheet, cell, row)


@dataclass
class Report:
    issues: list[Issue] = field(default_factory=list)

    def extend(self, issues: Iterable[Issue]) -> "Report":
        self.issues.extend(issues)
        return self

    def add(self, issue: Issue) -> None:
        self.issues.append(issue)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.is_error]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if not i.is_error]

    @property
    def ok(self) -> bool:
        return not self.errors

    def rows(self) -> list[dict]:
        """Table rows for the UI and exports: 位置, 级别, 问题 (errors first)."""
        ordered = self.errors + self.warnings
        return [{"位置": i.location or "（整个文件）", "级别": i.severity_label, "问题": i.message,
                 "代码": i.code} for i in ordered]
