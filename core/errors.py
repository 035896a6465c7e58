"""One issue type and one error family for the reader, the validator, the
scheme and calendar loaders, the workflow, the CLIs and the UI.

An :class:`Issue` says what is wrong and where: the sheet, the A1-style cell
when one cell is at fault, else the row when a row is at fault, else the sheet
alone. Rules *yield* issues; a :class:`Report` collects them.  Every issue
code is declared once in :data:`CODES` (code → default message).  Errors our
code raises for the user carry their issues: :class:`GongkaiError` is the base.
"""
from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field
from typing import IO, Iterable

ERROR = "error"
WARNING = "warning"
#: an information note: neither blocks nor warns (e.g. "未填报年报数据，未作勾稽")
INFO = "info"
SEVERITY_LABEL = {ERROR: "错误", WARNING: "警告", INFO: "提示"}

#: every issue code, with its default message (used when a rule gives none)
CODES: dict[str, str] = {
    "error": "操作未完成",
    # the file as a whole (reader)
    "file_empty": "文件是空的（0 字节），请重新保存后上传",
    "file_too_large": "文件超过大小上限：请删除无关工作表、图片后重新保存上传",
    "file_archive_too_large": "文件解压后过大，系统拒绝读取：请删除无关工作表、图片后重新保存上传",
    "file_encrypted": "文件设置了打开密码（已加密），系统无法读取：请取消密码保护后重新上传",
    "file_not_spreadsheet": "文件不是电子表格：请上传自检自评表 .xlsx 或 .xls",
    "file_wps_native": "文件是 WPS 专用格式，系统无法读取：请在WPS中另存为 .xlsx 后上传",
    "file_xlsb": "不支持 .xlsb（二进制工作簿）格式：请另存为 .xlsx 后上传",
    "file_unreadable": "文件已损坏，无法打开：请在 Excel 或 WPS 中重新保存后上传",
    "sheet_unreadable": "工作表无法读取（格式损坏）：请在 Excel 或 WPS 中另存为 .xlsx 后上传",
    "sheet_too_large": "工作表的内容区域超出可读取的上限：请删除表格以外的行和列后重新保存上传",
    "file_unsafe": "文件结构异常，无法安全读取（可能是损坏或恶意构造的文件），未保存任何数据",
    "sheet_missing": "缺少工作表",
    "header_missing": "缺少必填列",
    "info_label_missing": "未找到必填项（应在前20行、前6列中，值填在其右侧单元格）",
    # 基本信息
    "info_empty": "必填项为空，请填写",
    "unit_unknown": "单位名称不在单位名录中，请按名录填写全称",
    "unit_not_allowed": "本账号只能上报本单位的自评表",
    "unit_type_invalid": "单位类型应为“乡镇”或“部门”",
    "unit_type_mismatch": "单位类型与单位名录不符",
    "year_invalid": "考核年度不是年份，应填写如 2019",
    "year_no_scheme": "考核年度没有考核指标体系",
    "phone_invalid": "联系电话只能包含数字、空格和“-”",
    "date_empty": "日期为空，请填写日期（如 2019-06-03）",
    "date_invalid": "无法识别为日期，请按 2019-06-03 的格式填写",
    "date_future": "日期晚于收到本表的日期，请核对",
    # 主动公开台账
    "title_empty": "信息名称为空，请填写",
    "category_empty": "公开类别为空，请从下拉列表中选择",
    "category_unknown": "公开类别不在公开类别目录中，请从下拉列表中选择",
    "channel_unknown": "公开渠道不在可选范围内",
    "published_before_formed": "公开日期不能早于形成日期，请核对",
    "item_outside_year": "形成日期不在本年度内：予以保存，但不计入本年度",
    # 依申请公开台账
    "request_no_empty": "申请编号为空，请填写",
    "request_no_duplicate": "申请编号不得重复",
    "applicant_type_unknown": "申请人类型不在可选范围内",
    "extended_invalid": "是否延期应为“是”或“否”",
    "result_invalid": "办理结果不在可选范围内",
    "result_missing": "已填写答复日期，但办理结果为空，请填写办理结果",
    "review_result_invalid": "复议诉讼结果不在可选范围内",
    "corrected_before_received": "补正日期不能早于收到日期，请核对",
    "answered_before_received": "答复日期不能早于收到日期，请核对",
    "answered_before_corrected": "答复日期不能早于补正日期，请核对",
    "request_outside_year": "收到日期不在本年度内：予以保存，但不计入本年度",
    # 自评打分
    "score_code_empty": "该行填写了自评得分，但指标编号为空，请填写指标编号（如 A1）",
    "score_code_unknown": "指标编号不在本年度考核指标体系中，请按模板中的指标编号填写",
    "score_code_duplicate": "指标重复出现，每个指标只能填一行",
    "score_code_missing": "缺少指标的自评得分行",
    "score_empty": "自评得分为空，请填写",
    "score_not_number": "自评得分不是数字",
    "score_negative": "自评得分为负数",
    "score_above_max": "自评得分超过该项分值",
    "score_precision": "自评得分超过两位小数，按四舍五入计",
    "max_differs": "分值与考核指标体系不符，按考核指标体系计",
    "auto_score_ignored": "该指标由系统根据台账自动计算，所填分数不予采用",
    # 年报数据 (annual-report.md)
    "annual_absent": "未填报年报数据，未作勾稽",
    "annual_empty": "年报数据工作表未填写",
    "annual_table_missing": "未找到年度报告表三或表四的标题",
    "annual_header_missing": "年度报告表格的表头不完整",
    "annual_row_unknown": "不是年度报告表三的项目",
    "annual_row_duplicate": "年度报告表三中的行重复出现",
    "annual_row_missing": "年度报告表三缺少一行",
    "annual_edition_mixed": "“其他处理”分三项填写时，“其他处理”一行本身不应再填数字",
    "annual_value_invalid": "应为不小于 0 的整数",
    "annual_t1": "年报勾稽T1：本年新收+上年结转 应等于 办理结果总计+结转下年度",
    "annual_t2": "年报勾稽T2：办理结果总计 应等于 各项办理结果之和",
    "annual_t3": "年报勾稽T3：总计 应等于 各类申请人之和",
    "annual_t4": "年报勾稽T4：表四总计 应等于 维持+纠正+其他结果+尚未审结",
    "annual_l1": "年报勾稽L1：本年新收 应等于 台账本年收到的申请数",
    "annual_l2": "年报勾稽L2：办理结果 与台账不符",
    "annual_l3": "年报勾稽L3：结转下年度 与台账不符",
    "annual_l4": "年报勾稽L4：表四 少于台账复议诉讼结果数",
    # storing
    "submission_approved": "本年度材料已审核通过，不能再上传新版本",
    "stage_closed": "本年度已结束填报，不能再上传新版本",
    "store_failed": "保存失败，数据未作任何更改",
    "internal_error": "系统内部错误，文件未保存（错误已记入日志，请联系管理员）",
    # errors of our loaders and the workflow (the message says it all)
    "scheme_invalid": "考核指标体系文件有错误",
    "unknown_year": "没有该年度的考核指标体系",
    "calendar_invalid": "工作日历文件有错误",
    "calendar_missing": "工作日历不足以计算",
    "review_refused": "无法完成审核操作",
    "user_invalid": "无法完成账号操作",
    "permission_denied": "无权执行此操作",
    "closing_refused": "无法完成年度流程操作",
    "snapshot_missing": "没有所要的结果稿",
    # 单位名录
    "registry_encoding": "单位名录文件不是 UTF-8 编码",
    "registry_header": "单位名录表头不对",
    "registry_columns": "列数不对，应为3列",
    "registry_control_char": "含有不可见的控制字符：请删除后重新导入",
    "registry_name": "单位名称为空",
    "registry_type": "单位类型应为“乡镇”或“部门”",
    "registry_duplicate": "单位重复",
    "registry_category": "附加必公开类别不是目录中的类别",
}


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
        """As cli.md prints it: ``工作表!B7`` for a cell, ``工作表!7`` for a row,
        else the sheet; ``第7行`` for a row of a file without sheets (单位名录);
        "" for the whole file.  Messages never repeat the location."""
        if self.cell and self.sheet:
            return f"{self.sheet}!{self.cell}"
        if self.row:
            return f"{self.sheet}!{self.row}" if self.sheet else f"第{self.row}行"
        return self.sheet or ""

    def __str__(self) -> str:
        return f"{self.location}：{self.message}" if self.location else self.message

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


