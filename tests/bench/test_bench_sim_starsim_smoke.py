"""Our side of the Starsim comparison runs (children of ``bench_sim.py --starsim``); Starsim
itself needs its own virtualenv and is run by the benchmark, not the tests."""

from __future__ import annotations

import json

import pytest

from tests.bench import load_bench


def test_hybrid_and_district_children_report_what_the_table_needs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bench = load_bench("bench_sim")
    assert bench.main(["--child", "hybrid", "--agents", "5000", "--days", "120"]) == 0
    hybrid = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert hybrid["agents"] == 5000
    assert hybrid["edges"] > 5000 * 18  # mean degree about 37.5
    # Starsim's hybrid scenario infects about 89% of agents (anchor results)
    assert 0.8 < hybrid["attack_rate"] < 0.95
    assert hybrid["peak_rss_mib"] > 0
    assert hybrid["tool"] == "schoolmode, skip draws"  # the default
    # the same law with one draw per contact
    child = ["--child", "hybrid", "--agents", "5000", "--days", "120", "--sampling", "contact"]
    assert bench.main(child) == 0
    contact = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert contact["tool"] == "schoolmode, contact draws"
    assert 0.8 < contact["attack_rate"] < 0.95
    assert contact["attack_rate"] != hybrid["attack_rate"]  # other draws
    assert bench.main(["--child", "district", "--quick", "--days", "30"]) == 0
    district = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert district["days"] == 30
    assert 0 < district["school_days"] < 30  # weekends gate the in-school layers
    assert district["schools"] == 12
