"""Indicator schemes (one TOML file per year) and the category catalogue.

These are data, not code: adding a year means adding ``schemes/<year>.toml``.
Everything is loaded into frozen dataclasses and validated on load; a bad file
raises :class:`SchemeError` naming the file and the key at fault.  Keys are
strict: an unknown or misspelled key is an error, never silently ignored.

The scheme directory is ``core/schemes`` unless the environment variable
``GONGKAI_SCHEMES`` names another one (an operator's own schemes).
"""
from __future__ import annotations

import datetime as dt
import difflib
import os
import tomllib
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path

from core.errors import GongkaiError
from core.normalize import norm_key
from core.vocab import UNIT_TYPES

HERE = Path(__file__).resolve().parent
SCHEME_DIR = HERE / "schemes"
CATALOGUE_FILE = HERE / "catalogue.toml"

ANNUAL_REPORT_MODES = ("required", "optional", "none")
INDICATOR_TYPES = ("self", "auto", "bonus")
#: automatic indicators the engine knows how to compute
AUTO_RULES = ("H1", "H2", "G1", "G3", "I1")
BASE_TOTAL = Decimal(100)


#: colours of the grades, best first, when a scheme names none; the fail grade is red
DEFAULT_GRADE_COLORS = ("#1a7f37", "#2f80ed", "#e6a700", "#8e44ad", "#16a085", "#7f8c8d")
FAIL_GRADE_COLOR = "#d64545"

#: the keys a scheme file may have, per table (anything else is rejected)
SCHEME_KEYS = {
    "": ("year", "name", "note", "dates", "rules", "grades", "grade_colors", "fail_grade", "penalties",
         "required", "indicators"),
    "dates": ("year_start", "year_end", "cutoff"),
    "rules": ("proactive_days", "late_submission_days", "late_submission_points", "publicity_days", "annual_report",
              "reconcile_points", "requests"),
    "rules.requests": ("from", "days", "extended_days", "basis"),
    "penalties": ("K1_points",),
    "required": UNIT_TYPES,
    "indicators": ("code", "group", "text", "max", "type", "rule", "plan"),
}
CATALOGUE_KEYS = {"": ("categories",), "categories": ("code", "name", "aliases", "source")}


class SchemeError(GongkaiError, ValueError):
    """A scheme or catalogue file is malformed. The message names file and key."""

    def __init__(self, message: str):
        super().__init__(message, code="scheme_invalid")


def _keys(d: dict, allowed, where: str) -> None:
    """Reject a key of ``d`` not in ``allowed``, suggesting the nearest allowed one."""
    for k in d:
        if k not in allowed:
            near = difflib.get_close_matches(str(k), [str(a) for a in allowed], n=1, cutoff=0.6)
            hint = f"，是否应为 “{near[0]}”" if near else f"（可用的键：{'、'.join(allowed)}）"
            raise SchemeError(f"{where}: 未知的键 “{k}”{hint}")


@dataclass(frozen=True)
class Category:
    code: str
    name: str
    aliases: tuple[str, ...]
    source: str = ""


@dataclass(frozen=True)
class Catalogue:
    categories: tuple[Category, ...]

    def by_code(self, code: str) -> Category:
        return {c.code: c for c in self.categories}[code]

    @property
    def order(self) -> dict[str, int]:
        return {c.code: i for i, c in enumerate(self.categories)}

    def lookup(self) -> dict[str, str]:
        """Normalised canonical name or alias -> category code."""
        out: dict[str, str] = {}
        for c in self.categories:
            for n in (c.name, *c.aliases):
                out[norm_key(n, label=False)] = c.code
        return out

    def code_of_name(self, text: str) -> str | None:
        return self.lookup().get(norm_key(text, label=False))


@dataclass(frozen=True)
class Indicator:
    code: str
    group: str
    text: str
    max: Decimal
    type: str  # self | auto | bonus
    rule: str | None = None
    plan: str = ""

    @property
    def self_scored(self) -> bool:
        return self.type in ("self", "bonus")


