"""Evaluate: a policy (a shipped id or a whole document) and metric frames -> modes per unit
and day and the traces asked for. Pure: nothing is stored. The body is bounded before it is
parsed (413 past ``MAX_BODY_BYTES``), the frames after (units, days, rows)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from schoolmode.access.roles import Permission, Principal
from schoolmode.api.problems import COMMON, PROBLEM, Problem, ProblemError
from schoolmode.api.security import Requires, context
from schoolmode.app import evaluate as uc
from schoolmode.app.context import Context
from schoolmode.app.jobs import JobFieldError

MAX_BODY_BYTES = 2 * 1024 * 1024
"""The largest request body read (2 MiB)."""


class BoundedBody(APIRoute):
    """A route whose body is read up to ``MAX_BODY_BYTES`` and refused (413) past it, before
    FastAPI parses it (whatever Content-Length says)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def bounded(request: Request) -> Response:
            chunks, size = [], 0
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise ProblemError(
                        413, "Request too large", f"the body is over {MAX_BODY_BYTES} bytes"
                    )
                chunks.append(chunk)
            request._body = b"".join(chunks)  # what Request.body() returns from now on
            return await handler(request)

        return bounded


_TOO_LARGE: dict[int | str, dict[str, Any]] = {
    413: {
        "model": Problem,
        "description": "The body, or its frames, are larger than an evaluation may be.",
        "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
}
router = APIRouter(tags=["evaluate"], responses={**COMMON, **_TOO_LARGE}, route_class=BoundedBody)


@router.post(
    "/evaluations",
    summary="Evaluate a policy on metric frames: modes and traces (stores nothing)",
)
def evaluate(
    body: uc.EvaluationRequest,
    _: Annotated[Principal, Depends(Requires(Permission.policies_read))],
    ctx: Annotated[Context, Depends(context)],
) -> uc.EvaluationResult:
    try:
        return uc.evaluate_policy(ctx, body)
    except JobFieldError as exc:
        raise RequestValidationError(
            [{"loc": exc.loc, "msg": exc.message, "type": "value_error"}]
        ) from None
    except uc.TooLarge as exc:
        raise ProblemError(413, "Request too large", str(exc)) from None
