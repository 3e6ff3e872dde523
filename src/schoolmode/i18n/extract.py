"""A Babel extraction method for policy files: the words of a policy that explanations show
beside the catalog's sentences (its modes' labels, its rules' levels and the bodies that
decide), extracted under the message context ``policy`` (``[policy: ...]`` in babel.cfg)."""

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
    """(line, words) of each mode label, level name and deciding body of a policy document."""
    for mode in document.get("modes") or []:
        if isinstance(mode, Mapping) and mode.get("label"):
            yield _line(mode, 0), str(mode["label"])
    for rule in document.get("rules") or []:
        if not isinstance(rule, Mapping):
            continue
        line = _line(rule, 0)
        for level in rule.get("levels") or []:
            yield line, str(level)
        if rule.get("decided_by"):
            yield line, str(rule["decided_by"])


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
