"""The console's two languages: English, in which the pages are written, and Simplified
Chinese, from the catalog below (the English text is the key, as with gettext).

The language is the ``oms_lang`` cookie (the switch in the page header sets it), else the
browser's ``Accept-Language``: any ``zh`` the browser prefers over English gives
``zh-CN``. A text missing from the catalog shows in English; a unit test keeps every text
the templates and the console's code use in the catalog.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request

LANGUAGES = ("en", "zh-CN")
COOKIE = "oms_lang"


def _load_catalog() -> dict[str, str]:
    """Every ``MESSAGES`` of the modules in ``api/console/lang/`` (one per page or part,
    named ``zh_cn_*.py``)."""
    import importlib
    import pkgutil

    from api.console import lang

    merged: dict[str, str] = {}
    for module in sorted(m.name for m in pkgutil.iter_modules(lang.__path__)):
        if module.startswith("zh_cn_"):
            merged.update(importlib.import_module(f"api.console.lang.{module}").MESSAGES)
    return merged


ZH_CN = _load_catalog()

_CATALOGS = {"zh-CN": ZH_CN}


def choose(request: Request) -> str:
    """The page's language: the cookie, else the browser's first choice we have."""
    cookie = request.cookies.get(COOKIE)
    if cookie in LANGUAGES:
        return cookie
    return from_accept_language(request.headers.get("accept-language", ""))


def from_accept_language(header: str) -> str:
    ranked: list[tuple[float, int, str]] = []
    for n, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag:
            ranked.append((-quality, n, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en") or tag == "*":
            return "en"
    return "en"


def translator(language: str) -> Callable[[str], str]:
    catalog = _CATALOGS.get(language, {})

    def translate(text: str) -> str:
        return catalog.get(text, text)

    return translate
