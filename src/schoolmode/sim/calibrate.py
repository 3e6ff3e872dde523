"""Calibration maths: in-school contact layers from SocioPatterns contacts (read by
``sociopatterns.py``), and beta from R0.

    uv run python -m schoolmode.sim.calibrate             # the table from the shared files
    uv run python -m schoolmode.sim.calibrate FILE ...    # from given files

The method and the resulting numbers are in docs/simulator.md ("Calibration").
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from schoolmode.pathogen import Duration, Pathogen
from schoolmode.policy.errors import SchoolmodeError
from schoolmode.settings import AppSettings
from schoolmode.sim.model import SimConfig, SimResult, run
from schoolmode.sim.network import SCHOOL_LAYERS, Population
from schoolmode.sim.sociopatterns import SchoolContacts, both_directions, read_school, shared_files

STUDENT_CATEGORIES = ("classmate", "same grade", "other grade", "teacher")
TEACHER_CATEGORIES = ("own class", "other class", "teacher")


def _typed(school: SchoolContacts) -> pl.DataFrame:
    """Contacts in both directions with the person's ``role`` and the contact's ``category``."""
    r = school.roster
    both = both_directions(school.pairs)
    people = r.select("person", "class", "grade", "teacher", "own_class")
    others = r.select(
        pl.col("person").alias("other"),
        pl.col("class").alias("o_class"),
        pl.col("grade").alias("o_grade"),
        pl.col("teacher").alias("o_teacher"),
    )
    return (
        both.join(people, on="person")
        .join(others, on="other")
        .with_columns(
            pl.when(pl.col("teacher"))
            .then(
                pl.when(pl.col("o_teacher"))
                .then(pl.lit("teacher"))
                .when(pl.col("o_class") == pl.col("own_class"))
                .then(pl.lit("own class"))
                .otherwise(pl.lit("other class"))
            )
            .otherwise(
                pl.when(pl.col("o_teacher"))
                .then(pl.lit("teacher"))
                .when(pl.col("o_class") == pl.col("class"))
                .then(pl.lit("classmate"))
                .when(pl.col("o_grade") == pl.col("grade"))
                .then(pl.lit("same grade"))
                .otherwise(pl.lit("other grade"))
            )
            .alias("category"),
            pl.when(pl.col("teacher"))
            .then(pl.lit("teacher"))
            .otherwise(pl.lit("student"))
            .alias("role"),
        )
    )


def _possible(r: pl.DataFrame) -> pl.DataFrame:
    """Possible partners of each category, per person, averaged over people with a role."""
    class_size = r.group_by("class").len("class_size")
    grade_size = r.filter(~pl.col("teacher")).group_by("grade").len("grade_size")
    n_students = int((~r["teacher"]).sum())
    n_teachers = int(r["teacher"].sum())
    sized = (
        r.join(class_size, on="class", how="left")
        .join(grade_size, on="grade", how="left")
        .join(
            class_size.rename({"class": "own_class", "class_size": "own_size"}),
            on="own_class",
            how="left",
        )
        .with_columns(pl.col("grade_size", "own_size").fill_null(0))
    )
    possible = pl.concat(
        [
            sized.filter(~pl.col("teacher")).select(
                pl.lit("student").alias("role"),
                pl.lit(list(STUDENT_CATEGORIES)).alias("category"),
                pl.concat_list(
                    pl.col("class_size") - 1,
                    pl.col("grade_size") - pl.col("class_size"),
                    n_students - pl.col("grade_size"),
                    pl.lit(n_teachers),
                ).alias("possible"),
            ),
            sized.filter(pl.col("teacher")).select(
                pl.lit("teacher").alias("role"),
                pl.lit(list(TEACHER_CATEGORIES)).alias("category"),
                pl.concat_list(
                    pl.col("own_size"),
                    n_students - pl.col("own_size"),
                    pl.lit(n_teachers - 1),
                ).alias("possible"),
            ),
        ]
    )
    return (
        possible.explode("category", "possible")
        .group_by("role", "category")
        .agg(pl.col("possible").cast(pl.Float64).mean())
    )


def summarise(school: SchoolContacts) -> pl.DataFrame:
    """Per role and category of contact: distinct contacts, minutes and minutes per contact
    per person and day (over person-days with any contact), and minutes per possible partner
    (for a layer that connects every possible partner, e.g. a homeroom clique)."""
    typed = _typed(school)
    person_days = typed.group_by("role").agg(
        pl.struct("day", "person").n_unique().alias("person_days")
    )
    possible = _possible(school.roster)
    return (
        typed.group_by("role", "category")
        .agg(
            pl.len().alias("contacts"),
            (pl.col("seconds").sum() / 60).alias("minutes"),
        )
        .join(person_days, on="role")
        .join(possible, on=["role", "category"], how="right")
        .with_columns(pl.col("contacts", "minutes").fill_null(0))
        .join(person_days, on="role", how="left", suffix="_all")
        .select(
            pl.lit(school.name).alias("school"),
            "role",
            "category",
            pl.col("person_days_all").alias("person_days"),
            (pl.col("contacts") / pl.col("person_days_all")).alias("contacts_per_day"),
            (pl.col("minutes") / pl.col("person_days_all")).alias("minutes_per_day"),
            (pl.col("minutes") / pl.col("contacts")).alias("minutes_per_contact"),
            pl.col("possible").alias("possible_partners"),
            (pl.col("minutes") / pl.col("person_days_all") / pl.col("possible")).alias(
                "minutes_per_possible_partner"
            ),
        )
        .sort(
            "role",
            pl.col("category").replace_strict(
                {c: i for i, c in enumerate(STUDENT_CATEGORIES + TEACHER_CATEGORIES)},
                return_dtype=pl.Int64,
            ),
        )
    )


HOMEROOM_WEIGHT = 0.3
"""Anchor: daily weight of one homeroom (classmate) pair relative to a household pair (1.0).
An assumption (the contact data has no households); the other in-school layers are scaled
from it by measured contact time."""


@dataclass(frozen=True)
class LayerCalibration:
    weights: dict[str, float]
    grade_contacts: int
    school_contacts: int
    minutes_per_unit: float
    """Daily minutes of face-to-face contact that a weight of 1.0 stands for."""


def layer_calibration(
    summary: pl.DataFrame, homeroom_weight: float = HOMEROOM_WEIGHT
) -> LayerCalibration:
    """In-school layer weights and random-contact counts from one school's ``summarise``.

    The homeroom layer is a clique, so its per-pair exposure is classmates' minutes per
    possible classmate; it is anchored at ``homeroom_weight``, which fixes the minutes a
    weight of 1 stands for. The grade and school layers are random contacts: each agent
    draws k partners, so the mean degree is about 2k; k is half the observed distinct
    contacts per day and the weight is the observed minutes per contact. The staff layer is
    a clique of a school's staff: teachers' minutes with other teachers per possible one
    (left out when the file has no teachers, as the high-school files).
    """

    def value(role: str, category: str, column: str) -> float:
        row = summary.filter((pl.col("role") == role) & (pl.col("category") == category))
        if row.height != 1 or row[column][0] is None:
            raise ValueError(f"no {role} / {category} contacts to calibrate from")
        return float(row[column][0])

    unit = value("student", "classmate", "minutes_per_possible_partner") / homeroom_weight
    weights = {
        "homeroom": homeroom_weight,
        "grade": value("student", "same grade", "minutes_per_contact") / unit,
        "school": value("student", "other grade", "minutes_per_contact") / unit,
    }
    teachers = summary.filter((pl.col("role") == "teacher") & (pl.col("category") == "teacher"))
    if teachers.height:  # only the primary school has teachers
        weights["staff"] = value("teacher", "teacher", "minutes_per_possible_partner") / unit
    return LayerCalibration(
        weights={k: round(v, 3) for k, v in weights.items()},
        grade_contacts=round(value("student", "same grade", "contacts_per_day") / 2),
        school_contacts=round(value("student", "other grade", "contacts_per_day") / 2),
        minutes_per_unit=unit,
    )


def generation_interval(pathogen: Pathogen) -> np.ndarray:
    """Intrinsic generation interval pmf (days from the infector's infection to the
    infectee's) of the simulator's daily loop: a case infected on day 0 transmits on days
    ``L .. L + D - 1`` (latent ``L``, infectious days ``D``) with constant hazard, times its
    infectiousness (1 symptomatic, times the relative infectiousness presymptomatic before
    the onset day; reduced asymptomatic), averaged over symptomatic and asymptomatic courses
    with the symptomatic share of the open-ended (adult) age band (a band's infectiousness
    scales all of its days alike, so it does not change the interval).
    Intrinsic: depletion of an infector's contacts, which shortens realised intervals on a
    network, is left out, as in the estimates a published R0 comes from."""
    latent = pathogen.latent.pmf().copy()
    latent[1] += latent[0]  # the model's latent period is at least one day
    latent[0] = 0.0
    pmf_sym = np.convolve(pathogen.presymptomatic.pmf(), pathogen.symptomatic_infectious.pmf())
    pmf_asym = pathogen.asymptomatic_infectious.pmf().copy()
    pmf_asym[1] += pmf_asym[0]
    pmf_asym[0] = 0.0
    share = pathogen.age_bands[-1].symptomatic_share.value
    rel = pathogen.relative_infectiousness_asymptomatic.value

    def survival(pmf: np.ndarray) -> np.ndarray:  # P(D > d) for d = 0, 1, ...
        return np.clip(1.0 - np.cumsum(pmf), 0.0, 1.0)

    # symptomatic: infectious on day d when the course is longer than d, before the onset
    # day when the presymptomatic period is (at the presymptomatic factor)
    pre_factor = pathogen.presymptomatic_factor
    presym_on = survival(pathogen.presymptomatic.pmf())
    infectious_on = share * survival(pmf_sym)
    infectious_on[: presym_on.size] -= share * (1.0 - pre_factor) * presym_on[: infectious_on.size]
    asym = rel * (1 - share) * survival(pmf_asym)
    size = max(infectious_on.size, asym.size)
    profile = np.zeros(size)
    profile[: infectious_on.size] += infectious_on
    profile[: asym.size] += asym
    g = np.convolve(latent, profile)
    return np.asarray(g / g.sum())


def growth_rate_for_r0(pathogen: Pathogen, r0: float) -> float:
    """Daily exponential growth rate ``r`` implied by ``r0`` and the generation interval
    (Euler-Lotka: ``sum_t g(t) exp(-r t) = 1 / r0``)."""
    g = generation_interval(pathogen)
    t = np.arange(g.size, dtype=np.float64)
    lo, hi = -2.0, 3.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if r0 * float((g * np.exp(-mid * t)).sum()) > 1:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def early_growth_rate(result: SimResult, n: int, low: float = 0.001, high: float = 0.03) -> float:
    """Least-squares slope of log daily new infections over the days on which the share of
    agents ever infected is between ``low`` and ``high`` (nan if fewer than 4 such days)."""
    share = result.infected / n
    days = np.flatnonzero((share >= low) & (share <= high))
    days = days[result.total_by_day[days] > 0]
    if days.size < 4:
        return math.nan
    return float(np.polyfit(days, np.log(result.total_by_day[days]), 1)[0])


def simulated_growth_rate(
    population: Population,
    pathogen: Pathogen,
    beta: float,
    seeds: Sequence[int],
    days: int = 150,
) -> float:
    """Mean early growth rate over simulations of ``days`` with ``seeds`` (all layers open;
    ``-inf`` unless most simulations grow through the fitting window in time)."""
    n = population.network.n
    initial = max(10, n // 10_000)
    rates = []
    for seed in seeds:
        config = SimConfig(beta=beta, days=days, seed=seed, initial_infections=initial)
        rates.append(early_growth_rate(run(population, pathogen, config), n))
    finite = [r for r in rates if math.isfinite(r)]
    return float(np.mean(finite)) if len(finite) * 2 > len(rates) else -math.inf


def mass_action_beta(population: Population, pathogen: Pathogen, r0: float | None = None) -> float:
    """``r0 / (sum over layers of weight x mean degree) / mean generation interval``: the beta
    of a well-mixed population with the network's mean daily contact weight (the first guess
    of ``beta_for_r0``; it ignores clustering, so on district networks it is a rough value)."""
    target_r0 = pathogen.r0.value if r0 is None else r0
    net = population.network
    g = generation_interval(pathogen)
    contact_days = sum(
        float(w) * net.indices[net.indptr[i, 0] : net.indptr[i, -1]].size / net.n
        for i, w in enumerate(net.weights)
    ) * max(float((g * np.arange(g.size)).sum()), 1.0)
    return float(target_r0 / max(contact_days, 1e-12))


def _course_pmf(duration: Duration, minimum: int = 0) -> np.ndarray:
    """pmf of ``model.sample_days`` (the tail beyond the last day on the last day), with the
    mass below ``minimum`` moved to ``minimum``, trailing zeros trimmed."""
    pmf = duration.pmf().copy()
    pmf[-1] += max(0.0, 1.0 - float(pmf.sum()))
    if minimum:
        pmf[minimum] += pmf[:minimum].sum()
        pmf[:minimum] = 0.0
    last = int(np.flatnonzero(pmf > 0)[-1]) if (pmf > 0).any() else 0
    return pmf[: last + 1]


@dataclass(frozen=True)
class FirstGeneration:
    """What ``first_generation_r0`` needs from a population and pathogen, beta aside, per
    (index at school or not, contact at school or not): the index -> contact pairs grouped by
    what their transmission depends on, and each course's exposure over the layer classes
    (``_layer_classes``) with its probability."""

    groups: tuple[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], ...]
    """(weights of the layer classes joining the pair (pairs, classes), the contact's
    susceptibility times the index's age band's infectiousness, the index's symptomatic
    share, how many such pairs)."""
    exposures: tuple[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], ...]
    """(symptomatic exposures (rows, classes): the open share of each class summed over the
    infectious days, their probabilities, the same for asymptomatic courses), over courses,
    the weekday infectiousness starts, the recorded day in turn and staying home ill."""
    relative_asym: float
    agents: int


def _layer_classes(population: Population) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(layer -> class index), and per class its kind (0 school, 1 off-school, 2 other) and
    recorded day (-1: every day)."""
    net = population.network
    roles = population.roles()
    off = set(population.off_school_layers)
    day = population.layer_day or tuple([-1] * len(net.layers))
    kinds = [
        1 if lay in off else 0 if roles[lay] in SCHOOL_LAYERS else 2
        for lay in range(len(net.layers))
    ]
    pairs = sorted(set(zip(kinds, day, strict=True)))
    of_layer = np.array([pairs.index((k, d)) for k, d in zip(kinds, day, strict=True)])
    return (
        of_layer,
        np.array([k for k, _ in pairs], dtype=np.int64),
        np.array([d for _, d in pairs], dtype=np.int64),
    )


