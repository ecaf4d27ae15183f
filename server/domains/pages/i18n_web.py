"""The pages' language layer: gettext and Babel filters in the page Jinja env, the JS catalog."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from babel.messages.extract import extract_javascript
from litestar.plugins.jinja import JinjaTemplateEngine

from server.i18n import (
    current_locale,
    format_date,
    format_datetime,
    format_money,
    format_number,
    install_jinja,
    translations,
)

WEB_DOMAIN = "web"
JS_DOMAIN = "js"
# The browser's calls (static/js/i18n.js), and the gettext keyword each one stands for: the
# shared extraction (server.i18n.extract_catalog, pybabel) knows `_` and `ngettext` only.
JS_KEYWORDS: dict[str, str] = {"t": "_", "tn": "ngettext"}


def configure_pages(engine: JinjaTemplateEngine) -> None:
    """TemplateConfig's engine_callback: {% trans %} and _() in the reader's language.

    One env serves both languages: the gettext callables read current_locale() at render
    time (the locale middleware sets it per request).
    """
    env = engine.engine
    env.add_extension("jinja2.ext.i18n")
    # Whitespace inside {% trans %} is layout, not message: babel.cfg extracts with trimmed too.
    env.policies["ext.i18n.trimmed"] = True
    install_jinja(env, WEB_DOMAIN)
    env.filters.update(money=_money, date=_date, datetime=_datetime, number=_number)
    env.globals.update(js_catalog=js_catalog, current_locale=current_locale)


def _money(cents: int, currency: str = "eur") -> str:
    return format_money(cents, currency)


def _date(value: date | datetime, format: str = "medium") -> str:
    return format_date(value, format)


def _datetime(value: datetime, format: str = "medium") -> str:
    return format_datetime(value, format)


def _number(value: int | float) -> str:
    return format_number(value)


def js_catalog(locale: str) -> dict[str, str | list[str]]:
    """msgid -> msgstr of the `js` domain; a plural message maps its singular to its forms.

    Untranslated entries are left out: t() shows the msgid (English) for them.
    """
    raw: dict[Any, str] = getattr(translations(locale, JS_DOMAIN), "_catalog", {})
    out: dict[str, str | list[str]] = {}
    plurals: dict[str, dict[int, str]] = {}
    for key, value in raw.items():
        if isinstance(key, str):
            if key and value:
                out[key] = value
        elif isinstance(key, tuple) and value:
            plurals.setdefault(key[0], {})[key[1]] = value
    for msgid, forms in plurals.items():
        out[msgid] = [forms[i] for i in sorted(forms)]
    return out


def extract_js(
    fileobj: Any, keywords: Any, comment_tags: Any, options: dict[str, Any]
) -> Iterator[tuple[int, str, Any, Any]]:
    """babel.cfg's method for static/js: t("...") and tn("...", "...", n) calls.

    Yields them as `_` and `ngettext` calls, so any extraction run that knows the gettext
    keywords (server.i18n.extract_catalog, plain pybabel) reads them with the right arity.
    """
    js_options: Any = options  # babel types them as its own TypedDict
    keywords = dict.fromkeys(JS_KEYWORDS)  # the JS lexer only asks which names are calls
    for lineno, funcname, messages, comments in extract_javascript(
        fileobj, keywords, comment_tags, js_options
    ):
        if funcname in JS_KEYWORDS:
            yield lineno, JS_KEYWORDS[funcname], messages, comments
