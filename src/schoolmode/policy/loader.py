"""Find, read and resolve policy files.

Layout: ``policies/<policy-id>/policy.yaml`` (a full policy, or an overlay with
``overlay_of``) and ``policies/<policy-id>/cases/*.yaml`` beside it. Overlays are
resolved against their base into a full ``Policy``. Each resolved policy has a content
hash over its canonical JSON, which audit records keep.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from schoolmode.policy.errors import PolicyFileError, Problem, UnknownPolicyError
from schoolmode.policy.model import Overlay, Policy
from schoolmode.policy.overlay import apply_overlay
from schoolmode.policy.yamlio import load_yaml, validate

POLICY_FILE = "policy.yaml"
SHIPPED_POLICIES = Path(__file__).resolve().parents[1] / "policies"
"""The policies shipped with the package (package data, found in an installed wheel too)."""


@dataclass(frozen=True)
class LoadedPolicy:
    policy: Policy
    path: Path
    overlay: Overlay | None = None

    @property
    def id(self) -> str:
        return self.policy.id

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def content_hash(self) -> str:
        return policy_hash(self.policy)


def policy_hash(policy: Policy) -> str:
    canonical = policy.model_dump_json(by_alias=True, exclude_none=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def default_policy_dir() -> Path:
    """The policies shipped with the package (``schoolmode/policies``)."""
    return SHIPPED_POLICIES


def read_file(path: Path, cache_dir: Path | None = None) -> Policy | Overlay:
    """The policy or overlay in ``path`` (``cache_dir``: :func:`load_yaml`'s parse cache)."""
    loaded = load_yaml(path, cache_dir)
    if not isinstance(loaded.data, dict):
        raise PolicyFileError(
            path,
            [
                Problem(
                    "",
                    "a policy file must be a mapping of keys to values",
                    1,
                    "start the file with `id: my-policy`",
                )
            ],
        )
    if "overlay_of" in loaded.data:
        return validate(Overlay, loaded)
    return validate(Policy, loaded)


class Registry:
    """Every policy under a folder, overlays resolved (``cache_dir``: where parsed files are
    kept while unchanged, see ``policy/yamlcache.py``; None: parse every file).

    ``fallback``: a registry asked for an id this folder does not define (a folder of one's
    own beside the shipped policies: an overlay of a shipped base, the shipped tracing rules
    the simulator reads). ``ids`` and ``all`` are this folder's policies only."""

    def __init__(
        self,
        root: Path | None = None,
        cache_dir: Path | None = None,
        fallback: Registry | None = None,
        files: Sequence[Path] | None = None,
    ) -> None:
        """``files``: these policy files (a folder: its ``policy.yaml``) instead of every
        policy under ``root``."""
        self.root = Path(root) if root is not None else default_policy_dir()
        self.fallback = fallback
        self._raw: dict[str, tuple[Path, Policy | Overlay]] = {}
        self._resolved: dict[str, LoadedPolicy] = {}
        paths = (
            sorted(self.root.glob(f"*/{POLICY_FILE}"))
            if files is None
            else [Path(f) / POLICY_FILE if Path(f).is_dir() else Path(f) for f in files]
        )
        for path in paths:
            item = read_file(path, cache_dir)
            if item.id in self._raw:
                other = self._raw[item.id][0]
                raise PolicyFileError(
                    path,
                    [
                        Problem(
                            "id",
                            f"the id {item.id!r} is already used by {other}",
                            1,
                            "give every policy a unique id",
                        )
                    ],
                )
            self._raw[item.id] = (path, item)

    def ids(self) -> list[str]:
        return sorted(self._raw)

    def id_of(self, path: Path) -> str:
        """The id of this registry's policy file ``path`` (a folder: its ``policy.yaml``)."""
        target = (Path(path) / POLICY_FILE if Path(path).is_dir() else Path(path)).resolve()
        for policy_id, (file, _) in self._raw.items():
            if file.resolve() == target:
                return policy_id
        raise LookupError(f"{path}: not a policy file of {self.root}")

    def __contains__(self, policy_id: object) -> bool:
        return policy_id in self._raw or (self.fallback is not None and policy_id in self.fallback)

    def known(self) -> list[str]:
        """Every id ``get`` answers: this folder's and its fallback's."""
        below = self.fallback.known() if self.fallback is not None else []
        return sorted({*self._raw, *below})

    def get(self, policy_id: str) -> LoadedPolicy:
        if policy_id in self._resolved:
            return self._resolved[policy_id]
        if policy_id not in self._raw:
            if self.fallback is not None and policy_id in self.fallback:
                return self.fallback.get(policy_id)
            raise UnknownPolicyError(policy_id, self.known())
        path, item = self._raw[policy_id]
        if isinstance(item, Overlay):
            if item.overlay_of == item.id:
                raise PolicyFileError(
                    path, [Problem("overlay_of", "an overlay cannot be its own base", None)]
                )
            if item.overlay_of not in self:
                raise PolicyFileError(
                    path,
                    [
                        Problem(
                            "overlay_of",
                            f"base policy {item.overlay_of!r} not found",
                            None,
                            f"one of: {', '.join(self.known())}",
                        )
                    ],
                )
            base = self.get(item.overlay_of).policy
            loaded = LoadedPolicy(apply_overlay(base, item, path), path, item)
        else:
            loaded = LoadedPolicy(item, path)
        self._resolved[policy_id] = loaded
        return loaded

    def all(self) -> list[LoadedPolicy]:
        return [self.get(i) for i in self.ids()]


def load_policy_path(path: Path, registry: Registry | None = None) -> LoadedPolicy:
    """Load one file (a policy, or an overlay whose base is in ``registry``)."""
    path = Path(path)
    if path.is_dir():
        path = path / POLICY_FILE
    item = read_file(path)
    if isinstance(item, Overlay):
        reg = registry or registry_for(path.parent.parent)
        base = reg.get(item.overlay_of).policy
        return LoadedPolicy(apply_overlay(base, item, path), path, item)
    return LoadedPolicy(item, path)


def is_policy_path(text: str) -> bool:
    """Whether a policy named on the command line is a file or folder rather than an id: a
    YAML file name, or a name with a path separator (ids have neither)."""
    return text.endswith((".yaml", ".yml")) or "/" in text or "\\" in text


def registry_with_files(
    files: Sequence[str | Path], base: Registry, cache_dir: Path | None = None
) -> Registry:
    """``base`` answering also the policies of ``files`` (policy files or folders anywhere,
    read once here; an overlay's base and the tracing rules the simulator reads come from
    ``base``): nothing needs to be copied beside the shipped policies."""
    if not files:
        return base
    for f in files:
        target = Path(f) / POLICY_FILE if Path(f).is_dir() else Path(f)
        if not target.is_file():
            raise PolicyFileError(target, [Problem("", "no such policy file", None)])
    return Registry(Path(files[0]).parent, cache_dir, fallback=base, files=[Path(f) for f in files])


def shipped_registry(cache_dir: Path | None = None) -> Registry:
    """The shipped policies, read once per process (and ``cache_dir``): policies are immutable
    once resolved, so every caller may share them."""
    return _shipped(cache_dir)


@functools.cache
def _shipped(cache_dir: Path | None) -> Registry:
    return Registry(default_policy_dir(), cache_dir)


def registry_for(root: Path | None, cache_dir: Path | None = None) -> Registry:
    """The policies of ``root``: the shipped ones (read once) when it is None or the shipped
    folder, else that folder's, with the shipped policies answering the ids it does not define."""
    shipped = shipped_registry(cache_dir)
    if root is None or Path(root).resolve() == default_policy_dir().resolve():
        return shipped
    return Registry(root, cache_dir, fallback=shipped)
