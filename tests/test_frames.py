"""data.frames: Arrow ↔ pandas frames of plain Python values, exact both ways."""
from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
import pyarrow as pa

from data.frames import arrow_table, plain_frame


def _types(df: pd.DataFrame) -> dict[str, list[type]]:
    return {c: [type(v) for v in df[c]] for c in df.columns}


def test_plain_frame_keeps_decimals_dates_and_nulls_exact():
    tbl = pa.table({
        "pts": pa.array([Decimal("1.50"), None, Decimal("1.50"), Decimal("0.05")], pa.decimal128(18, 2)),
        "rate": pa.array([Decimal("0.1235"), Decimal("1.0000"), None, None], pa.decimal128(18, 4)),
        "day": pa.array([dt.date(2019, 5, 15), None, dt.date(2024, 2, 29), dt.date(2019, 5, 15)], pa.date32()),
        "n": pa.array([1, None, 3, 4], pa.int64()),
        "name": pa.array(["甲", "乙", None, "丁"]),
        "ok": pa.array([True, False, None, True]),
    })
    df = plain_frame(tbl)
    assert list(df["pts"]) == [Decimal("1.50"), None, Decimal("1.50"), Decimal("0.05")]
    assert str(df["pts"][3]) == "0.05" and str(df["rate"][0]) == "0.1235"  # scale kept
    assert list(df["day"]) == [dt.date(2019, 5, 15), None, dt.date(2024, 2, 29), dt.date(2019, 5, 15)]
    assert list(df["n"]) == [1, None, 3, 4] and list(df["ok"]) == [True, False, None, True]
    assert all(str(t) == "object" for t in df.dtypes)
    assert _types(df)["pts"] == [Decimal, type(None), Decimal, Decimal]
    # the same values as converting one by one
    ref = pd.DataFrame({n: pd.Series(tbl.column(n).to_pylist(), dtype=object) for n in tbl.column_names})
    assert df.equals(ref) and _types(df) == _types(ref)


def test_plain_frame_of_chunked_and_empty_tables():
    chunked = pa.concat_tables([
        pa.table({"p": pa.array([Decimal("2.00")], pa.decimal128(18, 2))}),
        pa.table({"p": pa.array([None, Decimal("3.25")], pa.decimal128(18, 2))}),
    ])
    assert list(plain_frame(chunked)["p"]) == [Decimal("2.00"), None, Decimal("3.25")]
    empty = plain_frame(pa.table({"p": pa.array([], pa.decimal128(18, 2)), "d": pa.array([], pa.date32())}))
    assert len(empty) == 0 and list(empty.columns) == ["p", "d"]
    nulls = plain_frame(pa.table({"p": pa.array([None, None], pa.decimal128(18, 2))}))
    assert list(nulls["p"]) == [None, None]


def test_arrow_table_round_trips_exactly():
    df = pd.DataFrame({
        "pts": pd.Series([Decimal("1.5"), None, Decimal("2.00"), Decimal("-0.25")], dtype=object),
        "day": pd.Series([dt.date(2023, 1, 3), None, None, dt.date(2023, 12, 29)], dtype=object),
        "name": pd.Series(["a", None, "c", "d"], dtype=object),
        "f": [0.5, np.nan, 1.0, 2.0],
        "i": [1, 2, 3, 4],
    })
    t = arrow_table(df)
    assert t.schema.field("pts").type == pa.decimal128(38, 2)  # the largest scale of the column
    assert t.schema.field("day").type == pa.date32()
    assert t.column("pts").to_pylist() == [Decimal("1.50"), None, Decimal("2.00"), Decimal("-0.25")]
    assert t.column("day").to_pylist() == [dt.date(2023, 1, 3), None, None, dt.date(2023, 12, 29)]
    assert t.column("name").to_pylist() == ["a", None, "c", "d"]
    assert t.column("f").to_pylist()[0] == 0.5 and t.column("f").null_count == 1
    assert t.column("i").to_pylist() == [1, 2, 3, 4]
    back = plain_frame(t)
    assert [v == w for v, w in zip(back["pts"], df["pts"]) if w is not None] == [True, True, True]


def test_arrow_table_mixed_object_column_falls_back():
    df = pd.DataFrame({"x": pd.Series([Decimal("1.5"), 2, None], dtype=object),
                       "e": pd.Series([None, None], dtype=object).iloc[:0]})
    t = arrow_table(df[["x"]])
    assert [float(v) if v is not None else None for v in t.column("x").to_pylist()] == [1.5, 2.0, None]
    assert arrow_table(df[["e"]].iloc[:0]).num_rows == 0


def test_plain_frame_numbers_and_flags_are_python_values():
    tbl = pa.table({"i": pa.array([1, None, -3], pa.int32()), "b": pa.array([None, True, False]),
                    "f": pa.array([0.5, None, 2.0]), "s": pa.array(["x", None, "x"], pa.large_string())})
    df = plain_frame(tbl)
    assert list(df["i"]) == [1, None, -3] and [type(v) for v in df["i"]] == [int, type(None), int]
    assert list(df["b"]) == [None, True, False] and type(df["b"][1]) is bool
    assert list(df["f"]) == [0.5, None, 2.0] and type(df["f"][0]) is float
    assert list(df["s"]) == ["x", None, "x"] and type(df["s"][0]) is str


def test_map_distinct_calls_once_per_distinct_value_and_keeps_nulls():
    from data.frames import map_distinct

    calls = []

    def half_up(v):
        calls.append(v)
        return Decimal(v).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)

    out = map_distinct(pd.Series([Decimal("1.005"), None, Decimal("1.005"), np.nan, Decimal("2")], dtype=object),
                       half_up, pa.decimal128(18, 2))
    assert out.to_pylist() == [Decimal("1.01"), None, Decimal("1.01"), None, Decimal("2.00")]
    assert calls == [Decimal("1.005"), Decimal("2")]
    assert map_distinct([], float, pa.float64()).to_pylist() == []
