"""Explanations a parent can read (issue 15, item 9), on every worked case of every shipped
policy, in English and Spanish: a first paragraph that reads at grade 9 or below, no internal
word (parameter, reading, metric, rule or mode ids, snake_case, engine words), each source cited
once with its confidence in words, no past day offered as a possible return, a duration stated
only where the rule has one."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from functools import cache

import pyphen
import pytest
import textstat

from schoolmode.engine.explain import explain
from schoolmode.engine.plain import summary
from schoolmode.engine.trace import Node, Trace
from schoolmode.i18n import language
from schoolmode.policy.loader import Registry
from tests.engine.case_traces import shipped_traces

GRADE = 9
"""The highest school grade a first paragraph may need (Flesch-Kincaid in English, Crawford in
Spanish)."""

ENGINE_WORDS = (
    "segment",
    "trigger",
    "nan",
    "none",
    "null",
    "true",
    "false",
    "spell",
    "operand",
    "parameter",
    "interpretation",
    "no_data",
    "not_in_force",
    "eligible_for",
)
JARGON = {"pct", "ml", "7d", "14d", "100k", "qi", "ct"}
"""Tokens of ids that are no English words."""
SNAKE = re.compile(r"\b[a-z0-9]+(?:_[a-z0-9]+)+\b", re.I)
URL = re.compile(r"https?://\S+")
WORD = re.compile(r"[^\W\d_]+(?:[-'][^\W\d_]+)*")


@cache
def _hyphenator() -> pyphen.Pyphen:
    return pyphen.Pyphen(lang="en_US")


def flesch_kincaid_grade(text: str) -> float:
    """The Flesch-Kincaid grade level, 0.39 (words/sentences) + 11.8 (syllables/words) - 15.59
    (Kincaid et al. 1975), counting words and sentences with textstat and syllables with Pyphen's
    hyphenation dictionary: textstat's own English syllable count needs NLTK's CMU dictionary, a
    download that is not a package (textstat falls back on Pyphen for words it lacks)."""
    textstat.set_lang("en_US")
    words = WORD.findall(text)
    numbers = re.findall(r"\d[\d,.]*%?", text)
    syllables = sum(len(_hyphenator().positions(w.lower())) + 1 for w in words) + len(numbers)
    count = len(words) + len(numbers)
    sentences = max(1, textstat.sentence_count(text))
    return 0.39 * count / sentences + 11.8 * syllables / count - 15.59


def crawford_grade(text: str) -> float:
    """Crawford's grade level for Spanish (years of schooling), as textstat computes it."""
    textstat.set_lang("es")
    return float(textstat.crawford(text))


@pytest.fixture(scope="module")
def traces() -> list[Trace]:
    found = list(shipped_traces())
    assert len(found) > 100
    return found


@pytest.fixture(scope="module")
def internal_ids() -> set[str]:
    """Every id a policy file gives: policies, parameters, readings, rules, modes, metrics and
    attributes (with and without their underscores)."""
    ids: set[str] = set()
    modes: set[str] = set()  # in words, a mode's id is often its label: only as an id
    for loaded in Registry().all():
        policy = loaded.policy
        ids.add(policy.id)
        ids.update(policy.parameters)
        ids.update(policy.interpretations)
        ids.update(rule.id for rule in policy.rules)
        ids.update(getattr(policy, "metrics", None) or {})
        modes.update(mode.id for mode in policy.modes if "_" in mode.id)
    # an id in words where it reads as no English would (``positivity 7d pct``), not where it
    # does (``grade band`` in a rule's title)
    spaced = {i.replace("_", " ") for i in ids if "_" in i}
    named = {i for i in ids if "_" in i or "-" in i}  # one plain word (``enrolled``) is English
    return named | modes | {i for i in spaced if JARGON & set(i.split())}


