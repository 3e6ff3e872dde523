"""Population spec files: the population a simulation runs on, by configuration.

A spec is YAML (``schoolmode sim run --population SPEC.yaml``) validated by
:class:`PopulationSpec`; its ``kind`` says where the people and contacts come from:

- ``synthetic-district``: the synthetic CPS district (``compare.load_population``);
- ``sociopatterns``: one school from a SocioPatterns contact list and its metadata file
  (``network.from_sociopatterns``: contact durations as layer weights);
- ``file``: people and edges in the documented CSV or Parquet format (``read_people``,
  ``read_edges``; docs/simulator.md, "Population spec").

Every kind has a ``week``: the weekdays school meets, whether the synthetic CPS holidays apply
and what replaces school time on the days an agent is not at school (nothing, random community
contacts or made-up households). Paths are relative to the spec file. Errors name the file,
the line and the field (a data file's errors: its row and column).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, field_validator

from schoolmode.policy.errors import InputDataError, PolicyFileError, Problem
from schoolmode.policy.yamlio import load_yaml, validate
from schoolmode.sim.compare import load_population, school_attributes
from schoolmode.sim.network import (
    LAYERS,
    MINUTES_PER_UNIT,
    Edges,
    Population,
    add_layer,
    build,
    cliques,
    from_sociopatterns,
    random_within,
)
from schoolmode.sim.state import ROLES, new_agents

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
OFF_SCHOOL_LAYER = "off-school"
"""Name of the layer that replaces school time (``Week.off_school``)."""
DEFAULT_AGE = {"student": 10, "classroom_teacher": 40, "other_staff": 40, "household_adult": 40}
"""Age of a person of the file format without one (assumption)."""
MAX_LAYERS = 127
"""Layers a population can have (the agent table stores an infection's layer as int8)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Week(_Strict):
    """The weekly pattern: which weekdays are school days, and what replaces school time."""

    school_days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS[:5]), min_length=1)
    """Weekdays on which school meets (the recorded school days of a contact network are
    repeated on each of them)."""
    holidays: bool | None = None
    """Whether the synthetic CPS calendar's holidays close school (and the scenario's
    ``district_holidays``); None: yes for ``synthetic-district``, no for the other kinds."""
    off_school: Literal["none", "community", "household"] = "none"
    """What replaces school time for an agent on a day it is not at school (no school that
    day, its unit closed, staying home ill; never while isolated or in quarantine):
    ``none``; ``community``: ``contacts`` random contacts drawn per person among the whole
    population; ``household``: the people drawn at random into households of
    ``household_size`` (also the households that tracing quarantines)."""
    contacts: int = Field(4, ge=1)
    """``community``: contacts drawn per person (mean degree about twice this)."""
    household_size: int = Field(3, ge=2)
    """``household``: people per made-up household (the last one may be smaller)."""
    weight: float | None = Field(None, gt=0)
    """Per-contact daily weight of the replacing layer; None: the district's (community 0.1,
    household 1.0; ``network.NetworkConfig``)."""
    seed: int = 1
    """Seed of the random draws of the replacing layer (the same for every run)."""

    def weekdays(self) -> tuple[int, ...]:
        return tuple(sorted({WEEKDAYS.index(d) for d in self.school_days}))


class SyntheticDistrict(_Strict):
    kind: Literal["synthetic-district"]
    profiles: Path | None = None
    """CPS school profile CSV (default: the data folder's SY2122 profiles)."""
    schools: int | None = Field(None, ge=1)
    """Only the first N schools by id (default: the whole district)."""
    week: Week = Week()

    @field_validator("week")
    @classmethod
    def _no_replacement(cls, week: Week) -> Week:
        if week.off_school != "none":
            raise ValueError(
                "off_school: the synthetic district has households and community contacts "
                "every day; off_school is for populations without them (set none)"
            )
        return week


class SocioPatternsSchool(_Strict):
    kind: Literal["sociopatterns"]
    contacts: Path
    """Contact list in the SocioPatterns layout (``t i j Ci Cj``, tab-separated, optionally
    gzipped): one line per 20-second window in which ``i`` and ``j`` were face to face."""
    metadata: Path | None = None
    """Metadata file (``i<TAB>class<TAB>sex``; class ``Teachers`` for a teacher); None: the
    ``<name>_metadata.txt`` beside the contacts if there is one, else the classes of the
    contact lines."""
    minutes_per_unit: float = Field(MINUTES_PER_UNIT, gt=0)
    """Daily minutes of contact that a weight of 1.0 stands for (``network.MINUTES_PER_UNIT``)."""
    adult_age: int = Field(40, ge=18, le=100)
    """Age of a teacher (assumption)."""
    recorded_days: Literal["mean", "repeat"] = "mean"
    """``mean``: one network of each pair's mean daily minutes over the recorded days, every
    school day; ``repeat``: time-resolved, each recorded day's contacts (its minutes) on the
    run's school days in turn (school day ``k`` repeats recorded day ``k mod`` their number)."""
    week: Week = Week()


