"""Every worked case beside a shipped policy runs as a test, under its case id."""

from __future__ import annotations

import pytest
from ruamel.yaml import YAML

from schoolmode.cases.runner import CaseRun, collect, execute
from schoolmode.policy.loader import Registry
from schoolmode.policy.model import DatedValue, Overlay
from schoolmode.policy.overlay import apply_overlay
from tests.conftest import FIXTURES, POLICIES

REGISTRY = Registry(POLICIES)
RUNS = collect(REGISTRY)
SHARED = YAML(typ="safe").load((FIXTURES / "shared_cases.yaml").read_text(encoding="utf-8"))
POLICY_IDS = [
    "cps-lbfo-2021-02-04",
    "ctu-demand-2021-02",
    "cps-ctu-2021-02-06",
    "cps-ctu-2021-04-15-hs",
    "ctu-proposal-2021-12-30",
    "ctu-resolution-2022-01-04",
    "cps-proposal-2022-01-04",
    "ctu-proposal-2022-01-08",
    "cps-ctu-2022-01-10",
    "cps-masks-optional-2022-03-14",
    "ctu-masks-by-vaccination-2022-03",
    "cdc-indicators-2020-09-15",
    "cdc-k12-2021-02-12",
    "cdc-community-levels-2022-02-25",
    "idph-outbreak-2021-10-15",
    "idph-test-to-stay-2021-08",
    "cdc-quarantine-2020-12-02",
    "isbe-idph-isolation-2022-01-11",
    "cambridge-2020-11-12",
    "ca-cdph-2020-07-17",
]


@pytest.mark.parametrize("run", RUNS, ids=[r.test_id for r in RUNS])
def test_case(run: CaseRun) -> None:
    result = execute(run, REGISTRY)
    assert result.passed, f"{run.path}: case {run.test_id} under {run.policy_id}:\n" + "\n".join(
        result.failures
    )


def test_case_ids_are_unique() -> None:
    ids = [r.test_id for r in RUNS]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


def test_every_published_policy_is_shipped() -> None:
    assert sorted(REGISTRY.ids()) == sorted(POLICY_IDS)


def test_every_shared_case_is_an_executable_case() -> None:
    shipped = {r.case_id for r in RUNS}
    missing = [c["id"] for c in SHARED["cases"] if c["id"] not in shipped]
    assert not missing, (
        f"worked cases of the policies research note without an executable case: {missing}"
    )


def test_every_policy_a_shared_case_names_runs_it() -> None:
    pairs = {(r.case_id, r.policy_id) for r in RUNS}
    missing = []
    for case in SHARED["cases"]:
        policies = case["policy"] if isinstance(case["policy"], list) else [case["policy"]]
        missing += [(case["id"], p) for p in policies if (case["id"], p) not in pairs]
    assert not missing, f"(case, policy) pairs of the shared cases not run: {missing}"


def test_a_changed_threshold_makes_a_case_fail() -> None:
    """The cases can fail: 35% instead of 30% breaks the exactly-30% case."""
    base = REGISTRY.get("cps-ctu-2022-01-10").policy
    original = base.parameters["teacher_absence_share_pct"].values[0]
    changed = DatedValue.model_validate({**original.model_dump(by_alias=True), "value": 35})
    overlay = Overlay.model_validate(
        {
            "id": "variant-35",
            "overlay_of": base.id,
            "title": "35%",
            "parties": ["test"],
            "summary": "test",
            "changes": {
                "parameters": {"teacher_absence_share_pct": [changed.model_dump(by_alias=True)]}
            },
        }
    )
    variant = apply_overlay(base, overlay)
    run = next(r for r in RUNS if r.test_id == "cps22-teacher-absence-exactly-30")

    class _Reg:
        def get(self, _: str) -> object:
            class _L:
                policy = variant

            return _L()

    result = execute(run, _Reg())  # type: ignore[arg-type]
    assert not result.passed
    assert any("eligible_for_remote" in f for f in result.failures)
