"""Smoke tests of the benchmark scripts (quick versions; no timing assertions).

Shared helpers: load a script from ``bench/`` as a module, run it, and split its Markdown
table into header and rows."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[2] / "bench"


def load_bench(name: str) -> ModuleType:
    """``bench/<name>.py`` imported as module ``name`` (registered in ``sys.modules``)."""
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def table_lines(out: str) -> tuple[str, list[str]]:
    """The header line and the data rows of the Markdown table printed in ``out``."""
    lines = [line for line in out.splitlines() if line.startswith("|")]
    assert lines, f"no table in the output:\n{out}"
    rule = set("-: ")
    return lines[0], [line for line in lines[1:] if not set(line.replace("|", "")) <= rule]


def cells(row: str) -> list[str]:
    """A table row's cells, stripped."""
    return [c.strip() for c in row.strip().strip("|").split("|")]
