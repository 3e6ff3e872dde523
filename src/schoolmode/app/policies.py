"""Use cases of the policies: list, show, run their worked cases, explain a case, diff two
policies, validate files and write the generated reference docs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from schoolmode.app.context import Context
from schoolmode.policy.cases import EngineCase, case_files, load_case_file
from schoolmode.policy.describe import Describer
from schoolmode.policy.errors import SchoolmodeError
from schoolmode.policy.loader import POLICY_FILE, Registry, load_policy_path, registry_for

if TYPE_CHECKING:
    from schoolmode.cases.runner import CaseResult, CaseRun

# The worked cases' runner and the engine (numpy, polars) are imported by the use cases that
# run or explain cases, not by ``policy list``/``policy show`` (issue 17: a fast start).

Progress = Callable[[int, int], None]
"""Told ``(done, total)`` as the cases run."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


# ---------------------------------------------------------------------- list, show


class PolicyRow(_Frozen):
    """One policy in the list."""

    id: str
    kind: str
    status: str
    term: str
    """``FROM – TO`` (``open`` when the term has no end)."""
    rules: int
    cases: int
    title: str
    """The title, with ``(overlay of ID)`` for an overlay."""


class PolicyList(_Frozen):
    root: Path
    rows: list[PolicyRow]


def _term(start: dt.date, end: dt.date | None) -> str:
    return f"{start} – {end or 'open'}"


def list_policies(ctx: Context) -> PolicyList:
    """Every policy with its kind, status, term, number of rules and of worked cases."""
    registry = ctx.registry
    rows = []
    for loaded in registry.all():
        p = loaded.policy
        overlay = f" (overlay of {loaded.overlay.overlay_of})" if loaded.overlay else ""
        rows.append(
            PolicyRow(
                id=p.id,
                kind=p.kind,
                status=p.status,
                term=_term(p.term.from_, p.term.to),
                rules=len(p.rules),
                cases=sum(
                    len(load_case_file(f, ctx.settings.cache_dir).cases) for f in case_files(loaded)
                ),
                title=p.title + overlay,
            )
        )
    return PolicyList(root=registry.root, rows=rows)


class ShowPolicyRequest(_Frozen):
    policy_id: str
    on: dt.date | None = None
    """Describe parameter values in force on this day (default: every dated value)."""


class ParameterRow(_Frozen):
    name: str
    from_: dt.date
    value: str
    """The value with its unit."""
    confidence: str
    clause: str
    """The clause, with the quoted text on a second line where there is one."""
    source: str
    """The source's title and URL, or its key when the policy does not list it."""


class InterpretationRow(_Frozen):
    name: str
    default: str
    choices: list[str]
    rationale: str
    cases: list[str]


class RuleRow(_Frozen):
    id: str
    title: str
    scope: str
    description: dict[str, str]
    """The rule in words, part by part (``when``, ``then``, ...)."""


class PolicyView(_Frozen):
    """A policy as ``policy show`` presents it."""

    id: str
    title: str
    version: int
    content_hash: str
    kind: str
    status: str
    parties: list[str]
    term: str
    summary: str
    parameters: list[ParameterRow]
    interpretations: list[InterpretationRow]
    rules: list[RuleRow]
    notes: list[str]


def show_policy(ctx: Context, req: ShowPolicyRequest) -> PolicyView:
    """A policy: its parameters with their sources, interpretations and rules."""
    loaded = ctx.registry.get(req.policy_id)
    p = loaded.policy
    params = []
    for name, spec in p.parameters.items():
        for v in spec.values:
            src = p.sources.get(v.source)
            params.append(
                ParameterRow(
                    name=name,
                    from_=v.from_,
                    value=f"{v.value}{' ' + spec.unit if spec.unit else ''}",
                    confidence=v.confidence.value,
                    clause=v.clause + (f'\n"{v.quote}"' if v.quote else ""),
                    source=(src.title + (f"\n{src.url}" if src.url else "")) if src else v.source,
                )
            )
    interps = [
        InterpretationRow(
            name=name,
            default=str(i.default),
            choices=[str(c) for c in i.choices],
            rationale=i.rationale,
            cases=list(i.cases),
        )
        for name, i in p.interpretations.items()
    ]
    describer = Describer(p, req.on)
    rules = [
        RuleRow(
            id=rule.id,
            title=rule.title,
            scope=rule.scope.value,
            description={k: str(v) for k, v in describer.rule(rule).items()},
        )
        for rule in p.rules
    ]
    return PolicyView(
        id=p.id,
        title=p.title,
        version=p.version,
        content_hash=loaded.content_hash,
        kind=p.kind,
        status=p.status,
        parties=list(p.parties),
        term=_term(p.term.from_, p.term.to),
        summary=p.summary,
        parameters=params,
        interpretations=interps,
        rules=rules,
        notes=list(p.notes),
    )


