"""The reader's language: choosing it, carrying it through a request or task, gettext and Babel.

One locale per request or Celery task lives in a contextvar, so error mappers, pages and
emails read `current_locale()` instead of threading a parameter through every call. Catalogs
are gettext domains under locale/<lang>/LC_MESSAGES/: `messages` (Python strings and emails),
`web` (page templates) and `js` (browser strings).
"""

from __future__ import annotations

import contextvars
import gettext as _gettext
import io
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from functools import lru_cache
from http.cookies import SimpleCookie
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from litestar.datastructures import Cookie, Headers
from litestar.types import ASGIApp, Receive, Scope, Send

from core.platforms import Platform, platform_for_host
from core.settings import get_settings

if TYPE_CHECKING:
    from jinja2 import Environment
    from litestar import Request

SUPPORTED: tuple[str, ...] = ("fr", "en")
DEFAULT_LOCALE = "fr"
LOCALE_COOKIE = "lang"
LOCALE_COOKIE_MAX_AGE = 365 * 24 * 3600
LOCALE_DIR = Path(__file__).resolve().parents[1] / "locale"

_current: contextvars.ContextVar[str] = contextvars.ContextVar("locale", default=DEFAULT_LOCALE)


# --- the current locale --------------------------------------------------------------------


def current_locale() -> str:
    return _current.get()


def set_current_locale(locale: str) -> contextvars.Token[str]:
    return _current.set(normalize(locale) or DEFAULT_LOCALE)


@contextmanager
def use_locale(locale: str | None) -> Iterator[str]:
    """Run a block (an email render, a task) in `locale`; the previous one comes back after."""
    token = set_current_locale(locale or DEFAULT_LOCALE)
    try:
        yield current_locale()
    finally:
        _current.reset(token)


def normalize(value: str | None) -> str | None:
    """'en-GB', 'EN_us' -> 'en'; None when the language is not one we ship."""
    if not value:
        return None
    lang = value.strip().replace("_", "-").split("-", 1)[0].lower()
    return lang if lang in SUPPORTED else None


# --- choosing it ---------------------------------------------------------------------------


def parse_accept_language(header: str | None) -> list[str]:
    """Language tags of an Accept-Language header, best first (q=0 and '*' dropped).

    Babel's Locale.negotiate ignores q-values, so this small parser orders them; ties keep
    the header's order (sorted() is stable).
    """
    if not header:
        return []
    ranked: list[tuple[float, str]] = []
    for part in header.split(",")[:32]:  # a bounded amount of work for a hostile header
        tag, _, params = part.strip().partition(";")
        tag = tag.strip()
        if not tag or tag == "*":
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
        if q > 0:
            ranked.append((q, tag))
    return [tag for _, tag in sorted(ranked, key=lambda item: -item[0])]


def negotiate(accept_language: str | None) -> str | None:
    """The first supported language in Accept-Language, matched on its primary subtag."""
    for tag in parse_accept_language(accept_language):
        locale = normalize(tag)
        if locale:
            return locale
    return None


def choose_locale(
    *,
    saved: str | None,
    cookie: str | None,
    accept_language: str | None,
    platform_default: str,
) -> str:
    """Saved preference, then the anonymous visitor's switch, then the browser, then the site."""
    return (
        normalize(saved)
        or normalize(cookie)
        or negotiate(accept_language)
        or normalize(platform_default)
        or DEFAULT_LOCALE
    )


def platform_locale(platform: Platform | str) -> str:
    settings = get_settings()
    configured = (
        settings.stam_locale if Platform(platform) is Platform.STAM else settings.weokto_locale
    )
    return normalize(configured) or DEFAULT_LOCALE


def locale_for_user(user: Any, platform: Platform | str) -> str:
    """For a reader without a request (a socket, an email): saved choice, else the site's."""
    return normalize(getattr(user, "locale", None)) or platform_locale(platform)


def locale_for_scope(scope: Scope) -> str:
    headers = Headers.from_scope(scope)
    user = scope.get("user")
    return choose_locale(
        saved=getattr(user, "locale", None),
        cookie=_cookie(headers.get("cookie", "")),
        accept_language=headers.get("accept-language"),
        platform_default=platform_locale(platform_for_host(headers.get("host", ""))),
    )


def locale_for_request(request: Request[Any, Any, Any]) -> str:
    return locale_for_scope(request.scope)


