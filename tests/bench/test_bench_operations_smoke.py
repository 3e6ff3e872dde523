"""The operations benchmark runs (quick version) and prints its table; no timing assertions."""

from __future__ import annotations

import pytest

from tests.bench import cells, load_bench, table_lines
from tests.conftest import FIXTURE_DATA


@pytest.fixture(autouse=True)
def _fixture_profiles(monkeypatch: pytest.MonkeyPatch) -> None:
    # the committed extract of the CPS profiles, not the shipped snapshot (children inherit it)
    monkeypatch.setenv("SCHOOLMODE_DATA", str(FIXTURE_DATA))


def test_quick_operations_benchmark_prints_the_expected_rows(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert load_bench("bench_operations").main(["--quick"]) == 0
    out = capsys.readouterr().out
    header, rows = table_lines(out)
    for column in ("vectorised items/s", "baseline items/s", "vectorised / baseline"):
        assert column in header
    assert "peak RSS MiB" in header
    assert [cells(row)[0][:3] for row in rows] == ["(a)", "(b)"]
    assert all(len(cells(row)) == len(cells(header)) for row in rows)
    # the per-item baselines find exactly what the vectorised code finds on their sample
    assert all(cells(row)[-2] == "yes" for row in rows)
    # (b) times the policy's planning path: tests planned, not every consented student
    assert cells(rows[1])[1].endswith(" tests")
    assert "the per-item loop" in out


def test_screening_week_is_the_policy_plan_with_consent() -> None:
    bench = load_bench("bench_operations")
    frames, policy, infected, _ = bench.screening_inputs(12)
    week = bench.screening_week(frames, policy, infected, 11)
    assert policy.id == "cps-ctu-2022-01-10"
    consented = set(frames["testing_consent"]["person_id"].to_list())
    assert week.plan.tests.height > 0
    assert set(week.plan.tests["person_id"].to_list()) <= consented
    assert week.outcome.persons.height == week.plan.tests.height