# ---------------------------------------------------------------------- worked cases


class RunCasesRequest(_Frozen):
    path: Path | None = None
    """A policies folder, one policy's folder or a case file (default: the context's policies)."""
    policy_ids: list[str] = []
    """Only these policies' cases (all when empty)."""


class CaseOutcome(_Frozen):
    policy_id: str
    test_id: str
    path: Path
    passed: bool
    failures: list[str]
    case_id: str = ""
    reading: str | None = None
    """The named reading of the case this variant applies (None: the policy's defaults)."""
    counterfactual: str | None = None
    """``applied outside its term (...)`` when the case applies the policy outside its term
    on request (``apply: counterfactual``)."""


class CasesReport(_Frozen):
    outcomes: list[CaseOutcome]
    cases: int
    """Distinct cases run (each may have several variants)."""
    policies: int

    @property
    def failed(self) -> int:
        return sum(not o.passed for o in self.outcomes)


def _case_runs(ctx: Context, req: RunCasesRequest) -> tuple[list[CaseRun], Registry]:
    from schoolmode.cases.runner import collect, runs_for

    path = req.path
    if path is not None and path.is_file():
        folder = path.parent.parent
        registry = registry_for(folder.parent)
        return list(runs_for(load_policy_path(folder / POLICY_FILE, registry), path)), registry
    if path is not None and (path / POLICY_FILE).exists():
        registry = registry_for(path.parent)
        only = [registry.get(load_policy_path(path / POLICY_FILE, registry).id).id]
        return collect(registry, only), registry
    registry = registry_for(path) if path is not None else ctx.registry
    return collect(registry, req.policy_ids or None), registry


def run_cases(ctx: Context, req: RunCasesRequest, progress: Progress | None = None) -> CasesReport:
    """Run the worked cases beside the policies (every variant of every case)."""
    from schoolmode.cases.runner import execute

    runs, registry = _case_runs(ctx, req)
    results: list[CaseResult] = []
    for run in runs:
        if progress is not None:
            progress(len(results), len(runs))
        results.append(execute(run, registry))
    if progress is not None:
        progress(len(results), len(runs))
    return CasesReport(
        outcomes=[
            CaseOutcome(
                policy_id=r.run.policy_id,
                test_id=r.run.test_id,
                case_id=r.run.case_id,
                reading=r.run.reading,
                path=r.run.path,
                passed=r.passed,
                failures=list(r.failures),
                counterfactual=r.counterfactual,
            )
            for r in results
        ],
        cases=len({(r.run.path, r.run.case_id) for r in results}),
        policies=len({r.run.policy_id for r in results}),
    )


class ExplainCaseRequest(_Frozen):
    policy_id: str
    case: str
    reading: str | None = None
    unit: str | None = None
    """The unit to explain (default: each one the case checks)."""
    day: dt.date | None = None
    scope: str | None = None
    """classroom, school or district (with ``unit`` and ``day``; default school)."""
    all_rules: bool = False
    """Also explain the rules that were not met."""
    technical: bool = False
    """The whole trace in words, with the parameters and readings behind each figure, instead
    of the explanation for parents."""


class CaseExplanation(_Frozen):
    case: str
    reading: str | None
    title: str
    texts: list[str]
    """One plain-language explanation per unit and day explained (for parents, or the
    technical one)."""
    traces: list[dict[str, Any]]
    """The same as traces (JSON-ready)."""


