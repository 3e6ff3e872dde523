"""The policy-loop benchmark runs (quick version and the school version); evaluating only what
changed, the trailing window and the whole history give the same modes."""

from __future__ import annotations

import pytest

from tests.bench import load_bench


def test_quick_loop_benchmark_prints_every_variant_and_the_window_is_exact(
    capsys: pytest.CaptureFixture[str],
) -> None:
    module = load_bench("bench_sim_loop")
    assert module.main(["--quick", "--days", "20", "--schools", "4"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ")]
    assert "engine s" in rows[0]
    assert "peak RSS MiB" in rows[0]
    assert [row.split("|")[1].strip() for row in rows[1:]] == [
        "changed",
        "window",
        "history",
        "none",
    ]
    assert "identical modes: yes" in out


def test_school_loop_benchmark_prints_every_variant_and_the_modes_agree(
    capsys: pytest.CaptureFixture[str],
) -> None:
    module = load_bench("bench_sim_loop")
    assert module.main(["--school", "--runs", "3", "--days", "20"]) == 0
    out = capsys.readouterr().out
    timing, pairing = out.split("\npairing")
    rows = [line for line in timing.splitlines() if line.startswith("| ")]
    assert "engine ms per run" in rows[0]
    assert [row.split("|")[1].strip() for row in rows[1:]] == ["changed", "plain", "none"]
    assert "250 agents" in out
    assert "changed and plain give identical modes: yes" in out
    paired = [line for line in pairing.splitlines() if line.startswith("| ")]
    assert [row.split("|")[1].strip() for row in paired[1:]] == ["default"]


def test_school_loop_benchmark_runs_each_variant_with_each_draws(
    capsys: pytest.CaptureFixture[str],
) -> None:
    module = load_bench("bench_sim_loop")
    assert (
        module.main(["--school", "--runs", "3", "--days", "20", "--sampling", "contact,skip"]) == 0
    )
    out = capsys.readouterr().out
    timing, pairing = out.split("\npairing")
    rows = [line for line in timing.splitlines() if line.startswith("| ")]
    assert [row.split("|")[1].strip() for row in rows[1:]] == [
        f"{variant} ({sampling})"
        for sampling in ("contact", "skip")
        for variant in ("changed", "plain", "none")
    ]
    paired = [line.split("|") for line in pairing.splitlines() if line.startswith("| ")]
    assert [row[1].strip() for row in paired[1:]] == ["contact", "skip"]
    for row in paired[1:]:  # the per-seed difference varies less than two unpaired runs
        assert float(row[3]) < float(row[4])
    assert "changed and plain give identical modes: yes" in out
