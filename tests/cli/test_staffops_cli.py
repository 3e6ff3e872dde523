"""End to end: ``schoolmode vaccination schedule`` and ``schoolmode accommodations ...`` over a
small stored district."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from schoolmode.cli.app import app
from tests.conftest import import_frames, standard_frame, store_url

D = dt.date
START = D(2020, 9, 1)


def _district(store: Engine, tmp_path: Path) -> None:
    staff = [  # person, school, classroom, age
        ("T-PK", "ES1", "PK1", 40),
        ("T-K", "ES1", "K1", 67),
        ("T-3", "ES1", "3A", 30),
        ("S-ES", "ES1", None, 50),
        ("T-7", "MS1", "7A", 30),
        ("T-10", "HS1", "10A", 30),
    ]
    frames = {
        "school": standard_frame(
            "school",
            [
                {
                    "school_id": s,
                    "school_year": "2020-2021",
                    "district_id": "CPS",
                    "name": s,
                    "level": level,
                    "grades": grades,
                    "zip": zip_,
                    "enrolment": 100,
                }
                for s, level, grades, zip_ in [
                    ("ES1", "ES", "PK,K,1,2,3,4,5", "60623"),
                    ("MS1", "MS", "6,7,8", "60601"),
                    ("HS1", "HS", "9,10,11,12", "60601"),
                ]
            ],
        ),
        "classroom": standard_frame(
            "classroom",
            [
                {"classroom_id": c, "school_id": s, "school_year": "2020-2021", "grade": g}
                for c, s, g in [
                    ("PK1", "ES1", "PK"),
                    ("K1", "ES1", "K"),
                    ("3A", "ES1", "3"),
                    ("7A", "MS1", "7"),
                    ("10A", "HS1", "10"),
                ]
            ],
        ),
        "person": standard_frame(
            "person",
            [
                {
                    "person_id": p,
                    "role": "classroom_teacher" if room else "other_staff",
                    "age_years": a,
                }
                for p, _, room, a in staff
            ]
            + [{"person_id": "STU", "role": "student"}],
        ),
        "staff_assignment": standard_frame(
            "staff_assignment",
            [
                {
                    "person_id": p,
                    "school_id": s,
                    "classroom_id": room,
                    "role": "classroom_teacher" if room else "other_staff",
                    "start_date": START,
                }
                for p, s, room, _ in staff
            ],
        ),
        "vaccination": standard_frame(
            "vaccination",
            [
                {"person_id": "T-10", "dose": 1, "date": D(2021, 1, 20), "product": "Moderna"},
                {"person_id": "T-10", "dose": 2, "date": D(2021, 2, 17), "product": "Moderna"},
            ],
        ),
    }
    import_frames(store, frames, tmp_path / "district")


def test_vaccination_schedule_cli(store: Engine, tmp_path: Path) -> None:
    _district(store, tmp_path)
    url = store_url(store)
    args = ["vaccination", "schedule", "--from", "2021-02-11", "--weeks", "6", "--db", url]
    args += [
        "--policy",
        "cps-ctu-2021-02-06",
        "--site",
        "Clark=2",
        "--set",
        "second_dose_interval_days=21",
    ]
    out = CliRunner().invoke(app, [*args, "--json", "--appointments", str(tmp_path / "a.csv")])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["staff"] == 6
    assert data["rules"]["first_doses_per_week"] == "1500"
    groups = {g["group"]: g for g in data["projection"]}
    # order: T-PK (pre-K), T-K (K-5, age 67), T-3 and S-ES (K-5, tie by hash), T-7; T-10 done.
    # Clark: 2 a weekday. Thu 11: T-PK, T-K; Fri 12: the other two K-5; Mon 15: T-7.
    # Seconds 21 days later: Thu 4 Mar, Fri 5 Mar, Mon 8 Mar.
    assert groups["prek_cluster"]["all_by"] == "2021-03-04"
    assert groups["k5"]["all_by"] == "2021-03-05"
    assert groups["g6_8"]["all_by"] == "2021-03-08"
    assert groups["hs"]["all_by"] == "2021-02-17"  # from the records, nothing scheduled
    assert groups["hs"]["all_staff_met"] is True
    assert groups["g6_8"]["all_staff_met"] is False
    written = pl.read_csv(tmp_path / "a.csv")
    assert written.height == 10
    assert set(written["site_id"]) == {"Clark"}
    assert "T-10" not in written["person_id"].to_list()
    table = CliRunner().invoke(app, [*args, "--record", "--by", "hr"])
    assert table.exit_code == 0, table.output
    assert "recorded as schedule run 1" in " ".join(table.output.split())
    with store.connect() as conn:
        stored = conn.execute(
            text("SELECT count(*) FROM vaccination_appointment WHERE run_id = 1")
        ).scalar_one()
    assert stored == 10
    assert "Opportunity to be fully vaccinated" in table.output
    assert "prek_cluster" in table.output
    bad = CliRunner().invoke(app, [*args[:-2], "--site", "Clark=lots"])
    assert bad.exit_code == 2
    assert "NAME=CAPACITY" in bad.output


def test_accommodations_cli(store: Engine, tmp_path: Path) -> None:
    url = store_url(store)
    path = tmp_path / "requests.csv"
    rows = [f"H{i:02d},P{i:02d},household_high_risk,2021-02-01,pending" for i in range(12)]
    rows += ["O1,Q1,own_high_risk,2021-02-01,pending", "C1,Q2,caregiver,2021-02-02,pending"]
    path.write_text("request_id,person_id,basis,requested_date,status\n" + "\n".join(rows) + "\n")
    runner = CliRunner()
    out = runner.invoke(app, ["accommodations", "import", str(path), "--db", url])
    assert out.exit_code == 0, out.output
    preview = ["accommodations", "review", "--on", "2021-02-05", "--dry-run", "--json"]
    dry = runner.invoke(app, [*preview, "--db", url, "--policy", "cps-lbfo-2021-02-04"])
    assert dry.exit_code == 0, dry.output
    assert "ranked" not in dry.output  # no draw to preview
    assert "seed" not in dry.output
    commit = ["accommodations", "commit", "--on", "2021-02-05", "--seed", "2021", "--db", url]
    done = runner.invoke(app, [*commit, "--policy", "cps-lbfo-2021-02-04", "--json"])
    assert done.exit_code == 0, done.output
    committed = json.loads(done.output)
    assert committed["pools"] == json.loads(dry.output)["pools"]
    review = ["accommodations", "review", "--on", "2021-02-05", "--seed", "2021", "--db", url]
    review += ["--nonce", committed["nonce"]]
    no_nonce = runner.invoke(app, review[:-2])
    assert no_nonce.exit_code == 2
    assert "--nonce" in no_nonce.output
    out = runner.invoke(app, [*review, "--role", "union", "--json"])
    assert out.exit_code == 0, out.output
    rows_union = json.loads(out.output)["rows"]
    assert len(rows_union) == 14
    assert all("basis" not in r and "reason" not in r for r in rows_union)
    assert {r["seed"] for r in rows_union} == {2021}  # the union can recompute the draw
    granted = sorted(r["request_id"] for r in rows_union if r["outcome"] == "granted")
    assert len(granted) == 4  # O1 by right, 3 of 12 (25%) by lottery; C1 no provision
    verified = runner.invoke(app, ["accommodations", "verify", "--db", url])
    assert verified.exit_code == 0, verified.output
    assert "every lottery matches its commitment" in verified.output
    again = runner.invoke(app, [*review, "--json"])
    assert again.exit_code == 2
    assert "was revealed by review 1" in again.output  # a commitment is revealed once
    public = runner.invoke(app, ["accommodations", "show", "--role", "public", "--db", url])
    assert public.exit_code == 0, public.output
    assert "P0" not in public.output
    assert "H0" not in public.output
    assert "suppressed" in public.output
    assert "│ all     │ 14" in public.output  # 4 granted and 10 denied, both hidden
    hr = json.loads(runner.invoke(app, ["accommodations", "show", "--json", "--db", url]).output)[
        "rows"
    ]
    loser = next(r for r in hr if r["rule"] == "lottery" and r["outcome"] == "denied")
    out = runner.invoke(
        app,
        [
            "accommodations",
            "appeal",
            str(loser["decision_id"]),
            "--grounds",
            "new evidence",
            "--on",
            "2021-02-08",
            "--db",
            url,
        ],
    )
    assert out.exit_code == 0, out.output
    appeal_id = out.output.split()[1]
    out = runner.invoke(
        app,
        [
            "accommodations",
            "appeal-outcome",
            appeal_id,
            "--outcome",
            "granted",
            "--reason",
            "letter from a physician",
            "--on",
            "2021-02-09",
            "--db",
            url,
        ],
    )
    assert out.exit_code == 0, out.output
    hist = runner.invoke(app, ["accommodations", "history", loser["request_id"], "--db", url])
    assert hist.exit_code == 0, hist.output
    assert hist.output.count("decision ") >= 2
    assert "appeal " in hist.output
    refused = runner.invoke(
        app, ["accommodations", "history", loser["request_id"], "--role", "union", "--db", url]
    )
    assert refused.exit_code == 2
    bad = runner.invoke(
        app,
        ["accommodations", "appeal", "999", "--grounds", "x", "--on", "2021-02-08", "--db", url],
    )
    assert bad.exit_code == 4  # an unknown id (docs/exit-codes.md)
    assert "no accommodation decision 999" in bad.output
