"""The layout of the 自检自评表 workbook (workbook.md), declared once.

Sheets, their columns (name, accepted aliases, required, enumerated values)
and the accepted file extensions.  The template writer (``data.template``),
the validator (``data.validate``), the reader and the upload pages, and the
tests' workbook factory all read them from here.
"""
from __future__ import annotations

from dataclasses import dataclass

from core.normalize import norm_key
from core.vocab import APPLICANT_TYPES, CHANNELS, RESULTS, REVIEW_RESULTS, UNIT_TYPES, YES_NO

SHEET_HELP = "填报说明"
SHEET_INFO = "单位信息"
SHEET_SCORES = "自评打分"
SHEET_LEDGER = "主动公开台账"
SHEET_REQUESTS = "依申请公开台账"
SHEET_OPTIONS = "选项"
#: the sheets a workbook must have, in the order they are checked
REQUIRED_SHEETS = (SHEET_INFO, SHEET_SCORES, SHEET_LEDGER, SHEET_REQUESTS)

#: what the reader can read, and the WPS-native formats it refuses with a clear message
ACCEPTED_EXTENSIONS = (".xlsx", ".xlsm", ".xls", ".ods")
WPS_NATIVE_EXTENSIONS = (".et", ".wps", ".ett", ".dps")
#: what the upload widgets let through (without the dot): WPS's own spreadsheet
#: and document formats are let through so that the reader can say what to do with them
UPLOAD_TYPES = [e.lstrip(".") for e in ACCEPTED_EXTENSIONS + (".et", ".wps")]


@dataclass(frozen=True)
class ColumnSpec:
    """A column (or a labelled field of 单位信息): its name in the template,
    the other headers accepted for it, whether it is required, and its
    enumerated values (empty: free text)."""
    name: str
    aliases: tuple[str, ...] = ()
    required: bool = False
    values: tuple[str, ...] = ()

    def keys(self) -> set[str]:
        return {norm_key(self.name), *(norm_key(a) for a in self.aliases)}


INFO_LABELS = (
    ColumnSpec("单位名称", ("填报单位",), True),
    ColumnSpec("单位类型", (), True, tuple(UNIT_TYPES)),
    ColumnSpec("考核年度", ("年度",), True),
    ColumnSpec("填报人", (), True),
    ColumnSpec("联系电话", (), True),
    ColumnSpec("填报日期", (), True),
)
SCORE_COLUMNS = (
    ColumnSpec("指标编号", ("编号",), True),
    ColumnSpec("一级指标", ("考核项目",)),
    ColumnSpec("二级指标", ("考核内容", "考核指标", "指标内容")),
    ColumnSpec("分值", ("标准分", "满分")),
    ColumnSpec("自评得分", ("自评分", "自评分数"), True),
    ColumnSpec("自评说明", ("得分说明", "说明")),
    ColumnSpec("佐证材料", ("佐证材料链接", "佐证链接", "佐证")),
)
LEDGER_COLUMNS = (
    ColumnSpec("序号"),
    ColumnSpec("信息名称", ("公开事项", "信息标题", "标题"), True),
    ColumnSpec("公开类别", ("类别", "信息类别"), True),   # values: the category catalogue
    ColumnSpec("形成日期", ("信息形成日期", "生成日期", "成文日期"), True),
    ColumnSpec("公开日期", ("发布日期", "公开时间", "发布时间")),
    ColumnSpec("公开渠道", ("渠道", "发布渠道"), values=CHANNELS),
    ColumnSpec("链接", ("网址", "公开链接", "URL")),
)
REQUEST_COLUMNS = (
    ColumnSpec("申请编号", ("编号",), True),
    ColumnSpec("申请人类型", values=APPLICANT_TYPES),
    ColumnSpec("收到日期", ("收到申请日期", "受理日期", "申请日期"), True),
    ColumnSpec("补正日期", ("补正后收到日期",)),
    ColumnSpec("是否延期", ("延期",), values=YES_NO),
    ColumnSpec("答复日期", ("答复时间",)),
    ColumnSpec("办理结果", ("答复结果", "处理结果"), values=RESULTS),
    ColumnSpec("复议诉讼结果", ("复议诉讼情况",), values=REVIEW_RESULTS),
)


def names(specs) -> tuple[str, ...]:
    return tuple(s.name for s in specs)


INFO_NAMES = names(INFO_LABELS)
SCORE_HEADERS = names(SCORE_COLUMNS)
LEDGER_HEADERS = names(LEDGER_COLUMNS)
REQUEST_HEADERS = names(REQUEST_COLUMNS)
#: column → its enumerated values (the template's drop-down lists), in sheet order
ENUMERATIONS = {s.name: s.values for s in (*LEDGER_COLUMNS, *REQUEST_COLUMNS) if s.values}