def request_locale(request: Request[Any, Any, Any]) -> str:
    """The locale the middleware chose for this request, or a fresh choice where it did not
    run (a 404 before routing, say)."""
    state = request.scope.get("state") or {}
    chosen = state.get("locale") if isinstance(state, dict) else None
    return chosen or locale_for_request(request)


def _cookie(cookie_header: str) -> str | None:
    if LOCALE_COOKIE not in cookie_header:  # most requests: skip parsing the whole header
        return None
    jar = SimpleCookie()
    try:
        jar.load(cookie_header)
    except Exception:  # a malformed Cookie header is treated as no cookie
        return None
    morsel = jar.get(LOCALE_COOKIE)
    return morsel.value if morsel else None


def locale_cookie(locale: str, *, secure: bool) -> Cookie:
    """The `lang` cookie: an anonymous visitor's choice, readable by the page's JS."""
    return Cookie(
        key=LOCALE_COOKIE,
        value=locale,
        max_age=LOCALE_COOKIE_MAX_AGE,
        path="/",
        samesite="lax",
        secure=secure,
        httponly=False,
    )


def locale_middleware(app: ASGIApp) -> ASGIApp:
    """Set the request's locale (after auth_middleware, which finds the user)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http",):
            await app(scope, receive, send)
            return
        locale = locale_for_scope(scope)
        # Also in the scope state: Litestar's exception handlers may run outside this frame.
        scope.setdefault("state", {})["locale"] = locale
        token = _current.set(locale)
        try:
            await app(scope, receive, send)
        finally:
            _current.reset(token)

    return middleware


# --- gettext -------------------------------------------------------------------------------


@lru_cache(maxsize=32)
def translations(locale: str, domain: str = "messages") -> _gettext.NullTranslations:
    """The compiled catalog of a language and domain; NullTranslations when there is none.

    `make deps` compiles .mo files. A .po newer than its .mo (an edit not compiled yet) is
    compiled in memory instead, so a stale .mo never hides a translation in dev and tests.
    """
    if locale not in SUPPORTED:
        return _gettext.NullTranslations()
    folder = LOCALE_DIR / locale / "LC_MESSAGES"
    mo, po = folder / f"{domain}.mo", folder / f"{domain}.po"
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as fp:
            return _gettext.GNUTranslations(fp)
    if po.exists():
        return _compile_po(po, locale, domain)
    return _gettext.NullTranslations()


def _compile_po(po: Path, locale: str, domain: str) -> _gettext.NullTranslations:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as fp:
        catalog = read_po(fp, locale=locale, domain=domain)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return _gettext.GNUTranslations(buf)


def gettext(message: str, locale: str | None = None, *, domain: str = "messages") -> str:
    if not message:  # gettext("") is the catalog's header, never a message
        return message
    return translations(locale or current_locale(), domain).gettext(message)


def ngettext(
    singular: str,
    plural: str,
    n: int,
    locale: str | None = None,
    *,
    domain: str = "messages",
) -> str:
    return translations(locale or current_locale(), domain).ngettext(singular, plural, n)


def pgettext(
    context: str, message: str, locale: str | None = None, *, domain: str = "messages"
) -> str:
    return translations(locale or current_locale(), domain).pgettext(context, message)


# The extraction marker: `_("...")` in Python is translated into the current locale.
_ = gettext


def N_(message: str) -> str:
    """Mark a string for extraction without translating it yet (module-level constants)."""
    return message


def install_jinja(env: Environment, domain: str = "messages") -> None:
    """Give a Jinja env ({% trans %}, _()) gettext that follows current_locale().

    One env serves every language: the callables read the contextvar at render time, so
    render inside use_locale() (or a request, where the middleware set it).
    """

    def _gt(message: str) -> str:
        return gettext(message, domain=domain)

    def _ngt(singular: str, plural: str, n: int) -> str:
        return ngettext(singular, plural, n, domain=domain)

    def _pgt(context: str, message: str) -> str:
        return pgettext(context, message, domain=domain)

    env.install_gettext_callables(_gt, _ngt, newstyle=True, pgettext=_pgt)  # type: ignore[attr-defined]
    env.globals.update(
        format_money=format_money,
        format_date=format_date,
        format_datetime=format_datetime,
        format_number=format_number,
        current_locale=current_locale,
    )


def catalog_dict(locale: str, domain: str = "js") -> dict[str, str]:
    """msgid -> msgstr of a domain (translated entries only), for the browser's strings."""
    trans = translations(locale, domain)
    raw: dict[Any, str] = getattr(trans, "_catalog", {})
    return {k: v for k, v in raw.items() if isinstance(k, str) and k and v}


