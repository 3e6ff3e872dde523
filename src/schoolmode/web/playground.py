"""The proposal playground (district, union and observer roles: ``jobs:run``): change a
parameter of a policy to one or more values, backtest each over a period of the stored
history as a job (the API's sweep: ``app.jobs``, run on Dask), and read the result beside the
value in force: days remote, pauses, schools and classrooms remote, student-days kept in
person. Each tried value downloads as a proposal file (an overlay of the policy,
``docs/policy-format.md``) that ``schoolmode policy validate`` accepts."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal, InvalidOperation
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from ruamel.yaml import YAML

from schoolmode.access.roles import Permission, Principal
from schoolmode.api.problems import NO_CONTROL
from schoolmode.api.security import Requires, context
from schoolmode.app import jobs as jobs_uc
from schoolmode.app.context import Context
from schoolmode.app.dashboard import decided
from schoolmode.app.jobrun import JobRunner
from schoolmode.policy.model import Policy
from schoolmode.web.render import render

router = APIRouter(include_in_schema=False)
Ctx = Annotated[Context, Depends(context)]
Anyone = Annotated[Principal, Depends(Requires(None))]
Runner = Annotated[Principal, Depends(Requires(Permission.jobs_run))]
Reader = Annotated[Principal, Depends(Requires(Permission.jobs_read))]
DEFAULT_POLICY = "cps-ctu-2022-01-10"
SIM_SEEDS = 10
SIM_SCHOOLS = 20
"""The playground's default simulation: seeds per value, and the first schools of the
synthetic district (the whole district is a job for the API)."""
OTHERS = 3
"""Other parameters a proposal may change at once in the form."""
DEFAULT_DAYS = 28
"""The default period: the four weeks up to the last day decided."""


def _in_force(policy: Policy, name: str, on: dt.date) -> str | None:
    """The parameter's value in force on ``on`` (its first value before its first date)."""
    spec = policy.parameters.get(name)
    if spec is None or not spec.values:
        return None
    current = spec.values[0]
    for value in spec.values:
        if value.from_ <= on:
            current = value
    return None if current.value is None else str(current.value)


def _numeric(policy: Policy) -> list[str]:
    """The parameters a value can be tried for (numbers)."""
    out = []
    for name, spec in policy.parameters.items():
        values = [v.value for v in spec.values]
        if values and all(isinstance(v, Decimal | int | float) for v in values):
            out.append(name)
    return sorted(out)


