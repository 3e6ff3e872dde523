"""The simulator use cases, called directly on a few schools of the fixture profiles."""

from __future__ import annotations

from pathlib import Path

import pytest

from schoolmode.app.context import Context
from schoolmode.app.simulation import SimRequest, SimSweepRequest, simulate, sweep
from schoolmode.policy.errors import SchoolmodeError
from tests.synth.test_district import PROFILES

AGREEMENT = "cps-ctu-2022-01-10"
SMALL = {"seeds": 2, "days": 10, "schools": 3, "profiles": PROFILES}


class Counter:
    def __init__(self) -> None:
        self.total = 0
        self.done = 0
        self.started: list[str] = []

    def start(self, description: str, total: int) -> None:
        self.total = total
        self.started.append(description)

    def advance(self, description: str | None = None) -> None:
        self.done += 1


def test_simulate_compares_on_the_same_seeds(ctx: Context, tmp_path: Path) -> None:
    counter = Counter()
    req = SimRequest(policy_ids=[AGREEMENT, "none"], out=tmp_path / "sim", **SMALL)
    result = simulate(ctx, req, counter)
    assert result.runs == counter.total == counter.done == 4
    # the population's build is told first (it takes a while on the whole district), then runs
    assert counter.started[0] == "building the population and its contacts"
    assert counter.started[1].endswith(" schools")
    assert len(counter.started) == 2
    assert [r.policy for r in result.infections] == [AGREEMENT, "none"]
    assert all(r.lo <= r.mean <= r.hi for r in result.infections)
    assert result.files["report.md"].exists()


def test_sweep_serially(ctx: Context, tmp_path: Path) -> None:
    req = SimSweepRequest(
        policy_ids=[AGREEMENT], param="tracing.delay_days=1,2", out=tmp_path, workers=0, **SMALL
    )
    result = sweep(ctx, req)
    assert result.name == "tracing.delay_days"
    assert [r.value for r in result.infections] == ["1", "2"]
    assert result.rows_csv.exists()
    assert result.summary_csv.exists()


def test_bad_requests(ctx: Context, tmp_path: Path) -> None:
    with pytest.raises(SchoolmodeError, match="expected name=value"):
        simulate(ctx, SimRequest(policy_ids=[AGREEMENT], out=tmp_path, params=["days"]))
    with pytest.raises(SchoolmodeError, match="no-such-policy"):
        simulate(ctx, SimRequest(policy_ids=["no-such-policy"], out=tmp_path))
    with pytest.raises(SchoolmodeError, match="expected name=v1,v2"):
        sweep(ctx, SimSweepRequest(policy_ids=[AGREEMENT], param="x", out=tmp_path))


def test_a_synthetic_district_spec_runs_as_the_district_options(
    ctx: Context, tmp_path: Path
) -> None:
    import polars as pl

    spec = tmp_path / "district.yaml"
    spec.write_text(f"kind: synthetic-district\nprofiles: {Path(PROFILES).resolve()}\nschools: 3\n")
    by_spec = SimRequest(
        policy_ids=[AGREEMENT], out=tmp_path / "a", population=spec, seeds=2, days=10
    )
    by_options = SimRequest(policy_ids=[AGREEMENT], out=tmp_path / "b", **SMALL)
    simulate(ctx, by_spec)
    simulate(ctx, by_options)
    a = pl.read_csv(tmp_path / "a" / "outcomes.csv")
    b = pl.read_csv(tmp_path / "b" / "outcomes.csv")
    assert a.equals(b)
    assert a["infections"].sum() > 0
    with pytest.raises(SchoolmodeError, match="drop --schools, --profiles"):
        simulate(ctx, SimRequest(policy_ids=[AGREEMENT], out=tmp_path, population=spec, **SMALL))


def test_only_the_command_line_reads_policy_files(ctx: Context, tmp_path: Path) -> None:
    """A job of the API names registry policies only: a name that looks like a file is not
    read from the server's file system."""
    folder = tmp_path / "mine"
    folder.mkdir()
    shipped = Path(ctx.registry.get(AGREEMENT).path)
    (folder / "agreement.yaml").write_text(shipped.read_text())
    name = str(folder / "agreement.yaml")
    with pytest.raises(SchoolmodeError, match=r"agreement\.yaml"):
        simulate(ctx, SimRequest(policy_ids=[name], out=tmp_path / "x", **SMALL))
    result = simulate(
        ctx, SimRequest(policy_ids=[name], out=tmp_path / "y", read_policy_files=True, **SMALL)
    )
    assert [r.policy for r in result.infections] == [AGREEMENT]
