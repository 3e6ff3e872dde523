"""The outbreak part of the simulator's reports: per-run rows (``runs.csv``, ``runs.parquet``),
the summary (``outbreaks.csv``), the final-size distribution (``final-size.png``) that justifies
the large-outbreak threshold, and the page section that explains them."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl

from schoolmode.reports import figures
from schoolmode.reports.export import write_csv
from schoolmode.reports.page import Block, Bullets, Figures, Heading, Item, Paragraph, TableBlock
from schoolmode.reports.table import Table
from schoolmode.sim.outbreaks import BOOTSTRAP_RESAMPLES, RUN_DEFINITIONS

UNIT_BINS = 60
"""Final sizes up to this many get a bar each; larger ones 40 equal bins."""


def size_bins(largest: float, threshold: int) -> np.ndarray:
    """Histogram bin edges for final sizes ``0 .. largest`` (the threshold an edge)."""
    top = max(largest, threshold) + 1
    if top <= UNIT_BINS:
        return np.arange(0, top + 1) - 0.5
    edges = np.linspace(0, top, 41)
    return np.unique(np.sort(np.append(edges, threshold - 0.5)))


def final_size_plot(runs: pl.DataFrame, threshold: int, path: Path) -> Path:
    """The distribution of the seeded chain's final size per policy (runs per bin, step
    histograms), with the large-outbreak threshold drawn: minor outbreaks pile up near the
    seeds, major ones near the population's attack rate; the threshold belongs in the gap."""
    fig, ax = figures.subplots(figsize=(9, 3.8), constrained=True)
    colours = figures.colormap("tab10")
    sizes = runs["chain_size"].to_numpy()
    bins = size_bins(float(sizes.max(initial=0)), threshold)
    policies = runs["policy"].unique(maintain_order=True).to_list()
    for i, pid in enumerate(policies):
        part = runs.filter(pl.col("policy") == pid)["chain_size"].to_numpy()
        ax.hist(part, bins=bins, histtype="step", lw=1.6, color=colours(i), label=pid)
    ax.axvline(
        threshold - 0.5,
        color="black",
        ls="--",
        lw=1,
        label=f"large outbreak: at least {threshold:,} infections",
    )
    ax.set_xlabel("final size of the seeded chain (infections, seeds included)")
    ax.set_ylabel("runs")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    runs_each = runs.height // max(len(policies), 1)
    ax.set_title(f"Final size of the seeded chain: {runs_each} runs per policy", fontsize=10)
    ax.grid(alpha=0.3)
    return figures.save_png(fig, path)


def _num(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.1f}"


def _between(row: dict[str, float | None], name: str, share: bool = False) -> str:
    mean, lo, hi = row[name], row[f"{name}_lo"], row[f"{name}_hi"]
    if mean is None:
        return "-"
    fmt = (lambda v: "-" if v is None else f"{v:.2f}") if share else _num
    return f"{fmt(mean)} [{fmt(lo)}, {fmt(hi)}]"


def outbreak_table(summary: pl.DataFrame) -> pl.DataFrame:
    """``outbreaks.csv`` as the page shows it: one row per group (policy, value)."""
    keys = [c for c in summary.columns if c in ("value", "policy")]
    rows = []
    for row in summary.iter_rows(named=True):
        rows.append(
            {
                **{k: str(row[k]) for k in keys},
                "runs": str(row["runs"]),
                "large outbreaks": f"{row['large_runs']} of {row['runs']}",
                "P(large) [Wilson 95%]": _between(row, "p_large", share=True),
                "mean size of large [bootstrap 95%]": _between(row, "mean_large_size"),
                "mean final size [bootstrap 95%]": _between(row, "mean_chain_size"),
                "censored (chain alive at the end)": str(row["censored_runs"]),
            }
        )
    return pl.DataFrame(rows)


def outbreak_blocks(summary: pl.DataFrame, threshold: int, plot: Path) -> list[Block]:
    """The page section: what a run's outbreak is, the summary table, the final-size plot."""
    return [
        Heading("Outbreaks of the seeded chain"),
        Paragraph(
            "The seeded chain is the initial infections and everyone infected through them; "
            "introductions from outside the population during the run start chains of their own and "
            "are counted apart (runs.csv: importations, importation_infections). A run is a large "
            f"outbreak when its seeded chain reached at least {threshold:,} infections (--large; "
            "the plot below shows whether that falls between the minor outbreaks near the seeds "
            "and the major ones). The probability of a large outbreak has a Wilson score 95% "
            "interval; the mean sizes have bootstrap percentile 95% intervals "
            f"({BOOTSTRAP_RESAMPLES:,} resamples of the runs; none with fewer than two). A "
            "censored run's chain was still alive at the run's end: its size is a lower bound."
        ),
        TableBlock(Table.from_frame(outbreak_table(summary))),
        Figures([plot]),
        Paragraph("runs.csv and runs.parquet hold one row per run:"),
        Bullets([Item(text, code=name) for name, text in RUN_DEFINITIONS.items()]),
    ]


def write_outbreak_files(
    runs: pl.DataFrame, summary: pl.DataFrame, threshold: int, out: Path
) -> dict[str, Path]:
    """runs.csv, runs.parquet, outbreaks.csv and final-size.png into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    write_csv(runs, out / "runs.csv")
    runs.write_parquet(out / "runs.parquet")
    write_csv(summary, out / "outbreaks.csv")
    plot = final_size_plot(runs, threshold, out / "final-size.png")
    return {
        "runs.csv": out / "runs.csv",
        "runs.parquet": out / "runs.parquet",
        "outbreaks.csv": out / "outbreaks.csv",
        "final-size.png": plot,
    }
