"""CSV files written for people: text a spreadsheet would run as a formula is neutralised.

Following the OWASP guidance on CSV injection, a text cell (or column name) that starts with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading single quote, so a
spreadsheet shows it as text instead of evaluating it. A cell that is a plain number (``-3``,
``+1.5``, ``2e-3``) is left as it is, and numeric columns are never touched. The store keeps
text as it was given; only the exported copy changes.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

FORMULA_START = r"^[=+\-@\t\r]"
"""A cell starting with one of these may run as a formula in a spreadsheet."""

NUMBER = r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$"
"""A signed decimal number: shown as is."""


def neutral_text(value: str) -> str:
    """``value`` with a leading ``'`` when a spreadsheet could read it as a formula."""
    if re.match(FORMULA_START, value) and not re.match(NUMBER, value):
        return "'" + value
    return value


def neutralised(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with every text cell and column name passed through :func:`neutral_text`
    (categorical and enum columns are written as text)."""
    exprs = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if isinstance(dtype, (pl.Categorical, pl.Enum)):
            col = col.cast(pl.String)
        elif dtype != pl.String:
            exprs.append(col.alias(neutral_text(name)))
            continue
        risky = col.str.contains(FORMULA_START) & ~col.str.contains(NUMBER)
        safe = pl.when(risky).then(pl.lit("'") + col).otherwise(col)
        exprs.append(safe.alias(neutral_text(name)))
    return frame.select(exprs)


def write_csv(frame: pl.DataFrame, path: Path) -> None:
    """Write ``frame`` as CSV for people to open, neutralised (:func:`neutralised`)."""
    neutralised(frame).write_csv(path)


def csv_bytes(frame: pl.DataFrame) -> bytes:
    """``frame`` as the bytes of a CSV file for people to open, neutralised
    (:func:`neutralised`): what a download serves."""
    return neutralised(frame).write_csv().encode()
