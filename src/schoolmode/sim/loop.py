"""The simulator with the policy engine and the operations in its daily loop.

One day ``d``:

1. **Gates** from the modes of day ``d`` (decided by the engine after day ``d - 1``), the
   school calendar and each agent's state: a remote district, school or classroom closes the
   school layers of its agents; so do weekends and holidays, isolation, quarantine and staying
   home ill. Isolated agents also lose their community contacts.
2. **Transmission** (numba kernel, layer weights times masking multipliers) and importation.
3. **Observation**: symptomatic tests, weekly screening (staff share, random share of
   consented students, pooled by ``pool_size``), test-to-stay tests; each with its test type's
   sensitivity, specificity, invalid rate (retested the next day) and turnaround.
4. **Operations** on the results reported today: isolation of cases, contact tracing
   (homeroom and household, with delay and daily capacity) into quarantine or test-to-stay;
   weekly vaccination (second doses first, then by priority).
5. **Metrics** of day ``d`` per district, school and classroom (the engine's metric names,
   defined as in ``metrics/school.py``) into the engine; the engine decides day ``d + 1``.

Every random decision is a counter-based uniform of its own stream (``rng.py``), keyed by the
agent and day it decides, so two policies on one seed differ only where their rules differ.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np
import polars as pl

from schoolmode.engine.grid import Calendar
from schoolmode.engine.settings import Settings
from schoolmode.operations.screening import share_of
from schoolmode.operations.tracing import TEST_TO_STAY, rules_in_force
from schoolmode.pathogen import Pathogen
from schoolmode.policy import model as m
from schoolmode.policy.errors import SchoolmodeError
from schoolmode.policy.loader import Registry
from schoolmode.policy.values import interpretation, parameter
from schoolmode.sim import rng
from schoolmode.sim.beta import auto_beta
from schoolmode.sim.community import importation_rates, load_zip_cases
from schoolmode.sim.decide import DISTRICT_UNIT, LoopEngine, closed_mode_mask
from schoolmode.sim.kernel import transmit
from schoolmode.sim.model import apply_pathogen, schedule, seed_agents
from schoolmode.sim.network import SCHOOL_LAYERS, Population
from schoolmode.sim.scenario import Scenario, TestType
from schoolmode.sim.state import NEVER, ROLES, ActiveSet
from schoolmode.synth.district import calendar as synth_calendar

STUDENT, TEACHER, OTHER_STAFF, ADULT = (ROLES.index(r) for r in ROLES)
OUTBREAK_WINDOW = 14
HOUSEHOLD_LINK_DAYS = 14

OUTCOMES = (
    "infections",
    "infections_students",
    "infections_staff",
    "infections_household",
    "infections_in_school",
    "in_person_student_days",
    "in_person_staff_days",
    "school_days_remote",
    "classroom_days_remote",
    "student_absence_days",
    "staff_absence_days",
    "quarantine_days",
    "isolation_days",
    "tests",
    "pools",
    "cases_reported",
    "peak_infectious",
    "peak_day",
    "doses",
)
"""Scalar outcomes of one run (per policy and seed)."""
PHASES = ("gates", "transmission", "observation", "operations", "metrics", "engine")


@dataclass
class LoopResult:
    policy_id: str
    seed: int
    outcomes: dict[str, float]
    daily: dict[str, np.ndarray]
    """Series by day: ``new_infections``, ``infectious``, ``schools_remote``,
    ``classrooms_remote``, ``in_person_students``, ``cases_reported``, ``tests``."""
    engine: LoopEngine | None = None
    agents: np.ndarray | None = None
    school_layer_infections: np.ndarray | None = None
    """(days, schools): infections in a school layer by the infected agent's school."""
    gates: list[np.ndarray] = field(default_factory=list)
    """Gate arrays per day, kept only when ``keep_gates`` (tests)."""
    timings: dict[str, float] = field(default_factory=dict)
    """Wall seconds per phase of the day (``PHASES``), summed over days."""
    missing_metrics: list[str] = field(default_factory=list)
    """``scope.metric`` the policy reads that the simulator does not produce."""
    records: dict[str, pl.DataFrame] | None = None
    """Observations as standard records (``case``, ``quarantine_order``, ``absence``,
    ``substitute_coverage``), only when ``keep_records``: the metrics of ``metrics/school.py``
    computed from them equal the loop's (tested)."""
    orders: list[np.ndarray] = field(default_factory=list)
    """Per day, agents under an isolation or quarantine order (only when ``keep_gates``)."""
    beta: float = 0.0
    """The transmission hazard used (the scenario's, or calibrated when ``beta: auto``)."""
    beta_cached: bool = False
    """Whether an ``auto`` beta came from a cache."""


def school_calendar(start: dt.date, days: int, holidays: bool) -> np.ndarray:
    """(days,) bool: instructional days of the synthetic CPS calendar; outside its range,
    weekdays (without ``holidays``: every weekday)."""
    dates = [start + dt.timedelta(days=i) for i in range(days)]
    weekday = np.array([d.weekday() < 5 for d in dates], dtype=bool)
    if not holidays:
        return weekday
    cal = synth_calendar()
    first, last = cal["date"].min(), cal["date"].max()
    instructional = set(cal.filter(pl.col("instructional"))["date"].to_list())
    return np.array(
        [
            (d in instructional) if first <= d <= last else w  # type: ignore[operator]
            for d, w in zip(dates, weekday, strict=True)
        ],
        dtype=bool,
    )