@dataclass(frozen=True)
class RequestRule:
    start: dt.date
    days: int
    extended_days: int
    basis: str = ""


@dataclass(frozen=True)
class Scheme:
    year: int
    name: str
    year_start: dt.date
    year_end: dt.date
    cutoff: dt.date
    proactive_days: int
    late_submission_days: int
    late_submission_points: Decimal
    request_rules: tuple[RequestRule, ...]
    grades: tuple[tuple[str, Decimal], ...]  # (name, lower bound) descending
    fail_grade: str
    k1_points: Decimal
    required: dict[str, tuple[str, ...]] = field(hash=False)
    #: 公示期 length in working days (``[rules] publicity_days``)
    publicity_days: int = 5
    indicators: tuple[Indicator, ...] = ()
    note: str = ""
    source: str = ""
    #: the sheet 年报数据 (annual-report.md): "required", "optional" or "none"
    annual_report: str = "optional"
    #: points deducted from the total per 年报勾稽 rule (T1 … L4) the unit's report fails; 0 = none
    reconcile_points: Decimal = Decimal(0)
    #: grade name → chart colour (#rrggbb), every grade and the fail grade
    grade_colors: dict[str, str] = field(default_factory=dict, hash=False)

    @property
    def grade_names(self) -> list[str]:
        """Every grade, best first, the fail grade last."""
        return [n for n, _ in self.grades] + [self.fail_grade]

    def grade_color(self, name: str) -> str:
        return self.grade_colors.get(name, "#999999")

    @property
    def codes(self) -> list[str]:
        return [i.code for i in self.indicators]

    def indicator(self, code: str) -> Indicator:
        for i in self.indicators:
            if i.code == code:
                return i
        raise KeyError(code)

    @property
    def self_indicators(self) -> list[Indicator]:
        return [i for i in self.indicators if i.self_scored]

    @property
    def base_max(self) -> Decimal:
        return sum((i.max for i in self.indicators if i.type != "bonus"), Decimal(0))

    @property
    def groups(self) -> list[str]:
        out: list[str] = []
        for i in self.indicators:
            if i.group not in out:
                out.append(i.group)
        return out

    @property
    def group_codes(self) -> dict[str, list[str]]:
        """一级指标 → its indicator codes (scheme order)."""
        out: dict[str, list[str]] = {}
        for i in self.indicators:
            out.setdefault(i.group, []).append(i.code)
        return out

    @property
    def group_max(self) -> dict[str, Decimal]:
        """一级指标 → its maximum points (the sum of its indicators' maxima; scheme order)."""
        out: dict[str, Decimal] = {}
        for i in self.indicators:
            out[i.group] = out.get(i.group, Decimal(0)) + i.max
        return out

    def grade_of(self, total: Decimal, veto: bool = False) -> str:
        if veto:
            return self.fail_grade
        for name, low in self.grades:
            if total >= low:
                return name
        return self.fail_grade

    def weights(self) -> dict[str, Decimal]:
        return {i.code: i.max for i in self.indicators}


def _req(d: dict, key: str, where: str, typ=None):
    if key not in d:
        raise SchemeError(f"{where}: 缺少键 “{key}”")
    v = d[key]
    if typ is not None and not isinstance(v, typ):
        raise SchemeError(f"{where}: 键 “{key}” 的值类型不对（{type(v).__name__}）")
    return v


