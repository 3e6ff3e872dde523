"""Explanations a parent can read (issue 15, item 9), on every worked case of every shipped
policy, in English and Spanish: a first paragraph that reads at grade 9 or below, no internal
word (parameter, reading, metric, rule or mode ids, snake_case, engine words), each source cited
once with its confidence in words, no past day offered as a possible return, a duration stated
only where the rule has one."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache

import pyphen
import pytest
import textstat

from schoolmode.cases.runner import collect, evaluate_case
from schoolmode.engine.explain import explain
from schoolmode.engine.plain import summary
from schoolmode.engine.trace import Node, Trace, trace
from schoolmode.i18n import language
from schoolmode.policy.cases import EngineCase, Expectation
from schoolmode.policy.loader import Registry

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


def _traces() -> Iterator[Trace]:
    registry = Registry()
    for run in collect(registry):
        if not isinstance(run.case, EngineCase):
            continue
        evaluation = evaluate_case(run.case, registry.get(run.policy_id).policy, run.settings)
        seen = set()
        for raw in run.expect:
            exp = raw if isinstance(raw, Expectation) else Expectation.model_validate(raw)
            day = exp.date or exp.from_
            key = (exp.scope.value, exp.unit, day)
            if day is None or key in seen:
                continue
            seen.add(key)
            yield trace(evaluation, *key)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def traces() -> list[Trace]:
    found = list(_traces())
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
    named = [t for t in traces if any(r.condition and r.condition.params for r in t.rules)]
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