def _declared(code: str) -> str:
    if code not in CODES:
        raise KeyError(f"issue code {code!r} is not declared in core.errors.CODES")
    return CODES[code]


def error(code: str, message: str | None = None, sheet: str | None = None, cell: str | None = None,
          row: int | None = None) -> Issue:
    """An error issue; ``code`` must be declared in :data:`CODES` (its default message)."""
    default = _declared(code)
    return Issue(code, ERROR, message or default, sheet, cell, row)


def warning(code: str, message: str | None = None, sheet: str | None = None, cell: str | None = None,
            row: int | None = None) -> Issue:
    default = _declared(code)
    return Issue(code, WARNING, message or default, sheet, cell, row)


def note(code: str, message: str | None = None, sheet: str | None = None, cell: str | None = None,
         row: int | None = None) -> Issue:
    return Issue(code, INFO, message or CODES.get(code, code), sheet, cell, row)


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
        return [i for i in self.issues if i.severity == WARNING]

    @property
    def notes(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == INFO]

    @property
    def ok(self) -> bool:
        return not self.errors

    def rows(self) -> list[dict]:
        """Table rows for the UI and exports: 位置, 级别, 问题 (errors first)."""
        ordered = self.errors + self.warnings + self.notes
        return [{"位置": i.location or "（整个文件）", "级别": i.severity_label, "问题": i.message,
                 "代码": i.code} for i in ordered]


