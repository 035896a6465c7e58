import atexit
import datetime as dt
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from core.scheme import SCHEME_DIR
from data.access import SYSTEM
from data.registry import load_units, parse_registry
from data.store import connect
from tests.pg_server import pg_server, pg_url  # noqa: F401 - fixtures: a private PostgreSQL server, a fresh database

#: the scheme years the tests are written for: they read a private directory holding just
#: these files (copied from the production directory), so adding core/schemes/2024.toml
#: changes no test; servers and commands the tests start inherit the setting
FIXTURE_YEARS = range(2019, 2024)
_FIXTURE_ROOT = Path(tempfile.mkdtemp())
FIXTURE_SCHEMES = _FIXTURE_ROOT / SCHEME_DIR.name  # named as the production directory (the 管理 page shows the name)
FIXTURE_SCHEMES.mkdir()
for _y in FIXTURE_YEARS:
    shutil.copy(SCHEME_DIR / f"{_y}.toml", FIXTURE_SCHEMES)
os.environ["GONGKAI_SCHEMES"] = str(FIXTURE_SCHEMES)
atexit.register(shutil.rmtree, _FIXTURE_ROOT, ignore_errors=True)

REGISTRY = Path(__file__).resolve().parent.parent / "demo" / "fangzheng-units.csv"
REGISTRY_TEXT = """单位名称,单位类型,附加必公开类别
方正镇,乡镇,
会发镇,乡镇,
方正县审计局,部门,
方正县民政局,部门,社会救助、民生政策
方正县生态环境局,部门,监督检查、行政处罚和行政强制
"""


# --------------------------------------------------------------------------- the two backends
# A test module marked ``pytestmark = pytest.mark.both_backends`` runs each of its tests on
# the DuckDB file and on PostgreSQL (ids ``[duckdb]`` / ``[postgres]``): its databases
# (the ``con`` and ``db_target`` fixtures, ``metrics_fixtures.new_db()``) are of that backend.

BACKENDS = ("duckdb", "postgres")


def pytest_configure(config):
    config.addinivalue_line("markers", "both_backends: run the test on the DuckDB file and on PostgreSQL")


def pytest_generate_tests(metafunc):
    if "backend" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_backends"):
        metafunc.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture
def backend(request):
    """The backend of this test's databases: "duckdb" unless the module runs on both."""
    return getattr(request, "param", "duckdb")


@pytest.fixture(autouse=True)
def _backend_databases(backend, request):
    """On PostgreSQL, ``metrics_fixtures.new_db()`` gives a fresh database of the test server."""
    if backend != "postgres":
        yield
        return
    import sys

    import metrics_fixtures

    # the helpers are imported under two names (``metrics_fixtures`` and ``tests.metrics_fixtures``)
    mods = [m for m in (metrics_fixtures, sys.modules.get("tests.metrics_fixtures")) if m is not None]
    server = request.getfixturevalue("pg_server")
    made: list[str] = []

    template = request.getfixturevalue("pg_template")

    def fresh() -> str:
        name, url = server.create_database(template=template)
        made.append(name)
        return url

    for m in mods:
        m.FRESH_DATABASE[0] = fresh
    try:
        yield
    finally:
        for m in mods:
            m.FRESH_DATABASE[0] = None
        for name in made:
            server.drop_database(name)


@pytest.fixture(scope="session")
def pg_template(pg_server):
    """A database with the product's schema (migrated once per session): copied for each test."""
    name, url = pg_server.create_database()
    connect(url).close()
    return name


@pytest.fixture
def migrated_pg_url(pg_server, pg_template):
    """A fresh PostgreSQL database with the product's schema, as a first start leaves it."""
    name, url = pg_server.create_database(template=pg_template)
    yield url
    pg_server.drop_database(name)


@pytest.fixture
def db_target(backend, tmp_path, request):
    """Where this test's database lives: a DuckDB file, or a fresh PostgreSQL database (URL)."""
    if backend == "postgres":
        return request.getfixturevalue("migrated_pg_url")
    return tmp_path / "t.duckdb"


@pytest.fixture
def con(db_target):
    c = connect(db_target)
    load_units(c, parse_registry(REGISTRY_TEXT), actor=SYSTEM)
    yield c
    c.close()


@pytest.fixture
def received():
    return dt.date(2020, 1, 8)
