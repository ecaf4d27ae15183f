"""Page and browser strings: every one has a French translation, every page says its language."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from server.i18n import extract_catalog

ROOT = Path(__file__).resolve().parents[2]
PAGES = ROOT / "server" / "templates" / "pages"
JS = ROOT / "static" / "js"
# A t("...")/tn("...", "...") call with a literal first argument, as static/js/i18n.js documents.
JS_CALL = re.compile(r"""\btn?\(\s*(["'])((?:(?!\1)[^\\]|\\.)*)\1""")


def _french(domain: str) -> Catalog:
    with (ROOT / "locale" / "fr" / "LC_MESSAGES" / f"{domain}.po").open("rb") as fp:
        return read_po(fp, locale="fr", domain=domain)


def _key(message_id: Any) -> str:
    return message_id if isinstance(message_id, str) else message_id[0]


def _untranslated(domain: str) -> list[str]:
    french = _french(domain)
    missing = []
    for message in extract_catalog(domain):
        if not message.id:
            continue
        found = french.get(message.id)
        strings = (
            []
            if found is None
            else [found.string]
            if isinstance(found.string, str)
            else found.string
        )
        if not strings or not all(strings) or (found is not None and found.fuzzy):
            where = ", ".join(f"{f}:{n}" for f, n in message.locations[:2])
            missing.append(f"{_key(message.id)!r} ({where})")
    return missing


@pytest.mark.parametrize("domain", ["web", "js"])
def test_every_page_and_browser_string_has_a_french_translation(domain: str) -> None:
    missing = _untranslated(domain)
    assert not missing, (
        f"not translated in locale/fr/LC_MESSAGES/{domain}.po "
        f"(run `python -m server.i18n extract {domain}` and translate):\n  " + "\n  ".join(missing)
    )


def test_extraction_sees_the_pages_and_every_t_call() -> None:
    """The extraction itself works: a babel.cfg or extractor slip would make the check above
    vacuous. Every literal t()/tn() call in static/js is in the js catalog."""
    web = {_key(m.id) for m in extract_catalog("web") if m.id}
    js = {_key(m.id) for m in extract_catalog("js") if m.id}
    assert "Sign in" in web and "Guilds" in web
    calls = {
        (path.relative_to(ROOT).as_posix(), match.group(2))
        for path in JS.rglob("*.js")
        if path.name != "i18n.js"
        for match in JS_CALL.finditer(path.read_text("utf-8"))
    }
    assert len(calls) > 100
    assert not sorted(c for c in calls if c[1] not in js), "t() calls the extractor missed"


@pytest.mark.parametrize("page", sorted(p.name for p in PAGES.glob("*.html")))
def test_every_page_sets_html_lang_from_the_locale(page: str) -> None:
    """base.html writes <html lang> from the page's locale; every page extends it."""
    text = (PAGES / page).read_text("utf-8")
    if page == "base.html":
        assert re.search(r'<html lang="\{\{ lang \}\}"', text)
        assert re.search(r"set lang = locale\b", text)
        assert "current_locale()" in text  # pages rendered outside PagesController
    else:
        assert text.lstrip().startswith('{% extends "pages/base.html" %}')
        assert "<html" not in text


@pytest.mark.parametrize("locale", ["fr", "en"])
def test_pages_render_in_the_locale_with_its_catalog(locale: str) -> None:
    """Rendering through the page env: <html lang>, translated text and the JS catalog."""
    import json
    from types import SimpleNamespace as NS

    from litestar.plugins.jinja import JinjaTemplateEngine

    from server.domains.pages.i18n_web import configure_pages
    from server.i18n import use_locale

    engine = JinjaTemplateEngine(directory=ROOT / "server" / "templates")
    configure_pages(engine)
    brand = NS(key="weokto", name="WEOKTO", accent="#000", accent_dark="#111", tagline="")
    with use_locale(locale):
        html = engine.get_template("pages/login.html").render(
            brand=brand, user=None, request=NS(cookies={}), locale=locale, error=""
        )
    assert f'<html lang="{locale}"' in html
    assert ("Se connecter à WEOKTO" if locale == "fr" else "Sign in to WEOKTO") in html
    blob = re.search(r'id="i18n-catalog">(.*?)</script>', html, re.S)
    assert blob is not None
    catalog = json.loads(blob.group(1))
    if locale == "fr":
        assert catalog["Network error, try again."] == "Erreur réseau, réessayez."
        assert len(catalog["{n} member"]) == 3  # CLDR French: one, many, other
    else:  # English shows the msgids (plural entries may carry them as their forms)
        assert all(v == k or (isinstance(v, list) and v[0] == k) for k, v in catalog.items())
