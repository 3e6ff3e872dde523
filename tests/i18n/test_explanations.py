"""Explanations in English and Spanish on every worked case of every shipped policy: the
English text is the engine's own (each note written again from its figures gives the note the
trace holds), and the Spanish text states the same figures, line by line, with the mode in
Spanish and every sentence from the catalog."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from schoolmode.engine.explain import explain
from schoolmode.engine.trace import Node, Trace
from schoolmode.engine.words import _note, _Words, what_would_change
from schoolmode.i18n import language
from tests.engine.case_traces import shipped_traces

FIGURE = re.compile(r"\d[\d,]*(?:\.\d+)?%?")
QUOTE_MARK = "Cita textual en su idioma original (inglés):"


def figures_by_line(en: str, es: str) -> list[tuple[list[str], list[str]]]:
    """The figures of each line of an English explanation and of its Spanish one (less the
    lines that mark a quotation as English), paired line by line."""
    es_lines = [line for line in es.splitlines() if line.strip() != QUOTE_MARK]
    en_lines = en.splitlines()
    assert len(en_lines) == len(es_lines), f"{en}\n---\n{es}"
    return [(FIGURE.findall(a), FIGURE.findall(b)) for a, b in zip(en_lines, es_lines, strict=True)]


def assert_same_figures(en: str, es: str) -> None:
    for a, b in figures_by_line(en, es):
        assert a == b, f"{a} != {b} in\n{en}\n---\n{es}"


@pytest.fixture(scope="module")
def traces() -> list[Trace]:
    found = list(shipped_traces())
    assert len(found) > 100
    return found


def _nodes(node: Node | None) -> Iterator[Node]:
    if node is None:
        return
    yield node
    for child in node.children:
        yield from _nodes(child)


def test_each_note_written_again_in_english_is_the_engines(traces: list[Trace]) -> None:
    en = _Words(language("en"))
    kinds = set()
    for t in traces:
        for rule in t.rules:
            for node in _nodes(rule.condition):
                if node.note is not None:
                    kinds.add(node.kind)
                    assert _note(node, en) == node.note, node
    # the shipped cases exercise each kind of note the renderer writes from its figures
    assert kinds >= {"threshold", "sustained", "choose", "constant", "bands", "trend"}


def test_spanish_states_the_same_figures_as_english(traces: list[Trace]) -> None:
    es = language("es")
    for t in traces:
        for all_rules in (False, True):
            for technical in (False, True):
                english = explain(t, all_rules=all_rules, technical=technical)
                spanish = explain(t, all_rules=all_rules, lang=es, technical=technical)
                assert_same_figures(english, spanish)
                again = explain(t, all_rules=all_rules, lang=language("en"), technical=technical)
                assert english == again


def test_a_spanish_explanation_reads_in_spanish(traces: list[Trace]) -> None:
    es = language("es")
    remote = next(
        t
        for t in traces
        if t.policy_id == "cps-ctu-2022-01-10" and t.status == "remote" and t.scope == "school"
    )
    text = explain(remote, lang=es, technical=True)
    first = text.splitlines()[0]
    assert first.startswith(f"Escuela {remote.unit} el ")
    assert first.endswith(": aprendizaje remoto.")
    assert "de enero de 2022" in first
    assert "(se cumple)" in text
    assert "todas estas:" in text
    assert "Cláusula: " in text
    assert QUOTE_MARK in text  # the agreement's words stay in English, marked as such
    english = explain(remote, technical=True)
    assert "Quoted in its original language" not in english
    assert english.splitlines()[0].endswith(": remote learning.")
    # the explanation for parents, in Spanish from its first words
    plain = explain(remote, lang=es)
    assert plain.startswith("El jueves, 20 de enero de 2022, la escuela X tiene la modalidad ")
    assert '"Aprendizaje remoto"' in plain.splitlines()[0]
    assert "Fuentes:" in plain
    assert QUOTE_MARK in plain


def test_plural_forms_follow_the_count() -> None:
    sustained = Node(
        "sustained",
        "absences",
        True,
        children=[
            Node(
                "threshold",
                "",
                True,
                op=">=",
                limit="30",
                limit_text="30.0%",
                criterion="at least 30.0%",
            )
        ],
        note="at least 30.0% on 1 consecutive school day",
        args={"days": "1", "unit": "school_days"},
    )
    en, es = _Words(language("en")), _Words(language("es"))
    assert _note(sustained, en) == "at least 30.0% on 1 consecutive school day"
    assert _note(sustained, es) == "al menos 30.0% durante 1 día escolar consecutivo"
    sustained.args["days"] = "3"
    assert _note(sustained, en) == "at least 30.0% on 3 consecutive school days"
    assert _note(sustained, es) == "al menos 30.0% durante 3 días escolares consecutivos"


def test_what_would_change_in_spanish() -> None:
    share = Node(
        "operand",
        "classroom teachers absent",
        value="30.0%",
        percent=True,
        children=[
            Node("operand", "a", value="12", raw="12"),
            Node("operand", "b", value="40", raw="40"),
        ],
        args={"detail": "share"},
    )
    node = Node("threshold", "", True, children=[share], op=">=", limit="30", limit_text="30.0%")
    assert what_would_change(node) == [
        "classroom teachers absent: 12 of 40 now; 11 of 40 or fewer would be under 30.0% (1 fewer)"
    ]
    assert what_would_change(node, lang=language("es")) == [
        "classroom teachers absent: 12 de 40 ahora; con 11 de 40 o menos sería menos de 30.0% "
        "(1 menos)"
    ]