def _dec(v, where: str, places: int | None = None, minimum: Decimal | None = None) -> Decimal:
    """A finite number (TOML integer, float or numeric string); optionally with at
    most ``places`` decimals and not below ``minimum``.  Anything else is a
    :class:`SchemeError` naming ``where`` (file and key)."""
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        raise SchemeError(f"{where}: 需要数值，实为 “{v}”")
    try:
        d = Decimal(str(v).strip())
    except InvalidOperation:
        raise SchemeError(f"{where}: 需要数值，实为 “{v}”") from None
    if not d.is_finite():
        raise SchemeError(f"{where}: 需要有限的数值，实为 “{v}”")
    if places is not None and d != d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN):
        raise SchemeError(f"{where}: 最多 {places} 位小数，实为 {v}")
    if minimum is not None and d < minimum:
        raise SchemeError(f"{where}: 不能小于 {minimum}，实为 {v}")
    return d


def _int(d: dict, key: str, where: str, minimum: int, default: int | None = None) -> int:
    """An integer ≥ ``minimum`` under ``key`` (``default`` when absent and a default is given)."""
    if key not in d and default is not None:
        return default
    v = _req(d, key, where)
    if isinstance(v, bool) or not isinstance(v, int):
        raise SchemeError(f"{where}: 键 “{key}” 需要整数，实为 “{v}”")
    if v < minimum:
        raise SchemeError(f"{where}: 键 “{key}” 不能小于 {minimum}，实为 {v}")
    return v


def parse_catalogue(d: dict, source: str = "catalogue.toml") -> Catalogue:
    cats = []
    seen: set[str] = set()
    names: set[str] = set()
    _keys(d, CATALOGUE_KEYS[""], source)
    for n, c in enumerate(_req(d, "categories", source, list)):
        where = f"{source}: categories[{n}]"
        if not isinstance(c, dict):
            raise SchemeError(f"{where}: 需要一个表（[[categories]]）")
        _keys(c, CATALOGUE_KEYS["categories"], where)
        code = _req(c, "code", where, str)
        name = _req(c, "name", where, str)
        if code in seen:
            raise SchemeError(f"{where}: 类别编码 {code} 重复")
        for a in (name, *c.get("aliases", [])):
            if a in names:
                raise SchemeError(f"{where}: 名称或别名 “{a}” 重复")
            names.add(a)
        seen.add(code)
        cats.append(Category(code, name, tuple(c.get("aliases", [])), c.get("source", "")))
    return Catalogue(tuple(cats))


@lru_cache(maxsize=1)
def load_catalogue(path: Path | None = None) -> Catalogue:
    p = Path(path) if path else CATALOGUE_FILE
    try:
        d = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise SchemeError(f"{p.name}: TOML 格式错误：{e}") from e
    return parse_catalogue(d, p.name)


