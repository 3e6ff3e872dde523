"""``schoolmode policy ...``: list, show, test, explain, diff, validate and export policies;
the face of ``schoolmode.app.policies``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from schoolmode.cli.common import parse_day
from schoolmode.policy.errors import SchoolmodeError

if TYPE_CHECKING:
    from schoolmode.app.context import Context
    from schoolmode.app.policies import PolicyView

app = typer.Typer(
    help="Policies as code: the shipped agreements, proposals and guidance.", no_args_is_help=True
)
console = Console(highlight=False)
if not console.is_terminal:
    console = Console(highlight=False, width=180)
err = Console(stderr=True, highlight=False)

PoliciesDir = Annotated[
    Path | None,
    typer.Option(
        "--policies",
        help="Folder of policies (default: ./policies or $SCHOOLMODE_POLICIES).",
        file_okay=False,
    ),
]


def _fail(exc: Exception) -> typer.Exit:
    """``exc`` on stderr in one line; its exit code (``SchoolmodeError.exit_code``, else 2)."""
    from rich.markup import escape

    err.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True, soft_wrap=True)
    return typer.Exit(code=exc.exit_code if isinstance(exc, SchoolmodeError) else 2)


@contextmanager
def _context(policies: Path | None = None) -> Iterator[Context]:
    """The use cases' context; a ``SchoolmodeError`` inside is the command's error (printed on
    stderr, its exit code)."""
    from schoolmode.app.context import open_context

    try:
        with open_context(policies_dir=policies) as ctx:
            yield ctx
    except SchoolmodeError as exc:
        raise _fail(exc) from None


@app.command("list")
def list_policies(policies: PoliciesDir = None) -> None:
    """List every policy with its kind, status, term, rules and cases."""
    from schoolmode.app.policies import list_policies as run

    with _context(policies) as ctx:
        listed = run(ctx)
    table = Table(title=f"{len(listed.rows)} policies in {listed.root}")
    table.add_column("id", no_wrap=True)
    for column in ("kind", "status", "term", "rules", "cases", "title"):
        table.add_column(column, overflow="fold")
    for r in listed.rows:
        table.add_row(r.id, r.kind, r.status, r.term, str(r.rules), str(r.cases), r.title)
    console.print(table)


@app.command()
def show(
    policy_id: str,
    policies: PoliciesDir = None,
    on: Annotated[
        str | None, typer.Option(help="Show parameter values in force on this date.")
    ] = None,
) -> None:
    """Show a policy: parameters with their sources, interpretations and rules."""
    from schoolmode.app.policies import ShowPolicyRequest, show_policy

    with _context(policies) as ctx:
        req = ShowPolicyRequest(policy_id=policy_id, on=parse_day(on, "--on") if on else None)
        view = show_policy(ctx, req)
    _print_policy(view)


def _print_policy(view: PolicyView) -> None:
    console.print(
        f"[bold]{view.title}[/] ({view.id}, version {view.version}, {view.content_hash[:19]}…)"
    )
    console.print(
        f"{view.kind}, {view.status}; parties: {', '.join(view.parties)}; term {view.term}"
    )
    console.print(view.summary)
    params = Table(title="Parameters", show_lines=True)
    for column in ("name", "from", "value", "conf.", "clause / quote", "source"):
        params.add_column(column, overflow="fold")
    for v in view.parameters:
        params.add_row(v.name, str(v.from_), v.value, v.confidence, v.clause, v.source)
    console.print(params)
    if view.interpretations:
        interps = Table(
            title="Interpretation parameters (where the source is ambiguous)", show_lines=True
        )
        for column in ("name", "default", "choices", "rationale", "cases"):
            interps.add_column(column, overflow="fold")
        for i in view.interpretations:
            interps.add_row(
                i.name, i.default, ", ".join(i.choices), i.rationale, ", ".join(i.cases)
            )
        console.print(interps)
    rules = Table(title="Rules", show_lines=True)
    for column in ("rule", "scope", "description"):
        rules.add_column(column, overflow="fold")
    for rule in view.rules:
        text = "\n".join(f"{k}: {v}" for k, v in rule.description.items())
        rules.add_row(f"{rule.id}\n{rule.title}", rule.scope, text)
    console.print(rules)
    for note in view.notes:
        console.print(f"- {note}")


@app.command("test")
def run_cases(
    path: Annotated[
        Path | None, typer.Argument(help="A policies folder, one policy's folder, or a case file.")
    ] = None,
    policy: Annotated[
        list[str] | None, typer.Option("--policy", "-p", help="Only these policy ids.")
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="List every case variant.")
    ] = False,
) -> None:
    """Run the worked cases beside the policies; exit 1 if any fails."""
    from schoolmode.app.policies import RunCasesRequest
    from schoolmode.app.policies import run_cases as run

    with (
        _context() as ctx,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=err,
            transient=True,
        ) as progress,
    ):
        task = progress.add_task("running cases", total=None)
        report = run(
            ctx,
            RunCasesRequest(path=path, policy_ids=policy or []),
            lambda done, total: progress.update(task, completed=done, total=total),
        )
    for outcome in report.outcomes:
        reading = f"reading {outcome.reading}" if outcome.reading else "default readings"
        applied = f"; counterfactual: {outcome.counterfactual}" if outcome.counterfactual else ""
        what = escape(f"{outcome.policy_id} :: {outcome.case_id} ({reading}{applied})")
        if not outcome.passed:
            console.print(f"[red]FAIL[/] {what}  ({escape(str(outcome.path))})")
            for failure in outcome.failures:
                console.print(f"      {escape(failure)}")
        elif verbose:
            console.print(f"[green]PASS[/] {what}")
    total, failed = len(report.outcomes), report.failed
    outside = sum(1 for o in report.outcomes if o.counterfactual)
    console.print(
        f"{total - failed} passed, {failed} failed "
        f"({total} variants of {report.cases} cases over {report.policies} policies"
        + (f"; {outside} applied outside their policy's term on request" if outside else "")
        + ")"
    )
    if failed:
        raise typer.Exit(code=1)


@app.command("explain")
def explain_case(
    policy_id: str,
    case: Annotated[str, typer.Option("--case", help="Case id (as in the case file).")],
    reading: Annotated[str | None, typer.Option(help="Name of a reading of the case.")] = None,
    unit: Annotated[
        str | None, typer.Option(help="Unit to explain (default: each one the case checks).")
    ] = None,
    date: Annotated[str | None, typer.Option(help="Day to explain (YYYY-MM-DD).")] = None,
    scope: Annotated[str | None, typer.Option(help="classroom, school or district.")] = None,
    all_rules: Annotated[
        bool, typer.Option("--all-rules", help="Also explain rules that were not met.")
    ] = False,
    technical: Annotated[
        bool,
        typer.Option(
            "--technical",
            help="The whole trace in words, with the parameters and readings behind each figure.",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the trace as JSON.")] = False,
    policies: PoliciesDir = None,
) -> None:
    """Explain, in plain language, what a policy decides on one of its cases and why."""
    from schoolmode.app.policies import ExplainCaseRequest
    from schoolmode.app.policies import explain_case as run

    with _context(policies) as ctx:
        day = parse_day(date, "--date") if date else None  # a bad date is said, never ignored
        if day is not None and unit is None:
            raise SchoolmodeError("--date needs --unit: the day of which unit to explain")
        req = ExplainCaseRequest(
            policy_id=policy_id,
            case=case,
            reading=reading,
            unit=unit,
            day=day,
            scope=scope,
            all_rules=all_rules,
            technical=technical,
        )
        result = run(ctx, req)
    if as_json:
        console.print_json(json.dumps(result.traces, default=str))
        return
    header = (
        f"Case {result.case}"
        + (f" [{result.reading}]" if result.reading else "")
        + f": {result.title}"
    )
    console.print(header, markup=False)
    for text in result.texts:
        console.print("")
        console.print(text, markup=False)


@app.command()
def diff(
    policy_a: str,
    policy_b: str,
    policies: PoliciesDir = None,
    all_rows: Annotated[
        bool, typer.Option("--all", help="Also show the rows that are the same.")
    ] = False,
) -> None:
    """Two policies side by side: which thresholds, windows, scopes and durations differ."""
    from schoolmode.app.policies import DiffRequest, diff_policies

    with _context(policies) as ctx:
        result = diff_policies(ctx, DiffRequest(policy_a=policy_a, policy_b=policy_b))
    table = Table(title=f"{result.a}  vs  {result.b}", show_lines=True)
    table.add_column("section")
    table.add_column("item", overflow="fold")
    table.add_column(result.a, overflow="fold")
    table.add_column(result.b, overflow="fold")
    for row in result.rows:
        if row.differs or all_rows:
            style = "bold" if row.differs else "dim"
            table.add_row(row.section, row.item, row.left, row.right, style=style)
    console.print(table)
    console.print(f"{sum(r.differs for r in result.rows)} of {len(result.rows)} rows differ.")


@app.command()
def validate(
    path: Annotated[
        Path,
        typer.Argument(
            help="A policy file, a policy folder, a case file, or a folder of policies."
        ),
    ],
) -> None:
    """Validate policy and case files; errors name file, line and key."""
    from schoolmode.app.policies import ValidateRequest, validate_files

    with _context() as ctx:
        report = validate_files(ctx, ValidateRequest(path=path))
    for problem in report.problems:
        console.print(problem, markup=False)
    if report.problems:
        console.print(f"{len(report.problems)} file(s) with problems")
        raise typer.Exit(code=1)
    console.print(f"{report.checked} file(s) valid")


@app.command()
def docs(
    out: Annotated[Path, typer.Option(help="The docs folder to write into.")] = Path("docs"),
    policies: PoliciesDir = None,
) -> None:
    """Write the generated reference docs: JSON Schemas and the interpretation defaults."""
    from schoolmode.app.policies import DocsRequest, write_docs

    with _context(policies) as ctx:
        written = write_docs(ctx, DocsRequest(out=out))
    for path in written:
        console.print(f"wrote {path}")
