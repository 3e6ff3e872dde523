"""The wider community by ZIP: who meets whom outside school, and importation from outside.

* **Community contacts by ZIP** (``zip_community``): every agent lives in a ZIP (its
  household's; staff, who have no household in the synthetic district, the ZIP of their
  school: an assumption). Each agent draws a number of community contacts by age band
  (children under 18, adults); each contact is within the agent's ZIP with probability
  ``within_zip_share``, else in another ZIP of the district drawn in proportion to that ZIP's
  real population of the agent's age band (ACS 5-year, ``load_zip_population``), then a
  partner uniformly among the agents of that ZIP.
* **Importation by ZIP** (``importation_rates``): the daily probability that an agent is
  infected from outside the simulated population is its ZIP's reported cases per person per
  day in the CDPH weekly cases by ZIP (``load_zip_cases``) over the simulated dates, divided
  by an ascertainment factor (infections per reported case) and times a scale; with
  ``simulated`` (the agents of each ZIP), times the share of the ZIP's residents that are not
  simulated (``Importation.outside_only``): the infections the simulated agents cause among
  themselves are simulated, not imported again.

Everything is vectorised over agents (no loop over people); the numbers and their sources are
in docs/simulator.md ("Community by ZIP").
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path

import numpy as np
import polars as pl

from schoolmode.importers.cdph import ChicagoPopulation, ZipWeekly
from schoolmode.policy.errors import SchoolmodeError
from schoolmode.settings import default_data_dir

CHILD_AGE = 18
"""Agents younger than this are children (ACS band 0-17)."""
UNKNOWN_ZIP = ""
"""ZIP of agents whose ZIP is not known (a group of its own)."""


def zip_population_path(data_dir: Path | None = None) -> Path:
    """The ACS population file under ``data_dir`` (default: ``settings.default_data_dir()``)."""
    return ChicagoPopulation().default_paths(data_dir or default_data_dir())[0]


def zip_cases_path(data_dir: Path | None = None) -> Path:
    """The CDPH weekly cases file under ``data_dir`` (default: ``settings.default_data_dir()``)."""
    return ZipWeekly().default_paths(data_dir or default_data_dir())[0]


@lru_cache(maxsize=4)
def load_zip_population(path: Path | None = None, year: int | None = None) -> pl.DataFrame:
    """ACS 5-year population by ZIP (``zip``, ``children`` 0-17, ``adults`` 18+, ``total``)
    of ``year`` (default: the latest in the file), read with the project's importer."""
    path = path or zip_population_path()
    if not path.exists():
        raise SchoolmodeError(f"{path}: no Chicago population by ZIP (set SCHOOLMODE_DATA)")
    frame = (
        ChicagoPopulation()
        .parse(path)
        .frame.filter((pl.col("geography_type") == "zip") & (pl.col("sex") == "all"))
    )
    year = year if year is not None else int(frame["year"].max())  # type: ignore[arg-type]
    wide = (
        frame.filter((pl.col("year") == year) & pl.col("age_group").is_in(["0-17", "18+", "all"]))
        .pivot(on="age_group", index="geography", values="population", aggregate_function="sum")
        .rename({"geography": "zip", "0-17": "children", "18+": "adults", "all": "total"})
    )
    return wide.select(
        "zip", *(pl.col(c).fill_null(0).cast(pl.Int64) for c in ("children", "adults", "total"))
    ).sort("zip")


@lru_cache(maxsize=4)
def load_zip_cases(path: Path | None = None) -> pl.DataFrame:
    """CDPH weekly cases by ZIP (``zip``, ``week_start`` (Sunday), ``cases``, ``population``),
    imported as ``community_indicator`` ``cases_weekly`` / ``population``; suppressed cells
    are missing (null)."""
    path = path or zip_cases_path()
    if not path.exists():
        raise SchoolmodeError(f"{path}: no CDPH weekly cases by ZIP (set SCHOOLMODE_DATA)")
    frame = (
        ZipWeekly()
        .parse(path)
        .frame.filter(
            pl.col("metric").is_in(["cases_weekly", "population"])
            & pl.col("geography").str.contains(r"^\d{5}$")
        )
    )
    return (
        frame.pivot(on="metric", index=["geography", "date"], values="value")
        .select(
            pl.col("geography").alias("zip"),
            pl.col("date").alias("week_start"),
            pl.col("cases_weekly").alias("cases"),
            pl.col("population"),
        )
        .sort("zip", "week_start")
    )


