"""E-mail alerts anyone can ask for (``app/alert_signup.py``): a sign-up e-mails a confirmation
link and says the same whatever the address; the link's token confirms it; the token of every
alert e-mail stops it. Open routes (no login), limited like every anonymous request."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from schoolmode.access.roles import Principal
from schoolmode.api.problems import COMMON, NO_CONTROL
from schoolmode.api.security import Requires, context
from schoolmode.app import alert_signup as uc
from schoolmode.app.context import Context
from schoolmode.i18n import DEFAULT

router = APIRouter(tags=["alerts"], responses=COMMON)
Ctx = Annotated[Context, Depends(context)]
Open = Annotated[Principal, Depends(Requires(None, csrf=False))]


class SignUpIn(BaseModel):
    email: str = Field(min_length=3, max_length=254, pattern=NO_CONTROL)
    school_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=40,
        pattern=NO_CONTROL,
        description="The school to follow; none: the district and every school",
    )
    lang: str = Field(default=DEFAULT, pattern="^[a-z]{2}$", description="The e-mails' language")


class TokenIn(BaseModel):
    token: str = Field(min_length=20, max_length=100, pattern="^[A-Za-z0-9_-]+$")


@router.post(
    "/alerts/subscriptions",
    status_code=202,
    summary="Ask for e-mail alerts: a confirmation link is e-mailed to the address",
)
def sign_up(body: SignUpIn, _: Open, ctx: Ctx) -> uc.SignUpAnswer:
    return uc.sign_up(ctx, uc.SignUp(**body.model_dump()))


@router.post("/alerts/confirmations", summary="Confirm e-mail alerts with the link's token")
def confirm(body: TokenIn, _: Open, ctx: Ctx) -> uc.Confirmed:
    return uc.confirm(ctx, body.token)


@router.post("/alerts/stops", summary="Stop e-mail alerts with the token of their e-mails")
def stop(body: TokenIn, _: Open, ctx: Ctx) -> uc.Confirmed:
    return uc.stop(ctx, body.token)
