"""Cross-reference checks run when a policy is validated.

Every ``{param: X}`` names a parameter, every ``{interp: X}`` an interpretation, every
``metric:`` a declared metric, every effect a declared mode, every dated value a source.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from schoolmode.policy.walk import walk_paths

if TYPE_CHECKING:
    from schoolmode.policy.model import Policy


PATH_MARK = "\x1f"


def check_references(policy: Policy) -> None:
    from schoolmode.policy import model as m

    problems: list[tuple[tuple[str | int, ...], str]] = []
    modes = set(policy.mode_ids())
    seen: set[str] = set()
    for name, param in policy.parameters.items():
        for value in param.values:
            if value.source not in policy.sources:
                problems.append(
                    (
                        ("parameters", name, "values", param.values.index(value), "source"),
                        f"parameter {name!r} cites source {value.source!r}, which is not in `sources` "
                        f"(known: {', '.join(sorted(policy.sources))})",
                    )
                )
    for index, rule in enumerate(policy.rules):
        where = f"rule {rule.id!r}"
        base = ("rules", index)
        if rule.id in seen:
            problems.append(
                ((*base, "id"), f"{where}: the id is used twice; rule ids must be unique")
            )
        seen.add(rule.id)
        if rule.source is not None and rule.source not in policy.sources:
            problems.append(
                ((*base, "source"), f"{where}: source {rule.source!r} is not in `sources`")
            )
        if rule.effect is not None and rule.effect.mode not in modes:
            problems.append(
                (
                    (*base, "effect", "mode"),
                    f"{where}: effect mode {rule.effect.mode!r} is not one of the policy's modes "
                    f"({', '.join(policy.mode_ids())})",
                )
            )
        for rec in rule.recommend or []:
            for level, mode in rec.modes.items():
                if level not in (rule.levels or []):
                    problems.append(
                        (
                            (*base, "recommend"),
                            f"{where}: recommendation for unknown level {level!r}",
                        )
                    )
                if mode not in modes:
                    problems.append(
                        (
                            (*base, "recommend"),
                            f"{where}: recommended mode {mode!r} is not a declared mode",
                        )
                    )
        for path, node in walk_paths(rule, base):
            if isinstance(node, m.ParamRef) and node.param not in policy.parameters:
                problems.append(
                    (
                        path,
                        f"{where}: parameter {node.param!r} is not defined in `parameters`"
                        + _suggest(node.param, policy.parameters),
                    )
                )
            elif isinstance(node, m.InterpRef) and node.interp not in policy.interpretations:
                problems.append(
                    (
                        path,
                        f"{where}: interpretation {node.interp!r} is not defined in `interpretations`"
                        + _suggest(node.interp, policy.interpretations),
                    )
                )
            elif isinstance(node, m.MetricOp) and node.metric not in policy.metrics:
                problems.append(
                    (
                        (*path, "metric"),
                        f"{where}: metric {node.metric!r} is not declared in `metrics`"
                        + _suggest(node.metric, policy.metrics),
                    )
                )
            elif isinstance(node, m.ChooseSpec | m.PickSpec):
                word = "choose" if isinstance(node, m.ChooseSpec) else "pick"
                interp = policy.interpretations.get(node.interp)
                if interp is None:
                    problems.append(
                        (path, f"{where}: `{word}` names unknown interpretation {node.interp!r}")
                    )
                else:
                    choices = {str(c) for c in interp.choices}
                    missing = choices - set(node.cases)
                    extra = set(node.cases) - choices
                    if missing or extra:
                        problems.append(
                            (
                                path,
                                f"{where}: `{word}` on {node.interp!r} must give one branch per "
                                f"choice {sorted(choices)} (missing {sorted(missing)}, unknown {sorted(extra)})",
                            )
                        )
    if problems:
        raise ValueError(
            "\n".join(
                f"{PATH_MARK}{'/'.join(map(str, loc))}{PATH_MARK}{msg}" for loc, msg in problems
            )
        )


def _suggest(name: str, known: object) -> str:
    import difflib

    options = list(known) if isinstance(known, dict) else []
    close = difflib.get_close_matches(name, options, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""