def _form(
    request: Request,
    ctx: Context,
    policy_id: str,
    param: str | None,
    values: str,
    start: dt.date | None,
    end: dt.date | None,
    problem: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    if policy_id not in ctx.registry:
        policy_id = DEFAULT_POLICY if DEFAULT_POLICY in ctx.registry else ctx.registry.ids()[0]
    policy = ctx.registry.get(policy_id).policy
    last = end or _last_day(ctx)
    first = start or last - dt.timedelta(days=DEFAULT_DAYS - 1)
    params = _numeric(policy)
    chosen = param if param in params else (params[0] if params else None)
    current = {p: _in_force(policy, p, first) for p in params}
    return render(
        request,
        "playground.html",
        status,
        policies=ctx.registry.ids(),
        policy=policy,
        params=params,
        current=current,
        chosen=chosen,
        values=values,
        start=first,
        end=last,
        problem=problem,
        csrf=getattr(request.state, "csrf_token", None),
    )


def _last_day(ctx: Context) -> dt.date:
    found = decided(ctx, None)
    return found.day if found is not None else dt.date.today()


@router.get("/playground", response_class=HTMLResponse)
def playground(
    who: Anyone,
    ctx: Ctx,
    request: Request,
    policy: Annotated[str, Query(max_length=100, pattern=NO_CONTROL)] = DEFAULT_POLICY,
    param: Annotated[str | None, Query(max_length=100, pattern=NO_CONTROL)] = None,
) -> Response:
    if who.anonymous:
        return RedirectResponse("/login", status_code=303)
    if not who.may(Permission.jobs_run):
        return render(request, "error.html", 403, problem="not_allowed", value="jobs:run")
    return _form(request, ctx, policy, param, "", None, None)


@router.post("/playground", response_class=HTMLResponse)
def try_values(
    who: Runner,
    ctx: Ctx,
    request: Request,
    policy_id: Annotated[str, Form(max_length=100, pattern=NO_CONTROL)],
    param: Annotated[str, Form(max_length=100, pattern=NO_CONTROL)],
    values: Annotated[str, Form(max_length=400, pattern=NO_CONTROL)],
    start: Annotated[dt.date, Form()],
    end: Annotated[dt.date, Form()],
    other: Annotated[list[str] | None, Form(max_length=OTHERS)] = None,
    other_value: Annotated[list[str] | None, Form(max_length=OTHERS)] = None,
    simulate: Annotated[bool, Form()] = False,
    seeds: Annotated[int, Form(ge=1, le=200)] = SIM_SEEDS,
    schools: Annotated[int, Form(ge=1, le=1000)] = SIM_SCHOOLS,
) -> Response:
    """Submit the sweep (the value in force first, then each value tried, once each); with
    other parameters changed too, the policy as in force first, then each value tried with
    them."""
    if policy_id not in ctx.registry:
        return _form(request, ctx, policy_id, param, values, start, end, "no such policy", 422)
    policy = ctx.registry.get(policy_id).policy
    tried = [v.strip() for v in values.split(",") if v.strip()]
    fixed = [
        f"{name}={value.strip()}"
        for name, value in zip(other or [], other_value or [], strict=False)
        if name and value.strip()
    ]
    try:
        for value in [*tried, *(f.split("=", 1)[1] for f in fixed)]:
            Decimal(value)
    except InvalidOperation:
        return _form(
            request, ctx, policy_id, param, values, start, end, "values: numbers only", 422
        )
    if simulate and fixed:
        problem = "the simulator tries one parameter at a time: leave the other parameters empty"
        return _form(request, ctx, policy_id, param, values, start, end, problem, 422)
    if any(f.split("=", 1)[0] == param for f in fixed):
        problem = f"{param} is the parameter tried: change it in the values to try"
        return _form(request, ctx, policy_id, param, values, start, end, problem, 422)
    in_force = _in_force(policy, param, start)
    points = list(
        dict.fromkeys([*([in_force] if in_force is not None and not fixed else []), *tried])
    )
    try:
        job = jobs_uc.SweepJob(
            policy_ids=[policy_id], start=start, end=end, param=param, values=points, fixed=fixed
        )
        found = jobs_uc.submit(ctx, "sweep", job, who)
    except ValidationError as exc:
        problem = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return _form(request, ctx, policy_id, param, values, start, end, problem, 422)
    except jobs_uc.JobFieldError as exc:
        return _form(request, ctx, policy_id, param, values, start, end, exc.message, 422)
    runner: JobRunner = request.app.state.jobs
    if found.created:
        runner.start(found.job.id)
    if not simulate:
        return RedirectResponse(f"/playground/jobs/{found.job.id}", status_code=303)
    # the same values simulated on the synthetic district: a sweep of the policy's parameter
    sim = jobs_uc.SimulationJob(
        policy_ids=[policy_id],
        seeds=seeds,
        schools=schools,
        days=min((end - start).days + 1, 366),
        sweep=f"policy.{param}={','.join(points)}",
    )
    made = jobs_uc.submit(ctx, "simulation", sim, who)
    if made.created:
        runner.start(made.job.id)
    return RedirectResponse(
        f"/playground/jobs/{found.job.id}?simulation={made.job.id}", status_code=303
    )


JobId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get("/playground/jobs/{job_id}", response_class=HTMLResponse)
def result(
    job_id: JobId,
    who: Reader,
    ctx: Ctx,
    request: Request,
    simulation: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Response:
    job = jobs_uc.get_job(ctx, job_id)
    if job is not None and job.kind == "simulation":
        return _simulation(job, who, ctx, request)
    if job is None or job.kind != "sweep":
        return render(request, "error.html", 404, problem="no_job", value=str(job_id))
    header: list[str] = []
    rows: list[list[str]] = []
    if job.status == "done":
        table = jobs_uc.read_file(ctx, job_id, "sweep.csv")
        if table is not None:
            found = list(csv.reader(io.StringIO(table.content.decode())))
            header, rows = (found[0], found[1:]) if found else ([], [])
    policy_id = job.request["policy_ids"][0]
    in_force = None
    if policy_id in ctx.registry:
        start = dt.date.fromisoformat(job.request["start"])
        in_force = _in_force(ctx.registry.get(policy_id).policy, job.request["param"], start)
    return render(
        request,
        "playground_job.html",
        job=job,
        header=header,
        rows=rows,
        in_force=in_force,
        policy_id=policy_id,
        may_publish=who.may(Permission.evidence_publish),
        csrf=getattr(request.state, "csrf_token", None),
        simulation=simulation,
        extra={"Cache-Control": "no-store"},
    )


def _simulation(job: jobs_uc.JobView, who: Principal, ctx: Context, request: Request) -> Response:
    """A playground simulation: each value's outcomes over the seeds (mean and interval)."""
    header: list[str] = []
    rows: list[list[str]] = []
    if job.status == "done":
        table = jobs_uc.read_file(ctx, job.id, "summary.csv")
        if table is not None:
            found = list(csv.reader(io.StringIO(table.content.decode())))
            header, rows = (found[0], found[1:]) if found else ([], [])
    return render(
        request,
        "playground_sim.html",
        job=job,
        header=header,
        rows=rows,
        may_publish=who.may(Permission.evidence_publish),
        csrf=getattr(request.state, "csrf_token", None),
        extra={"Cache-Control": "no-store"},
    )


@router.get("/playground/jobs/{job_id}/overlay.yaml")
def overlay(
    job_id: JobId,
    who: Reader,
    ctx: Ctx,
    request: Request,
    value: Annotated[str, Query(max_length=40, pattern=NO_CONTROL)],
) -> Response:
    """The tried value as a proposal file: an overlay of the policy, the parameter set to
    ``value`` over the policy's whole term (as the sweep tried it)."""
    job = jobs_uc.get_job(ctx, job_id)
    if job is None or job.kind != "sweep" or value not in job.request["values"]:
        return render(request, "error.html", 404, problem="no_job", value=str(job_id))
    policy_id, param = job.request["policy_ids"][0], job.request["param"]
    if policy_id not in ctx.registry:
        return render(request, "error.html", 404, problem="no_policy", value=policy_id)
    start = ctx.registry.get(policy_id).policy.term.from_.isoformat()
    slug = value.replace(".", "-").replace("-", "_")
    document = {
        "id": f"{policy_id}-{param.replace('_', '-')}-{slug.replace('_', '-')}",
        "overlay_of": policy_id,
        "title": f"{policy_id} with {param} = {value} (playground proposal)",
        "kind": "proposal",
        "parties": [who.name or "playground"],
        "status": "proposed",
        "summary": f"The policy {policy_id} with the parameter {param} set to {value}"
        + "".join(f", {f.replace('=', ' set to ')}" for f in job.request.get("fixed", []))
        + f" over its term, as tried in the playground (job {job_id}).",
        "changes": {
            "sources": {
                "playground": {
                    "title": f"schoolmode playground, job {job_id}",
                    "note": f"tried by {who.name} on {job.submitted_at.date().isoformat()}",
                }
            },
            "parameters": {
                name: [
                    {
                        "from": start,
                        "value": _yaml_number(number),
                        "clause": "playground proposal",
                        "source": "playground",
                        "confidence": "U",
                    }
                ]
                for name, number in [
                    (param, value),
                    *(tuple(f.split("=", 1)) for f in job.request.get("fixed", [])),
                ]
            },
        },
    }
    out = io.StringIO()
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.dump(document, out)
    name = f"{document['id']}.yaml"
    return Response(
        out.getvalue(),
        media_type="application/yaml",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _yaml_number(value: str) -> int | float:
    number = Decimal(value)
    return int(number) if number == number.to_integral_value() else float(number)
