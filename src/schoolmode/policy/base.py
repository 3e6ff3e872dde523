"""The base of the policy file's models: strict pydantic models and confidence labels."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """Base: unknown keys are errors, so a typo in a policy file never passes silently."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)


class Confidence(StrEnum):
    """How sure we are of a clause (labels explained in ``docs/policy-format.md``)."""

    V = "V"  # verified: read in the text of the document itself
    S = "S"  # secondary: read in a report that describes the document
    U = "U"  # unverified: not found in any retrieved text; an interpretation
