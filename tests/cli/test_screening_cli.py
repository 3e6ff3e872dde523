from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from schoolmode.cli.app import app


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_screening_results(tmp_path: Path) -> None:
    members = _write(
        tmp_path / "pools.csv",
        "person_id,pool_id\n" + "".join(f"S{i},P{i // 4 + 1}\n" for i in range(8)),
    )
    results = _write(
        tmp_path / "results.csv",
        "pool_id,result,specimen_date\nP1,negative,2021-03-01\nP2,invalid,2021-03-01\n",
    )
    out = CliRunner().invoke(
        app, ["screening", "results", str(results), "--assignments", str(members)]
    )
    assert out.exit_code == 0, out.output
    assert "4 negative, 0 positive, 4 to retest" in out.output
    assert "excluded 1 invalid" in out.output
    assert "retest S4 (pool P2): pool_invalid" in out.output


def test_screening_results_names_bad_row(tmp_path: Path) -> None:
    members = _write(tmp_path / "pools.csv", "person_id,pool_id\nS1,P1\n")
    results = _write(
        tmp_path / "results.csv",
        "pool_id,result,specimen_date\nP1,negative,2021-03-01\nP7,negative,2021-03-01\n",
    )
    out = CliRunner().invoke(
        app, ["screening", "results", str(results), "--assignments", str(members)]
    )
    assert out.exit_code == 2
    assert "pool result row 2: field 'pool_id': 'P7'" in out.output
    future = _write(
        tmp_path / "future.csv", "pool_id,result,specimen_date\nP1,negative,2031-03-01\n"
    )
    out = CliRunner().invoke(
        app,
        [
            "screening",
            "results",
            str(future),
            "--assignments",
            str(members),
            "--today",
            "2021-03-02",
        ],
    )
    assert out.exit_code == 2
    assert "row 1: field 'specimen_date': 2031-03-01 is after today" in out.output
