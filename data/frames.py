"""Arrow tables as pandas frames of plain Python values.

Scores are ``Decimal`` and must stay so (half-up rounding, exact sums), and days
are ``datetime.date``; pandas' own conversion would turn them into floats and
timestamps.  Converting value by value (``to_pylist``) is exact but costs about
2 µs a value: 0.4 s for a province's scorecard of one year (6,000 units ×
33 point columns).  Point, date and name columns hold few distinct values, so
each distinct value is converted once and the column is built by taking from
them; numbers and flags go through numpy.
"""
from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def _values(col: pa.ChunkedArray | pa.Array) -> list | np.ndarray:
    """The column's values as Python objects (``None`` for nulls)."""
    t = col.type
    if pa.types.is_integer(t) or pa.types.is_boolean(t) or pa.types.is_floating(t):
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        out = col.fill_null(False if pa.types.is_boolean(t) else 0).to_numpy(zero_copy_only=False).astype(object)
        if col.null_count:
            out[col.is_null().to_numpy(zero_copy_only=False)] = None
        return out
    if (pa.types.is_decimal(t) or pa.types.is_date(t) or pa.types.is_timestamp(t) or pa.types.is_string(t)
            or pa.types.is_large_string(t)):
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        enc = pc.dictionary_encode(col)
        distinct = np.empty(len(enc.dictionary) + 1, dtype=object)
        distinct[:-1] = enc.dictionary.to_pylist()
        distinct[-1] = None
        idx = enc.indices.fill_null(len(enc.dictionary)).to_numpy(zero_copy_only=False)
        return distinct[idx]
    return col.to_pylist()


def plain_frame(tbl: pa.Table) -> pd.DataFrame:
    """``tbl`` as a DataFrame of ``object`` columns holding plain Python values
    (``Decimal``, ``int``, ``date``, ``str``, ``bool``, ``None``), index 0…n-1."""
    return pd.DataFrame({n: pd.Series(_values(tbl.column(n)), dtype=object) for n in tbl.column_names},
                        index=pd.RangeIndex(tbl.num_rows))


def _decimal_floats(col: pa.Array) -> np.ndarray:
    """A decimal column as float64, each distinct value through ``float(Decimal)`` (the
    nearest double; Arrow's own cast is not), nulls as NaN."""
    enc = pc.dictionary_encode(col)
    distinct = np.array([float(v) for v in enc.dictionary.to_pylist()] + [np.nan], dtype="float64")
    return distinct[enc.indices.fill_null(len(enc.dictionary)).to_numpy(zero_copy_only=False)]


def display_frame(tbl: pa.Table) -> pd.DataFrame:
    """``tbl`` for display (charts, tables), without going through Python ``Decimal``
    objects: decimal and floating columns as float64 (null → NaN), integer columns as
    nullable ``Int64``, the others plain Python values as :func:`plain_frame` makes."""
    cols = {}
    for name in tbl.column_names:
        col = tbl.column(name)
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        t = col.type
        if pa.types.is_decimal(t):
            cols[name] = pd.Series(_decimal_floats(col), dtype="float64")
        elif pa.types.is_floating(t):
            cols[name] = pd.Series(col.cast(pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False),
                                   dtype="float64")
        elif pa.types.is_integer(t):
            cols[name] = pd.Series(pd.array(col.to_pandas(types_mapper=lambda _: pd.Int64Dtype()), dtype="Int64"))
        else:
            cols[name] = pd.Series(_values(col), dtype=object)
    return pd.DataFrame(cols, index=pd.RangeIndex(tbl.num_rows))


def _take(codes: np.ndarray, distinct: pa.Array) -> pa.Array:
    """The column whose value ``i`` is ``distinct[codes[i]]`` (null where the code is -1)."""
    return distinct.take(pa.array(codes, type=pa.int64(), mask=codes < 0))


def map_distinct(values, fn, typ: pa.DataType) -> pa.Array:
    """``fn`` of every value of ``values`` (Python objects) as an Arrow array of ``typ``,
    ``fn`` called once per distinct value; missing values (None, NaN, NA) stay null."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)
    return _take(codes, pa.array([fn(v) for v in uniques], type=typ))


def _object_column(values: np.ndarray) -> pa.Array:
    """An ``object`` column of plain Python values as Arrow: ``Decimal`` and
    ``date`` columns converted once per distinct value (see the module doc)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    kinds = {type(v) for v in uniques}
    if kinds == {Decimal}:
        scale = max((max(0, -v.as_tuple().exponent) for v in uniques if v.is_finite()), default=0)
        typ = pa.decimal128(38, scale)
    elif kinds == {dt.date}:
        typ = pa.date32()
    else:
        return pa.array(values, from_pandas=True)
    return _take(codes, pa.array(list(uniques), type=typ))


def arrow_table(df: pd.DataFrame) -> pa.Table:
    """``df`` (columns of plain Python values, as :func:`plain_frame` makes) as an
    Arrow table, without its index.  Columns of another dtype go through
    pyarrow's own conversion."""
    cols = {}
    for name in df.columns:
        s = df[name]
        cols[str(name)] = (_object_column(s.to_numpy()) if s.dtype == object and len(s)
                           else pa.Array.from_pandas(s))
    return pa.table(cols) if cols else pa.Table.from_pandas(df, preserve_index=False)


_SCRATCH: list = [None]
_SCRATCH_LOCK = threading.Lock()


def scratch_cursor() -> duckdb.DuckDBPyConnection:
    """A new cursor of one process-wide in-memory DuckDB, for SQL over frames already
    read (close it after use).  Opening a database costs about 30 ms, a cursor 1 ms;
    what a cursor registers is its own (two threads may register the same name)."""
    with _SCRATCH_LOCK:
        if _SCRATCH[0] is None:
            _SCRATCH[0] = duckdb.connect(":memory:")
        return _SCRATCH[0].cursor()