# --- Babel formatting ----------------------------------------------------------------------


def _loc(locale: str | None) -> str:
    return normalize(locale) or current_locale()


def minor_to_decimal(cents: int, currency: str) -> Decimal:
    """Minor units to the currency's own amount: 1999 EUR -> 19.99, 100 JPY -> 100."""
    precision = babel_numbers.get_currency_precision(currency.upper())
    return Decimal(int(cents)).scaleb(-precision)


def format_money(cents: int, currency: str, locale: str | None = None) -> str:
    """'19,99 €' (fr) / '€19.99' (en) for 1999 EUR; '¥100' (en) for 100 JPY."""
    code = currency.upper()
    return babel_numbers.format_currency(minor_to_decimal(cents, code), code, locale=_loc(locale))


def format_number(value: int | float | Decimal, locale: str | None = None) -> str:
    return babel_numbers.format_decimal(value, locale=_loc(locale))


def format_date(value: date | datetime, format: str = "medium", locale: str | None = None) -> str:
    if isinstance(value, datetime):
        value = _aware(value).astimezone(UTC).date()
    return babel_dates.format_date(value, format=format, locale=_loc(locale))


def format_datetime(
    value: datetime,
    format: str = "medium",
    locale: str | None = None,
    tz: tzinfo = UTC,
) -> str:
    """A timestamp shown in `tz` (UTC unless the caller knows the reader's zone)."""
    return babel_dates.format_datetime(_aware(value), format=format, tzinfo=tz, locale=_loc(locale))


def _aware(value: datetime) -> datetime:
    # Our columns are timestamptz, so a naive value can only be a UTC one built in code.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# --- extraction (babel.cfg, tests/i18n, `python -m server.i18n extract`) ---------------------

# Calls whose argument at this position is an English message the error mapper translates:
# every AppError class and the rate limiter. tests/i18n checks no AppError subclass is missing.
ERROR_CALLS: dict[str, int] = {
    "AppError": 0,
    "ClientError": 0,
    "Unauthorized": 0,
    "Forbidden": 0,
    "NotFound": 0,
    "Conflict": 0,
    "RateLimited": 0,
    "Unavailable": 0,
    "InsufficientBalance": 0,
    "hit": 2,
}
PY_KEYWORDS: dict[str, Any] = {
    "_": None,
    "gettext": None,
    "N_": None,
    "ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
}
ROOT = LOCALE_DIR.parent


class Unextractable(msgspec.Struct, frozen=True):
    """A message built at run time (f-string, concatenation): it cannot be in a catalog."""

    path: str
    line: int
    call: str


