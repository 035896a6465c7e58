"""The packages form a one-way street: dashboard → demo → metrics → data → core.

Every module's imports are read with ``ast`` (imports inside functions
included) and an import of a higher layer fails the test, naming the file, the
line and the arrow.  Nothing outside ``dashboard/`` imports streamlit
(``bench/`` and ``tests/`` are exempt from both rules).
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: lower number = lower layer; a module may import its own layer and any lower one
LAYERS = {"core": 0, "data": 1, "metrics": 2, "demo": 3, "dashboard": 4}
EXEMPT = {"bench", "tests"}


def imported_modules(source: str, module: str) -> list[tuple[int, str]]:
    """(line, dotted module name) of every import in ``source`` (relative
    imports resolved against ``module``, the importing module's dotted name)."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, a.name) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            name = node.module or ""
            if node.level:
                base = module.split(".")[:-node.level]
                name = ".".join([*base, name] if name else base)
            out.append((node.lineno, name))
    return out


def violations(path: Path, source: str) -> list[str]:
    rel = path.relative_to(ROOT)
    top = rel.parts[0]
    if top in EXEMPT or len(rel.parts) < 2:
        return []
    module = ".".join(rel.with_suffix("").parts)
    own = LAYERS.get(top)
    out = []
    for line, name in imported_modules(source, module):
        target = name.split(".")[0]
        if target == "streamlit" and top != "dashboard":
            out.append(f"{rel}:{line}: imports streamlit outside dashboard/")
        if own is not None and LAYERS.get(target, -1) > own:
            out.append(f"{rel}:{line}: {top} → {target} goes against the street "
                       f"(allowed: {' → '.join(sorted(LAYERS, key=LAYERS.get, reverse=True))})")
    return out


def project_files() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.py")
                  if not any(part.startswith(".") or part in ("var", "out", "__pycache__")
                             for part in p.relative_to(ROOT).parts))


def test_every_import_goes_down_the_street():
    bad = [v for p in project_files() for v in violations(p, p.read_text(encoding="utf-8"))]
    assert not bad, "\n".join(bad)


def test_all_layers_are_checked():
    files = project_files()
    for pkg in ("core", "data", "metrics", "dashboard"):
        assert any(p.relative_to(ROOT).parts[0] == pkg for p in files), pkg


def test_a_wrong_way_import_is_caught_even_when_lazy():
    src = "import duckdb\n\ndef f():\n    from metrics.engine import score_year\n    return score_year\n"
    assert violations(ROOT / "data" / "x.py", src) == [
        "data/x.py:4: data → metrics goes against the street (allowed: dashboard → demo → metrics → data → core)"]
    assert violations(ROOT / "metrics" / "x.py", "from dashboard import queries\n")
    assert violations(ROOT / "metrics" / "x.py", "import demo.generate\n")
    assert violations(ROOT / "core" / "x.py", "from data.store import connect\n")
    assert imported_modules("from ..store import connect\nfrom . import x\n", "data.pkg.mod") == [
        (1, "data.store"), (2, "data.pkg")]
    # downward and sideways arrows are fine
    assert violations(ROOT / "metrics" / "x.py", "from data.store import connect\nfrom core.vocab import Status\n") == []
    assert violations(ROOT / "dashboard" / "x.py", "import streamlit as st\nfrom demo import load\n") == []


def test_streamlit_only_in_dashboard():
    assert violations(ROOT / "metrics" / "x.py", "def f():\n    import streamlit as st\n") == [
        "metrics/x.py:2: imports streamlit outside dashboard/"]
    assert violations(ROOT / "bench" / "x.py", "import streamlit\n") == []
    assert violations(ROOT / "tests" / "x.py", "from streamlit.testing.v1 import AppTest\n") == []
