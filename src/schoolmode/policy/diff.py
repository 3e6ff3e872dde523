"""Two policies side by side: which thresholds, windows, scopes and durations differ."""

from __future__ import annotations

from dataclasses import dataclass

from schoolmode.policy.describe import Describer
from schoolmode.policy.model import Policy, Rule


@dataclass(frozen=True)
class DiffRow:
    section: str  # identity, scope:<scope>, parameter, interpretation
    item: str
    left: str
    right: str

    @property
    def differs(self) -> bool:
        return self.left != self.right


def policy_diff(a: Policy, b: Policy) -> list[DiffRow]:
    da, db = Describer(a), Describer(b)
    rows: list[DiffRow] = [
        DiffRow("identity", "kind / status", f"{a.kind} / {a.status}", f"{b.kind} / {b.status}"),
        DiffRow("identity", "parties", ", ".join(a.parties), ", ".join(b.parties)),
        DiffRow(
            "identity",
            "term",
            f"{a.term.from_} to {a.term.to or 'open'}",
            f"{b.term.from_} to {b.term.to or 'open'}",
        ),
    ]
    for scope in ("district", "school", "grade", "classroom"):
        ra = [r for r in a.rules if r.scope.value == scope]
        rb = [r for r in b.rules if r.scope.value == scope]
        if not ra and not rb:
            continue
        if not ra or not rb:
            rows.append(
                DiffRow(
                    f"scope:{scope}",
                    "rules",
                    str(len(ra)) + " rule(s)" if ra else "no rule",
                    str(len(rb)) + " rule(s)" if rb else "no rule",
                )
            )
        pairs = _pair(ra, rb)
        for left, right in pairs:
            title = " / ".join(dict.fromkeys(r.id for r in (left, right) if r is not None))
            dl = da.rule(left) if left is not None else {}
            dr = db.rule(right) if right is not None else {}
            for key in dict.fromkeys([*dl, *dr]):
                rows.append(
                    DiffRow(f"scope:{scope}", f"{title}: {key}", dl.get(key, "—"), dr.get(key, "—"))
                )
    for name in sorted(set(a.parameters) | set(b.parameters)):
        rows.append(DiffRow("parameter", name, _param(da, a, name), _param(db, b, name)))
    for name in sorted(set(a.interpretations) | set(b.interpretations)):
        ia, ib = a.interpretations.get(name), b.interpretations.get(name)
        rows.append(
            DiffRow(
                "interpretation",
                name,
                str(ia.default) if ia else "—",
                str(ib.default) if ib else "—",
            )
        )
    return rows


def _param(d: Describer, p: Policy, name: str) -> str:
    if name not in p.parameters:
        return "—"
    values = p.parameters[name].values
    return "; ".join(
        f"{v.value}{'%' if p.parameters[name].unit == 'percent' else ''} from {v.from_} [{v.confidence.value}]"
        for v in values
    )


def _pair(ra: list[Rule], rb: list[Rule]) -> list[tuple[Rule | None, Rule | None]]:
    """Pair rules by id, then by effect mode, then in order."""
    pairs: list[tuple[Rule | None, Rule | None]] = []
    left, right = list(ra), list(rb)
    for r in list(left):
        match = next((x for x in right if x.id == r.id), None)
        if match is None:
            mode = r.effect.mode if r.effect else None
            match = next((x for x in right if (x.effect.mode if x.effect else None) == mode), None)
        if match is not None:
            pairs.append((r, match))
            left.remove(r)
            right.remove(match)
    pairs.extend((r, None) for r in left)
    pairs.extend((None, r) for r in right)
    return pairs
