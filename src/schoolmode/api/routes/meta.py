"""The API's index (logging in and who am I: ``auth.py``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from schoolmode import __version__
from schoolmode.access.roles import Permission, Principal
from schoolmode.api.problems import COMMON
from schoolmode.api.security import Requires

router = APIRouter(tags=["meta"], responses=COMMON)


class Index(BaseModel):
    name: str = "schoolmode"
    version: str
    api: str = "v1"
    openapi: str = "/openapi.json"


@router.get("", summary="The API: version and where its description is")
def index(_: Annotated[Principal, Depends(Requires(Permission.policies_read))]) -> Index:
    return Index(version=__version__)