def _daily_open(
    kinds: np.ndarray,
    days: np.ndarray,
    school_weekdays: tuple[int, ...],
    recorded: int,
    start_weekday: int,
    phase: int,
    length: int,
    index_school: bool,
    contact_school: bool,
    onset_fraction: float,
) -> np.ndarray:
    """(3 index states: well, onset day of one who stays home ill, ill at home; length days
    from the start of infectiousness; classes): the open share of each layer class between
    the index and a susceptible contact (``gates.open_gates``: school layers on school days
    for those present, off-school layers for both away, a recorded day's layers on its school
    days in turn; an ill case who goes home during its onset day is there for
    ``onset_fraction`` of it, and absent that day if 0)."""
    out = np.zeros((3, length, kinds.size))
    count = phase
    for t in range(length):
        school_day = (start_weekday + t) % 7 in school_weekdays
        today = count % recorded if school_day else -1
        count += int(school_day)
        day_open = (days < 0) | (days == today)
        there_j = contact_school and school_day
        for state, (absent, share) in enumerate(
            ((False, 1.0), (onset_fraction <= 0, onset_fraction), (True, 1.0))
        ):
            there_i = index_school and school_day and not absent
            school = float(there_i and there_j) * share
            off = float(not there_i and not there_j)
            out[state, t] = np.where(kinds == 0, school, np.where(kinds == 1, off, 1.0)) * day_open
    return out


