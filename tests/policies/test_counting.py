"""What counts, in the policy file: the ``counts:`` vocabulary, its defaults and its errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from schoolmode.policy.counting import (
    ABSENCE_REASONS,
    COVID_REASONS,
    DEFAULTS,
    counting_rules,
)
from schoolmode.policy.errors import PolicyFileError
from schoolmode.policy.loader import (
    default_policy_dir,
    load_policy_path,
    registry_for,
    shipped_registry,
)
from schoolmode.standard.models import AbsenceReason

SHIPPED = default_policy_dir()
STAFF_OUT = SHIPPED / "ctu-proposal-2022-01-08" / "policy.yaml"


def test_the_reason_codes_are_the_data_standards() -> None:
    assert tuple(r.value for r in AbsenceReason) == ABSENCE_REASONS
    assert set(COVID_REASONS) <= set(ABSENCE_REASONS)


def test_a_policy_without_counts_counts_as_before() -> None:
    policy = shipped_registry().get("cdc-k12-2021-02-12").policy
    assert not policy.counts
    assert counting_rules(policy) == DEFAULTS
    assert DEFAULTS.absent_teacher_reasons == DEFAULTS.staff_out_reasons == COVID_REASONS
    assert DEFAULTS.school_cases_household == "count"
    assert DEFAULTS.outbreak_household == DEFAULTS.qualifying_household == "exclude"


@pytest.mark.parametrize(
    "policy_id",
    [
        "cps-ctu-2022-01-10",
        "cps-ctu-2021-02-06",
        "cps-lbfo-2021-02-04",
        "ctu-proposal-2021-12-30",
        "ctu-proposal-2022-01-08",
        "idph-outbreak-2021-10-15",
    ],
)
def test_the_agreements_state_what_counts_with_their_source(policy_id: str) -> None:
    policy = shipped_registry().get(policy_id).policy
    assert policy.counts
    for metric, rule in policy.counts.items():
        assert metric in policy.metrics
        assert rule.source in policy.sources
        assert rule.clause
    # the shipped statements are today's behaviour under the default readings
    assert counting_rules(policy) == DEFAULTS


def test_a_reading_changes_what_counts() -> None:
    policy = shipped_registry().get("ctu-proposal-2022-01-08").policy
    wider = counting_rules(policy, {"staff_out_reasons": "with_self_reported"})
    assert wider.staff_out_reasons == (*COVID_REASONS, "self_reported_unconfirmed")
    assert wider.absent_teacher_reasons == COVID_REASONS
    assert counting_rules(policy, {"staff_out_reasons": "documented"}) == DEFAULTS


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        (
            "[documented_positive, directed_quarantine_isolation]}",
            "[documented_positive, sick_day]}",
            ["counts.staff_isolation_quarantine.reading.cases.documented.reasons[1]", "sick_day"],
        ),
        (
            "      interp: staff_out_reasons",
            "      interp: staff_out_reason",
            ["counts.staff_isolation_quarantine.reading", "'staff_out_reason'"],
        ),
        (
            "  staff_isolation_quarantine:\n    clause",
            "  staff_total:\n    clause",
            ["counts.staff_total", "not an event-derived metric"],
        ),
        (
            "        documented: {reasons",
            "        documented: {household_linked: exclude, reasons",
            ["counts.staff_isolation_quarantine.reading.cases.documented", "by household_linked"],
        ),
        (
            "    source: asumag-2022-01-10\n    confidence: S\n    reading",
            "    source: asumag\n    confidence: S\n    reading",
            ["counts.staff_isolation_quarantine.source", "'asumag'"],
        ),
        (
            "        with_self_reported: {",
            "        with_self_report: {",
            ["counts.staff_isolation_quarantine.reading", "missing ['with_self_reported']"],
        ),
    ],
)
def test_a_bad_counting_rule_names_file_and_field(
    tmp_path: Path, old: str, new: str, words: list[str]
) -> None:
    text = STAFF_OUT.read_text()
    assert old in text
    path = tmp_path / "policy.yaml"
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(PolicyFileError) as caught:
        load_policy_path(path)
    message = str(caught.value)
    assert f"{path}:" in message
    for word in words:
        assert word in message, message


def test_an_overlay_changes_what_counts(tmp_path: Path) -> None:
    (tmp_path / "wider").mkdir()
    (tmp_path / "wider" / "policy.yaml").write_text(
        "id: cps22-wider\n"
        "overlay_of: cps-ctu-2022-01-10\n"
        "title: A counter-proposal counting personal absences too\n"
        "parties: [someone]\n"
        "summary: counts personal absences\n"
        "changes:\n"
        "  counts:\n"
        "    covid_absent_teachers:\n"
        "      reasons: [documented_positive, directed_quarantine_isolation, personal]\n"
        "      clause: a counter-proposal\n"
        "      source: substance-2022-01-10\n"
        "      confidence: U\n",
        encoding="utf-8",
    )
    registry = registry_for(tmp_path)
    wider = counting_rules(registry.get("cps22-wider").policy)
    assert wider.absent_teacher_reasons == (*COVID_REASONS, "personal")
    assert counting_rules(registry.get("cps-ctu-2022-01-10").policy) == DEFAULTS
    # an overlay without changes to what counts keeps its base's statements
    overlay = shipped_registry().get("cps-ctu-2021-04-15-hs").policy
    base = shipped_registry().get("cps-ctu-2021-02-06").policy
    assert overlay.counts == base.counts
