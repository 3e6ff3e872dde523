"""Malformed policy files: one fixture per failure mode, and the words each message must hold."""

from __future__ import annotations

from pathlib import Path

import pytest

from schoolmode.policy.errors import PolicyFileError
from schoolmode.policy.loader import load_policy_path
from tests.conftest import FIXTURES

MALFORMED = FIXTURES / "malformed"

# fixture -> (line, words the message must contain)
EXPECTED: dict[str, tuple[int | None, list[str]]] = {
    "yaml_syntax": (46, ["YAML syntax error", "fix:"]),
    "unknown_key": (40, ["rules[0].when.sustained.condition", "threshhold", "threshold", "fix:"]),
    "bad_comparator": (43, ["threshold.op", "'>='", "found '=>'", "fix:"]),
    "bad_date": (24, ["month must be in 1..12", "YYYY-MM-DD"]),
    "unknown_parameter": (
        44,
        ["share_pc", "not defined in `parameters`", "did you mean 'share_pct'"],
    ),
    "dates_out_of_order": (
        22,
        ["parameters.share_pct.values", "increasing date order", "2021-12-01"],
    ),
    "missing_title": (1, ["`title`", "missing", "add `title:`"]),
    "percent_as_text": (19, ["parameters.share_pct", "'30%'", "plain numbers"]),
    "default_not_a_choice": (
        26,
        ["interpretations.day_unit", "'weekdays'", "not one of the choices"],
    ),
    "undeclared_mode": (45, ["rules[0].effect.mode", "'closed'", "in_person, remote"]),
    "unknown_source": (23, ["values[0].source", "'memos'", "known: memo"]),
    "bad_masking": (14, ["modes[1].masking", "'universal' or 'optional'", "found 'required'"]),
    "misspelt_top_key": (25, ["unknown key `interpretation`", "did you mean `interpretations`"]),
}


def test_every_fixture_has_expectations() -> None:
    assert sorted(p.stem for p in MALFORMED.glob("*.yaml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_message_names_file_line_and_key(name: str) -> None:
    path = MALFORMED / f"{name}.yaml"
    with pytest.raises(PolicyFileError) as caught:
        load_policy_path(path)
    message = str(caught.value)
    line, words = EXPECTED[name]
    assert str(path) in message
    if line is not None:
        assert f"{path}:{line}:" in message, message
    for word in words:
        assert word in message, f"{word!r} not in:\n{message}"


def test_the_valid_template_is_valid() -> None:
    loaded = load_policy_path(FIXTURES / "valid_policy.yaml")
    assert loaded.policy.id == "tiny"


def test_a_case_file_error_names_line_and_key(tmp_path: Path) -> None:
    from schoolmode.cases.runner import load_case_file

    bad = tmp_path / "cases.yaml"
    bad.write_text(
        "cases:\n  - id: c1\n    title: t\n    confidence: Q\n    justification: j\n    frames: {}\n",
        encoding="utf-8",
    )
    with pytest.raises(PolicyFileError) as caught:
        load_case_file(bad)
    assert f"{bad}:4: cases[0].confidence" in str(caught.value)