class FilePopulation(_Strict):
    kind: Literal["file"]
    people: Path
    """People (CSV or Parquet): ``person`` and optional ``role``, ``age``, ``school``,
    ``classroom``, ``household``, ``grade`` (docs/simulator.md, "Population spec")."""
    edges: Path
    """Contacts (CSV or Parquet): ``a``, ``b`` (persons), ``layer``, ``role`` (one of
    ``network.LAYERS``) and ``weight`` (per-contact daily weight; one per layer)."""
    school: str | None = None
    """School of every student and staff member when ``people`` has no ``school`` column
    (default: the name of the people file, without its suffix)."""
    week: Week = Week()


Spec = SyntheticDistrict | SocioPatternsSchool | FilePopulation
KINDS: dict[str, type[Spec]] = {
    "synthetic-district": SyntheticDistrict,
    "sociopatterns": SocioPatternsSchool,
    "file": FilePopulation,
}
"""The ``kind`` of a population spec and its model."""


@dataclass(frozen=True)
class LoadedPopulation:
    population: Population
    attributes: dict[str, list[str]]
    """Per-school attributes (``grade_band``, ``zip``) of the synthetic district; empty for
    the other kinds."""


def load_spec(path: Path) -> Spec:
    """The spec in ``path``, its paths made relative to the spec file's folder; errors name
    the file, the line and the field."""
    loaded = load_yaml(path)
    data = loaded.data or {}
    kind = data.get("kind") if isinstance(data, dict) else None
    if kind not in KINDS:
        message = f"{kind!r}: expected one of {', '.join(KINDS)}" if kind else "missing"
        raise PolicyFileError(path, [Problem("kind", message, loaded.line_of(("kind",)))])
    spec: Spec = validate(KINDS[kind], loaded, data)
    base = path.parent

    def near(p: Path | None) -> Path | None:
        if p is None:
            return None
        p = p.expanduser()  # ~/.cache/schoolmode/fetch/...: where `schoolmode fetch` caches
        return p if p.is_absolute() else base / p

    match spec:
        case SyntheticDistrict():
            return spec.model_copy(update={"profiles": near(spec.profiles)})
        case SocioPatternsSchool():
            return spec.model_copy(
                update={"contacts": near(spec.contacts), "metadata": near(spec.metadata)}
            )
        case FilePopulation():
            return spec.model_copy(update={"people": near(spec.people), "edges": near(spec.edges)})


def load_population_spec(path: str, data_dir: str | None = None) -> LoadedPopulation:
    """The population of the spec file ``path``, cached per process while the spec file is
    unchanged (a sweep's tasks build it once per worker). ``data_dir``: the data folder, for
    the synthetic district."""
    try:
        stat = Path(path).stat()
    except OSError as exc:
        raise InputDataError(f"{path}: cannot read the population spec: {exc}") from None
    return _load_population(path, data_dir, (stat.st_mtime_ns, stat.st_size))


@lru_cache(maxsize=4)
def _load_population(path: str, data_dir: str | None, stamp: tuple[int, int]) -> LoadedPopulation:
    spec = load_spec(Path(path))
    week = spec.week
    match spec:
        case SyntheticDistrict():
            profiles = str(spec.profiles) if spec.profiles else None
            population = load_population(profiles, spec.schools, data_dir)
            attributes = school_attributes(population, profiles, spec.schools, data_dir)
            holidays = True if week.holidays is None else week.holidays
            population = replace(population, school_weekdays=week.weekdays(), holidays=holidays)
            return LoadedPopulation(population, attributes)
        case SocioPatternsSchool():
            for field, file in (("contacts", spec.contacts), ("metadata", spec.metadata)):
                if file is not None and not file.exists():
                    raise InputDataError(f"{path}: {field}: no file {file}")
            population = from_sociopatterns(
                spec.contacts,
                spec.metadata,
                spec.minutes_per_unit,
                spec.adult_age,
                repeat_days=spec.recorded_days == "repeat",
            )
        case FilePopulation():
            population = from_files(spec.people, spec.edges, spec.school)
    return LoadedPopulation(with_week(population, week, path), {})