def _error_call_messages(source: str) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(line, msgid) of error-class messages, and (line, call) of messages built at run time.

    Babel's keyword extractor sees literals only; raise sites also pass module constants
    (INVALID_CODE) and conditionals (`a if left else b`), so names are resolved here.
    """
    import ast

    tree = ast.parse(source)
    strings: dict[str, list[str]] = {}

    def resolve(node: ast.expr) -> list[str] | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [node.value]
        if isinstance(node, ast.IfExp):
            a, b = resolve(node.body), resolve(node.orelse)
            return None if a is None or b is None else a + b
        if isinstance(node, ast.Name):
            return strings.get(node.id)
        return None

    for node in ast.walk(tree):  # every `name = "..."` anywhere: over-extracting is harmless
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                found = resolve(node.value)
                if found:
                    strings.setdefault(target.id, []).extend(found)
    # A parameter handed on (ratelimit.hit's `message`) was extracted at the caller.
    params = {
        a.arg
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for a in node.args.args + node.args.kwonlyargs
    }
    found_msgs: list[tuple[int, str]] = []
    dynamic: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if name not in ERROR_CALLS:
            continue
        index = ERROR_CALLS[name]
        arg = node.args[index] if len(node.args) > index else None
        if arg is None:
            arg = next((k.value for k in node.keywords if k.arg == "message"), None)
        if arg is None:
            continue
        messages = resolve(arg)
        if messages is None and isinstance(arg, ast.Name) and arg.id in params:
            continue
        if messages is None:
            dynamic.append((node.lineno, ast.get_source_segment(source, node) or name))
        else:
            found_msgs.extend((node.lineno, m) for m in messages)
    return found_msgs, dynamic


def extract_python(
    fileobj: Any, keywords: Any, comment_tags: Any, options: dict[str, Any]
) -> Iterator[tuple[Any, ...]]:
    """babel.cfg's method for our Python: babel's own extractor, plus error-class messages."""
    from babel.messages.extract import extract_python as babel_python

    source = fileobj.read()
    yield from babel_python(io.BytesIO(source), keywords, comment_tags, options)  # type: ignore[arg-type]
    messages, _dynamic = _error_call_messages(source.decode(options.get("encoding", "utf-8")))
    for line, message in messages:
        yield line, None, message, []


def unextractable(paths: list[Path] | None = None) -> list[Unextractable]:
    """Error messages built at run time in our Python sources (reported, not translated)."""
    out: list[Unextractable] = []
    for path in paths or sorted((ROOT / "server").rglob("*.py")):
        _msgs, dynamic = _error_call_messages(path.read_text("utf-8"))
        rel = str(path.relative_to(ROOT))
        out.extend(Unextractable(rel, line, call) for line, call in dynamic)
    return out


def extract_catalog(domain: str = "messages") -> Any:
    """A babel Catalog of every msgid babel.cfg's sections of `domain` find in the tree.

    babel.cfg sections carry `domain = web|js|messages` (default messages); pybabel's CLI
    ignores that option, so extraction goes through this function.
    """
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    with (ROOT / "babel.cfg").open() as fp:
        method_map, options_map = parse_mapping_cfg(fp)
    keep = [
        (pattern, method)
        for pattern, method in method_map
        if options_map.get(pattern, {}).get("domain", "messages") == domain
    ]
    catalog = Catalog(domain=domain, project="weokto", charset="utf-8")
    keywords = {**PY_KEYWORDS}
    results = extract_from_dir(
        str(ROOT),
        method_map=keep,
        options_map={
            p: {k: v for k, v in o.items() if k != "domain"} for p, o in options_map.items()
        },
        keywords=keywords,
        comment_tags=("Translators:",),
        strip_comment_tags=True,
        directory_filter=_source_dir,
    )
    for filename, lineno, message, comments, context in results:
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def _source_dir(dirpath: str) -> bool:
    name = Path(dirpath).name
    return not name.startswith((".", "_")) and name not in ("node_modules", "locale", "bench")


def update_catalogs(domain: str = "messages") -> None:
    """Write locale/<domain>.pot and merge it into each language's .po (new msgids empty)."""
    from babel.messages.pofile import read_po, write_po

    template = extract_catalog(domain)
    with (LOCALE_DIR / f"{domain}.pot").open("wb") as fp:
        write_po(fp, template, width=100)
    for locale in SUPPORTED:
        po = LOCALE_DIR / locale / "LC_MESSAGES" / f"{domain}.po"
        po.parent.mkdir(parents=True, exist_ok=True)
        if po.exists():
            with po.open("rb") as fp:
                catalog = read_po(fp, locale=locale, domain=domain)
            catalog.update(template, no_fuzzy_matching=True)
        else:
            from babel.messages.catalog import Catalog

            catalog = Catalog(locale=locale, domain=domain, project="weokto", charset="utf-8")
            catalog.update(template, no_fuzzy_matching=True)
        # A header marked fuzzy makes `pybabel compile` skip the whole catalog.
        catalog.fuzzy = False
        with po.open("wb") as fp:
            write_po(fp, catalog, width=100, ignore_obsolete=True, include_previous=False)


if __name__ == "__main__":
    import sys

    # python -m server.i18n extract [domain]: refresh the .pot and merge into every .po.
    if len(sys.argv) >= 2 and sys.argv[1] == "extract":
        update_catalogs(sys.argv[2] if len(sys.argv) > 2 else "messages")
    elif len(sys.argv) >= 2 and sys.argv[1] == "unextractable":
        for item in unextractable():
            print(f"{item.path}:{item.line}: {item.call}")
    else:
        print("usage: python -m server.i18n extract [domain] | unextractable")