class GongkaiError(Exception):
    """Base of every error our code raises for a user: it carries located
    :class:`Issue` s (at least one).  A plain string becomes an issue of the
    subclass's ``code``.  ``str(e)`` is "位置：问题" of each issue, joined by "；".
    The UI shows them with ``dashboard.ui.show_error``, the CLIs with
    :func:`print_error`."""

    code = "error"

    def __init__(self, issues: Issue | str | Iterable[Issue | str], code: str | None = None):
        if isinstance(issues, (Issue, str)):
            issues = [issues]
        code = code or self.code
        self.issues: list[Issue] = [i if isinstance(i, Issue) else error(code, i) for i in issues]
        super().__init__("；".join(str(i) for i in self.issues))

    @property
    def messages(self) -> list[str]:
        return [i.message for i in self.issues]


def cli_line(i: Issue, source: str | None = None) -> str:
    """One issue as the command line prints it (cli.md): ``<source>: <location>: <message>``,
    with 警告 after the source for a warning; without a source, ``<location>: <message>``."""
    where = i.location or ("文件" if source else "")
    text = f"{where}: {i.message}" if where else i.message
    if source:
        return f"{source}{'' if i.is_error else ' 警告'}: {text}"
    return text if i.is_error else f"警告: {text}"


def print_error(e: GongkaiError | Iterable[Issue], title: str | None = None, *, source: str | None = None,
                file: IO[str] | None = None) -> None:
    """The one way the CLIs print issues: an optional title line, then :func:`cli_line` of each
    issue, on standard error by default."""
    out = file or sys.stderr
    issues = e.issues if isinstance(e, GongkaiError) else list(e)
    if title:
        print(title, file=out)
    for i in issues:
        print(cli_line(i, source), file=out)
