"""Templates in a language: a Jinja2 environment per language, its ``_`` and ``pgettext``
from the message catalogs (``schoolmode.i18n``), and the page's language chosen from
``?lang=``, else the ``lang`` cookie the switch sets, else ``Accept-Language``."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from schoolmode import __version__
from schoolmode.i18n import LANGUAGES, Language, language, negotiate

LANG_COOKIE = "lang"
CSP = (
    # every script, style, image and font from this site only (images also from the map's tile
    # server when the settings name one); no frame, no form sent elsewhere
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:{tiles}; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}
LANGUAGE_NAMES = {"en": "English", "es": "Español"}


def page_language(request: Request) -> str:
    """The language of a page: ``?lang=``, else the ``lang`` cookie, else Accept-Language."""
    for asked in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if asked in LANGUAGES:
            return str(asked)
    return negotiate(request.headers.get("accept-language"))


@lru_cache(maxsize=len(LANGUAGES))
def environment(code: str) -> Environment:
    """The templates in language ``code`` (made once per language)."""
    lang = language(code)
    env = Environment(
        loader=PackageLoader("schoolmode.web", "templates"),
        autoescape=select_autoescape(["html", "atom"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        _=lang.gettext,
        gettext=lang.gettext,
        ngettext=lang.ngettext,
        pgettext=lang.translations.pgettext,
        lang=code,
        languages=LANGUAGE_NAMES,
        version=__version__,
    )
    env.filters["longdate"] = lambda day: _long_date(lang, day)
    env.filters["figures"] = lang.figures
    return env


def _long_date(lang: Language, day: dt.date | str) -> str:
    return lang.date(day)


def tile_url(request: Request) -> str | None:
    """The map's tile server (the ``map_tile_url`` setting; None: no tiles)."""
    url: str | None = request.app.state.ctx.settings.map_tile_url
    return url


def _tile_origin(request: Request) -> str:
    url = tile_url(request)
    if url is None:
        return ""
    parts = urlsplit(url)
    return f" {parts.scheme}://{parts.netloc}"


def feed_xml(request: Request, **values: Any) -> bytes:
    """The Atom feed ``feed.atom`` in the page's language (absolute links from this request's
    base URL)."""
    base = str(request.base_url).rstrip("/")
    template = environment(page_language(request)).get_template("feed.atom")
    return template.render(base=base, **values).encode()


def render_feed(request: Request, **values: Any) -> Response:
    """:func:`feed_xml` as a response."""
    return feed_response(feed_xml(request, **values), page_language(request))


def feed_response(body: bytes, code: str) -> Response:
    """An Atom feed's response in language ``code``."""
    headers = {**SECURITY_HEADERS, "Content-Language": code, "Vary": "Accept-Language, Cookie"}
    return Response(body, media_type="application/atom+xml; charset=utf-8", headers=headers)


def render(
    request: Request,
    template: str,
    status: int = 200,
    extra: dict[str, str] | None = None,
    **values: Any,
) -> HTMLResponse:
    """``template`` rendered in the page's language, with the security headers (and the
    ``extra`` headers)."""
    code = page_language(request)
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    switch = {c: f"{request.url.path}?{urlencode([*kept, ('lang', c)])}" for c in LANGUAGES}
    html = (
        environment(code)
        .get_template(template)
        .render(
            request=request,
            path=request.url.path,
            switch=switch,
            email_alerts=request.app.state.ctx.settings.smtp_host is not None,
            **values,
        )
    )
    headers = {
        **(extra or {}),
        **SECURITY_HEADERS,
        "Content-Security-Policy": CSP.format(tiles=_tile_origin(request)),
        "Content-Language": code,
        "Vary": "Accept-Language, Cookie",
    }
    response = HTMLResponse(html, status_code=status, headers=headers)
    if request.query_params.get("lang") in LANGUAGES:
        # the switch's choice holds on the next pages (a preference, no personal data)
        response.set_cookie(LANG_COOKIE, code, max_age=365 * 86400, samesite="lax", path="/")
    return response
