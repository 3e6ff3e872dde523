"""Contact layers as CSR adjacency, built from a synthetic district without a loop over people.

Each layer is undirected (both directions stored) and has one per-contact daily transmission
weight. Layers are stacked into one ``Network``: ``indptr[layer]`` indexes ``indices`` for
that layer, so a kernel visits one infectious agent's neighbours layer by layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from schoolmode.sim.state import ROLES, new_agents

LAYERS = ("household", "homeroom", "grade", "school", "staff", "community")
SCHOOL_LAYERS = ("homeroom", "grade", "school", "staff")
"""Layers that exist only while a school (or classroom) meets in person."""


@dataclass(frozen=True)
class NetworkConfig:
    """Contact structure and per-contact daily weights (all assumptions, see docs/simulator.md)."""

    weights: dict[str, float] = field(
        default_factory=lambda: {
            "household": 1.0,
            "homeroom": 0.3,
            "grade": 0.1,
            "school": 0.05,
            "staff": 0.1,
            "community": 0.1,
        }
    )
    grade_contacts: int = 6
    """Random contacts drawn per student among other homerooms of the same school and grade."""
    school_contacts: int = 4
    """Random contacts drawn per student or staff member anywhere in the same school."""
    community_contacts: int = 4
    """Random contacts drawn per agent anywhere in the district."""
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


def csr(n: int, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric CSR of the undirected edges (src, dst): self-loops and duplicates dropped."""
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    keep = src != dst
    a = np.concatenate([src[keep], dst[keep]])
    b = np.concatenate([dst[keep], src[keep]])
    key = np.unique(a * n + b)
    rows, cols = key // n, key % n
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return indptr, cols.astype(np.int32)


def cliques(group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All pairs of agents sharing a group id (``-1``: none)."""
    members = np.flatnonzero(group >= 0)
    order = members[np.argsort(group[members], kind="stable")]
    g = group[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    sizes = np.diff(np.r_[starts, g.size])
    size_of = np.repeat(sizes, sizes)
    start_of = np.repeat(starts, sizes)
    src = np.repeat(order, size_of)
    # for each member, offsets 0..size-1 within its group
    offsets = np.arange(src.size) - np.repeat(np.cumsum(size_of) - size_of, size_of)
    dst = order[np.repeat(start_of, size_of) + offsets]
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


def build(
    n: int, layer_edges: dict[str, tuple[np.ndarray, np.ndarray]], weights: dict[str, float]
) -> Network:
    names = tuple(layer_edges)
    indptr = np.zeros((len(names), n + 1), dtype=np.int64)
    parts = []
    offset = 0
    for i, name in enumerate(names):
        ptr, idx = csr(n, *layer_edges[name])
        indptr[i] = ptr + offset
        offset += idx.size
        parts.append(idx)
    indices = np.concatenate(parts) if parts else np.empty(0, np.int32)
    return Network(
        layers=names,
        weights=np.array([weights[name] for name in names], dtype=np.float64),
        indptr=indptr,
        indices=indices.astype(np.int32),
    )


@dataclass(frozen=True)
class Population:
    agents: np.ndarray
    network: Network
    person_ids: list[str]
    """Standard ``person_id`` of each agent; household adults get ``<household_id>-A<n>``."""
    school_ids: list[str]
    classroom_ids: list[str]


def from_district(
    frames: dict[str, pl.DataFrame], config: NetworkConfig | None = None
) -> Population:
    """Agents (students, staff, household adults) and contact layers of a synthetic district."""
    config = config or NetworkConfig()
    rng = np.random.default_rng(config.seed)
    person = frames["person"].sort("person_id")
    rooms = frames["classroom"].sort("classroom_id")
    school_ids = sorted(set(rooms["school_id"]) | set(frames["staff_assignment"]["school_id"]))
    classroom_ids = rooms["classroom_id"].to_list()
    school_no = {s: i for i, s in enumerate(school_ids)}
    room_no = {c: i for i, c in enumerate(classroom_ids)}
    households = frames["household"].sort("household_id")
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

    is_student = agents["role"] == role_no["student"]
    is_staff = (agents["role"] == role_no["classroom_teacher"]) | (
        agents["role"] == role_no["other_staff"]
    )
    school = agents["school"].astype(np.int64)
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
        "community": random_within(np.zeros(n, np.int64), config.community_contacts, rng),
    }
    network = build(n, layer_edges, config.weights)
    return Population(
        agents=agents,
        network=network,
        person_ids=person["person_id"].to_list() + adult_ids,
        school_ids=school_ids,
        classroom_ids=classroom_ids,
    )
