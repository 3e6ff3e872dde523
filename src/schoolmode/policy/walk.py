"""Walk the nodes of a rule tree (conditions, operands, level expressions)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel


def children(node: BaseModel) -> Iterator[BaseModel]:
    """Direct child nodes of a model, in field order."""
    for name in type(node).model_fields:
        yield from _models_in(getattr(node, name))


def _models_in(value: Any) -> Iterator[BaseModel]:
    if isinstance(value, BaseModel):
        yield value
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _models_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _models_in(item)


def walk(node: BaseModel) -> Iterator[BaseModel]:
    """Every node below (and including) ``node``, depth first."""
    yield node
    for child in children(node):
        yield from walk(child)


def walk_paths(
    node: BaseModel, path: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], BaseModel]]:
    """Every node with its path in the file's terms (YAML keys and list indices)."""
    yield path, node
    for name, info in type(node).model_fields.items():
        key = info.alias or name
        yield from _paths_in(getattr(node, name), (*path, key))


def _paths_in(
    value: Any, path: tuple[str | int, ...]
) -> Iterator[tuple[tuple[str | int, ...], BaseModel]]:
    if isinstance(value, BaseModel):
        yield from walk_paths(value, path)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _paths_in(item, (*path, index))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _paths_in(item, (*path, key))
