"""Every word of the product, in one place.

Workflow status of a unit's submission, state of a ledger item, user roles and
unit types are ``StrEnum`` s: their members *are* the strings stored in the
database and shown on pages, so they compare equal to plain strings and go into
SQL parameters unchanged.  The enumerated values of the workbook
(workbook.md) follow: the template writer uses them for drop-down lists, the
validator to check values.
"""
from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """Workflow status of one unit's submission for one year."""
    MISSING = "未报送"
    PENDING = "待审核"
    RETURNED = "已退回"
    APPROVED = "已审核"


#: the order statuses are listed in (filters, counts)
STATUSES = (Status.MISSING, Status.PENDING, Status.RETURNED, Status.APPROVED)


class ItemState(StrEnum):
    """Timeliness state of one ledger item or request (a deadline against the cut-off)."""
    ON_TIME = "按时"
    LATE = "逾期"
    NOT_DUE = "未到期"


class ItemOutcome(StrEnum):
    """What became of a ledger item by the cut-off: its :class:`ItemState`,
    with the late ones told apart by whether they were published at all."""
    ON_TIME = "按时公开"
    LATE_PUBLISHED = "逾期公开"
    LATE_UNPUBLISHED = "逾期未公开"
    NOT_DUE = "未到期未公开"


#: the order outcomes are listed in (charts, counts)
ITEM_OUTCOMES = tuple(ItemOutcome)


class Role(StrEnum):
    ADMIN = "admin"
    REVIEWER = "reviewer"
    LEADER = "leader"
    UNIT = "unit"


ROLE_LABEL = {Role.ADMIN: "管理员", Role.REVIEWER: "考核组", Role.LEADER: "领导", Role.UNIT: "填报单位"}


class UnitType(StrEnum):
    TOWN = "乡镇"
    DEPT = "部门"


#: the one order of unit types: 乡镇 first, then 部门 (pages, SQL, reports)
UNIT_TYPES = (UnitType.TOWN, UnitType.DEPT)
UNIT_TYPE_RANK = {t: n for n, t in enumerate(UNIT_TYPES)}


def unit_type_order_sql(column: str = "unit_type") -> str:
    """SQL expression sorting ``column`` in :data:`UNIT_TYPES` order (unknown types last)."""
    whens = " ".join(f"WHEN '{t}' THEN {n}" for t, n in UNIT_TYPE_RANK.items())
    return f"CASE {column} {whens} ELSE {len(UNIT_TYPES)} END"


# --------------------------------------------------------------------------- workbook enumerations

APPLICANT_TYPES = ("自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他")
YES_NO = ("是", "否")
#: accepted spellings of 是否延期 (after normalisation) -> bool
EXTENDED_VALUES = {"是": True, "否": False, "Y": True, "N": False, "YES": True, "NO": False,
                   "√": True, "✓": True, "✔": True, "": False}
RESULTS = ("予以公开", "部分公开", "不予公开", "无法提供", "不予处理", "其他处理")
REVIEW_RESULTS = ("维持", "纠正", "其他结果", "尚未审结")
CHANNELS = ("政府网站", "政务新媒体", "公开栏", "其他")
UNIT_TYPE_ALIASES = {"乡镇": "乡镇", "乡": "乡镇", "镇": "乡镇",
                     "部门": "部门", "县直部门": "部门", "县直单位": "部门"}
