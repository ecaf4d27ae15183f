"""Choosing the reader's language, formatting for it, and the catalogs being complete."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from babel.messages.pofile import read_po

from server.errors import AppError
from server.i18n import (
    ERROR_CALLS,
    LOCALE_DIR,
    choose_locale,
    current_locale,
    extract_catalog,
    format_date,
    format_datetime,
    format_money,
    format_number,
    gettext,
    ngettext,
    parse_accept_language,
    use_locale,
)


def test_choose_locale_order() -> None:
    both = {"accept_language": "en-US,en;q=0.9", "platform_default": "fr"}
    assert choose_locale(saved="fr", cookie="en", **both) == "fr"  # saved choice first
    assert choose_locale(saved=None, cookie="fr", **both) == "fr"  # then the switch's cookie
    assert choose_locale(saved=None, cookie=None, **both) == "en"  # then the browser
    assert (
        choose_locale(saved=None, cookie=None, accept_language=None, platform_default="en") == "en"
    )
    # Unsupported values at each step fall through to the next one.
    assert (
        choose_locale(saved="de", cookie="xx", accept_language="de", platform_default="en") == "en"
    )
    assert choose_locale(saved=None, cookie=None, accept_language="", platform_default="it") == "fr"


@pytest.mark.parametrize(
    ("header", "tags", "chosen"),
    [
        ("de-DE,de;q=0.9,en-GB;q=0.8,fr;q=0.7", ["de-DE", "de", "en-GB", "fr"], "en"),
        ("fr;q=0.2, en;q=0.9", ["en", "fr"], "en"),
        ("en;q=0, fr-CA", ["fr-CA"], "fr"),  # q=0 means "not this one"
        ("*, en;q=0.5", ["en"], "en"),
        ("en;q=bogus, fr", ["fr"], "fr"),
        ("es, it", ["es", "it"], "fr"),  # nothing supported: the platform default
        (None, [], "fr"),
    ],
)
def test_accept_language(header: str | None, tags: list[str], chosen: str) -> None:
    assert parse_accept_language(header) == tags
    got = choose_locale(saved=None, cookie=None, accept_language=header, platform_default="fr")
    assert got == chosen


def test_use_locale_restores_the_previous_one() -> None:
    assert current_locale() == "fr"
    with use_locale("en"):
        assert current_locale() == "en"
        assert gettext("No such guild") == "No such guild"
    assert gettext("No such guild") == "Guilde introuvable"
    assert ngettext(
        "%(product)s renews in %(count)s day", "%(product)s renews in %(count)s days", 7, "fr"
    ) == ("%(product)s se renouvelle dans %(count)s jours")


def test_format_money_uses_the_currency_digits() -> None:
    assert format_money(1999, "EUR", "fr") == "19,99\xa0€"
    assert format_money(1999, "eur", "en") == "€19.99"
    assert format_money(100, "JPY", "en") == "¥100"  # no decimals in yen: not 1.00
    assert format_money(100, "JPY", "fr").startswith("100\xa0")
    assert format_money(123456789, "EUR", "fr") == "1\u202f234\u202f567,89\xa0€"
    assert format_money(5, "USD", "en") == "$0.05"


def test_dates_and_numbers() -> None:
    moment = datetime(2026, 3, 9, 17, 5, tzinfo=UTC)
    assert format_date(moment, "long", "fr") == "9 mars 2026"
    assert format_date(moment, "long", "en") == "March 9, 2026"
    assert "17:05" in format_datetime(moment, locale="fr")
    assert "5:05" in format_datetime(moment, locale="en")
    assert (
        format_number(1234.5, "fr") == "1\u202f234,5" and format_number(1234.5, "en") == "1,234.5"
    )


def _subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= _subclasses(sub)
    return found


def test_every_error_class_is_extracted() -> None:
    import server.app  # noqa: F401  -- imports every domain, so every error class exists

    missing = {c.__name__ for c in _subclasses(AppError) | {AppError}} - set(ERROR_CALLS)
    assert not missing, f"add to server.i18n.ERROR_CALLS (and babel.cfg's -k list): {missing}"


def test_every_message_has_a_french_translation() -> None:
    template = extract_catalog("messages")
    with (LOCALE_DIR / "fr" / "LC_MESSAGES" / "messages.po").open("rb") as fp:
        french = read_po(fp, locale="fr", domain="messages")
    untranslated = []
    for message in template:
        if not message.id:
            continue
        entry = french.get(message.id, context=message.context)
        strings = entry.string if entry else None
        if isinstance(strings, tuple | list):
            ok = all(strings)
        else:
            ok = bool(strings)
        if not ok or (entry is not None and entry.fuzzy):
            untranslated.append(message.id)
    assert not untranslated, (
        "run `.venv/bin/python -m server.i18n extract messages` and translate in "
        f"locale/fr/LC_MESSAGES/messages.po: {untranslated}"
    )
