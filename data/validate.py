"""Validation of a read workbook against workbook.md, the registry and the scheme.

Each rule is a small generator that *yields* issues; :func:`validate` runs
them all in one pass and collects a :class:`~core.errors.Report`, together
with the typed content that the store keeps when no error was found.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Iterator

from core.errors import INFO, Issue, Report, error, note, warning
from core.normalize import (ParseError, cell_text, clean_text, is_blank, norm_key, parse_date, parse_number,
                            to_halfwidth)
from core.workbook import INFO_LABELS, LEDGER_COLUMNS, REQUEST_COLUMNS, REQUIRED_SHEETS, SCORE_COLUMNS
from data.annual import S_ANNUAL, SHEET_ALIASES, AnnualReport, read_annual_report
from data.reader import ReadError, Row, Sheet, Workbook, find_labels, find_table
from data.registry import Unit
from core.vocab import APPLICANT_TYPES, CHANNELS, EXTENDED_VALUES, RESULTS, REVIEW_RESULTS, UNIT_TYPE_ALIASES
from core.scheme import Catalogue, Scheme

S_INFO, S_SCORES, S_LEDGER, S_REQUESTS = REQUIRED_SHEETS

_CENT = Decimal("0.01")
_SPLIT_EVIDENCE = re.compile(r"[\n\r；;]+")
_SPLIT_CHANNELS = re.compile(r"[、,，;；]+")
_PHONE = re.compile(r"^[0-9 \-]+$")


@dataclass
class ScoreRow:
    code: str
    score: Decimal
    note: str
    evidence: list[str]
    sheet_row: int


@dataclass
class LedgerItem:
    sheet_row: int
    seq: str
    title: str
    category: str
    formed: dt.date
    published: dt.date | None
    channels: list[str]
    url: str


@dataclass
class RequestRow:
    sheet_row: int
    request_no: str
    applicant_type: str
    received: dt.date
    corrected: dt.date | None
    extended: bool
    answered: dt.date | None
    result: str
    review_result: str


@dataclass
class Submission:
    unit: str | None = None
    unit_type: str | None = None
    year: int | None = None
    reporter: str = ""
    phone: str = ""
    report_date: dt.date | None = None
    unit_cell: str | None = None  # where 单位名称's value is (e.g. "B2"), for messages about the unit
    scores: list[ScoreRow] = field(default_factory=list)
    items: list[LedgerItem] = field(default_factory=list)
    requests: list[RequestRow] = field(default_factory=list)
    #: tables 三 and 四 of the annual report (sheet 年报数据), when present and readable
    annual: AnnualReport | None = None


@dataclass
class Context:
    units: dict[str, Unit]
    schemes: dict[int, Scheme]
    catalogue: Catalogue
    today: dt.date  # the day the workbook is received: no date may be later


# ---------------------------------------------------------------- helpers

def _date(row: Row, col: str, sheet: str, ctx: Context, required: bool = False) -> tuple[dt.date | None, Issue | None]:
    """Parse a date cell: (date or None, the issue of an empty, unreadable or future date or None)."""
    v = row.values.get(col, "")
    if type(v) is dt.date:  # the common case: a real date cell
        d = v
    else:
        if col not in row.cols or is_blank(v):
            if required:
                return None, error("date_empty", f"{col}为空，请填写日期（如 2019-06-03）", sheet,
                                   row.cell(col) if col in row.cols else None, row.number)
            return None, None
        try:
            d = parse_date(v)
        except ParseError:
            return None, error("date_invalid", f"{col}“{cell_text(v).strip()}”无法识别为日期，请按 2019-06-03 的格式填写",
                               sheet, row.cell(col))
    if d > ctx.today:
        return d, error("date_future", f"{col} {d.isoformat()} 晚于收到本表的日期 {ctx.today.isoformat()}，请核对",
                        sheet, row.cell(col))
    return d, None


def _text(row: Row, col: str) -> str:
    return clean_text(row.values.get(col))  # "" when the column is absent


# ---------------------------------------------------------------- 单位信息

def check_info(sheet: Sheet, ctx: Context, sub: Submission) -> Iterator[Issue]:
    found = find_labels(sheet, INFO_LABELS)
    for spec in INFO_LABELS:
        if spec.name not in found:
            yield error("info_label_missing", f"未找到“{spec.name}”一项（应在前20行、前6列中，值填在其右侧单元格）", S_INFO)
    values = {k: v for k, (v, _) in found.items()}
    cells = {k: c for k, (_, c) in found.items()}

    def empty(name):
        return name in found and is_blank(values[name])

    for name in ("单位名称", "单位类型", "考核年度", "填报人", "联系电话", "填报日期"):
        if empty(name):
            yield error("info_empty", f"{name}为空，请填写", S_INFO, cells[name])

    if "单位名称" in found and not empty("单位名称"):
        name = norm_key(values["单位名称"], label=False)
        unit = ctx.units.get(name)
        if unit is None:
            yield error("unit_unknown", f"单位名称“{clean_text(values['单位名称'])}”不在单位名录中，请按名录填写全称", S_INFO, cells["单位名称"])
        else:
            sub.unit, sub.unit_type, sub.unit_cell = unit.name, unit.unit_type, cells["单位名称"]
    if "单位类型" in found and not empty("单位类型"):
        typ = UNIT_TYPE_ALIASES.get(norm_key(values["单位类型"], label=False))
        if typ is None:
            yield error("unit_type_invalid", f"单位类型“{clean_text(values['单位类型'])}”应为“乡镇”或“部门”", S_INFO, cells["单位类型"])
        elif sub.unit_type and typ != sub.unit_type:
            yield error("unit_type_mismatch", f"单位类型填写为“{typ}”，但单位名录中“{sub.unit}”为“{sub.unit_type}”", S_INFO, cells["单位类型"])
    if "考核年度" in found and not empty("考核年度"):
        yield from _check_year(values["考核年度"], cells["考核年度"], ctx, sub)
    if "填报人" in found and not empty("填报人"):
        sub.reporter = clean_text(values["填报人"])
    if "联系电话" in found and not empty("联系电话"):
        phone = to_halfwidth(clean_text(values["联系电话"])).strip()
        if not _PHONE.match(phone):
            yield error("phone_invalid", f"联系电话“{clean_text(values['联系电话'])}”只能包含数字、空格和“-”（如 0451-7123456）",
                        S_INFO, cells["联系电话"])
        sub.phone = phone
    if "填报日期" in found and not empty("填报日期"):
        try:
            d = parse_date(values["填报日期"])
            sub.report_date = d
            if d > ctx.today:
                yield error("date_future", f"填报日期 {d.isoformat()} 晚于收到本表的日期 {ctx.today.isoformat()}，请核对", S_INFO, cells["填报日期"])
        except ParseError:
            yield error("date_invalid", f"填报日期“{cell_text(values['填报日期']).strip()}”无法识别为日期，请按 2019-06-03 的格式填写", S_INFO, cells["填报日期"])


def _check_year(v, cell: str, ctx: Context, sub: Submission) -> Iterator[Issue]:
    text = norm_key(v, label=False).removesuffix("度").removesuffix("年")
    try:
        n = parse_number(text)
        year = int(n) if n == int(n) else None
    except ParseError:
        year = None
    if year is None:
        yield error("year_invalid", f"考核年度“{clean_text(v)}”不是年份，应填写如 2019", S_INFO, cell)
    elif year not in ctx.schemes:
        have = "、".join(str(y) for y in sorted(ctx.schemes))
        yield error("year_no_scheme", f"考核年度 {year} 没有考核指标体系（现有年度：{have}）", S_INFO, cell)
    else:
        sub.year = year


# ---------------------------------------------------------------- 自评打分

def check_scores(sheet: Sheet, ctx: Context, sub: Submission) -> Iterator[Issue]:
    table, issues = find_table(sheet, SCORE_COLUMNS)
    yield from issues
    if table is None:
        return
    scheme = ctx.schemes.get(sub.year) if sub.year else None
    seen: dict[str, int] = {}
    for row in table.rows:
        code = norm_key(row.get("指标编号"), label=False).upper()
        raw = row.get("自评得分")
        if not code:
            if not is_blank(raw):
                yield error("score_code_empty", "该行填写了自评得分，但指标编号为空，请填写指标编号（如 A1）", S_SCORES, row.cell("指标编号"))
            continue
        if scheme is not None:
            try:
                ind = scheme.indicator(code)
            except KeyError:
                yield error("score_code_unknown", f"指标编号“{code}”不在{scheme.year}年考核指标体系中，请按模板中的指标编号填写", S_SCORES, row.cell("指标编号"))
                continue
        else:
            ind = None
        if code in seen:
            yield error("score_code_duplicate", f"指标 {code} 重复出现（第{seen[code]}行已有），每个指标只能填一行", S_SCORES, row.cell("指标编号"))
            continue
        seen[code] = row.number
        if ind is not None and "分值" in row.cols and not is_blank(row.get("分值")):
            try:
                printed = parse_number(row.get("分值"))
                if printed != ind.max:
                    yield warning("max_differs", f"指标 {code} 的分值写为 {printed}，考核指标体系为 {ind.max} 分，按 {ind.max} 分计", S_SCORES, row.cell("分值"))
            except ParseError:
                yield warning("max_differs", f"指标 {code} 的分值“{clean_text(row.get('分值'))}”不是数字，按考核指标体系 {ind.max} 分计", S_SCORES, row.cell("分值"))
        if ind is not None and not ind.self_scored:
            if not is_blank(raw):
                yield warning("auto_score_ignored", f"指标 {code} 由系统根据台账自动计算，所填分数“{clean_text(raw)}”不予采用", S_SCORES, row.cell("自评得分"))
            continue
        if is_blank(raw):
            if ind is not None:  # without the year's scheme it is unknown whether the row needs a score
                yield error("score_empty", f"指标 {code} 的自评得分为空，请填写", S_SCORES, row.cell("自评得分"))
            continue
        try:
            score = parse_number(raw)
        except ParseError:
            yield error("score_not_number", f"指标 {code} 的自评得分“{clean_text(raw)}”不是数字"
                                + (f"，请填写 0 至 {ind.max} 之间的数字" if ind is not None else "，请填写数字"), S_SCORES, row.cell("自评得分"))
            continue
        if score < 0:
            yield error("score_negative", f"指标 {code} 的自评得分 {score} 为负数"
                                + (f"，应为 0 至 {ind.max} 之间的数字" if ind is not None else "，不能为负数"), S_SCORES, row.cell("自评得分"))
            continue
        if ind is not None and score > ind.max:
            yield error("score_above_max", f"指标 {code} 的自评得分 {score} 超过该项分值 {ind.max} 分", S_SCORES, row.cell("自评得分"))
            continue
        if score != score.quantize(_CENT):
            rounded = score.quantize(_CENT, rounding=ROUND_HALF_UP)
            yield warning("score_precision", f"指标 {code} 的自评得分 {score} 超过两位小数，按四舍五入 {rounded} 分计", S_SCORES, row.cell("自评得分"))
            score = rounded
        evidence = [e.strip() for e in _SPLIT_EVIDENCE.split(cell_text(row.get("佐证材料"))) if e.strip()] if "佐证材料" in row.cols else []
        sub.scores.append(ScoreRow(code, score, _text(row, "自评说明"), evidence, row.number))
    if scheme is not None:
        for ind in scheme.self_indicators:
            if ind.code not in seen:
                yield error("score_code_missing", f"缺少指标 {ind.code}（{ind.group}：{ind.text}）的自评得分行", S_SCORES)


# ---------------------------------------------------------------- 主动公开台账

def check_ledger(sheet: Sheet, ctx: Context, sub: Submission) -> Iterator[Issue]:
    table, issues = find_table(sheet, LEDGER_COLUMNS)
    yield from issues
    if table is None:
        return
    lookup = ctx.catalogue.lookup()
    scheme = ctx.schemes.get(sub.year) if sub.year else None
    channel_cache: dict[str, list[str]] = {}
    for row in table.rows:
        ok = True
        title = _text(row, "信息名称")
        if not title:
            ok = False
            yield error("title_empty", "信息名称为空，请填写", S_LEDGER, row.cell("信息名称"))
        cat_raw = row.get("公开类别")
        category = None
        if is_blank(cat_raw):
            ok = False
            yield error("category_empty", "公开类别为空，请从下拉列表中选择", S_LEDGER, row.cell("公开类别"))
        else:
            category = lookup.get(norm_key(cat_raw, label=False))
            if category is None:
                ok = False
                yield error("category_unknown", f"公开类别“{clean_text(cat_raw)}”不在公开类别目录中，请从下拉列表中选择", S_LEDGER, row.cell("公开类别"))
        formed, issue = _date(row, "形成日期", S_LEDGER, ctx, required=True)
        formed_ok = issue is None
        if issue:
            ok = False
            yield issue
        published, issue = _date(row, "公开日期", S_LEDGER, ctx)
        if issue:
            ok = False
            yield issue
        if formed and published and published < formed:
            ok = False
            yield error("published_before_formed", f"公开日期 {published} 早于形成日期 {formed}：公开日期不能早于形成日期，请核对", S_LEDGER, row.cell("公开日期"))
        if formed and formed_ok and scheme and not scheme.year_start <= formed <= scheme.year_end:
            yield warning("item_outside_year", f"形成日期 {formed} 不在{scheme.year}年度内：予以保存，但不计入本年度", S_LEDGER, row.cell("形成日期"))
        channels = []
        ch_raw = row.values.get("公开渠道")
        if not is_blank(ch_raw):
            key = cell_text(ch_raw)
            if key not in channel_cache:
                channel_cache[key] = [norm_key(c, label=False) for c in _SPLIT_CHANNELS.split(key) if c.strip()]
            channels = list(channel_cache[key])
            unknown = [c for c in channels if c not in CHANNELS]
            if unknown:
                yield warning("channel_unknown", f"公开渠道“{'、'.join(unknown)}”不是 {'、'.join(CHANNELS)} 之一", S_LEDGER, row.cell("公开渠道"))
        if ok:
            sub.items.append(LedgerItem(row.number, _text(row, "序号"), title, category, formed, published,
                                        channels, _text(row, "链接")))


# ---------------------------------------------------------------- 依申请公开台账

def check_requests(sheet: Sheet, ctx: Context, sub: Submission) -> Iterator[Issue]:
    table, issues = find_table(sheet, REQUEST_COLUMNS)
    yield from issues
    if table is None:
        return
    scheme = ctx.schemes.get(sub.year) if sub.year else None
    seen: dict[str, int] = {}
    for row in table.rows:
        ok = True
        no = _text(row, "申请编号")
        if not no:
            ok = False
            yield error("request_no_empty", "申请编号为空，请填写", S_REQUESTS, row.cell("申请编号"))
        elif no in seen:
            ok = False
            yield error("request_no_duplicate", f"申请编号“{no}”重复（第{seen[no]}行已有），申请编号不得重复", S_REQUESTS, row.cell("申请编号"))
        else:
            seen[no] = row.number
        d: dict = {}
        bad_dates: set[str] = set()
        for col, req in (("收到日期", True), ("补正日期", False), ("答复日期", False)):
            d[col], issue = _date(row, col, S_REQUESTS, ctx, required=req)
            if issue:
                ok = False
                bad_dates.add(col)
                yield issue
        received, corrected, answered = d["收到日期"], d["补正日期"], d["答复日期"]
        if received and corrected and corrected < received:
            ok = False
            yield error("corrected_before_received", f"补正日期 {corrected} 早于收到日期 {received}：补正日期不能早于收到日期，请核对", S_REQUESTS, row.cell("补正日期"))
        if answered and received and answered < received:
            ok = False
            yield error("answered_before_received", f"答复日期 {answered} 早于收到日期 {received}：答复日期不能早于收到日期，请核对", S_REQUESTS, row.cell("答复日期"))
        elif answered and corrected and answered < corrected:
            ok = False
            yield error("answered_before_corrected", f"答复日期 {answered} 早于补正日期 {corrected}：答复日期不能早于补正日期，请核对", S_REQUESTS, row.cell("答复日期"))
        ext_raw = norm_key(row.get("是否延期"), label=False).upper() if "是否延期" in row.cols else ""
        extended = EXTENDED_VALUES.get(ext_raw)
        if extended is None:
            ok = False
            yield error("extended_invalid", f"是否延期“{clean_text(row.get('是否延期'))}”应为“是”或“否”", S_REQUESTS, row.cell("是否延期"))
        result = norm_key(row.get("办理结果"), label=False) if "办理结果" in row.cols else ""
        if result and result not in RESULTS:
            ok = False
            yield error("result_invalid", f"办理结果“{clean_text(row.get('办理结果'))}”应为 {'、'.join(RESULTS)} 之一", S_REQUESTS, row.cell("办理结果"))
        if answered and not result:
            ok = False
            cell = row.cell("办理结果") if "办理结果" in row.cols else None
            yield error("result_missing", f"已填写答复日期，但办理结果为空，请填写办理结果（{'、'.join(RESULTS)}）", S_REQUESTS, cell, row.number)
        review = norm_key(row.get("复议诉讼结果"), label=False) if "复议诉讼结果" in row.cols else ""
        if review and review not in REVIEW_RESULTS:
            ok = False
            yield error("review_result_invalid", f"复议诉讼结果“{clean_text(row.get('复议诉讼结果'))}”应为空或 {'、'.join(REVIEW_RESULTS)} 之一", S_REQUESTS, row.cell("复议诉讼结果"))
        applicant = norm_key(row.get("申请人类型"), label=False) if "申请人类型" in row.cols else ""
        if applicant and applicant not in APPLICANT_TYPES:
            yield warning("applicant_type_unknown", f"申请人类型“{clean_text(row.get('申请人类型'))}”不是 {'、'.join(APPLICANT_TYPES)} 之一", S_REQUESTS, row.cell("申请人类型"))
        if received and "收到日期" not in bad_dates and scheme and not scheme.year_start <= received <= scheme.year_end:
            yield warning("request_outside_year", f"收到日期 {received} 不在{scheme.year}年度内：予以保存，但不计入本年度", S_REQUESTS, row.cell("收到日期"))
        if ok:
            sub.requests.append(RequestRow(row.number, no, applicant, received, corrected, bool(extended), answered,
                                           result, review))


# ---------------------------------------------------------------- the whole workbook

SHEET_RULES = ((S_INFO, check_info), (S_SCORES, check_scores), (S_LEDGER, check_ledger), (S_REQUESTS, check_requests))


def validate(wb: Workbook, ctx: Context) -> tuple[Submission, Report]:
    """Run every rule; the submission is only to be stored when ``report.ok``."""
    sub = Submission()
    report = Report()
    for name, rule in SHEET_RULES:  # 单位信息 first: the other sheets need unit and year
        try:
            sheet = wb.sheet(name)
        except ReadError as e:
            report.extend(e.issues)
            continue
        if sheet is None:
            have = "、".join(wb.sheet_names) or "无"
            report.add(error("sheet_missing", f"缺少工作表“{name}”（本文件中的工作表：{have}）", name))
            continue
        report.extend(rule(sheet, ctx, sub))
    annual = list(check_annual(wb, ctx, sub))
    if not report.ok:  # a rejected file's report lists what to fix, not information notes
        annual = [i for i in annual if i.severity != INFO]
    report.extend(annual)
    return sub, report


# ---------------------------------------------------------------- 年报数据 (annual-report.md)

def check_annual(wb: Workbook, ctx: Context, sub: Submission) -> Iterator[Issue]:
    """The optional sheet 年报数据: required, optional or not used, as the year's scheme says."""
    scheme = ctx.schemes.get(sub.year) if sub.year else None
    mode = scheme.annual_report if scheme is not None else "optional"
    if mode == "none":
        return
    sheet = None
    for name in (S_ANNUAL, *SHEET_ALIASES):
        try:
            sheet = wb.sheet(name)
        except ReadError as e:
            yield from e.issues
            return
        if sheet is not None:
            break
    report, issues = read_annual_report(sheet) if sheet is not None else (None, [])
    yield from issues
    if sheet is None or (report is not None and not report.filled):
        if mode != "required":
            yield note("annual_absent", "未填报年报数据，未作勾稽", S_ANNUAL)
        elif sheet is None:
            have = "、".join(wb.sheet_names) or "无"
            yield error("sheet_missing", f"缺少工作表“{S_ANNUAL}”：{sub.year}年度要求照抄年度报告表三、表四的数字"
                                         f"（本文件中的工作表：{have}）", S_ANNUAL)
        else:
            yield error("annual_empty", f"“{S_ANNUAL}”工作表未填写：{sub.year}年度要求照抄已公布的年度报告表三、表四的数字"
                                        f"（没有的填 0）", S_ANNUAL)
        return
    sub.annual = report