def first_generation(
    population: Population,
    pathogen: Pathogen,
    stay_home_share: float = 0.5,
    onset_day_fraction: float = 0.5,
) -> FirstGeneration:
    """The beta-free part of ``first_generation_r0`` (its docstring)."""
    net = population.network
    n = net.n
    of_layer, kinds, days = _layer_classes(population)
    n_classes = kinds.size
    recorded = max(population.recorded_days, 1) if population.layer_day else 1
    ages = population.agents["age"].astype(np.int64)
    sus, sym = pathogen.by_age(ages)
    band = pathogen.infectiousness_by_age(ages)
    pre_factor = pathogen.presymptomatic_factor
    at_school = population.agents["school"].astype(np.int64) >= 0
    # directed index -> contact pairs, the weight of each layer class joining them
    keys, classes, weights = [], [], []
    for lay in range(len(net.layers)):
        counts = np.diff(net.indptr[lay])
        src = np.repeat(np.arange(n, dtype=np.int64), counts)
        dst = net.indices[net.indptr[lay, 0] : net.indptr[lay, -1]].astype(np.int64)
        keep = src != dst
        keys.append(src[keep] * n + dst[keep])
        classes.append(np.full(int(keep.sum()), of_layer[lay], dtype=np.int64))
        weights.append(np.full(int(keep.sum()), float(net.weights[lay])))
    key_all = np.concatenate(keys) if keys else np.empty(0, dtype=np.int64)
    pair_key, inverse = np.unique(key_all, return_inverse=True)
    w = np.bincount(
        inverse * n_classes + np.concatenate(classes) if keys else inverse,
        weights=np.concatenate(weights) if keys else None,
        minlength=pair_key.size * n_classes,
    ).reshape(pair_key.size, n_classes)
    src, dst = pair_key // n, pair_key % n
    # courses from the start of infectiousness: symptomatic (presymptomatic p, then s days
    # with symptoms) or asymptomatic (d >= 1 days); the latent period only shifts the start,
    # whose weekday is uniform when the infection's is
    p_pre = _course_pmf(pathogen.presymptomatic)
    p_sym = _course_pmf(pathogen.symptomatic_infectious)
    p_asym = _course_pmf(pathogen.asymptomatic_infectious, minimum=1)
    pre, sdays = np.meshgrid(np.arange(p_pre.size), np.arange(p_sym.size), indexing="ij")
    p_course = np.outer(p_pre, p_sym)
    live = p_course > 0
    pre, sdays, p_course = pre[live], sdays[live], p_course[live]
    length = max(int((pre + sdays).max()), p_asym.size) + 1
    d_asym = np.flatnonzero(p_asym > 0)
    groups, exposures = [], []
    for index_school in (False, True):
        for contact_school in (False, True):
            sel = (at_school[src] == index_school) & (at_school[dst] == contact_school)
            if not sel.any():
                continue
            # the contact's susceptibility times the index's band infectiousness
            feats = np.column_stack([w[sel], sus[dst[sel]] * band[src[sel]], sym[src[sel]]])
            unique, count = np.unique(feats, axis=0, return_counts=True)
            sym_rows, sym_p, asym_rows, asym_p = [], [], [], []
            for start in range(7):
                for phase in range(recorded):
                    daily = _daily_open(
                        kinds, days, population.school_weekdays, recorded, start, phase,
                        length, index_school, contact_school, onset_day_fraction,
                    )  # fmt: skip
                    cum = np.zeros((3, length + 1, n_classes))
                    cum[:, 1:] = np.cumsum(daily, axis=1)
                    # presymptomatic days (before the onset day) at the pathogen's factor
                    before = pre_factor * cum[0, pre]
                    well = before + cum[0, pre + sdays] - cum[0, pre]
                    ill = before + np.where(
                        (sdays >= 1)[:, None],
                        daily[1, np.minimum(pre, length - 1)] + cum[2, pre + sdays]
                        - cum[2, np.minimum(pre + 1, pre + sdays)],
                        0.0,
                    )  # fmt: skip
                    share = 1.0 / (7 * recorded)
                    sym_rows += [well, ill]
                    sym_p += [p_course * (1 - stay_home_share) * share]
                    sym_p += [p_course * stay_home_share * share]
                    asym_rows.append(cum[0, d_asym])
                    asym_p.append(p_asym[d_asym] * share)
            groups.append(
                (unique[:, :n_classes], unique[:, n_classes], unique[:, n_classes + 1], count)
            )
            exposures.append(
                _merge(np.concatenate(sym_rows), np.concatenate(sym_p))
                + _merge(np.concatenate(asym_rows), np.concatenate(asym_p))
            )
    return FirstGeneration(
        groups=tuple(groups),
        exposures=tuple(exposures),
        relative_asym=pathogen.relative_infectiousness_asymptomatic.value,
        agents=n,
    )


