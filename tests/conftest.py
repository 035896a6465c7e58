import datetime as dt
from pathlib import Path

import pytest

from data.access import SYSTEM
from data.registry import load_units, parse_registry
from data.store import connect

REGISTRY = Path(__file__).resolve().parent.parent / "demo" / "fangzheng-units.csv"
REGISTRY_TEXT = """单位名称,单位类型,附加必公开类别
方正镇,乡镇,
会发镇,乡镇,
方正县审计局,部门,
方正县民政局,部门,社会救助、民生政策
方正县生态环境局,部门,监督检查、行政处罚和行政强制
"""


@pytest.fixture
def con(tmp_path):
    c = connect(tmp_path / "t.duckdb")
    load_units(c, parse_registry(REGISTRY_TEXT), actor=SYSTEM)
    yield c
    c.close()


@pytest.fixture
def received():
    return dt.date(2020, 1, 8)
