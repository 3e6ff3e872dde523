"""Read YAML with line numbers and exact decimals, and turn validation errors into
messages that name file, line and key."""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from schoolmode.policy import model as m
from schoolmode.policy import yamlcache
from schoolmode.policy.errors import PATH_MARK, PolicyFileError, Problem

M = TypeVar("M", bound=BaseModel)
Path_ = tuple[Any, ...]

__all__ = ["LoadedYaml", "load_yaml", "validate"]


class LoadedYaml:
    """Plain Python data from a YAML file, with the line of every key and item."""

    def __init__(self, path: Path, data: Any, lines: dict[Path_, int]) -> None:
        self.path = path
        self.data = data
        self.lines = lines

    def line_of(self, loc: Path_) -> int | None:
        """The line of the deepest part of ``loc`` found in the file."""
        best: int | None = self.lines.get(())
        node = self.data
        found: Path_ = ()
        for part in loc:
            key: str | int | None = None
            if isinstance(node, dict):
                if part in node:
                    key = part
                elif isinstance(part, str) and part.rstrip("_") in node:
                    key = part.rstrip("_")
                elif part == "from_" and "from" in node:
                    key = "from"
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                key = part
            if key is None:
                continue  # a discriminator tag or a validator's own path element
            node = node[key]
            found = (*found, key)
            best = self.lines.get(found, best)
        return best

    def key_path(self, loc: Path_) -> str:
        out = ""
        node = self.data
        for part in loc:
            if isinstance(node, dict) and (
                part in node or (isinstance(part, str) and part.rstrip("_") in node)
            ):
                name = part if part in node else str(part).rstrip("_")
                out += ("." if out else "") + str(name)
                node = node[name]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                out += f"[{part}]"
                node = node[part]
        return out


def _plain(node: Any, path: Path_, lines: dict[Path_, int]) -> Any:
    """The round-trip parser's ``CommentedMap`` (a dict) and ``CommentedSeq`` (a list) as plain
    dicts and lists, the line of each key and item (``lc``) kept in ``lines``."""
    where: Any = getattr(node, "lc", None)  # ruamel's line and column of each key and item
    if isinstance(node, dict):
        out: dict[Any, Any] = {}
        for key, value in node.items():
            k = key if isinstance(key, str | int | dt.date) else str(key)
            with contextlib.suppress(KeyError, TypeError, AttributeError):
                lines[(*path, k)] = where.key(key)[0] + 1
            out[k] = _plain(value, (*path, k), lines)
        return out
    if isinstance(node, list):
        items: list[Any] = []
        for index, value in enumerate(node):
            with contextlib.suppress(KeyError, TypeError, AttributeError):
                lines[(*path, index)] = where.item(index)[0] + 1
            items.append(_plain(value, (*path, index), lines))
        return items
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, float):
        if node != node or node in (float("inf"), float("-inf")):
            return str(node)
        return Decimal(repr(float(node)))
    if isinstance(node, int):
        return int(node)
    if isinstance(node, dt.datetime):
        return node.date() if node.time() == dt.time(0) else node
    if isinstance(node, dt.date):
        return node
    return str(node)


def load_yaml(path: Path | str, cache_dir: Path | None = None) -> LoadedYaml:
    """Parse a YAML file; a syntax error becomes a ``PolicyFileError`` with its line.

    ``cache_dir``: keep the parsed data (and the line of every key) there, keyed by the file's
    bytes (``policy/yamlcache.py``), and read it from there while the file is unchanged: the
    round-trip parser that keeps lines costs about 50 ms a policy file."""
    path = Path(path)
    try:
        raw_bytes = path.read_bytes()
        text = raw_bytes.decode("utf-8")
    except OSError as exc:
        raise PolicyFileError(path, [Problem("", f"cannot read the file: {exc.strerror}")]) from exc
    except UnicodeDecodeError as exc:
        raise PolicyFileError(
            path, [Problem("", f"the file is not UTF-8 text: {exc.reason} at byte {exc.start}")]
        ) from exc
    if cache_dir is not None:
        cached = yamlcache.read(cache_dir, raw_bytes)
        if cached is not None:
            data, lines = cached
            return LoadedYaml(path, data, lines)
    loaded = _parse(path, text)
    if cache_dir is not None:
        yamlcache.write(cache_dir, raw_bytes, loaded.data, loaded.lines)
    return loaded


def _parse(path: Path, text: str) -> LoadedYaml:
    # ruamel.yaml only when a file is parsed (not when every file is in the cache)
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError

    yaml = YAML(typ="rt")
    try:
        raw = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise PolicyFileError(
            path,
            [
                Problem(
                    "",
                    f"YAML syntax error: {exc.problem}"
                    + (f" ({exc.context})" if exc.context else ""),
                    line,
                    "check the indentation and that every `key: value` has a space after the colon",
                )
            ],
        ) from exc
    except ValueError as exc:  # a date that does not exist, e.g. 2022-13-01
        line = _bad_date_line(text)
        raise PolicyFileError(
            path,
            [
                Problem(
                    "", f"a value could not be read: {exc}", line, "write real dates as YYYY-MM-DD"
                )
            ],
        ) from exc
    lines: dict[Path_, int] = {(): 1}
    return LoadedYaml(path, _plain(raw, (), lines), lines)


