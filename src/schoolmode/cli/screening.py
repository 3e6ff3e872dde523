"""``schoolmode screening plan|results|exceptions|positivity``: weekly screening plans, pooled
(Dorfman) results, the exceptions queue and a week's positivity; the face of
``app/screening.py`` (parse, call the use case, render)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from schoolmode.cli.common import DbOption, PoliciesDir, app_context, console, fail, parse_day
from schoolmode.policy.errors import SchoolmodeError

if TYPE_CHECKING:
    from schoolmode.app.screening import Outcome, PlanResult
    from schoolmode.policy.values import Value

app = typer.Typer(help="Pooled screening tests.", no_args_is_help=True)


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
        raise fail(SchoolmodeError(f"--rule must be by_test or by_person, not {rule!r}"))
    if assignments is None:
        if retests is not None:
            raise fail(
                SchoolmodeError(
                    "--retests goes with --assignments; a stored plan's results "
                    "file holds pool and individual rows"
                )
            )
        _stored_results(path, plan, today, rule, db, by)
        return
    from schoolmode.app.screening import FileResultsRequest, file_results

    try:
        day = parse_day(today, "--today") if today else None
    except SchoolmodeError as exc:
        raise fail(exc) from None
    req = FileResultsRequest(
        results=path,
        assignments=assignments,
        retests=retests,
        today=day,
        rule="by_person" if rule == "by_person" else "by_test",
    )
    with app_context(db) as ctx:
        outcome = file_results(ctx, req)
    _print_outcome(outcome, rule)


def _print_outcome(outcome: Outcome, rule: str) -> None:
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
    rate = outcome.positivity
    share = rate["positivity"]
    shown = "n/a" if share is None else f"{100 * float(share):.2f}%"
    console.print(
        f"positivity ({rule}): {rate['positive']}/{rate['denominator']} = {shown}; "
        f"excluded {rate['excluded_invalid']} invalid, {rate['excluded_inconclusive']} inconclusive"
    )
    for r in outcome.retests:
        console.print(f"retest {r.person_id} (pool {r.pool_id}): {r.reason}")


def _stored_results(
    path: Path, plan: int | None, today: str | None, rule: str, db: str | None, by: str | None
) -> None:
    from schoolmode.app.screening import StoredResultsRequest, stored_results

    try:
        day = parse_day(today, "--today") if today else dt.date.today()
    except SchoolmodeError as exc:
        raise fail(exc) from None
    req = StoredResultsRequest(
        path=path,
        today=day,
        plan_id=plan,
        rule="by_person" if rule == "by_person" else "by_test",
        by=by,
    )
    with app_context(db) as ctx:
        done = stored_results(ctx, req)
    n = done.counts
    console.print(
        f"{path}: {n['rows']} row(s) for plan {done.plan_id} ({done.policy_id}, week of "
        f"{done.week}): {n['stored']} stored, {n['unchanged']} unchanged (already stored), "
        f"{n['exceptions']} to the exceptions queue"
    )
    for r in done.exceptions:
        console.print(
            f"exception: row {r.file_row}: field {r.field!r}: {r.value!r}: {r.kind}: {r.detail}"
        )
    _print_outcome(done.outcome, rule)
    if done.open_exceptions:
        console.print(
            f"{done.open_exceptions} open exception(s) for this plan: `schoolmode screening exceptions`"
        )


class _PlanProgress:
    """The plan's progress bar (three steps), shown from the first step the use case starts
    (once the policy and the store are checked)."""

    def __init__(self) -> None:
        self.bar: Progress | None = None
        self.task: TaskID | None = None

    def __call__(self, name: str) -> None:
        if self.bar is None or self.task is None:
            self.bar = Progress(
                TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), transient=True
            )
            self.bar.start()
            self.task = self.bar.add_task(f"screening plan: {name}", total=3)
        else:
            self.bar.update(self.task, advance=1, description=f"screening plan: {name}")

    def advance(self) -> None:
        if self.bar is not None and self.task is not None:
            self.bar.advance(self.task)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()


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
    from schoolmode.app.screening import PlanRequest
    from schoolmode.app.screening import plan as plan_week
    from schoolmode.operations.screening import week_monday

    try:
        req = PlanRequest(
            week=week_monday(week),
            policy_id=policy,
            seed=seed,
            settings=_settings(setting or []),
            priority_schools=(
                [s.strip() for s in priority_schools.read_text().splitlines() if s.strip()]
                if priority_schools
                else None
            ),
            by=by,
        )
    except (SchoolmodeError, OSError) as exc:
        raise fail(exc) from None
    steps = _PlanProgress()
    with app_context(db, policies_dir) as ctx:
        try:
            made = plan_week(ctx, req, steps)
            steps.advance()
        finally:
            steps.stop()
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "plan_id": made.plan_id,
                    "policy_id": made.policy_id,
                    "week": made.week.isoformat(),
                    "seed": made.seed,
                    "settings": made.settings,
                    "top_zips": made.top_zips.to_dicts(),
                    "totals": {**made.totals, "tests": made.tests, "pools": made.pools},
                    "schools": made.schools.to_dicts(),
                },
                default=str,
            )
        )
        return
    _print_plan(made)


def _settings(items: list[str]) -> dict[str, Value]:
    """``--set NAME=VALUE`` options: a number where VALUE is one, else the text."""
    from decimal import Decimal, InvalidOperation

    settings: dict[str, Value] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise SchoolmodeError(f"--set {item!r}: expected NAME=VALUE")
        try:
            settings[name.strip()] = Decimal(value)
        except InvalidOperation:
            settings[name.strip()] = value.strip()
    return settings


def _print_plan(made: PlanResult) -> None:
    totals = made.totals
    console.print(
        f"plan {made.plan_id}: {made.policy_id}, week of {made.week} ({made.label}), seed "
        f"{made.seed}: {made.tests} tests in {made.pools} pools of up to "
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
    for r in made.schools.iter_rows(named=True):
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
    console.print(
        f"consent shortfall at {made.shortfall_schools} school(s): staff "
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
    from schoolmode.app import screening as uc

    with app_context(db) as ctx:
        if resolve is not None:
            if note is None:
                raise SchoolmodeError("--resolve needs --note")
            uc.resolve(ctx, uc.ResolveRequest(exception_id=resolve, note=note, by=by))
            console.print(f"exception {resolve} resolved")
            return
        rows = uc.exceptions(ctx, uc.ExceptionsRequest(plan_id=plan, show_all=show_all)).rows
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
    from schoolmode.app.screening import PositivityRequest, week_positivity
    from schoolmode.operations.screening import week_monday

    with app_context(db) as ctx:
        found = week_positivity(ctx, PositivityRequest(week=week_monday(week)))
    monday, rates, plans = found.monday, found.rates, found.plans
    sunday = monday + dt.timedelta(days=6)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "week": monday.isoformat(),
                    "tests": found.tests,
                    "positivity": rates.to_dicts(),
                    "plan": plans,
                },
                default=str,
            )
        )
        return
    console.print(f"{found.tests} stored test(s) with a specimen collected {monday} .. {sunday}")
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
