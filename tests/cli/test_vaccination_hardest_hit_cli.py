"""``schoolmode vaccination schedule`` derives the hardest-hit ZIP codes from the stored CDPH
ZIP weekly cases where the policy gives the priority and no list is given."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from schoolmode.cli.app import app
from schoolmode.importers.standard import StandardLayout
from schoolmode.store.service import run_import
from tests.cli.test_staffops_cli import _district


def _zip_cases(store: Engine, tmp_path: Path, cases: dict[str, float]) -> None:
    weeks = [dt.date(2020, 12, 27) + dt.timedelta(days=7 * w) for w in range(6)]
    path = tmp_path / "community_indicator.csv"
    pl.DataFrame(
        [
            {
                "source": "cdph-zip-weekly",
                "geography_type": "zip",
                "geography": code,
                "date": week,
                "period_days": 7,
                "metric": "cases_weekly",
                "value": value,
            }
            for code, value in cases.items()
            for week in weeks
        ]
    ).write_csv(path)
    run_import(store, StandardLayout("cdph"), path)


def test_hardest_hit_zips_from_the_store(store: Engine, tmp_path: Path) -> None:
    _district(store, tmp_path)  # ES1 in 60623; MS1 and HS1 in 60601
    url = store.url.render_as_string(hide_password=False)
    args = ["vaccination", "schedule", "--from", "2021-02-11", "--weeks", "2", "--db", url]
    args += ["--policy", "ctu-demand-2021-02", "--json"]  # CTU's demand: the priority is on
    runner = CliRunner()
    # no ZIP data stored: a clear error, nothing scheduled
    out = runner.invoke(app, args)
    assert out.exit_code == 2, out.output
    assert "only 0 ZIP codes have weekly cases" in " ".join(out.output.split())
    # a list given by hand needs no data
    out = runner.invoke(app, [*args, "--hardest-hit-zip", "60601"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["rules"]["hardest_hit_zips"] == ["60601"]
    assert data["rules"]["sources"].count("given (--hardest-hit-zip)") == 1
    _zip_cases(store, tmp_path, {"60601": 20.0, "60623": 90.0, "60644": 60.0, "60612": 5.0})
    out = runner.invoke(app, [*args, "--set", "vaccination_hardest_hit_zip_count=2"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["rules"]["hardest_hit_zips"] == ["60623", "60644"]
    assert "weeks ending 2021-01-01 .. 2021-01-31" in data["rules"]["sources"]
    # the policy's default count (10) needs ten ranked ZIP codes
    out = runner.invoke(app, args)
    assert out.exit_code == 2
    assert "only 4 ZIP codes" in " ".join(out.output.split())
    # the agreement reads the priority as off by default: no list, no data needed
    table = runner.invoke(
        app,
        [*args[:-3], "--policy", "cps-ctu-2021-02-06", "--record", "--by", "hr"],
    )
    assert table.exit_code == 0, table.output
    assert "hardest-hit ZIP codes" not in table.output
    # with the reading set to yes, the list is derived, printed and recorded with the run
    table = runner.invoke(
        app,
        [
            *args[:-3],
            "--policy",
            "cps-ctu-2021-02-06",
            "--set",
            "vaccination_priority_hardest_hit_zip=yes",
            "--set",
            "vaccination_hardest_hit_zip_count=1",
            "--record",
            "--by",
            "hr",
        ],
    )
    assert table.exit_code == 0, table.output
    assert "hardest-hit ZIP codes, top 1 ZIP codes by daily average cases_weekly" in " ".join(
        table.output.split()
    )
    with store.connect() as conn:
        stored = conn.execute(
            text("SELECT rules_json FROM vaccination_schedule_run ORDER BY id DESC")
        ).first()
    assert stored is not None
    assert json.loads(stored[0])["hardest_hit_zips"] == ["60623"]