def _merge(rows: np.ndarray, prob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Equal exposure rows merged, their probabilities summed; rows of no mass dropped."""
    keep = prob > 0
    unique, inverse = np.unique(rows[keep], axis=0, return_inverse=True)
    return unique, np.bincount(inverse.ravel(), weights=prob[keep], minlength=unique.shape[0])


def first_generation_r0(generation: FirstGeneration, beta: float) -> float:
    """Mean number of agents a single index case infects directly in a fully susceptible
    population at ``beta`` (see ``first_generation_beta``)."""
    total = 0.0
    for (w, sus, sym, count), (e_sym, p_sym, e_asym, p_asym) in zip(
        generation.groups, generation.exposures, strict=True
    ):
        step = max(1, 4_000_000 // max(e_sym.shape[0] + e_asym.shape[0], 1))
        for a in range(0, w.shape[0], step):
            b = slice(a, a + step)
            scale = beta * sus[b][:, None]
            on_sym = -np.expm1(-scale * (w[b] @ e_sym.T)) @ p_sym
            on_asym = -np.expm1(-scale * generation.relative_asym * (w[b] @ e_asym.T)) @ p_asym
            total += float((count[b] * (sym[b] * on_sym + (1 - sym[b]) * on_asym)).sum())
    return total / generation.agents


def first_generation_beta(
    population: Population,
    pathogen: Pathogen,
    r0: float | None = None,
    stay_home_share: float = 0.5,
    onset_day_fraction: float = 0.5,
    rtol: float = 1e-4,
) -> float:
    """``beta`` at which a single index case, in a fully susceptible ``population``, infects
    ``r0`` others directly on average (default: the pathogen's R0): R0 as the mean number of
    secondary infections on the empirical contact network, over index agents and the weekday
    of infection, with the days of the week as the simulator runs them and no policy.

    An index case ``i`` infects a contact ``j`` with probability ``1 - exp(-beta s_j c_i
    sum_t sum_l w_l open_l(t))`` over its infectious days ``t`` and the layers ``l`` joining
    them, as the daily loop composes its per-contact daily draws (``kernel.transmit``):
    school layers on the population's school weekdays when both are there (a time-resolved
    network's recorded days in turn, at every phase), off-school layers when both are away,
    the other layers every day; a symptomatic case who stays home (``stay_home_share``, the
    scenario's) leaves school from its onset, there for ``onset_day_fraction`` of that day;
    ``c_i``: the index's age band's infectiousness times 1 symptomatic (times the pathogen's
    relative infectiousness presymptomatic on the days before the onset day) or the relative
    infectiousness asymptomatic, with the index's age's symptomatic share; ``s_j``: the
    contact's susceptibility. Exact expectation
    over the discretised courses (no sampling); the index's contacts are all susceptible
    throughout (nobody else infects them first). Solved by bisection on beta (the mean
    increases with beta) to relative ``rtol``.
    """
    target = pathogen.r0.value if r0 is None else r0
    if target <= 0:
        raise ValueError(f"r0 must be positive, got {target}")
    generation = first_generation(population, pathogen, stay_home_share, onset_day_fraction)
    ceiling = first_generation_r0(generation, 1e6)
    if ceiling <= target:
        raise SchoolmodeError(
            f"pathogen {pathogen.name}: R0 {target} is not reachable on this population "
            f"(an index case reaches {ceiling:.2f} contacts at most at any beta)"
        )
    lo, hi = 0.0, 0.1
    while first_generation_r0(generation, hi) < target:
        lo, hi = hi, hi * 2
    while hi - lo > rtol * hi:
        mid = (lo + hi) / 2
        if first_generation_r0(generation, mid) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def beta_for_r0(
    population: Population,
    pathogen: Pathogen,
    r0: float | None = None,
    seeds: Sequence[int] = (101, 102, 103, 104),
    rtol: float = 0.02,
) -> float:
    """``beta`` at which ``pathogen`` grows on ``population`` (all layers open) at the
    early exponential rate implied by ``r0`` (default: the pathogen's) and its generation
    interval (``growth_rate_for_r0``): the way R0 is estimated from epidemic curves, so a
    pathogen's published R0 gives the epidemic growth it was estimated from, whatever the
    network's clustering. The mean simulated early growth rate over ``seeds`` (common random
    numbers make it nearly monotone in beta) is bracketed from a mass-action first guess
    and solved by bisection on log beta to a bracket of relative width ``rtol``.

    Valid for r0 > 1 (a growth rate is fitted). ``next_generation_beta`` is the analytic
    alternative for networks without short loops.
    """
    target_r0 = pathogen.r0.value if r0 is None else r0
    if target_r0 <= 1:
        raise ValueError(f"r0 must be above 1 to fit a growth rate, got {target_r0}")
    target = growth_rate_for_r0(pathogen, target_r0)
    guess = mass_action_beta(population, pathogen, target_r0)

    def too_slow(beta: float) -> bool:
        return simulated_growth_rate(population, pathogen, beta, seeds) < target

    lo = hi = guess
    if too_slow(guess):
        while too_slow(hi):
            lo, hi = hi, hi * 2
            if hi > guess * 1e4:
                raise ValueError(f"R0 {target_r0} is not reachable on this network")
    else:
        while not too_slow(lo):
            lo, hi = lo / 2, lo
            if lo < guess * 1e-4:
                raise ValueError(f"R0 {target_r0} is reached at any beta on this network")
    while hi - lo > rtol * hi:
        mid = math.sqrt(lo * hi)
        if too_slow(mid):
            lo = mid
        else:
            hi = mid
    return math.sqrt(lo * hi)


def next_generation_beta(
    population: Population, pathogen: Pathogen, r0: float | None = None, tol: float = 1e-3
) -> float:
    """``beta`` giving ``pathogen`` the basic reproduction number ``r0`` (default: the
    pathogen's own ``r0``) on ``population``'s network, all layers open.

    R0 is the dominant eigenvalue of the next-generation operator of the network, on
    directed contacts and non-backtracking (an agent cannot infect the one who infected it,
    which on a network is what makes R0 the mean number infected by an early case, not the
    mean number of contacts times the transmissibility). A pair ``j -> i`` (all layers
    joining them together, weight ``W``) transmits over ``j``'s infectious period with
    probability ``T = 1 - E[exp(-beta W c_j s_i D_j)]`` (``D_j``: infectious days, the
    presymptomatic ones times the pathogen's factor; ``c_j``: infectiousness, its age band's
    times its course's, over ``j``'s chance of a symptomatic or asymptomatic course; ``s_i``:
    susceptibility), and an infection ``j -> i`` leads to ``T[i -> m]`` infections for every
    contact ``m != j`` of ``i``. The eigenvalue is found by power iteration and ``beta`` by
    bisection on it (R0 increases with beta). Exact on locally tree-like networks (checked
    against the analytic value on a random graph); short loops are counted as if they were
    tree-like, so on networks of cliques (homerooms, staff rooms) it overstates R0 badly
    (on the test district, beta for R0 5.1 gives early cases about 2 infections each):
    use ``beta_for_r0`` there.
    """
    target = pathogen.r0.value if r0 is None else r0
    if target <= 0:
        raise ValueError(f"r0 must be positive, got {target}")
    net = population.network
    n = net.n
    ages = population.agents["age"].astype(np.int64)
    sus, sym = pathogen.by_age(ages)
    band = pathogen.infectiousness_by_age(ages)
    # infectious days: symptomatic course (presymptomatic + symptomatic periods, relative
    # infectiousness 1, the presymptomatic days times the pathogen's factor) or asymptomatic
    # course (at least one day, reduced infectiousness)
    pre_factor = pathogen.presymptomatic_factor
    if pre_factor == 1.0:
        pmf_sym = np.convolve(pathogen.presymptomatic.pmf(), pathogen.symptomatic_infectious.pmf())
        days_sym = np.arange(pmf_sym.size, dtype=np.float64)
    else:  # the exposure days of each (presymptomatic, symptomatic) course, merged
        p_pre, p_post = pathogen.presymptomatic.pmf(), pathogen.symptomatic_infectious.pmf()
        joint = np.outer(p_pre, p_post).ravel()
        length = (
            pre_factor * np.arange(p_pre.size)[:, None] + np.arange(p_post.size)[None, :]
        ).ravel()
        keep = joint > 0
        days_sym, where = np.unique(length[keep], return_inverse=True)
        pmf_sym = np.bincount(where.ravel(), weights=joint[keep], minlength=days_sym.size)
    pmf_asym = pathogen.asymptomatic_infectious.pmf().copy()
    pmf_asym[1] += pmf_asym[0]
    pmf_asym[0] = 0.0
    days_asym = np.arange(pmf_asym.size, dtype=np.float64)
    rel = pathogen.relative_infectiousness_asymptomatic.value
    # directed pairs with their total weight over layers, and each pair's reverse
    keys, weights = [], []
    for lay in range(len(net.layers)):
        counts = np.diff(net.indptr[lay])
        src = np.repeat(np.arange(n, dtype=np.int64), counts)
        dst = net.indices[net.indptr[lay, 0] : net.indptr[lay, -1]].astype(np.int64)
        keys.append(src * n + dst)
        weights.append(np.full(src.size, net.weights[lay]))
    key_all = np.concatenate(keys)
    pair_key, inverse = np.unique(key_all, return_inverse=True)
    pair_w = np.bincount(inverse, weights=np.concatenate(weights))
    del keys, weights, key_all, inverse
    src, dst = pair_key // n, pair_key % n
    rev = np.searchsorted(pair_key, dst * n + src)
    unique_x, which = np.unique(pair_w * sus[dst] * band[src], return_inverse=True)
    sym_src = sym[src]
    state = {"x": np.ones(src.size)}

    def r0_of(beta: float) -> float:
        x = beta * unique_x
        p_sym = 1 - (pmf_sym[None, :] * np.exp(-np.outer(x, days_sym))).sum(axis=1)
        p_asym = 1 - (pmf_asym[None, :] * np.exp(-np.outer(x * rel, days_asym))).sum(axis=1)
        t = sym_src * p_sym[which] + (1 - sym_src) * p_asym[which]
        value, state["x"] = _non_backtracking_radius(n, src, dst, rev, t, state["x"])
        return value

    lo, hi = 0.0, 1.0
    while r0_of(hi) < target:
        lo, hi = hi, hi * 2
        if hi > 1e6:
            raise ValueError(f"R0 {target} is not reachable on this network")
    while hi - lo > tol * hi:
        mid = (lo + hi) / 2
        if r0_of(mid) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _non_backtracking_radius(
    n: int,
    src: np.ndarray,
    dst: np.ndarray,
    rev: np.ndarray,
    t: np.ndarray,
    start: np.ndarray,
    iterations: int = 3_000,
    rtol: float = 1e-7,
) -> tuple[float, np.ndarray]:
    """Spectral radius of ``x'[j -> m] = t[j -> m] * (sum_i x[i -> j] - x[m -> j])`` by
    power iteration (shifted by the identity, so that a periodic network converges) from
    ``start``; returns it and the normalised dominant vector."""
    x = start / np.linalg.norm(start)
    value = 0.0
    for _ in range(iterations):
        into = np.bincount(dst, weights=x, minlength=n)
        raw = t * (into[src] - x[rev]) + x
        norm = float(np.linalg.norm(raw))
        x = raw / norm
        new = norm - 1.0
        if abs(new - value) <= rtol * max(abs(new), 1e-12):
            return max(new, 0.0), x
        value = new
    return max(value, 0.0), x


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Contact table and in-school layer weights")
    parser.add_argument("files", nargs="*", type=Path)
    args = parser.parse_args(argv)
    files = args.files or shared_files(AppSettings.load().data_dir)
    missing = [path for path in files if not path.is_file()]
    if missing:
        print(
            f"no such file: {', '.join(map(str, missing))}. The SocioPatterns contact files "
            "(CC BY-NC-SA 3.0) are not shipped with schoolmode: download them from "
            "http://www.sociopatterns.org/datasets/ and name them here, or set SCHOOLMODE_DATA "
            "to a folder holding sociopatterns-school-contacts/.",
            file=sys.stderr,
        )
        return 2
    pl.Config.set_tbl_rows(100)
    pl.Config.set_tbl_cols(-1)
    pl.Config.set_tbl_width_chars(400)
    pl.Config.set_fmt_str_lengths(60)
    pl.Config.set_tbl_formatting("MARKDOWN")
    pl.Config.set_tbl_hide_dataframe_shape(True)
    pl.Config.set_tbl_hide_column_data_types(True)
    pl.Config.set_float_precision(2)
    summaries = [summarise(read_school(path)) for path in files]
    print(pl.concat(summaries))
    for path, summary in zip(files, summaries, strict=True):
        cal = layer_calibration(summary)
        print(
            f"{path.name}: weights {cal.weights}, grade_contacts {cal.grade_contacts}, "
            f"school_contacts {cal.school_contacts}, 1.0 = {cal.minutes_per_unit:.1f} min/day"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
