"""Contact layers as CSR adjacency, built from a synthetic district without a loop over people.

Each layer is undirected (both directions stored) and has one per-contact daily transmission
weight. Layers are stacked into one ``Network``: ``indptr[layer]`` indexes ``indices`` for
that layer, so a kernel visits one infectious agent's neighbours layer by layer.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from schoolmode.policy.errors import SchoolmodeError
from schoolmode.sim.community import (
    CHILD_AGE,
    UNKNOWN_ZIP,
    agent_zips,
    zip_community,
    zip_weights,
)
from schoolmode.sim.rng import jit
from schoolmode.sim.sociopatterns import grade_of, read_school
from schoolmode.sim.state import ROLES, new_agents

LAYERS = ("household", "homeroom", "grade", "school", "staff", "community")
SCHOOL_LAYERS = ("homeroom", "grade", "school", "staff")
"""Layers that exist only while a school (or classroom) meets in person."""


@dataclass(frozen=True)
class NetworkConfig:
    """Contact structure and per-contact daily weights (see docs/simulator.md, "Calibration").

    The in-school layers (homeroom, grade, school, staff) are calibrated on the SocioPatterns
    primary school (``python -m schoolmode.sim.calibrate``): the homeroom weight is the anchor
    (an assumption relative to a household pair, 1.0); the others scale with measured contact
    minutes. Household and community weights and community contacts are assumptions.
    """

    weights: dict[str, float] = field(
        default_factory=lambda: {
            "household": 1.0,
            "homeroom": 0.3,
            "grade": 0.139,
            "school": 0.057,
            "staff": 0.036,
            "community": 0.1,
        }
    )
    grade_contacts: int = 3
    """Random contacts drawn per student among other homerooms of the same school and grade
    (mean degree about twice this: 6.6 distinct same-grade, other-class contacts a day)."""
    school_contacts: int = 10
    """Random contacts drawn per student or staff member anywhere in the same school (20.5
    distinct other-grade contacts a day)."""
    source: str = (
        "SocioPatterns primary school (Lyon, 2009; Stehlé et al. 2011), calibrated by "
        "schoolmode.sim.calibrate: homeroom 6.0 min per classmate pair a day = weight 0.3 "
        "(anchor, assumption), so 1.0 = 20 min/day; same grade 2.79 min per contact, "
        "6.57 contacts/day; other grades 1.14 min, 20.5 contacts/day; teacher pairs 0.72 "
        "min/day. Household, community: assumptions"
    )
    community_contacts: int = 4
    """Community contacts drawn per adult (18 and over; mean degree about twice this):
    assumption."""
    community_contacts_child: int = 2
    """Community contacts drawn per child (under 18): assumption (children's contacts outside
    home and school are fewer than adults'; see docs/simulator.md, "Community by ZIP")."""
    community_within_zip_share: float | None = 0.8
    """Share of community contacts drawn within the agent's ZIP (assumption); the rest go to
    other ZIPs in proportion to their population of the agent's age band. ``None``: the
    earlier district-wide random layer (``community_contacts`` for everyone, ZIPs ignored)."""
    adult_age: int = 40
    """Age given to household adults (assumption: the synthetic district has no adult ages)."""
    seed: int = 1


@dataclass(frozen=True)
class Network:
    layers: tuple[str, ...]
    weights: np.ndarray  # (L,) float64
    indptr: np.ndarray  # (L, N + 1) int64 into indices
    indices: np.ndarray  # int32

    @property
    def n(self) -> int:
        return int(self.indptr.shape[1] - 1)

    def degree(self, layer: str) -> np.ndarray:
        ptr = self.indptr[self.layers.index(layer)]
        return np.diff(ptr)

    def edges(self, layer: str) -> int:
        """Undirected edges in ``layer``."""
        return int(self.degree(layer).sum() // 2)


def add_layer(
    network: Network, name: str, src: np.ndarray, dst: np.ndarray, weight: float
) -> Network:
    """``network`` with one more layer (undirected edges ``src``-``dst``) after its others."""
    if name in network.layers:
        raise SchoolmodeError(f"the population already has a layer called {name!r}")
    indptr, cols = csr(network.n, src, dst)
    offset = network.indices.size
    return Network(
        layers=(*network.layers, name),
        weights=np.append(network.weights, weight),
        indptr=np.vstack([network.indptr, indptr + offset]),
        indices=np.concatenate([network.indices, cols]),
    )


def csr(n: int, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric CSR of the undirected edges (src, dst): self-loops and duplicates dropped,
    each row's columns sorted."""
    cols = np.empty(2 * np.asarray(src).size, dtype=np.int32)
    indptr = np.zeros(n + 1, dtype=np.int64)
    size = _fill_csr(np.ascontiguousarray(src), np.ascontiguousarray(dst), indptr, cols)
    return indptr, cols[:size].copy()


@jit
def _fill_csr(src: np.ndarray, dst: np.ndarray, indptr: np.ndarray, cols: np.ndarray) -> int:
    """Counting sort of both directions of each edge into ``cols`` (length ``2 * edges``),
    then sort each row, drop self-loops and duplicates and compact in place; ``indptr``
    (length n + 1, zeros) gets the compacted row starts. Returns the number of columns kept.
    No ``n * n`` keys and no sort of all edges: peak memory is the edges plus ``cols``."""
    n = indptr.shape[0] - 1
    ptr = np.zeros(n + 1, dtype=np.int64)
    for e in range(src.shape[0]):
        ptr[src[e] + 1] += 1
        ptr[dst[e] + 1] += 1
    for i in range(n):
        ptr[i + 1] += ptr[i]
    fill = ptr[:-1].copy()
    for e in range(src.shape[0]):
        a, b = src[e], dst[e]
        cols[fill[a]] = b
        fill[a] += 1
        cols[fill[b]] = a
        fill[b] += 1
    out = 0
    for row in range(n):
        start, stop = ptr[row], ptr[row + 1]
        cols[start:stop].sort()
        last = -1
        for e in range(start, stop):
            c = cols[e]
            if c != row and c != last:
                cols[out] = c
                out += 1
            last = c
        indptr[row + 1] = out
    return out


def cliques(group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All pairs (i < j in sorted order) of agents sharing a group id (``-1``: none), int32."""
    members = np.flatnonzero(group >= 0).astype(np.int32)
    order = members[np.argsort(group[members], kind="stable")]
    g = group[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    sizes = np.diff(np.r_[starts, g.size])
    return _pairs(order, starts, sizes)


@jit
def _pairs(
    order: np.ndarray, starts: np.ndarray, sizes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    total = 0
    for s in sizes:
        total += s * (s - 1) // 2
    src = np.empty(total, dtype=np.int32)
    dst = np.empty(total, dtype=np.int32)
    k = 0
    for g in range(starts.shape[0]):
        first = starts[g]
        for i in range(sizes[g]):
            for j in range(i + 1, sizes[g]):
                src[k] = order[first + i]
                dst[k] = order[first + j]
                k += 1
    return src, dst


def random_within(
    group: np.ndarray, k: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Each agent with a group draws ``k`` partners uniformly from its group (with replacement)."""
    members = np.flatnonzero(group >= 0)
    if members.size == 0 or k == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    order = members[np.argsort(group[members], kind="stable")]
    g = group[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    sizes = np.diff(np.r_[starts, g.size])
    pos_group = np.repeat(np.arange(starts.size), sizes)
    src = np.repeat(order, k)
    grp = np.repeat(pos_group, k)
    pick = (rng.random(src.size) * sizes[grp]).astype(np.int64)
    return src, order[starts[grp] + pick]


Edges = tuple[np.ndarray, np.ndarray]


def build(
    n: int,
    layer_edges: Mapping[str, Edges | Callable[[], Edges]],
    weights: Mapping[str, float],
) -> Network:
    """Stack layers into one ``Network``. A layer's edges may be given as a function that
    makes them, so that only one layer's raw edge list is in memory at a time."""
    names = tuple(layer_edges)
    indptr = np.zeros((len(names), n + 1), dtype=np.int64)
    # one buffer grown in place (realloc) layer by layer: no second copy of all contacts
    indices = np.empty(0, dtype=np.int32)
    for i, name in enumerate(names):
        edges = layer_edges[name]
        src, dst = edges() if callable(edges) else edges
        offset = indices.size
        indices.resize(offset + 2 * np.asarray(src).size, refcheck=False)
        size = _fill_csr(
            np.ascontiguousarray(src), np.ascontiguousarray(dst), indptr[i], indices[offset:]
        )
        del src, dst, edges
        indices.resize(offset + size, refcheck=False)
        indptr[i] += offset
    return Network(
        layers=names,
        weights=np.array([weights[name] for name in names], dtype=np.float64),
        indptr=indptr,
        indices=indices,
    )


@dataclass(frozen=True)
class Population:
    agents: np.ndarray
    network: Network
    person_ids: list[str]
    """Standard ``person_id`` of each agent; household adults get ``<household_id>-A<n>``."""
    school_ids: list[str]
    classroom_ids: list[str]
    zip_codes: list[str] = field(default_factory=list)
    """ZIP codes of the agents' homes (``""``: unknown), indexed by ``agent_zip``."""
    agent_zip: np.ndarray | None = None
    """(agents,) index into ``zip_codes``; None when the population has no ZIPs."""
    layer_roles: tuple[str, ...] = ()
    """The role of each layer of ``network`` (one of ``LAYERS``: which contacts a closed
    classroom or school, an isolation or a holiday removes), declared by whoever builds the
    population; empty: each layer's role is its name (the synthetic district's layers)."""
    school_weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)
    """Weekdays (0 Monday) on which school meets (the population's weekly pattern)."""
    holidays: bool = True
    """Whether the synthetic CPS calendar's holidays close school (with the scenario's
    ``district_holidays``); a school from a contact network or a file is not in that calendar."""
    layer_day: tuple[int, ...] = ()
    """Per layer, the recorded day of a time-resolved contact network it belongs to (``-1``:
    every day; empty: no layer is day-specific). School day ``k`` of a run (counted from its
    first) opens the layers of recorded day ``k mod recorded_days`` only (``gates.py``)."""
    recorded_days: int = 1
    """Recorded days that the run's school days repeat (``layer_day``)."""
    off_school_layers: tuple[int, ...] = ()
    """Layers that replace school time: open for an agent only on a day it is not at school
    (a day without school, a closed unit, staying home ill), never while isolated or in
    quarantine (``sim/gates.py``)."""
    classroom_grades: tuple[str, ...] = ()
    """Per classroom (``classroom_ids``' order), the grade it belongs to within its school: any
    group of classrooms the population declares (a grade, a year, a track), the units of a
    policy's ``grade`` rules (``groups.Groups.grade_ids``). Empty, or ``""`` for a classroom:
    the classroom is a grade of its own."""

    def roles(self) -> tuple[str, ...]:
        """The role of each layer; a layer with none declared and no role name is an error."""
        roles = self.layer_roles or self.network.layers
        if len(roles) != len(self.network.layers):
            raise ValueError(
                f"{len(roles)} layer roles for {len(self.network.layers)} layers "
                f"({', '.join(self.network.layers)})"
            )
        unknown = sorted({r for r in roles if r not in LAYERS})
        if unknown:
            raise ValueError(
                f"layer role(s) {', '.join(unknown)}: expected one of {', '.join(LAYERS)}"
            )
        return tuple(roles)

    def layers_of(self, *roles: str) -> np.ndarray:
        """Indices of the layers with one of ``roles``."""
        return np.array([i for i, r in enumerate(self.roles()) if r in roles], dtype=np.int64)

    def layers_called(self, name: str, field: str) -> np.ndarray:
        """The layer called ``name``, or every layer whose role is ``name`` (a SocioPatterns
        school's ``homeroom`` is its several ``homeroom <minutes>`` layers); ``field``: the
        scenario field that names it, for the error."""
        layers = self.network.layers
        if name in layers:
            return np.array([layers.index(name)], dtype=np.int64)
        by_role = self.layers_of(name)
        if by_role.size == 0:
            raise SchoolmodeError(
                f"scenario {field}: no layer or layer role {name!r} in this population "
                f"(layers: {', '.join(layers)}; roles: {', '.join(dict.fromkeys(self.roles()))})"
            )
        return by_role


def _district_agents(
    frames: dict[str, pl.DataFrame],
    config: NetworkConfig,
    person: pl.DataFrame,
    households: pl.DataFrame,
    school_no: dict[str, int],
    room_no: dict[str, int],
) -> tuple[np.ndarray, list[str], dict[str, int]]:
    """The agent table of a synthetic district (people, then household adults), the household
    adults' ids and the role numbers."""
    rooms = frames["classroom"].sort("classroom_id")
    hh_no = {h: i for i, h in enumerate(households["household_id"])}

    # household adults: household size minus enrolled children
    children = person.filter(pl.col("role") == "student").group_by("household_id").len()
    adults = households.join(children, on="household_id", how="left").with_columns(
        (pl.col("size") - pl.col("len").fill_null(0)).clip(0).alias("adults")
    )
    n_adults = adults["adults"].to_numpy()
    adult_hh = np.repeat(np.arange(households.height), n_adults)
    adult_no = np.arange(adult_hh.size) - np.repeat(np.cumsum(n_adults) - n_adults, n_adults)
    hh_list = households["household_id"].to_list()
    adult_ids = [f"{hh_list[h]}-A{k + 1}" for h, k in zip(adult_hh, adult_no, strict=True)]

    n_people = person.height
    n = n_people + adult_hh.size
    agents = new_agents(n)
    role_no = {r: i for i, r in enumerate(ROLES)}
    agents["role"][:n_people] = person["role"].replace_strict(role_no, return_dtype=pl.Int8)
    agents["role"][n_people:] = role_no["household_adult"]
    ages = person["age_years"].fill_null(config.adult_age).to_numpy()
    agents["age"][:n_people] = ages
    agents["age"][n_people:] = config.adult_age
    agents["household"][:n_people] = (
        person["household_id"].replace_strict(hh_no, default=-1, return_dtype=pl.Int32).to_numpy()
    )
    agents["household"][n_people:] = adult_hh

    pid_no = {p: i for i, p in enumerate(person["person_id"])}
    enrol = frames["enrolment"].join(rooms.select("classroom_id", "school_id"), on="classroom_id")
    who = enrol["person_id"].replace_strict(pid_no, return_dtype=pl.Int64).to_numpy()
    agents["classroom"][who] = enrol["classroom_id"].replace_strict(room_no, return_dtype=pl.Int32)
    agents["school"][who] = enrol["school_id"].replace_strict(school_no, return_dtype=pl.Int32)
    staff = frames["staff_assignment"]
    sidx = staff["person_id"].replace_strict(pid_no, return_dtype=pl.Int64).to_numpy()
    agents["school"][sidx] = staff["school_id"].replace_strict(school_no, return_dtype=pl.Int32)
    agents["classroom"][sidx] = (
        staff["classroom_id"].replace_strict(room_no, default=-1, return_dtype=pl.Int32).to_numpy()
    )
    return agents, adult_ids, role_no


def _home_zips(
    agents: np.ndarray,
    households: pl.DataFrame,
    is_student: np.ndarray,
    is_staff: np.ndarray,
    n_schools: int,
) -> tuple[list[str], np.ndarray]:
    """(ZIP codes, each agent's ZIP index) from the households' ZIPs."""
    school = agents["school"].astype(np.int64)
    # home ZIP: the household's; staff (no household here) the ZIP of their school's students
    hh_zip = np.asarray([*households["zip"].fill_null(UNKNOWN_ZIP).to_list(), UNKNOWN_ZIP])
    home = agents["household"].astype(np.int64)
    zip_text = hh_zip[np.where(home >= 0, home, hh_zip.size - 1)]
    school_zip = np.full(n_schools + 1, UNKNOWN_ZIP, dtype=zip_text.dtype)
    pupils = is_student & (school >= 0) & (home >= 0)
    school_zip[school[pupils]] = zip_text[pupils]
    staff_home = is_staff & (home < 0) & (school >= 0)
    zip_text[staff_home] = school_zip[school[staff_home]]
    zip_codes, agent_zip = agent_zips(zip_text)
    return zip_codes, agent_zip


def _district_layers(
    agents: np.ndarray,
    config: NetworkConfig,
    rng: np.random.Generator,
    grade: np.ndarray,
    is_student: np.ndarray,
    is_staff: np.ndarray,
    zips: tuple[list[str], np.ndarray],
    zip_population: pl.DataFrame | None,
) -> dict[str, Edges]:
    """Raw edges of each layer of a district, drawn from ``rng`` in layer order."""
    n = agents.size
    zip_codes, agent_zip = zips
    school = agents["school"].astype(np.int64)
    room = agents["classroom"].astype(np.int64)
    child = agents["age"] < CHILD_AGE
    # grade contacts: random partners among the same school and grade (homeroom pairs fall in
    # the homeroom layer already; csr() drops duplicates within a layer only)
    layer_edges = {
        "household": cliques(agents["household"].astype(np.int64)),
        "homeroom": cliques(room),
        "grade": random_within(grade, config.grade_contacts, rng),
        "school": random_within(
            np.where(is_student | is_staff, school, -1), config.school_contacts, rng
        ),
        "staff": cliques(np.where(is_staff, school, -1)),
    }
    if config.community_within_zip_share is None:
        layer_edges["community"] = random_within(
            np.zeros(n, np.int64), config.community_contacts, rng
        )
    else:
        layer_edges["community"] = zip_community(
            agent_zip,
            np.where(child, config.community_contacts_child, config.community_contacts),
            child,
            zip_weights(zip_codes, agent_zip, child, zip_population),
            config.community_within_zip_share,
            rng,
        )
    return layer_edges


def from_district(
    frames: dict[str, pl.DataFrame],
    config: NetworkConfig | None = None,
    zip_population: pl.DataFrame | None = None,
) -> Population:
    """Agents (students, staff, household adults) and contact layers of a synthetic district.

    ``zip_population`` (``community.load_zip_population``: ``zip``, ``children``, ``adults``)
    weights the ZIPs as destinations of cross-ZIP community contacts; None: the district's
    own agents per ZIP and age band."""
    config = config or NetworkConfig()
    rng = np.random.default_rng(config.seed)
    person = frames["person"].sort("person_id")
    rooms = frames["classroom"].sort("classroom_id")
    school_ids = sorted(set(rooms["school_id"]) | set(frames["staff_assignment"]["school_id"]))
    classroom_ids = rooms["classroom_id"].to_list()
    school_no = {s: i for i, s in enumerate(school_ids)}
    room_no = {c: i for i, c in enumerate(classroom_ids)}
    households = frames["household"].sort("household_id")

    agents, adult_ids, role_no = _district_agents(
        frames, config, person, households, school_no, room_no
    )
    is_student = agents["role"] == role_no["student"]
    is_staff = (agents["role"] == role_no["classroom_teacher"]) | (
        agents["role"] == role_no["other_staff"]
    )
    room = agents["classroom"].astype(np.int64)
    grade_no = {
        c: i
        for i, c in enumerate(sorted(set(zip(rooms["school_id"], rooms["grade"], strict=True))))
    }
    room_grade = np.array(
        [grade_no[(s, g)] for s, g in zip(rooms["school_id"], rooms["grade"], strict=True)],
        dtype=np.int64,
    )
    grade = np.where(is_student & (room >= 0), room_grade[np.maximum(room, 0)], -1)
    zip_codes, agent_zip = _home_zips(agents, households, is_student, is_staff, len(school_ids))
    layer_edges = _district_layers(
        agents,
        config,
        rng,
        grade,
        is_student,
        is_staff,
        (zip_codes, agent_zip),
        zip_population,
    )
    n = agents.size
    network = build(n, layer_edges, config.weights)
    return Population(
        agents=agents,
        network=network,
        person_ids=person["person_id"].to_list() + adult_ids,
        school_ids=school_ids,
        classroom_ids=classroom_ids,
        zip_codes=zip_codes,
        agent_zip=agent_zip,
        classroom_grades=tuple(rooms["grade"].cast(pl.String).fill_null("").to_list()),
    )


HYBRID_LAYERS = ("household", "school", "work", "community")


@dataclass(frozen=True)
class HybridConfig:
    """Starsim's ``ss.HybridNet`` (Covasim v3 "hybrid") population, rebuilt in our format.

    As in Starsim 3.7.2 (``networks.py``; read from the installed source): agents' ages are
    uniform on [0, 60) (``ss.People`` without age data); households are clusters of
    Poisson(``household_size``) agents (size 0 skipped, the last truncated) in a random order,
    fully connected; the school, work and community layers are static random networks of the
    agents with ``ages[0] <= age < ages[1]`` (everyone for community) where each agent draws
    Poisson(mean contacts) stubs, halved by stochastic rounding, and joins each to a target
    chosen uniformly among the eligible (``uniform_targets=True``), so the mean degree is the
    mean contacts. ``p_contact`` is Starsim's per-contact daily transmission probability of a
    layer (``ss.probperday``); the layer weight is the equivalent hazard ``-ln(1 - p)``.
    """

    household_size: float = 2.0
    contacts: dict[str, float] = field(
        default_factory=lambda: {"school": 20.0, "work": 16.0, "community": 20.0}
    )
    p_contact: dict[str, float] = field(
        default_factory=lambda: {
            "household": 3.0 * 0.016,
            "school": 0.6 * 0.016,
            "work": 0.6 * 0.016,
            "community": 0.3 * 0.016,
        }
    )
    school_ages: tuple[int, int] = (6, 22)
    work_ages: tuple[int, int] = (22, 65)
    max_age: int = 60
    seed: int = 1


def _households(n: int, mean: float, rng: np.random.Generator) -> np.ndarray:
    order = rng.permutation(n).astype(np.int32)
    sizes = rng.poisson(mean, size=n)
    sizes = sizes[sizes > 0]
    ends = np.cumsum(sizes)
    count = int(np.searchsorted(ends, n)) + 1
    sizes = sizes[:count]
    sizes[-1] -= int(sizes.sum()) - n
    household = np.empty(n, dtype=np.int32)
    household[order] = np.repeat(np.arange(count, dtype=np.int32), sizes)
    return household


def _random_stubs(
    members: np.ndarray, mean: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Each member draws Poisson(mean) contacts, halved by stochastic rounding (each edge is
    shared by two agents), with targets uniform among the members (int32 edges)."""
    half = rng.poisson(mean, size=members.size) / 2.0
    stubs = np.floor(half + rng.random(members.size)).astype(np.int64)
    src = np.repeat(members, stubs)
    dst = rng.integers(0, members.size, size=src.size, dtype=np.int32)
    np.take(members, dst, out=dst)
    return src, dst


def from_hybrid(n: int, config: HybridConfig | None = None) -> Population:
    """``n`` agents in Starsim's hybrid structure (see ``HybridConfig``); for benchmarks, so
    agents have no standard ids (``person_ids`` is empty) and all have role household_adult."""
    config = config or HybridConfig()
    rng = np.random.default_rng(config.seed)
    agents = new_agents(n)
    ages = rng.integers(0, config.max_age, size=n).astype(np.int16)
    agents["age"] = ages
    agents["role"] = ROLES.index("household_adult")
    agents["household"] = _households(n, config.household_size, rng)
    everyone = np.arange(n, dtype=np.int32)

    def in_ages(lo: int, hi: int) -> np.ndarray:
        return everyone[(ages >= lo) & (ages < hi)]

    layer_edges: dict[str, Callable[[], Edges]] = {
        "household": lambda: cliques(agents["household"]),
        "school": lambda: _random_stubs(
            in_ages(*config.school_ages), config.contacts["school"], rng
        ),
        "work": lambda: _random_stubs(in_ages(*config.work_ages), config.contacts["work"], rng),
        "community": lambda: _random_stubs(everyone, config.contacts["community"], rng),
    }
    weights = {name: -math.log1p(-p) for name, p in config.p_contact.items()}
    network = build(n, layer_edges, weights)
    return Population(
        agents=agents,
        network=network,
        person_ids=[],
        school_ids=[],
        classroom_ids=[],
    )


MINUTES_PER_UNIT = 20.0
"""Daily minutes of face-to-face contact that a layer weight of 1.0 stands for: the
calibration of ``NetworkConfig`` on the SocioPatterns primary school (homeroom pairs average
6.0 min/day and are anchored at weight 0.3; see docs/simulator.md, "Calibration")."""
DURATION_BINS = (0.0, 1.0, 3.0, 10.0, 30.0, math.inf)
"""Minutes per day: an observed contact's layer is its kind and its duration bin."""


def _pair_layers(pairs: pl.DataFrame, roster: pl.DataFrame, n_days: int) -> pl.DataFrame:
    """Each observed pair (agents ``i``, ``j``) with its mean daily minutes, its kind
    (homeroom, grade, school, staff), its duration bin and its layer ``"KIND BIN"``."""
    return (
        pairs.group_by("a", "b")
        .agg((pl.col("seconds").sum() / 60 / n_days).alias("minutes"))
        .join(
            roster.select(
                pl.col("person").alias("a"),
                pl.col("agent").alias("i"),
                pl.col("own_class").alias("room_a"),
                pl.col("grade").alias("grade_a"),
                pl.col("teacher").alias("teacher_a"),
            ),
            on="a",
        )
        .join(
            roster.select(
                pl.col("person").alias("b"),
                pl.col("agent").alias("j"),
                pl.col("own_class").alias("room_b"),
                pl.col("grade").alias("grade_b"),
                pl.col("teacher").alias("teacher_b"),
            ),
            on="b",
        )
        .with_columns(
            pl.when(pl.col("teacher_a") & pl.col("teacher_b"))
            .then(pl.lit("staff"))
            .when(pl.col("room_a") == pl.col("room_b"))
            .then(pl.lit("homeroom"))
            .when(
                ~pl.col("teacher_a")
                & ~pl.col("teacher_b")
                & (pl.col("grade_a") == pl.col("grade_b"))
            )
            .then(pl.lit("grade"))
            .otherwise(pl.lit("school"))
            .alias("kind"),
            pl.sum_horizontal([pl.col("minutes") >= edge for edge in DURATION_BINS[1:-1]])
            .replace_strict(dict(enumerate(_bin_labels())), return_dtype=pl.String)
            .alias("bin"),
        )
        .with_columns(
            pl.format("{} {}", "kind", "bin").alias("layer"),
            pl.col("kind")
            .replace_strict({k: i for i, k in enumerate(LAYERS)}, return_dtype=pl.Int64)
            .alias("kind_no"),
            pl.col("bin")
            .replace_strict({b: i for i, b in enumerate(_bin_labels())}, return_dtype=pl.Int64)
            .alias("bin_no"),
        )
        .sort("kind_no", "bin_no", "i", "j")
    )


def from_sociopatterns(
    path: Path,
    metadata: Path | None = None,
    minutes_per_unit: float = MINUTES_PER_UNIT,
    adult_age: int = 40,
    repeat_days: bool = False,
) -> Population:
    """One school from an empirical SocioPatterns contact network.

    Agents are the people of the file (its metadata roster if present); every pair observed
    in contact is an edge, with its mean daily contact time over the days of the file
    (including days the pair did not meet). Pairs are grouped into layers by kind, named as
    in ``from_district`` (``homeroom``: same class, or a teacher and the class they spend most
    time with; ``grade``: same grade, other class; ``school``: other grades, or a teacher and
    other classes; ``staff``: two teachers) and by duration bin (``DURATION_BINS``): layer
    ``"homeroom 3-10 min"`` weighs the mean minutes of its pairs / ``minutes_per_unit``. Ages:
    primary grade g -> 5 + g, high-school students 17, teachers ``adult_age`` (assumptions).

    ``repeat_days``: time-resolved instead: each recorded day has its own layers (``"homeroom
    3-10 min, day 2"``, a pair's minutes on that day), open on the run's school days in turn
    (``Population.layer_day``).
    """
    school = read_school(path, metadata)
    roster = school.roster.with_row_index("agent")
    n = roster.height
    n_days = max(school.pairs["day"].n_unique(), 1)
    rooms = sorted(set(roster.filter(~pl.col("teacher"))["class"].to_list()))
    room_no = {c: i for i, c in enumerate(rooms)}
    if repeat_days:
        recorded = sorted(school.pairs["day"].unique().to_list())
        kind = pl.concat(
            [
                _pair_layers(school.pairs.filter(pl.col("day") == day), roster, 1).with_columns(
                    pl.format("{}, day {}", "layer", pl.lit(k + 1)).alias("layer"),
                    pl.lit(k, dtype=pl.Int64).alias("recorded_day"),
                )
                for k, day in enumerate(recorded)
            ]
        )
    else:
        kind = _pair_layers(school.pairs, roster, n_days).with_columns(
            pl.lit(-1, dtype=pl.Int64).alias("recorded_day")
        )
    layers = kind.group_by("layer", maintain_order=True).agg(
        pl.col("i"),
        pl.col("j"),
        (pl.col("minutes").mean() / minutes_per_unit).alias("weight"),
        pl.col("kind").first(),
        pl.col("recorded_day").first(),
    )
    layer_edges: dict[str, Edges] = {
        row["layer"]: (np.array(row["i"], dtype=np.int32), np.array(row["j"], dtype=np.int32))
        for row in layers.iter_rows(named=True)
    }
    weights = {row["layer"]: float(row["weight"]) for row in layers.iter_rows(named=True)}
    kind_of = {row["layer"]: str(row["kind"]) for row in layers.iter_rows(named=True)}
    day_of = {row["layer"]: int(row["recorded_day"]) for row in layers.iter_rows(named=True)}
    agents = new_agents(n)
    teacher = roster["teacher"].to_numpy()
    agents["role"] = np.where(
        teacher, ROLES.index("classroom_teacher"), ROLES.index("student")
    ).astype(np.int8)
    grade_number = roster["grade"].cast(pl.Int64, strict=False).fill_null(12).to_numpy()
    agents["age"] = np.where(teacher, adult_age, 5 + grade_number).astype(np.int16)
    agents["school"] = 0
    agents["classroom"] = (
        roster["own_class"].replace_strict(room_no, default=-1, return_dtype=pl.Int32).to_numpy()
    )
    network = build(n, layer_edges, weights)
    return Population(
        agents=agents,
        network=network,
        person_ids=[str(p) for p in roster["person"]],
        school_ids=[school.name],
        classroom_ids=rooms,
        classroom_grades=tuple(
            pl.Series("class", rooms, dtype=pl.String)
            .to_frame()
            .select(grade_of(pl.col("class")).fill_null(""))
            .to_series()
            .to_list()
        ),
        layer_roles=tuple(kind_of[name] for name in network.layers),
        layer_day=tuple(day_of[name] for name in network.layers) if repeat_days else (),
        recorded_days=n_days if repeat_days else 1,
    )


def _bin_labels() -> list[str]:
    def fmt(x: float) -> str:
        return f"{x:g}"

    labels = []
    for lo, hi in itertools.pairwise(DURATION_BINS):
        labels.append(f"{fmt(lo)}-{fmt(hi)} min" if math.isfinite(hi) else f">={fmt(lo)} min")
    return labels
