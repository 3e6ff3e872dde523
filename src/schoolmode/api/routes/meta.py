"""The API's index, logging in and who am I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form
from pydantic import BaseModel

from schoolmode import __version__
from schoolmode.access.roles import Permission, Principal
from schoolmode.api.problems import COMMON, NO_CONTROL, ProblemError
from schoolmode.api.security import Requires, context
from schoolmode.app.access import login
from schoolmode.app.context import Context
from schoolmode.policy.errors import SchoolmodeError

router = APIRouter(tags=["meta"], responses=COMMON)


class Index(BaseModel):
    name: str = "schoolmode"
    version: str
    api: str = "v1"
    openapi: str = "/openapi.json"


@router.get("", summary="The API: version and where its description is")
def index(_: Annotated[Principal, Depends(Requires(Permission.policies_read))]) -> Index:
    return Index(version=__version__)


class TokenOut(BaseModel):
    """OAuth 2.0 token response (RFC 6749 section 5.1)."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int
    """Seconds."""


@router.post("/auth/token", summary="Log in with a name and password: a bearer token")
def token(
    username: Annotated[str, Form(min_length=1, max_length=100, pattern=NO_CONTROL)],
    password: Annotated[str, Form(min_length=1, max_length=1000, pattern=NO_CONTROL)],
    ctx: Annotated[Context, Depends(context)],
    _: Annotated[Principal, Depends(Requires(None))],
) -> TokenOut:
    try:
        issued = login(ctx, username, password)
    except SchoolmodeError as exc:
        raise ProblemError(401, "Login failed", str(exc), {"WWW-Authenticate": "Bearer"}) from None
    return TokenOut(access_token=issued.token, expires_in=int(issued.expires_in_days * 86400))


class Me(BaseModel):
    name: str | None
    role: str
    scope: str
    permissions: list[str]


@router.get("/auth/me", summary="Who the token is: name, role, scope and permissions")
def me(who: Annotated[Principal, Depends(Requires(None))]) -> Me:
    return Me(
        name=who.name,
        role=who.role.value,
        scope=str(who.scope),
        permissions=sorted(p.value for p in Permission if who.may(p)),
    )