def with_week(population: Population, week: Week, source: str = "") -> Population:
    """``population`` with the weekly pattern of ``week`` and its replacing layer, if any
    (``source``: the spec file, for errors)."""
    population = replace(population, school_weekdays=week.weekdays(), holidays=bool(week.holidays))
    if week.off_school == "none":
        return population
    n = population.network.n
    rng = np.random.default_rng(week.seed)
    agents = population.agents
    if week.off_school == "community":
        src, dst = random_within(np.zeros(n, dtype=np.int64), week.contacts, rng)
        role, weight = "community", 0.1
    else:
        if (agents["household"] >= 0).any():
            raise InputDataError(
                f"{source or 'population spec'}: week.off_school: household: the population "
                "already has households (its people file's household column)"
            )
        order = rng.permutation(n)
        household = np.empty(n, dtype=np.int64)
        household[order] = np.arange(n) // week.household_size
        agents = agents.copy()
        agents["household"] = household
        src, dst = cliques(household)
        role, weight = "household", 1.0
    network = add_layer(population.network, OFF_SCHOOL_LAYER, src, dst, week.weight or weight)
    return replace(
        population,
        agents=agents,
        network=network,
        layer_roles=(*population.roles(), role),
        layer_day=(*population.layer_day, -1) if population.layer_day else (),
        off_school_layers=(*population.off_school_layers, len(network.layers) - 1),
    )


def _read_table(path: Path) -> pl.DataFrame:
    """A CSV (every column as text) or Parquet file."""
    if not path.exists():
        raise InputDataError(f"{path}: no such file")
    try:
        if path.suffix.lower() == ".parquet":
            frame = pl.read_parquet(path)
            return frame.with_columns(pl.all().cast(pl.String))
        return pl.read_csv(path, infer_schema=False)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InputDataError(f"{path}: not a readable CSV or Parquet file: {exc}") from None


def _where(path: Path, row: int) -> str:
    """``file row N`` (1-based data row; a CSV's line is N + 1, after its header)."""
    line = f" (line {row + 1})" if path.suffix.lower() != ".parquet" else ""
    return f"{path} row {row}{line}"


def _require(path: Path, frame: pl.DataFrame, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputDataError(
            f"{path}: no column {', '.join(missing)} (columns: {', '.join(frame.columns)})"
        )


def _first_bad(path: Path, frame: pl.DataFrame, bad: pl.Expr, field: str, why: str) -> None:
    """Raise naming the first row where ``bad`` holds, its field and value."""
    rows = frame.with_row_index("_row", offset=1).filter(bad)
    if rows.height:
        row = rows.row(0, named=True)
        raise InputDataError(
            f"{_where(path, row['_row'])}: {field} {row[field]!r}: {why.format_map(row)}"
        )


def _as_number(path: Path, frame: pl.DataFrame, field: str, dtype: type[pl.DataType]) -> pl.Series:
    value = frame[field].str.strip_chars().cast(dtype, strict=False)
    _first_bad(
        path,
        frame.with_columns(value.alias("_v")),
        pl.col(field).is_not_null() & pl.col("_v").is_null(),
        field,
        f"not a {'whole ' if dtype == pl.Int64 else ''}number",
    )
    return value


def read_people(path: Path, school: str | None = None) -> pl.DataFrame:
    """People of the file format: person, role, age, school, classroom, household, grade (text
    ids; blank: none; a classroom's grade is that of its people who give one, a classroom
    without one is a grade of its own), validated (errors name the file, row and field)."""
    frame = _read_table(path)
    _require(path, frame, ("person",))
    _first_bad(path, frame, pl.col("person").is_null(), "person", "a person needs an id")
    _first_bad(path, frame, pl.col("person").is_duplicated(), "person", "listed twice")
    if "role" not in frame.columns:
        frame = frame.with_columns(pl.lit("student").alias("role"))
    frame = frame.with_columns(pl.col("role").fill_null("student"))
    _first_bad(
        path, frame, ~pl.col("role").is_in(ROLES), "role", f"expected one of {', '.join(ROLES)}"
    )
    default_age = pl.col("role").replace_strict(DEFAULT_AGE, return_dtype=pl.Int64)
    if "age" in frame.columns:
        age = _as_number(path, frame, "age", pl.Int64)
        frame = frame.with_columns(age.alias("age"))
        _first_bad(path, frame, (pl.col("age") < 0) | (pl.col("age") > 120), "age", "not an age")
        frame = frame.with_columns(pl.col("age").fill_null(default_age))
    else:
        frame = frame.with_columns(default_age.alias("age"))
    if "school" not in frame.columns:
        name = school or path.name.split(".")[0]
        frame = frame.with_columns(
            pl.when(pl.col("role") == "household_adult")
            .then(None)
            .otherwise(pl.lit(name))
            .alias("school")
        )
    for column in ("classroom", "household", "grade"):
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(column))
    frame = frame.with_columns(
        pl.col(c).cast(pl.String).str.strip_chars().replace("", None)
        for c in ("school", "classroom", "household", "grade")
    )
    _first_bad(
        path,
        frame,
        pl.col("classroom").is_not_null() & pl.col("school").is_null(),
        "classroom",
        "a classroom needs a school (the person has none)",
    )
    rooms = frame.filter(pl.col("classroom").is_not_null()).unique(["classroom", "school"])
    _first_bad(
        path,
        rooms.sort("classroom", "school"),
        pl.col("classroom").is_duplicated(),
        "classroom",
        "one classroom in two schools",
    )
    _first_bad(
        path,
        frame,
        pl.col("grade").is_not_null() & pl.col("classroom").is_null(),
        "grade",
        "a grade is a group of classrooms: the person has no classroom",
    )
    _first_bad(
        path,
        frame,
        pl.col("grade") != pl.col("grade").drop_nulls().first().over("classroom"),
        "grade",
        "differs from an earlier row of classroom {classroom}: a classroom is in one grade",
    )
    return frame.select("person", "role", "age", "school", "classroom", "household", "grade")