def agent_zips(zip_of_agent: list[str] | np.ndarray) -> tuple[list[str], np.ndarray]:
    """(ZIP codes, index of each agent's ZIP); the unknown ZIP ``""`` sorts first."""
    codes, index = np.unique(
        np.asarray(zip_of_agent, dtype=object).astype(str), return_inverse=True
    )
    return [str(c) for c in codes], index.astype(np.int64)


def zip_weights(
    zip_codes: list[str], agent_zip: np.ndarray, child: np.ndarray, population: pl.DataFrame | None
) -> np.ndarray:
    """(2, ZIPs) weights of each ZIP as the destination of a cross-ZIP contact, for children
    (row 0) and adults (row 1): the ZIP's ACS population of that age band. ZIPs without an
    ACS row (and the unknown ZIP) weigh their agents of the band times the mean ACS population
    per agent of that band over the ZIPs that have one; ZIPs without agents weigh nothing."""
    z = len(zip_codes)
    agents = np.stack(
        [
            np.bincount(agent_zip[child], minlength=z),
            np.bincount(agent_zip[~child], minlength=z),
        ]
    ).astype(np.float64)
    weights = np.full((2, z), np.nan)
    if population is not None:
        known = dict(
            zip(
                population["zip"],
                zip(population["children"], population["adults"], strict=True),
                strict=True,
            )
        )
        for k, code in enumerate(zip_codes):
            if code in known:
                weights[:, k] = known[code]
    has = ~np.isnan(weights[0])
    for band in range(2):
        ratio = weights[band, has].sum() / max(agents[band, has].sum(), 1.0) if has.any() else 1.0
        weights[band, ~has] = agents[band, ~has] * ratio
    weights[agents.sum(axis=0)[None, :].repeat(2, axis=0) == 0] = 0.0
    return weights


