"""Acceptance check for bad input (issue 4): a valid import, then a file whose data row 7 has
one bad value. The command fails, the message names the file, the row (data rows counted from
1, header not counted, as every import error does), the field and the value, and
``schoolmode status --json`` prints exactly the same bytes before and after."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from schoolmode.cli.app import app

HEADER = "Date,Cases - Total\n"


def _run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(app, args)
    return result.exit_code, result.output


def _status(db_url: str) -> str:
    code, out = _run(["status", "--db", db_url, "--json"])
    assert code == 0, out
    return out


def test_bad_value_in_data_row_7_fails_naming_it_and_changes_nothing(
    db_url: str, tmp_path: Path
) -> None:
    assert _run(["init", "--db", db_url])[0] == 0
    good = tmp_path / "cases-good.csv"
    good.write_text(HEADER + "".join(f"03/{d:02d}/2020,{d}\n" for d in range(1, 11)))
    code, out = _run(["import", "cdph-daily-cases", str(good), "--db", db_url, "--by", "t"])
    assert code == 0, out
    assert "import #1: 10 rows, 10 added" in out

    before = _status(db_url)
    assert '"cases_total"' not in before  # metric names are not in the status, counts are
    assert '"community_indicator": 10' in before

    lines = [f"03/{d:02d}/2020,{d + 100}\n" for d in range(1, 11)]
    lines[6] = "03/07/2020,seven\n"  # data row 7 (file line 8)
    bad = tmp_path / "cases-bad.csv"
    bad.write_text(HEADER + "".join(lines))
    code, out = _run(["import", "cdph-daily-cases", str(bad), "--db", db_url, "--by", "t"])

    assert code == 1
    assert f"{bad}: 1 error(s), nothing imported" in out
    assert "rows are 1-based data rows, header not counted" in out
    assert (
        f"{bad}: data row 7, field 'Cases - Total': value 'seven'; expected a whole number" in out
    )
    assert "data row 8" not in out
    assert "import #" not in out
    after = _status(db_url)
    assert after.encode() == before.encode()
