"""``schoolmode policy ...``: list, show, test, explain, diff, validate and export policies."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from schoolmode.cli.common import policies_root
from schoolmode.policy.errors import SchoolmodeError

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


def _registry(root: Path | None):  # type: ignore[no-untyped-def]
    from schoolmode.policy.loader import Registry

    return Registry(policies_root(root))


def _fail(exc: Exception) -> typer.Exit:
    err.print(f"[bold red]error:[/] {exc}", markup=True)
    return typer.Exit(code=2)


@app.command("list")
def list_policies(policies: PoliciesDir = None) -> None:
    """List every policy with its kind, status, term, rules and cases."""
    from schoolmode.cases.runner import case_files, load_case_file

    try:
        registry = _registry(policies)
        table = Table(title=f"{len(registry.ids())} policies in {registry.root}")
        table.add_column("id", no_wrap=True)
        for column in ("kind", "status", "term", "rules", "cases", "title"):
            table.add_column(column, overflow="fold")
        for loaded in registry.all():
            p = loaded.policy
            cases = sum(len(load_case_file(f).cases) for f in case_files(loaded))
            overlay = f" (overlay of {loaded.overlay.overlay_of})" if loaded.overlay else ""
            table.add_row(
                p.id,
                p.kind,
                p.status,
                f"{p.term.from_} – {p.term.to or 'open'}",
                str(len(p.rules)),
                str(cases),
                p.title + overlay,
            )
    except SchoolmodeError as exc:
        raise _fail(exc) from None
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
    from schoolmode.policy.describe import Describer

    try:
        loaded = _registry(policies).get(policy_id)
    except SchoolmodeError as exc:
        raise _fail(exc) from None
    p = loaded.policy
    console.print(f"[bold]{p.title}[/] ({p.id}, version {p.version}, {loaded.content_hash[:19]}…)")
    console.print(
        f"{p.kind}, {p.status}; parties: {', '.join(p.parties)}; term {p.term.from_} – {p.term.to or 'open'}"
    )
    console.print(p.summary)
    params = Table(title="Parameters", show_lines=True)
    for column in ("name", "from", "value", "conf.", "clause / quote", "source"):
        params.add_column(column, overflow="fold")
    for name, spec in p.parameters.items():
        for v in spec.values:
            src = p.sources.get(v.source)
            params.add_row(
                name,
                str(v.from_),
                f"{v.value}{' ' + spec.unit if spec.unit else ''}",
                v.confidence.value,
                v.clause + (f'\n"{v.quote}"' if v.quote else ""),
                (src.title + (f"\n{src.url}" if src.url else "")) if src else v.source,
            )
    console.print(params)
    if p.interpretations:
        interps = Table(
            title="Interpretation parameters (where the source is ambiguous)", show_lines=True
        )
        for column in ("name", "default", "choices", "rationale", "cases"):
            interps.add_column(column, overflow="fold")
        for name, i in p.interpretations.items():
            interps.add_row(
                name,
                str(i.default),
                ", ".join(map(str, i.choices)),
                i.rationale,
                ", ".join(i.cases),
            )
        console.print(interps)
    describer = Describer(p, dt.date.fromisoformat(on) if on else None)
    rules = Table(title="Rules", show_lines=True)
    for column in ("rule", "scope", "description"):
        rules.add_column(column, overflow="fold")
    for rule in p.rules:
        text = "\n".join(f"{k}: {v}" for k, v in describer.rule(rule).items())
        rules.add_row(f"{rule.id}\n{rule.title}", rule.scope.value, text)
    console.print(rules)
    for note in p.notes:
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
    from schoolmode.cases.runner import CaseRun, collect, execute, runs_for
    from schoolmode.policy.loader import POLICY_FILE, Registry, load_policy_path

    try:
        runs: list[CaseRun]
        if path is not None and path.is_file():
            folder = path.parent.parent
            registry = Registry(folder.parent)
            runs = list(runs_for(load_policy_path(folder / POLICY_FILE, registry), path))
        elif path is not None and (path / POLICY_FILE).exists():
            registry = Registry(path.parent)
            only = [registry.get(load_policy_path(path / POLICY_FILE, registry).id).id]
            runs = collect(registry, only)
        else:
            registry = Registry(policies_root(path))
            runs = collect(registry, policy or None)
    except SchoolmodeError as exc:
        raise _fail(exc) from None
    failed = 0
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("running cases", total=len(runs))
        results = []
        for run in runs:
            results.append(execute(run, registry))
            progress.advance(task)
    for result in results:
        if not result.passed:
            failed += 1
            console.print(
                f"[red]FAIL[/] {result.run.policy_id} :: {result.run.test_id}  ({result.run.path})"
            )
            for failure in result.failures:
                console.print(f"      {failure}")
        elif verbose:
            console.print(f"[green]PASS[/] {result.run.policy_id} :: {result.run.test_id}")
    cases = len({(r.run.path, r.run.case_id) for r in results})
    policies_seen = len({r.run.policy_id for r in results})
    console.print(
        f"{len(results) - failed} passed, {failed} failed "
        f"({len(results)} variants of {cases} cases over {policies_seen} policies)"
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
    as_json: Annotated[bool, typer.Option("--json", help="Print the trace as JSON.")] = False,
    policies: PoliciesDir = None,
) -> None:
    """Explain, in plain language, what a policy decides on one of its cases and why."""
    from schoolmode.cases.runner import collect, evaluate_case
    from schoolmode.engine.explain import explain
    from schoolmode.engine.trace import trace
    from schoolmode.policy.cases import EngineCase, Expectation

    try:
        registry = _registry(policies)
        loaded = registry.get(policy_id)
        runs = [r for r in collect(registry) if r.case_id == case and r.policy_id == loaded.id]
        if reading is not None:
            runs = [r for r in runs if r.reading == reading]
        if not runs:
            known = sorted(
                {r.case_id for r in collect(registry, [loaded.id]) if r.policy_id == loaded.id}
            )
            raise SchoolmodeError(
                f"policy {loaded.id!r} has no case {case!r}"
                + (f" with reading {reading!r}" if reading else "")
                + f"; its cases: {', '.join(known) or 'none'}"
            )
        run = runs[0]
        if not isinstance(run.case, EngineCase):
            raise SchoolmodeError(
                f"case {case!r} is an operation case ({run.case.operation}); "
                "run `schoolmode policy test` to see its figures"
            )
        evaluation = evaluate_case(run.case, loaded.policy, run.settings)
        targets: list[tuple[str, str, dt.date]] = []
        if unit and date:
            targets.append((scope or "school", unit, dt.date.fromisoformat(date)))
        else:
            for raw in run.expect:
                exp = raw if isinstance(raw, Expectation) else Expectation.model_validate(raw)
                day = exp.date or exp.from_
                if day is None or (unit and exp.unit != unit):
                    continue
                key = (exp.scope.value, exp.unit, day)
                if key not in targets:
                    targets.append(key)
        outputs = [trace(evaluation, s, u, d) for s, u, d in targets]
    except SchoolmodeError as exc:
        raise _fail(exc) from None
    if as_json:
        console.print_json(json.dumps([t.to_dict() for t in outputs], default=str))
        return
    header = f"Case {case}" + (f" [{run.reading}]" if run.reading else "") + f": {run.case.title}"
    console.print(header, markup=False)
    for t in outputs:
        console.print("")
        console.print(explain(t, all_rules=all_rules), markup=False)


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
    from schoolmode.policy.diff import policy_diff

    try:
        registry = _registry(policies)
        a, b = registry.get(policy_a).policy, registry.get(policy_b).policy
    except SchoolmodeError as exc:
        raise _fail(exc) from None
    rows = policy_diff(a, b)
    table = Table(title=f"{a.id}  vs  {b.id}", show_lines=True)
    table.add_column("section")
    table.add_column("item", overflow="fold")
    table.add_column(a.id, overflow="fold")
    table.add_column(b.id, overflow="fold")
    shown = 0
    for row in rows:
        if row.differs or all_rows:
            shown += 1
            style = "bold" if row.differs else "dim"
            table.add_row(row.section, row.item, row.left, row.right, style=style)
    console.print(table)
    console.print(f"{sum(r.differs for r in rows)} of {len(rows)} rows differ.")


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
    from schoolmode.cases.runner import load_case_file
    from schoolmode.policy.loader import POLICY_FILE, Registry, load_policy_path

    checked = 0
    problems: list[str] = []
    targets: list[Path]
    if path.is_dir() and not (path / POLICY_FILE).exists():
        targets = sorted(path.glob(f"*/{POLICY_FILE}"))
        registry = None
        try:
            registry = Registry(path)
        except SchoolmodeError as exc:
            problems.append(str(exc))
    else:
        targets = [path / POLICY_FILE if path.is_dir() else path]
        registry = None
    for target in targets:
        try:
            if target.parent.name == "cases" or (
                target.name != POLICY_FILE and "cases" in target.parts
            ):
                load_case_file(target)
            else:
                load_policy_path(target, registry)
                for case_file in sorted((target.parent / "cases").glob("*.yaml")):
                    load_case_file(case_file)
                    checked += 1
            checked += 1
        except SchoolmodeError as exc:
            problems.append(str(exc))
    for problem in problems:
        console.print(problem, markup=False)
    if problems:
        console.print(f"{len(problems)} file(s) with problems")
        raise typer.Exit(code=1)
    console.print(f"{checked} file(s) valid")


@app.command()
def docs(
    out: Annotated[Path, typer.Option(help="The docs folder to write into.")] = Path("docs"),
    policies: PoliciesDir = None,
) -> None:
    """Write the generated reference docs: JSON Schemas and the interpretation defaults."""
    from schoolmode.policy.docs import write

    try:
        written = write(_registry(policies), out)
    except SchoolmodeError as exc:
        raise _fail(exc) from None
    for path in written:
        console.print(f"wrote {path}")
