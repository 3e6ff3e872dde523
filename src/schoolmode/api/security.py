"""Who asks and whether they may: bearer tokens, and the permission each route declares.

Every route takes one :class:`Requires` dependency (a test fails on a route without one): the
permission it needs from the table of ``access/roles.py``, or none for the few open routes
(logging in, who am I). Anonymous callers hold the public role; a route they may not use is
401 (log in), a logged-in caller without the permission is 403.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from schoolmode.access.roles import Permission, Principal
from schoolmode.api.problems import ProblemError
from schoolmode.app.access import authenticate
from schoolmode.app.context import Context

bearer = HTTPBearer(auto_error=False, description="A token from `POST /api/v1/auth/token`.")

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


async def context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


class Requires:
    """A route's permission (``None``: open to anyone); ``personal``: the route returns
    personal data, so each read is written to the access log."""

    def __init__(self, permission: Permission | None, *, personal: bool = False) -> None:
        self.permission = permission
        self.personal = personal

    async def __call__(
        self,
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Principal:
        ctx: Context = request.app.state.ctx
        token = credentials.credentials if credentials is not None else None
        # async: an anonymous caller costs no thread; a token is looked up in the thread pool
        who = (
            authenticate(ctx, None)
            if token is None
            else await run_in_threadpool(authenticate, ctx, token)
        )
        if who is None:
            raise ProblemError(
                401, "Invalid token", "the token is unknown, expired or revoked", _CHALLENGE
            )
        request.state.principal = who
        request.state.personal = self.personal
        if self.permission is None or who.may(self.permission):
            return who
        if who.anonymous:
            raise ProblemError(
                401, "Login required", f"this needs the permission {self.permission}", _CHALLENGE
            )
        raise ProblemError(
            403,
            "Not allowed",
            f"role {who.role} with scope {who.scope} does not hold {self.permission}",
        )

    def __repr__(self) -> str:
        return f"Requires({self.permission})"


def route_requirements(route: APIRoute) -> list[Requires]:
    """Every :class:`Requires` among a route's dependencies (a route declares exactly one)."""
    out: list[Requires] = []
    pending = list(route.dependant.dependencies)
    while pending:
        dep = pending.pop()
        if isinstance(dep.call, Requires):
            out.append(dep.call)
        pending.extend(dep.dependencies)
    return out


def in_scope(who: Principal, school: str | None) -> None:
    """403 unless ``who``'s scope covers ``school`` (None: the district, only for the district
    scope)."""
    whole = who.scope.kind.value == "district"
    if not (whole if school is None else who.scope.covers_school(school)):
        raise ProblemError(403, "Outside your scope", f"your scope is {who.scope}")