def read_edges(path: Path, people: pl.DataFrame) -> pl.DataFrame:
    """Edges of the file format: a, b, layer, role, weight, with the agents ``i``, ``j`` of
    ``a`` and ``b`` (errors name the file, row and field)."""
    frame = _read_table(path)
    _require(path, frame, ("a", "b", "layer", "role", "weight"))
    for field in ("a", "b", "layer", "role", "weight"):
        _first_bad(path, frame, pl.col(field).is_null(), field, "blank")
    frame = frame.with_columns(_as_number(path, frame, "weight", pl.Float64).alias("weight"))
    _first_bad(path, frame, ~(pl.col("weight") > 0), "weight", "a weight is above 0")
    _first_bad(
        path, frame, ~pl.col("role").is_in(LAYERS), "role", f"expected one of {', '.join(LAYERS)}"
    )
    index = people.select(pl.col("person"), pl.int_range(pl.len()).alias("agent"))
    for end in ("a", "b"):
        known = pl.col(end).is_in(people["person"].implode())
        _first_bad(path, frame, ~known, end, "not a person of the people file")
    frame = frame.join(
        index.rename({"person": "a", "agent": "i"}), on="a", how="left", maintain_order="left"
    ).join(index.rename({"person": "b", "agent": "j"}), on="b", how="left", maintain_order="left")
    for field, why in (("role", "one layer has one role"), ("weight", "one layer has one weight")):
        first = pl.col(field).first().over("layer")
        _first_bad(
            path,
            frame,
            pl.col(field) != first,
            field,
            f"differs from an earlier row of layer {{layer}}: {why} (split the layer in two)",
        )
    layers = frame["layer"].unique().len()
    if layers > MAX_LAYERS:
        raise InputDataError(f"{path}: {layers} layers, more than {MAX_LAYERS}")
    return frame


def from_files(people_path: Path, edges_path: Path, school: str | None = None) -> Population:
    """A population from the file format: agents in the order of the people file, layers in
    the order they first appear in the edges file, their roles declared by the file."""
    people = read_people(people_path, school)
    edges = read_edges(edges_path, people)
    n = people.height
    schools = people["school"].drop_nulls().unique(maintain_order=True).to_list()
    rooms = people["classroom"].drop_nulls().unique(maintain_order=True).to_list()
    households = people["household"].drop_nulls().unique(maintain_order=True).to_list()

    def numbered(column: str, ids: list[str]) -> np.ndarray:
        mapping = {v: k for k, v in enumerate(ids)}
        return people[column].replace_strict(mapping, default=-1, return_dtype=pl.Int32).to_numpy()

    agents = new_agents(n)
    agents["role"] = (
        people["role"]
        .replace_strict({r: k for k, r in enumerate(ROLES)}, return_dtype=pl.Int8)
        .to_numpy()
    )
    agents["age"] = people["age"].cast(pl.Int16).to_numpy()
    agents["school"] = numbered("school", schools)
    agents["classroom"] = numbered("classroom", rooms)
    agents["household"] = numbered("household", households)
    layers = edges.group_by("layer", maintain_order=True).agg(
        pl.col("i"), pl.col("j"), pl.col("role").first(), pl.col("weight").first()
    )
    layer_edges: dict[str, Edges] = {
        row["layer"]: (np.array(row["i"], dtype=np.int32), np.array(row["j"], dtype=np.int32))
        for row in layers.iter_rows(named=True)
    }
    network = build(n, layer_edges, dict(zip(layers["layer"], layers["weight"], strict=True)))
    declared = dict(
        people.filter(pl.col("grade").is_not_null())
        .unique("classroom", keep="first")
        .select("classroom", "grade")
        .iter_rows()
    )
    return Population(
        agents=agents,
        network=network,
        person_ids=people["person"].to_list(),
        school_ids=schools,
        classroom_ids=rooms,
        layer_roles=tuple(layers["role"].to_list()),
        classroom_grades=tuple(declared.get(room, "") for room in rooms),
    )