def parse_scheme(d: dict, source: str, catalogue: Catalogue | None = None) -> Scheme:
    cat = catalogue or load_catalogue()
    _keys(d, SCHEME_KEYS[""], source)
    year = _int(d, "year", source, 1900)
    dates = _req(d, "dates", source, dict)
    _keys(dates, SCHEME_KEYS["dates"], f"{source}: dates")
    ys = _req(dates, "year_start", f"{source}: dates", dt.date) if "year_start" in dates else dt.date(year, 1, 1)
    ye = _req(dates, "year_end", f"{source}: dates", dt.date) if "year_end" in dates else dt.date(year, 12, 31)
    cutoff = _req(dates, "cutoff", f"{source}: dates", dt.date)
    if not ys <= ye < cutoff:
        raise SchemeError(f"{source}: dates: 需要 year_start ≤ year_end < cutoff")
    rules = _req(d, "rules", source, dict)
    _keys(rules, SCHEME_KEYS["rules"], f"{source}: rules")
    pdays = _int(rules, "proactive_days", f"{source}: rules", 1)
    late_days = _int(rules, "late_submission_days", f"{source}: rules", 0, default=5)
    publicity = _int(rules, "publicity_days", f"{source}: rules", 1, default=5)
    late_points = _dec(rules.get("late_submission_points", 1), f"{source}: rules.late_submission_points",
                       places=2, minimum=Decimal(0))
    annual = rules.get("annual_report", "optional")
    if annual not in ANNUAL_REPORT_MODES:
        raise SchemeError(f"{source}: rules.annual_report: 须为 \"required\"、\"optional\" 或 \"none\"，实为 “{annual}”")
    rec_points = _dec(rules.get("reconcile_points", 0), f"{source}: rules.reconcile_points", places=2,
                      minimum=Decimal(0))
    rr = []
    for n, r in enumerate(_req(rules, "requests", f"{source}: rules", list)):
        w = f"{source}: rules.requests[{n}]"
        if not isinstance(r, dict):
            raise SchemeError(f"{w}: 需要一个表（from、days、extended_days）")
        _keys(r, SCHEME_KEYS["rules.requests"], w)
        rr.append(RequestRule(_req(r, "from", w, dt.date), _int(r, "days", w, 1),
                              _int(r, "extended_days", w, 1), r.get("basis", "")))
    rr.sort(key=lambda r: r.start)
    if not rr:
        raise SchemeError(f"{source}: rules.requests: 至少需要一条答复期限规则")
    grades_d = _req(d, "grades", source, dict)
    grades = sorted(((k, _dec(v, f"{source}: grades.{k}", places=2)) for k, v in grades_d.items()),
                    key=lambda kv: kv[1], reverse=True)
    if not grades:
        raise SchemeError(f"{source}: grades: 至少需要一个等次")
    fail_grade = d.get("fail_grade", "不合格")
    if not isinstance(fail_grade, str) or not fail_grade.strip() or fail_grade in grades_d:
        raise SchemeError(f"{source}: fail_grade: 需要一个不同于 grades 中各等次的名称，实为 “{fail_grade}”")
    colors_d = d.get("grade_colors", {})
    if not isinstance(colors_d, dict):
        raise SchemeError(f"{source}: grade_colors: 需要一个表（等次 = \"#rrggbb\"）")
    names = [n for n, _ in grades] + [fail_grade]
    _keys(colors_d, names, f"{source}: grade_colors")
    grade_colors = {}
    for n, name in enumerate(names):
        default = FAIL_GRADE_COLOR if name == fail_grade else DEFAULT_GRADE_COLORS[n % len(DEFAULT_GRADE_COLORS)]
        c = colors_d.get(name, default)
        if not (isinstance(c, str) and len(c) == 7 and c[0] == "#"
                and all(ch in "0123456789abcdefABCDEF" for ch in c[1:])):
            raise SchemeError(f"{source}: grade_colors.{name}: 颜色应写成 \"#rrggbb\"，实为 “{c}”")
        grade_colors[name] = c.lower()
    pen = d.get("penalties", {})
    if not isinstance(pen, dict):
        raise SchemeError(f"{source}: penalties: 需要一个表")
    _keys(pen, SCHEME_KEYS["penalties"], f"{source}: penalties")
    req = _req(d, "required", source, dict)
    _keys(req, SCHEME_KEYS["required"], f"{source}: required")
    known = {c.code for c in cat.categories}
    required: dict[str, tuple[str, ...]] = {}
    for t in UNIT_TYPES:
        codes = _req(req, t, f"{source}: required", list)
        for c in codes:
            if c not in known:
                raise SchemeError(f"{source}: required.{t}: 未知类别 “{c}”")
        required[t] = tuple(codes)
    inds = []
    seen: set[str] = set()
    for n, i in enumerate(_req(d, "indicators", source, list)):
        w = f"{source}: indicators[{n}]"
        if not isinstance(i, dict):
            raise SchemeError(f"{w}: 需要一个表（[[indicators]]）")
        _keys(i, SCHEME_KEYS["indicators"], w)
        code = _req(i, "code", w, str).strip().upper()
        if not code:
            raise SchemeError(f"{w}: 键 “code” 不能为空")
        w = f"{source}: indicators.{code}"
        if code in seen:
            raise SchemeError(f"{w}: 指标编号重复")
        seen.add(code)
        typ = _req(i, "type", w, str)
        if typ not in INDICATOR_TYPES:
            raise SchemeError(f"{w}: type 须为 self、auto 或 bonus，实为 “{typ}”")
        rule = i.get("rule")
        if typ == "auto" and rule not in AUTO_RULES:
            raise SchemeError(f"{w}: 自动指标的 rule “{rule}” 不是系统能计算的指标（{'、'.join(AUTO_RULES)}）")
        mx = _dec(_req(i, "max", w), f"{w}.max", places=2)
        if mx <= 0:
            raise SchemeError(f"{w}.max: max 必须为正数")
        inds.append(Indicator(code, _req(i, "group", w, str), i.get("text", ""), mx, typ, rule, i.get("plan", "")))
    s = Scheme(
        year=year, name=d.get("name", f"{year}年度"), year_start=ys, year_end=ye, cutoff=cutoff,
        proactive_days=pdays, late_submission_days=late_days, late_submission_points=late_points,
        request_rules=tuple(rr), grades=tuple(grades), fail_grade=fail_grade, grade_colors=grade_colors,
        k1_points=_dec(pen.get("K1_points", 3), f"{source}: penalties.K1_points", places=2, minimum=Decimal(0)),
        required=required, indicators=tuple(inds), note=d.get("note", ""), source=source,
        publicity_days=publicity, annual_report=annual, reconcile_points=rec_points)
    if s.base_max != BASE_TOTAL:
        raise SchemeError(f"{source}: indicators: 基础分满分合计应为 100，实为 {s.base_max}")
    rules_used = [i.rule for i in inds if i.type == "auto"]
    if len(set(rules_used)) != len(rules_used):
        raise SchemeError(f"{source}: indicators: 同一自动指标规则出现多次")
    return s


