"""Field specifications derived from the models: one place for docs, tables and validation."""

from __future__ import annotations

import datetime as dt
import types
import typing
from dataclasses import dataclass
from enum import StrEnum

from annotated_types import Ge, Le

from schoolmode.standard.models import Record

Kind = typing.Literal["str", "int", "float", "date", "bool"]

_KINDS: dict[type, Kind] = {str: "str", int: "int", float: "float", dt.date: "date", bool: "bool"}


@dataclass(frozen=True)
class FieldSpec:
    """What one field of a record type holds."""

    name: str
    kind: Kind
    required: bool
    description: str
    choices: tuple[str, ...] | None = None
    ge: float | None = None
    le: float | None = None

    def expectation(self) -> str:
        """The expected value, in words, for error messages and docs."""
        words = {
            "str": "text",
            "int": "a whole number",
            "float": "a number",
            "date": "a date YYYY-MM-DD",
            "bool": "true or false",
        }[self.kind]
        if self.choices is not None:
            words = "one of " + ", ".join(self.choices)
        if self.ge is not None and self.le is not None:
            words += f" between {self.ge:g} and {self.le:g}"
        elif self.ge is not None:
            words += f" >= {self.ge:g}"
        elif self.le is not None:
            words += f" <= {self.le:g}"
        return words if self.required else words + " (or blank)"


def field_specs(model: type[Record]) -> list[FieldSpec]:
    """The fields of ``model`` in declaration order."""
    specs = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        required = True
        args = typing.get_args(annotation)
        if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
            non_none = [a for a in args if a is not type(None)]
            if len(non_none) != 1:
                raise TypeError(f"{model.__name__}.{name}: unsupported union {annotation}")
            annotation = non_none[0]
            required = False
        choices: tuple[str, ...] | None = None
        if isinstance(annotation, type) and issubclass(annotation, StrEnum):
            choices = tuple(m.value for m in annotation)
            kind: Kind = "str"
        elif isinstance(annotation, type) and annotation in _KINDS:
            kind = _KINDS[annotation]
        else:
            raise TypeError(f"{model.__name__}.{name}: unsupported type {annotation}")
        ge = le = None
        for meta in info.metadata:
            if isinstance(meta, Ge):
                ge = float(typing.cast(float, meta.ge))
            if isinstance(meta, Le):
                le = float(typing.cast(float, meta.le))
        specs.append(
            FieldSpec(
                name=name,
                kind=kind,
                required=required,
                description=info.description or "",
                choices=choices,
                ge=ge,
                le=le,
            )
        )
    return specs


# --------------------------------------------------------------------------- accommodation basis

ACCOMMODATION_KINDS = ("own_high_risk", "household_high_risk", "caregiver")
"""Kinds of staff accommodation request a policy can make provision for."""

ACCOMMODATION_BASIS_KIND = {
    "own_high_risk": "own_high_risk",
    "household_high_risk": "household_high_risk",
    "caregiver": "caregiver",
    "childcare": "caregiver",
}
"""The kind of request each accepted ``basis`` of an ``accommodation_request`` record is
(``childcare``, the standard's example code, is read as ``caregiver``)."""
