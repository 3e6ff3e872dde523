"""The message catalogs: every message the code uses is in the template and translated, in
full, with the same placeholders; the catalogs compile and load; Accept-Language negotiation."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from schoolmode.api.routes.decisions import Lang
from schoolmode.i18n import (
    DEFAULT,
    FORMATS,
    LANGUAGES,
    TEMPLATE,
    LanguageError,
    catalog_path,
    language,
    negotiate,
)

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"\{[a-z_]*\}")

Key = tuple[str | None, str]


def _extracted() -> set[Key]:
    """What ``pybabel extract -F babel.cfg -k N_`` finds in the code and the policy files."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config)
    keywords = {**DEFAULT_KEYWORDS, "N_": None}
    found: set[Key] = set()
    for _, _, message, _, context in extract_from_dir(
        ROOT / "src", method_map, options_map, keywords=keywords
    ):
        found.add((context, message if isinstance(message, str) else message[0]))
    return found


def _catalog(path: Path) -> Catalog:
    with path.open("rb") as source:
        return read_po(source)


def _keys(catalog: Catalog) -> set[Key]:
    return {(m.context, m.id if isinstance(m.id, str) else m.id[0]) for m in catalog if m.id}


@pytest.fixture(scope="module")
def extracted() -> set[Key]:
    return _extracted()


def test_the_template_holds_every_message_of_the_code_and_nothing_else(
    extracted: set[Key],
) -> None:
    assert len(extracted) > 100
    kept = _keys(_catalog(TEMPLATE))
    assert extracted - kept == set(), "run pybabel extract (docs/i18n.md): not in the template"
    assert kept - extracted == set(), "run pybabel extract (docs/i18n.md): no longer in the code"


@pytest.mark.parametrize("code", [c for c in LANGUAGES if c != DEFAULT])
def test_every_message_is_translated_in_full(code: str, extracted: set[Key]) -> None:
    catalog = _catalog(catalog_path(code))
    missing = extracted - _keys(catalog)
    assert missing == set(), f"not in the {code} catalog (pybabel update): {sorted(missing)}"
    assert not catalog.fuzzy, "the catalog's header is marked fuzzy"
    for message in catalog:
        if not message.id:
            continue
        where = f"{code}: {message.id!r}"
        assert not message.fuzzy, f"fuzzy: {where}"
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        assert len(strings) == (1 if isinstance(message.id, str) else catalog.num_plurals), where
        for text in strings:
            assert text, f"untranslated: {where}"
            wanted = set(PLACEHOLDER.findall(ids[-1]))
            assert set(PLACEHOLDER.findall(text)) == wanted, f"placeholders differ: {where}"


def test_a_catalog_compiles_in_memory_and_translates() -> None:
    es = language("es")
    assert es.gettext("School") == "Escuela"
    assert es.translations.pgettext("policy", "Remote learning") == "Aprendizaje remoto"
    one = es.ngettext("on {n} consecutive school day", "on {n} consecutive school days", 1)
    three = es.ngettext("on {n} consecutive school day", "on {n} consecutive school days", 3)
    assert one == "durante {n} día escolar consecutivo"
    assert three == "durante {n} días escolares consecutivos"
    assert es.date("2022-01-10") == "lunes, 10 de enero de 2022"
    assert language("en").date("2022-01-10") == "Monday 10 January 2022"
    assert es.figures("12.5% (5 of 40), 1,234 on 2022-01-10, 7-day") == (
        "12.5% (5 of 40), 1,234 on 2022-01-10, 7-day"
    )  # es_US writes figures as in English; dates and words are left alone
    assert language("en").gettext("School") == "School"


def test_an_unsupported_language_names_the_supported_ones() -> None:
    with pytest.raises(LanguageError, match="supported languages are en, es"):
        language("fr")


@pytest.mark.parametrize(
    ("header", "wanted"),
    [
        (None, "en"),
        ("", "en"),
        ("es", "es"),
        ("es-MX,es;q=0.9,en;q=0.8", "es"),
        ("en-US,es;q=0.5", "en"),
        ("fr, es;q=0.2", "es"),
        ("fr", "en"),
        ("de;q=1, ES-us;q=0.4", "es"),
        ("es;q=0, en", "en"),
        ("es;q=abc, *", "en"),
        (";;,,=", "en"),
    ],
)
def test_accept_language_is_negotiated(header: str | None, wanted: str) -> None:
    assert negotiate(header) == wanted


def test_the_api_offers_the_languages_of_the_catalogs() -> None:
    assert get_args(Lang) == LANGUAGES
    assert set(FORMATS) == set(LANGUAGES)
    for code in LANGUAGES:
        assert code == DEFAULT or catalog_path(code).is_file()
