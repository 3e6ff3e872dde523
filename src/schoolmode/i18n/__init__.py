"""The languages schoolmode speaks to people: gettext message catalogs (through Babel) and the
Babel locale that writes dates and numbers in each.

The catalogs are the ``locale/<lang>/LC_MESSAGES/schoolmode.po`` files of this folder, extracted
from the code into ``schoolmode.pot`` with ``pybabel extract`` (docs/i18n.md). They are compiled in
memory the first time a language is asked for (Babel's ``read_po`` and ``write_mo``): a fresh
clone needs no build step, and there is no compiled ``.mo`` that could drift from its ``.po``.
Nothing here is global state a caller must set: :func:`language` returns an immutable
:class:`Language` that renderers take as an argument.
"""

from __future__ import annotations

import datetime as dt
import gettext
import io
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from babel.core import Locale, negotiate_locale
from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

DOMAIN = "schoolmode"
LOCALE_DIR = Path(__file__).with_name("locale")
TEMPLATE = Path(__file__).with_name(f"{DOMAIN}.pot")

DEFAULT = "en"
LANGUAGES = ("en", "es")
"""The languages of the catalogs (``en``: the messages as written in the code)."""

FORMATS: dict[str, tuple[str, str]] = {
    # language: (Babel locale for dates and numbers, date pattern)
    "en": ("en", "EEEE d MMMM y"),  # "Monday 10 January 2022", as explanations always wrote it
    "es": ("es_US", "full"),  # "lunes, 10 de enero de 2022"; 1,234.5 as in the US (CPS)
}

_FIGURE = re.compile(r"(?<![\w.,/-])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(%?)(?![\w/-]|[.,]\d)")
"""A figure as the engine writes it (``1,234``, ``0.75``, ``12.5%``); not a part of a date or
a word (``2022-01-10``, ``7-day``, ``3rd``)."""


def N_(message: str) -> str:
    """Marks ``message`` for extraction where it is translated later (tables of words)."""
    return message


class LanguageError(ValueError):
    """An unsupported language: the message names the supported ones."""


@dataclass(frozen=True)
class Language:
    """One language: its translations and how it writes dates and numbers."""

    code: str
    translations: gettext.NullTranslations
    locale: Locale
    date_pattern: str

    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.translations.ngettext(singular, plural, n)

    def date(self, day: dt.date | str) -> str:
        """A day written out in full ("Monday 10 January 2022", "lunes, 10 de enero de 2022")."""
        when = dt.date.fromisoformat(day) if isinstance(day, str) else day
        return format_date(when, self.date_pattern, locale=self.locale)

    def figures(self, text: str) -> str:
        """``text`` (written by the engine with English figures: ``1,234``, ``12.5%``) with each
        figure written for this language by Babel; English text is returned as it is."""
        if self.code == DEFAULT:
            return text
        return _FIGURE.sub(self._figure, text)

    def _figure(self, match: re.Match[str]) -> str:
        return _written(match.group(0), str(self.locale))


@lru_cache(maxsize=16384)
def _written(figure: str, locale: str) -> str:
    """One figure of the engine's (``1,234``, ``0.75``, ``12.5%``) as ``locale`` writes it (an
    explanation repeats the same few figures: each is written by Babel once)."""
    found = _FIGURE.fullmatch(figure)
    if found is None:  # pragma: no cover - called with the pattern's matches only
        return figure
    whole, fraction, percent = found.group(1), found.group(2) or "", found.group(3)
    value = Decimal(whole.replace(",", "") + fraction)
    places = len(fraction) - 1 if fraction else 0
    # grouped where the engine grouped (its counts), not elsewhere (parameters, ids)
    pattern = ("#,##0" if "," in whole else "0") + ("." + "0" * places if places else "")
    where = Locale.parse(locale)
    shown = format_decimal(value, pattern, locale=where)
    return shown + where.number_symbols["latn"]["percentSign"] if percent else shown


@lru_cache(maxsize=len(LANGUAGES))
def language(code: str = DEFAULT) -> Language:
    """The language ``code`` (one of :data:`LANGUAGES`), its catalog compiled once."""
    if code not in LANGUAGES:
        raise LanguageError(
            f"unsupported language {code!r}: supported languages are {', '.join(LANGUAGES)}"
        )
    where, pattern = FORMATS[code]
    return Language(code, _translations(code), Locale.parse(where), pattern)


def _translations(code: str) -> gettext.NullTranslations:
    if code == DEFAULT:
        return gettext.NullTranslations()
    path = catalog_path(code)
    with path.open("rb") as source:
        catalog = read_po(source, locale=code, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def catalog_path(code: str) -> Path:
    return LOCALE_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.po"


def negotiate(accept_language: str | None) -> str:
    """The supported language an ``Accept-Language`` header prefers most (RFC 9110: ranges by
    their ``q`` weight, ``es-MX`` matching ``es``); :data:`DEFAULT` when none is supported."""
    if not accept_language:
        return DEFAULT
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if tag and tag != "*" and weight > 0:
            ranked.append((-weight, index, tag.strip()))
    preferred = [tag for _, _, tag in sorted(ranked)]
    found = (negotiate_locale(preferred, list(LANGUAGES), sep="-") or DEFAULT).lower()
    return found if found in LANGUAGES else DEFAULT
