"""``schoolmode decide``, ``authorise``, ``explain``, ``audit reproduce`` and ``decisions list``:
the face of ``schoolmode.app.decisions``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from schoolmode.cli.common import DbOption, PoliciesDir, app_context, console, parse_day, stages
from schoolmode.policy.errors import SchoolmodeError

if TYPE_CHECKING:
    pass

audit_app = typer.Typer(
    help="Audit records: reproduce a stored decision run.", no_args_is_help=True
)
decisions_app = typer.Typer(help="Stored decision runs.", no_args_is_help=True)


def decide(
    date: Annotated[str, typer.Option("--date", help="Day to decide (YYYY-MM-DD).")],
    to: Annotated[
        str | None, typer.Option("--to", help="Decide every day up to this one too.")
    ] = None,
    policy: Annotated[
        str | None, typer.Option("--policy", help="Policy id (default: the agreement in force).")
    ] = None,
    db: DbOption = None,
    policies_dir: PoliciesDir = None,
) -> None:
    """Decide the mode of every classroom, school and the district, and store it with its audit record."""
    from schoolmode.app import decisions

    with app_context(db, policies_dir) as ctx:
        first = parse_day(date, "--date")
        last = parse_day(to, "--to") if to else first
        req = decisions.DecideRequest(first=first, last=last, policy_id=policy)
        with stages("checking the policy and where the data end") as stage:
            # the policy id is checked and the data's coverage read before anything is
            # written; the warnings are printed once the run is stored (a failure stays one
            # line)
            gaps = decisions.data_gaps(ctx, req)
            summary = decisions.decide(ctx, req, stage)
    for line in gaps:
        console.print(f"warning: {line}", markup=False, soft_wrap=True)
    console.print(
        f"run {summary.run_id}: {summary.decisions} decisions under {summary.policy_id} for "
        f"{summary.first}{'' if summary.last == summary.first else f' to {summary.last}'}; "
        f"{summary.not_default} not in the default mode"
        + (f", of which {summary.no_data} no_data (inputs missing)" if summary.no_data else ""),
        markup=False,
    )
    for count in summary.no_data_rules:
        console.print(f"warning: {count.text}", markup=False, soft_wrap=True)
    if summary.missing_metrics:
        console.print(
            "metrics missing from the store (rules that read them have no data: no_data): "
            + ", ".join(summary.missing_metrics),
            markup=False,
        )


def authorise(
    policy: Annotated[str, typer.Option("--policy", help="Policy id.")],
    rule: Annotated[str, typer.Option("--rule", help="The eligible rule acted on.")],
    unit: Annotated[str, typer.Option("--unit", help="School (or classroom) id.")],
    date: Annotated[str, typer.Option("--date", help="First day of the decided mode.")],
    by: Annotated[
        str, typer.Option("--by", help="The body that decided, e.g. 'CPS Tactical Team'.")
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why.")],
    db: DbOption = None,
    policies_dir: PoliciesDir = None,
) -> None:
    """Record a named body's decision on an eligible rule (append-only)."""
    from schoolmode.app import decisions

    with app_context(db, policies_dir) as ctx:
        req = decisions.AuthoriseRequest(
            policy_id=policy,
            rule=rule,
            unit=unit,
            day=parse_day(date, "--date"),
            by=by,
            reason=reason,
        )
        key = decisions.authorise(ctx, req).key
    console.print(f"authorisation {key} recorded: {by} acts on {rule} for {unit} from {date}")


