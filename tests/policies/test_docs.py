"""Generated docs cannot drift: the committed copies must match what the code generates."""

from __future__ import annotations

import pytest

from schoolmode.policy.docs import generated
from schoolmode.policy.loader import Registry
from tests.conftest import POLICIES, ROOT

GENERATED = generated(Registry(POLICIES))


@pytest.mark.parametrize("relative", sorted(GENERATED))
def test_generated_doc_is_current(relative: str) -> None:
    path = ROOT / "docs" / relative
    assert path.exists(), f"docs/{relative} is missing: run `schoolmode policy docs`"
    assert path.read_text(encoding="utf-8") == GENERATED[relative], (
        f"docs/{relative} is stale: run `schoolmode policy docs` and commit the result"
    )


def test_every_policy_field_is_documented() -> None:
    from schoolmode.policy import model as m

    text = (ROOT / "docs" / "policy-format.md").read_text(encoding="utf-8")
    missing = []
    for cls in (
        m.Policy,
        m.Mode,
        m.Parameter,
        m.DatedValue,
        m.Interpretation,
        m.Rule,
        m.Timing,
        m.Overlay,
    ):
        for name, field in cls.model_fields.items():
            key = field.alias or name
            if f"`{key}`" not in text:
                missing.append(f"{cls.__name__}.{key}")
    assert not missing, f"fields not documented in docs/policy-format.md: {missing}"