def zip_community(
    agent_zip: np.ndarray,
    contacts: np.ndarray,
    child: np.ndarray,
    weights: np.ndarray,
    within_zip_share: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Community edges (src, dst), int32: agent ``i`` draws ``contacts[i]`` partners; each is
    within ``i``'s ZIP with probability ``within_zip_share``, else in another ZIP drawn with
    probability proportional to ``weights[band(i), zip]`` (the own ZIP excluded), the partner
    uniform among that ZIP's agents. Where no other ZIP has weight the partner stays in the
    own ZIP."""
    n = agent_zip.size
    z = int(agent_zip.max()) + 1 if n else 0
    src = np.repeat(np.arange(n, dtype=np.int32), contacts)
    if src.size == 0:
        return src, src.copy()
    own = agent_zip[src]
    band = np.where(child[src], 0, 1)
    cross = rng.random(src.size) >= within_zip_share
    target = own.copy()
    idx = np.flatnonzero(cross)
    if idx.size:
        o, b = own[idx], band[idx]
        w = weights[b, o]
        total = weights.sum(axis=1)[b] - w
        cum = np.cumsum(weights, axis=1)
        lo = cum[b, o] - w  # start of the own ZIP's interval on the band's line
        x = rng.random(idx.size) * total
        x = x + np.where(x >= lo, w, 0.0)  # skip the own ZIP's interval
        # searchsorted per band (two bands): the ZIP whose interval holds x
        pick = np.empty(idx.size, dtype=np.int64)
        for k in range(2):
            sel = b == k
            pick[sel] = np.searchsorted(cum[k], x[sel], side="right")
        pick = np.minimum(pick, z - 1)
        ok = (total > 0) & (weights[b, pick] > 0)
        target[idx] = np.where(ok, pick, o)
    order = np.argsort(agent_zip, kind="stable").astype(np.int32)
    sizes = np.bincount(agent_zip, minlength=z)
    starts = np.cumsum(sizes) - sizes
    offset = (rng.random(src.size) * sizes[target]).astype(np.int64)
    return src, order[starts[target] + offset]


def importation_rates(
    cases: pl.DataFrame,
    zip_codes: list[str],
    start: dt.date,
    days: int,
    ascertainment: float,
    scale: float = 1.0,
    population: pl.DataFrame | None = None,
    simulated: np.ndarray | None = None,
) -> np.ndarray:
    """(ZIPs, days) daily probability of infection from outside for an agent of each ZIP:
    ``scale * cases_weekly / 7 / population / ascertainment`` of the week (Sunday-Saturday)
    holding each simulated date, capped at 1. ``cases`` has ``zip``, ``week_start``,
    ``cases`` (null, a suppressed cell, counts 0) and ``population`` (overridden by the ACS
    ``total`` of ``population`` where given). A ZIP not in ``cases`` (and the unknown ZIP)
    gets the rate of all ZIPs together. Dates outside the table are an error.

    ``simulated``: (ZIPs,) the simulated agents living in each ZIP of ``zip_codes``. Each row
    is then multiplied by the share of that ZIP's residents who are not simulated, ``1 -
    simulated / population`` (0 when the agents are all its residents; a ZIP without rows and
    the unknown ZIP the share of all ZIPs together): an agent's infection from outside is its
    community contact with the residents outside the simulation, whose infection rate is the
    ZIP's; its contacts with the simulated residents are the simulation's own transmission,
    which CDPH's cases also count (docs/validation.md, "Importation: only from outside")."""
    if population is not None:
        cases = (
            cases.join(population.select("zip", pl.col("total")), on="zip", how="left")
            .with_columns(pl.coalesce("total", "population").alias("population"))
            .drop("total")
        )
    cases = cases.with_columns(pl.col("cases").fill_null(0).cast(pl.Float64))
    dates = [start + dt.timedelta(days=d) for d in range(days)]
    weeks = [d - dt.timedelta(days=(d.weekday() + 1) % 7) for d in dates]
    first, last = cases["week_start"].min(), cases["week_start"].max()
    if not weeks or weeks[0] < first or weeks[-1] > last:  # type: ignore[operator]
        raise SchoolmodeError(
            f"weekly cases by ZIP cover weeks {first!s} .. {last!s}; the simulation needs "
            f"{weeks[0] if weeks else start} .. {weeks[-1] if weeks else start}"
        )
    week_days = pl.DataFrame({"day": range(days), "week_start": weeks})
    city = (
        cases.filter(pl.col("population") > 0)
        .group_by("week_start")
        .agg((pl.col("cases").sum() / pl.col("population").sum()).alias("rate"))
    )
    by_zip = cases.filter(pl.col("population") > 0).select(
        "zip", "week_start", (pl.col("cases") / pl.col("population")).alias("rate")
    )
    city_rate = week_days.join(city, on="week_start", how="left")["rate"].fill_null(0.0)
    rates = np.tile(city_rate.to_numpy(), (len(zip_codes), 1))
    wanted = pl.DataFrame({"zip": zip_codes, "row": range(len(zip_codes))})
    got = by_zip.join(wanted, on="zip").join(week_days, on="week_start")
    rates[got["row"].to_numpy(), got["day"].to_numpy()] = got["rate"].to_numpy()
    if simulated is not None:
        rates *= outside_shares(cases, zip_codes, simulated)[:, None]
    return np.asarray(np.minimum(rates * scale / 7.0 / ascertainment, 1.0))


def outside_shares(cases: pl.DataFrame, zip_codes: list[str], simulated: np.ndarray) -> np.ndarray:
    """(ZIPs,) the share of each ZIP's residents (``population`` of ``cases``, its largest)
    that are not among the ``simulated`` agents (per ZIP of ``zip_codes``), in 0..1; a ZIP
    without rows (and the unknown ZIP) gets the share of all the ZIPs with rows together."""
    if len(simulated) != len(zip_codes):
        raise ValueError(
            f"simulated agents: {len(simulated)} counts for {len(zip_codes)} ZIP codes"
        )
    people = cases.filter(pl.col("population") > 0).group_by("zip").agg(pl.col("population").max())
    count = np.asarray(simulated, dtype=np.float64)
    known = dict(people.iter_rows())
    total = float(people["population"].sum())
    city = 1.0 - float(count.sum()) / total if total > 0 else 0.0
    shares = np.array(
        [1.0 - n / known[z] if z in known else city for z, n in zip(zip_codes, count, strict=True)]
    )
    return np.asarray(np.clip(shares, 0.0, 1.0))
