"""Errors as RFC 9457 problem details (``application/problem+json``), naming the field and
what was expected."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from schoolmode.policy.errors import SchoolmodeError, UnknownPolicyError

PROBLEM = "application/problem+json"

NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"
"""Text a request may carry: no control characters (a NUL byte, a newline in an id)."""
PLAIN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
"""Free text (a reason): line breaks and tabs allowed, other control characters not."""


class InvalidParam(BaseModel):
    name: str
    """Where: ``query.date``, ``path.policy_id``, ``body.first``."""
    reason: str
    """What was wrong and what was expected."""


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    invalid_params: list[InvalidParam] | None = None


_WHEN = {
    400: "The request cannot be done as asked (the detail says why).",
    401: "Login required, or the token is unknown, expired or revoked.",
    403: "The caller's role or scope does not allow it.",
    404: "No such resource.",
    413: "The uploaded file is larger than the server takes.",
    422: "A parameter or field is invalid (invalid_params names each).",
    429: "Too many requests: try again after Retry-After seconds.",
    502: "The publisher of a source could not be fetched.",
}


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The problem-details responses a route may give, for its OpenAPI description."""
    ref = {"schema": {"$ref": "#/components/schemas/Problem"}}
    return {
        code: {"model": Problem, "description": _WHEN[code], "content": {PROBLEM: ref}}
        for code in codes
    }


COMMON = problem_responses(400, 401, 403, 404, 422, 429)
"""What any route may answer besides its success."""


class ProblemError(Exception):
    """Raised by a route: answered as problem details."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        headers: dict[str, str] | None = None,
        invalid: list[InvalidParam] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status, self.title, self.detail, self.headers = status, title, detail, headers
        self.invalid = invalid


def problem_body(instance: str, status: int, title: str, detail: str | None = None) -> bytes:
    """The JSON of a problem (for a response sent below the routing, as a 429)."""
    problem = Problem(title=title, status=status, detail=detail, instance=instance)
    return problem.model_dump_json(exclude_none=True).encode()


def problem_response(
    request: Request,
    status: int,
    title: str,
    detail: str | None = None,
    invalid: list[InvalidParam] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        title=title,
        status=status,
        detail=detail,
        instance=request.url.path,
        invalid_params=invalid,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=PROBLEM,
        headers=headers,
    )


def _invalid(errors: Any) -> list[InvalidParam]:
    out = []
    for error in errors:
        where = ".".join(str(p) for p in error.get("loc", ()))
        out.append(InvalidParam(name=where, reason=str(error.get("msg", "invalid"))))
    return out


def install(app: FastAPI) -> None:
    """The handlers that turn every error into problem details."""

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(
            request, exc.status, exc.title, exc.detail, exc.invalid, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(
            request, 422, "Invalid request", "see invalid_params", _invalid(exc.errors())
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers) if exc.headers else None
        return problem_response(request, exc.status_code, str(exc.detail), headers=headers)

    @app.exception_handler(UnknownPolicyError)
    async def _unknown_policy(request: Request, exc: UnknownPolicyError) -> JSONResponse:
        return problem_response(request, 404, "No such policy", str(exc))

    @app.exception_handler(SchoolmodeError)
    async def _schoolmode(request: Request, exc: SchoolmodeError) -> JSONResponse:
        return problem_response(request, 400, "Request cannot be done", str(exc))
