"""Figures: Matplotlib imported on first use, the ``Agg`` backend selected once, PNGs saved.

Nothing here imports Matplotlib at module import: the first call of ``subplots`` (or any
helper that needs it) imports it, selects the non-interactive ``Agg`` backend and keeps
``pyplot``. Report code draws on the figure and axes it gets back, then ``save_png`` lays the
figure out, writes it and closes it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.colors import Colormap
    from matplotlib.figure import Figure

DPI = 110
"""Resolution of every saved figure (dots per inch)."""


@cache
def pyplot() -> ModuleType:
    """``matplotlib.pyplot`` with the ``Agg`` backend, imported (and the backend set) once."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


@cache
def _dates() -> ModuleType:
    pyplot()
    import matplotlib.dates as mdates

    return mdates


def subplots(
    nrows: int = 1,
    ncols: int = 1,
    *,
    figsize: tuple[float, float],
    constrained: bool = False,
) -> tuple[Figure, Any]:
    """A new figure and its axes (one ``Axes``, or an array of them for a grid). With
    ``constrained`` the figure uses Matplotlib's constrained layout, which makes room for
    legends outside the axes and for a note under them (``note``)."""
    fig, axes = pyplot().subplots(
        nrows, ncols, figsize=figsize, layout="constrained" if constrained else None
    )
    return fig, axes


def note(fig: Figure, text: str | None, width: int = 160) -> None:
    """A small grey note under the figure (what it leaves out, and why), wrapped."""
    if text:
        from textwrap import fill

        fig.supxlabel(fill(text, width), fontsize=7, color="dimgray", ha="left", x=0.01)


def colormap(name: str) -> Colormap:
    """A named Matplotlib colour map (``tab10``, ``Reds`` ...)."""
    cmap: Colormap = pyplot().get_cmap(name)
    return cmap


def listed_colormap(colours: Sequence[str]) -> Colormap:
    """A colour map of the given colours in order (NaN cells are left transparent)."""
    pyplot()
    from matplotlib.colors import ListedColormap

    return ListedColormap(list(colours))


def date_number(day: dt.date) -> float:
    """A date as Matplotlib's float day number."""
    return float(_dates().date2num(day))


def date_axis(ax: Axes, months: Sequence[int] = (1, 4, 7, 10), fmt: str = "%b %Y") -> None:
    """Ticks on the x axis at the start of the given months, labelled with ``fmt``."""
    mdates = _dates()
    ax.xaxis.set_major_locator(mdates.MonthLocator(bymonth=tuple(months)))
    ax.xaxis.set_major_formatter(mdates.DateFormatter(fmt))


def patch(colour: Any, label: str, *, alpha: float = 1.0) -> Any:
    """A filled square for a legend: a shading or a colour of an image, with its label."""
    pyplot()
    from matplotlib.patches import Patch

    return Patch(facecolor=colour, alpha=alpha, label=label)


def hatched(colour: Any, label: str) -> Any:
    """A hatched, unfilled square for a legend (a hatched shading), with its label."""
    pyplot()
    from matplotlib.patches import Patch

    return Patch(facecolor="none", edgecolor=colour, hatch="//", label=label)


def thousands(ax: Axes) -> None:
    """Plain y tick labels with thousands separators (12,000, not 1.2 and a 1e4 offset)."""
    pyplot()
    from matplotlib.ticker import StrMethodFormatter

    ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))


def hatched_box(x: float, y: float, width: float, height: float, *, gid: str) -> Any:
    """An unfilled, hatched rectangle in data coordinates (to lay over an image's cells)."""
    pyplot()
    from matplotlib.patches import Rectangle

    return Rectangle(
        (x, y), width, height, fill=False, hatch="///", edgecolor="black", lw=0, gid=gid
    )


def save_png(fig: Figure, path: Path, *, dpi: int = DPI) -> Path:
    """Lay ``fig`` out tightly, save it as a PNG at ``path`` and close it."""
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
    return path