def banned_words(text: str, internal: set[str], unit: str = "") -> list[str]:
    """The internal words in ``text`` (not counting the unit's own name, the case's word)."""
    bare = URL.sub("", text)
    if unit:
        bare = re.sub(rf"(?<![\w-]){re.escape(unit)}(?![\w-])", "", bare)
    found = SNAKE.findall(bare)
    # the titles of the sources and the quotations are the documents' words, cited as written
    ours = "\n".join(
        line
        for part in bare.split("\n\n")
        if not part.startswith(("Sources:", "Fuentes:"))
        for line in part.splitlines()
        if not line.lstrip().startswith('"')
    ).lower()
    found += [w for w in ENGINE_WORDS if re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", ours)]
    found += [i for i in internal if re.search(rf"(?<![\w-]){re.escape(i.lower())}(?![\w-])", ours)]
    return found


def _nodes(node: Node | None) -> Iterator[Node]:
    if node is None:
        return
    yield node
    for child in node.children:
        yield from _nodes(child)


@pytest.mark.parametrize("code", ["en", "es"])
def test_no_internal_words_in_a_plain_explanation(
    traces: list[Trace], internal_ids: set[str], code: str
) -> None:
    lang = language(code)
    for t in traces:
        for all_rules in (False, True):
            text = explain(t, all_rules=all_rules, lang=lang)
            found = banned_words(text, internal_ids, t.unit)
            assert not found, f"{found} in\n{text}"


def test_the_technical_explanation_keeps_the_names(traces: list[Trace]) -> None:
    # (a day outside the policy's term applies no parameter: its explanation names none)
    named = [
        t
        for t in traces
        if t.mode != "not_in_force" and any(r.condition and r.condition.params for r in t.rules)
    ]
    assert named
    for t in named:
        technical = explain(t, technical=True, all_rules=True)
        params = {p.name for r in t.rules for n in _nodes(r.condition) for p in n.params}
        assert any(name in technical for name in params), technical
        assert not any(name in explain(t, all_rules=True) for name in params if "_" in name)


def test_the_first_paragraph_reads_at_grade_nine_or_below(traces: list[Trace]) -> None:
    worst: dict[str, tuple[float, str]] = {"en": (0.0, ""), "es": (0.0, "")}
    for t in traces:
        for code, grade in (("en", flesch_kincaid_grade), ("es", crawford_grade)):
            first = explain(t, lang=language(code)).split("\n\n")[0]
            assert first == summary(t, lang=language(code))
            score = grade(first)
            assert score <= GRADE, f"grade {score:.1f} ({code}):\n{first}"
            worst[code] = max(worst[code], (score, first))
    # the measures tell texts apart: a paragraph of long words reads above grade 9
    hard = (
        "Notwithstanding the aforementioned epidemiological considerations, institutional "
        "administrators, constitutionally responsible, determined instructional modifications."
    )
    assert flesch_kincaid_grade(hard) > GRADE


def _in_effect(traces: list[Trace]) -> Trace:
    return next(
        t
        for t in traces
        if t.mode == "remote"
        and any(r.in_effect and r.rule_id == t.rule and r.min_duration for r in t.rules)
    )


def _with_rule(t: Trace, **changes: object) -> Trace:
    rules = [replace(r, **changes) if r.rule_id == t.rule else r for r in t.rules]  # type: ignore[arg-type]
    return replace(t, rules=rules)


def test_a_return_day_already_past_is_never_offered(traces: list[Trace]) -> None:
    t = _in_effect(traces)
    rule = next(r for r in t.rules if r.rule_id == t.rule)
    assert rule.earliest_return
    assert rule.earliest_return > t.date
    ahead = explain(t)
    assert f"It can end on {language('en').date(rule.earliest_return)} at the earliest." in ahead
    assert "earliest return" in explain(t, technical=True)
    past = _with_rule(t, earliest_return=rule.spell_start)
    for code in ("en", "es"):
        for technical in (False, True):
            text = explain(past, lang=language(code), technical=technical)
            assert language(code).date(rule.spell_start or "") in text  # the start is said
            assert "earliest" not in text, text
            assert "como muy pronto" not in text, text


def test_a_duration_is_said_only_where_the_rule_has_one(traces: list[Trace]) -> None:
    t = _in_effect(traces)
    rule = next(r for r in t.rules if r.rule_id == t.rule)
    days = int(rule.min_duration or 0)
    assert f"It lasts at least {days} days." in explain(t)
    none = _with_rule(t, min_duration=None, exit_when="trigger_cleared")
    for technical in (False, True):
        text = explain(none, technical=technical)
        assert "at least" not in text.split("\n\n")[0] or technical
        assert "It lasts while the rule is met." in text
        assert "set duration" not in text
    returning = _with_rule(t, min_duration=None, exit_when="condition")
    assert "It lasts until its return condition is met." in explain(returning)
    one = _with_rule(t, min_duration="1", min_duration_unit="school_days")
    assert "It lasts at least 1 school day." in explain(one)
    assert "Dura al menos 1 día escolar." in explain(one, lang=language("es"))
    hours = _with_rule(t, min_duration="36", min_duration_unit="hours")
    assert "It lasts at least 36 hours (whole days, rounded up)." in explain(hours)
    assert "Dura al menos 36 horas (días enteros" in explain(hours, lang=language("es"))


def test_each_source_is_cited_once_with_its_confidence_in_words(traces: list[Trace]) -> None:
    words = ("verified in the text", "from a secondary source", "unverified; our reading")
    for t in traces:
        text = explain(t, all_rules=True)
        if "Sources:" not in text:
            continue
        cited = text.split("Sources:\n", 1)[1].splitlines()
        assert cited, text
        assert all(re.match(r"  \[\d+\] ", line) for line in cited), text
        assert all(any(w in line for w in words) for line in cited), text
        assert len(cited) == len(set(cited))
        for url in set(URL.findall(text)):
            assert text.count(url) == 1, f"{url} cited more than once:\n{text}"
        body = text.split("Sources:\n", 1)[0]
        assert not re.search(r"\[[SVU]\]", body), body


def test_counts_of_days_agree_with_their_nouns(traces: list[Trace]) -> None:
    one = re.compile(r"(?<![\d.,])1 (?:consecutive )?(?:school |calendar )?days\b")
    uno = re.compile(r"(?<![\d.,])1 días\b")
    for t in traces:
        for technical in (False, True):
            english = explain(t, all_rules=True, technical=technical)
            spanish = explain(t, all_rules=True, technical=technical, lang=language("es"))
            assert not one.search(english), english
            assert not uno.search(spanish), spanish


def test_the_first_paragraph_writes_days_as_weekday_and_date(traces: list[Trace]) -> None:
    weekdays = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
    for t in traces:
        first = summary(t)
        assert first.startswith("On "), first
        assert first.split()[1] in weekdays, first
        # (a rule's title, quoted, is the policy's words)
        for text in (first, summary(t, lang=language("es"))):
            assert not re.search(r"\d{4}-\d{2}-\d{2}", re.sub(r'"[^"]*"', "", text)), text
