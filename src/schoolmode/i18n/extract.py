"""A Babel extraction method for policy files: the words of a policy that explanations show
beside the catalog's sentences (its modes' labels, its rules' titles, levels and conditions'
labels, and the bodies that decide), extracted under the message context ``policy``
(``[policy: ...]`` in babel.cfg). A policy's own title, its sources and the quotations of its
clauses are not: they name and quote documents."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import IO, Any

from ruamel.yaml import YAML

CONTEXT = "policy"

Extracted = tuple[int, str, tuple[str, str], list[str]]


def _line(node: Any, default: int) -> int:
    lc = getattr(node, "lc", None)
    return int(lc.line) + 1 if lc is not None else default


def policy_words(document: Mapping[str, Any]) -> Iterator[tuple[int, str]]:
    """(line, words) of each mode label, rule title, condition label, level name and deciding
    body of a policy document (not its sources, quotations or clause references)."""
    for mode in document.get("modes") or []:
        if isinstance(mode, Mapping) and mode.get("label"):
            yield _line(mode, 0), str(mode["label"])
    for rule in document.get("rules") or []:
        if not isinstance(rule, Mapping):
            continue
        line = _line(rule, 0)
        if rule.get("title"):
            yield line, str(rule["title"])
        for level in rule.get("levels") or []:
            yield line, str(level)
        if rule.get("decided_by"):
            yield line, str(rule["decided_by"])
        for key in ("when", "classify"):
            yield from _labels(rule.get(key), line)


def _labels(node: Any, line: int) -> Iterator[tuple[int, str]]:
    """The ``label`` of every condition and operand under ``node``."""
    if isinstance(node, Mapping):
        here = _line(node, line)
        label = node.get("label")
        if isinstance(label, str) and label:
            yield here, label
        for value in node.values():
            yield from _labels(value, here)
    elif isinstance(node, list):
        for value in node:
            yield from _labels(value, line)


def extract_policy(
    fileobj: IO[bytes],
    keywords: Collection[str],
    comment_tags: Collection[str],
    options: Mapping[str, Any],
) -> Iterator[Extracted]:
    """Babel's extraction-method interface: ``(line, funcname, messages, comments)``."""
    document = YAML(typ="rt").load(fileobj)
    if not isinstance(document, Mapping):
        return
    for line, words in policy_words(document):
        yield line, "pgettext", (CONTEXT, words), []
