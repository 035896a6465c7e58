"""Enumerated values of the workbook (workbook.md), in one place.

The template writer uses them for drop-down lists, the validator to check values.
"""
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
