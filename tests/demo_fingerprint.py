"""A fingerprint of the demonstration county's database: one digest per table of every row.

The demonstration county is reproducible: the same seed gives the same database, whatever is
changed in how it is built (faster rendering, fewer queries). ``tests/demo_fingerprint.json``
holds the digests of the county as ``python -m demo`` builds it; tests/test_demo.py compares a
new build with them.

Masked, because they are not the county's content: times and dates of the build day or later
(the newest year is published "today"; such dates in text too), password hashes (salted), the
workbook the returned unit sends "today" (its bytes carry today's date) and its SHA-256, the
calendar tables and the stored scores' calendar key (they reach to next year, so they follow the
date of the build).

When the county is changed on purpose, write the new digests with
``.venv/bin/python -m tests.demo_fingerprint`` and say why in the commit.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import sys
from pathlib import Path

FINGERPRINT_FILE = Path(__file__).with_name("demo_fingerprint.json")
#: tables that follow the date of the build, not the county
SKIP_TABLES = {"calendar", "calendar_years"}
#: columns that follow the date of the build
SKIP_COLUMNS = {("unit_scores", "ykey")}
_DATE_TEXT = re.compile(r"(\d{4})-(\d{2})-(\d{2})|(\d{4})年(\d{1,2})月(\d{1,2})日")
_HEX64 = re.compile(r"[0-9a-f]{64}")


def fingerprint(path: str | Path, today: dt.date | None = None) -> dict[str, str]:
    """{table: digest of its rows} of the DuckDB file ``path`` built on ``today`` (default: today)."""
    import duckdb

    day = today or dt.date.today()
    con = duckdb.connect(str(path), read_only=True)
    try:
        todays = {r[0] for r in con.execute("SELECT sha256 FROM submissions WHERE received >= ?", [day]).fetchall()}

        def later(y, m, d) -> bool:
            try:
                return dt.date(int(y), int(m), int(d)) >= day
            except ValueError:
                return False

        def text(m: re.Match) -> str:
            parts = m.group(1, 2, 3) if m.group(1) else m.group(4, 5, 6)
            return "<build day>" if later(*parts) else m.group(0)

        def mask(v):
            if isinstance(v, (bytes, bytearray)):
                return "bytes:" + hashlib.sha256(v).hexdigest()
            if isinstance(v, dt.datetime):
                return "<build time>" if v.date() >= day else v.isoformat()
            if isinstance(v, dt.date):
                return "<build day>" if v >= day else v.isoformat()
            if isinstance(v, str):
                if v in todays:
                    return "<today's file>"
                if v.startswith("sha256-bcrypt$"):
                    return "<password hash>"
                return _DATE_TEXT.sub(text, v)
            if isinstance(v, list):
                return [mask(x) for x in v]
            return repr(v) if v is not None and not isinstance(v, (int, bool, str)) else v

        def row(r) -> str:
            r = [mask(v) for v in r]
            if any(v in ("<build time>", "<build day>") for v in r):  # a row written on the build day
                r = ["<today's file>" if isinstance(v, str) and (_HEX64.fullmatch(v) or v.startswith("bytes:"))
                     else v for v in r]
            return json.dumps(r, ensure_ascii=False, default=str)

        out = {}
        tables = [t for (t,) in con.execute("SELECT table_name FROM information_schema.tables "
                                            "WHERE table_schema = 'main' ORDER BY table_name").fetchall()]
        for t in tables:
            if t in SKIP_TABLES:
                continue
            cols = [c for (c,) in con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                                              "ORDER BY ordinal_position", [t]).fetchall()
                    if (t, c) not in SKIP_COLUMNS]
            rows = con.execute(f'SELECT {", ".join(chr(34) + c + chr(34) for c in cols)} FROM "{t}"').fetchall()
            h = hashlib.sha256(json.dumps(cols).encode())
            for line in sorted(row(r) for r in rows):
                h.update(line.encode() + b"\n")
            out[t] = f"{len(rows)}:{h.hexdigest()[:20]}"
        for name, value in con.execute("SELECT sequence_name, last_value FROM duckdb_sequences() "
                                       "ORDER BY sequence_name").fetchall():
            out[f"sequence {name}"] = str(value)
        return out
    finally:
        con.close()


def expected() -> dict[str, str]:
    return json.loads(FINGERPRINT_FILE.read_text(encoding="utf-8"))


def differences(got: dict[str, str], want: dict[str, str]) -> list[str]:
    return [f"{k}: {want.get(k)} -> {got.get(k)}" for k in sorted(set(got) | set(want)) if got.get(k) != want.get(k)]


def main(argv: list[str]) -> int:
    """Build the county (the default seed) into a new file and write its fingerprint."""
    import tempfile

    from demo.database import create_demo_database

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "demo.duckdb"
        create_demo_database(path)
        fp = fingerprint(path)
    FINGERPRINT_FILE.write_text(json.dumps(fp, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{FINGERPRINT_FILE.name}: {len(fp)} entries")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