def _groups(key: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Members of each group as CSR (indptr, agent ids), for ``key >= 0``."""
    who = np.flatnonzero(key >= 0)
    order = who[np.argsort(key[who], kind="stable")]
    indptr = np.zeros(n_groups + 1, dtype=np.int64)
    np.cumsum(np.bincount(key[who], minlength=n_groups), out=indptr[1:])
    return indptr, order


def _members(
    indptr: np.ndarray, members: np.ndarray, groups: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(group position, member) pairs of the given groups: returns (which, member)."""
    starts, stops = indptr[groups], indptr[groups + 1]
    counts = stops - starts
    which = np.repeat(np.arange(groups.size), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return which, members[np.repeat(starts, counts) + offsets]


def _param_number(
    policy: m.Policy | None, name: str, on: dt.date, settings: Settings | None = None
) -> Decimal | None:
    if policy is None or name not in policy.parameters:
        return None
    value = parameter(policy, name, on, settings.parameters if settings else None)
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        return None
    return Decimal(value)


@dataclass(frozen=True)
class Operations:
    """Operational numbers in force for a run: from the policy where it states them, else the
    rules in force (``operations.tracing.rules_in_force``), else the scenario."""

    quarantine_days: int
    isolation_days: int
    test_to_stay: bool
    test_days: tuple[int, ...]
    staff_share_pct: float
    student_share_pct: float
    top_zip_count: int
    top_zip_student_share_pct: float
    top_zip_staff_share_pct: float
    rounding: str
    weekly_doses: int

    @classmethod
    def resolve(
        cls,
        scenario: Scenario,
        policy: m.Policy | None,
        registry: Registry,
        settings: Settings | None = None,
    ) -> Operations:
        # the values in force on the first simulated day of the policy's term
        on = max(scenario.start, policy.term.from_) if policy is not None else scenario.start
        rules = rules_in_force(registry).filter(pl.col("from") <= on).tail(1).row(0, named=True)
        tts_policy = registry.get(TEST_TO_STAY).policy
        days = str(parameter(tts_policy, "test_days", on) or "")
        test_days = tuple(int(x) for x in days.split(",") if x.strip())
        tr = scenario.tracing

        def pick(name: str, given: float | None, fallback: float) -> float:
            if given is not None:
                return given
            found = _param_number(policy, name, on, settings)
            return float(found) if found is not None else fallback

        rounding = "ceil"
        if policy is not None and "rounding" in policy.interpretations:
            rounding = str(
                interpretation(policy, "rounding", settings.interpretations if settings else None)
            )
        sc = scenario.screening
        return cls(
            quarantine_days=int(
                pick("quarantine_days", tr.quarantine_days, rules["quarantine_days"])
            ),
            isolation_days=int(pick("isolation_days", tr.isolation_days, rules["isolation_days"])),
            test_to_stay=bool(rules["test_to_stay"])
            if tr.test_to_stay is None
            else tr.test_to_stay,
            test_days=test_days,
            staff_share_pct=pick("staff_tested_share_other_pct", sc.staff_weekly_share_pct, 0.0),
            top_zip_count=int(pick("student_testing_top_zip_count", sc.top_zip_count, 0)),
            top_zip_student_share_pct=pick(
                "student_tested_share_top_zip_pct", sc.top_zip_student_share_pct, 0.0
            ),
            top_zip_staff_share_pct=pick(
                "staff_tested_share_priority_pct", sc.top_zip_staff_share_pct, 0.0
            ),
            student_share_pct=pick(
                "student_random_testing_share_pct", sc.student_weekly_share_pct, 0.0
            ),
            rounding=rounding,
            weekly_doses=int(pick("first_doses_per_week", scenario.vaccination.weekly_doses, 0)),
        )


class Loop:
    """One run of one policy (or none) on one seed."""

    def __init__(
        self,
        population: Population,
        pathogen: Pathogen,
        scenario: Scenario,
        policy: m.Policy | None,
        seed: int,
        registry: Registry | None = None,
        keep_gates: bool = False,
        keep_records: bool = False,
        school_attributes: Mapping[str, list[str]] | None = None,
        settings: Settings | None = None,
        active_list: bool = True,
        zip_cases: pl.DataFrame | None = None,
        beta_cache: Path | None = None,
    ) -> None:
        self.active_list = active_list
        if scenario.beta == "auto":
            self.beta, self.beta_cached = auto_beta(
                population, pathogen, scenario.layer_weights, beta_cache
            )
        else:
            self.beta, self.beta_cached = float(scenario.beta), False
        self.import_rates: np.ndarray | None = None
        self.zip_index = np.zeros(0, dtype=np.int64)
        if scenario.importation.source == "zip-weekly-cases":
            if population.agent_zip is None:
                raise SchoolmodeError(
                    "importation from weekly cases by ZIP needs a population with home ZIPs "
                    "(network.from_district)"
                )
            imp = scenario.importation
            cases = zip_cases if zip_cases is not None else load_zip_cases(imp.cases_file)
            self.import_rates = importation_rates(
                cases,
                population.zip_codes,
                scenario.start,
                scenario.days,
                imp.ascertainment,
                imp.scale,
            )
            self.zip_index = population.agent_zip
        self.pop = population
        self.pathogen = pathogen
        self.sc = scenario
        self.policy = policy
        self.seed = seed
        self.keep_gates = keep_gates
        self.gates_kept: list[np.ndarray] = []
        self.orders_kept: list[np.ndarray] = []
        self.keep_records = keep_records
        self.kept_orders: list[tuple[str, np.ndarray, int, np.ndarray]] = []
        self.kept_cases: list[tuple[int, np.ndarray, np.ndarray]] = []
        self.kept_absences: list[tuple[int, np.ndarray, np.ndarray]] = []
        self.ops = Operations.resolve(scenario, policy, registry or Registry(), settings)
        net = population.network
        self.n = net.n
        self.days = scenario.days
        self.layers = net.layers
        self.school_layers = np.array([net.layers.index(x) for x in SCHOOL_LAYERS], dtype=np.int64)
        self.community = net.layers.index("community") if "community" in net.layers else -1
        weights = net.weights.copy()
        for name, w in scenario.layer_weights.items():
            weights[net.layers.index(name)] = w
        for name, mult in scenario.masking.items():
            weights[net.layers.index(name)] *= mult
        self.weights = weights
        a = population.agents.copy()
        apply_pathogen(a, pathogen)
        self.agents = a
        # contiguous copies of the fields read every day (the structured array's are strided)
        self.t_infectious = np.ascontiguousarray(a["t_infectious"], dtype=np.int64)
        self.t_symptoms = np.ascontiguousarray(a["t_symptoms"], dtype=np.int64)
        self.t_recovered = np.ascontiguousarray(a["t_recovered"], dtype=np.int64)
        self.infectiousness = np.ascontiguousarray(a["infectiousness"], dtype=np.float64)
        self.active = ActiveSet(self.t_infectious, self.t_recovered)
        self.role = a["role"].astype(np.int64)
        self.school = a["school"].astype(np.int64)
        self.room = a["classroom"].astype(np.int64)
        self.household = a["household"].astype(np.int64)
        self.is_student = self.role == STUDENT
        self.is_teacher = (self.role == TEACHER) & (self.room >= 0)
        self.is_staff = (self.role == TEACHER) | (self.role == OTHER_STAFF)
        self.n_schools = len(population.school_ids)
        self.n_rooms = len(population.classroom_ids)
        zips = list((school_attributes or {}).get("zip", [""] * self.n_schools))
        zip_names = sorted({z for z in zips if z})
        self.n_zips = len(zip_names)
        self.zip_of_school = np.array(
            [zip_names.index(z) if z else -1 for z in zips], dtype=np.int64
        ).reshape(-1)
        if self.zip_of_school.size != self.n_schools:
            self.zip_of_school = np.full(self.n_schools, -1, dtype=np.int64)
        self.room_school = np.full(self.n_rooms, -1, dtype=np.int64)
        has_room = self.room >= 0
        self.room_school[self.room[has_room]] = self.school[has_room]
        self.room_members = _groups(
            np.where(self.is_student | self.is_teacher, self.room, -1), self.n_rooms
        )
        n_hh = int(self.household.max()) + 1 if self.n else 0
        self.hh_members = _groups(self.household, n_hh)
        self.school_day = school_calendar(scenario.start, self.days, scenario.district_holidays)
        dates = [scenario.start + dt.timedelta(days=i) for i in range(self.days + 1)]
        school_dates = frozenset(d for d, s in zip(dates, self.school_day, strict=False) if s)
        self.calendar = Calendar(
            school_days=school_dates | frozenset(d for d in dates[self.days :] if d.weekday() < 5)
        )
        self.engine: LoopEngine | None = None
        if policy is not None:
            self.engine = LoopEngine(
                policy,
                {
                    "district": [DISTRICT_UNIT],
                    "school": list(population.school_ids),
                    "classroom": list(population.classroom_ids),
                },
                scenario.start,
                self.days,
                self.calendar,
                attributes={
                    "school": dict(school_attributes or {}),
                    "classroom": {
                        "parent": [
                            population.school_ids[s] if s >= 0 else "" for s in self.room_school
                        ]
                    },
                },
                window=scenario.engine_window_days,
                settings=settings,
                act_on_eligible=scenario.act_on_eligible,
            )
            self.closed = closed_mode_mask(policy, scenario.closed_modes)
        else:
            self.closed = np.array([False, False, False], dtype=bool)

    # ------------------------------------------------------------------ helpers

    def u(self, stream: int, who: np.ndarray, b: int = 0, c: int = 0) -> np.ndarray:
        return rng.uniforms(self.seed, stream, np.ascontiguousarray(who, dtype=np.int64), b, c)

    def _test(
        self, who: np.ndarray, day: int, test: TestType, stream: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """Test ``who`` from ``day``: (agents with a result, result day, positive, tests used).

        An invalid result is repeated the next day, up to ``max_attempts``; the result is drawn
        on the specimen day of the valid attempt from the agent's infectiousness that day.
        """
        if who.size == 0:
            return who, who.copy(), np.zeros(0, bool), 0
        valid_at = np.full(who.size, -1, dtype=np.int64)
        used = 0
        for k in range(test.max_attempts):
            pending = valid_at < 0
            used += int(pending.sum())
            ok = self.u(rng.TEST_INVALID, who, stream * 1000 + day, k) >= test.invalid_rate
            valid_at[pending & ok] = k
        got = valid_at >= 0
        who = who[got]
        specimen = day + valid_at[got]
        infectious = (self.t_infectious[who] <= specimen) & (specimen < self.t_recovered[who])
        draw = self.u(rng.TEST_RESULT, who, stream * 1000 + day, 0)
        positive = np.where(infectious, draw < test.sensitivity, draw < 1 - test.specificity)
        return who, specimen + test.turnaround_days, positive, used

    def _schedule(self, who: np.ndarray, day: int) -> None:
        """Natural history of agents infected on ``day`` (``model.schedule``), mirrored into
        the contiguous arrays."""
        a = self.agents
        schedule(a, who, day, self.pathogen, self.seed)
        self.t_infectious[who] = a["t_infectious"][who]
        self.t_symptoms[who] = a["t_symptoms"][who]
        self.t_recovered[who] = a["t_recovered"][who]
        self.infectiousness[who] = a["infectiousness"][who]
        self.active.add(who)

    def _queue(self, who: np.ndarray, result_day: np.ndarray, positive: np.ndarray) -> None:
        for d in np.unique(result_day):
            sel = result_day == d
            self.results.setdefault(int(d), []).append((who[sel], positive[sel]))

    # ------------------------------------------------------------------ run

    def run(self) -> LoopResult:
        sc, a, n, days = self.sc, self.agents, self.n, self.days
        L = len(self.layers)
        t_infected = np.ascontiguousarray(a["t_infected"])
        susceptibility = np.ascontiguousarray(a["susceptibility"], dtype=np.float64)
        # vaccination before day 0
        vac = sc.vaccination
        dose1 = np.full(n, NEVER, dtype=np.int64)
        dose2 = np.full(n, NEVER, dtype=np.int64)
        if vac.initial_share:
            share = np.zeros(n)
            for role_name, s in vac.initial_share.items():
                share[self.role == ROLES.index(role_name)] = s
            done = self.u(rng.VACCINE_INITIAL, np.arange(n)) < share
            dose1[done] = -vac.dose_interval_days - vac.protection_delay_days
            dose2[done] = -vac.protection_delay_days
            susceptibility[done] *= 1 - vac.efficacy
        imm = sc.immunity
        if imm.prior_infection_share:
            share = np.zeros(n)
            for role_name, s in imm.prior_infection_share.items():
                share[self.role == ROLES.index(role_name)] = s
            prior = self.u(rng.PRIOR_INFECTION, np.arange(n)) < share
            susceptibility[prior] *= 1 - imm.protection
        first = seed_agents(n, sc.initial_infections, self.seed)
        self._schedule(first, 0)
        t_infected[first] = 0
        out_dst = np.empty(n, dtype=np.int64)
        out_src = np.empty(n, dtype=np.int64)
        out_layer = np.empty(n, dtype=np.int64)
        gate = np.ones((L, n), dtype=np.bool_)
        iso_until = np.zeros(n, dtype=np.int64)
        quar_until = np.zeros(n, dtype=np.int64)
        tts_from = np.full(n, -1, dtype=np.int64)
        reported = np.full(n, -1, dtype=np.int64)
        last_attended = np.full(n, -(10**6), dtype=np.int64)
        hh_last_case = np.full(self.hh_members[0].size - 1, -(10**6), dtype=np.int64)
        consent = self.u(rng.CONSENT, np.arange(n)) < sc.screening.student_consent_share
        stay_home = self.u(rng.STAY_HOME, np.arange(n)) < sc.symptomatic.stay_home_share
        self.results: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
        trace_queue: list[tuple[int, np.ndarray, np.ndarray]] = []  # (due day, cases, specimen)
        p_import = sc.importation_per_100k_per_day / 1e5
        s_test = sc.test(sc.symptomatic.test)
        screen_test = sc.test(sc.screening.test)
        tts_test = sc.test(sc.tracing.test_to_stay_test)
        S, C = self.n_schools, self.n_rooms
        enrolled_s = np.bincount(self.school[self.is_student], minlength=S)
        teachers_s = np.bincount(self.school[self.is_teacher], minlength=S)
        staff_s = np.bincount(self.school[self.is_staff & (self.school >= 0)], minlength=S)
        enrolled_c = np.bincount(self.room[self.is_student & (self.room >= 0)], minlength=C)
        daily_cases_s = np.zeros((S, days), dtype=np.int64)
        daily_hh_s = np.zeros((S, days), dtype=np.int64)
        daily_cases_c_nonhh = np.zeros((C, days), dtype=np.int64)
        group_size_c = enrolled_c + np.bincount(self.room[self.is_teacher], minlength=C)
        tests_by_day = np.zeros(days, dtype=np.int64)
        positives_by_day = np.zeros(days, dtype=np.int64)
        resulted_by_day = np.zeros(days, dtype=np.int64)
        cases_by_day = np.zeros(days, dtype=np.int64)
        new_inf = np.zeros(days, dtype=np.int64)
        prevalence = np.zeros(days, dtype=np.int64)
        schools_remote = np.zeros(days, dtype=np.int64)
        rooms_remote = np.zeros(days, dtype=np.int64)
        in_person_students = np.zeros(days, dtype=np.int64)
        school_layer_inf = np.zeros((days, S), dtype=np.int64)
        totals = dict.fromkeys(OUTCOMES, 0.0)
        pools_used = 0
        doses = 0
        in_school_layer = np.zeros(L, dtype=bool)
        in_school_layer[self.school_layers] = True
        engine = self.engine
        has_school = self.school >= 0
        school_idx = np.maximum(self.school, 0)
        room_idx = np.maximum(self.room, 0)
        last_week = -1

        timings = dict.fromkeys(PHASES, 0.0)
        clock = time.perf_counter()

        def lap(phase: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            timings[phase] += now - clock
            clock = now

        for d in range(days):
            # 1. gates
            if engine is not None:
                district_closed = bool(self.closed[engine.modes["district"][0, d]])
                s_closed = self.closed[engine.modes["school"][:, d]] | district_closed
                r_closed = (
                    self.closed[engine.modes["classroom"][:, d]]
                    | s_closed[np.maximum(self.room_school, 0)]
                )
            else:
                s_closed = np.zeros(S, dtype=bool)
                r_closed = np.zeros(C, dtype=bool)
            if self.school_day[d]:
                schools_remote[d] = int(s_closed.sum())
                rooms_remote[d] = int(r_closed.sum())
            if self.active_list:
                sources = self.active.advance(d)
                sym = np.zeros(n, dtype=bool)
                sym[sources[self.t_symptoms[sources] <= d]] = True
            else:
                sources = np.flatnonzero((self.t_infectious <= d) & (d < self.t_recovered))
                sym = (self.t_symptoms <= d) & (d < self.t_recovered)
            isolated = iso_until > d
            quarantined = quar_until > d
            ill = sym & stay_home
            unit_closed = has_school & (
                s_closed[school_idx] | ((self.room >= 0) & r_closed[room_idx])
            )
            away = ill | isolated | quarantined
            attends = has_school & bool(self.school_day[d]) & ~unit_closed & ~away
            gate[:] = True
            gate[self.school_layers] = attends
            if self.community >= 0:
                gate[self.community] = ~isolated
            if self.keep_gates:
                self.gates_kept.append(gate.copy())
                self.orders_kept.append(isolated | quarantined)
            last_attended[attends] = d
            in_person_students[d] = int((attends & self.is_student).sum())
            totals["in_person_student_days"] += in_person_students[d]
            totals["in_person_staff_days"] += int((attends & self.is_staff).sum())
            if self.school_day[d]:
                totals["student_absence_days"] += int((has_school & self.is_student & away).sum())
                totals["staff_absence_days"] += int((self.is_staff & away).sum())
            totals["quarantine_days"] += int((quarantined & ~isolated).sum())
            totals["isolation_days"] += int(isolated.sum())

            lap("gates")
            # 2. transmission and importation
            prevalence[d] = sources.size
            infectiousness = self.infectiousness
            count = transmit(
                d,
                self.seed,
                sources,
                infectiousness,
                susceptibility,
                t_infected,
                self.pop.network.indptr,
                self.pop.network.indices,
                self.weights,
                gate,
                self.beta,
                out_dst,
                out_src,
                out_layer,
            )
            if count:
                who = out_dst[:count]
                self._schedule(who, d)
                a["infector"][who] = out_src[:count]
                a["layer"][who] = out_layer[:count]
                at_school = in_school_layer[out_layer[:count]]
                totals["infections_in_school"] += int(at_school.sum())
                np.add.at(school_layer_inf[d], self.school[who[at_school]], 1)
            imported = np.empty(0, dtype=np.int64)
            if self.import_rates is not None or p_import > 0:
                cand = np.flatnonzero(t_infected == NEVER)
                p_cand = (
                    self.import_rates[self.zip_index[cand], d]
                    if self.import_rates is not None
                    else p_import
                )
                hit = self.u(rng.IMPORTATION, cand, d) < p_cand * susceptibility[cand]
                imported = cand[hit]
                if imported.size:
                    self._schedule(imported, d)
                    t_infected[imported] = d
            if d == 0:
                new_inf[0] += first.size
            new_inf[d] += count + imported.size

            lap("transmission")
            # 3. observation: symptomatic tests (new onsets, and background symptoms)
            if self.active_list:
                onset = self.active.onsets(self.t_symptoms, d)
            else:
                onset = np.flatnonzero(self.t_symptoms == d)
            onset = onset[self.u(rng.SYMPTOM_TEST, onset) < sc.symptomatic.share_tested]
            rate = sc.symptomatic.background_symptoms_per_day
            if rate > 0:
                bg = np.flatnonzero(self.u(rng.BACKGROUND_SYMPTOMS, np.arange(n), d) < rate)
                onset = np.union1d(onset, bg[~sym[bg]])
            onset = onset[reported[onset] < 0]
            who, rday, pos, used = self._test(onset, d, s_test, 1)
            self._queue(who, rday, pos)
            tests_by_day[d] += used
            # weekly screening on the first school day of each week
            week = dt.date.fromordinal(self.sc.start.toordinal() + d).isocalendar()[1]
            if self.school_day[d] and week != last_week:
                last_week = week
                top = self._top_zip_schools(daily_cases_s[:, max(0, d - 7) : d].sum(axis=1))
                used, pools = self._screen(d, week, consent, isolated, screen_test, enrolled_s, top)
                tests_by_day[d] += used
                pools_used += pools
            # test-to-stay tests due today
            if self.ops.test_to_stay and self.ops.test_days:
                due = np.flatnonzero(
                    (tts_from >= 0)
                    & np.isin(d - tts_from, np.asarray(self.ops.test_days))
                    & (reported < 0)
                )
                who, rday, pos, used = self._test(due, d, tts_test, 3)
                self._queue(who, rday, pos)
                tests_by_day[d] += used
                tts_from[(tts_from >= 0) & (d - tts_from > max(self.ops.test_days))] = -1

            lap("observation")
            # 4. results reported today -> cases, isolation, tracing
            arrived = self.results.pop(d, [])
            cases = np.empty(0, dtype=np.int64)
            if arrived:
                got = np.concatenate([w for w, _ in arrived])
                positive = np.concatenate([p for _, p in arrived])
                positives_by_day[d] += int(positive.sum())
                resulted_by_day[d] += got.size
                cases = np.unique(got[positive])
                cases = cases[reported[cases] < 0]
            # pools: members of positive pools were queued for an individual retest (_screen)
            if cases.size:
                reported[cases] = d
                if self.keep_records:
                    hh_ = self.household[cases]
                    self.kept_cases.append(
                        (
                            d,
                            cases,
                            (hh_ >= 0)
                            & (hh_last_case[np.maximum(hh_, 0)] >= d - HOUSEHOLD_LINK_DAYS),
                        )
                    )
                cases_by_day[d] = cases.size
                iso_until[cases] = np.maximum(iso_until[cases], d + self.ops.isolation_days + 1)
                self._order("isolation", cases, d, np.full(cases.size, d + self.ops.isolation_days))
                tts_from[cases] = -1
                hh = self.household[cases]
                linked = (hh >= 0) & (hh_last_case[np.maximum(hh, 0)] >= d - HOUSEHOLD_LINK_DAYS)
                hh_last_case[hh[hh >= 0]] = d
                in_s = self.school[cases] >= 0
                np.add.at(daily_cases_s[:, d], self.school[cases[in_s]], 1)
                np.add.at(daily_hh_s[:, d], self.school[cases[in_s & linked]], 1)
                nonhh = (
                    (self.room[cases] >= 0)
                    & ~linked
                    & (self.is_student[cases] | self.is_teacher[cases])
                )
                np.add.at(daily_cases_c_nonhh[:, d], self.room[cases[nonhh]], 1)
                trace_queue.append((d + sc.tracing.delay_days, cases, last_attended[cases].copy()))
            self._trace(d, trace_queue, quar_until, tts_from, last_attended, reported)

            # vaccination: weekly, second doses first
            if self.ops.weekly_doses and d % 7 == 0:
                doses += self._vaccinate(d, dose1, dose2)
            protected = dose2 + vac.protection_delay_days == d
            if protected.any():
                susceptibility[protected] *= 1 - vac.efficacy

            lap("operations")
            # 5. metrics -> engine -> modes of d + 1
            if engine is not None:
                order = iso_until > d
                order |= quar_until > d
                school_day = bool(self.school_day[d])
                self._metrics(
                    engine,
                    d,
                    order,
                    school_day,
                    enrolled_s,
                    teachers_s,
                    staff_s,
                    enrolled_c,
                    group_size_c,
                    daily_cases_s,
                    daily_hh_s,
                    daily_cases_c_nonhh,
                    resulted_by_day,
                    positives_by_day,
                    cases_by_day,
                    cases,
                )
                lap("metrics")
                engine.decide(d)
                lap("engine")

        roles = self.role[t_infected != NEVER]
        totals["infections"] = float(roles.size)
        totals["infections_students"] = float((roles == STUDENT).sum())
        totals["infections_staff"] = float(((roles == TEACHER) | (roles == OTHER_STAFF)).sum())
        totals["infections_household"] = float((roles == ADULT).sum())
        totals["school_days_remote"] = float(schools_remote.sum())
        totals["classroom_days_remote"] = float(rooms_remote.sum())
        totals["tests"] = float(tests_by_day.sum())
        totals["pools"] = float(pools_used)
        totals["cases_reported"] = float(cases_by_day.sum())
        totals["peak_infectious"] = float(prevalence.max(initial=0))
        totals["peak_day"] = float(int(np.argmax(prevalence)) if days else 0)
        totals["doses"] = float(doses)
        return LoopResult(
            policy_id=self.policy.id if self.policy is not None else "none",
            seed=self.seed,
            outcomes={k: float(v) for k, v in totals.items()},
            daily={
                "new_infections": new_inf,
                "infectious": prevalence,
                "schools_remote": schools_remote,
                "classrooms_remote": rooms_remote,
                "in_person_students": in_person_students,
                "cases_reported": cases_by_day,
                "tests": tests_by_day,
            },
            engine=engine,
            agents=a,
            school_layer_infections=school_layer_inf,
            gates=self.gates_kept,
            orders=self.orders_kept,
            records=self._records(reported) if self.keep_records else None,
            timings=timings,
            beta=self.beta,
            beta_cached=self.beta_cached,
            missing_metrics=sorted(f"{s}.{m_}" for s, m_ in engine.missing) if engine else [],
        )

    # ------------------------------------------------------------------ records

    def _order(self, kind: str, who: np.ndarray, day: int, last: np.ndarray) -> None:
        if self.keep_records and who.size:
            self.kept_orders.append((kind, who.copy(), day, np.asarray(last).copy()))

    def _records(self, reported: np.ndarray) -> dict[str, pl.DataFrame]:
        """The run's observations as standard records (person ids of the population)."""
        ids = np.asarray(self.pop.person_ids, dtype=object)
        schools = np.asarray(self.pop.school_ids, dtype=object)
        rooms = np.asarray(self.pop.classroom_ids, dtype=object)
        start = self.sc.start

        def dates(days: np.ndarray) -> pl.Series:
            epoch = (start - dt.date(1970, 1, 1)).days
            return pl.Series(np.asarray(days, dtype=np.int32) + epoch).cast(pl.Date)

        parts = []
        for kind, who, day, last in self.kept_orders:
            parts.append(
                pl.DataFrame(
                    {
                        "person_id": ids[who].tolist(),
                        "kind": [kind] * len(who),
                        "start_date": dates(np.full(len(who), day)),
                        "end_date": dates(last),
                    }
                )
            )
        orders = pl.concat(parts, how="vertical_relaxed") if parts else pl.DataFrame()
        if orders.height:
            orders = orders.with_row_index("n").select(
                pl.format("O{}", "n").alias("order_id"), pl.exclude("n")
            )
        cases = [
            pl.DataFrame(
                {
                    "case_id": [f"C{i}" for i in who],
                    "person_id": ids[who].tolist(),
                    "pathogen": [self.pathogen.name] * len(who),
                    "report_date": dates(np.full(len(who), day)),
                    "status": ["confirmed"] * len(who),
                    "household_linked": linked,
                }
            )
            for day, who, linked in self.kept_cases
        ]
        absences, cover = [], []
        for day, who, covered in self.kept_absences:
            reason = np.where(
                (reported[who] >= 0) & (reported[who] <= day),
                "documented_positive",
                "directed_quarantine_isolation",
            )
            absences.append(
                pl.DataFrame(
                    {
                        "person_id": ids[who].tolist(),
                        "school_id": schools[self.school[who]].tolist(),
                        "date": dates(np.full(len(who), day)),
                        "reason": reason,
                    }
                )
            )
            cover.append(
                pl.DataFrame(
                    {
                        "classroom_id": rooms[self.room[who]].tolist(),
                        "date": dates(np.full(len(who), day)),
                        "absent_person_id": ids[who].tolist(),
                        "covered": covered,
                    }
                )
            )
        out = {"quarantine_order": orders}
        for name, frames in (
            ("case", cases),
            ("absence", absences),
            ("substitute_coverage", cover),
        ):
            out[name] = pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()
        return out

    # ------------------------------------------------------------------ operations

    def _top_zip_schools(self, recent_cases: np.ndarray) -> np.ndarray:
        """(schools,) bool: schools whose ZIP is among the ``top_zip_count`` ZIPs with the most
        cases reported among the district's schools over the last 7 days (ties by ZIP code)."""
        top = np.zeros(self.n_schools, dtype=bool)
        n = self.ops.top_zip_count
        if n <= 0 or self.zip_of_school.max(initial=-1) < 0:
            return top
        known = self.zip_of_school >= 0
        by_zip = np.bincount(
            self.zip_of_school[known], weights=recent_cases[known], minlength=self.n_zips
        )
        order = np.lexsort((np.arange(self.n_zips), -by_zip))[:n]
        return known & np.isin(self.zip_of_school, order)

    def _screen(
        self,
        d: int,
        week: int,
        consent: np.ndarray,
        isolated: np.ndarray,
        test: TestType,
        enrolled_s: np.ndarray,
        top: np.ndarray,
    ) -> tuple[int, int]:
        """Weekly screening: a share of staff, and a random share of consented students per
        school (pooled when ``pool_size`` > 1); schools in the top ZIPs (``top``) use the
        top-ZIP shares where those are larger. Returns (tests used, pools)."""
        used = 0
        pools = 0
        ops, scr = self.ops, self.sc.screening
        staff_share = np.where(
            top, max(ops.staff_share_pct, ops.top_zip_staff_share_pct), ops.staff_share_pct
        )
        if staff_share.max(initial=0) > 0:
            staff = np.flatnonzero(self.is_staff & ~isolated & (self.school >= 0))
            chance = staff_share[self.school[staff]] / 100
            pick = staff[self.u(rng.SCREEN_STAFF, staff, week) < chance]
            who, rday, pos, n_used = self._test(pick, d, test, 2)
            self._queue(who, rday, pos)
            used += n_used
        share = ops.student_share_pct
        top_share = max(share, ops.top_zip_student_share_pct)
        if share <= 0 and not (top.any() and top_share > 0):
            return used, pools
        quota = np.array(
            [
                share_of(int(e), Decimal(str(top_share if t else share)), ops.rounding)
                for e, t in zip(enrolled_s, top, strict=True)
            ],
            dtype=np.int64,
        )
        cand = np.flatnonzero(self.is_student & consent & ~isolated & (self.school >= 0))
        key = self.u(rng.SCREEN_STUDENT, cand, week)
        order = np.lexsort((key, self.school[cand]))
        cand = cand[order]
        sch = self.school[cand]
        start = np.searchsorted(sch, sch, side="left")
        rank = np.arange(cand.size) - start
        chosen = rank < quota[sch]
        cand, rank, sch = cand[chosen], rank[chosen], sch[chosen]
        k = scr.pool_size
        if k <= 1:
            who, rday, pos, n_used = self._test(cand, d, test, 4)
            self._queue(who, rday, pos)
            return used + n_used, pools
        # Dorfman pools of k students of one school; a pool is one test on its first member's
        # key; a positive pool's members are retested one by one when the pool result arrives
        pool_key = sch * 1_000_000 + rank // k
        uniq, pool_of = np.unique(pool_key, return_inverse=True)
        pools = int(uniq.size)
        inf = (self.t_infectious[cand] <= d) & (d < self.t_recovered[cand])
        any_inf = np.bincount(pool_of, weights=inf, minlength=pools) > 0
        head = np.zeros(pools, dtype=np.int64)
        head[pool_of[::-1]] = cand[::-1]
        draw = self.u(rng.POOL_RESULT, head, d)
        pool_pos = np.where(any_inf, draw < test.sensitivity, draw < 1 - test.specificity)
        used += pools
        retest = cand[pool_pos[pool_of]]
        retest_day = d + test.turnaround_days
        who, rday, pos, n_used = self._test(retest, retest_day, test, 5)
        self._queue(who, rday, pos)
        return used + n_used, pools

    def _trace(
        self,
        d: int,
        queue: list[tuple[int, np.ndarray, np.ndarray]],
        quar_until: np.ndarray,
        tts_from: np.ndarray,
        last_attended: np.ndarray,
        reported: np.ndarray,
    ) -> None:
        """Trace due cases (up to the daily capacity): homeroom contacts who attended with the
        case in its infectious window (two days before the report's specimen to its last day in
        school) quarantine, or test to stay where allowed; household members quarantine."""
        due = [q for q in queue if q[0] <= d]
        if not due:
            return
        queue[:] = [q for q in queue if q[0] > d]
        cases = np.concatenate([q[1] for q in due])
        last = np.concatenate([q[2] for q in due])
        cap = self.sc.tracing.capacity_per_day
        if cap is not None and cases.size > cap:
            order = np.argsort(self.u(rng.TRACE_ORDER, cases, d), kind="stable")
            keep, later = order[:cap], order[cap:]
            queue.append((d + 1, cases[later], last[later]))
            cases, last = cases[keep], last[keep]
        qdays = self.ops.quarantine_days
        window_start = reported[cases] - 2 - self.sc.tests[self.sc.symptomatic.test].turnaround_days
        room = self.room[cases]
        in_room = (room >= 0) & (last >= window_start)
        if in_room.any():
            which, member = _members(*self.room_members, room[in_room])
            case_last = last[in_room][which]
            exposed = (member != cases[in_room][which]) & (
                last_attended[member] >= window_start[in_room][which]
            )
            member, case_last = member[exposed], case_last[exposed]
            if self.ops.test_to_stay:
                tts_from[member] = np.maximum(tts_from[member], case_last)
            else:
                quar_until[member] = np.maximum(quar_until[member], case_last + qdays + 1)
                self._order("quarantine", member, d, case_last + qdays)
        if self.sc.tracing.household:
            hh = self.household[cases]
            has = hh >= 0
            which, member = _members(*self.hh_members, hh[has])
            member = member[(member != cases[has][which]) & (self.role[member] != ADULT)]
            quar_until[member] = np.maximum(quar_until[member], d + qdays + 1)
            self._order("quarantine", member, d, np.full(member.size, d + qdays))

    def _vaccinate(self, d: int, dose1: np.ndarray, dose2: np.ndarray) -> int:
        vac = self.sc.vaccination
        capacity = self.ops.weekly_doses
        due2 = np.flatnonzero((dose2 == NEVER) & (dose1 <= d - vac.dose_interval_days))
        due2 = due2[np.argsort(dose1[due2], kind="stable")][:capacity]
        dose2[due2] = d
        left = capacity - due2.size
        given = due2.size
        if left > 0:
            rank = np.full(self.n, len(ROLES), dtype=np.int64)
            for i, role_name in enumerate(vac.priority):
                rank[self.role == ROLES.index(role_name)] = i
            cand = np.flatnonzero(
                (dose1 == NEVER) & (rank < len(ROLES)) & (rank < len(vac.priority))
            )
            key = self.u(rng.VACCINE_ORDER, cand)
            cand = cand[np.lexsort((key, rank[cand]))][:left]
            dose1[cand] = d
            given += cand.size
        return int(given)

    def _metrics(
        self,
        engine: LoopEngine,
        d: int,
        order: np.ndarray,
        school_day: bool,
        enrolled_s: np.ndarray,
        teachers_s: np.ndarray,
        staff_s: np.ndarray,
        enrolled_c: np.ndarray,
        group_size_c: np.ndarray,
        daily_cases_s: np.ndarray,
        daily_hh_s: np.ndarray,
        daily_cases_c: np.ndarray,
        tests: np.ndarray,
        positives: np.ndarray,
        cases_by_day: np.ndarray,
        cases: np.ndarray,
    ) -> None:
        """Day ``d``'s metrics under the names ``metrics/school.py`` and the district frame use."""
        S, C = self.n_schools, self.n_rooms
        sch = self.school
        teacher_out = self.is_teacher & order & school_day
        out_ids = np.flatnonzero(teacher_out)
        covered = np.zeros(self.n, dtype=bool)
        covered[out_ids] = self.u(rng.SUBSTITUTE, out_ids, d) < self.sc.substitute_cover_share
        if self.keep_records:
            self.kept_absences.append((d, np.flatnonzero(teacher_out), covered[teacher_out]))
        student_order = self.is_student & order & (sch >= 0)
        staff_order = self.is_staff & order & (sch >= 0)
        lo14 = max(0, d - 13)
        rec = engine.record
        rec("school", "classroom_teachers", d, teachers_s)
        rec("school", "covid_absent_teachers", d, np.bincount(sch[teacher_out], minlength=S))
        rec("school", "absences_covered_by_substitutes", d, np.bincount(sch[covered], minlength=S))
        rec("school", "enrolled", d, enrolled_s)
        rec("school", "in_person_students", d, enrolled_s)
        rec(
            "school",
            "students_quarantine_isolation",
            d,
            np.bincount(sch[student_order], minlength=S),
        )
        rec("school", "staff_total", d, staff_s)
        rec("school", "staff_isolation_quarantine", d, np.bincount(sch[staff_order], minlength=S))
        rec("school", "school_cases", d, daily_cases_s[:, d])
        rec("school", "household_linked_cases", d, daily_hh_s[:, d])
        rec("school", "school_cases_14d", d, daily_cases_s[:, lo14 : d + 1].sum(axis=1))
        rec("school", "household_linked_cases_14d", d, daily_hh_s[:, lo14 : d + 1].sum(axis=1))
        window = daily_cases_c[:, max(0, d - OUTBREAK_WINDOW) : d + 1].sum(axis=1)
        outbreak = (window >= 3) | ((window >= 2) & (window * 100 >= group_size_c * 10))
        in_outbreak = np.zeros(S, dtype=np.int64)
        has = self.room_school >= 0
        np.maximum.at(in_outbreak, self.room_school[has], outbreak[has].astype(np.int64))
        rec("school", "in_outbreak", d, in_outbreak)
        room = self.room
        rec("classroom", "enrolled", d, enrolled_c)
        rec(
            "classroom",
            "students_quarantine_isolation",
            d,
            np.bincount(room[student_order & (room >= 0)], minlength=C),
        )
        members = cases[(room[cases] >= 0) & (self.is_student[cases] | self.is_teacher[cases])]
        rec("classroom", "positive_cases_reported", d, np.bincount(room[members], minlength=C))
        lo7 = max(0, d - 6)

        def pct(lo: int) -> float:
            t = int(tests[lo : d + 1].sum())
            return 100.0 * int(positives[lo : d + 1].sum()) / t if t else 0.0

        per100k = 1e5 / max(self.n, 1)
        district = {
            "positivity_7d_pct": pct(lo7),
            "positivity_14d_pct": pct(lo14),
            "cases_per_100k_7d": float(cases_by_day[lo7 : d + 1].sum() * per100k),
            "cases_per_100k_14d": float(cases_by_day[lo14 : d + 1].sum() * per100k),
        }
        for name, value in district.items():
            rec("district", name, d, np.array([value]))
            # the school frame carries the citywide metrics, as metrics/frames.school_frame does
            rec("school", name, d, np.full(S, value))
        # IDPH outbreak definition's inputs per core group (homeroom)
        rec("classroom", "group_size", d, group_size_c)
        rec("classroom", "qualifying_cases", d, daily_cases_c[:, d])


def run_policy(
    population: Population,
    pathogen: Pathogen,
    scenario: Scenario,
    policy: m.Policy | None,
    seed: int,
    registry: Registry | None = None,
    keep_gates: bool = False,
    keep_records: bool = False,
    school_attributes: Mapping[str, list[str]] | None = None,
    settings: Settings | None = None,
    active_list: bool = True,
    zip_cases: pl.DataFrame | None = None,
    beta_cache: Path | None = None,
) -> LoopResult:
    """One run. ``school_attributes``: attribute name -> one value per school of the
    population (e.g. ``grade_band`` from the profiles, read by CDC K-12 guidance);
    ``settings``: the policy's parameter overrides and interpretation readings, for the engine
    and the operational numbers alike; ``active_list``: infectious agents from an
    ``ActiveSet`` (default) or, as the reference, a mask over all agents each day (tested
    equal); ``zip_cases``: weekly cases by ZIP for ``importation.source: zip-weekly-cases``
    (``community.load_zip_cases``; None: read from the scenario's ``cases_file`` or the shared
    data); ``beta_cache``: the folder of the ``beta: auto`` disk cache (None: memory only)."""
    return Loop(
        population,
        pathogen,
        scenario,
        policy,
        seed,
        registry,
        keep_gates,
        keep_records,
        school_attributes,
        settings,
        active_list,
        zip_cases,
        beta_cache,
    ).run()
