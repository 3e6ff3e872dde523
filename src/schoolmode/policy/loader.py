"""Find, read and resolve policy files.

Layout: ``policies/<policy-id>/policy.yaml`` (a full policy, or an overlay with
``overlay_of``) and ``policies/<policy-id>/cases/*.yaml`` beside it. Overlays are
resolved against their base into a full ``Policy``. Each resolved policy has a content
hash over its canonical JSON, which audit records keep.
"""

from __future__ import annotations

import hashlib
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
    kept while unchanged, see ``policy/yamlcache.py``; None: parse every file)."""

    def __init__(self, root: Path | None = None, cache_dir: Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_policy_dir()
        self._raw: dict[str, tuple[Path, Policy | Overlay]] = {}
        self._resolved: dict[str, LoadedPolicy] = {}
        for path in sorted(self.root.glob(f"*/{POLICY_FILE}")):
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

    def get(self, policy_id: str) -> LoadedPolicy:
        if policy_id in self._resolved:
            return self._resolved[policy_id]
        if policy_id not in self._raw:
            raise UnknownPolicyError(policy_id, self.ids())
        path, item = self._raw[policy_id]
        if isinstance(item, Overlay):
            if item.overlay_of == item.id:
                raise PolicyFileError(
                    path, [Problem("overlay_of", "an overlay cannot be its own base", None)]
                )
            if item.overlay_of not in self._raw:
                raise PolicyFileError(
                    path,
                    [
                        Problem(
                            "overlay_of",
                            f"base policy {item.overlay_of!r} not found",
                            None,
                            f"one of: {', '.join(self.ids())}",
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
        reg = registry or Registry(path.parent.parent)
        base = reg.get(item.overlay_of).policy
        return LoadedPolicy(apply_overlay(base, item, path), path, item)
    return LoadedPolicy(item, path)
