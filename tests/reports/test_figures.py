"""Figures: Matplotlib is imported on first use only, with the Agg backend, and PNGs saved."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from schoolmode.reports import figures


def test_matplotlib_is_not_imported_until_a_figure_is_made(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        import schoolmode.backtest.report, schoolmode.backtest.sweep, schoolmode.sim.report
        from schoolmode.reports import figures
        assert "matplotlib" not in sys.modules, "imported at module import"
        fig, ax = figures.subplots(figsize=(2, 2))
        assert "matplotlib" in sys.modules
        import matplotlib
        assert matplotlib.get_backend().lower() == "agg", matplotlib.get_backend()
        ax.plot([0, 1], [0, 1])
        figures.save_png(fig, __import__("pathlib").Path({str(tmp_path / "p.png")!r}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "p.png").read_bytes().startswith(b"\x89PNG")


def test_save_png_closes_the_figure(tmp_path: Path) -> None:
    plt = figures.pyplot()
    fig, _ = figures.subplots(figsize=(2, 2))
    assert fig.number in plt.get_fignums()
    figures.save_png(fig, tmp_path / "f.png", dpi=50)
    assert fig.number not in plt.get_fignums()
    assert figures.pyplot() is plt  # imported, and the backend set, once
