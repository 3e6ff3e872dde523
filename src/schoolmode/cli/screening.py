"""``schoolmode screening plan|results|exceptions``: weekly screening plans, pooled (Dorfman)
results and the exceptions queue."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import polars as pl
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from schoolmode.cli.common import DbOption, PoliciesDir, console
from schoolmode.cli.decisions import _day, _fail
from schoolmode.policy.errors import SchoolmodeError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from schoolmode.operations.pooling import Deconvolution

app = typer.Typer(help="Pooled screening tests.", no_args_is_help=True)


def _read(path: Path, needed: tuple[str, ...]) -> pl.DataFrame:
    try:
        frame = pl.read_csv(path, infer_schema=False)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise SchoolmodeError(f"{path}: cannot read CSV: {exc}") from None
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise SchoolmodeError(f"{path}: missing column(s) {', '.join(missing)}")
    if "specimen_date" in frame.columns:
        parsed = frame.with_columns(pl.col("specimen_date").str.to_date(strict=False))
        bad = frame.with_row_index("row", offset=1).filter(
            parsed["specimen_date"].is_null() & frame["specimen_date"].is_not_null()
        )
        if bad.height:
            r = bad.row(0, named=True)
            raise SchoolmodeError(
                f"{path}: row {r['row']}: field 'specimen_date': {r['specimen_date']!r} "
                "is not a date written YYYY-MM-DD"
            )
        frame = parsed
    return frame.with_columns(pl.col("result").str.strip_chars().str.to_lowercase())


@app.command("results")
def results(
    path: Annotated[
        Path,
        typer.Argument(
            help="Results CSV. Stored plan: specimen_id, pool_id or person_id, result, "
            "specimen_date[, result_date]. With --assignments: pool_id, result[, specimen_date]."
        ),
    ],
    assignments: Annotated[
        Path | None,
        typer.Option(
            "--assignments",
            help="Pool assignment CSV (person_id, pool_id): deconvolve files only, store nothing.",
        ),
    ] = None,
    retests: Annotated[
        Path | None,
        typer.Option(
            "--retests", help="Individual retest CSV: person_id, result[, specimen_date]."
        ),
    ] = None,
    today: Annotated[
        str | None,
        typer.Option(
            "--today", help="Specimens dated after this day are rejected (default: today)."
        ),
    ] = None,
    rule: Annotated[
        str, typer.Option("--rule", help="Positivity rule: by_test or by_person.")
    ] = "by_test",
    plan: Annotated[
        int | None, typer.Option("--plan", help="Stored plan id (default: the latest).")
    ] = None,
    db: DbOption = None,
    by: Annotated[str | None, typer.Option("--by", help="Who records (default: OS user).")] = None,
) -> None:
    """Read pool and retest results: negatives, positives, the retest queue and positivity.

    Without --assignments the results are stored against a stored plan's pools; rows that need
    a person (unknown pool, person not in the plan, future specimen, conflicting duplicate)
    go to the exceptions queue (`screening exceptions`)."""
    if rule not in ("by_test", "by_person"):
        raise _fail(SchoolmodeError(f"--rule must be by_test or by_person, not {rule!r}"))
    if assignments is None:
        if retests is not None:
            raise _fail(
                SchoolmodeError(
                    "--retests goes with --assignments; a stored plan's results "
                    "file holds pool and individual rows"
                )
            )
        _stored_results(path, plan, today, rule, db, by)
        return
    from schoolmode.operations.pooling import deconvolve, positivity

    try:
        pools = _read(path, ("pool_id", "result"))
        members = pl.read_csv(assignments, infer_schema=False).select("person_id", "pool_id")
        singles = _read(retests, ("person_id", "result")) if retests else None
        day = _day(today, "--today") if today else None
        outcome = deconvolve(members, pools, singles, day)
        rate = positivity(
            pools, singles, outcome, "by_person" if rule == "by_person" else "by_test"
        )
    except (SchoolmodeError, OSError, pl.exceptions.PolarsError) as exc:
        raise _fail(exc) from None
    _print_outcome(outcome, rate, rule)


def _print_outcome(outcome: Deconvolution, rate: dict[str, Any], rule: str) -> None:
    c = outcome.counts
    console.print(
        f"{c['persons']} persons in {c['pools']} pools ({c['pools_tested']} tested): "
        f"{c['negative']} negative, {c['positive']} positive, "
        f"{c['retest_queued']} to retest, {c['pending']} pending"
    )
    console.print(
        f"pools: {c['pools_positive']} positive, {c['pools_negative']} negative, "
        f"{c['pools_invalid']} invalid, {c['pools_inconclusive']} inconclusive; "
        f"retests: {c['individual_positive']} positive, {c['individual_negative']} negative, "
        f"{c['individual_invalid']} invalid, {c['individual_inconclusive']} inconclusive"
    )
    share = rate["positivity"]
    shown = "n/a" if share is None else f"{100 * float(share):.2f}%"
    console.print(
        f"positivity ({rule}): {rate['positive']}/{rate['denominator']} = {shown}; "
        f"excluded {rate['excluded_invalid']} invalid, {rate['excluded_inconclusive']} inconclusive"
    )
    for person, pool, reason in outcome.retest_queue.iter_rows():
        console.print(f"retest {person} (pool {pool}): {reason}")


def _engine(db: str | None) -> Engine:
    from schoolmode.store.db import make_engine
    from schoolmode.store.migrate import current_revision, head_revision

    engine = make_engine(db)
    if current_revision(engine) != head_revision():
        engine.dispose()
        raise SchoolmodeError(
            "the database is not at the latest schema: run `schoolmode db upgrade`"
        )
    return engine


def _stored_results(
    path: Path, plan: int | None, today: str | None, rule: str, db: str | None, by: str | None
) -> None:
    from schoolmode.operations.screening_store import ingest_results, plan_id_for, plan_outcome

    try:
        day = _day(today, "--today") if today else dt.date.today()
        engine = _engine(db)
        try:
            plan_id = plan_id_for(engine, plan)
            checked = ingest_results(engine, plan_id, path, day, by)
            done = plan_outcome(engine, plan_id)
        finally:
            engine.dispose()
    except SchoolmodeError as exc:
        raise _fail(exc) from None
    n = checked.counts()
    console.print(
        f"{path}: {n['rows']} row(s) for plan {plan_id} ({done.plan.policy_id}, week of "
        f"{done.plan.week}): {n['stored']} stored, {n['unchanged']} unchanged (already stored), "
        f"{n['exceptions']} to the exceptions queue"
    )
    for r in checked.exceptions.iter_rows(named=True):
        console.print(
            f"exception: row {r['file_row']}: field {r['field']!r}: {r['value']!r}: "
            f"{r['kind']}: {r['detail']}"
        )
    _print_outcome(done.outcome, done.positivity[rule], rule)
    if done.open_exceptions:
        console.print(
            f"{done.open_exceptions} open exception(s) for this plan: `schoolmode screening exceptions`"
        )


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), transient=True
    )


@app.command("plan")
def plan_command(
    week: Annotated[
        str, typer.Option("--week", help="Week: ISO week (2022-W04) or any day of it (YYYY-MM-DD).")
    ],
    policy: Annotated[
        str | None,
        typer.Option("--policy", help="Policy id (default: the screening agreement in force)."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Recorded seed of the random selection.")] = 0,
    priority_schools: Annotated[
        Path | None,
        typer.Option(
            "--priority-schools",
            help="File of school ids (one per line) for staff_priority_schools=listed.",
        ),
    ] = None,
    setting: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a parameter or reading: NAME=VALUE (repeatable)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    db: DbOption = None,
    policies_dir: PoliciesDir = None,
    by: Annotated[str | None, typer.Option("--by", help="Who plans (default: OS user).")] = None,
) -> None:
    """Plan a week's screening tests by the policy in force, store it, print per-school counts
    and consent shortfalls."""
    from decimal import Decimal, InvalidOperation

    from schoolmode.operations.screening import make_plan, screening_policy, week_monday
    from schoolmode.operations.screening_store import plan_inputs, save_plan
    from schoolmode.policy.loader import Registry
    from schoolmode.policy.values import Value

    try:
        monday = week_monday(week)
        chosen = screening_policy(Registry(policies_dir), monday, policy)
        settings: dict[str, Value] = {}
        for item in setting or []:
            name, sep, value = item.partition("=")
            if not sep:
                raise SchoolmodeError(f"--set {item!r}: expected NAME=VALUE")
            try:
                settings[name.strip()] = Decimal(value)
            except InvalidOperation:
                settings[name.strip()] = value.strip()
        listed = (
            [s.strip() for s in priority_schools.read_text().splitlines() if s.strip()]
            if priority_schools
            else None
        )
        engine = _engine(db)
        try:
            with _progress() as bar:
                task = bar.add_task("screening plan: reading the store", total=3)
                frames = plan_inputs(engine)
                bar.update(task, advance=1, description="screening plan: selecting and pooling")
                made = make_plan(frames, chosen, monday, seed, settings, listed)
                bar.update(task, advance=1, description="screening plan: storing")
                plan_id = save_plan(engine, made, by)
                bar.advance(task)
        finally:
            engine.dispose()
    except (SchoolmodeError, OSError) as exc:
        raise _fail(exc) from None
    schools = made.schools
    totals = {c: int(schools[c].sum()) for c in schools.columns if schools[c].dtype == pl.Int64}
    pools = made.tests["pool_id"].n_unique()
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "plan_id": plan_id,
                    "policy_id": made.policy_id,
                    "week": made.week.isoformat(),
                    "seed": made.seed,
                    "settings": made.settings,
                    "top_zips": made.top_zips.to_dicts(),
                    "totals": {**totals, "tests": made.tests.height, "pools": pools},
                    "schools": schools.to_dicts(),
                },
                default=str,
            )
        )
        return
    console.print(
        f"plan {plan_id}: {made.policy_id}, week of {made.week} ({made.label}), seed {made.seed}: "
        f"{made.tests.height} tests in {pools} pools of up to "
        f"{made.settings['screening_pool_size']}; staff {totals.get('staff_selected', 0)}/"
        f"{totals.get('staff_target', 0)}, students {totals.get('students_selected', 0)}/"
        f"{totals.get('student_target', 0)} (selected/target)"
    )
    if made.top_zips.height:
        console.print(
            f"top {made.top_zips.height} ZIP codes (weeks ending {made.settings['zip_data_from']} "
            f".. {made.settings['zip_data_to']}): {', '.join(made.top_zips['zip'].to_list())}"
        )
    table = Table(
        "school",
        "zip",
        "staff",
        "staff target",
        "staff tested",
        "students",
        "eligible",
        "student target",
        "consented",
        "students tested",
        "shortfall",
    )
    for r in schools.iter_rows(named=True):
        table.add_row(
            r["school_id"],
            r["zip"] or "",
            *[
                str(r[c])
                for c in (
                    "staff",
                    "staff_target",
                    "staff_selected",
                    "students",
                    "students_eligible",
                    "student_target",
                    "students_consented",
                    "students_selected",
                )
            ],
            str(r["staff_shortfall"] + r["student_shortfall"]),
        )
    console.print(table)
    short = made.shortfalls()
    console.print(
        f"consent shortfall at {short.height} school(s): staff "
        f"{totals.get('staff_shortfall', 0)}, students {totals.get('student_shortfall', 0)} "
        "tests short of the target"
    )


@app.command("exceptions")
def exceptions_command(
    plan: Annotated[int | None, typer.Option("--plan", help="Only this plan.")] = None,
    show_all: Annotated[bool, typer.Option("--all", help="Resolved exceptions too.")] = False,
    resolve: Annotated[
        int | None, typer.Option("--resolve", help="Resolve this exception id (needs --note).")
    ] = None,
    note: Annotated[str | None, typer.Option("--note", help="What was done to resolve it.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    db: DbOption = None,
    by: Annotated[str | None, typer.Option("--by", help="Who resolves (default: OS user).")] = None,
) -> None:
    """List the screening exceptions queue, or resolve one exception."""
    from schoolmode.operations.screening_store import list_exceptions, resolve_exception

    try:
        engine = _engine(db)
        try:
            if resolve is not None:
                if note is None:
                    raise SchoolmodeError("--resolve needs --note")
                resolve_exception(engine, resolve, note, by)
                console.print(f"exception {resolve} resolved")
                return
            rows = list_exceptions(engine, None if show_all else "open", plan)
        finally:
            engine.dispose()
    except SchoolmodeError as exc:
        raise _fail(exc) from None
    if as_json:
        typer.echo(json.dumps(rows.to_dicts()))
        return
    console.print(f"{rows.height} {'' if show_all else 'open '}screening exception(s)")
    for r in rows.iter_rows(named=True):
        console.print(
            f"#{r['id']} plan {r['plan_id']} {r['kind']} [{r['status']}]: {r['file_name']} row "
            f"{r['file_row']}: field {r['field']!r}: {r['value']!r}: {r['detail']}"
            + (f" (resolved by {r['resolved_by']}: {r['resolution']})" if r["resolution"] else "")
        )


def _week_tests(engine: Engine, monday: dt.date) -> pl.DataFrame:
    """The store's standard ``test`` rows with a specimen collected Monday to Sunday."""
    from sqlalchemy import select

    from schoolmode.standard.batch import frame_schema
    from schoolmode.standard.models import RECORD_TYPES
    from schoolmode.store.tables import RECORD_TABLES

    table = RECORD_TABLES["test"]
    schema = frame_schema(RECORD_TYPES["test"])
    query = select(*(table.c[c] for c in schema)).where(
        table.c.specimen_date.between(monday, monday + dt.timedelta(days=6))
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")


def _plan_rates(engine: Engine, monday: dt.date) -> list[dict[str, Any]]:
    """Positivity of the week's latest stored plan from its lab results (none: empty)."""
    from schoolmode.operations.screening import ScreeningError
    from schoolmode.operations.screening_store import plan_id_for, plan_outcome

    try:
        plan_id = plan_id_for(engine, None, monday)
    except ScreeningError:
        return []
    done = plan_outcome(engine, plan_id)
    return [{"plan_id": plan_id, **done.positivity[r]} for r in ("by_test", "by_person")]


@app.command("positivity")
def positivity_command(
    week: Annotated[
        str, typer.Option("--week", help="Week: ISO week (2022-W04) or any day of it (YYYY-MM-DD).")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    db: DbOption = None,
) -> None:
    """Test positivity of a week from the stored tests (specimens collected Monday to Sunday):
    screening and diagnostic apart, by test and by person, invalid and inconclusive results
    excluded and counted; and the week's latest screening plan from its stored lab results."""
    from schoolmode.operations.screening import week_monday
    from schoolmode.operations.screening_results import positivity_of_tests

    try:
        monday = week_monday(week)
        engine = _engine(db)
        try:
            tests = _week_tests(engine, monday)
            plans = _plan_rates(engine, monday)
        finally:
            engine.dispose()
    except SchoolmodeError as exc:
        raise _fail(exc) from None
    rates = positivity_of_tests(tests)
    sunday = monday + dt.timedelta(days=6)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "week": monday.isoformat(),
                    "tests": tests.height,
                    "positivity": rates.to_dicts(),
                    "plan": plans,
                },
                default=str,
            )
        )
        return
    console.print(f"{tests.height} stored test(s) with a specimen collected {monday} .. {sunday}")
    table = Table(
        "tests", "rule", "positive", "denominator", "positivity", "excluded invalid",
        "excluded inconclusive", title="Positivity (test table)", title_justify="left",
    )  # fmt: skip
    for r in rates.iter_rows(named=True):
        share = r["positivity"]
        table.add_row(
            r["kind"],
            r["rule"],
            str(r["positive"]),
            str(r["denominator"]),
            "n/a" if share is None else f"{100 * share:.2f}%",
            str(r["excluded_invalid"]),
            str(r["excluded_inconclusive"]),
        )
    console.print(table)
    if not plans:
        console.print("no screening plan stored for this week")
    for r in plans:
        share = r["positivity"]
        shown = "n/a" if share is None else f"{100 * float(share):.2f}%"
        console.print(
            f"plan {r['plan_id']} lab results ({r['rule']}): {r['positive']}/{r['denominator']} = "
            f"{shown}; excluded {r['excluded_invalid']} invalid, "
            f"{r['excluded_inconclusive']} inconclusive"
        )