def _bad_date_line(text: str) -> int | None:
    import re

    for number, line in enumerate(text.splitlines(), start=1):
        for match in re.finditer(r"\b(\d{4})-(\d{2})-(\d{2})\b", line):
            try:
                dt.date(int(match[1]), int(match[2]), int(match[3]))
            except ValueError:
                return number
    return None


def validate(model: type[M], loaded: LoadedYaml, data: Any | None = None, base: Path_ = ()) -> M:
    """Validate ``data`` (default: the whole file) as ``model``; errors name line and key."""
    try:
        return model.model_validate(loaded.data if data is None else data)
    except ValidationError as exc:
        raise PolicyFileError(loaded.path, problems_from(exc, loaded, model, base)) from None


def problems_from(
    exc: ValidationError, loaded: LoadedYaml, model: type[BaseModel], base: Path_ = ()
) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    errors = exc.errors(include_url=False)
    # A failed union member reports under every member; keep the most specific ones.
    for err in sorted(errors, key=lambda e: -len(e["loc"])):
        loc: Path_ = (*base, *err["loc"])
        text = str((err.get("ctx") or {}).get("error", ""))
        if err["type"] == "value_error" and text.startswith(PATH_MARK):
            for entry in text.split("\n"):
                _, raw_path, message = entry.split(PATH_MARK, 2)
                sub: Path_ = tuple(int(x) if x.isdigit() else x for x in raw_path.split("/") if x)
                full = (*loc, *sub)
                problems.append(Problem(loaded.key_path(full), message, loaded.line_of(full)))
            continue
        key = loaded.key_path(loc)
        message, hint = _explain(err, loaded, loc)
        if (
            (key, message) in seen
            or any(k.startswith((key + ".", key + "[")) for k, _ in seen if key)
        ) and err["type"] in ("union_tag_invalid", "union_tag_not_found", "missing"):
            continue
        seen.add((key, message))
        problems.append(Problem(key, message, loaded.line_of(loc), hint))
    # A value that fails every member of a union reports once per member; when one member
    # gave a specific message, drop the generic "should be a mapping" ones at the same key.
    specific = {p.key for p in problems if "valid dictionary or instance" not in p.message}
    problems = [
        p
        for p in problems
        if p.key not in specific or "valid dictionary or instance" not in p.message
    ]
    problems.sort(key=lambda p: (p.line or 0, p.key))
    return problems


def _explain(err: Any, loaded: LoadedYaml, loc: Path_) -> tuple[str, str | None]:
    kind = err["type"]
    found = err.get("input")
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        name = str(err["loc"][-1])
        parent_loc = loc[:-1]
        siblings = _allowed_keys(loaded, parent_loc)
        close = difflib.get_close_matches(name, siblings, n=1)
        hint = (
            f"did you mean `{close[0]}`?" if close else "remove the key, or check its indentation"
        )
        return f"unknown key `{name}`", hint
    if kind == "missing":
        name = str(err["loc"][-1]).rstrip("_")
        return f"the required key `{name}` is missing", f"add `{name}:` here"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tags = str(ctx.get("expected_tags", "")).replace("'not_'", "'not'").replace("'if_'", "'if'")
        return (
            f"expected a node with exactly one of the keys {tags} (besides `id` and `label`), "
            f"found {_show(found)}",
            "write the node as a one-key mapping, e.g. `threshold: {of: ..., op: '>=', value: ...}`",
        )
    if kind == "literal_error":
        return (
            f"expected {ctx.get('expected')}, found {_show(found)}",
            "use one of the listed values",
        )
    if kind.startswith(("date", "datetime")):
        return (
            f"expected a date written YYYY-MM-DD, found {_show(found)}",
            "write the date as e.g. 2022-01-10",
        )
    if kind in ("decimal_parsing", "decimal_type", "int_parsing", "int_type", "float_parsing"):
        return (
            f"expected a number, found {_show(found)}",
            "write a plain number such as 30 or 1.15, without % or quotes",
        )
    if kind == "value_error":
        return str(ctx.get("error", err["msg"])), None
    if kind == "string_pattern_mismatch":
        return (
            f"{_show(found)} is not a valid identifier",
            "use lower-case letters, digits, '-', '_' or '.', starting with a letter or digit",
        )
    if kind == "too_short":
        return f"must not be empty ({err['msg']})", None
    if kind == "enum":
        return (
            f"expected {ctx.get('expected')}, found {_show(found)}",
            "use one of the listed values",
        )
    return f"{err['msg']} (found {_show(found)})", None


def _allowed_keys(loaded: LoadedYaml, loc: Path_) -> list[str]:
    # Without the model at hand, suggest against the keys commonly used in policy files.
    names: set[str] = set()
    for obj in vars(m).values():
        if isinstance(obj, type) and issubclass(obj, BaseModel):
            for fname, field in obj.model_fields.items():
                names.add(field.alias or fname)
    return sorted(names)


def _show(value: Any) -> str:
    if isinstance(value, dict):
        keys = ", ".join(str(k) for k in value)
        return f"a mapping with keys {{{keys}}}"
    if isinstance(value, list):
        return f"a list of {len(value)} item(s)"
    if isinstance(value, Decimal):
        return str(value)
    return repr(value)