def _engine_case(registry: Registry, req: ExplainCaseRequest) -> CaseRun:
    from schoolmode.cases.runner import collect

    loaded = registry.get(req.policy_id)
    runs = [r for r in collect(registry) if r.case_id == req.case and r.policy_id == loaded.id]
    if req.reading is not None:
        runs = [r for r in runs if r.reading == req.reading]
    if not runs:
        known = sorted(
            {r.case_id for r in collect(registry, [loaded.id]) if r.policy_id == loaded.id}
        )
        raise SchoolmodeError(
            f"policy {loaded.id!r} has no case {req.case!r}"
            + (f" with reading {req.reading!r}" if req.reading else "")
            + f"; its cases: {', '.join(known) or 'none'}"
        )
    run = runs[0]
    if not isinstance(run.case, EngineCase):
        raise SchoolmodeError(
            f"case {req.case!r} is an operation case ({run.case.operation}); "
            "run `schoolmode policy test` to see its figures"
        )
    return run


def explain_case(ctx: Context, req: ExplainCaseRequest) -> CaseExplanation:
    """What a policy decides on one of its worked cases, and why."""
    from schoolmode.cases.runner import evaluate_case, expected_unit_days
    from schoolmode.engine.explain import explain
    from schoolmode.engine.trace import trace

    registry = ctx.registry
    run = _engine_case(registry, req)
    assert isinstance(run.case, EngineCase)
    evaluation = evaluate_case(run.case, registry.get(req.policy_id).policy, run.settings)
    targets: list[tuple[str, str, dt.date]] = []
    if req.unit and req.day:
        targets.append((req.scope or "school", req.unit, req.day))
    else:
        targets += [key for key in expected_unit_days(run) if not req.unit or key[1] == req.unit]
    traces = [trace(evaluation, s, u, d) for s, u, d in targets]
    return CaseExplanation(
        case=req.case,
        reading=run.reading,
        title=run.case.title,
        texts=[explain(t, all_rules=req.all_rules, technical=req.technical) for t in traces],
        traces=[t.to_dict() for t in traces],
    )


# ---------------------------------------------------------------------- diff, validate, docs


class DiffRequest(_Frozen):
    policy_a: str
    policy_b: str


class DiffRow(_Frozen):
    section: str
    item: str
    left: str
    right: str
    differs: bool


class PolicyDiff(_Frozen):
    a: str
    b: str
    rows: list[DiffRow]
    """Every compared row, the same ones too (``differs`` False)."""


def diff_policies(ctx: Context, req: DiffRequest) -> PolicyDiff:
    """Two policies side by side: thresholds, windows, scopes and durations."""
    from schoolmode.policy.diff import policy_diff

    a, b = ctx.registry.get(req.policy_a).policy, ctx.registry.get(req.policy_b).policy
    rows = [
        DiffRow(section=r.section, item=r.item, left=r.left, right=r.right, differs=r.differs)
        for r in policy_diff(a, b)
    ]
    return PolicyDiff(a=a.id, b=b.id, rows=rows)


class ValidateRequest(_Frozen):
    path: Path
    """A policy file, a policy folder, a case file, or a folder of policies."""


class ValidationReport(_Frozen):
    checked: int
    problems: list[str]
    """Each naming file, line and key."""


def _is_case_file(target: Path) -> bool:
    return target.parent.name == "cases" or (target.name != POLICY_FILE and "cases" in target.parts)


def validate_files(ctx: Context, req: ValidateRequest) -> ValidationReport:
    """Validate policy and case files (the policies of the folder resolved together)."""
    path = req.path
    checked = 0
    problems: list[str] = []
    targets: list[Path]
    registry = None
    if path.is_dir() and not (path / POLICY_FILE).exists():
        targets = sorted(path.glob(f"*/{POLICY_FILE}"))
        try:
            registry = registry_for(path)
        except SchoolmodeError as exc:
            problems.append(str(exc))
    else:
        targets = [path / POLICY_FILE if path.is_dir() else path]
    for target in targets:
        try:
            if _is_case_file(target):
                load_case_file(target)
            else:
                load_policy_path(target, registry)
                for case_file in sorted((target.parent / "cases").glob("*.yaml")):
                    load_case_file(case_file)
                    checked += 1
            checked += 1
        except SchoolmodeError as exc:
            problems.append(str(exc))
    return ValidationReport(checked=checked, problems=problems)


class DocsRequest(_Frozen):
    out: Path
    """The docs folder to write into."""


def write_docs(ctx: Context, req: DocsRequest) -> list[Path]:
    """Write the generated reference docs (JSON Schemas, interpretation defaults); the files."""
    from schoolmode.policy.docs import write

    return write(ctx.registry, req.out)