def refuse(
    policy: Annotated[str, typer.Option("--policy", help="Policy id.")],
    rule: Annotated[str, typer.Option("--rule", help="The eligible rule refused.")],
    unit: Annotated[str, typer.Option("--unit", help="School (or classroom) id.")],
    date: Annotated[str, typer.Option("--date", help="The day the change was refused for.")],
    by: Annotated[
        str, typer.Option("--by", help="The body that decided, e.g. 'CPS Tactical Team'.")
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why.")],
    db: DbOption = None,
    policies_dir: PoliciesDir = None,
) -> None:
    """Record a named body's refusal of an eligible change, with its reason (append-only)."""
    from schoolmode.app import decisions

    with app_context(db, policies_dir) as ctx:
        req = decisions.AuthoriseRequest(
            policy_id=policy,
            rule=rule,
            unit=unit,
            day=parse_day(date, "--date"),
            by=by,
            reason=reason,
        )
        key = decisions.refuse(ctx, req).key
    console.print(f"refusal {key} recorded: {by} does not act on {rule} for {unit} on {date}")


def explain(
    date: Annotated[str, typer.Option("--date", help="Day (YYYY-MM-DD).")],
    school: Annotated[str | None, typer.Option("--school", help="School id.")] = None,
    classroom: Annotated[str | None, typer.Option("--classroom", help="Classroom id.")] = None,
    district: Annotated[
        str | None, typer.Option("--district", help="District id (e.g. chicago).")
    ] = None,
    lang: Annotated[
        str, typer.Option("--lang", help="Language of the explanation: en or es.")
    ] = "en",
    technical: Annotated[
        bool,
        typer.Option(
            "--technical",
            help="The whole trace in words, with the parameters and readings behind each figure.",
        ),
    ] = False,
    public: Annotated[
        bool,
        typer.Option(
            "--public",
            help="The explanation for the public: thresholds met and by how much, in bands, "
            "never a count of people (docs/disclosure.md).",
        ),
    ] = False,
    db: DbOption = None,
) -> None:
    """Why is my school (classroom, district) in this mode? From the stored decision."""
    from schoolmode.app import decisions
    from schoolmode.i18n import LANGUAGES, language

    chosen = [
        (s, u)
        for s, u in (("school", school), ("classroom", classroom), ("district", district))
        if u
    ]
    with app_context(db) as ctx:
        if len(chosen) != 1:
            raise SchoolmodeError("name exactly one of --school, --classroom or --district")
        if lang not in LANGUAGES:
            raise SchoolmodeError(
                f"--lang: unsupported language {lang!r}; supported: {', '.join(LANGUAGES)}"
            )
        scope, unit = chosen[0]
        if public:
            if technical or lang != "en":
                raise SchoolmodeError("--public is in English and not --technical")
            from schoolmode.app.explain_public import public_explanation

            shown = public_explanation(ctx, scope, unit, parse_day(date, "--date"))
            console.print(shown.text, markup=False)
            return
        req = decisions.ExplainRequest(
            scope=scope, unit=unit, day=parse_day(date, "--date"), lang=lang, technical=technical
        )
        result = decisions.explain(ctx, req)
    console.print(result.text, markup=False)
    words = language(result.lang)
    console.print(
        "\n"
        + words.gettext(
            "(decision run {run_id}; `schoolmode audit reproduce {run_id}` recomputes it)"
        ).format(run_id=result.run_id),
        markup=False,
    )


@audit_app.command("reproduce")
def reproduce(run_id: int, db: DbOption = None, policies_dir: PoliciesDir = None) -> None:
    """Recompute a stored run; print "identical" or exactly what differs."""
    from schoolmode.app import decisions

    with (
        app_context(db, policies_dir) as ctx,
        stages(f"recomputing decision run {run_id} from its stored inputs"),
    ):
        report = decisions.reproduce(ctx, decisions.ReproduceRequest(run_id=run_id))
    console.print(report.text, markup=False)
    if not report.identical:
        raise typer.Exit(code=1)


@audit_app.command("verify")
def verify(
    db: DbOption = None,
    head: Annotated[
        str | None,
        typer.Option(
            "--head", help="A chain head published earlier: it must still be in the chain."
        ),
    ] = None,
) -> None:
    """Check the hash chain of decision runs, authorisations, the access and import logs, and
    every run's input snapshot; name the first broken link. Exit 1 when anything is broken."""
    from schoolmode.app import decisions

    with (
        app_context(db) as ctx,
        stages("checking the hash chain and every run's input snapshot"),
    ):
        report = decisions.verify(ctx, head)
    console.print(report.text, markup=False)
    if not report.intact:
        raise typer.Exit(code=1)


@audit_app.command("head")
def audit_head(db: DbOption = None) -> None:
    """The chain's head, to publish and keep: a later `audit verify --head` checks it."""
    from schoolmode.app import decisions

    with app_context(db) as ctx:
        found = decisions.audit_head(ctx)
    console.print(f"{found.head or '(empty chain)'} ({found.links} links, {found.linked_at})")


@decisions_app.command("list")
def list_runs(db: DbOption = None) -> None:
    """The stored decision runs."""
    from schoolmode.app import decisions

    with app_context(db) as ctx:
        runs = decisions.list_runs(ctx)
    for r in runs:
        console.print(
            f"run {r.run_id}: {r.policy_id} {r.first}..{r.last}, {r.decisions} decisions, "
            f"by {r.created_by} at {r.created_at:%Y-%m-%d %H:%M}"
        )


def register(app: typer.Typer) -> None:
    app.command("decide")(decide)
    app.command("authorise")(authorise)
    app.command("refuse")(refuse)
    app.command("explain")(explain)
    app.add_typer(audit_app, name="audit")
    app.add_typer(decisions_app, name="decisions")