def load_scheme_file(path: Path) -> Scheme:
    p = Path(path)
    try:
        d = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise SchemeError(f"{p.name}: TOML 格式错误：{e}") from e
    except UnicodeDecodeError:
        raise SchemeError(f"{p.name}: 文件不是 UTF-8 编码") from None
    s = parse_scheme(d, p.name)
    if p.stem.isdigit() and int(p.stem) != s.year:
        raise SchemeError(f"{p.name}: year = {s.year} 与文件名不符")
    return s


def scheme_dir() -> Path:
    """The directory of the per-year scheme files: ``GONGKAI_SCHEMES`` or ``core/schemes``."""
    env = os.environ.get("GONGKAI_SCHEMES")
    return Path(env) if env else SCHEME_DIR


def load_schemes(directory: Path | None = None) -> dict[int, Scheme]:
    """Every scheme of ``directory`` (default :func:`scheme_dir`) by year, cached per directory."""
    return _load_schemes(Path(directory) if directory else scheme_dir())


@lru_cache(maxsize=4)
def _load_schemes(d: Path) -> dict[int, Scheme]:
    out = {}
    for p in sorted(d.glob("*.toml")):
        s = load_scheme_file(p)
        out[s.year] = s
    return out


def scheme_for(year: int) -> Scheme | None:
    return load_schemes().get(int(year))


def years() -> list[int]:
    return sorted(load_schemes())


def scheme_changes(a: Scheme, b: Scheme) -> list[str]:
    """Human-readable differences of indicator weights between two schemes."""
    out = []
    wa, wb = a.weights(), b.weights()
    for code in wb:
        if code not in wa:
            out.append(f"{b.year}年新增指标 {code}（{wb[code]}分）")
        elif wa[code] != wb[code]:
            out.append(f"{code} 分值 {a.year}年 {wa[code]} → {b.year}年 {wb[code]}")
    for code in wa:
        if code not in wb:
            out.append(f"{b.year}年取消指标 {code}")
    if a.required != b.required:
        out.append("必公开类别有变化")
    return out
